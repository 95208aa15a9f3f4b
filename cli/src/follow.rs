//! `drs-waves follow`: the live view of an execution.
//!
//! What it reads, whatever the size of the plan (a 1,000-server recovery reads as much as a
//! 6-server drill, but for DescribeJobs' pages):
//! - Step Functions: the execution's new history events (newest first, down to the last one
//!   seen: usually one call), once a second; DescribeExecution at the start and the end.
//! - DynamoDB: the EXECUTION item (gate, cancel, operator actions, status), once a second.
//! - DRS: one DescribeJobs for the job IDs of the waves launching now (a wave's jobs hold up to
//!   200 servers each, so a 1,000-server wave is one call of a few pages), every 2 s at most;
//!   throttling doubles the interval (up to a minute), and the client makes no retries of its
//!   own, so the follower never adds to the throttling the worker meets.
//!
//! A terminal gets a live screen (indicatif: a header, a line per wave, the gate); anything
//! else gets plain lines, a wave's line again only when it changed.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{HistoryEvent, HistoryEventType};
use drs_waves_aws::AwsError;
use drs_waves_aws::drs::{Drs, JobFilter, SdkDrs};
use drs_waves_aws::sfn::HistoryRead;
use drs_waves_history::Executions;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use time::OffsetDateTime;

use crate::aws::Aws;
use crate::error::{self, CliError};
use crate::render;
use crate::resolve::{self, Execution};
use crate::view::{End, Event, View};

const TICK: Duration = Duration::from_secs(1);
const DRS_INTERVAL: Duration = Duration::from_secs(2);
const DRS_MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Consecutive failed reads of the execution's history before `follow` gives up.
const MAX_FAILURES: u32 = 10;

/// Follows to the end; returns the exit status (0 succeeded, 1 failed, 3 cancelled/stopped).
pub async fn follow(aws: &Aws, exec: Execution, plain: bool) -> Result<u8, CliError> {
    let spec = resolve::plan_spec(aws, &exec.machine_arn).await?;
    let mut view = View::new(
        &exec.name,
        &exec.arn,
        &exec.plan,
        exec.started_at,
        spec.as_ref(),
    );
    if let Some(mode) = exec
        .input
        .as_ref()
        .and_then(|i| i["mode"].as_str())
        .and_then(drs_waves_contract::Mode::parse)
    {
        view.mode = Some(mode);
    }
    let mut out = screen(plain, view.waves.len());
    let mut events = EventReader::default();
    let mut drs = Pacer::new(DRS_INTERVAL);
    let mut sfn = Pacer::new(TICK);
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    let mut failures = 0u32;
    loop {
        let tick = Instant::now();
        if sfn.due() {
            match events.read(aws, &exec.arn).await {
                Ok(new) => {
                    failures = 0;
                    sfn.ok();
                    for e in &new {
                        view.apply(e);
                    }
                }
                Err(f) => {
                    // Throttling and passing failures (a dropped connection) back off; what
                    // will not pass (access denied, an execution gone) or lasts ends the follow.
                    let e = error::aws_error("states:GetExecutionHistory", &f);
                    failures += 1;
                    let client_error = f.kind == drs_waves_aws::failure::FailureKind::Service
                        && f.status.is_some_and(|s| s < 500)
                        && !error::is_throttling(&f);
                    let lasting = client_error
                        || matches!(
                            e,
                            CliError::AccessDenied { .. } | CliError::NoCredentials(_)
                        );
                    if lasting || failures > MAX_FAILURES {
                        return Err(e);
                    }
                    sfn.throttled();
                }
            }
        }
        match aws.history.get_execution(&exec.arn).await {
            Ok(Some(r)) => view.apply_record(&r),
            Ok(None) => {}
            Err(e) => {
                let e = error::history(e);
                if matches!(e, CliError::AccessDenied { .. } | CliError::NotFound(_)) {
                    return Err(e);
                }
            }
        }
        if drs.due() {
            let launching = view.launching_jobs();
            if !launching.is_empty() {
                match describe_jobs(aws, &launching).await {
                    Ok(jobs) => {
                        drs.ok();
                        for (index, _) in &launching {
                            view.apply_jobs(*index, &jobs);
                        }
                    }
                    // Throttled or not: the history's counts still move, and a DRS we cannot
                    // read is not the end.
                    Err(_) => drs.throttled(),
                }
            }
        }
        if view.ended {
            if let Some(done) = resolve::describe(aws, &exec.arn).await? {
                let outcome = view.end.as_ref().and_then(|e| e.outcome.clone());
                view.end = Some(End {
                    status: done.status.as_str().to_string(),
                    error: done.error.clone(),
                    cause: done.cause.clone(),
                    at: done.stopped_at,
                    outcome: outcome.or_else(|| {
                        done.output
                            .as_ref()
                            .and_then(|o| o["result"]["outcome"].as_str().map(str::to_string))
                    }),
                });
            }
            if let Ok(Some(r)) = aws.history.get_execution(&exec.arn).await {
                view.apply_record(&r);
            }
            out.draw(&view, OffsetDateTime::now_utc());
            out.finish(&view);
            return Ok(crate::view::exit_code(&view));
        }
        out.draw(&view, OffsetDateTime::now_utc());
        let wait = TICK.saturating_sub(tick.elapsed());
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = &mut interrupted => {
                out.abandon();
                eprintln!(
                    "drs-waves: stopped following; the execution goes on (drs-waves follow {}, drs-waves cancel {})",
                    view.name, view.name
                );
                return Ok(130);
            }
        }
    }
}

