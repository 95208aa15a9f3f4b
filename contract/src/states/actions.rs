//! The names of the states of a wave's actions (`before:` and `after:` in the plan):
//! `Wave 2 app: before 1 (fail over database)` is the action's own state, and its helpers add
//! a step after ` / ` (`Wave 2 app: before 1 (fail over database) / failed`). No action name
//! ends with `: <wave step>`, so [`super::parse_wave`] never takes one for a wave state.

use super::{MAX_STATE_NAME_CHARS, STEP_SEPARATOR, Way};

/// The error an action that stops the execution fails it with; its cause names the action's
/// state and what the service answered.
pub const ACTION_FAILED: &str = "DrsWaves.ActionFailed";

const HELPER_SEPARATOR: &str = " / ";
const ELLIPSIS: &str = "...";

/// Whether the action runs before the wave's launch or after its success.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionPhase {
    Before,
    After,
}

impl ActionPhase {
    pub const ALL: [ActionPhase; 2] = [ActionPhase::Before, ActionPhase::After];

    pub const fn word(self) -> &'static str {
        match self {
            ActionPhase::Before => "before",
            ActionPhase::After => "after",
        }
    }
}

/// One state of an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActionStep {
    /// The action itself (the service integration's task).
    Run,
    /// The Choice that skips an action not meant for the execution's mode.
    Mode,
    /// SSM Automation: the wait between two looks.
    Wait,
    /// SSM Automation: GetAutomationExecution.
    Poll,
    /// SSM Automation: the Choice on its status.
    Status,
    /// SSM Automation: counts the looks (the action's timeout).
    Count,
    /// The Pass that names the failed action and hands the failure on.
    Failed,
    /// `onFailure: ask`: the operator's decision on a failed action (an await-operator task).
    Decide,
    /// `onFailure: ask`: the Choice on the operator's answer.
    Answer,
    /// `onFailure: ask`: the Pass that names a decision that got no answer in time.
    Expired,
}

impl ActionStep {
    pub const ALL: [ActionStep; 10] = [
        ActionStep::Run,
        ActionStep::Mode,
        ActionStep::Wait,
        ActionStep::Poll,
        ActionStep::Status,
        ActionStep::Count,
        ActionStep::Failed,
        ActionStep::Decide,
        ActionStep::Answer,
        ActionStep::Expired,
    ];

    /// Whether the state waits for an operator.
    pub const fn is_gate(self) -> bool {
        matches!(self, ActionStep::Decide)
    }

    /// What follows the action's name (nothing for the action itself).
    pub const fn suffix(self) -> &'static str {
        match self {
            ActionStep::Run => "",
            ActionStep::Mode => "mode?",
            ActionStep::Wait => "wait",
            ActionStep::Poll => "poll",
            ActionStep::Status => "status?",
            ActionStep::Count => "count",
            ActionStep::Failed => "failed",
            ActionStep::Decide => "decide?",
            ActionStep::Answer => "answer?",
            ActionStep::Expired => "expired",
        }
    }
}

/// The longest helper suffix, with its separator: a label is shortened so that every state of
/// an action fits Step Functions' limit.
const LONGEST_HELPER: usize = HELPER_SEPARATOR.len() + 7;

/// `Wave 2 app: before 1 (fail over database)`, or with a helper step
/// `Wave 2 app: before 1 (fail over database) / wait`. A label that would make a name longer
/// than 80 characters is shortened (ending in `...`); the position keeps names unique.
pub fn action(
    index: u32,
    wave: &str,
    phase: ActionPhase,
    position: u32,
    label: Option<&str>,
    step: ActionStep,
) -> String {
    action_on(Way::Out, index, wave, (phase, position), label, step)
}

/// [`action`] on `way`: `Failback wave 2 app: before 1 (fail over database)` on the way home.
pub fn action_on(
    way: Way,
    index: u32,
    wave: &str,
    (phase, position): (ActionPhase, u32),
    label: Option<&str>,
    step: ActionStep,
) -> String {
    let head = format!(
        "{}{index} {wave}{STEP_SEPARATOR}{} {position}",
        way.prefix(),
        phase.word()
    );
    let mut name = head.clone();
    let room = MAX_STATE_NAME_CHARS.saturating_sub(head.chars().count() + 3 + LONGEST_HELPER);
    // A long wave name on the way home leaves no room for a label: the position alone keeps
    // the name unique.
    if let Some(label) = label.filter(|l| !l.is_empty() && room > ELLIPSIS.len()) {
        let shown: String = if label.chars().count() <= room {
            label.to_owned()
        } else {
            let keep = room.saturating_sub(ELLIPSIS.len());
            format!("{}{ELLIPSIS}", label.chars().take(keep).collect::<String>())
        };
        name = format!("{head} ({shown})");
    }
    if step != ActionStep::Run {
        name.push_str(HELPER_SEPARATOR);
        name.push_str(step.suffix());
    }
    name
}

