//! Post-launch actions: the SSM documents DRS runs on a recovery instance once it is
//! launched, and what DescribeJobs reports of them.
//!
//! Sources: the DRS model's `LaunchAction` (`optional`: "Whether the launch will not be marked
//! as failed if this action fails"; `order` 2..10000; `type` SSM_AUTOMATION or SSM_COMMAND;
//! `category`), `LaunchActionRun` (`runId`, `status` IN_PROGRESS, SUCCEEDED or FAILED,
//! `failureReason`) and `ParticipatingServer.launchActionsStatus`
//! (`ssmAgentDiscoveryDatetime`, `runs`); the DRS User Guide, "Post-launch settings" (actions
//! run after the recovery instance is launched, once its SSM agent is seen; the default
//! post-launch actions apply to source servers added later and each server's own settings can
//! change them).
//!
//! The simulator's choices, where neither says: the SSM agent is discovered a tenth of the
//! server's launch time after LAUNCHED; the actions then run one after the other, lowest
//! `order` first (the fixture's order for equal ones); a run is listed from when it starts
//! (not up front); every action runs even after one failed; the server stays LAUNCHED
//! whatever its actions do (it has its instance), and its job is COMPLETED only when its last
//! run has ended.

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::lifecycle::seconds;
use crate::model::{Direction, Model};

/// `actionCode` when the fixture names no SSM document: the shell-script command document.
pub const DEFAULT_ACTION_CODE: &str = "AWS-RunShellScript";

/// How long a run takes when the fixture does not say (before the time scale).
pub const DEFAULT_ACTION_SECONDS: f64 = 1.0;

/// The lowest `order` the model allows (LaunchActionOrder, min 2).
pub const MIN_ORDER: u32 = 2;
const MAX_ORDER: u32 = 10_000;

/// A run's `failureReason` when the fixture names none (the simulator's text).
pub const GENERIC_ACTION_FAILURE: &str =
    "SSM command failed on the recovery instance: the document exited with status 1";

/// Share of the launch time after LAUNCHED at which the SSM agent is discovered.
const SSM_DISCOVERY_SHARE: f64 = 0.1;