/// Reads new history events: newest first, down to the last one seen.
#[derive(Default)]
struct EventReader {
    last_id: i64,
}

impl EventReader {
    async fn read(
        &mut self,
        aws: &Aws,
        arn: &str,
    ) -> Result<Vec<Event>, drs_waves_aws::failure::ServiceFailure> {
        // Newest first, down to the last event seen: usually one page.
        let last_id = self.last_id;
        let read = HistoryRead {
            newest_first: true,
            page_size: 200,
            with_data: true,
            at_most: None,
        };
        let mut fresh =
            drs_waves_aws::sfn::execution_history(&aws.sfn, arn, read, |e| e.id() <= last_id)
                .await?;
        fresh.sort_by_key(HistoryEvent::id);
        if let Some(last) = fresh.last() {
            self.last_id = last.id();
        }
        Ok(fresh.iter().filter_map(event_of).collect())
    }
}

fn event_of(e: &HistoryEvent) -> Option<Event> {
    use HistoryEventType as T;
    match e.r#type() {
        T::ExecutionSucceeded | T::ExecutionFailed | T::ExecutionAborted | T::ExecutionTimedOut => {
            Some(Event::Ended)
        }
        T::ActivityFailed => {
            let d = e.activity_failed_event_details()?;
            Some(Event::TaskFailed {
                error: d.error().unwrap_or_default().to_string(),
                cause: d.cause().unwrap_or_default().to_string(),
            })
        }
        _ => {
            if let Some(d) = e.state_entered_event_details() {
                return Some(Event::StateEntered {
                    name: d.name().to_string(),
                });
            }
            let d = e.state_exited_event_details()?;
            Some(Event::StateExited {
                name: d.name().to_string(),
                output: d.output().map(str::to_string),
            })
        }
    }
}

/// One DescribeJobs (paged) for the launching waves' jobs: job ID -> (server, launchStatus).
/// Any failure only makes the follower back off: the history's counts still move.
async fn describe_jobs(
    aws: &Aws,
    waves: &[(u32, Vec<String>)],
) -> Result<BTreeMap<String, Vec<(String, String)>>, AwsError> {
    let job_ids: Vec<String> = waves.iter().flat_map(|(_, j)| j.iter().cloned()).collect();
    let filter = JobFilter {
        job_ids,
        from_date: None,
    };
    let jobs = SdkDrs::new(aws.drs.clone()).describe_jobs(filter).await?;
    Ok(jobs
        .into_iter()
        .map(|job| {
            let servers = job
                .servers
                .into_iter()
                .map(|s| (s.source_server_id, s.launch_status.as_str().to_string()))
                .collect();
            (job.id, servers)
        })
        .collect())
}

/// At most one call per interval; throttling doubles the interval, success restores it.
struct Pacer {
    base: Duration,
    interval: Duration,
    next: Instant,
}

impl Pacer {
    fn new(base: Duration) -> Pacer {
        Pacer {
            base,
            interval: base,
            next: Instant::now(),
        }
    }

