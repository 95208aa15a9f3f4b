//! `start`, `plans`, `status`, `history`, `report`.

use std::path::Path;

use aws_sdk_sfn::types::ExecutionStatus as SfnStatus;
use comfy_table::{Table, presets};
use drs_waves_contract::{Mode, OnFailure, PlanSpec};
use drs_waves_history::{ExecutionRecord, Executions};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::aws::Aws;
use crate::error::{self, CliError};
use crate::render;
use crate::resolve::{self, Plan};

mod confirm;
pub use confirm::{confirm_mode, confirm_phrase, confirm_recovery, execution_input};

pub struct StartArgs {
    pub plan: String,
    pub recovery: bool,
    /// Bring the plan's last RECOVERY home (a FAILBACK).
    pub failback: bool,
    /// The RECOVERY a FAILBACK brings home, when not the plan's last one.
    pub bring_home: Option<String>,
    pub point_in_time: Option<String>,
    pub confirm: Option<String>,
    pub name: Option<String>,
    pub follow: bool,
    pub quiet: bool,
    pub plain: bool,
}

fn table() -> Table {
    let mut t = Table::new();
    t.load_preset(presets::ASCII_BORDERS_ONLY_CONDENSED);
    t
}

/// What a start will launch, wave by wave, from the machine's own plan.
pub fn preview(
    plan: &str,
    mode: Mode,
    spec: Option<&PlanSpec>,
    point_in_time: Option<&PointInTime>,
) -> String {
    let what = match mode {
        Mode::Drill => "launches DRILL instances".to_string(),
        Mode::Recovery => "launches PRODUCTION recovery instances".to_string(),
        Mode::Failback => {
            "brings the last RECOVERY home (StartFailbackLaunch), the waves in reverse order"
                .to_string()
        }
    };
    let from = match point_in_time {
        Some(t) => format!(
            ", every server from its latest snapshot at or before {}",
            t.normalized
        ),
        // The worker's rule (`SourceServer::launches_on_demand`): DRS takes an on-demand
        // snapshot of a healthy server; one that is not healthy uses its latest.
        None => ", each healthy server from the latest data (an on-demand snapshot), any other from its latest snapshot".to_string(),
    };
    let mut out = format!(
        "{} of plan {plan}: {what}{from}, wave by wave:\n",
        mode.as_str()
    );
    if let Some(note) = point_in_time.and_then(PointInTime::rewrite_note) {
        out.push_str(&format!("  {note}\n"));
    }
    let Some(spec) = spec else {
        out.push_str("  (the state machine's definition has no drs-waves plan to show)\n");
        return out;
    };
    let mut t = table();
    t.set_header(vec![
        "#",
        "wave",
        "servers",
        "optional",
        "launch timeout",
        "before",
        "on failure",
    ]);
    for w in &spec.waves {
        let mut servers = Vec::new();
        if !w.server_ids.is_empty() {
            servers.push(w.server_ids.join(" "));
        }
        if !w.tags.is_empty() {
            let tags: Vec<String> = w.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            servers.push(format!("tags {}", tags.join(",")));
        }
        let before = match &w.approval {
            Some(a) => format!("approval ({})", render::clock(u64::from(a.timeout_seconds))),
            None => "-".to_string(),
        };
        let on_failure = match w.on_failure {
            OnFailure::Stop => "stop".to_string(),
            OnFailure::Continue => "continue".to_string(),
            OnFailure::Ask => format!("ask (max {} launches)", w.max_attempts),
        };
        t.add_row(vec![
            w.index.to_string(),
            w.name.clone(),
            servers.join(" + "),
            if w.optional.is_empty() {
                "-".to_string()
            } else {
                w.optional.join(" ")
            },
            render::clock(u64::from(w.launch_timeout_seconds)),
            before,
            on_failure,
        ]);
    }
    out.push_str(&t.to_string());
    out.push('\n');
    out
}

