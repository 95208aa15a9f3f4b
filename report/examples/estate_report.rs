//! Writes the report of a made-up estate (`drs_waves_report::sample`) to a directory, for the
//! bench's figure of how fast headless Chromium loads the page (bench/report_page.py).
//!
//! Usage: estate_report DIR [SERVERS WAVES ACCOUNTS]   (default 10000 40 5)
//!        estate_report DIR --wave-sizes N,N,... ACCOUNTS

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first().map(PathBuf::from) else {
        eprintln!(
            "usage: estate_report DIR [SERVERS WAVES ACCOUNTS | --wave-sizes N,N,... ACCOUNTS]"
        );
        return ExitCode::from(2);
    };
    let number = |k: usize, default: usize| -> Option<usize> {
        args.get(k).map_or(Some(default), |a| a.parse().ok())
    };
    let report = if args.get(1).map(String::as_str) == Some("--wave-sizes") {
        let sizes: Option<Vec<usize>> = args
            .get(2)
            .map(|s| s.split(',').map(|n| n.trim().parse().ok()).collect())
            .unwrap_or_default();
        match (sizes, number(3, 5)) {
            (Some(sizes), Some(accounts)) => drs_waves_report::sample::estate_of(&sizes, accounts),
            _ => {
                eprintln!("--wave-sizes takes a comma-separated list of numbers, then ACCOUNTS");
                return ExitCode::from(2);
            }
        }
    } else {
        match (number(1, 10_000), number(2, 40), number(3, 5)) {
            (Some(servers), Some(waves), Some(accounts)) => {
                drs_waves_report::sample::estate(servers, waves, accounts)
            }
            _ => {
                eprintln!("SERVERS, WAVES and ACCOUNTS are numbers");
                return ExitCode::from(2);
            }
        }
    };
    match drs_waves_report::write(&report, &dir) {
        Ok(path) => {
            println!("{}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("writing the report to {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
