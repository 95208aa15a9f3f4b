//! The timeline's geometry: a band per wave, a bar per server from its launch start to LAUNCHED
//! or FAILED, the targets as vertical lines. Pure numbers; the template draws them as SVG.

use serde::Serialize;
use time::OffsetDateTime;

use crate::build::{human_seconds, parse_time, seconds_between};
use crate::model::Report;

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
    let span = span.max(1);
    let target_label = |what: String, t: u64| {
        if t > span {
            format!("{what} {} (off scale) \u{2192}", human_seconds(t))
        } else {
            what
        }
    };
    let plot = PLOT_RIGHT - PLOT_LEFT;
    let x = |secs: u64| round1(PLOT_LEFT + plot * secs as f64 / span as f64);

    let step = tick_step(span);
    let ticks = (0..=span / step)
        .map(|k| Tick {
            x: x(k * step),
            label: if k == 0 {
                "0".into()
            } else {
                human_seconds(k * step)
            },
        })
        .collect();

    let mut y = AXIS_HEIGHT;
    let mut bands = Vec::new();
    let mut bars = Vec::new();
    let mut targets = Vec::new();
    for (k, w) in report.waves.iter().enumerate() {
        let rows: Vec<_> = report
            .servers
            .iter()
            .filter(|s| s.wave_index == w.index)
            .collect();
        let height = BAND_HEADER + ROW * rows.len().max(1) as f64;
        bands.push(Band {
            y,
            height,
            label: format!("Wave {} {} ({})", w.index, w.name, w.status),
            shaded: k % 2 == 0,
        });
        if let Some(t) = w.rto.target_seconds {
            targets.push(TargetLine {
                x: x(t.min(span)),
                y1: y,
                y2: y + height,
                label: target_label(format!("wave {} RTO", w.index), t),
                label_y: y + 12.0,
                off_scale: t > span,
            });
        }
        for (r, s) in rows.iter().enumerate() {
            let row_y = y + BAND_HEADER + ROW * r as f64;
            let from = offset(start, s.launch_started_at.as_deref());
            let to = offset(start, s.launch_ended_at.as_deref());
            let (class, from, to) = match (s.launch_status.as_str(), from, to) {
                ("FAILED", Some(f), t) => ("failed", f, t.unwrap_or(end).max(f)),
                ("LAUNCHED" | "TERMINATED", Some(f), t) => ("launched", f, t.unwrap_or(end).max(f)),
                (_, Some(f), _) => ("running", f, end.max(f)),
                _ => ("pending", end, end),
            };
            let label = s
                .hostname
                .clone()
                .unwrap_or_else(|| s.source_server_id.clone());
            bars.push(Bar {
                x: x(from),
                y: round1(row_y + (ROW - BAR) / 2.0),
                // Visible even when it took no time on this scale.
                width: round1((x(to) - x(from)).max(2.0)),
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
            });
        }
        y += height;
    }
    if let Some(t) = report.rto.target_seconds {
        targets.push(TargetLine {
            x: x(t.min(span)),
            y1: AXIS_HEIGHT - 6.0,
            y2: y,
            label: target_label("plan RTO".into(), t),
            label_y: AXIS_HEIGHT - 8.0,
            off_scale: t > span,
        });
    }
    let mut markers = vec![Marker {
        x: x(end),
        label: if report.execution.running {
            "now (running)".into()
        } else {
            "end".into()
        },
        class: "end",
        title: String::new(),
    }];
    for a in &report.operator_actions {
        let Some(at) = offset(start, Some(&a.at)) else {
            continue;
        };
        let wave = a
            .wave_index
            .map(|i| format!(" wave {i}"))
            .unwrap_or_default();
        markers.push(Marker {
            x: x(at.min(span)),
            label: format!("{}{wave}", a.action),
            class: "operator",
            title: format!("{}{wave} by {} at {}", a.action, a.by, a.at),
        });
    }
    Timeline {
        width: WIDTH,
        height: y + 8.0,
        plot_left: PLOT_LEFT,
        plot_right: PLOT_RIGHT,
        span_seconds: span,
        ticks,
        bands,
        bars,
        targets,
        markers,
    }
}
