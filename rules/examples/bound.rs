//! The makespan lower bound of `drs_waves_rules::bound` for the bench (`bench/estate.py`):
//! reads a plan's waves, launch times and account quotas as JSON on stdin, prints the bound as
//! JSON on stdout.
//!
//! ```text
//! {"jobOverheadMs": 50,
//!  "accounts": [{"serversPerJob": 100, "concurrentJobs": 20, "serversInActiveJobs": 500,
//!                "heldJobs": 0, "heldServers": 0}],
//!  "waves": [{"account": 0, "dependsOn": [], "launchMs": [3000, 5200]}]}
//! -> {"makespanMs": 5250, "criticalPathMs": 5250, "sharedCapacityMs": 5250}
//! ```

use std::io::Read as _;

use drs_waves_rules::bound::{AccountQuotas, BoundInput, BoundWave, makespan_lower_bound};
use serde_json::Value;

fn usize_of(v: &Value, key: &str) -> Result<usize, String> {
    v.get(key)
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("{key}: a whole number is required"))
}

fn parse(doc: &Value) -> Result<BoundInput, String> {
    let accounts = doc["accounts"]
        .as_array()
        .ok_or("accounts: a list is required")?
        .iter()
        .map(|a| {
            Ok(AccountQuotas {
                servers_per_job: usize_of(a, "serversPerJob")?,
                concurrent_jobs: usize_of(a, "concurrentJobs")?,
                servers_in_active_jobs: usize_of(a, "serversInActiveJobs")?,
                held_jobs: usize_of(a, "heldJobs").unwrap_or(0),
                held_servers: usize_of(a, "heldServers").unwrap_or(0),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let waves = doc["waves"]
        .as_array()
        .ok_or("waves: a list is required")?
        .iter()
        .map(|w| {
            let list = |key: &str| -> Result<Vec<u64>, String> {
                w[key]
                    .as_array()
                    .ok_or(format!("{key}: a list is required"))?
                    .iter()
                    .map(|n| n.as_u64().ok_or(format!("{key}: whole numbers")))
                    .collect()
            };
            Ok(BoundWave {
                account: usize_of(w, "account")?,
                depends_on: list("dependsOn")?
                    .into_iter()
                    .map(|d| usize::try_from(d).map_err(|e| e.to_string()))
                    .collect::<Result<_, _>>()?,
                launch_ms: list("launchMs")?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(BoundInput {
        waves,
        accounts,
        job_overhead_ms: doc["jobOverheadMs"].as_u64().unwrap_or(0),
    })
}

fn main() -> std::process::ExitCode {
    let run = || -> Result<Value, String> {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| e.to_string())?;
        let doc: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let bound = makespan_lower_bound(&parse(&doc)?).map_err(|e| e.to_string())?;
        Ok(serde_json::json!({
            "makespanMs": bound.makespan_ms,
            "criticalPathMs": bound.critical_path_ms,
            "sharedCapacityMs": bound.shared_capacity_ms,
        }))
    };
    match run() {
        Ok(v) => {
            println!("{v}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bound: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
