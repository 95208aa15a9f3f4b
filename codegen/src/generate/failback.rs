//! The way home (a FAILBACK, issue #27): after preflight, `Which way?` sends a FAILBACK to
//! the plan's waves in `failback.order`, by default the reverse of the plan's (the web tier
//! leaves the recovery region first, the databases last), one after another whatever
//! `dependsOn` says. Each wave has the states of the way out under the way home's names
//! (`Failback wave 3 web: approve?`): its approval gate, a start / wait / check loop over the
//! same activities as a launch (the worker reads the run's mode: the start task calls
//! StartFailbackLaunch for the wave's recovery instances, the check judges the job and each
//! instance's failback state), its verdict and `onFailure` (an operator's decision: retry
//! brings home the servers not home yet), and the actions that list FAILBACK in their
//! `modes`. No pause and no health checks: those are the recovered application's.

use serde_json::{Value, json};

use super::{Generator, names};
use crate::asl::{Choice, ChoiceRule, Condition, States, Transition, Wait, WaitDuration};
use crate::contract::states::{ActionPhase, WaveStep, Way};
use crate::contract::{Activity, Mode, WaveSpec, paths};

impl Generator<'_> {
    /// `Which way?` and the way home; `forward` is the first state of the plan's own order.
    pub(super) fn failback_path(&self, states: &mut States, forward: &str) {
        let waves: Vec<&WaveSpec> = self
            .plan
            .failback_order
            .iter()
            .filter_map(|i| self.plan.spec.waves.iter().find(|w| w.index == *i))
            .collect();
        let home = waves
            .first()
            .map_or_else(|| names::FINISH.to_owned(), |w| self.failback_entry(w));
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
            let after = waves
                .get(k + 1)
                .map_or_else(|| names::FINISH.to_owned(), |w| self.failback_entry(w));
            self.failback_wave(states, wave, &after);
        }
    }

    /// One wave's way home: the `before` actions that list FAILBACK, the wave's approval gate,
    /// start / wait / check, the verdict with the wave's `onFailure` (an operator's decision
    /// included), then the `after` actions that list FAILBACK. The same states as the way out
    /// (`wave.rs`, `actions.rs`), under the way home's names.
    fn failback_wave(&self, states: &mut States, wave: &WaveSpec, after: &str) {
        let home = Generator {
            way: Way::Home,
            ..self.clone()
        };
        home.action_chain(states, wave, ActionPhase::Before, &home.wave_start(wave));
        home.approval_gate(states, wave);
        home.failback_loop(states, wave);
        let succeeded = home.actions_entry(wave, ActionPhase::After, after);
        home.verdict(states, wave, &succeeded, after);
        home.action_chain(states, wave, ActionPhase::After, after);
    }

    /// The way home's first state of a wave: its first FAILBACK `before` action, its gate or
    /// its start.
    fn failback_entry(&self, wave: &WaveSpec) -> String {
        let home = Generator {
            way: Way::Home,
            ..self.clone()
        };
        home.actions_entry(wave, ActionPhase::Before, &home.wave_start(wave))
    }

    /// Start (StartFailbackLaunch), wait, check.
    fn failback_loop(&self, states: &mut States, wave: &WaveSpec) {
        let i = wave.index;
        let name = |step| self.wave_state(wave, step);
        let state_path = paths::wave_state(i);
        let wave_value = serde_json::to_value(wave).unwrap_or(Value::Null);
        states.push(
            name(WaveStep::Start),
            self.task(
                Activity::StartWave,
                format!(
                    "Brings wave {i} home: StartFailbackLaunch for the recovery instances the RECOVERY launched for it, in jobs of \
                     at most the per-job limit (after an operator's retry, those not home yet). The job IDs are written to \
                     {state_path}.jobIds and to the history table."
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
    }
}
