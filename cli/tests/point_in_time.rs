//! `drs-waves start --point-in-time` with a value Step Functions would refuse: refused by the
//! binary itself, naming the flag and the accepted form, exit status 2, before any AWS call.
//! Every AWS endpoint is a closed local port, so a command that got as far as calling AWS
//! would fail with a connection error instead.

use std::net::TcpListener;
use std::process::Command;

/// A local port nothing listens on: bound, then released.
fn closed_port_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

fn start_with_point_in_time(value: &str) -> (i32, String, String) {
    let home = std::env::temp_dir().join(format!(
        "drs-waves-cli-point-in-time-{}",
        std::process::id()
    ));
    let _ = std::fs::create_dir_all(&home);
    let out = Command::new(env!("CARGO_BIN_EXE_drs-waves"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", closed_port_endpoint())
        // A retried connection error would only slow the positive case down.
        .env("AWS_MAX_ATTEMPTS", "1")
        .args([
            "start",
            "billing",
            "--recovery",
            "--confirm",
            "billing",
            "--point-in-time",
            value,
        ])
        .output()
        .expect("run drs-waves");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_point_in_time_that_is_not_rfc3339_starts_nothing() {
    let (code, stdout, stderr) = start_with_point_in_time("27/11/2026 03:00");
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "no preview, nothing started: {stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "drs-waves: --point-in-time \"27/11/2026 03:00\" is not an RFC 3339 time: give it as YYYY-MM-DDTHH:MM:SSZ in UTC, like 2026-11-27T03:00:00Z"
        ),
        "{stderr}"
    );
    assert!(stderr.trim_end().ends_with("nothing started"), "{stderr}");
}

#[test]
fn a_point_in_time_in_the_future_starts_nothing() {
    let (code, stdout, stderr) = start_with_point_in_time("2999-01-01t00:00:00z");
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.starts_with(
            "drs-waves: --point-in-time 2999-01-01t00:00:00z (2999-01-01T00:00:00Z) is in the future"
        ),
        "{stderr}"
    );
}

/// The control: a lower-case value is accepted, so the command goes on to its first AWS call
/// (and fails there, at the closed port).
#[test]
fn a_lower_case_point_in_time_is_accepted_and_the_start_goes_on_to_aws() {
    let (code, _, stderr) = start_with_point_in_time("2026-11-27t05:00:00+02:00");
    assert_eq!(code, 2, "{stderr}");
    assert!(!stderr.contains("--point-in-time"), "{stderr}");
    assert!(stderr.contains("states:ListStateMachines"), "{stderr}");
}
