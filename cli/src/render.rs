//! Text of `follow` (and the other commands' lines), pure: the same lines feed the live screen
//! (indicatif) and the plain output (stdout not a terminal).

use drs_waves_contract::{GateKind, OperatorAction, PendingGate};
use drs_waves_rules::parse_time;
use time::OffsetDateTime;

use crate::view::{Phase, View, WaveView};

/// Width of a wave's progress bar, in characters.
pub const BAR_WIDTH: usize = 24;

/// `[====xx..........]`: launched `=`, failed `x`, pending `.`; proportional, at least one
/// character for any non-zero part.
pub fn bar(launched: u32, failed: u32, total: u32, width: usize) -> String {
    if total == 0 {
        return format!("[{}]", " ".repeat(width));
    }
    let scale = |n: u32| -> usize {
        if n == 0 {
            0
        } else {
            ((n as usize * width) / total as usize).max(1)
        }
    };
    let mut l = scale(launched);
    let mut f = scale(failed);
    while l + f > width {
        if l >= f { l -= 1 } else { f -= 1 }
    }
    // Everything settled: no pending cell left by rounding.
    if launched + failed >= total && l + f < width {
        if launched >= failed {
            l = width - f
        } else {
            f = width - l
        }
    }
    format!(
        "[{}{}{}]",
        "=".repeat(l),
        "x".repeat(f),
        ".".repeat(width - l - f)
    )
}

/// `42s`, `3:05`, `1:02:03`.
pub fn clock(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else if m > 0 {
        format!("{m}:{s:02}")
    } else {
        format!("{s}s")
    }
}

fn secs_between(from: OffsetDateTime, to: OffsetDateTime) -> u64 {
    u64::try_from((to - from).whole_seconds()).unwrap_or(0)
}

/// `HH:MM:SS` (UTC).
pub fn time_of_day(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// `drsjob-a, drsjob-b +3`.
pub fn jobs(ids: &[String], shown: usize) -> String {
    let mut s = ids
        .iter()
        .take(shown)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > shown {
        s.push_str(&format!(" +{}", ids.len() - shown));
    }
    s
}

/// One wave's line, in parts: everything but `time` is stable while nothing changes (the plain
/// output prints a line again only when those parts change).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaveLine {
    pub head: String,
    pub body: String,
    pub time: String,
    pub tail: String,
}

impl WaveLine {
    pub fn key(&self) -> String {
        format!("{}|{}|{}", self.head, self.body, self.tail)
    }
}

impl std::fmt::Display for WaveLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = format!("{} {}", self.head, self.body);
        if !self.time.is_empty() {
            s.push_str("  ");
            s.push_str(&self.time);
        }
        if !self.tail.is_empty() {
            s.push_str("  ");
            s.push_str(&self.tail);
        }
        f.write_str(s.trim_end())
    }
}

