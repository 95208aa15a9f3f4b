//! Checks of single fields and of small groups of them, shared by the plan's defaults and
//! its waves: names, IDs and tags, durations given in minutes or seconds, heartbeats,
//! polling bounds, gates and their SNS topics. Each reports what is wrong into a [`Scope`].

use super::{
    ApprovalFile, DecisionFile, MAX_HEARTBEAT_SECONDS, MAX_NAME_CHARS, PollingFile, Problem,
    WaveRef,
};
use crate::budget;
use crate::contract::{ApprovalGate, OnFailure, PollingBounds};

/// A plan or wave name: 1 to 40 letters, digits, `-` or `_`.
pub fn is_name(s: &str) -> bool {
    (1..=MAX_NAME_CHARS).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `s-` followed by 17 letters or digits.
pub fn is_source_server_id(s: &str) -> bool {
    s.len() == 19 && s.starts_with("s-") && s[2..].bytes().all(|b| b.is_ascii_alphanumeric())
}

pub(super) fn is_tag_text(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c))
}

/// Collects problems for one scope (the plan, or one wave).
pub(super) struct Scope<'a> {
    pub(super) wave: Option<WaveRef>,
    pub(super) problems: &'a mut Vec<Problem>,
}

impl<'p> Scope<'p> {
    /// Problems of the plan as a whole.
    pub(super) fn plan(problems: &'p mut Vec<Problem>) -> Scope<'p> {
        Scope {
            wave: None,
            problems,
        }
    }

    /// Problems of wave `index`.
    pub(super) fn wave(problems: &'p mut Vec<Problem>, index: u32, name: &str) -> Scope<'p> {
        Scope {
            wave: Some(WaveRef {
                index,
                name: name.to_owned(),
            }),
            problems,
        }
    }

    pub(super) fn report(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            wave: self.wave.clone(),
            field: field.into(),
            message: message.into(),
        });
    }
}

pub(super) fn on_failure_name(o: OnFailure) -> &'static str {
    match o {
        OnFailure::Stop => "stop",
        OnFailure::Continue => "continue",
        OnFailure::Ask => "ask",
    }
}

/// A gate's timeout in whole seconds (default 4 hours, at most 7 days).
fn gate_timeout(scope: &mut Scope<'_>, prefix: &str, minutes: Option<f64>) -> Option<u32> {
    let Some(m) = minutes else {
        return Some(budget::DEFAULT_GATE_TIMEOUT_SECONDS);
    };
    let secs = duration_seconds(scope, prefix, "timeout", Some(m), None)?;
    if secs > budget::MAX_GATE_TIMEOUT_SECONDS {
        scope.report(
            format!("{prefix}timeoutMinutes"),
            format!(
                "{} minutes is more than 7 days: a gate that long is a plan nobody is watching",
                minutes_text(secs)
            ),
        );
        return None;
    }
    Some(secs)
}

/// An SNS topic ARN, or a problem naming the field.
pub(super) fn topic(scope: &mut Scope<'_>, field: String, arn: Option<&String>) -> Option<String> {
    let arn = arn?;
    let parts: Vec<&str> = arn.split(':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && !parts[5].is_empty()
        && parts[5]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        scope.report(
            field,
            format!("{arn:?} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)"),
        );
        return None;
    }
    Some(arn.clone())
}

/// The gate of an `approval` block, none when `before` is false.
pub(super) fn approval_gate(
    scope: &mut Scope<'_>,
    prefix: &str,
    a: &ApprovalFile,
) -> Option<ApprovalGate> {
    let timeout = gate_timeout(scope, prefix, a.timeout_minutes);
    let notify = topic(scope, format!("{prefix}notify"), a.notify.as_ref());
    if !a.before {
        return None;
    }
    Some(ApprovalGate {
        timeout_seconds: timeout?,
        notify,
    })
}

/// A decision's timeout and topic.
pub(super) fn decision_settings(
    scope: &mut Scope<'_>,
    prefix: &str,
    d: &DecisionFile,
) -> (u32, Option<String>) {
    let timeout = gate_timeout(scope, prefix, d.timeout_minutes)
        .unwrap_or(budget::DEFAULT_GATE_TIMEOUT_SECONDS);
    (
        timeout,
        topic(scope, format!("{prefix}notify"), d.notify.as_ref()),
    )
}

pub(super) fn attempts(scope: &mut Scope<'_>, field: &str, n: i64) -> u32 {
    if !(1..=i64::from(budget::MAX_ATTEMPTS)).contains(&n) {
        scope.report(
            field,
            format!(
                "{n} must be between 1 and {} launches",
                budget::MAX_ATTEMPTS
            ),
        );
        return 1;
    }
    u32::try_from(n).unwrap_or(1)
}

