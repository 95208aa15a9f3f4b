//! The names of the generated machine's states: the one spelling shared by the generator that
//! names them, the runbook that lists them, and the worker and CLI that read an execution's
//! history (which state it waits in, which state's output to read).
//!
//! States outside the waves have fixed names ([`PREFLIGHT`], [`FINISH`], ...). Each wave's
//! states are `Wave <index> <name>: <step>` ([`wave`]), and [`parse_wave`] reads one back.

mod actions;
mod branches;

pub use actions::{
    ACTION_FAILED, ActionPhase, ActionStateName, ActionStep, action, action_on, is_action_state,
    parse_action,
};
pub use branches::{BranchStep, MAX_STATE_NAME_CHARS, branch, is_layout_state, parallel};

/// The first state: a Choice on the execution input.
pub const CHECK_INPUT: &str = "Check input";
pub const RECOVERY_NOT_CONFIRMED: &str = "Recovery not confirmed";
pub const INPUT_REJECTED: &str = "Input rejected";
pub const CHECK_POINT_IN_TIME: &str = "Check point in time";
pub const POINT_IN_TIME_REJECTED: &str = "Point in time rejected";
/// The preflight task; its Parameters carry the plan ([`crate::definition`]).
pub const PREFLIGHT: &str = "Preflight";
/// The Choice after preflight: a FAILBACK takes the way home ([`failback_wave`]), anything
/// else the waves in the plan's order.
pub const WHICH_WAY: &str = "Which way?";
pub const FINISH: &str = "Finish";
pub const SUCCEEDED: &str = "Succeeded";
pub const RECORD_FAILURE: &str = "Record failure";
/// The Choice before the two Fail states: a Fail whose CausePath selects no string fails
/// itself with States.Runtime, hiding the real error, and a caught error only usually has
/// a Cause.
pub const ERROR_HAS_CAUSE: &str = "Error has a cause?";
/// The end of a failed execution whose error has a cause: both are shown.
pub const FAILED: &str = "Failed";
/// The end of a failed execution whose error has no cause: the error and a fixed cause.
pub const FAILED_WITHOUT_CAUSE: &str = "Failed (error without a cause)";

/// Every state name outside the waves, in the order the generator adds them.
pub const FIXED: [&str; 13] = [
    CHECK_INPUT,
    RECOVERY_NOT_CONFIRMED,
    INPUT_REJECTED,
    CHECK_POINT_IN_TIME,
    POINT_IN_TIME_REJECTED,
    PREFLIGHT,
    WHICH_WAY,
    FINISH,
    SUCCEEDED,
    RECORD_FAILURE,
    ERROR_HAS_CAUSE,
    FAILED,
    FAILED_WITHOUT_CAUSE,
];

/// What every wave state's name starts with.
pub const WAVE_PREFIX: &str = "Wave ";
/// What separates a wave's name from the step.
pub const STEP_SEPARATOR: &str = ": ";

/// One step of a wave's loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaveStep {
    /// The approval gate before the wave (a plan's `approval.before`).
    Approve,
    /// Its timeout.
    ApprovalTimedOut,
    Start,
    Wait,
    Check,
    Done,
    /// The decision after a failure (`onFailure: ask`).
    Decide,
    /// The Choice on the operator's answer.
    Decision,
    /// Its timeout.
    DecisionTimedOut,
    /// A failed wave an operator skipped.
    Skipped,
    Failed,
    /// The Pass that begins the health checks (the plan's `health`).
    HealthBegin,
    /// One round of the health checks.
    HealthCheck,
    /// The Choice on the checks' verdict.
    Healthy,
    /// The wait between two rounds.
    HealthWait,
    /// DescribeAlarms before a round (a wave with alarm checks).
    HealthAlarms,
    /// The pause before the wave (the plan's `pauseBeforeMinutes`).
    Pause,
}

impl WaveStep {
    pub const ALL: [WaveStep; 17] = [
        WaveStep::Approve,
        WaveStep::ApprovalTimedOut,
        WaveStep::Start,
        WaveStep::Wait,
        WaveStep::Check,
        WaveStep::Done,
        WaveStep::Decide,
        WaveStep::Decision,
        WaveStep::DecisionTimedOut,
        WaveStep::Skipped,
        WaveStep::Failed,
        WaveStep::HealthBegin,
        WaveStep::HealthCheck,
        WaveStep::Healthy,
        WaveStep::HealthWait,
        WaveStep::HealthAlarms,
        WaveStep::Pause,
    ];

