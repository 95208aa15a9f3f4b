//! The RTO forecast as a terminal shows it (`drs-waves forecast`, and before `drs-waves start`).

use std::fmt::Write;

use crate::clock::human_seconds;

/// The forecast as plain text, for a terminal (the operator CLI prints it before a recovery):
/// one line per wave and one for the plan.
pub fn forecast_text(f: &crate::model::Forecast) -> String {
    if f.executions.is_empty() {
        return "RTO forecast: no earlier successful execution of the plan to learn from.\n"
            .to_owned();
    }
    let mut out = format!(
        "RTO forecast from the last {} successful execution{} (p50 / p90):\n",
        f.executions.len(),
        if f.executions.len() == 1 { "" } else { "s" }
    );
    for w in &f.waves {
        let healthy = w
            .to_healthy
            .map(|h| {
                format!(
                    "; healthy after {} / {}",
                    human_seconds(h.p50_seconds),
                    human_seconds(h.p90_seconds)
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  wave {} {}: {} / {} ({} run{}){healthy}",
            w.index,
            w.name,
            human_seconds(w.duration.p50_seconds),
            human_seconds(w.duration.p90_seconds),
            w.duration.samples,
            if w.duration.samples == 1 { "" } else { "s" }
        );
    }
    match f.recovery {
        Some(r) => {
            let _ = writeln!(
                out,
                "  the plan, from the start to the last wave recovered (healthy, where it has checks): {} / {}",
                human_seconds(r.p50_seconds),
                human_seconds(r.p90_seconds)
            );
        }
        None => out.push_str("  the plan: no earlier execution recovered every wave\n"),
    }
    out
}
