//! What the fault configuration does to a call: before it (throttling, 500s, latency) and
//! after it was carried out (answered 500, or left without an answer).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{AfterCommit, FAULT_SALT, FaultDecision, SimState};
use crate::config::FaultConfig;
use crate::wire::ApiError;

impl SimState {
    pub fn set_faults(&mut self, faults: FaultConfig) {
        if let Some(seed) = faults.seed {
            self.fault_rng = StdRng::seed_from_u64(seed ^ FAULT_SALT);
        }
        self.faults = faults;
    }

    /// Decides what the fault configuration does to one call of `operation`.
    pub fn decide_fault(&mut self, operation: &str) -> FaultDecision {
        let retry_after = self.faults.retry_after_seconds;
        let spec = match self.faults.per_operation.get_mut(operation) {
            Some(spec) => spec,
            None => &mut self.faults.all,
        };
        let error = if spec.access_denied {
            Some(ApiError::access_denied())
        } else if spec.uninitialized_account {
            Some(ApiError::uninitialized_account())
        } else if spec.throttle_next > 0 {
            spec.throttle_next -= 1;
            Some(ApiError::throttling(retry_after))
        } else if spec.error_next > 0 {
            spec.error_next -= 1;
            Some(ApiError::internal())
        } else if spec.throttle_fraction > 0.0 && self.fault_rng.random_bool(spec.throttle_fraction)
        {
            Some(ApiError::throttling(retry_after))
        } else if spec.error_fraction > 0.0 && self.fault_rng.random_bool(spec.error_fraction) {
            Some(ApiError::internal())
        } else {
            None
        };
        FaultDecision {
            latency_ms: spec.latency_ms,
            error,
        }
    }

    /// Decides whether a call that has just been carried out is answered after all: an
    /// `errorAfterCommit*` fault answers 500, a `dropAfterCommit*` fault closes the
    /// connection without an answer. Counted here.
    pub fn decide_after_commit(&mut self, operation: &str) -> Option<AfterCommit> {
        let spec = match self.faults.per_operation.get_mut(operation) {
            Some(spec) => spec,
            None => &mut self.faults.all,
        };
        let fault = if spec.error_after_commit_next > 0 {
            spec.error_after_commit_next -= 1;
            Some(AfterCommit::Error)
        } else if spec.drop_after_commit_next > 0 {
            spec.drop_after_commit_next -= 1;
            Some(AfterCommit::Drop)
        } else if spec.error_after_commit_fraction > 0.0
            && self.fault_rng.random_bool(spec.error_after_commit_fraction)
        {
            Some(AfterCommit::Error)
        } else if spec.drop_after_commit_fraction > 0.0
            && self.fault_rng.random_bool(spec.drop_after_commit_fraction)
        {
            Some(AfterCommit::Drop)
        } else {
            None
        };
        match fault {
            Some(AfterCommit::Error) => self.counters.record_error_after_commit(operation),
            Some(AfterCommit::Drop) => self.counters.record_drop_after_commit(operation),
            None => {}
        }
        fault
    }
}