    /// What follows `: ` in the state's name.
    pub const fn suffix(self) -> &'static str {
        match self {
            WaveStep::Approve => "approve?",
            WaveStep::ApprovalTimedOut => "approval timed out",
            WaveStep::Start => "start",
            WaveStep::Wait => "wait",
            WaveStep::Check => "check",
            WaveStep::Done => "done?",
            WaveStep::Decide => "decide?",
            WaveStep::Decision => "decision",
            WaveStep::DecisionTimedOut => "decision timed out",
            WaveStep::Skipped => "skipped",
            WaveStep::Failed => "failed",
            WaveStep::HealthBegin => "health checks begin",
            WaveStep::HealthCheck => "health check",
            WaveStep::Healthy => "healthy?",
            WaveStep::HealthWait => "health wait",
            WaveStep::HealthAlarms => "health alarms",
            WaveStep::Pause => "pause",
        }
    }

    pub fn from_suffix(suffix: &str) -> Option<WaveStep> {
        WaveStep::ALL.into_iter().find(|s| s.suffix() == suffix)
    }

    /// Whether the step is an operator gate (an approval or a decision): an execution waiting
    /// in it waits for `drs-waves approve|decide|stop`.
    pub fn is_gate(self) -> bool {
        matches!(self, WaveStep::Approve | WaveStep::Decide)
    }
}

/// `Wave 2 app-servers: check`.
pub fn wave(index: u32, name: &str, step: WaveStep) -> String {
    wave_on(Way::Out, index, name, step)
}

/// A wave state's name taken apart: `Wave 2 app-servers: check` is wave 2, `app-servers`,
/// [`WaveStep::Check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WaveStateName<'a> {
    /// 1-based position in the plan.
    pub index: u32,
    /// The wave's name, as it is in the state's name.
    pub wave: &'a str,
    pub step: WaveStep,
}

impl WaveStateName<'_> {
    /// The state's name again: `parse_wave(n).map(|p| p.name()) == Some(n)`.
    pub fn name(&self) -> String {
        wave(self.index, self.wave, self.step)
    }
}

/// Which wave and step a state of a generated machine is, or None for a state outside the
/// waves (or of another machine). The wave's name may hold spaces and `: ` itself: the step is
/// the known suffix at the end, and no suffix ends with another one, so the split is the one
/// [`wave`] made. The index is read back only in the form [`wave`] writes it (no sign, no
/// leading zero), so a parsed name always renders back to itself.
pub fn parse_wave(state_name: &str) -> Option<WaveStateName<'_>> {
    parse_after_prefix(state_name.strip_prefix(WAVE_PREFIX)?)
}

/// `<index> <name>: <step>`, what follows a wave state's prefix.
fn parse_after_prefix(rest: &str) -> Option<WaveStateName<'_>> {
    let (digits, rest) = rest.split_once(' ')?;
    let index: u32 = digits.parse().ok()?;
    if index.to_string() != digits {
        return None;
    }
    WaveStep::ALL.into_iter().find_map(|step| {
        let wave = rest
            .strip_suffix(step.suffix())?
            .strip_suffix(STEP_SEPARATOR)?;
        Some(WaveStateName { index, wave, step })
    })
}

/// What every state of the way home starts with (a FAILBACK's waves, in reverse order).
pub const FAILBACK_PREFIX: &str = "Failback wave ";

/// Which way a wave's states take the servers: out to the recovery region (the plan's waves,
/// `Wave 2 app: start`) or home again (a FAILBACK, `Failback wave 2 app: start`). The same
/// gates, decisions and actions exist both ways under the way's own names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Way {
    #[default]
    Out,
    Home,
}

impl Way {
    /// What the way's wave and action state names start with.
    pub const fn prefix(self) -> &'static str {
        match self {
            Way::Out => WAVE_PREFIX,
            Way::Home => FAILBACK_PREFIX,
        }
    }
}

/// The steps of a wave on the way home: its approval gate, start (StartFailbackLaunch), wait,
/// check, done?, the decision after a failure and its answer, skipped, failed. No pause and no
/// health checks: those are of the recovered application, in the recovery region.
pub const FAILBACK_STEPS: [WaveStep; 11] = [
    WaveStep::Approve,
    WaveStep::ApprovalTimedOut,
    WaveStep::Start,
    WaveStep::Wait,
    WaveStep::Check,
    WaveStep::Done,
    WaveStep::Decide,
    WaveStep::Decision,
    WaveStep::DecisionTimedOut,
    WaveStep::Skipped,
    WaveStep::Failed,
];

/// `Failback wave 3 web: start`.
pub fn failback_wave(index: u32, name: &str, step: WaveStep) -> String {
    wave_on(Way::Home, index, name, step)
}

/// A wave's state on `way`: [`wave`] out, [`failback_wave`] home.
pub fn wave_on(way: Way, index: u32, name: &str, step: WaveStep) -> String {
    format!(
        "{}{index} {name}{STEP_SEPARATOR}{}",
        way.prefix(),
        step.suffix()
    )
}

/// A state of the way home taken apart ([`failback_wave`]), or None.
pub fn parse_failback_wave(state_name: &str) -> Option<WaveStateName<'_>> {
    let parsed = parse_after_prefix(state_name.strip_prefix(FAILBACK_PREFIX)?)?;
    FAILBACK_STEPS.contains(&parsed.step).then_some(parsed)
}

