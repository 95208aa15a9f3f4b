//! Job-log events besides the plain launch: where a failing launch fails (snapshot,
//! conversion or launch), servers a launch job skips, and which of the DRS model's
//! JobLogEvent values the simulator writes.

use serde::{Deserialize, Serialize};

/// Where a failing launch (`failLaunch: true`) fails: the event before LAUNCH_FAILED.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FailStage {
    /// Getting the data: SNAPSHOT_FAIL after SNAPSHOT_START when the launch takes a snapshot,
    /// USING_PREVIOUS_SNAPSHOT_FAILED when it uses an existing one; then LAUNCH_FAILED.
    Snapshot,
    /// The conversion: CONVERSION_START, CONVERSION_FAIL, LAUNCH_FAILED.
    Conversion,
    /// Starting the instance (the default): LAUNCH_START, LAUNCH_FAILED.
    #[default]
    Launch,
}

impl FailStage {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "snapshot" => Some(FailStage::Snapshot),
            "conversion" => Some(FailStage::Conversion),
            "launch" => Some(FailStage::Launch),
            _ => None,
        }
    }

    /// Share of the server's launch time after which the launch ends FAILED at this stage.
    pub fn share(self) -> f64 {
        match self {
            FailStage::Snapshot => crate::lifecycle::SNAPSHOT_SHARE,
            FailStage::Conversion => crate::lifecycle::CONVERSION_SHARE,
            FailStage::Launch => 1.0,
        }
    }

    /// The `rawError` when the fixture names no `failReason` (the simulator's texts; EC2's
    /// and the conversion's own messages as DRS passes them on).
    pub fn default_reason(self) -> &'static str {
        match self {
            FailStage::Snapshot => SNAPSHOT_FAIL_REASON,
            FailStage::Conversion => CONVERSION_FAIL_REASON,
            FailStage::Launch => crate::fixture::GENERIC_FAIL_REASON,
        }
    }
}

/// `rawError` of a snapshot that could not be taken when the fixture names no cause.
pub const SNAPSHOT_FAIL_REASON: &str = "SnapshotCreationPerVolumeRateExceeded: The maximum \
     per volume CreateSnapshot request rate has been exceeded. Use an increasing or variable \
     sleep interval between requests.";

/// `rawError` of a failed conversion when the fixture names no cause.
pub const CONVERSION_FAIL_REASON: &str = "Conversion failed: the conversion server could \
     not mount the root volume of the replicated disks (no bootable partition found)";

/// SERVER_SKIPPED's `rawError` when the fixture names no `skipReason` (the simulator's text).
pub const GENERIC_SKIP_REASON: &str = "Source server skipped: its launch configuration is \
     not valid for this launch";

/// Every JobLogEvent of the DRS model and when the simulator writes it (None: never, with
/// why). Held to the model's enum by a test, so a new value shows up.
pub const EVENTS: &[(&str, Option<&str>)] = &[
    ("JOB_START", Some("every job, when it leaves PENDING")),
    (
        "SERVER_SKIPPED",
        Some("a server with skipLaunch, at the job's start"),
    ),
    ("CLEANUP_START", Some("each server of a TERMINATE job")),
    ("CLEANUP_END", Some("each server of a TERMINATE job")),
    ("CLEANUP_FAIL", None),
    ("SNAPSHOT_START", Some("a launch that takes a snapshot")),
    ("SNAPSHOT_END", Some("a launch that takes a snapshot")),
    (
        "SNAPSHOT_FAIL",
        Some("failStage snapshot, on a launch that takes a snapshot"),
    ),
    (
        "USING_PREVIOUS_SNAPSHOT",
        Some("a launch from a named snapshot or of a server that does not replicate"),
    ),
    (
        "USING_PREVIOUS_SNAPSHOT_FAILED",
        Some("a server without snapshots; failStage snapshot on a launch from an existing one"),
    ),
    ("CONVERSION_START", Some("every launch that has its data")),
    ("CONVERSION_END", Some("a conversion that succeeds")),
    ("CONVERSION_FAIL", Some("failStage conversion")),
    ("LAUNCH_START", Some("a launch past its conversion")),
    (
        "LAUNCH_FAILED",
        Some("every failed launch (not a skipped server)"),
    ),
    ("JOB_CANCEL", None),
    ("JOB_END", Some("every job, when it completes")),
    ("DEPLOY_NETWORK_CONFIGURATION_START", None),
    ("DEPLOY_NETWORK_CONFIGURATION_END", None),
    ("DEPLOY_NETWORK_CONFIGURATION_FAILED", None),
    ("UPDATE_NETWORK_CONFIGURATION_START", None),
    ("UPDATE_NETWORK_CONFIGURATION_END", None),
    ("UPDATE_NETWORK_CONFIGURATION_FAILED", None),
    ("UPDATE_LAUNCH_TEMPLATE_START", None),
    ("UPDATE_LAUNCH_TEMPLATE_END", None),
    ("UPDATE_LAUNCH_TEMPLATE_FAILED", None),
    ("NETWORK_RECOVERY_FAIL", None),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;

    #[test]
    fn every_event_of_the_model_is_accounted_for() {
        let model = Model::drs()
            .enum_values("JobLogEvent")
            .expect("JobLogEvent");
        let ours: Vec<&str> = EVENTS.iter().map(|(e, _)| *e).collect();
        assert_eq!(ours, model.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(FailStage::parse("conversion"), Some(FailStage::Conversion));
        assert_eq!(FailStage::parse("boot"), None);
    }
}