/// Converts a minutes-or-seconds pair into whole seconds, reporting what is wrong with it.
pub(super) fn duration_seconds(
    scope: &mut Scope<'_>,
    prefix: &str,
    what: &str,
    minutes: Option<f64>,
    seconds: Option<i64>,
) -> Option<u32> {
    let (m_field, s_field) = (
        format!("{prefix}{what}Minutes"),
        format!("{prefix}{what}Seconds"),
    );
    match (minutes, seconds) {
        (Some(_), Some(_)) => {
            scope.report(
                format!("{m_field}, {s_field}"),
                "give the limit in minutes or in seconds, not both",
            );
            None
        }
        (Some(m), None) => {
            let secs = m * 60.0;
            if !m.is_finite() || m <= 0.0 {
                scope.report(m_field, format!("{m} must be a positive number of minutes"));
                None
            } else if secs > budget::MAX_EXECUTION_SECONDS as f64 {
                scope.report(
                    m_field,
                    format!(
                        "{m} minutes is longer than a Step Functions execution may run (1 year)"
                    ),
                );
                None
            } else if (secs - secs.round()).abs() > 1e-6 || secs.round() < 1.0 {
                scope.report(
                    m_field,
                    format!(
                        "{m} minutes is {secs} seconds; use a whole number of seconds{}",
                        // Targets and gate timeouts have no `...Seconds` field to point to.
                        if what.starts_with("rt") || what.starts_with("rp") || what == "timeout" {
                            String::new()
                        } else {
                            format!(" ({s_field})")
                        }
                    ),
                );
                None
            } else {
                Some(secs.round() as u32)
            }
        }
        (None, Some(s)) => positive_seconds(scope, &s_field, s, budget::MAX_EXECUTION_SECONDS),
        (None, None) => None,
    }
}

/// A heartbeat from `tasks`: its default when absent, checked (and the default after a
/// reported problem) when given.
pub(super) fn heartbeat_setting(
    scope: &mut Scope<'_>,
    field: &str,
    value: Option<i64>,
    default: u32,
) -> u32 {
    value
        .and_then(|h| positive_seconds(scope, field, h, u64::from(MAX_HEARTBEAT_SECONDS)))
        .unwrap_or(default)
}

fn positive_seconds(scope: &mut Scope<'_>, field: &str, value: i64, max: u64) -> Option<u32> {
    if value <= 0 {
        scope.report(
            field,
            format!("{value} must be a positive number of seconds"),
        );
        None
    } else if value as u64 > max {
        scope.report(field, format!("{value} is too long: at most {max} seconds"));
        None
    } else {
        u32::try_from(value).ok()
    }
}

/// The given polling fields, each checked on its own.
#[derive(Clone, Copy, Default)]
pub(super) struct PollingParts {
    pub(super) min: Option<u32>,
    pub(super) max: Option<u32>,
    pub(super) expected: Option<u32>,
    /// Whether any field was given but invalid (so the combination is not checked again).
    pub(super) broken: bool,
}

pub(super) fn polling_parts(
    scope: &mut Scope<'_>,
    prefix: &str,
    polling: Option<&PollingFile>,
) -> PollingParts {
    let Some(p) = polling else {
        return PollingParts::default();
    };
    let mut parts = PollingParts::default();
    let max = budget::MAX_EXECUTION_SECONDS;
    let mut field = |name: &str, value: Option<i64>, parts: &mut PollingParts| {
        value.and_then(|v| {
            let r = positive_seconds(scope, &format!("{prefix}polling.{name}"), v, max);
            parts.broken |= r.is_none();
            r
        })
    };
    parts.min = field("minWaitSeconds", p.min_wait_seconds, &mut parts);
    parts.max = field("maxWaitSeconds", p.max_wait_seconds, &mut parts);
    parts.expected = field(
        "expectedLaunchSeconds",
        p.expected_launch_seconds,
        &mut parts,
    );
    parts
}

/// Checks a resolved combination of limits; `prefix` names where they were set.
pub(super) fn check_limits(
    scope: &mut Scope<'_>,
    prefix: &str,
    polling: &PollingBounds,
    launch_timeout: u32,
) {
    if polling.min_wait_seconds > polling.max_wait_seconds {
        scope.report(
            format!("{prefix}polling"),
            format!(
                "minWaitSeconds {} is more than maxWaitSeconds {}: the shortest wait must not exceed the longest",
                polling.min_wait_seconds, polling.max_wait_seconds
            ),
        );
    }
    if polling.expected_launch_seconds > launch_timeout {
        scope.report(
            format!("{prefix}polling.expectedLaunchSeconds"),
            format!(
                "{} is more than the launch timeout of {launch_timeout} s: the wave would time out before its launch is expected to finish",
                polling.expected_launch_seconds
            ),
        );
    }
}

/// Seconds as minutes for a message: `2`, `0.5`.
pub(super) fn minutes_text(seconds: u32) -> String {
    let m = f64::from(seconds) / 60.0;
    let text = format!("{m:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}
