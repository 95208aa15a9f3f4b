//! Where each task's result lives in the execution state (JSONPath).
//!
//! Every path here is rendered into the generated ASL and read back by the worker's types.

/// Preflight's [`super::RunContext`].
pub const RUN: &str = "$.run";

/// The execution's mode as preflight recorded it (`$.run.mode`): the Choice after preflight
/// reads it to take a FAILBACK the way home.
pub const RUN_MODE: &str = "$.run.mode";
/// Object of every wave's [`super::WaveState`], keyed `w1`, `w2`, ...
pub const WAVES: &str = "$.waves";
/// What a Catch caught ([`super::CaughtError`]).
pub const ERROR: &str = "$.error";
/// What the DescribeAlarms state before a round of health checks read (one slot; each
/// round overwrites it): [`crate::health::AlarmsRead`].
pub const ALARMS: &str = "$.alarms";
/// Record-failure's [`super::RecordFailureOutput`].
pub const FAILURE: &str = "$.failure";
/// Finish's [`super::FinishOutput`].
pub const RESULT: &str = "$.result";

/// The whole state (a task that takes everything, such as record-failure).
pub const STATE: &str = "$";
/// The execution input's mode, read by the first Choice state.
pub const INPUT_MODE: &str = "$.mode";
/// The execution input's confirmation, read by the first Choice state.
pub const INPUT_CONFIRM: &str = "$.confirm";
/// The execution input's point in time, checked to be a timestamp by the input check.
pub const INPUT_POINT_IN_TIME: &str = "$.pointInTime";
/// The name and cause of what a Catch caught, read by the final Fail state.
pub const ERROR_NAME: &str = "$.error.Error";
pub const ERROR_CAUSE: &str = "$.error.Cause";
/// Where record-failure's own Catch puts its error, so the original `$.error` survives.
pub const RECORD_FAILURE_ERROR: &str = "$.recordFailureError";

/// The context object's execution fields (the [`super::ExecutionRef`] a task gets).
pub const CONTEXT_EXECUTION_ID: &str = "$$.Execution.Id";
pub const CONTEXT_EXECUTION_NAME: &str = "$$.Execution.Name";
pub const CONTEXT_EXECUTION_START_TIME: &str = "$$.Execution.StartTime";
/// When the current state was entered: unchanged by its Retry (a re-opened gate keeps the
/// deadline it opened with).
pub const CONTEXT_STATE_ENTERED_TIME: &str = "$$.State.EnteredTime";
/// How many times the current state's task has been retried.
pub const CONTEXT_STATE_RETRY_COUNT: &str = "$$.State.RetryCount";

/// The key of a wave under `$.waves`.
pub fn wave_key(index: u32) -> String {
    format!("w{index}")
}

/// `$.waves.w<index>`.
pub fn wave_state(index: u32) -> String {
    format!("{WAVES}.{}", wave_key(index))
}

/// A wave's [`super::WaveState::status`], read by its Choice state.
pub fn wave_status(index: u32) -> String {
    format!("{}.status", wave_state(index))
}

/// A wave's [`super::WaveState::next_wait_seconds`], read by its Wait state.
pub fn wave_next_wait_seconds(index: u32) -> String {
    format!("{}.nextWaitSeconds", wave_state(index))
}

/// A wave's [`super::WaveState::reason`], read by its failure state.
pub fn wave_reason(index: u32) -> String {
    format!("{}.reason", wave_state(index))
}

/// Where the operators' answers go, keyed `approve_w<i>` and `decide_w<i>`
/// ([`super::OperatorAnswer`]).
///
/// Every path here is a Reference Path as AWS checks it when a definition is created: `$`
/// (or `$$` for the context object) followed by `.name` steps of letters, digits and `_`.
/// A `-` in a name (`approve-w2`) is valid JSONPath but refused by AWS and statelint, and a
/// refused definition fails the whole deploy; [`is_reference_path`] checks the rule.
pub const OPERATOR: &str = "$.operator";

/// The answer of wave `index`'s approval gate.
pub fn approval_answer(index: u32) -> String {
    format!(
        "{OPERATOR}.{}",
        super::gate_key(super::GateKind::Approval, index)
    )
}

/// The answer of wave `index`'s decision after a failure.
pub fn decision_answer(index: u32) -> String {
    format!(
        "{OPERATOR}.{}",
        super::gate_key(super::GateKind::Decision, index)
    )
}

