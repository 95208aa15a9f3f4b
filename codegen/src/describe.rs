//! Plans in words, shared by the machine's comments ([`crate::generate`]) and the runbook
//! ([`crate::runbook`]).

use crate::contract::WaveSpec;

/// "2 servers by ID, tags App=billing, Tier=web; 1 optional".
pub fn describe_selection(wave: &WaveSpec) -> String {
    let mut parts = Vec::new();
    if !wave.server_ids.is_empty() {
        parts.push(format!("{} server(s) by ID", wave.server_ids.len()));
    }
    if !wave.tags.is_empty() {
        let tags: Vec<String> = wave.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.push(format!("servers tagged {}", tags.join(", ")));
    }
    let mut out = parts.join(" and ");
    if !wave.optional.is_empty() {
        out.push_str(&format!("; {} optional", wave.optional.len()));
    }
    out
}
