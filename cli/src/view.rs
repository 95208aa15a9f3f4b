//! What `follow` knows about an execution, built from the machine's plan, the execution's
//! history events, the history table's EXECUTION item and batched DescribeJobs. Pure: the
//! follower feeds it, the renderer reads it, and the tests drive it without AWS.

use std::collections::BTreeMap;

use drs_waves_contract::states::{self, ActionStep, WaveStep};
use drs_waves_contract::{
    ExecutionStatus, HealthStatus, Mode, OperatorAction, PendingGate, PlanSpec, ServerCounts,
    WaveSpec, WaveState, WaveStatus,
};
use drs_waves_history::ExecutionRecord;
use drs_waves_rules::parse_time;
use time::OffsetDateTime;

/// Where a wave stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Pending,
    AwaitingApproval,
    Launching,
    Succeeded,
    Failed,
    AwaitingDecision,
    Skipped,
    /// The execution ended while the wave was launching (cancelled, stopped, failed elsewhere).
    Interrupted,
    /// The execution ended before the wave started.
    NotRun,
    /// Launched; its health checks run (the plan's `health`).
    Checking,
    /// In the plan's pause before the wave (`pauseBeforeMinutes`).
    Paused,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Pending => "PENDING",
            Phase::AwaitingApproval => "APPROVE?",
            Phase::Launching => "LAUNCHING",
            Phase::Succeeded => "SUCCEEDED",
            Phase::Failed => "FAILED",
            Phase::AwaitingDecision => "DECIDE?",
            Phase::Skipped => "SKIPPED",
            Phase::Interrupted => "INTERRUPTED",
            Phase::NotRun => "NOT RUN",
            Phase::Checking => "CHECKING",
            Phase::Paused => "PAUSED",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaveView {
    pub index: u32,
    pub name: String,
    /// What the plan selects: "2 servers by ID", "tags App=billing,Tier=web".
    pub selection: String,
    pub launch_timeout_seconds: u32,
    pub max_attempts: u32,
    pub phase: Phase,
    pub counts: ServerCounts,
    /// When the current launch started, and ended.
    pub started_at: Option<OffsetDateTime>,
    pub ended_at: Option<OffsetDateTime>,
    pub job_ids: Vec<String>,
    pub reason: String,
    /// Where a wave of another account or region launches (`111111111111 eu-west-1`); None for
    /// the worker's own account and region.
    pub account: Option<String>,
    /// In a plan whose waves form a graph: what the wave waits for, in words ("after db,
    /// search", "at once"); None for a plan whose waves run in order.
    pub waits_for: Option<String>,
    /// The wave's latest action (`before 1 (fail over database): running`, `...: done`,
    /// `...: failed: <error>: <cause>`); None before its first.
    pub action: Option<String>,
    /// Where its health checks stand, in words ("checks 1/2 passed, round 3"); None for a wave
    /// whose checks have not begun or that has none.
    pub health: Option<String>,
    /// How many health checks the plan gives the wave.
    pub health_checks: usize,
}

impl WaveView {
    pub fn new(index: u32, name: &str) -> WaveView {
        WaveView {
            index,
            name: name.to_string(),
            selection: String::new(),
            launch_timeout_seconds: 0,
            max_attempts: 1,
            phase: Phase::Pending,
            counts: ServerCounts::default(),
            started_at: None,
            ended_at: None,
            job_ids: Vec::new(),
            reason: String::new(),
            account: None,
            waits_for: None,
            action: None,
            health: None,
            health_checks: 0,
        }
    }

    /// The wave of `plan`, with what it waits for when the plan is a graph.
    pub fn of_plan(plan: &PlanSpec, w: &WaveSpec) -> WaveView {
        let waits_for = plan.is_graph().then(|| {
            let names: Vec<&str> = plan
                .dependencies(w.index)
                .into_iter()
                .filter_map(|d| plan.waves.iter().find(|o| o.index == d))
                .map(|o| o.name.as_str())
                .collect();
            if names.is_empty() {
                "at once".to_owned()
            } else {
                format!("after {}", names.join(", "))
            }
        });
        WaveView {
            waits_for,
            ..WaveView::of_spec(w)
        }
    }

    pub fn of_spec(w: &WaveSpec) -> WaveView {
        WaveView {
            selection: selection(w),
            launch_timeout_seconds: w.launch_timeout_seconds,
            max_attempts: w.max_attempts,
            account: w
                .account
                .as_ref()
                .map(drs_waves_contract::WaveAccount::describe),
            health_checks: w.health.len(),
            ..WaveView::new(w.index, &w.name)
        }
    }

