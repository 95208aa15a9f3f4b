//! The check-health task: one round of a wave's HTTP and TCP health checks, from inside the
//! VPC. Every check not yet passed and due is probed (each recovered server of the wave when its URL or
//! host names `{privateIp}` / `{hostname}`, or has no host); a check passes when every one of
//! its probes passes in the same round, and stays passed. The round's results replace the
//! wave's HEALTH item in the history. HEALTHY when every check has passed; FAILED when a check
//! has not passed within its timeout (the wave's state then FAILED, with the reason naming the
//! check and its answers, so that the wave's `onFailure` applies); CHECKING otherwise, with the
//! wait until the next round (when the first check not yet passed is due again: each check is
//! probed at its own `intervalSeconds`, and once more at its deadline; never past the nearest
//! deadline).

use std::collections::BTreeSet;
use std::time::Duration;

use drs_waves_contract::health::{HOSTNAME_PLACEHOLDER, PRIVATE_IP_PLACEHOLDER};
use drs_waves_contract::{
    ALARM_OK, AlarmsRead, CheckHealthInput, HealthCheck, HealthStatus, MAX_CAUSE_CHARS, Mode,
    Probe, WaveSpec, WaveState, WaveStatus,
};
use drs_waves_history::{HealthCheckRecord, History, ProbeRecord, WaveHealthRecord};
use futures::future::join_all;
use tracing::info;

use super::Handlers;
use super::probe::{Probed, probe_http, probe_tcp};
use crate::error::{TaskError, truncate_chars};
use crate::sfn::ExecutionLookup;
use drs_waves_aws::drs::DrsAccounts;
use drs_waves_rules::{format_time, parse_time, seconds_between};

/// The longest one probe may take: a round must end well within its task's timeout.
const MAX_PROBE_SECONDS: u32 = 10;

/// A recovered server of the wave, as the checks address it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    pub source_server_id: String,
    pub private_ip: Option<String>,
    pub hostname: Option<String>,
}

/// What one probe of a check reaches: the target in words, or why it cannot be probed.
enum Target {
    Http { url: String },
    Tcp { host: String, port: u16 },
    Missing { target: String, why: String },
}

impl<D: DrsAccounts, H: History, X: ExecutionLookup> Handlers<D, H, X> {
    /// One round of the wave's health checks.
    pub async fn check_health(&self, input: CheckHealthInput) -> Result<WaveState, TaskError> {
        let run = &input.run;
        let wave = &input.wave;
        let mut state = input.state;
        self.ensure_open(run).await?;
        let mut health = state.health.clone().ok_or_else(|| {
            TaskError::InvalidInput(format!(
                "wave '{}' state has no health checks begun",
                wave.name
            ))
        })?;
        let started = parse_time(&health.started_at).ok_or_else(|| {
            TaskError::InvalidInput(format!(
                "wave '{}' health has an unreadable startedAt {:?}",
                wave.name, health.started_at
            ))
        })?;
        let previous = self
            .history
            .wave_health(&run.execution_id, wave.index)
            .await?;
        let mut record = previous
            .filter(|p| p.started_at == health.started_at)
            .unwrap_or_else(|| fresh_record(&run.execution_id, wave, &health.started_at));
        let servers = if wave.health.iter().any(per_server) {
            self.recovered_servers(wave, &run.execution_id, run.mode == Mode::Drill)
                .await?
        } else {
            Vec::new()
        };
        let now = self.now();
        let at = format_time(now);
        let elapsed = seconds_between(started, now);
        let mut due = health.due_seconds.clone();
        due.resize(wave.health.len(), 0);
        let mut passed: BTreeSet<u32> = health.passed.iter().copied().collect();
        for (k, check) in (0u32..).zip(&wave.health) {
            let slot = k as usize;
            if passed.contains(&k) || !is_due(check, due[slot], elapsed) {
                continue;
            }
            due[slot] = elapsed + u64::from(check.interval_seconds);
            let results = probe_check(check, &servers, input.alarms.as_ref()).await;
            let ok = !results.is_empty() && results.iter().all(|(_, p)| p.ok);
            if let Some(r) = record.checks.get_mut(slot) {
                r.probes += 1;
                r.last = results
                    .into_iter()
                    .map(|(target, p)| ProbeRecord {
                        target,
                        ok: p.ok,
                        answer: p.answer,
                        at: at.clone(),
                    })
                    .collect();
                if ok {
                    r.passed_at = Some(at.clone());
                }
            }
            if ok {
                passed.insert(k);
            }
        }
        health.rounds += 1;
        health.passed = passed.iter().copied().collect();
        health.due_seconds = due;
        let pending: Vec<(u32, &HealthCheck)> = (0u32..)
            .zip(&wave.health)
            .filter(|(k, _)| !passed.contains(k))
            .collect();
        let late = pending
            .iter()
            .find(|(_, c)| elapsed >= u64::from(c.timeout_seconds));
        if pending.is_empty() {
            health.status = HealthStatus::Healthy;
            health.healthy_at.clone_from(&at);
            health.next_wait_seconds = 0;
            record.healthy_at = Some(at.clone());
            state.status = WaveStatus::Succeeded;
            state.reason = String::new();
        } else if let Some((k, check)) = late {
            health.status = HealthStatus::Failed;
            health.next_wait_seconds = 0;
            state.status = WaveStatus::Failed;
            let answers = record
                .checks
                .get(*k as usize)
                .map(|r| answers_of(&r.last))
                .unwrap_or_default();
            state.reason = truncate_chars(
                &format!(
                    "wave '{}': health check {} ({}) did not pass within {} s: {answers}",
                    wave.name,
                    k + 1,
                    check.probe,
                    check.timeout_seconds
                ),
                MAX_CAUSE_CHARS,
            );
        } else {
            health.status = HealthStatus::Checking;
            health.next_wait_seconds = next_wait(&pending, &health.due_seconds, elapsed);
        }
        record.status = health.status;
        record.rounds = health.rounds;
        self.history.record_wave_health(record).await?;
        info!(wave = %wave.name, status = health.status.as_str(), passed = health.passed.len(),
              checks = wave.health.len(), round = health.rounds, "health checks");
        state.health = Some(health);
        Ok(state)
    }