/// A post-launch action as a fixture (or `POST /_sim/servers`) describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LaunchActionSpec {
    /// The model's LaunchActionName: a letter or digit, then letters, digits, ` /_-`.
    pub name: String,
    /// The SSM document (the model's `actionCode`, SsmDocumentName).
    #[serde(default)]
    pub action_code: Option<String>,
    /// SSM_COMMAND (default) or SSM_AUTOMATION.
    #[serde(rename = "type", default)]
    pub action_type: Option<String>,
    /// MONITORING, VALIDATION, CONFIGURATION, SECURITY or OTHER (default).
    #[serde(default)]
    pub category: Option<String>,
    /// The launch is not marked as failed when this action fails.
    #[serde(default)]
    pub optional: bool,
    /// 2..=10000; default 2 + the action's position in its list.
    #[serde(default)]
    pub order: Option<u32>,
    /// SUCCEEDED (default) or FAILED: how the run ends.
    #[serde(default)]
    pub outcome: Option<String>,
    /// The run's `failureReason` (only with outcome FAILED; the model's FailureReason, at most
    /// 256 characters).
    #[serde(default)]
    pub failure_reason: Option<String>,
    /// How long the run takes, before the time scale. Default 1.
    #[serde(default)]
    pub duration_seconds: Option<f64>,
    /// In `defaults.postLaunchActions` only: the servers it applies to (those carrying all of
    /// these tags; none: every server).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl LaunchActionSpec {
    /// An action that succeeds after `duration_seconds`.
    pub fn new(name: impl Into<String>, duration_seconds: f64) -> Self {
        Self {
            name: name.into(),
            action_code: None,
            action_type: None,
            category: None,
            optional: false,
            order: None,
            outcome: None,
            failure_reason: None,
            duration_seconds: Some(duration_seconds),
            tags: BTreeMap::new(),
        }
    }

    /// The run ends FAILED with this `failureReason`.
    pub fn failing_with(mut self, reason: impl Into<String>) -> Self {
        self.outcome = Some("FAILED".to_owned());
        self.failure_reason = Some(reason.into());
        self
    }

    /// The launch is not marked as failed if this action fails.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    pub fn with_order(mut self, order: u32) -> Self {
        self.order = Some(order);
        self
    }

    pub fn with_action_code(mut self, code: impl Into<String>) -> Self {
        self.action_code = Some(code.into());
        self
    }

    /// In defaults: applies only to servers carrying this tag (and any others given).
    pub fn for_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Checks the spec against the DRS model and applies defaults. `position` is its index in
    /// its list; `server_id` makes the `actionId` (stable for the same server and action).
    pub fn resolve(&self, position: usize, server_id: &str) -> Result<LaunchActionDef, String> {
        let order = self
            .order
            .unwrap_or(MIN_ORDER + u32::try_from(position).unwrap_or(MAX_ORDER));
        if !(MIN_ORDER..=MAX_ORDER).contains(&order) {
            return Err(format!(
                "order {order} is not between {MIN_ORDER} and {MAX_ORDER} (the model's \
                 LaunchActionOrder)"
            ));
        }
        let succeeds = match self.outcome.as_deref() {
            None | Some("SUCCEEDED") => true,
            Some("FAILED") => false,
            Some(other) => {
                return Err(format!("outcome {other:?} is not SUCCEEDED or FAILED"));
            }
        };
        if self.failure_reason.is_some() && succeeds {
            return Err("failureReason is set but outcome is not FAILED".to_owned());
        }
        let duration_seconds = self.duration_seconds.unwrap_or(DEFAULT_ACTION_SECONDS);
        if !duration_seconds.is_finite() || !(0.0..=86_400.0).contains(&duration_seconds) {
            return Err(format!(
                "durationSeconds {duration_seconds} is not between 0 and a day"
            ));
        }
        let def = LaunchActionDef {
            action_id: uuid_from(&[server_id, &self.name], order.into()),
            name: self.name.clone(),
            action_code: self
                .action_code
                .clone()
                .unwrap_or_else(|| DEFAULT_ACTION_CODE.to_owned()),
            action_type: self
                .action_type
                .clone()
                .unwrap_or_else(|| "SSM_COMMAND".to_owned()),
            category: self.category.clone().unwrap_or_else(|| "OTHER".to_owned()),
            optional: self.optional,
            order,
            succeeds,
            failure_reason: (!succeeds).then(|| {
                self.failure_reason
                    .clone()
                    .unwrap_or_else(|| GENERIC_ACTION_FAILURE.to_owned())
            }),
            duration_seconds,
        };
        // Everything DescribeJobs will say of it must be what the model allows.
        let run = def.run_json("00000000-0000-4000-8000-000000000000", RunStatus::Failed);
        let violations = Model::drs().validate("LaunchActionRun", &run, Direction::Response);
        if let Some(v) = violations.first() {
            return Err(format!("{v} (the DRS model's LaunchActionRun)"));
        }
        Ok(def)
    }
}

/// A post-launch action after validation, with its defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchActionDef {
    #[serde(rename = "actionID")]
    pub action_id: String,
    pub name: String,
    pub action_code: String,
    #[serde(rename = "type")]
    pub action_type: String,
    pub category: String,
    pub optional: bool,
    pub order: u32,
    /// The run ends SUCCEEDED (else FAILED with `failure_reason`).
    pub succeeds: bool,
    pub failure_reason: Option<String>,
    pub duration_seconds: f64,
}

/// A run's `status` (the model's LaunchActionRunStatus).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    InProgress,
    Succeeded,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::InProgress => "IN_PROGRESS",
            RunStatus::Succeeded => "SUCCEEDED",
            RunStatus::Failed => "FAILED",
        }
    }
}

impl LaunchActionDef {
    /// The model's LaunchAction.
    fn action_json(&self) -> Value {
        json!({
            "actionId": self.action_id,
            "actionCode": self.action_code,
            "type": self.action_type,
            "name": self.name,
            "active": true,
            "order": self.order,
            "actionVersion": "$DEFAULT",
            "optional": self.optional,
            "category": self.category,
        })
    }

