//! Health checks: what must answer after a wave's launch before the next wave may start
//! (a plan's `health:`), the check task's input and what it leaves in the wave's state.
//!
//! The worker runs the HTTP and TCP probes (it is inside the VPC). A check passes once and
//! stays passed; a check that has not passed within its timeout (counted from the moment the
//! checks began, again after an operator's retry) fails the wave, and the wave's `onFailure`
//! applies.

use serde::{Deserialize, Serialize};

use crate::{RunContext, WaveSpec, WaveState};

/// In an HTTP check's URL or a TCP check's host: each recovered server's private IPv4
/// address (the check is made once per recovered server of the wave).
pub const PRIVATE_IP_PLACEHOLDER: &str = "{privateIp}";
/// In an HTTP check's URL or a TCP check's host: each recovered server's host name as DRS
/// identified it on the source (`identificationHints.hostname`).
pub const HOSTNAME_PLACEHOLDER: &str = "{hostname}";

/// One check of a wave, every default applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    pub probe: Probe,
    /// How long the check may take to pass, from the start of the checks.
    pub timeout_seconds: u32,
    /// The wait between two probes of the check.
    pub interval_seconds: u32,
}

/// What a check probes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum Probe {
    /// An HTTP GET whose status must be within `expect`.
    Http { url: String, expect: StatusRange },
    /// A TCP connection to `port` of each recovered server, or of `host`.
    Tcp {
        port: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
    },
    /// A CloudWatch metric alarm that must be in state OK. Step Functions reads it
    /// (`aws-sdk:cloudwatch:describeAlarms`, before each round); the worker judges it.
    Alarm { name: String },
}

/// The state a CloudWatch alarm check passes in.
pub const ALARM_OK: &str = "OK";

/// What the generated DescribeAlarms state left for a round of checks (at
/// [`crate::paths::ALARMS`]): the metric alarms CloudWatch listed (their names, states and
/// reasons; other members are ignored), or the error it answered (`Error`, `Cause`, as a Catch
/// writes them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlarmsRead {
    #[serde(rename = "MetricAlarms", default)]
    pub metric_alarms: Vec<AlarmRead>,
    #[serde(rename = "Error", default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(rename = "Cause", default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// One alarm as DescribeAlarms lists it (the members a check reads).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AlarmRead {
    #[serde(rename = "AlarmName")]
    pub alarm_name: String,
    /// OK, ALARM or INSUFFICIENT_DATA.
    #[serde(rename = "StateValue", default)]
    pub state_value: String,
    #[serde(rename = "StateReason", default)]
    pub state_reason: String,
}

/// The HTTP statuses a check accepts, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StatusRange {
    pub min: u16,
    pub max: u16,
}

impl StatusRange {
    pub fn contains(self, status: u16) -> bool {
        (self.min..=self.max).contains(&status)
    }
}

impl std::fmt::Display for StatusRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else if self.min.is_multiple_of(100) && self.max == self.min + 99 {
            write!(f, "{}xx", self.min / 100)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Probe::Http { url, expect } => write!(f, "http {url} expects {expect}"),
            Probe::Tcp { port, host } => match host {
                Some(h) => write!(f, "tcp {h}:{port}"),
                None => write!(f, "tcp port {port} of each recovered server"),
            },
            Probe::Alarm { name } => write!(f, "alarm {name} in OK"),
        }
    }
}

/// Where the checks of a wave stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthStatus {
    /// Some check has not passed yet and none is past its timeout.
    Checking,
    /// Every check has passed.
    Healthy,
    /// A check did not pass within its timeout.
    Failed,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Checking => "CHECKING",
            HealthStatus::Healthy => "HEALTHY",
            HealthStatus::Failed => "FAILED",
        }
    }
}

/// The checks' place in the wave's state ([`WaveState::health`]): set by the generated Pass
/// that begins the checks (`startedAt` from the context object), rewritten by each check task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HealthState {
    pub status: HealthStatus,
    /// When the checks began (RFC 3339): every check's timeout counts from here.
    pub started_at: String,
    /// How many rounds of probes have run.
    #[serde(default)]
    pub rounds: u32,
    /// The indexes (0-based, in the plan's order) of the checks that have passed.
    #[serde(default)]
    pub passed: Vec<u32>,
    /// Seconds the Wait state waits before the next round.
    #[serde(default)]
    pub next_wait_seconds: u32,
    /// When the last check passed (RFC 3339); empty until then.
    #[serde(default)]
    pub healthy_at: String,
    /// When each check (in the plan's order) is next due, in seconds after `startedAt`: each
    /// check is probed at its own interval. Empty until the first round (every check is due).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub due_seconds: Vec<u64>,
}

/// Input of the check-health task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CheckHealthInput {
    pub run: RunContext,
    pub wave: WaveSpec,
    /// The wave's state, with `health` as the Pass or the previous round left it.
    pub state: WaveState,
    pub heartbeat_seconds: u32,
    /// The wave's alarms as Step Functions read them for this round (a wave with alarm
    /// checks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarms: Option<AlarmsRead>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_ranges_print_as_a_plan_writes_them() {
        assert_eq!(StatusRange { min: 200, max: 299 }.to_string(), "2xx");
        assert_eq!(StatusRange { min: 204, max: 204 }.to_string(), "204");
        assert_eq!(StatusRange { min: 200, max: 399 }.to_string(), "200-399");
        assert!(StatusRange { min: 200, max: 299 }.contains(299));
        assert!(!StatusRange { min: 200, max: 299 }.contains(300));
    }

    #[test]
    fn a_probe_reads_back_what_it_wrote() {
        let p = Probe::Tcp {
            port: 5432,
            host: None,
        };
        let json = serde_json::to_value(&p).expect("serializes");
        assert_eq!(json, serde_json::json!({"tcp": {"port": 5432}}));
        assert_eq!(
            serde_json::from_value::<Probe>(json).expect("reads back"),
            p
        );
    }
}