/// An action state's name taken apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ActionStateName<'a> {
    /// Out (a wave's action) or home (an action of the way home, a FAILBACK's).
    pub way: Way,
    pub index: u32,
    pub wave: &'a str,
    pub phase: ActionPhase,
    /// 1-based position in the wave's `before` or `after` list.
    pub position: u32,
    /// The label as the name shows it (perhaps shortened), if any.
    pub label: Option<&'a str>,
    pub step: ActionStep,
}

/// Which action a state is, or None for any other state.
pub fn parse_action(state_name: &str) -> Option<ActionStateName<'_>> {
    let (way, rest) = [Way::Out, Way::Home]
        .into_iter()
        .find_map(|way| Some((way, state_name.strip_prefix(way.prefix())?)))?;
    let (digits, rest) = rest.split_once(' ')?;
    let index: u32 = digits.parse().ok()?;
    if index.to_string() != digits {
        return None;
    }
    let (body, step) = ActionStep::ALL
        .into_iter()
        .filter(|s| *s != ActionStep::Run)
        .find_map(|s| {
            let b = rest
                .strip_suffix(s.suffix())?
                .strip_suffix(HELPER_SEPARATOR)?;
            Some((b, s))
        })
        .unwrap_or((rest, ActionStep::Run));
    // The wave's name may hold `: before ` itself: take the first split whose tail reads as
    // a position and an optional label.
    for phase in ActionPhase::ALL {
        let marker = format!("{STEP_SEPARATOR}{} ", phase.word());
        for (at, _) in body.match_indices(&marker) {
            let wave = &body[..at];
            let tail = &body[at + marker.len()..];
            let (pos, label) = match tail.split_once(' ') {
                Some((p, l)) => match l.strip_prefix('(').and_then(|l| l.strip_suffix(')')) {
                    Some(l) => (p, Some(l)),
                    None => continue,
                },
                None => (tail, None),
            };
            let Ok(position) = pos.parse::<u32>() else {
                continue;
            };
            if position.to_string() != pos || label.is_some_and(str::is_empty) {
                continue;
            }
            return Some(ActionStateName {
                way,
                index,
                wave,
                phase,
                position,
                label,
                step,
            });
        }
    }
    None
}

/// Whether a state is one of an action's states.
pub fn is_action_state(state_name: &str) -> bool {
    parse_action(state_name).is_some()
}

#[cfg(test)]
mod tests {
    use super::super::{WaveStep, parse_wave, wave};
    use super::*;

    #[test]
    fn action_names_read_as_the_issue_spells_them() {
        assert_eq!(
            action(
                2,
                "app",
                ActionPhase::Before,
                1,
                Some("fail over database"),
                ActionStep::Run
            ),
            "Wave 2 app: before 1 (fail over database)"
        );
        assert_eq!(
            action(3, "web", ActionPhase::After, 2, None, ActionStep::Failed),
            "Wave 3 web: after 2 / failed"
        );
        assert_eq!(
            action_on(
                Way::Home,
                2,
                "app",
                (ActionPhase::Before, 1),
                Some("drain"),
                ActionStep::Run
            ),
            "Failback wave 2 app: before 1 (drain)"
        );
    }

    #[test]
    fn every_action_name_round_trips_fits_and_is_no_wave_state() {
        let long_wave = "w".repeat(40);
        let long_label = "x".repeat(100);
        for (index, wave_name) in [(1, "db"), (12, "db: before 1"), (400, long_wave.as_str())] {
            for phase in ActionPhase::ALL {
                for label in [
                    None,
                    Some("swap DNS"),
                    Some("a (b) c: start"),
                    Some(long_label.as_str()),
                ] {
                    for (way, step) in [Way::Out, Way::Home]
                        .into_iter()
                        .flat_map(|way| ActionStep::ALL.map(|step| (way, step)))
                    {
                        let name = action_on(way, index, wave_name, (phase, 7), label, step);
                        assert!(name.chars().count() <= MAX_STATE_NAME_CHARS, "{name}");
                        assert_eq!(parse_wave(&name), None, "{name}");
                        assert_eq!(super::super::parse_failback_wave(&name), None, "{name}");
                        let parsed = parse_action(&name).expect(&name);
                        assert_eq!(
                            (
                                parsed.way,
                                parsed.index,
                                parsed.wave,
                                parsed.phase,
                                parsed.position,
                                parsed.step
                            ),
                            (way, index, wave_name, phase, 7, step),
                            "{name}"
                        );
                        let again =
                            action_on(way, index, wave_name, (phase, 7), parsed.label, step);
                        assert_eq!(again, name);
                    }
                }
            }
        }
    }

    #[test]
    fn wave_states_are_not_action_states() {
        for step in WaveStep::ALL {
            assert!(!is_action_state(&wave(2, "app", step)));
        }
        assert!(!is_action_state("Preflight"));
        assert!(!is_action_state("Wave 2 app: before x"));
        assert!(!is_action_state("Wave 2 app: before 01"));
    }
}