    /// The model's LaunchActionRun, with `status`.
    fn run_json(&self, run_id: &str, status: RunStatus) -> Value {
        let mut v = json!({
            "action": self.action_json(),
            "runId": run_id,
            "status": status.as_str(),
        });
        if status == RunStatus::Failed
            && let Some(reason) = &self.failure_reason
        {
            v["failureReason"] = Value::from(reason.clone());
        }
        v
    }
}

/// Orders a server's actions as DRS runs them: lowest `order` first, the list's order for
/// equal ones.
pub fn in_run_order(mut actions: Vec<LaunchActionDef>) -> Vec<LaunchActionDef> {
    actions.sort_by_key(|a| a.order);
    actions
}

/// One run of one action in a launch.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledRun {
    pub action: LaunchActionDef,
    pub run_id: String,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

impl ScheduledRun {
    /// The run's status at `now`; None before it has started (it is not listed yet).
    pub fn status(&self, now: OffsetDateTime) -> Option<RunStatus> {
        if now < self.start {
            None
        } else if now < self.end {
            Some(RunStatus::InProgress)
        } else if self.action.succeeds {
            Some(RunStatus::Succeeded)
        } else {
            Some(RunStatus::Failed)
        }
    }
}

/// A launched server's post-launch actions: when the SSM agent is seen and each run.
#[derive(Debug, Clone, PartialEq)]
pub struct PostLaunch {
    pub ssm_agent_discovery: OffsetDateTime,
    pub runs: Vec<ScheduledRun>,
}

impl PostLaunch {
    /// Schedules `actions` (in run order) for a server LAUNCHED at `launched` after a launch
    /// of `launch_seconds` (scaled); durations are multiplied by `scale`. None without
    /// actions.
    pub fn schedule(
        actions: &[LaunchActionDef],
        launched: OffsetDateTime,
        launch_seconds: f64,
        scale: f64,
        rng: &mut impl Rng,
    ) -> Option<Self> {
        if actions.is_empty() {
            return None;
        }
        let discovery = launched + seconds(launch_seconds * SSM_DISCOVERY_SHARE);
        let mut at = discovery;
        let runs = actions
            .iter()
            .map(|action| {
                let start = at;
                at = start + seconds(action.duration_seconds * scale);
                ScheduledRun {
                    action: action.clone(),
                    run_id: random_uuid(rng),
                    start,
                    end: at,
                }
            })
            .collect();
        Some(Self {
            ssm_agent_discovery: discovery,
            runs,
        })
    }

    /// When the last run ends.
    pub fn end(&self) -> OffsetDateTime {
        self.runs.last().map_or(self.ssm_agent_discovery, |r| r.end)
    }

    /// `launchActionsStatus` at `now`: absent until the SSM agent is discovered, then the
    /// runs that have started.
    pub fn status_json(
        &self,
        now: OffsetDateTime,
        date: impl Fn(OffsetDateTime) -> String,
    ) -> Option<Value> {
        if now < self.ssm_agent_discovery {
            return None;
        }
        let runs: Vec<Value> = self
            .runs
            .iter()
            .filter_map(|r| r.status(now).map(|s| r.action.run_json(&r.run_id, s)))
            .collect();
        Some(json!({
            "ssmAgentDiscoveryDatetime": date(self.ssm_agent_discovery),
            "runs": runs,
        }))
    }
}

/// A random UUID (version 4 layout), the model's LaunchActionRunId.
fn random_uuid(rng: &mut impl Rng) -> String {
    format_uuid(rng.random::<u64>(), rng.random::<u64>())
}

/// A UUID derived from `parts` and `n`: the same action of the same server keeps its ID.
fn uuid_from(parts: &[&str], n: u64) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut step = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    for part in parts {
        part.bytes().for_each(&mut step);
        step(0);
    }
    n.to_le_bytes().into_iter().for_each(&mut step);
    let high = h;
    let low = h.rotate_left(29).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ n;
    format_uuid(high, low)
}

