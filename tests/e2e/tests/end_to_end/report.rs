//! The recovery report (issue #14) of a real local drill with a failed optional server: built
//! from the history, Step Functions and drs-sim, its JSON valid against the checked-in schema,
//! its page opened in headless Chromium (no console errors, one SVG bar per server, the
//! PASS/FAIL texts matching the targets). The screenshot is kept at target/report/drill.png.
//! And the copy the worker writes to the report bucket (LocalStack's S3) at the end of a drill:
//! the same report `drs-waves report` renders.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use drs_sim::SimConfig;
use drs_test_harness::repo_root;
use drs_waves_report::VerdictKind;
use drs_waves_report::model::Verdict;
use time::OffsetDateTime;

use super::{APP2_OPTIONAL, Deployment, billing_servers, describe, drill};

mod bucket;

/// The billing example's targets (statemachines/billing.plan.yaml).
const PLAN_RTO_SECONDS: u64 = 6 * 60;
const WAVE_RTO_SECONDS: [(u32, u64); 2] = [(1, 2 * 60), (2, 4 * 60)];
const RPO_SECONDS: u64 = 60 * 60;

/// What a verdict must say for `achieved` against `target` in an ended execution.
fn expected(target: Option<u64>, achieved: Option<u64>) -> VerdictKind {
    match (target, achieved) {
        (None, _) => VerdictKind::NoTarget,
        (Some(t), Some(a)) if a <= t => VerdictKind::Pass,
        _ => VerdictKind::Fail,
    }
}

fn check_verdict(what: &str, v: &Verdict, target: u64) {
    assert_eq!(v.target_seconds, Some(target), "{what}: {v:?}");
    assert_eq!(
        v.verdict,
        expected(v.target_seconds, v.achieved_seconds),
        "{what}: {v:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_of_a_drill_with_a_failed_optional_server() -> Result<()> {
    let mut dep = Deployment::new(
        "report",
        SimConfig::with_servers(billing_servers(&[APP2_OPTIONAL], 1.5)),
    )
    .await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[])?;
    let (execution, _) = super::drill_to_success(&dep, &machine).await?;
    let report = dep.report(&execution).await?;

    // The facts, against what drs-sim did.
    assert_eq!(report.execution.arn, execution);
    assert_eq!(report.execution.mode.as_deref(), Some("DRILL"));
    assert!(!report.execution.running);
    assert_eq!(
        report.execution.machine_status.as_deref(),
        Some("SUCCEEDED")
    );
    assert_eq!(report.execution.input, Some(drill()));
    assert!(report.plan.targets_from_machine, "{:?}", report.sources);
    assert_eq!(report.waves.len(), 3);
    assert_eq!(report.servers.len(), 6, "{:#?}", report.servers);
    assert_servers_and_rto_match_drs_sim(&report, &dep.sim.jobs())?;

    // The two files, kept under target/report/ for people to look at.
    let out = repo_root().join("target/report/drill");
    let html_path = write_valid_report(&report, &out)?;
    match chromium() {
        None => eprintln!(
            "SKIPPED: the Chromium part of this test (no `chromium` on PATH; scripts/bootstrap.sh \
             installs Debian's package). The report is at {}",
            html_path.display()
        ),
        Some(chromium) => check_the_page_in_chromium(&report, &chromium, &out, &html_path)?,
    }
    Ok(())
}
/// The report's servers and RTO against what drs-sim did: every server's job holds it, each
/// has its launch times (and a snapshot age once LAUNCHED), the optional server FAILED with a
/// reason, the RTO runs from the start to drs-sim's last launch end; the verdicts match the
/// plan's targets.
fn assert_servers_and_rto_match_drs_sim(
    report: &drs_waves_report::Report,
    jobs: &[drs_sim::JobSnapshot],
) -> Result<()> {
    for s in &report.servers {
        let job = s.job_id.as_deref().context("every server has a job")?;
        let sim_job = jobs
            .iter()
            .find(|j| j.job_id == job)
            .with_context(|| format!("job {job} in drs-sim"))?;
        assert!(
            sim_job
                .servers
                .iter()
                .any(|p| p.source_server_id == s.source_server_id),
            "{s:?}"
        );
        assert!(
            s.launch_started_at.is_some() && s.launch_ended_at.is_some(),
            "{s:?}"
        );
        // Healthy servers launch from DRS's on-demand snapshot: its point in time is known
        // once the server LAUNCHED (the optional one that FAILED has none).
        assert_eq!(
            s.snapshot_age_seconds.is_some(),
            s.launch_status == "LAUNCHED",
            "{s:?}"
        );
    }
    let failed = report
        .servers
        .iter()
        .find(|s| s.source_server_id == APP2_OPTIONAL)
        .context("the optional server")?;
    assert_eq!(failed.launch_status, "FAILED");
    assert!(!failed.required);
    assert!(
        failed
            .failure_reason
            .as_deref()
            .is_some_and(|r| !r.is_empty()),
        "{failed:?}"
    );
    // RTO: the execution's start to the last launch job's end, as drs-sim ended it.
    let started =
        drs_waves_report::build::parse_time(&report.execution.started_at).context("start time")?;
    let last_end = jobs
        .iter()
        .filter(|j| j.job_type == "LAUNCH")
        .filter_map(|j| j.end_date_time)
        .max()
        .context("launch jobs ended")?;
    let want = drs_waves_report::build::seconds_between(started, last_end);
    let achieved = report.rto.achieved_seconds.context("the drill recovered")?;
    // DRS's times are whole seconds or milliseconds on the wire: allow the rounding.
    assert!(
        achieved.abs_diff(want) <= 1,
        "RTO {achieved} s, drs-sim's last launch job ended {want} s after the start"
    );
    check_verdict("plan RTO", &report.rto, PLAN_RTO_SECONDS);
    for (index, target) in WAVE_RTO_SECONDS {
        check_verdict(
            &format!("wave {index}"),
            &report.waves[index as usize - 1].rto,
            target,
        );
    }
    assert_eq!(report.waves[2].rto.verdict, VerdictKind::NoTarget);
    check_verdict("RPO", &report.rpo, RPO_SECONDS);
    Ok(())
}