/// `drill-20261128T221500Z-1a2b`.
pub fn default_name(mode: Mode, now: OffsetDateTime) -> String {
    let kind = match mode {
        Mode::Drill => "drill",
        Mode::Recovery => "recovery",
        Mode::Failback => "failback",
    };
    format!(
        "{kind}-{:04}{:02}{:02}T{:02}{:02}{:02}Z-{:04x}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.nanosecond() % 0x10000
    )
}

/// The form of a point in time that the execution input carries, as the operator reads it.
pub const POINT_IN_TIME_FORM: &str = "YYYY-MM-DDTHH:MM:SSZ in UTC, like 2026-11-27T03:00:00Z";

/// A `--point-in-time` as the operator typed it and as the execution input carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointInTime {
    pub typed: String,
    /// RFC 3339 in UTC with an upper-case `T` and `Z`, whole seconds (`2026-11-27T03:00:00Z`).
    /// Step Functions' IsTimestamp (the machine's "Check point in time" state) refuses a
    /// lower-case `t` or `z` on AWS, though RFC 3339 and the local engine accept them; a numeric
    /// offset is turned into the same moment in UTC. Fractional seconds are cut off (never
    /// rounded up, so no snapshot after the moment typed is chosen): the worker looks snapshots
    /// up to the whole second anyway (`format_time` in preflight), and the preview should show
    /// the moment it will use.
    pub normalized: String,
    /// The typed value had a fraction of a second that [`Self::normalized`] leaves out.
    pub fraction_dropped: bool,
}

impl PointInTime {
    /// What the operator should know when the value sent is not the value typed.
    pub fn rewrite_note(&self) -> Option<String> {
        if self.typed == self.normalized {
            return None;
        }
        let mut note = format!(
            "--point-in-time {} is sent as {} (UTC, the form Step Functions accepts)",
            self.typed, self.normalized
        );
        if self.fraction_dropped {
            note.push_str("; the fraction of a second is dropped: snapshots are looked up to the whole second");
        }
        Some(note)
    }
}

/// Checks and normalizes `--point-in-time` (see [`PointInTime::normalized`]): RFC 3339 with any
/// offset and either case of `T` and `Z`, not in the future. Called before any AWS call, so a
/// refused value starts nothing.
pub fn normalize_point_in_time(typed: &str, now: OffsetDateTime) -> Result<PointInTime, CliError> {
    let trimmed = typed.trim();
    // RFC 3339's only letters are the `T` and the `Z`, and it allows either case of both.
    let upper = trimmed.to_ascii_uppercase();
    // The date is always 10 characters; RFC 3339 lets a space stand for the `T`. The time
    // crate's parser takes any character there, so `2026-11-27X03:00:00Z` is refused here.
    let separator_ok = matches!(upper.as_bytes().get(10), Some(b'T' | b' '));
    let at = separator_ok
        .then(|| OffsetDateTime::parse(&upper, &Rfc3339).ok())
        .flatten()
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--point-in-time {typed:?} is not an RFC 3339 time: give it as {POINT_IN_TIME_FORM} (or with an offset, like 2026-11-27T05:00:00+02:00); nothing started"
            ))
        })?;
    let whole_second = at.replace_nanosecond(0).unwrap_or(at);
    let normalized = drs_waves_contract::clock::format_time(whole_second);
    if whole_second > now {
        return Err(CliError::Usage(format!(
            "--point-in-time {typed} ({normalized}) is in the future (now is {}): a recovery can only go back in time; nothing started",
            drs_waves_contract::clock::format_time(now)
        )));
    }
    Ok(PointInTime {
        typed: typed.to_string(),
        normalized,
        fraction_dropped: at.nanosecond() != 0,
    })
}

/// How many past successful executions the forecast before a start learns from.
const FORECAST_EXECUTIONS: usize = 10;

impl StartArgs {
    /// What clap cannot say: `--bring-home` names the RECOVERY of a FAILBACK (clap counts
    /// `--failback`'s default as present for `requires`).
    pub fn check(&self) -> Result<(), CliError> {
        match &self.bring_home {
            Some(r) if !self.failback => Err(CliError::Usage(format!(
                "--bring-home {r} names the RECOVERY a FAILBACK brings home: add --failback; nothing started"
            ))),
            _ => Ok(()),
        }
    }
}