/// The decision itself (`retry` or `skip`), read by the Choice after it.
pub fn decision(index: u32) -> String {
    format!("{}.decision", decision_answer(index))
}

/// True when `path` is `$` or `$$` followed only by `.name` steps, each name of ASCII
/// letters, digits and `_`: the subset of AWS's Reference Paths that this project uses for
/// every path it renders (no brackets, no wildcards, no other characters).
pub fn is_reference_path(path: &str) -> bool {
    let Some(steps) = path.strip_prefix("$$").or_else(|| path.strip_prefix('$')) else {
        return false;
    };
    if steps.is_empty() {
        return true;
    }
    let Some(steps) = steps.strip_prefix('.') else {
        return false;
    };
    steps
        .split('.')
        .all(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

#[cfg(test)]
mod tests {
    use crate::{ServerCounts, WaveState, WaveStatus, paths};

    #[test]
    fn wave_state_paths() {
        assert_eq!(paths::wave_state(3), "$.waves.w3");
    }
    #[test]
    fn operator_answer_paths_use_underscores_not_hyphens() {
        assert_eq!(paths::approval_answer(2), "$.operator.approve_w2");
        assert_eq!(paths::decision_answer(1), "$.operator.decide_w1");
        assert_eq!(paths::decision(1), "$.operator.decide_w1.decision");
    }
    #[test]
    fn every_path_is_a_reference_path_aws_accepts() {
        let mut all: Vec<String> = [
            paths::RUN,
            paths::WAVES,
            paths::ERROR,
            paths::FAILURE,
            paths::RESULT,
            paths::STATE,
            paths::INPUT_MODE,
            paths::INPUT_CONFIRM,
            paths::INPUT_POINT_IN_TIME,
            paths::ERROR_NAME,
            paths::ERROR_CAUSE,
            paths::RECORD_FAILURE_ERROR,
            paths::CONTEXT_EXECUTION_ID,
            paths::CONTEXT_EXECUTION_NAME,
            paths::CONTEXT_EXECUTION_START_TIME,
            paths::CONTEXT_STATE_ENTERED_TIME,
            paths::CONTEXT_STATE_RETRY_COUNT,
            paths::OPERATOR,
        ]
        .map(str::to_owned)
        .to_vec();
        for i in [1, 20, 9999] {
            all.extend([
                paths::wave_state(i),
                paths::wave_status(i),
                paths::wave_next_wait_seconds(i),
                paths::wave_reason(i),
                paths::approval_answer(i),
                paths::decision_answer(i),
                paths::decision(i),
            ]);
        }
        for path in &all {
            assert!(paths::is_reference_path(path), "{path}");
        }
    }
    #[test]
    fn is_reference_path_refuses_what_aws_refuses() {
        for good in ["$", "$$", "$.a", "$.a_b.C9", "$$.Execution.Id"] {
            assert!(paths::is_reference_path(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "$.",
            "$a",
            "$.a..b",
            "$.approve-w2",
            "$.a b",
            "$.a[0]",
            "$.a.*",
            "$['a']",
            "$$$.a",
            "$.é",
        ] {
            assert!(!paths::is_reference_path(bad), "{bad}");
        }
    }
    #[test]
    fn wave_field_paths_name_fields_of_the_serialized_wave_state() {
        let state = WaveState {
            wave: "w".into(),
            index: 2,
            status: WaveStatus::Launching,
            job_ids: vec![],
            started_at: String::new(),
            ended_at: String::new(),
            checks: 0,
            next_wait_seconds: 7,
            servers: ServerCounts::default(),
            reason: "why".into(),
            health: None,
            recovered: None,
        };
        let value = serde_json::to_value(&state).expect("serialize");
        let field = |path: String| {
            let key = path
                .rsplit('.')
                .next()
                .map(str::to_owned)
                .unwrap_or_default();
            value.get(key).cloned()
        };
        assert_eq!(
            field(paths::wave_status(2)),
            Some(serde_json::json!("LAUNCHING"))
        );
        assert_eq!(
            field(paths::wave_next_wait_seconds(2)),
            Some(serde_json::json!(7))
        );
        assert_eq!(field(paths::wave_reason(2)), Some(serde_json::json!("why")));
    }
}
