//! Test-only fault points: the end-to-end tests kill the worker at the moments a retried task
//! must survive. They exist only with the `test-util` feature (as tokio keeps its test helpers):
//! without it [`Faults`] is an empty type whose [`Faults::hit`] does nothing, and the shipped
//! binary carries neither the fault points nor the name of the variable that arms them.

use crate::error::TaskError;

/// The environment variable that turns a fault point on (test-util builds only).
#[cfg(any(test, feature = "test-util"))]
pub const FAULT_ENV: &str = "DRS_WAVES_TEST_FAULT";

/// Exit code of a process stopped by a fault point.
pub const FAULT_EXIT_CODE: i32 = 86;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// Right after StartRecovery returned, before the history write.
    ExitAfterStartRecovery,
    /// After the history write, before the task is answered.
    ExitAfterHistoryWrite,
    /// After a chunk's job is recorded, before the next chunk of the wave is sent.
    ExitBetweenChunks,
    /// A gate's (await-operator) first task is taken and then neither recorded nor answered:
    /// its token is lost, as when a GetActivityTask answer is dropped or the worker dies
    /// between the poll and the history write. The worker goes on running.
    DropFirstGateToken,
}

impl FaultPoint {
    pub const ALL: [FaultPoint; 4] = [
        FaultPoint::ExitAfterStartRecovery,
        FaultPoint::ExitAfterHistoryWrite,
        FaultPoint::ExitBetweenChunks,
        FaultPoint::DropFirstGateToken,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultPoint::ExitAfterStartRecovery => "exit-after-start-recovery",
            FaultPoint::ExitAfterHistoryWrite => "exit-after-history-write",
            FaultPoint::ExitBetweenChunks => "exit-between-chunks",
            FaultPoint::DropFirstGateToken => "drop-first-gate-token",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        FaultPoint::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// What a fault point does when reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// Exit the process at once, answering nothing (as `DRS_WAVES_TEST_FAULT` does).
    Exit,
    /// Fail the task with a Transient error (in-process tests, where exiting would end the test).
    Fail,
}

#[cfg(any(test, feature = "test-util"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Faults {
    armed: Option<(FaultPoint, FaultAction)>,
}

/// Without `test-util`: no fault can be armed.
#[cfg(not(any(test, feature = "test-util")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Faults;

#[cfg(not(any(test, feature = "test-util")))]
impl Faults {
    pub fn none() -> Self {
        Faults
    }

    pub fn is_armed(&self) -> bool {
        false
    }

    pub fn hit(&self, _point: FaultPoint) -> Result<(), TaskError> {
        Ok(())
    }

    pub fn drops(&self, _point: FaultPoint) -> bool {
        false
    }
}

#[cfg(any(test, feature = "test-util"))]
impl Faults {
    pub fn none() -> Self {
        Faults::default()
    }

    pub fn armed(point: FaultPoint, action: FaultAction) -> Self {
        Faults {
            armed: Some((point, action)),
        }
    }

    /// Reads `DRS_WAVES_TEST_FAULT`; unset or empty means no fault.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var(FAULT_ENV) {
            Ok(v) if !v.trim().is_empty() => match FaultPoint::parse(v.trim()) {
                Some(p) => Ok(Faults::armed(p, FaultAction::Exit)),
                None => Err(format!(
                    "{FAULT_ENV}={v:?} is not a fault point; use one of: {}",
                    FaultPoint::ALL.map(FaultPoint::name).join(", ")
                )),
            },
            _ => Ok(Faults::none()),
        }
    }

    pub fn is_armed(&self) -> bool {
        self.armed.is_some()
    }

    /// Whether a fault point that drops something (rather than exiting or failing) is armed.
    pub fn drops(&self, point: FaultPoint) -> bool {
        self.armed.is_some_and(|(p, _)| p == point)
    }

    /// Called at each fault point.
    pub fn hit(&self, point: FaultPoint) -> Result<(), TaskError> {
        match self.armed {
            Some((p, FaultAction::Exit)) if p == point => {
                eprintln!(
                    "drs-worker: test fault point {} reached: exiting",
                    point.name()
                );
                std::process::exit(FAULT_EXIT_CODE);
            }
            Some((p, FaultAction::Fail)) if p == point => Err(TaskError::transient(
                "test fault point",
                format!("{} reached", point.name()),
            )),
            _ => Ok(()),
        }
    }
}