pub async fn start(aws: &Aws, a: StartArgs) -> Result<u8, CliError> {
    a.check()?;
    let now = OffsetDateTime::now_utc();
    // Before the first AWS call: a value Step Functions would refuse starts nothing.
    let point_in_time = a
        .point_in_time
        .as_deref()
        .map(|t| normalize_point_in_time(t, now))
        .transpose()?;
    let plan = resolve::find_plan(aws, &a.plan).await?;
    let deployed = resolve::deployed_plan(aws, &plan.machine_arn).await?;
    let (spec, rpo_seconds) = (deployed.spec, deployed.rpo_seconds);
    let terminates = a.failback && deployed.failback.stop_and_terminate;
    let mode = if a.failback {
        Mode::Failback
    } else if a.recovery {
        Mode::Recovery
    } else {
        Mode::Drill
    };
    if !a.quiet {
        print!(
            "{}",
            preview(&plan.name, mode, spec.as_ref(), point_in_time.as_ref())
        );
        if terminates {
            println!(
                "At its end (after every wave's verdict) this FAILBACK STOPS and TERMINATES the recovery instances that came home \
                 (the plan's failback.stopAndTerminate): the recovery region keeps nothing to fall back to."
            );
        }
        // How long the plan took before (the same figures the report shows): what to tell the
        // business before a recovery starts. A history that cannot be read never stops one.
        match drs_waves_report::forecast(&aws.history, &plan.name, FORECAST_EXECUTIONS).await {
            Ok(f) => print!("{}", drs_waves_report::render::forecast_text(&f)),
            Err(e) => println!("RTO forecast: not available ({e})"),
        }
        // A FAILBACK launches from the data replicated back: no recovery point to check.
        if let (Some(spec), Some(rpo), false) = (spec.as_ref(), rpo_seconds, a.failback) {
            let at = point_in_time.as_ref().map(|t| t.normalized.as_str());
            print!(
                "{}",
                crate::rpo_check::rpo_check(aws, spec, mode, rpo, at, now).await
            );
        }
    }
    if matches!(mode, Mode::Recovery | Mode::Failback) {
        confirm_mode(
            &confirm_phrase(&plan.name, terminates),
            mode,
            a.confirm.as_deref(),
        )?;
    }
    let by = aws.caller_arn().await?;
    let name = a.name.clone().unwrap_or_else(|| default_name(mode, now));
    let mut input = execution_input(mode, &plan.name, point_in_time.as_ref(), &by);
    input.recovery = a.bring_home.clone();
    let input = serde_json::to_string(&input)
        .map_err(|e| CliError::Other(format!("encoding the input: {e}")))?;
    let started = aws
        .sfn
        .start_execution()
        .state_machine_arn(&plan.machine_arn)
        .name(&name)
        .input(input)
        .send()
        .await
        .map_err(|e| {
            let f = error::failure(&e);
            match f.code.as_deref() {
                Some("ExecutionAlreadyExists") => CliError::Usage(format!(
                    "an execution named {name} already exists: choose another --name"
                )),
                Some("InvalidName") => CliError::Usage(format!(
                    "{name:?} is not a valid execution name (letters, digits, '-' and '_', at most 80)"
                )),
                _ => error::aws_error("states:StartExecution", &f),
            }
        })?;
    let arn = started.execution_arn().to_string();
    if a.quiet {
        println!("{arn}");
        return Ok(0);
    }
    println!(
        "Started {} {name} of plan {} by {by}",
        mode.as_str(),
        plan.name
    );
    println!("  {arn}");
    if let Some(t) = &point_in_time {
        println!(
            "  every server from its latest snapshot at or before {}",
            t.normalized
        );
    }
    if !a.follow {
        println!("Follow it: drs-waves follow {name}");
        return Ok(0);
    }
    let exec = resolve::describe(aws, &arn).await?.ok_or_else(|| {
        CliError::NotFound(format!("the execution {arn} just started is not found"))
    })?;
    crate::follow::follow(aws, exec, a.plain).await
}