pub fn wave_line(w: &WaveView, name_width: usize, now: OffsetDateTime) -> WaveLine {
    let head = format!(
        "{:<9} wave {} {:<width$}",
        w.phase.label(),
        w.index,
        w.name,
        width = name_width
    );
    let c = &w.counts;
    let started = w.started_at.is_some() || c.total > 0;
    let body = if started {
        let mut b = format!(
            "{} {}/{} launched, {} failed, {} pending",
            bar(c.launched, c.failed, c.total, BAR_WIDTH),
            c.launched,
            c.total,
            c.failed,
            w.pending()
        );
        if c.optional_failed > 0 {
            b.push_str(&format!(" ({} optional failed)", c.optional_failed));
        }
        b
    } else {
        format!("{} {}", bar(0, 0, 0, BAR_WIDTH), w.selection)
    };
    let time = match w.started_at {
        Some(start) => {
            let until = w.ended_at.unwrap_or(now);
            let elapsed = clock(secs_between(start, until));
            if w.launch_timeout_seconds > 0 {
                format!("{elapsed} / {}", clock(u64::from(w.launch_timeout_seconds)))
            } else {
                elapsed
            }
        }
        None if w.launch_timeout_seconds > 0 => {
            format!("timeout {}", clock(u64::from(w.launch_timeout_seconds)))
        }
        None => String::new(),
    };
    let mut tail = jobs(&w.job_ids, 2);
    if let Some(account) = &w.account {
        tail = if tail.is_empty() {
            format!("in {account}")
        } else {
            format!("in {account}  {tail}")
        };
    }
    // A graph's waves run side by side: a wave not started says what it waits for.
    if let Some(waits) = w.waits_for.as_ref().filter(|_| !started) {
        tail = if tail.is_empty() {
            waits.clone()
        } else {
            format!("{waits}  {tail}")
        };
    }
    if let Some(health) = &w.health {
        if !tail.is_empty() {
            tail.push_str("  ");
        }
        tail.push_str(health);
    }
    if matches!(w.phase, Phase::Failed | Phase::AwaitingDecision) && !w.reason.is_empty() {
        if !tail.is_empty() {
            tail.push_str("  ");
        }
        tail.push_str(&w.reason);
    }
    // The wave's latest action (before or after it), as it runs, and what a failed one said.
    if let Some(action) = &w.action {
        if !tail.is_empty() {
            tail.push_str("  ");
        }
        tail.push_str(action);
    }
    WaveLine {
        head,
        body,
        time,
        tail,
    }
}

/// The gate line: what it waits for, since when, until when, and the commands that answer it.
pub fn gate_line(g: &PendingGate, execution: &str, now: OffsetDateTime) -> String {
    gate_line_with(g, execution, now, "")
}

/// One line per open gate ([`gate_line`]); when there are several, their commands say
/// `--wave <index>` (the CLI refuses to guess which).
pub fn gate_lines(gates: &[PendingGate], execution: &str, now: OffsetDateTime) -> Vec<String> {
    gates
        .iter()
        .map(|g| {
            let flag = if gates.len() > 1 {
                format!(" --wave {}", g.wave_index)
            } else {
                String::new()
            };
            gate_line_with(g, execution, now, &flag)
        })
        .collect()
}

fn gate_line_with(g: &PendingGate, execution: &str, now: OffsetDateTime, flag: &str) -> String {
    let since = parse_time(&g.since);
    let until = parse_time(&g.timeout_at);
    let waited = since
        .map(|s| clock(secs_between(s, now)))
        .unwrap_or_default();
    let mut left = until
        .map(|u| format!(", times out in {}", clock(secs_between(now, u))))
        .unwrap_or_default();
    if g.reopened > 0 {
        // The history's record of the re-opening: the operator's answer goes to the new token.
        left.push_str(&format!(
            ", re-opened {}x after its token was lost",
            g.reopened
        ));
    }
    match g.kind {
        GateKind::Approval => format!(
            ">> wave {} {} waits for approval ({waited}{left}): drs-waves approve {execution}{flag}  |  drs-waves stop {execution}{flag}",
            g.wave_index, g.wave_name
        ),
        GateKind::Decision if g.action.is_some() => format!(
            ">> {} failed ({}): decide ({waited}{left}): drs-waves decide {execution} retry|skip|stop{flag}",
            g.action.as_deref().unwrap_or_default(),
            g.reason
        ),
        GateKind::Decision => format!(
            ">> wave {} {} failed ({}); launch {} of {}: decide ({waited}{left}): drs-waves decide {execution} retry|skip|stop{flag}",
            g.wave_index, g.wave_name, g.reason, g.attempts, g.max_attempts
        ),
    }
}

