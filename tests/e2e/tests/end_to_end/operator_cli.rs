//! The operator CLI as a person uses it (issue #13): `drs-waves start billing --recovery
//! --follow` in a real terminal (a tmux session of a fixed size on a private tmux server), the
//! plan's name typed at the confirmation prompt with send-keys, the screen read with
//! capture-pane until a deadline. What the screen shows is asserted (the preview of what will
//! be launched, the prompt, the per-wave lines, the summary, the exit status), and drs-sim's
//! own records show that a RECOVERY launched.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use drs_e2e::{Deployment, drs_waves_cli_binary};
use drs_sim::SimConfig;
use drs_test_harness::{process_running, unique_name, wait_until_gone};
use drs_waves_contract::job_tags;

use super::{DRILL_TIMEOUT, billing_servers};

const TMUX: &str = "tmux";
const WIDTH: u32 = 200;
const HEIGHT: u32 = 50;
const SESSION: &str = "operator";

/// A tmux server of this test alone (its own socket), stopped by PID when dropped.
pub(super) struct Tmux {
    socket: String,
    server_pid: Option<u32>,
}

impl Tmux {
    fn command(&self) -> Command {
        let mut c = Command::new(TMUX);
        c.args(["-L", &self.socket, "-f", "/dev/null"])
            .stdin(Stdio::null());
        c
    }

    /// Starts a detached session of WIDTH x HEIGHT running `shell_command` with exactly `env`.
    pub(super) fn start(env: &[(String, String)], shell_command: &str) -> Result<Tmux> {
        let mut tmux = Tmux {
            socket: unique_name("drs-waves-cli"),
            server_pid: None,
        };
        let out = tmux
            .command()
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("TERM", "xterm-256color")
            .env("LANG", "C.UTF-8")
            .args([
                "new-session",
                "-d",
                "-s",
                SESSION,
                "-x",
                &WIDTH.to_string(),
                "-y",
                &HEIGHT.to_string(),
                shell_command,
            ])
            .output()
            .context("running tmux (scripts/bootstrap.sh installs it)")?;
        ensure!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pid = tmux
            .command()
            .args(["display-message", "-p", "-t", SESSION, "#{pid}"])
            .output()?;
        tmux.server_pid = String::from_utf8_lossy(&pid.stdout).trim().parse().ok();
        Ok(tmux)
    }

