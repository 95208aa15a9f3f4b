//! Failback through the [`super::Drs`] seam: a recovery instance's failback as
//! DescribeRecoveryInstances reports it (the model's RecoveryInstanceFailback and the
//! replicated disks of its RecoveryInstanceDataReplicationInfo), StartFailbackLaunch and
//! StopFailback over aws-sdk-drs.

use std::collections::BTreeMap;

use super::Job;
use super::SdkDrs;
use super::sdk::{job_of, send_once};
use crate::AwsError;
use crate::failure::from_sdk;

/// The model's FailbackState, with what DRS may add later kept as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailbackState {
    NotStarted,
    InProgress,
    ReadyForLaunch,
    Completed,
    Error,
    NotReadyForLaunch,
    LaunchStateNotAvailable,
    Other(String),
}

impl FailbackState {
    pub fn parse(s: &str) -> Self {
        match s {
            "FAILBACK_NOT_STARTED" => Self::NotStarted,
            "FAILBACK_IN_PROGRESS" => Self::InProgress,
            "FAILBACK_READY_FOR_LAUNCH" => Self::ReadyForLaunch,
            "FAILBACK_COMPLETED" => Self::Completed,
            "FAILBACK_ERROR" => Self::Error,
            "FAILBACK_NOT_READY_FOR_LAUNCH" => Self::NotReadyForLaunch,
            "FAILBACK_LAUNCH_STATE_NOT_AVAILABLE" => Self::LaunchStateNotAvailable,
            other => Self::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::NotStarted => "FAILBACK_NOT_STARTED",
            Self::InProgress => "FAILBACK_IN_PROGRESS",
            Self::ReadyForLaunch => "FAILBACK_READY_FOR_LAUNCH",
            Self::Completed => "FAILBACK_COMPLETED",
            Self::Error => "FAILBACK_ERROR",
            Self::NotReadyForLaunch => "FAILBACK_NOT_READY_FOR_LAUNCH",
            Self::LaunchStateNotAvailable => "FAILBACK_LAUNCH_STATE_NOT_AVAILABLE",
            Self::Other(s) => s,
        }
    }
}

/// A recovery instance's failback (`failback` and `dataReplicationInfo` of
/// DescribeRecoveryInstances).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFailback {
    pub state: FailbackState,
    /// `failbackJobID`: the job of its last failback launch.
    pub job_id: Option<String>,
    /// `dataReplicationInfo.dataReplicationState` while it replicates back (STALLED, ...).
    pub replication_state: Option<String>,
    /// `dataReplicationInfo.dataReplicationError.error`.
    pub replication_error: Option<String>,
    /// The bytes replicated back so far and in all (`replicatedDisks`, summed).
    pub replicated_bytes: i64,
    pub total_bytes: i64,
}

impl InstanceFailback {
    /// `FAILBACK_ERROR (FAILBACK_CLIENT_NOT_SEEN)`, `FAILBACK_IN_PROGRESS (STALLED, 40%
    /// replicated)`, for messages.
    pub fn summary(&self) -> String {
        let mut detail = Vec::new();
        if let Some(e) = &self.replication_error {
            detail.push(e.clone());
        }
        if let Some(s) = self
            .replication_state
            .as_deref()
            .filter(|s| *s != "CONTINUOUS")
        {
            detail.push(s.to_string());
        }
        if self.total_bytes > 0 && self.replicated_bytes < self.total_bytes {
            detail.push(format!(
                "{}% replicated",
                self.replicated_bytes.saturating_mul(100) / self.total_bytes
            ));
        }
        if detail.is_empty() {
            self.state.as_str().to_string()
        } else {
            format!("{} ({})", self.state.as_str(), detail.join(", "))
        }
    }
}

/// StartFailbackLaunch's request: 1 to 200 recovery instances and the job's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailbackLaunchRequest {
    pub recovery_instance_ids: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