    /// PENDING or IN_PROGRESS servers.
    /// Shows `counts` read now (a check's, or DescribeJobs' own): while the wave launches,
    /// what a reader saw launched or failed never goes back. The sources lag each other (a
    /// check's counts are older than the live DescribeJobs read before them), and a server
    /// that launched stays launched; the verdict's counts, once the wave has one, stand as
    /// they are. An operator's retry starts the failed count again ([`Self::relaunch`]).
    pub fn show_counts(&mut self, counts: ServerCounts) {
        if self.phase != Phase::Launching {
            self.counts = counts;
            return;
        }
        let total = counts.total.max(self.counts.total);
        let launched = counts.launched.max(self.counts.launched);
        let failed = counts.failed.max(self.counts.failed);
        self.counts = ServerCounts {
            total,
            launched,
            failed,
            launching: total.saturating_sub(launched + failed),
            optional_failed: counts.optional_failed.max(self.counts.optional_failed),
        };
    }

    /// A new launch of the wave (its first, or an operator's retry): the servers it launches
    /// again no longer count as failed.
    fn relaunch(&mut self) {
        self.counts.launching += self.counts.failed;
        self.counts.failed = 0;
    }

    pub fn pending(&self) -> u32 {
        self.counts
            .total
            .saturating_sub(self.counts.launched + self.counts.failed)
    }
}

/// What a wave selects, in words.
pub fn selection(w: &WaveSpec) -> String {
    let mut parts = Vec::new();
    if !w.server_ids.is_empty() {
        let n = w.server_ids.len();
        parts.push(format!("{n} server{} by ID", if n == 1 { "" } else { "s" }));
    }
    if !w.tags.is_empty() {
        let tags: Vec<String> = w.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.push(format!("tags {}", tags.join(",")));
    }
    if !w.optional.is_empty() {
        parts.push(format!("{} optional", w.optional.len()));
    }
    parts.join(" + ")
}

/// `before 1 (fail over database)`: an action as the wave's line names it.
fn action_label(a: &states::ActionStateName<'_>) -> String {
    let label = a.label.map(|l| format!(" ({l})")).unwrap_or_default();
    format!("{} {}{label}", a.phase.word(), a.position)
}

/// How the execution ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct End {
    /// Step Functions' status: SUCCEEDED, FAILED, ABORTED, TIMED_OUT.
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub at: Option<OffsetDateTime>,
    /// The result's outcome (SUCCEEDED_WITH_FAILURES) when it finished.
    pub outcome: Option<String>,
}

/// One history event, reduced to what the follower reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    StateEntered {
        name: String,
    },
    /// A state's output (the whole execution state: `waves.w<i>` after a start or check).
    StateExited {
        name: String,
        output: Option<String>,
    },
    TaskFailed {
        error: String,
        cause: String,
    },
    /// ExecutionSucceeded/Failed/Aborted/TimedOut.
    Ended,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub name: String,
    pub arn: String,
    pub plan: String,
    pub mode: Option<Mode>,
    pub started_at: OffsetDateTime,
    pub started_by: Option<String>,
    /// The state it is in now (the latest StateEntered).
    pub state: Option<String>,
    pub waves: Vec<WaveView>,
    pub gates: Vec<PendingGate>,
    pub cancel: Option<OperatorAction>,
    pub actions: Vec<OperatorAction>,
    /// The history record's status (CANCELLED, STOPPED, ... once it ended).
    pub recorded: Option<ExecutionStatus>,
    /// Servers resolved at preflight (all waves).
    pub server_count: Option<u32>,
    pub last_task_failure: Option<(String, String)>,
    pub ended: bool,
    pub end: Option<End>,
}

impl View {
    pub fn new(
        name: &str,
        arn: &str,
        plan: &str,
        started_at: OffsetDateTime,
        spec: Option<&PlanSpec>,
    ) -> View {
        View {
            name: name.to_string(),
            arn: arn.to_string(),
            plan: plan.to_string(),
            mode: None,
            started_at,
            started_by: None,
            state: None,
            waves: spec
                .map(|p| p.waves.iter().map(|w| WaveView::of_plan(p, w)).collect())
                .unwrap_or_default(),
            gates: Vec::new(),
            cancel: None,
            actions: Vec::new(),
            recorded: None,
            server_count: None,
            last_task_failure: None,
            ended: false,
            end: None,
        }
    }