    fn due(&mut self) -> bool {
        if Instant::now() < self.next {
            return false;
        }
        self.next = Instant::now() + self.interval;
        true
    }

    fn ok(&mut self) {
        self.interval = self.base;
    }

    fn throttled(&mut self) {
        self.interval = (self.interval * 2).min(DRS_MAX_BACKOFF);
        self.next = Instant::now() + self.interval;
    }
}

/// Where the follower draws.
/// Plain lines when asked or when stdout is not a terminal, else the live screen.
pub(crate) fn screen(plain: bool, waves: usize) -> Box<dyn Screen> {
    if plain || !std::io::stdout().is_terminal() {
        Box::new(Plain::default())
    } else {
        Box::new(Live::new(waves))
    }
}

/// How `follow` shows a [`View`] (also a DRS recovery plan's execution, `native follow`).
pub(crate) trait Screen {
    fn draw(&mut self, view: &View, now: OffsetDateTime);
    /// The end: the summary.
    fn finish(&mut self, view: &View);
    /// Interrupted: leave what is on screen.
    fn abandon(&mut self);
}

/// Plain lines: the header once, a wave's line when it changed, the gate when it opens.
#[derive(Default)]
pub struct Plain {
    printed: HashMap<String, String>,
    started: bool,
}

impl Plain {
    /// The lines to print for this view (and remembers them).
    pub fn lines(&mut self, view: &View, now: OffsetDateTime) -> Vec<String> {
        let stamp = render::time_of_day(now);
        let mut lines = Vec::new();
        if !self.started {
            self.started = true;
            lines.push(render::header_line(view, now));
        }
        let width = render::name_width(view);
        for w in &view.waves {
            let line = render::wave_line(w, width, now);
            if self.printed.get(&format!("w{}", w.index)) != Some(&line.key()) {
                self.printed.insert(format!("w{}", w.index), line.key());
                lines.push(format!("[{stamp}] {line}"));
            }
        }
        // Each open gate is printed when it opens.
        let gate_lines = render::gate_lines(&view.gates, &view.name, now);
        for (g, line) in view.gates.iter().zip(gate_lines) {
            let key = format!("gate {}", g.key());
            let seen = g.since.clone();
            if self.printed.get(&key) != Some(&seen) {
                self.printed.insert(key, seen);
                lines.push(format!("[{stamp}] {line}"));
            }
        }
        let cancel_key = view
            .cancel
            .as_ref()
            .map(|c| c.at.clone())
            .unwrap_or_default();
        if self.printed.get("cancel") != Some(&cancel_key) {
            self.printed.insert("cancel".into(), cancel_key);
            if let Some(c) = &view.cancel {
                lines.push(format!("[{stamp}] {}", render::cancel_line(c)));
            }
        }
        lines
    }
}

impl Screen for Plain {
    fn draw(&mut self, view: &View, now: OffsetDateTime) {
        let mut stdout = std::io::stdout().lock();
        for line in self.lines(view, now) {
            // A closed stdout (the reader went away) must not stop the follower mid-way.
            let _ = writeln!(stdout, "{line}");
        }
        let _ = stdout.flush();
    }

    fn finish(&mut self, view: &View) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout);
        for line in render::summary(view) {
            let _ = writeln!(stdout, "{line}");
        }
        let _ = stdout.flush();
    }

    fn abandon(&mut self) {}
}

/// The live screen: indicatif lines (header with a spinner, one per wave, the gate).
struct Live {
    multi: MultiProgress,
    header: ProgressBar,
    waves: Vec<ProgressBar>,
    gate: ProgressBar,
}

impl Live {
    fn new(waves: usize) -> Live {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout_with_hz(4));
        let style = |t: &str| {
            ProgressStyle::with_template(t).unwrap_or_else(|_| ProgressStyle::default_spinner())
        };
        let header = multi.add(ProgressBar::new_spinner());
        header.set_style(style("{spinner} {wide_msg}"));
        let waves = (0..waves)
            .map(|_| {
                let b = multi.add(ProgressBar::new(0));
                b.set_style(style("  {wide_msg}"));
                b
            })
            .collect();
        let gate = multi.add(ProgressBar::new(0));
        gate.set_style(style("{wide_msg}"));
        Live {
            multi,
            header,
            waves,
            gate,
        }
    }
}