/// The failback of an SDK recovery instance (None: DRS gave no `failback`).
pub(super) fn failback_of(i: &aws_sdk_drs::types::RecoveryInstance) -> Option<InstanceFailback> {
    let f = i.failback()?;
    let info = i.data_replication_info();
    let disks = info.map(|d| d.replicated_disks()).unwrap_or_default();
    Some(InstanceFailback {
        state: f.state().map_or(FailbackState::Other(String::new()), |s| {
            FailbackState::parse(s.as_str())
        }),
        job_id: f
            .failback_job_id()
            .filter(|j| !j.is_empty())
            .map(str::to_string),
        replication_state: info
            .and_then(|d| d.data_replication_state())
            .map(|s| s.as_str().to_string()),
        replication_error: info
            .and_then(|d| d.data_replication_error())
            .and_then(|e| e.error())
            .map(|e| e.as_str().to_string()),
        replicated_bytes: disks.iter().map(|d| d.replicated_storage_bytes()).sum(),
        total_bytes: disks.iter().map(|d| d.total_storage_bytes()).sum(),
    })
}

impl SdkDrs {
    /// [`super::Drs::start_failback_launch`].
    pub(super) async fn failback_launch(
        &self,
        request: FailbackLaunchRequest,
    ) -> Result<Job, AwsError> {
        let resp = self
            .client
            .start_failback_launch()
            .set_recovery_instance_ids(Some(request.recovery_instance_ids))
            .set_tags(Some(request.tags.into_iter().collect()))
            .customize()
            .config_override(send_once())
            .send()
            .await
            .map_err(|e| from_sdk("DRS StartFailbackLaunch", &e))?;
        resp.job().map(job_of).ok_or_else(|| {
            AwsError::Failed("DRS StartFailbackLaunch answered without a job".into())
        })
    }

    /// [`super::Drs::stop_failback`].
    pub(super) async fn stop_failback_of(
        &self,
        recovery_instance_id: &str,
    ) -> Result<(), AwsError> {
        self.client
            .stop_failback()
            .recovery_instance_id(recovery_instance_id)
            .customize()
            .config_override(send_once())
            .send()
            .await
            .map_err(|e| from_sdk("DRS StopFailback", &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_to_the_models_names_and_back() {
        for s in [
            "FAILBACK_NOT_STARTED",
            "FAILBACK_IN_PROGRESS",
            "FAILBACK_READY_FOR_LAUNCH",
            "FAILBACK_COMPLETED",
            "FAILBACK_ERROR",
            "FAILBACK_NOT_READY_FOR_LAUNCH",
            "FAILBACK_LAUNCH_STATE_NOT_AVAILABLE",
            "SOMETHING_NEW",
        ] {
            assert_eq!(FailbackState::parse(s).as_str(), s);
        }
        assert_eq!(
            FailbackState::parse("SOMETHING_NEW"),
            FailbackState::Other("SOMETHING_NEW".into())
        );
    }

    #[test]
    fn a_summary_names_the_state_the_error_and_the_progress() {
        let f = InstanceFailback {
            state: FailbackState::InProgress,
            job_id: None,
            replication_state: Some("STALLED".into()),
            replication_error: None,
            replicated_bytes: 40,
            total_bytes: 100,
        };
        assert_eq!(
            f.summary(),
            "FAILBACK_IN_PROGRESS (STALLED, 40% replicated)"
        );
        let ready = InstanceFailback {
            state: FailbackState::ReadyForLaunch,
            replication_state: Some("CONTINUOUS".into()),
            replicated_bytes: 100,
            ..f.clone()
        };
        assert_eq!(ready.summary(), "FAILBACK_READY_FOR_LAUNCH");
        let erred = InstanceFailback {
            state: FailbackState::Error,
            replication_error: Some("FAILBACK_CLIENT_NOT_SEEN".into()),
            ..ready
        };
        assert_eq!(erred.summary(), "FAILBACK_ERROR (FAILBACK_CLIENT_NOT_SEEN)");
    }
}