    /// The pane's text, scrollback included, wrapped lines joined.
    fn screen(&self) -> Result<String> {
        let out = self
            .command()
            .args(["capture-pane", "-p", "-J", "-S", "-500", "-t", SESSION])
            .output()?;
        ensure!(
            out.status.success(),
            "tmux capture-pane failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    pub(super) fn send_keys(&self, keys: &[&str]) -> Result<()> {
        let mut args = vec!["send-keys", "-t", SESSION];
        args.extend_from_slice(keys);
        let out = self.command().args(&args).output()?;
        ensure!(out.status.success(), "tmux send-keys failed");
        Ok(())
    }

    /// Polls the screen until `done` holds, or fails after `timeout` showing the last screen.
    /// Every distinct screen seen is kept in `seen`.
    pub(super) async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        seen: &mut Vec<String>,
        done: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen()?;
            if seen.last() != Some(&screen) {
                seen.push(screen.clone());
            }
            if done(&screen) {
                return Ok(screen);
            }
            if Instant::now() >= deadline {
                bail!("the terminal did not show {what} within {timeout:?}; it shows:\n{screen}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").output();
        if let Some(pid) = self.server_pid
            && process_running(pid)
            && !wait_until_gone(pid, Duration::from_secs(5))
        {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

pub(super) fn tmux_available() -> bool {
    Command::new(TMUX)
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The recovery, as an operator runs it on the day: the preview of what will be launched, the
/// plan's name typed at the prompt, a live line per wave, the summary, exit 0; drs-sim saw
/// only RECOVERY jobs of that execution, each server launched once; the history names who
/// started it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_cli_recovery_is_confirmed_by_typing_the_plan_name_and_followed_live_in_a_terminal()
-> Result<()> {
    ensure!(
        tmux_available(),
        "tmux is not installed: scripts/bootstrap.sh installs it (apt-get install tmux)"
    );
    let mut dep = Deployment::new(
        "cli-tmux",
        SimConfig::with_servers(billing_servers(&[], 2.0)),
    )
    .await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[])?;
    let cli = drs_waves_cli_binary()?;
    let shell = format!(
        "'{}' start billing --recovery --follow; echo \"drs-waves exited $?\"; exec sleep 600",
        cli.display()
    );
    let tmux = Tmux::start(&dep.cli_env(), &shell)?;
    let mut seen = Vec::new();

    let prompt = tmux
        .wait_for(
            "the confirmation prompt",
            Duration::from_secs(60),
            &mut seen,
            |s| s.contains("Type the plan's name (billing)"),
        )
        .await?;
    for expected in [
        "RECOVERY of plan billing: launches PRODUCTION recovery instances",
        "databases",
        "s-a1b2c3d4e5f600001 s-a1b2c3d4e5f600002",
        "app-servers",
        "tags App=billing,Tier=web",
        // The plan has never run in this deployment: the forecast says there is nothing to
        // learn from (the report e2e tests check its figures after a drill).
        "RTO forecast: no earlier successful execution of the plan to learn from.",
        // Healthy servers launch from DRS's on-demand snapshot: within any target.
        "Recovery point: every required server is within the plan's 1 h (rpoMinutes)",
    ] {
        ensure!(
            prompt.contains(expected),
            "the preview shows {expected:?} before the prompt:\n{prompt}"
        );
    }
    ensure!(
        dep.sim.jobs().is_empty(),
        "nothing is launched before the name is typed"
    );
    tmux.send_keys(&["billing", "Enter"])?;

    let end = tmux
        .wait_for("the end of the follow", DRILL_TIMEOUT, &mut seen, |s| {
            s.contains("drs-waves exited")
        })
        .await
        .map_err(|e| anyhow!("{e:#}\n{}", dep.worker_logs()))?;
    ensure!(
        end.contains("drs-waves exited 0"),
        "drs-waves exits 0 after a recovery that succeeded:\n{end}\n{}",
        dep.worker_logs()
    );
    ensure!(
        end.contains("Started RECOVERY recovery-"),
        "the start is confirmed:\n{end}"
    );
    let summary = summary_of_a_followed_recovery(&end, &seen)?;

    // What drs-sim saw: RECOVERY jobs of this one execution, every server launched once.
    let execution = the_one_recovery_launched_every_server_once(&dep, &machine, &summary).await?;

    let history = dep.history(&execution).await?;
    let record = history.execution()?;
    ensure!(record["mode"] == "RECOVERY", "{record}");
    ensure!(record["executionStatus"] == "SUCCEEDED", "{record}");
    ensure!(
        record["startedBy"]
            .as_str()
            .is_some_and(|by| by.starts_with("arn:aws:")),
        "the history names who started it (sts:GetCallerIdentity): {record}"
    );
    // For the record (--nocapture): what the operator saw at the end.
    eprintln!("--- the terminal at the end ---\n{}", end.trim_end());
    drop(tmux);
    Ok(())
}

/// Issue #21: before a RECOVERY is confirmed, `drs-waves start` names every required server
/// whose launch point is further back than the plan's `rpoMinutes` (billing: 60 min). The
/// source site went down two hours ago, so each server's newest snapshot is two hours old. A
/// wrong confirmation then starts nothing: no execution, no DRS job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_cli_start_names_launch_points_past_the_plans_rpo_before_the_confirmation()
-> Result<()> {
    let site_down = billing_servers(&[], 2.0)
        .into_iter()
        .map(|s| {
            s.with_replication_state("STALLED")
                .down_since_minutes(120.0)
        })
        .collect();
    let dep = Deployment::new("cli-rpo", SimConfig::with_servers(site_down)).await?;
    dep.deploy_example("billing").await?;
    let out = dep
        .cli_command()?
        .args(["start", "billing", "--recovery", "--confirm", "not-billing"])
        .stdin(Stdio::null())
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        !out.status.success(),
        "a wrong confirmation fails:\n{stdout}\n{stderr}"
    );
    ensure!(
        stdout.contains("Recovery point: WARNING, the recovery will lose more data than the plan allows: 5 required server(s) past the plan's 1 h"),
        "the summary warns before the confirmation:\n{stdout}\n{stderr}"
    );
    for server in [
        "s-a1b2c3d4e5f600001",
        "s-a1b2c3d4e5f600002",
        "s-a1b2c3d4e5f600003",
        "s-a1b2c3d4e5f600005",
        "s-a1b2c3d4e5f600006",
    ] {
        ensure!(
            stdout
                .lines()
                .any(|l| l.contains(server) && l.contains("rpoMinutes")),
            "{server} is named:\n{stdout}"
        );
    }
    ensure!(
        !stdout
            .lines()
            .any(|l| l.contains("s-a1b2c3d4e5f600004") && l.contains("rpoMinutes")),
        "the optional server is not held to the target:\n{stdout}"
    );
    ensure!(dep.sim.jobs().is_empty(), "nothing launched");
    Ok(())
}

/// The follow's last screen `end` (and the screens `seen` on the way): every wave's live line
/// SUCCEEDED with its bar full, some screen showed a wave launching, and the summary names
/// every wave and ends with the exit status. Returns the summary's first line.
fn summary_of_a_followed_recovery(end: &str, seen: &[String]) -> Result<String> {
    // The live lines, as they were at the end: every wave SUCCEEDED with its bar full.
    for (index, wave) in [(1, "databases"), (2, "app-servers"), (3, "web")] {
        let line = end
            .lines()
            .find(|l| l.contains(&format!("SUCCEEDED wave {index} {wave}")))
            .with_context(|| format!("no live line of wave {index} {wave}:\n{end}"))?;
        ensure!(
            line.contains("[========================] 2/2 launched, 0 failed, 0 pending")
                && line.contains("drsjob-")
                && line.contains(" / 2:00"),
            "wave {index}'s line shows its full bar, counts, time against the timeout and job:\n{line}"
        );
    }
    ensure!(
        seen.iter()
            .any(|s| s.lines().any(|l| l.contains("LAUNCHING wave"))),
        "some screen showed a wave launching: {} screens seen, the last:\n{end}",
        seen.len()
    );
    let summary = end
        .lines()
        .find(|l| {
            l.starts_with("RECOVERY recovery-") && l.contains(" of plan billing: SUCCEEDED in ")
        })
        .with_context(|| format!("no summary line:\n{end}"))?;
    ensure!(
        end.contains("\nexit 0"),
        "the summary ends with the exit status:\n{end}"
    );
    for (index, wave) in [(1, "databases"), (2, "app-servers"), (3, "web")] {
        ensure!(
            end.lines()
                .any(|l| l.starts_with(&format!("  wave {index} {wave}"))
                    && l.contains("SUCCEEDED")
                    && l.contains("2/2 launched, 0 failed")),
            "the summary has wave {index} {wave}:\n{end}"
        );
    }
    Ok(summary.to_owned())
}

/// The one execution of `machine` (the one `summary` names) launched RECOVERY jobs only, each
/// of the six servers once. Returns the execution's ARN.
async fn the_one_recovery_launched_every_server_once(
    dep: &Deployment,
    machine: &str,
    summary: &str,
) -> Result<String> {
    let execs = dep
        .sfn
        .list_executions()
        .state_machine_arn(machine)
        .send()
        .await?;
    ensure!(execs.executions().len() == 1, "one execution: {execs:?}");
    let execution = execs.executions()[0].execution_arn().to_string();
    let name = execs.executions()[0].name().to_string();
    ensure!(summary.contains(&name), "{summary} names {name}");
    let jobs: Vec<_> = dep
        .sim
        .jobs()
        .into_iter()
        .filter(|j| j.job_type == "LAUNCH")
        .collect();
    ensure!(!jobs.is_empty(), "the recovery launched");
    let mut launched = BTreeSet::new();
    for job in &jobs {
        ensure!(
            job.is_drill == Some(false) && job.initiated_by == "START_RECOVERY",
            "a recovery job, not a drill: {job:?}"
        );
        ensure!(
            job.tags.get(job_tags::EXECUTION) == Some(&execution),
            "the job belongs to {execution}: {job:?}"
        );
        for s in &job.servers {
            ensure!(
                launched.insert(s.source_server_id.clone()),
                "{} launched twice",
                s.source_server_id
            );
            ensure!(s.launch_status == drs_sim::LaunchStatus::Launched, "{s:?}");
        }
    }
    ensure!(
        launched.len() == 6,
        "all six servers launched: {launched:?}"
    );
    Ok(execution)
}