fn format_uuid(high: u64, low: u64) -> String {
    let high = (high & 0xffff_ffff_ffff_0fff) | 0x4000;
    let low = (low & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2024-05-01 12:00:00 UTC);

    fn date(t: OffsetDateTime) -> String {
        crate::wire::format_date(t, crate::config::DateStyle::Zulu)
    }

    #[test]
    fn bad_specs_name_what_the_model_refuses() {
        let ok = LaunchActionSpec::new("Verify billing", 1.0);
        assert!(ok.resolve(0, "s-1").is_ok());
        for (spec, needle) in [
            (LaunchActionSpec::new("-starts with a dash", 1.0), "name"),
            (LaunchActionSpec::new("x", 1.0).with_order(1), "order"),
            (
                LaunchActionSpec::new("x", 1.0).with_action_code("bad code!"),
                "actionCode",
            ),
            (LaunchActionSpec::new("x", -1.0), "durationSeconds"),
            (
                LaunchActionSpec::new("x", 1.0).failing_with("x".repeat(300)),
                "failureReason",
            ),
            (
                LaunchActionSpec {
                    outcome: Some("MAYBE".into()),
                    ..LaunchActionSpec::new("x", 1.0)
                },
                "outcome",
            ),
            (
                LaunchActionSpec {
                    failure_reason: Some("why".into()),
                    ..LaunchActionSpec::new("x", 1.0)
                },
                "failureReason",
            ),
        ] {
            let err = spec.resolve(0, "s-1").expect_err(needle);
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }

    #[test]
    fn runs_start_after_the_agent_is_seen_one_after_the_other_and_are_listed_as_they_start() {
        let actions = in_run_order(vec![
            LaunchActionSpec::new("second", 2.0)
                .with_order(20)
                .failing_with("disk full")
                .resolve(0, "s-1")
                .expect("valid"),
            LaunchActionSpec::new("first", 1.0)
                .with_order(10)
                .resolve(1, "s-1")
                .expect("valid"),
        ]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let launched = T0 + time::Duration::seconds(10);
        let post = PostLaunch::schedule(&actions, launched, 10.0, 1.0, &mut rng).expect("runs");
        assert_eq!(
            post.ssm_agent_discovery,
            launched + time::Duration::seconds(1)
        );
        assert!(
            post.status_json(launched, date).is_none(),
            "agent not seen yet"
        );
        let at = |s: i64| {
            post.status_json(launched + time::Duration::seconds(s), date)
                .expect("seen")
        };
        let first = at(1);
        assert_eq!(first["runs"].as_array().map(Vec::len), Some(1));
        assert_eq!(first["runs"][0]["action"]["name"], "first");
        assert_eq!(first["runs"][0]["status"], "IN_PROGRESS");
        let second = at(2);
        assert_eq!(second["runs"][0]["status"], "SUCCEEDED");
        assert_eq!(second["runs"][1]["status"], "IN_PROGRESS");
        assert!(second["runs"][1].get("failureReason").is_none());
        let done = at(4);
        assert_eq!(done["runs"][1]["status"], "FAILED");
        assert_eq!(done["runs"][1]["failureReason"], "disk full");
        assert_eq!(post.end(), launched + time::Duration::seconds(4));
        for v in [&first, &second, &done] {
            let violations = Model::drs().validate("LaunchActionsStatus", v, Direction::Response);
            assert!(violations.is_empty(), "{violations:?}");
        }
        // The same server's action keeps its ID; another server's differs.
        let again = LaunchActionSpec::new("first", 1.0).with_order(10);
        assert_eq!(
            again.resolve(5, "s-1").expect("valid").action_id,
            actions[0].action_id
        );
        assert_ne!(
            again.resolve(5, "s-2").expect("valid").action_id,
            actions[0].action_id
        );
    }

    #[test]
    fn no_actions_no_status() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert!(PostLaunch::schedule(&[], T0, 1.0, 1.0, &mut rng).is_none());
    }
}