    /// The wave's recovered servers in this execution, each with its private IP address and
    /// host name as DRS lists them.
    async fn recovered_servers(
        &self,
        wave: &WaveSpec,
        execution_id: &str,
        is_drill: bool,
    ) -> Result<Vec<Recovered>, TaskError> {
        let listed = self.wave_instances(wave, execution_id, is_drill).await?;
        Ok(listed
            .into_iter()
            .map(|i| Recovered {
                source_server_id: i.source_server_id,
                private_ip: i.private_ips.into_iter().next(),
                hostname: i.hostname,
            })
            .collect())
    }
}

fn fresh_record(execution_id: &str, wave: &WaveSpec, started_at: &str) -> WaveHealthRecord {
    WaveHealthRecord {
        execution_id: execution_id.to_owned(),
        wave_index: wave.index,
        status: HealthStatus::Checking,
        started_at: started_at.to_owned(),
        healthy_at: None,
        rounds: 0,
        checks: wave
            .health
            .iter()
            .map(|c| HealthCheckRecord {
                what: c.probe.to_string(),
                passed_at: None,
                probes: 0,
                last: Vec::new(),
            })
            .collect(),
    }
}

/// Whether the check is made once per recovered server.
pub fn per_server(check: &HealthCheck) -> bool {
    match &check.probe {
        Probe::Http { url, .. } => {
            url.contains(PRIVATE_IP_PLACEHOLDER) || url.contains(HOSTNAME_PLACEHOLDER)
        }
        Probe::Tcp { host, .. } => host.as_deref().is_none_or(|h| h == HOSTNAME_PLACEHOLDER),
        Probe::Alarm { .. } => false,
    }
}

/// An alarm check's one probe, judged on what Step Functions read for this round.
fn judge_alarm(name: &str, read: Option<&AlarmsRead>) -> Probed {
    let (ok, answer) = match read {
        None => (false, "the alarms were not read for this round".to_owned()),
        Some(AlarmsRead {
            error: Some(error),
            cause,
            ..
        }) => (
            false,
            format!(
                "DescribeAlarms failed: {error}: {}",
                cause.as_deref().unwrap_or_default()
            ),
        ),
        Some(read) => match read.metric_alarms.iter().find(|a| a.alarm_name == name) {
            None => (
                false,
                "CloudWatch lists no metric alarm of that name (composite alarms are not read: DescribeAlarms needs them allowed on *)".to_owned(),
            ),
            Some(a) if a.state_value == ALARM_OK => (true, ALARM_OK.to_owned()),
            Some(a) => (false, format!("{}: {}", a.state_value, a.state_reason)),
        },
    };
    Probed { ok, answer }
}