/// The first line: the execution, its plan and mode, who started it, how long it runs.
pub fn header_line(v: &View, now: OffsetDateTime) -> String {
    let mode = v.mode.map(|m| m.as_str()).unwrap_or("?");
    let by = v
        .started_by
        .as_deref()
        .map(|b| format!(" by {b}"))
        .unwrap_or_default();
    let servers = v
        .server_count
        .map(|n| format!(", {n} servers"))
        .unwrap_or_default();
    let state = v
        .state
        .as_deref()
        .map(|s| format!("  [{s}]"))
        .unwrap_or_default();
    format!(
        "{} {} of plan {}{servers}, started {}{by}, {} {}{state}",
        mode,
        v.name,
        v.plan,
        time_of_day(v.started_at),
        v.final_status(),
        clock(secs_between(
            v.started_at,
            v.end.as_ref().and_then(|e| e.at).unwrap_or(now)
        )),
    )
}

pub fn cancel_line(a: &OperatorAction) -> String {
    format!(
        ">> cancel requested by {} at {}: the next task takes the cancel path",
        a.by, a.at
    )
}

pub fn action_line(a: &OperatorAction) -> String {
    let wave = match (a.wave_index, &a.wave_name) {
        (Some(i), Some(n)) => format!(" wave {i} {n}"),
        _ => String::new(),
    };
    format!("{}{wave} by {} at {}", a.action.as_str(), a.by, a.at)
}

/// The longest wave name (to align the lines).
pub fn name_width(v: &View) -> usize {
    v.waves
        .iter()
        .map(|w| w.name.chars().count())
        .max()
        .unwrap_or(0)
}

/// The lines of the live screen (header, waves, every open gate or the cancel).
pub fn screen(v: &View, now: OffsetDateTime) -> Vec<String> {
    let width = name_width(v);
    let mut lines = vec![header_line(v, now)];
    lines.extend(v.waves.iter().map(|w| wave_line(w, width, now).to_string()));
    if !v.gates.is_empty() {
        lines.extend(gate_lines(&v.gates, &v.name, now));
    } else if let Some(c) = &v.cancel
        && !v.ended
    {
        lines.push(cancel_line(c));
    }
    lines
}

/// The summary printed when the execution has ended.
pub fn summary(v: &View) -> Vec<String> {
    let end = v.end.as_ref();
    let until = end.and_then(|e| e.at);
    let took = until
        .map(|u| format!(" in {}", clock(secs_between(v.started_at, u))))
        .unwrap_or_default();
    let mode = v.mode.map(|m| m.as_str()).unwrap_or("execution");
    let mut lines = vec![format!(
        "{mode} {} of plan {}: {}{took}",
        v.name,
        v.plan,
        v.final_status()
    )];
    let width = name_width(v);
    for w in &v.waves {
        let c = &w.counts;
        let took = match (w.started_at, w.ended_at) {
            (Some(s), Some(e)) => clock(secs_between(s, e)),
            _ => "-".to_string(),
        };
        let counts = if w.started_at.is_some() || c.total > 0 {
            format!("{}/{} launched, {} failed", c.launched, c.total, c.failed)
        } else {
            "-".to_string()
        };
        let mut line = format!(
            "  wave {} {:<width$}  {:<9}  {counts:<22}  {:>7}  {}",
            w.index,
            w.name,
            w.phase.label(),
            took,
            if w.job_ids.is_empty() {
                "no job".to_string()
            } else {
                w.job_ids.join(", ")
            },
        );
        if matches!(w.phase, Phase::Failed) && !w.reason.is_empty() {
            line.push_str(&format!("  ({})", w.reason));
        }
        lines.push(line.trim_end().to_string());
    }
    if let Some(by) = &v.started_by {
        lines.push(format!("started by {by}"));
    }
    for a in &v.actions {
        lines.push(format!("operator: {}", action_line(a)));
    }
    if let Some(e) = end
        && e.status != "SUCCEEDED"
        && let Some(error) = &e.error
    {
        let cause = e.cause.as_deref().unwrap_or("");
        lines.push(format!("{error}: {}", crate::error::one_line(cause)));
    }
    lines.push(format!("exit {}", crate::view::exit_code(v)));
    lines
}

#[cfg(test)]
mod tests;