/// Writes the report's two files to `out` and checks report.json against its checked-in
/// schema; returns the page's path.
fn write_valid_report(report: &drs_waves_report::Report, out: &Path) -> Result<PathBuf> {
    let html_path = drs_waves_report::write(report, out)?;
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        out.join(drs_waves_report::JSON_FILE),
    )?)?;
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        repo_root().join("statemachines/schemas/report.schema.json"),
    )?)?;
    let validator = jsonschema::validator_for(&schema).map_err(|e| anyhow::anyhow!("{e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "report.json against its schema: {errors:?}"
    );
    Ok(html_path)
}

/// The page in headless Chromium: no console messages (the detector itself checked on a noisy
/// page first), one SVG bar per server, one failed, the verdict texts the report's; the
/// screenshot kept at target/report/drill.png.
fn check_the_page_in_chromium(
    report: &drs_waves_report::Report,
    chromium: &Path,
    out: &Path,
    html_path: &Path,
) -> Result<()> {
    // The detector itself: a page that logs to the console is caught.
    let noisy = out.join("console-check.html");
    std::fs::write(
        &noisy,
        "<!DOCTYPE html><title>x</title><script>console.error('boom')</script>",
    )?;
    let caught = open_in_chromium(chromium, &noisy, None)?;
    std::fs::remove_file(&noisy)?;
    assert!(
        caught.console.iter().any(|l| l.contains("boom")),
        "Chromium's console log was not recognised: {:?}",
        caught.console
    );
    let screenshot = repo_root().join("target/report/drill.png");
    let page = open_in_chromium(chromium, html_path, Some(&screenshot))?;
    assert!(
        page.console.is_empty(),
        "console messages while loading the report: {:?}",
        page.console
    );
    assert_eq!(
        page.dom.matches("class=\"bar ").count(),
        report.servers.len(),
        "one SVG bar per server"
    );
    assert_eq!(page.dom.matches("class=\"bar failed\"").count(), 1);
    assert_eq!(
        verdict_text(&page.dom, "rto-verdict")?,
        report.rto.verdict.text()
    );
    assert_eq!(
        verdict_text(&page.dom, "rpo-verdict")?,
        report.rpo.verdict.text()
    );
    let png = std::fs::metadata(&screenshot)?;
    assert!(png.len() > 10_000, "the screenshot is nearly empty");
    Ok(())
}

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser"]
        .into_iter()
        .find_map(|name| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
}

struct Page {
    dom: String,
    /// Console messages Chromium logged (each as `...:INFO:CONSOLE:1] "text", source: ...`;
    /// older releases write `CONSOLE(1)`).
    console: Vec<String>,
}

