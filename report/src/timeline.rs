//! The timeline's geometry: a band per wave, a bar per server from its launch start to LAUNCHED
//! or FAILED (a large wave: a bar per outcome over its servers, see [`groups`]), the targets as
//! vertical lines. Pure numbers; the template draws them as SVG.

use serde::Serialize;
use time::OffsetDateTime;

use crate::build::{human_seconds, parse_time, seconds_between};
use crate::model::{Report, ServerFacts, WaveFacts};

mod groups;
pub use groups::{SERVER_ROWS_IN_ALL, SERVER_ROWS_PER_WAVE, per_server_rows, thousands};

/// The SVG's coordinate system (its viewBox); the page scales it to its width.
pub const WIDTH: f64 = 1000.0;
pub const PLOT_LEFT: f64 = 200.0;
pub const PLOT_RIGHT: f64 = 980.0;
pub const AXIS_HEIGHT: f64 = 24.0;
pub const BAND_HEADER: f64 = 20.0;
pub const ROW: f64 = 18.0;
pub const BAR: f64 = 12.0;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    pub width: f64,
    pub height: f64,
    pub plot_left: f64,
    pub plot_right: f64,
    /// Seconds from the execution's start to the right edge.
    pub span_seconds: u64,
    pub ticks: Vec<Tick>,
    pub bands: Vec<Band>,
    pub bars: Vec<Bar>,
    pub targets: Vec<TargetLine>,
    pub markers: Vec<Marker>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tick {
    pub x: f64,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Band {
    pub y: f64,
    pub height: f64,
    pub label: String,
    pub shaded: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bar {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub label_y: f64,
    /// launched, failed, running or pending (no launch yet).
    pub class: &'static str,
    pub label: String,
    /// The tooltip.
    pub title: String,
    /// How many servers the bar stands for: 1, or a large wave's servers of this outcome.
    pub servers: u32,
    /// A large wave's bar of one outcome (see [`groups`]), not one server's.
    pub group: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetLine {
    pub x: f64,
    pub y1: f64,
    pub y2: f64,
    pub label: String,
    pub label_y: f64,
    /// Past the right edge, where it is drawn (its label says so).
    pub off_scale: bool,
}

/// A moment on the timeline: the end (or now), and each operator action.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Marker {
    pub x: f64,
    pub label: String,
    /// `end` or `operator`.
    pub class: &'static str,
    /// The tooltip.
    pub title: String,
}

/// Seconds from `start`, by a time in the report.
fn offset(start: OffsetDateTime, t: Option<&str>) -> Option<u64> {
    t.and_then(parse_time).map(|t| seconds_between(start, t))
}

/// A tick step that gives at most 8 ticks over `span` seconds.
pub fn tick_step(span: u64) -> u64 {
    const STEPS: [u64; 16] = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 43_200,
    ];
    STEPS
        .into_iter()
        .find(|s| span / s <= 8)
        .unwrap_or(86_400 * span.div_ceil(86_400 * 8))
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// The timeline of a report; `now` ends the bars of servers still launching.
pub fn layout(report: &Report, now: OffsetDateTime) -> Timeline {
    let scale = Scale::of(report, now);
    let mut y = AXIS_HEIGHT;
    let mut bands = Vec::new();
    let mut bars = Vec::new();
    let mut targets = Vec::new();
    for (k, w) in report.waves.iter().enumerate() {
        let band = wave_band(report, &scale, k, w, y);
        targets.extend(band.target);
        bars.extend(band.bars);
        y += band.band.height;
        bands.push(band.band);
    }
    targets.extend(plan_target(report, &scale, y));
    Timeline {
        width: WIDTH,
        height: y + 8.0,
        plot_left: PLOT_LEFT,
        plot_right: PLOT_RIGHT,
        span_seconds: scale.span,
        ticks: ticks(&scale),
        bands,
        bars,
        targets,
        markers: markers(report, &scale),
    }
}

/// The horizontal scale: seconds from the execution's start to x in the viewBox.
struct Scale {
    start: OffsetDateTime,
    /// Seconds from the start to the execution's end, or to now while it runs.
    end: u64,
    /// Seconds from the start to the right edge; at least 1.
    span: u64,
}

impl Scale {
    /// Wide enough for the execution, every server's launch and the targets within reach.
    fn of(report: &Report, now: OffsetDateTime) -> Self {
        let start = parse_time(&report.execution.started_at).unwrap_or(now);
        let end = offset(start, report.execution.ended_at.as_deref())
            .unwrap_or_else(|| seconds_between(start, now));
        let mut span = end;
        for s in &report.servers {
            span = span.max(offset(start, s.launch_ended_at.as_deref()).unwrap_or(0));
        }
        // A target far past what happened would squeeze the bars into a sliver: the scale
        // stretches to a target up to twice the execution's span; a later one is drawn at the
        // right edge, marked off scale.
        let reach = span.max(1) * 2;
        for t in report
            .rto
            .target_seconds
            .into_iter()
            .chain(report.waves.iter().filter_map(|w| w.rto.target_seconds))
            .filter(|t| *t <= reach)
        {
            span = span.max(t);
        }
        Self {
            start,
            end,
            span: span.max(1),
        }
    }

    /// Seconds from the start, by a time in the report.
    fn offset(&self, t: Option<&str>) -> Option<u64> {
        offset(self.start, t)
    }

    /// Where `secs` from the start is drawn.
    fn x(&self, secs: u64) -> f64 {
        let plot = PLOT_RIGHT - PLOT_LEFT;
        round1(PLOT_LEFT + plot * secs as f64 / self.span as f64)
    }

    /// A target's vertical line from `y1` to `y2`, at the right edge when past it.
    fn target_line(&self, what: String, t: u64, y1: f64, y2: f64, label_y: f64) -> TargetLine {
        let off_scale = t > self.span;
        TargetLine {
            x: self.x(t.min(self.span)),
            y1,
            y2,
            label: if off_scale {
                format!("{what} {} (off scale) \u{2192}", human_seconds(t))
            } else {
                what
            },
            label_y,
            off_scale,
        }
    }
}

/// The axis's ticks, from 0 to the right edge.
fn ticks(scale: &Scale) -> Vec<Tick> {
    let step = tick_step(scale.span);
    (0..=scale.span / step)
        .map(|k| Tick {
            x: scale.x(k * step),
            label: if k == 0 {
                "0".into()
            } else {
                human_seconds(k * step)
            },
        })
        .collect()
}

/// One wave's part of the timeline: its band, its RTO target, a bar per server.
struct WaveBand {
    band: Band,
    target: Option<TargetLine>,
    bars: Vec<Bar>,
}

/// The band of the `k`th wave, its top at `y`: a row per server (one, empty, when it has none),
/// or, for a large wave, a row per outcome of its servers.
fn wave_band(report: &Report, scale: &Scale, k: usize, w: &WaveFacts, y: f64) -> WaveBand {
    let servers: Vec<&ServerFacts> = report
        .servers
        .iter()
        .filter(|s| s.wave_index == w.index)
        .collect();
    let top = y + BAND_HEADER;
    let (bars, count): (Vec<Bar>, String) = if per_server_rows(report.servers.len(), servers.len())
    {
        let bars = servers
            .iter()
            .enumerate()
            .map(|(r, s)| server_bar(scale, s, top + ROW * r as f64))
            .collect();
        (bars, String::new())
    } else {
        let bars = groups::outcome_bars(scale, w, &servers, top);
        (
            bars,
            format!(": {} servers", groups::thousands(servers.len())),
        )
    };
    let height = BAND_HEADER + ROW * bars.len().max(1) as f64;
    let account = w
        .account
        .as_ref()
        .map(|a| format!(", in {}", a.describe()))
        .unwrap_or_default();
    WaveBand {
        band: Band {
            y,
            height,
            label: format!(
                "Wave {} {} ({}){}{account}{count}",
                w.index,
                w.name,
                w.status,
                waited_for(w)
            ),
            shaded: k.is_multiple_of(2),
        },
        target: w.rto.target_seconds.map(|t| {
            scale.target_line(format!("wave {} RTO", w.index), t, y, y + height, y + 12.0)
        }),
        bars,
    }
}

/// In a graph's report, what a wave's band says it waited for: the branches read off the
/// bands, side by side waves overlapping in time.
fn waited_for(w: &WaveFacts) -> String {
    match w.waits_for.as_deref() {
        None => String::new(),
        Some([]) => ", started at once".to_owned(),
        Some(deps) => {
            let list: Vec<String> = deps.iter().map(u32::to_string).collect();
            let noun = if deps.len() == 1 { "wave" } else { "waves" };
            format!(", after {noun} {}", list.join(" and "))
        }
    }
}

/// A server's bar in the row at `row_y`: from its launch's start to LAUNCHED or FAILED (or the
/// end while it launches); a server not launched yet is a sliver at the end.
fn server_bar(scale: &Scale, s: &ServerFacts, row_y: f64) -> Bar {
    let (class, from, to) = launch_span(scale, s);
    let label = s
        .hostname
        .clone()
        .unwrap_or_else(|| s.source_server_id.clone());
    Bar {
        x: scale.x(from),
        y: round1(row_y + (ROW - BAR) / 2.0),
        // Visible even when it took no time on this scale.
        width: round1((scale.x(to) - scale.x(from)).max(2.0)),
        label_y: round1(row_y + ROW / 2.0 + 4.0),
        class,
        title: format!(
            "{label} ({}{}): {} {}",
            s.source_server_id,
            if s.required { "" } else { ", optional" },
            s.launch_status,
            match class {
                "pending" => "not launched yet".to_owned(),
                _ => format!("from +{} to +{}", human_seconds(from), human_seconds(to)),
            }
        ),
        label,
        servers: 1,
        group: false,
    }
}

/// A server's outcome (launched, failed, running or pending) and its launch's span in seconds
/// from the start: to LAUNCHED or FAILED, to the end while it launches, a point at the end
/// before it starts.
fn launch_span(scale: &Scale, s: &ServerFacts) -> (&'static str, u64, u64) {
    let end = scale.end;
    let from = scale.offset(s.launch_started_at.as_deref());
    let to = scale.offset(s.launch_ended_at.as_deref());
    match (s.launch_status.as_str(), from, to) {
        ("FAILED", Some(f), t) => ("failed", f, t.unwrap_or(end).max(f)),
        ("LAUNCHED" | "TERMINATED", Some(f), t) => ("launched", f, t.unwrap_or(end).max(f)),
        (_, Some(f), _) => ("running", f, end.max(f)),
        _ => ("pending", end, end),
    }
}

/// The plan's RTO target: a line across every band, down to `bottom`.
fn plan_target(report: &Report, scale: &Scale, bottom: f64) -> Option<TargetLine> {
    let t = report.rto.target_seconds?;
    Some(scale.target_line(
        "plan RTO".into(),
        t,
        AXIS_HEIGHT - 6.0,
        bottom,
        AXIS_HEIGHT - 8.0,
    ))
}

/// The end (or now, while it runs), then each operator action whose time reads.
fn markers(report: &Report, scale: &Scale) -> Vec<Marker> {
    let end = Marker {
        x: scale.x(scale.end),
        label: if report.execution.running {
            "now (running)".into()
        } else {
            "end".into()
        },
        class: "end",
        title: String::new(),
    };
    let operator_actions = report.operator_actions.iter().filter_map(|a| {
        let at = scale.offset(Some(&a.at))?;
        let wave = a
            .wave_index
            .map(|i| format!(" wave {i}"))
            .unwrap_or_default();
        Some(Marker {
            x: scale.x(at.min(scale.span)),
            label: format!("{}{wave}", a.action),
            class: "operator",
            title: format!("{}{wave} by {} at {}", a.action, a.by, a.at),
        })
    });
    std::iter::once(end).chain(operator_actions).collect()
}
