//! The way home (a FAILBACK, issue #27): after preflight, `Which way?` sends a FAILBACK to
//! the plan's waves in `failback.order`, by default the reverse of the plan's (the web tier
//! leaves the recovery region first, the databases last), one after another whatever
//! `dependsOn` says. Each wave is a start / wait
//! / check loop over the same activities as a launch (the worker reads the run's mode: the
//! start task calls StartFailbackLaunch for the wave's recovery instances, the check judges
//! the job and each instance's failback state), its verdict, and the wave's `onFailure`
//! (`ask` stops here: the way home has no gates or decisions yet).

use serde_json::{Value, json};

use super::{Generator, names};
use crate::asl::{Choice, ChoiceRule, Condition, Pass, States, Transition, Wait, WaitDuration};
use crate::contract::states::WaveStep;
use crate::contract::{Activity, ErrorName, Mode, OnFailure, WaveSpec, WaveStatus, paths};

impl Generator<'_> {
    /// `Which way?` and the way home; `forward` is the first state of the plan's own order.
    pub(super) fn failback_path(&self, states: &mut States, forward: &str) {
        let waves: Vec<&WaveSpec> = self
            .plan
            .failback_order
            .iter()
            .filter_map(|i| self.plan.spec.waves.iter().find(|w| w.index == *i))
            .collect();
        let home = waves.first().map_or_else(
            || names::FINISH.to_owned(),
            |w| names::failback_wave(w.index, &w.name, WaveStep::Start),
        );
        states.push(
            names::WHICH_WAY,
            Choice {
                comment: Some(format!(
                    "A {} brings the last RECOVERY home, its waves in reverse order; anything else runs the plan's waves.",
                    Mode::Failback.as_str()
                )),
                choices: vec![ChoiceRule::new(
                    Condition::string_equals(paths::RUN_MODE, Mode::Failback.as_str()),
                    home,
                )],
                default: Some(forward.to_owned()),
            },
        );
        for (k, wave) in waves.iter().enumerate() {
            let after = waves.get(k + 1).map_or_else(
                || names::FINISH.to_owned(),
                |w| names::failback_wave(w.index, &w.name, WaveStep::Start),
            );
            self.failback_wave(states, wave, &after);
        }
    }

    /// One wave's way home: start, wait, check, done?, failed.
    fn failback_wave(&self, states: &mut States, wave: &WaveSpec, after: &str) {
        let (i, n) = (wave.index, wave.name.as_str());
        let name = |step| names::failback_wave(i, n, step);
        let state_path = paths::wave_state(i);
        let wave_value = serde_json::to_value(wave).unwrap_or(Value::Null);
        states.push(
            name(WaveStep::Start),
            self.task(
                Activity::StartWave,
                format!(
                    "Brings wave {i} home: StartFailbackLaunch for the recovery instances the RECOVERY launched for it, in jobs of \
                     at most the per-job limit. The job IDs are written to {state_path}.jobIds and to the history table."
                ),
                json!({
                    "run.$": paths::RUN,
                    "wave": wave_value,
                    "heartbeatSeconds": self.plan.heartbeat_seconds,
                }),
                state_path.clone(),
                name(WaveStep::Wait),
            ),
        );
        states.push(
            name(WaveStep::Wait),
            Wait {
                comment: Some("Waits as long as the last check asked.".into()),
                duration: WaitDuration::SecondsPath(paths::wave_next_wait_seconds(i)),
                transition: Transition::next(name(WaveStep::Check)),
            },
        );
        states.push(
            name(WaveStep::Check),
            self.task(
                Activity::CheckWave,
                format!(
                    "DescribeJobs for wave {i}'s failback jobs and DescribeRecoveryInstances: SUCCEEDED once every required \
                     server's recovery instance is FAILBACK_COMPLETED; FAILED on FAILBACK_ERROR, a FAILED launch or after {} s.",
                    wave.launch_timeout_seconds
                ),
                json!({
                    "run.$": paths::RUN,
                    "wave": wave_value,
                    "state.$": state_path,
                    "heartbeatSeconds": self.plan.heartbeat_seconds,
                }),
                state_path,
                name(WaveStep::Done),
            ),
        );
        let failed = name(WaveStep::Failed);
        let on_failed = match wave.on_failure {
            OnFailure::Continue => after.to_owned(),
            OnFailure::Stop | OnFailure::Ask => failed.clone(),
        };
        let status = paths::wave_status(i);
        states.push(
            name(WaveStep::Done),
            Choice {
                comment: Some(format!(
                    "Still coming home: wait and check again. Home: go on to {after:?}."
                )),
                choices: vec![
                    ChoiceRule::new(
                        Condition::string_equals(&status, WaveStatus::Launching.as_str()),
                        name(WaveStep::Wait),
                    ),
                    ChoiceRule::new(
                        Condition::string_equals(&status, WaveStatus::Succeeded.as_str()),
                        after,
                    ),
                    ChoiceRule::new(
                        Condition::string_equals(&status, WaveStatus::Failed.as_str()),
                        on_failed,
                    ),
                ],
                default: Some(failed.clone()),
            },
        );
        states.push(
            failed,
            Pass {
                comment: Some(format!(
                    "Wave {i} did not come home (the cause says why); the failure is recorded and the execution stops."
                )),
                parameters: Some(json!({
                    "Error": ErrorName::WaveFailed.as_str(),
                    "Cause.$": paths::wave_reason(i),
                })),
                result: None,
                result_path: Some(paths::ERROR.to_owned()),
                transition: Transition::next(self.failure.clone()),
            },
        );
    }
}