/// Opens the page in headless Chromium: a screenshot when asked (A4 proportions, 1240 px
/// wide), then the DOM with console logging on.
fn open_in_chromium(chromium: &Path, html: &Path, screenshot: Option<&Path>) -> Result<Page> {
    let url = format!("file://{}", html.canonicalize()?.display());
    let profile = std::env::temp_dir().join(drs_test_harness::unique_name("report-chromium"));
    let run = |extra: &[String]| -> Result<std::process::Output> {
        let output = Command::new("timeout")
            .arg("120")
            .arg(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&url)
            .output()
            .context("running chromium")?;
        if !output.status.success() {
            bail!(
                "chromium failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(output)
    };
    if let Some(screenshot) = screenshot {
        run(&[
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1240,1754".into(),
        ])?;
    }
    let dumped = run(&[
        "--dump-dom".into(),
        "--enable-logging=stderr".into(),
        "--v=0".into(),
    ])?;
    let _ = std::fs::remove_dir_all(&profile);
    let stderr = String::from_utf8_lossy(&dumped.stderr);
    Ok(Page {
        dom: String::from_utf8(dumped.stdout)?,
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_owned)
            .collect(),
    })
}

/// The verdict of a verdict box in the rendered DOM (its `data-verdict`: PASS, FAIL, PENDING or
/// NO TARGET; with no target the box's big text is the achieved figure, not the verdict).
fn verdict_text(dom: &str, id: &str) -> Result<String> {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .with_context(|| format!("#{id} in the DOM"))?;
    let rest = &dom[at..];
    let attr = "data-verdict=\"";
    let start = rest
        .find(attr)
        .with_context(|| format!("#{id} has its verdict"))?;
    let text = &rest[start + attr.len()..];
    let end = text.find('"').context("the verdict's end")?;
    Ok(text[..end].trim().to_owned())
}

/// `drs-waves report` for an execution the history lacks (one no worker has seen: it waits at
/// its first task) fails naming the table and key, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_of_an_execution_the_history_lacks_names_where_it_looked() -> Result<()> {
    let dep = Deployment::new("report-missing", SimConfig::with_servers(Vec::new())).await?;
    let machine = dep.deploy_example("billing").await?;
    let arn = dep.start_execution(&machine, &drill()).await?;
    let out_dir = std::env::temp_dir().join(drs_test_harness::unique_name("report-missing"));
    let output = dep
        .cli_command()?
        .arg("report")
        .arg(&arn)
        .arg("-o")
        .arg(&out_dir)
        .output()
        .context("running drs-waves report")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "execution {arn} is not in the history table {} (no item pk=\"EXEC#{arn}\", sk=\"EXECUTION\")",
            dep.table
        )),
        "{stderr}"
    );
    assert!(
        !out_dir.exists(),
        "no files for an execution that is not there"
    );
    dep.sfn.stop_execution().execution_arn(&arn).send().await?;
    Ok(())
}

/// The RTO forecast of a plan's second drill comes from its first: each wave's completion time
/// as the history recorded it (`completionMillis`), and the first drill's own report has none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forecast_of_a_second_drill_comes_from_the_first() -> Result<()> {
    let mut dep = Deployment::new(
        "report-forecast",
        SimConfig::with_servers(billing_servers(&[], 1.5)),
    )
    .await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[])?;
    let (first, _) = super::drill_to_success(&dep, &machine).await?;
    let (second, _) = super::drill_to_success(&dep, &machine).await?;

    let history = dep.history(&first).await?;
    let report = dep.report(&second).await?;
    let forecast = report.forecast.as_ref().context("a forecast")?;
    assert_eq!(forecast.executions, vec![first.clone()]);
    assert_eq!(forecast.waves.len(), 3, "{forecast:?}");
    for w in &forecast.waves {
        let item = history.wave(w.index)?;
        let ms = item["completionMillis"]
            .as_u64()
            .context("completionMillis")?;
        assert_eq!(w.duration.samples, 1);
        assert_eq!(
            w.duration.p50_seconds,
            (ms + 500) / 1000,
            "wave {}",
            w.index
        );
        assert_eq!(w.duration.p90_seconds, w.duration.p50_seconds);
    }
    // The plan's recovery time: the first drill's achieved RTO (to the second, for rounding).
    let first_report = dep.report(&first).await?;
    let recovery = forecast.recovery.context("the plan's recovery time")?;
    let achieved = first_report
        .rto
        .achieved_seconds
        .context("the first drill recovered")?;
    assert!(
        recovery.p50_seconds.abs_diff(achieved) <= 1,
        "{recovery:?} vs {achieved}"
    );
    // The first drill had nothing before it.
    let before_first = first_report.forecast.context("a forecast, empty")?;
    assert!(before_first.executions.is_empty() && before_first.waves.is_empty());
    let html = drs_waves_report::render::html(&report);
    assert!(html.contains("id=\"rto-forecast\""));
    assert!(html.contains("over the last 1 successful execution of the plan"));
    let out = repo_root().join("target/report/forecast");
    drs_waves_report::write(&report, &out)?;
    Ok(())
}

/// The files of a native execution's report (issue #25), written again from `report`: its JSON
/// against the same schema, its page in headless Chromium with no console message, one bar
/// per server, one failed bar per failed server and the report's verdicts.
pub(super) fn check_native_report_files(
    report: &drs_waves_report::Report,
    out: &Path,
) -> Result<()> {
    let html_path = write_valid_report(report, out)?;
    let Some(chromium) = chromium() else {
        eprintln!(
            "SKIPPED: the Chromium part of this test (no `chromium` on PATH). The report is at {}",
            html_path.display()
        );
        return Ok(());
    };
    let page = open_in_chromium(&chromium, &html_path, None)?;
    ensure!(
        page.console.is_empty(),
        "console messages while loading the report: {:?}",
        page.console
    );
    ensure!(page.dom.matches("class=\"bar ").count() == report.servers.len());
    let failed = report
        .servers
        .iter()
        .filter(|s| s.launch_status == "FAILED")
        .count();
    ensure!(page.dom.matches("class=\"bar failed\"").count() == failed);
    ensure!(verdict_text(&page.dom, "rto-verdict")? == report.rto.verdict.text());
    ensure!(verdict_text(&page.dom, "rpo-verdict")? == report.rpo.verdict.text());
    Ok(())
}
