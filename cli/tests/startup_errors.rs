//! The binary as an operator meets it without AWS set up: one line saying what is missing and
//! how to set it, exit status 2, and no network call (instance metadata is turned off, so the
//! credential chain never leaves the machine).

use std::process::Command;

fn drs_waves(env: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
    let home = std::env::temp_dir().join(format!("drs-waves-cli-home-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&home);
    let out = Command::new(env!("CARGO_BIN_EXE_drs-waves"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run drs-waves");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn without_a_region_it_says_so_in_one_line() {
    let (code, stdout, stderr) = drs_waves(&[], &["plans"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("drs-waves: no AWS region: set AWS_REGION"),
        "{stderr}"
    );
}

#[test]
fn without_credentials_it_says_so_in_one_line_and_how_to_set_them() {
    let (code, _, stderr) = drs_waves(
        &[("AWS_REGION", "eu-west-1")],
        &["approve", "billing:latest"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("drs-waves: no AWS credentials: "),
        "{stderr}"
    );
    for how in ["AWS_PROFILE", "AWS_ACCESS_KEY_ID", "aws sso login"] {
        assert!(stderr.contains(how), "{how} in {stderr}");
    }
}

#[test]
fn a_recovery_and_a_drill_at_once_is_a_usage_error() {
    let (code, _, stderr) = drs_waves(&[], &["start", "billing", "--drill", "--recovery"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}