    pub fn wave_mut(&mut self, index: u32, name: &str) -> &mut WaveView {
        let pos = match self.waves.iter().position(|w| w.index == index) {
            Some(p) => p,
            None => {
                self.waves.push(WaveView::new(index, name));
                self.waves.sort_by_key(|w| w.index);
                self.waves
                    .iter()
                    .position(|w| w.index == index)
                    .unwrap_or_default()
            }
        };
        &mut self.waves[pos]
    }

    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::StateEntered { name } => {
                self.state = Some(name.clone());
                if let Some(a) = states::parse_action(name) {
                    let what = action_label(&a);
                    let w = self.wave_mut(a.index, a.wave);
                    match a.step {
                        ActionStep::Run => w.action = Some(format!("{what}: running")),
                        ActionStep::Failed
                            if !w.action.as_deref().is_some_and(|s| s.contains(": failed")) =>
                        {
                            w.action = Some(format!("{what}: failed"));
                        }
                        _ => {}
                    }
                }
                // A FAILBACK's waves (`Failback wave 3 web: start`) follow as a launch's do.
                if let Some(state) =
                    states::parse_wave(name).or_else(|| states::parse_failback_wave(name))
                {
                    let w = self.wave_mut(state.index, state.wave);
                    match state.step {
                        WaveStep::Approve => w.phase = Phase::AwaitingApproval,
                        WaveStep::Pause => w.phase = Phase::Paused,
                        WaveStep::Start if w.phase != Phase::Launching => {
                            w.phase = Phase::Launching;
                            w.relaunch();
                            w.ended_at = None;
                            w.reason.clear();
                        }
                        WaveStep::Decide => w.phase = Phase::AwaitingDecision,
                        WaveStep::HealthBegin | WaveStep::HealthCheck
                            if w.phase != Phase::Checking =>
                        {
                            w.phase = Phase::Checking;
                            w.reason.clear();
                        }
                        WaveStep::Skipped => w.phase = Phase::Skipped,
                        _ => {}
                    }
                }
            }
            Event::StateExited { name, output } => {
                if let Some(a) = states::parse_action(name)
                    && a.step == ActionStep::Run
                {
                    let what = action_label(&a);
                    let w = self.wave_mut(a.index, a.wave);
                    if w.action.as_deref() == Some(&format!("{what}: running")) {
                        w.action = Some(format!("{what}: done"));
                    }
                }
                let Some(output) = output else { return };
                let Ok(state) = serde_json::from_str::<serde_json::Value>(output) else {
                    return;
                };
                if name == states::PREFLIGHT {
                    let run = &state["run"];
                    self.server_count = run["serverCount"].as_u64().map(|n| n as u32);
                    if let Some(m) = run["mode"].as_str().and_then(Mode::parse) {
                        self.mode = Some(m);
                    }
                }
                if let Some(wave_state) =
                    states::parse_wave(name).or_else(|| states::parse_failback_wave(name))
                    && matches!(
                        wave_state.step,
                        WaveStep::Start | WaveStep::Check | WaveStep::HealthCheck
                    )
                    && let Some(ws) = state["waves"].get(format!("w{}", wave_state.index))
                    && let Ok(ws) = serde_json::from_value::<WaveState>(ws.clone())
                {
                    self.apply_wave_state(&ws);
                }
                if name == states::FINISH
                    && let Some(outcome) = state["result"]["outcome"].as_str()
                {
                    let end = self.end.get_or_insert_with(|| End {
                        status: String::new(),
                        error: None,
                        cause: None,
                        at: None,
                        outcome: None,
                    });
                    end.outcome = Some(outcome.to_string());
                }
            }
            Event::TaskFailed { error, cause } => {
                self.last_task_failure = Some((error.clone(), cause.clone()));
                if let Some(a) = self.state.clone().as_deref().and_then(states::parse_action) {
                    let what = action_label(&a);
                    let cause: String = cause.chars().take(200).collect();
                    self.wave_mut(a.index, a.wave).action =
                        Some(format!("{what}: failed: {error}: {cause}"));
                }
            }
            Event::Ended => {
                self.ended = true;
                for w in &mut self.waves {
                    w.phase = match w.phase {
                        Phase::Pending | Phase::Paused | Phase::AwaitingApproval => Phase::NotRun,
                        Phase::AwaitingDecision => Phase::Failed,
                        other => other,
                    };
                }
            }
        }
    }

    pub fn apply_wave_state(&mut self, ws: &WaveState) {
        let w = self.wave_mut(ws.index, &ws.wave);
        w.phase = match ws.status {
            WaveStatus::Launching => Phase::Launching,
            WaveStatus::Succeeded => Phase::Succeeded,
            WaveStatus::Failed => Phase::Failed,
            WaveStatus::Skipped => Phase::Skipped,
            WaveStatus::Interrupted => Phase::Interrupted,
        };
        w.show_counts(ws.servers);
        w.job_ids = ws.job_ids.clone();
        w.started_at = parse_time(&ws.started_at).or(w.started_at);
        w.ended_at = if ws.ended_at.is_empty() {
            None
        } else {
            parse_time(&ws.ended_at)
        };
        w.reason = ws.reason.clone();
        w.health = ws.health.as_ref().map(|h| {
            let total = w.health_checks;
            match h.status {
                HealthStatus::Checking => {
                    w.phase = Phase::Checking;
                    format!(
                        "checks {}/{total} passed, round {}",
                        h.passed.len(),
                        h.rounds
                    )
                }
                HealthStatus::Healthy => format!("healthy: {total} check(s) passed"),
                HealthStatus::Failed => format!(
                    "checks failed: {}/{total} passed in {} round(s)",
                    h.passed.len(),
                    h.rounds
                ),
            }
        });
    }

    /// The history record: gate, cancel, actions, who started it, the recorded status.
    pub fn apply_record(&mut self, r: &ExecutionRecord) {
        self.gates = r.pending_gates.clone();
        self.cancel = r.cancel_requested.clone();
        self.actions = r.operator_actions.clone();
        self.started_by = r.started_by.clone().or(self.started_by.take());
        self.mode = r.mode.or(self.mode);
        self.recorded = Some(r.status);
        if r.server_count > 0 {
            self.server_count = Some(r.server_count);
        }
        for w in &mut self.waves {
            if r.wave_statuses.get(&w.name) == Some(&WaveStatus::Skipped) {
                w.phase = Phase::Skipped;
            }
        }
    }

    /// Live launch statuses from DescribeJobs for a launching wave: per job (in the order the
    /// wave made them), each server's launchStatus. A server in several jobs (a retry) counts
    /// by its latest job.
    pub fn apply_jobs(&mut self, index: u32, jobs: &BTreeMap<String, Vec<(String, String)>>) {
        let Some(w) = self.waves.iter_mut().find(|w| w.index == index) else {
            return;
        };
        if w.phase != Phase::Launching {
            return;
        }
        let mut latest: BTreeMap<&str, &str> = BTreeMap::new();
        for job in &w.job_ids {
            for (server, status) in jobs.get(job).into_iter().flatten() {
                latest.insert(server, status);
            }
        }
        if latest.is_empty() {
            return;
        }
        let launched = latest.values().filter(|s| **s == "LAUNCHED").count() as u32;
        let failed = latest.values().filter(|s| **s == "FAILED").count() as u32;
        let total = w.counts.total.max(latest.len() as u32);
        w.show_counts(ServerCounts {
            total,
            launched,
            failed,
            launching: total.saturating_sub(launched + failed),
            ..w.counts
        });
    }

    /// Job IDs of the waves launching now (what the follower asks DRS about).
    pub fn launching_jobs(&self) -> Vec<(u32, Vec<String>)> {
        self.waves
            .iter()
            // A wave of another account's jobs are in that account's DRS, which the operator's
            // credentials do not read: its counts come from the history's checks.
            .filter(|w| w.phase == Phase::Launching && !w.job_ids.is_empty() && w.account.is_none())
            .map(|w| (w.index, w.job_ids.clone()))
            .collect()
    }

    /// The status to show: the recorded one once final (CANCELLED, STOPPED), else Step
    /// Functions'.
    pub fn final_status(&self) -> String {
        match (self.recorded, &self.end) {
            (Some(r), _) if r.is_final() => r.as_str().to_string(),
            (_, Some(e)) if !e.status.is_empty() => {
                if e.status == "SUCCEEDED"
                    && let Some(o) = &e.outcome
                {
                    return o.clone();
                }
                e.status.clone()
            }
            _ => "RUNNING".to_string(),
        }
    }
}

/// The exit status of `follow`: 0 succeeded, 1 failed, 3 cancelled or stopped (by an operator,
/// or StopExecution).
pub fn exit_code(view: &View) -> u8 {
    let end = view.end.as_ref();
    let status = end.map(|e| e.status.as_str()).unwrap_or("");
    let error = end.and_then(|e| e.error.as_deref()).unwrap_or("");
    if matches!(
        view.recorded,
        Some(ExecutionStatus::Cancelled | ExecutionStatus::Stopped)
    ) || error == drs_waves_contract::ErrorName::Cancelled.as_str()
        || error == drs_waves_contract::ErrorName::StoppedByOperator.as_str()
        || status == "ABORTED"
    {
        return 3;
    }
    if status == "SUCCEEDED" { 0 } else { 1 }
}