fn time_text(t: Option<OffsetDateTime>) -> String {
    t.map(drs_waves_rules::format_time)
        .unwrap_or_else(|| "-".into())
}

async fn record(aws: &Aws, arn: &str) -> Result<Option<ExecutionRecord>, CliError> {
    aws.history.get_execution(arn).await.map_err(error::history)
}

/// `drs-waves plans`.
pub async fn plans(aws: &Aws) -> Result<(), CliError> {
    let plans = resolve::list_plans(aws).await?;
    if plans.is_empty() {
        return Err(resolve::unknown_plan(&aws.prefix, "", &plans)).map_err(|_| {
            CliError::NotFound(format!(
                "no plan is deployed with the prefix {:?} (no state machine named {}-<plan>); set --prefix or DRS_WAVES_PREFIX",
                aws.prefix, aws.prefix
            ))
        });
    }
    let mut t = table();
    t.set_header(vec![
        "plan",
        "last execution",
        "mode",
        "status",
        "started",
        "by",
    ]);
    for p in &plans {
        let row = last_execution_row(aws, p).await?;
        let mut cells = vec![p.name.clone()];
        cells.extend(row);
        t.add_row(cells);
    }
    println!("{t}");
    Ok(())
}

async fn last_execution_row(aws: &Aws, p: &Plan) -> Result<Vec<String>, CliError> {
    let page = aws
        .sfn
        .list_executions()
        .state_machine_arn(&p.machine_arn)
        .max_results(1)
        .send()
        .await
        .map_err(|e| error::sdk("states:ListExecutions", &e))?;
    let Some(last) = page.executions().first() else {
        return Ok(vec![
            "never run".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
        ]);
    };
    let rec = record(aws, last.execution_arn()).await?;
    Ok(vec![
        last.name().to_string(),
        rec.as_ref()
            .and_then(|r| r.mode)
            .map_or("-", |m| m.as_str())
            .to_string(),
        status_text(last.status(), rec.as_ref()),
        time_text(Some(resolve::to_time(last.start_date()))),
        rec.and_then(|r| r.started_by).unwrap_or_else(|| "-".into()),
    ])
}

/// The recorded status once final (CANCELLED, STOPPED, SUCCEEDED_WITH_FAILURES), else Step
/// Functions'.
fn status_text(sfn: &SfnStatus, rec: Option<&ExecutionRecord>) -> String {
    match rec.map(|r| r.status) {
        Some(s) if s.is_final() => s.as_str().to_string(),
        _ => sfn.as_str().to_string(),
    }
}