/// Whether a state of a generated machine is an approval gate or a decision (a wave's, or a
/// failed action's).
pub fn is_gate(state_name: &str) -> bool {
    parse_wave(state_name)
        .or_else(|| parse_failback_wave(state_name))
        .is_some_and(|p| p.step.is_gate())
        || actions::parse_action(state_name).is_some_and(|a| a.step.is_gate())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wave_state_names_read_as_the_console_shows_them() {
        assert_eq!(
            wave(2, "app-servers", WaveStep::Check),
            "Wave 2 app-servers: check"
        );
        assert_eq!(wave(1, "db", WaveStep::Start), "Wave 1 db: start");
        assert_eq!(wave(3, "web", WaveStep::Approve), "Wave 3 web: approve?");
        assert_eq!(wave(3, "web", WaveStep::Decide), "Wave 3 web: decide?");
    }

    #[test]
    fn every_step_of_every_kind_of_name_round_trips() {
        let names = [
            "db",
            "app-servers",
            "tier_1",
            "db: tier 1",
            "two  spaces",
            "ends with colon:",
            "ends with separator: ",
            "x: start",
            "datenbank-ü",
            "データベース",
            "Wave 3 web",
            "",
        ];
        for index in [1, 9, 10, 4_294_967_295] {
            for name in names {
                for step in WaveStep::ALL {
                    let state = wave(index, name, step);
                    let parsed = parse_wave(&state).expect(&state);
                    assert_eq!(
                        parsed,
                        WaveStateName {
                            index,
                            wave: name,
                            step
                        },
                        "{state}"
                    );
                    assert_eq!(parsed.name(), state);
                }
            }
        }
    }

    #[test]
    fn no_step_suffix_ends_with_another() {
        for a in WaveStep::ALL {
            assert_eq!(WaveStep::from_suffix(a.suffix()), Some(a));
            for b in WaveStep::ALL.into_iter().filter(|b| *b != a) {
                let tail = format!("{STEP_SEPARATOR}{}", b.suffix());
                assert!(!a.suffix().ends_with(&tail), "{a:?} ends with {b:?}");
            }
        }
    }

    #[test]
    fn states_outside_the_waves_and_other_names_are_not_wave_states() {
        for name in FIXED {
            assert_eq!(parse_wave(name), None, "{name}");
        }
        for name in [
            "Wave x y: start",
            "Wave 1 db: unknown",
            "Wave 1 db start",
            "Wave 01 db: start",
            "Wave +1 db: start",
            "Wave 4294967296 db: start",
            "Wave 1: start",
            "wave 1 db: start",
            "Wave  1 db: start",
            "",
        ] {
            assert_eq!(parse_wave(name), None, "{name}");
        }
    }

    #[test]
    fn failback_states_read_back_and_are_no_wave_states() {
        for step in FAILBACK_STEPS {
            let name = failback_wave(3, "web tier", step);
            assert!(name.starts_with(FAILBACK_PREFIX), "{name}");
            let parsed = parse_failback_wave(&name).expect(&name);
            assert_eq!(
                (parsed.index, parsed.wave, parsed.step),
                (3, "web tier", step)
            );
            assert_eq!(parse_wave(&name), None, "{name}");
            assert_eq!(is_gate(&name), step.is_gate(), "{name}");
        }
        assert_eq!(
            failback_wave(1, "db", WaveStep::Start),
            "Failback wave 1 db: start"
        );
        assert!(is_gate("Failback wave 1 db: approve?"));
        assert!(is_gate("Failback wave 1 db: decide?"));
        // The recovered application's checks and the pause stay in the recovery region.
        assert_eq!(
            parse_failback_wave("Failback wave 1 db: health check"),
            None
        );
        assert_eq!(parse_failback_wave("Failback wave 1 db: pause"), None);
        assert_eq!(parse_failback_wave("Wave 1 db: start"), None);
    }

    #[test]
    fn gates_are_the_approvals_and_the_decisions() {
        assert!(is_gate("Wave 3 web: decide?"));
        assert!(is_gate("Wave 2 app: approve?"));
        assert!(is_gate("Wave 10 db: tier 1: approve?"));
        assert!(!is_gate("Wave 3 web: done?"));
        assert!(!is_gate("Wave 3 web: decision"));
        assert!(!is_gate(PREFLIGHT));
        assert!(is_gate(
            "Wave 2 app: before 1 (fail over database) / decide?"
        ));
        assert!(!is_gate(
            "Wave 2 app: before 1 (fail over database) / answer?"
        ));
    }

    #[test]
    fn fixed_names_are_unique_and_fit_step_functions() {
        let mut names = FIXED.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FIXED.len());
        assert!(FIXED.iter().all(|n| n.chars().count() <= 80));
    }
}