impl Screen for Live {
    fn draw(&mut self, view: &View, now: OffsetDateTime) {
        while self.waves.len() < view.waves.len() {
            let b = self.multi.insert_before(&self.gate, ProgressBar::new(0));
            b.set_style(
                ProgressStyle::with_template("  {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            self.waves.push(b);
        }
        let lines = render::screen(view, now);
        self.header.set_message(lines[0].clone());
        self.header.tick();
        let width = render::name_width(view);
        for (bar, w) in self.waves.iter().zip(&view.waves) {
            bar.set_length(u64::from(w.counts.total));
            bar.set_position(u64::from(w.counts.launched));
            bar.set_message(render::wave_line(w, width, now).to_string());
        }
        // Every open gate (several when waves run side by side), or the cancel.
        let extra = lines
            .get(1 + view.waves.len()..)
            .map(|rest| rest.join("\n"))
            .unwrap_or_default();
        self.gate.set_message(extra);
    }

    fn finish(&mut self, view: &View) {
        // The live lines become plain text (a progress region still drawn would move the
        // cursor over the summary), then the summary below them.
        let _ = self.multi.clear();
        self.multi.set_draw_target(ProgressDrawTarget::hidden());
        let mut stdout = std::io::stdout().lock();
        for (i, line) in render::screen(view, OffsetDateTime::now_utc())
            .iter()
            .enumerate()
        {
            let indent = if (1..=view.waves.len()).contains(&i) {
                "  "
            } else {
                ""
            };
            let _ = writeln!(stdout, "{indent}{line}");
        }
        let _ = writeln!(stdout);
        for line in render::summary(view) {
            let _ = writeln!(stdout, "{line}");
        }
        let _ = stdout.flush();
    }

    fn abandon(&mut self) {
        self.header.abandon();
        for b in &self.waves {
            b.abandon();
        }
        self.gate.abandon();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drs_waves_contract::{ServerCounts, WaveState, WaveStatus};
    use time::macros::datetime;

    #[test]
    fn throttling_doubles_the_interval_up_to_a_minute_and_success_restores_it() {
        let mut p = Pacer::new(DRS_INTERVAL);
        assert!(p.due(), "the first call goes at once");
        assert!(!p.due(), "at most one call per interval");
        for expected in [4, 8, 16, 32, 60, 60] {
            p.throttled();
            assert_eq!(p.interval, Duration::from_secs(expected));
            assert!(!p.due(), "no call right after throttling");
        }
        p.ok();
        assert_eq!(p.interval, DRS_INTERVAL);
    }

    #[test]
    fn plain_output_prints_a_wave_again_only_when_it_changed() {
        let t0 = datetime!(2026-11-28 10:00:00 UTC);
        let mut view = View::new("drill-1", "arn:x", "billing", t0, None);
        let mut plain = Plain::default();
        let ws = |launched: u32| WaveState {
            wave: "db".into(),
            index: 1,
            status: WaveStatus::Launching,
            job_ids: vec!["drsjob-1".into()],
            started_at: "2026-11-28T10:00:05Z".into(),
            ended_at: String::new(),
            checks: 1,
            next_wait_seconds: 5,
            servers: ServerCounts {
                total: 2,
                launched,
                failed: 0,
                launching: 2 - launched,
                optional_failed: 0,
            },
            reason: String::new(),
            health: None,
            recovered: None,
        };
        view.apply_wave_state(&ws(0));
        let first = plain.lines(&view, t0 + time::Duration::seconds(6));
        assert_eq!(first.len(), 2, "{first:?}");
        assert!(
            first[0].starts_with("? drill-1 of plan billing, started 10:00:00"),
            "{first:?}"
        );
        assert_eq!(
            first[1],
            "[10:00:06] LAUNCHING wave 1 db [........................] 0/2 launched, 0 failed, 2 pending  1s  drsjob-1"
        );
        assert!(
            plain
                .lines(&view, t0 + time::Duration::seconds(7))
                .is_empty(),
            "only the clock moved"
        );
        view.apply_wave_state(&ws(1));
        let next = plain.lines(&view, t0 + time::Duration::seconds(8));
        assert_eq!(next.len(), 1);
        assert!(next[0].contains("1/2 launched"), "{next:?}");
    }
}