/// What each probe of the check reaches.
fn targets(check: &HealthCheck, servers: &[Recovered]) -> Vec<Target> {
    let fill = |text: &str, s: &Recovered| -> Result<String, String> {
        let mut out = text.to_owned();
        if out.contains(PRIVATE_IP_PLACEHOLDER) {
            let ip = s
                .private_ip
                .as_deref()
                .ok_or("DRS lists no private IP address")?;
            out = out.replace(PRIVATE_IP_PLACEHOLDER, ip);
        }
        if out.contains(HOSTNAME_PLACEHOLDER) {
            let host = s.hostname.as_deref().ok_or("DRS lists no host name")?;
            out = out.replace(HOSTNAME_PLACEHOLDER, host);
        }
        Ok(out)
    };
    let each = |make: &dyn Fn(&Recovered) -> Result<Target, String>| -> Vec<Target> {
        servers
            .iter()
            .map(|s| {
                make(s).unwrap_or_else(|why| Target::Missing {
                    target: s.source_server_id.clone(),
                    why,
                })
            })
            .collect()
    };
    match &check.probe {
        Probe::Http { url, .. } if per_server(check) => {
            each(&|s| fill(url, s).map(|url| Target::Http { url }))
        }
        Probe::Http { url, .. } => vec![Target::Http { url: url.clone() }],
        Probe::Tcp { port, host } if per_server(check) => {
            let text = host
                .clone()
                .unwrap_or_else(|| PRIVATE_IP_PLACEHOLDER.to_owned());
            each(&|s| fill(&text, s).map(|host| Target::Tcp { host, port: *port }))
        }
        Probe::Tcp { port, host } => vec![Target::Tcp {
            host: host.clone().unwrap_or_default(),
            port: *port,
        }],
        // Judged on what Step Functions read (`judge_alarm`), not reached from here.
        Probe::Alarm { .. } => Vec::new(),
    }
}

/// Probes every target of the check at once; no target (no recovered server) is a failure.
/// An alarm check reads what Step Functions read for the round.
async fn probe_check(
    check: &HealthCheck,
    servers: &[Recovered],
    alarms: Option<&AlarmsRead>,
) -> Vec<(String, Probed)> {
    if let Probe::Alarm { name } = &check.probe {
        return vec![(format!("alarm {name}"), judge_alarm(name, alarms))];
    }
    let deadline = Duration::from_secs(u64::from(
        check.interval_seconds.clamp(1, MAX_PROBE_SECONDS),
    ));
    let expect = match &check.probe {
        Probe::Http { expect, .. } => Some(*expect),
        Probe::Tcp { .. } | Probe::Alarm { .. } => None,
    };
    let targets = targets(check, servers);
    if targets.is_empty() {
        return vec![(
            check.probe.to_string(),
            Probed {
                ok: false,
                answer: "the wave has no recovered server to probe".to_owned(),
            },
        )];
    }
    join_all(targets.into_iter().map(|t| async move {
        match t {
            Target::Http { url } => {
                let range =
                    expect.unwrap_or(drs_waves_contract::StatusRange { min: 200, max: 299 });
                let probed = probe_http(&url, range, deadline).await;
                (url, probed)
            }
            Target::Tcp { host, port } => {
                let probed = probe_tcp(&host, port, deadline).await;
                (format!("{host}:{port}"), probed)
            }
            Target::Missing { target, why } => (
                target,
                Probed {
                    ok: false,
                    answer: why,
                },
            ),
        }
    }))
    .await
}

/// The failing probes' answers, in words.
fn answers_of(last: &[ProbeRecord]) -> String {
    let failing: Vec<String> = last
        .iter()
        .filter(|p| !p.ok)
        .map(|p| format!("{} answered {}", p.target, p.answer))
        .collect();
    if failing.is_empty() {
        "no probe ran".to_owned()
    } else {
        failing.join("; ")
    }
}

/// Whether a check is probed in this round: its interval has passed since its last probe (a
/// second's slack for the clocks of the Wait and the worker), or its timeout has come (it gets
/// a last probe before it is judged).
fn is_due(check: &HealthCheck, due: u64, elapsed: u64) -> bool {
    elapsed + 1 >= due || elapsed >= u64::from(check.timeout_seconds)
}