/// `drs-waves status [PLAN]`: what runs now, where it is, what it waits for.
pub async fn status(aws: &Aws, plan: Option<&str>) -> Result<(), CliError> {
    let plans = match plan {
        Some(p) => vec![resolve::find_plan(aws, p).await?],
        None => resolve::list_plans(aws).await?,
    };
    let mut t = table();
    t.set_header(vec![
        "plan",
        "execution",
        "mode",
        "started",
        "by",
        "now",
        "waiting for",
    ]);
    let mut running = 0;
    for p in &plans {
        let page = aws
            .sfn
            .list_executions()
            .state_machine_arn(&p.machine_arn)
            .status_filter(SfnStatus::Running)
            .max_results(100)
            .send()
            .await
            .map_err(|e| error::sdk("states:ListExecutions", &e))?;
        for e in page.executions() {
            running += 1;
            let rec = record(aws, e.execution_arn()).await?;
            let state = resolve::current_state(aws, e.execution_arn()).await?;
            // Every open gate, one line each (waves side by side may wait at several).
            let waiting = rec
                .as_ref()
                .map(|r| render::gate_lines(&r.pending_gates, e.name(), OffsetDateTime::now_utc()))
                .filter(|lines| !lines.is_empty())
                .map(|lines| {
                    lines
                        .iter()
                        .map(|l| l.trim_start_matches(">> "))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .or_else(|| {
                    rec.as_ref()
                        .and_then(|r| r.cancel_requested.as_ref())
                        .map(render::cancel_line)
                })
                .unwrap_or_else(|| "-".into());
            t.add_row(vec![
                p.name.clone(),
                e.name().to_string(),
                rec.as_ref()
                    .and_then(|r| r.mode)
                    .map_or("-", |m| m.as_str())
                    .to_string(),
                time_text(Some(resolve::to_time(e.start_date()))),
                rec.as_ref()
                    .and_then(|r| r.started_by.clone())
                    .unwrap_or_else(|| "-".into()),
                state.unwrap_or_else(|| "-".into()),
                waiting.trim_start_matches(">> ").to_string(),
            ]);
        }
    }
    if running == 0 {
        match plan {
            Some(p) => {
                let last = last_execution_row(aws, &plans[0]).await?;
                println!(
                    "nothing of plan {p} is running; its last execution: {} ({} {}, started {})",
                    last[0], last[1], last[2], last[3]
                );
            }
            None => println!("nothing is running ({} plans deployed)", plans.len()),
        }
        return Ok(());
    }
    println!("{t}");
    Ok(())
}

/// `drs-waves history PLAN`: its recent executions from the history table.
pub async fn history(aws: &Aws, plan: &str, limit: usize) -> Result<(), CliError> {
    let p = resolve::find_plan(aws, plan).await?;
    let runs = aws
        .history
        .recent_executions(&p.name, limit)
        .await
        .map_err(error::history)?;
    if runs.is_empty() {
        println!(
            "plan {plan} has no execution in the history table {}",
            aws.table
        );
        return Ok(());
    }
    let mut t = table();
    t.set_header(vec![
        "execution",
        "mode",
        "status",
        "started",
        "took",
        "by",
        "waves",
        "operators",
        "why",
    ]);
    for r in &runs {
        let took = match (
            drs_waves_rules::parse_time(&r.started_at),
            r.ended_at.as_deref().and_then(drs_waves_rules::parse_time),
        ) {
            (Some(s), Some(e)) => {
                render::clock(u64::try_from((e - s).whole_seconds()).unwrap_or(0))
            }
            _ => "-".into(),
        };
        let waves: Vec<String> = r
            .wave_statuses
            .iter()
            .map(|(w, s)| format!("{w} {}", s.as_str()))
            .collect();
        let operators: Vec<String> = r.operator_actions.iter().map(render::action_line).collect();
        t.add_row(vec![
            r.execution_name.clone(),
            r.mode.map_or("-", |m| m.as_str()).to_string(),
            r.status.as_str().to_string(),
            r.started_at.clone(),
            took,
            r.started_by.clone().unwrap_or_else(|| "-".into()),
            if waves.is_empty() {
                "-".into()
            } else {
                waves.join(", ")
            },
            if operators.is_empty() {
                "-".into()
            } else {
                operators.join("; ")
            },
            r.error.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    println!("{t}");
    Ok(())
}

/// `drs-waves report EXECUTION -o DIR`: report.html and report.json of one execution (the
/// report crate, as the worker's end-of-run report builds it).
pub async fn report(aws: &Aws, execution: &str, out_dir: &Path) -> Result<(), CliError> {
    let exec = resolve::execution(aws, execution).await?;
    // The report reads DRS once, not in a loop: the SDK's own retries are welcome here.
    let drs = aws_sdk_drs::Client::from_conf(
        aws.drs
            .config()
            .to_builder()
            .retry_config(aws_config::retry::RetryConfig::standard())
            .build(),
    );
    let apis = drs_waves_report::SdkEvidenceApis::new(aws.sfn.clone(), drs);
    let report = drs_waves_report::report_of(
        &aws.history,
        &aws.table,
        &apis,
        &exec.arn,
        OffsetDateTime::now_utc(),
    )
    .await
    .map_err(|e| {
        CliError::Other(format!(
            "the report of {}: {}",
            exec.name,
            error::one_line(&e.to_string())
        ))
    })?;
    let page = drs_waves_report::write(&report, out_dir).map_err(|e| {
        CliError::Other(format!("writing the report to {}: {e}", out_dir.display()))
    })?;
    println!("{}", page.display());
    Ok(())
}

#[cfg(test)]
mod tests;
