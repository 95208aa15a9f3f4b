//! The timeline as inline SVG, from its geometry ([`crate::timeline`]), and its legend.

use std::fmt::Write;

use super::esc;
use crate::timeline::{self, Timeline};

pub(super) fn svg(h: &mut String, t: &Timeline) -> std::fmt::Result {
    writeln!(h, "\n<h2>Timeline</h2>")?;
    writeln!(
        h,
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"Timeline of the execution: a band per wave, a bar per server or, in a large wave, per outcome\">",
        t.width, t.height
    )?;
    for b in &t.bands {
        writeln!(
            h,
            "  <rect class=\"band{}\" x=\"0\" y=\"{}\" width=\"{}\" height=\"{}\"/>\n  <text class=\"bandlabel\" x=\"4\" y=\"{}\">{}</text>",
            if b.shaded { " shaded" } else { "" },
            b.y,
            t.width,
            b.height,
            b.y + 13.0,
            esc(&b.label)
        )?;
    }
    for k in &t.ticks {
        writeln!(
            h,
            "  <line class=\"tick\" x1=\"{x}\" y1=\"14\" x2=\"{x}\" y2=\"{}\"/>\n  <text x=\"{x}\" y=\"10\" text-anchor=\"middle\">{}</text>",
            t.height - 8.0,
            esc(&k.label),
            x = k.x
        )?;
    }
    for b in &t.bars {
        writeln!(
            h,
            "  <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n  <rect class=\"bar {}{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"12\" rx=\"2\"><title>{}</title></rect>",
            t.plot_left - 6.0,
            b.label_y,
            esc(&b.label),
            b.class,
            if b.group { " group" } else { "" },
            b.x,
            b.y,
            b.width,
            esc(&b.title)
        )?;
    }
    for g in &t.targets {
        let (x, anchor) = if g.off_scale {
            (g.x - 3.0, " text-anchor=\"end\"")
        } else {
            (g.x + 3.0, "")
        };
        writeln!(
            h,
            "  <line class=\"target\" x1=\"{gx}\" y1=\"{}\" x2=\"{gx}\" y2=\"{}\"/>\n  <text class=\"targetlabel\" x=\"{x}\" y=\"{}\"{anchor}>{}</text>",
            g.y1,
            g.y2,
            g.label_y,
            esc(&g.label),
            gx = g.x
        )?;
    }
    for m in &t.markers {
        let title = if m.title.is_empty() {
            String::new()
        } else {
            format!("<title>{}</title>", esc(&m.title))
        };
        let (label_y, anchor) = match m.class {
            "operator" => (t.height - 10.0, "start"),
            _ => (t.height, "middle"),
        };
        writeln!(
            h,
            "  <g class=\"{cls}\"><line class=\"marker {cls}\" x1=\"{x}\" y1=\"14\" x2=\"{x}\" y2=\"{}\"/>\n  <text class=\"markerlabel {cls}\" x=\"{}\" y=\"{label_y}\" text-anchor=\"{anchor}\">{}</text>{title}</g>",
            t.height - 8.0,
            if m.class == "operator" {
                m.x + 2.0
            } else {
                m.x
            },
            esc(&m.label),
            cls = m.class,
            x = m.x
        )?;
    }
    writeln!(h, "</svg>")?;
    writeln!(
        h,
        "<p class=\"legend\"><span><i style=\"background:#2da44e\"></i>LAUNCHED</span><span><i style=\"background:#cf222e\"></i>FAILED</span><span><i style=\"background:#d4a72c\"></i>launching</span><span><i style=\"background:#8c959f\"></i>not launched</span><span><i style=\"border-left:2px dashed #8250df\"></i>target</span><span><i style=\"border-left:2px dashed #0969da\"></i>operator action</span> Time from the execution's start. A LAUNCHED bar ends at its job's end (DRS logs no per-server launch end).{}</p>",
        if t.bars.iter().any(|b| b.group) {
            format!(
                " A wave of more than {} servers (every wave, in a report of more than {}) is a bar per outcome, from the first of its servers to start to the last to end.",
                timeline::SERVER_ROWS_PER_WAVE,
                timeline::SERVER_ROWS_IN_ALL
            )
        } else {
            String::new()
        }
    )
}
