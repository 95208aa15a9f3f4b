//! DRS's own recovery plans through the `drs-waves` binary (issue #25): a plan file pushed to
//! drs-sim (a second push changes nothing; a dry run of an edit makes no call; the plan pulled
//! back pushes as no change), run as a native DRILL with `native start --follow`,
//! its CRITICAL server failing, retried, failing again, skipped; then `drs-waves report` of the
//! native execution, valid against the report's schema and opened in headless Chromium.
//! Asserted from drs-sim's own records: the launch jobs it made and what each launched.

use std::process::{Output, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use drs_sim::{ServerSelector, SimConfig};
use drs_test_harness::repo_root;

use super::operator_cli::{Tmux, tmux_available};
use super::{APP2_OPTIONAL, DB1, DB2, DRILL_TIMEOUT, Deployment, WEB1, billing_servers};

const PLAN: &str = "storefront";

fn plan_yaml() -> String {
    format!(
        "name: {PLAN}\nwaves:\n\
         \x20 - name: db\n    servers: {{ids: [{DB1}, {DB2}]}}\n\
         \x20 - name: app\n    servers: {{ids: [{}, {APP2_OPTIONAL}]}}\n    optional: [{APP2_OPTIONAL}]\n\
         \x20 - name: web\n    servers: {{ids: [{WEB1}]}}\n",
        super::APP1
    )
}

/// Runs `drs-waves ARGS` to its end, off the runtime's threads (drs-sim serves on them).
async fn drs_waves(dep: &Deployment, args: &[&str]) -> Result<(Output, String)> {
    let mut cmd = dep.cli_command()?;
    cmd.args(args).stdin(Stdio::null());
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await?
        .context("running drs-waves")?;
    let text = format!(
        "drs-waves {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out, text))
}

/// The LAUNCH jobs drs-sim made, oldest first: (servers, each server's launch status).
fn launches(dep: &Deployment) -> Vec<Vec<(String, String)>> {
    let mut jobs = dep.sim.jobs();
    jobs.retain(|j| j.job_type == "LAUNCH" && !j.background);
    jobs.sort_by_key(|j| j.creation_date_time);
    jobs.iter()
        .map(|j| {
            j.servers
                .iter()
                .map(|s| {
                    let status = serde_json::to_value(s.launch_status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    (s.source_server_id.clone(), status)
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_drill_retried_and_skipped_past_a_critical_failure_and_its_report() -> Result<()> {
    let dep = Deployment::new("native", SimConfig::with_servers(billing_servers(&[], 1.0))).await?;
    let dir = std::env::temp_dir().join(&dep.prefix);
    std::fs::create_dir_all(&dir)?;
    let plan_file = dir.join("storefront.yaml");
    std::fs::write(&plan_file, plan_yaml())?;
    let plan_path = plan_file.display().to_string();
    let account = ["--account-id", "123456789012", "--region", "us-east-1"];
    let account = account.as_slice();

    let push: Vec<&str> = ["native", "push", plan_path.as_str()]
        .into_iter()
        .chain(account.iter().copied())
        .collect();
    let (out, text) = drs_waves(&dep, &push).await?;
    ensure!(out.status.success(), "{text}");
    ensure!(
        text.contains("called CreateRecoveryPlan \"storefront\""),
        "{text}"
    );
    let (out, text) = drs_waves(&dep, &push).await?;
    ensure!(
        out.status.success() && text.contains("no change: storefront"),
        "{text}"
    );
    round_trip(&dep, &dir, account).await?;

    // db's second server fails every launch: the step FAILS (it is CRITICAL).
    dep.sim
        .set_fail_launch(
            &ServerSelector::Servers(vec![DB2.to_owned()]),
            true,
            Some("staged"),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (out, text) = drs_waves(&dep, &["native", "start", PLAN, "--drill", "--follow"]).await?;
    ensure!(
        out.status.code() == Some(1),
        "a failed step ends the follow with 1: {text}"
    );
    ensure!(
        text.contains("DECIDE?") && text.contains("drs-waves native retry"),
        "{text}"
    );
    let execution = (text.lines())
        .find_map(|l| l.strip_prefix("started "))
        .context("the execution's ARN")?
        .trim()
        .to_owned();
    ensure!(
        launches(&dep).len() == 1,
        "one launch job for db: {:?}",
        launches(&dep)
    );

    let (out, text) = drs_waves(&dep, &["native", "retry", &execution]).await?;
    ensure!(out.status.success() && text.contains("EXECUTING"), "{text}");
    let (out, text) = drs_waves(&dep, &["native", "follow", &execution]).await?;
    ensure!(out.status.code() == Some(1), "the retry fails too: {text}");
    ensure!(
        launches(&dep).len() == 2,
        "the retry launched db again: {:?}",
        launches(&dep)
    );

    let (out, text) = drs_waves(&dep, &["native", "skip", &execution]).await?;
    ensure!(out.status.success() && text.contains("SKIPPED"), "{text}");
    let (out, text) = drs_waves(&dep, &["native", "follow", &execution]).await?;
    ensure!(out.status.success(), "completed after the skip: {text}");

    // drs-sim's records: db twice (DB2 failed both times), then app, then web.
    let jobs = launches(&dep);
    let servers: Vec<Vec<&str>> = (jobs.iter())
        .map(|j| j.iter().map(|(id, _)| id.as_str()).collect())
        .collect();
    ensure!(
        servers
            == [
                vec![DB1, DB2],
                vec![DB1, DB2],
                vec![super::APP1, APP2_OPTIONAL],
                vec![WEB1]
            ],
        "{jobs:?}"
    );
    for job in &jobs[..2] {
        ensure!(
            job.contains(&(DB2.to_owned(), "FAILED".to_owned())),
            "{jobs:?}"
        );
    }
    ensure!(
        jobs[2..].iter().flatten().all(|(_, s)| s == "LAUNCHED"),
        "{jobs:?}"
    );

    let out_dir = repo_root().join("target/report/native");
    let out_path = out_dir.display().to_string();
    let args = [
        "report",
        execution.as_str(),
        "-o",
        out_path.as_str(),
        "--rto-minutes",
        "60",
    ];
    let (out, text) = drs_waves(&dep, &args).await?;
    ensure!(out.status.success(), "{text}");
    let json = std::fs::read_to_string(out_dir.join(drs_waves_report::JSON_FILE))?;
    let report: drs_waves_report::Report = serde_json::from_str(&json)?;
    assert_native_report(&report, &execution)?;
    super::report::check_native_report_files(&report, &out_dir.join("checked"))
}

/// A dry run of an edit prints the call and makes none; a pull gives the plan back, and
/// pushing the pulled file changes nothing.
async fn round_trip(dep: &Deployment, dir: &std::path::Path, account: &[&str]) -> Result<()> {
    let edited = dir.join("edited.yaml");
    std::fs::write(&edited, plan_yaml().replace(&format!("{DB1}, {DB2}"), DB1))?;
    let edited = edited.display().to_string();
    let dry: Vec<&str> = ["native", "push", edited.as_str(), "--dry-run"]
        .into_iter()
        .chain(account.iter().copied())
        .collect();
    let (out, text) = drs_waves(dep, &dry).await?;
    ensure!(out.status.success(), "{text}");
    ensure!(
        text.contains("would call UpdateRecoveryPlanStep \"db\"") && text.contains("none made"),
        "{text}"
    );

    let pulled = dir.join("pulled.yaml");
    let pulled_path = pulled.display().to_string();
    let (out, text) = drs_waves(dep, &["native", "pull", PLAN, "-o", &pulled_path]).await?;
    ensure!(out.status.success() && text.contains("wrote"), "{text}");
    let back = drs_codegen::plan::load_file(&pulled)?;
    let sent = drs_codegen::plan::load_str("storefront.yaml", &plan_yaml())?;
    ensure!(back.spec.name == sent.spec.name);
    for (a, b) in back.spec.waves.iter().zip(&sent.spec.waves) {
        ensure!(
            (&a.name, &a.server_ids, &a.optional) == (&b.name, &b.server_ids, &b.optional),
            "{a:?} {b:?}"
        );
    }
    let again: Vec<&str> = ["native", "push", pulled_path.as_str()]
        .into_iter()
        .chain(account.iter().copied())
        .collect();
    let (out, text) = drs_waves(dep, &again).await?;
    ensure!(
        out.status.success() && text.contains("no change: storefront"),
        "the pulled plan is the pushed one: {text}"
    );
    Ok(())
}

fn assert_native_report(report: &drs_waves_report::Report, execution: &str) -> Result<()> {
    ensure!(report.execution.arn == execution, "{:?}", report.execution);
    ensure!(report.execution.mode.as_deref() == Some("DRILL"));
    ensure!(
        report.execution.status == "SUCCEEDED_WITH_FAILURES",
        "{:?}",
        report.execution
    );
    let waves: Vec<(&str, &str)> = (report.waves.iter())
        .map(|w| (w.name.as_str(), w.status.as_str()))
        .collect();
    ensure!(
        waves
            == [
                ("db", "SKIPPED"),
                ("app", "SUCCEEDED"),
                ("web", "SUCCEEDED")
            ],
        "{waves:?}"
    );
    ensure!(report.servers.len() == 5, "{:#?}", report.servers);
    let db2 = (report.servers.iter())
        .find(|s| s.source_server_id == DB2)
        .context("DB2 in the report")?;
    ensure!(db2.launch_status == "FAILED" && db2.required, "{db2:?}");
    ensure!(
        report.plan.rto_target_seconds == Some(3600),
        "{:?}",
        report.plan
    );
    ensure!(
        report
            .servers
            .iter()
            .filter(|s| s.launch_status == "LAUNCHED")
            .all(|s| s.snapshot_age_seconds.is_some()),
        "each launched server has its recovery point: {:#?}",
        report.servers
    );
    Ok(())
}

/// `native start --recovery --follow` in a real terminal: the plan's name typed at the prompt
/// (nothing launched before), the live screen to the end and its summary; drs-sim made
/// RECOVERY jobs only, every server launched once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_recovery_is_confirmed_by_name_and_followed_live_in_a_terminal() -> Result<()> {
    ensure!(
        tmux_available(),
        "tmux is not installed: scripts/bootstrap.sh installs it (apt-get install tmux)"
    );
    let dep = Deployment::new(
        "native-tmux",
        SimConfig::with_servers(billing_servers(&[], 1.0)),
    )
    .await?;
    let dir = std::env::temp_dir().join(&dep.prefix);
    std::fs::create_dir_all(&dir)?;
    let plan_file = dir.join("storefront.yaml");
    std::fs::write(&plan_file, plan_yaml())?;
    let plan_path = plan_file.display().to_string();
    let push = [
        "native",
        "push",
        &plan_path,
        "--account-id",
        "123456789012",
        "--region",
        "us-east-1",
    ];
    let (out, text) = drs_waves(&dep, &push).await?;
    ensure!(out.status.success(), "{text}");

    let cli = drs_e2e::drs_waves_cli_binary()?.display().to_string();
    let shell = format!(
        "'{cli}' native start {PLAN} --recovery --follow; echo \"drs-waves exited $?\"; exec sleep 600"
    );
    let tmux = Tmux::start(&dep.cli_env(), &shell)?;
    let mut seen = Vec::new();
    tmux.wait_for(
        "the confirmation prompt",
        Duration::from_secs(60),
        &mut seen,
        |s| s.contains("Type the plan's name (storefront)"),
    )
    .await?;
    ensure!(
        launches(&dep).is_empty(),
        "nothing is launched before the name is typed"
    );
    tmux.send_keys(&[PLAN, "Enter"])?;
    let end = tmux
        .wait_for("the end of the follow", DRILL_TIMEOUT, &mut seen, |s| {
            s.contains("drs-waves exited")
        })
        .await?;
    ensure!(end.contains("drs-waves exited 0"), "{end}");
    ensure!(
        end.contains(&format!("of plan {PLAN}: SUCCEEDED")),
        "the summary: {end}"
    );
    for step in ["wave 1 db", "wave 2 app", "wave 3 web"] {
        ensure!(end.contains(step), "{step} in the summary: {end}");
    }
    let jobs = dep.sim.jobs();
    ensure!(
        jobs.iter()
            .filter(|j| j.job_type == "LAUNCH")
            .all(|j| j.is_drill == Some(false)),
        "RECOVERY jobs only: {jobs:?}"
    );
    let launched: Vec<String> = launches(&dep)
        .into_iter()
        .flatten()
        .map(|(id, _)| id)
        .collect();
    ensure!(
        launched.len() == 5,
        "every server launched once: {launched:?}"
    );
    Ok(())
}