/// The wait before the next round: until the first pending check is due again (each at its
/// own interval), never past the nearest of their deadlines (so a timeout is seen on time), at
/// least a second.
fn next_wait(pending: &[(u32, &HealthCheck)], due: &[u64], elapsed: u64) -> u32 {
    let wait = pending
        .iter()
        .map(|(k, c)| {
            let next = due.get(*k as usize).copied().unwrap_or(0);
            next.saturating_sub(elapsed)
                .min(u64::from(c.timeout_seconds).saturating_sub(elapsed))
        })
        .min()
        .unwrap_or(0);
    u32::try_from(wait).unwrap_or(u32::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use drs_waves_contract::StatusRange;

    fn check(probe: Probe, timeout: u32, interval: u32) -> HealthCheck {
        HealthCheck {
            probe,
            timeout_seconds: timeout,
            interval_seconds: interval,
        }
    }

    #[test]
    fn each_check_is_probed_at_its_own_interval_and_never_waits_past_a_deadline() {
        let tcp = |port| Probe::Tcp { port, host: None };
        let (a, b) = (check(tcp(1), 600, 30), check(tcp(2), 100, 60));
        let both = [(0, &a), (1, &b)];
        // Probed at 0: a is due at 30, b at 60; the next round is at 30 and probes a only.
        assert_eq!(next_wait(&both, &[30, 60], 0), 30);
        assert!(is_due(&a, 30, 30) && !is_due(&b, 60, 30));
        // a probed again at 30 (due 60): both are due at 60.
        assert_eq!(next_wait(&both, &[60, 60], 30), 30);
        // b's deadline (100) comes before either is due again.
        assert_eq!(next_wait(&both, &[120, 120], 90), 10);
        assert!(
            is_due(&b, 120, 100),
            "a check gets a last probe at its deadline"
        );
        assert_eq!(next_wait(&[(0, &a)], &[630], 600), 1);
        assert!(is_due(&a, 0, 0), "a check never probed is due at once");
    }

    #[test]
    fn an_alarm_passes_in_ok_only_and_every_other_answer_says_why() {
        let read = AlarmsRead {
            metric_alarms: vec![
                drs_waves_contract::AlarmRead {
                    alarm_name: "app-5xx".into(),
                    state_value: "ALARM".into(),
                    state_reason: "Threshold Crossed: 12 > 1".into(),
                },
                drs_waves_contract::AlarmRead {
                    alarm_name: "app-latency".into(),
                    state_value: "OK".into(),
                    state_reason: String::new(),
                },
            ],
            ..AlarmsRead::default()
        };
        let judged = |name: &str, read: Option<&AlarmsRead>| {
            let p = judge_alarm(name, read);
            (p.ok, p.answer)
        };
        assert_eq!(judged("app-latency", Some(&read)), (true, "OK".into()));
        assert_eq!(
            judged("app-5xx", Some(&read)),
            (false, "ALARM: Threshold Crossed: 12 > 1".into())
        );
        assert!(
            judged("db-cpu", Some(&read))
                .1
                .starts_with("CloudWatch lists no metric alarm of that name")
        );
        let denied = AlarmsRead {
            error: Some("CloudWatch.AccessDeniedException".into()),
            cause: Some("not authorized".into()),
            ..AlarmsRead::default()
        };
        assert_eq!(
            judged("app-latency", Some(&denied)),
            (
                false,
                "DescribeAlarms failed: CloudWatch.AccessDeniedException: not authorized".into()
            )
        );
        assert!(!judged("app-latency", None).0);
        // What the generated state leaves: DescribeAlarms' own members, the rest ignored.
        let wire: AlarmsRead = serde_json::from_value(serde_json::json!({"MetricAlarms": [
            {"AlarmName": "app-5xx", "StateValue": "OK", "StateReason": "fine", "Period": 60}
        ]}))
        .expect("parse");
        assert!(judge_alarm("app-5xx", Some(&wire)).ok);
    }

    #[test]
    fn placeholders_make_one_probe_per_recovered_server_and_say_what_is_missing() {
        let servers = vec![
            Recovered {
                source_server_id: "s-1".into(),
                private_ip: Some("10.0.0.5".into()),
                hostname: Some("db1".into()),
            },
            Recovered {
                source_server_id: "s-2".into(),
                private_ip: None,
                hostname: Some("db2".into()),
            },
        ];
        let http = check(
            Probe::Http {
                url: "http://{privateIp}:8080/health".into(),
                expect: StatusRange { min: 200, max: 299 },
            },
            60,
            5,
        );
        let got: Vec<String> = targets(&http, &servers)
            .into_iter()
            .map(|t| match t {
                Target::Http { url } => url,
                Target::Tcp { host, port } => format!("{host}:{port}"),
                Target::Missing { target, why } => format!("{target}: {why}"),
            })
            .collect();
        assert_eq!(
            got,
            [
                "http://10.0.0.5:8080/health",
                "s-2: DRS lists no private IP address"
            ]
        );
        let named = check(
            Probe::Tcp {
                port: 5432,
                host: Some("db.internal".into()),
            },
            60,
            5,
        );
        assert!(!per_server(&named));
        assert_eq!(targets(&named, &servers).len(), 1);
        let by_name = check(
            Probe::Tcp {
                port: 5432,
                host: Some(HOSTNAME_PLACEHOLDER.into()),
            },
            60,
            5,
        );
        assert!(per_server(&by_name));
    }
}
