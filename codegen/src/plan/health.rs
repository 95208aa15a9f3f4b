//! A wave's `health:` checks as written, and their validation into the contract's
//! [`HealthCheck`]s: one kind per check (`http`, `tcp` or `alarm`), a URL the worker can probe,
//! a port in range, an expected status or range, an alarm name CloudWatch allows, and an
//! interval no longer than the timeout.

use schemars::JsonSchema;
use serde::Deserialize;

use super::fields::{Scope, duration_seconds};
use crate::contract::health::{HOSTNAME_PLACEHOLDER, PRIVATE_IP_PLACEHOLDER};
use crate::contract::{HealthCheck, Probe, StatusRange};

/// How long a check may take to pass unless it says otherwise.
pub const DEFAULT_HEALTH_TIMEOUT_SECONDS: u32 = 10 * 60;
/// How often a check is probed unless it says otherwise.
pub const DEFAULT_HEALTH_INTERVAL_SECONDS: u32 = 30;
/// The longest a check may wait: a day (a wave nobody watches should not hold a recovery).
pub const MAX_HEALTH_TIMEOUT_SECONDS: u32 = 24 * 3600;
/// CloudWatch's longest AlarmName.
pub const MAX_ALARM_NAME_CHARS: usize = 255;
/// DescribeAlarms reads at most 100 alarm names at once (its `AlarmNames` member): a wave's
/// checks name at most that many.
pub const MAX_ALARMS_PER_WAVE: usize = 100;
/// The longest wait between two probes (also the longest Wait the checks generate).
pub const MAX_HEALTH_INTERVAL_SECONDS: i64 = 3600;

/// One health check: exactly one of `http`, `tcp` or `alarm`, with its timing.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HealthFile {
    /// An HTTP GET (http:// only) whose status must match `expect`.
    #[serde(default)]
    pub http: Option<HttpFile>,
    /// A TCP connection to a port of each recovered server of the wave, or of `host`.
    #[serde(default)]
    pub tcp: Option<TcpFile>,
    /// A CloudWatch metric alarm (its name) that must be in state OK.
    #[serde(default)]
    pub alarm: Option<String>,
    /// How long the check may take to pass, counted from the end of the wave's launch
    /// (default 10, at most 1,440). Past it the wave fails and its `onFailure` applies.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub timeout_minutes: Option<f64>,
    /// The wait between two probes of the check, in seconds (default 30, at most the timeout).
    #[serde(default)]
    #[schemars(range(min = 1, max = 3600))]
    pub interval_seconds: Option<i64>,
}

/// An HTTP check. `{privateIp}` or `{hostname}` in the URL's host makes it one check per
/// recovered server of the wave (its private IP address, or its host name as DRS identified it).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HttpFile {
    /// `http://HOST[:PORT]/PATH`; HOST may be `{privateIp}` or `{hostname}`.
    pub url: String,
    /// The status that passes: a code (200), a class ("2xx") or a range ("200-399").
    /// Default "2xx".
    #[serde(default)]
    pub expect: Option<ExpectFile>,
}

/// An expected HTTP status as written.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ExpectFile {
    Code(i64),
    Text(String),
}

/// A TCP check.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TcpFile {
    /// The port to connect to (1-65535).
    pub port: i64,
    /// A host name or IP address; default: each recovered server of the wave (its private IP).
    #[serde(default)]
    pub host: Option<String>,
}

/// The checks of a `health` list; problems name `<prefix>health[k].<field>`.
pub(super) fn health_checks(
    scope: &mut Scope<'_>,
    prefix: &str,
    list: &[HealthFile],
) -> Vec<HealthCheck> {
    let checks: Vec<HealthCheck> = list
        .iter()
        .enumerate()
        .filter_map(|(k, h)| health_check(scope, &format!("{prefix}health[{k}]."), h))
        .collect();
    let alarms = alarm_names(&checks).len();
    if alarms > MAX_ALARMS_PER_WAVE {
        scope.report(
            format!("{prefix}health"),
            format!("{alarms} alarms: DescribeAlarms reads at most {MAX_ALARMS_PER_WAVE} at once; check a composite of them, or fewer"),
        );
    }
    checks
}

fn health_check(scope: &mut Scope<'_>, prefix: &str, h: &HealthFile) -> Option<HealthCheck> {
    let kinds = [h.http.is_some(), h.tcp.is_some(), h.alarm.is_some()];
    let probe = match (&h.http, &h.tcp, &h.alarm) {
        _ if kinds.iter().filter(|k| **k).count() > 1 => {
            scope.report(
                prefix.trim_end_matches('.'),
                "a health check is one kind: give one of http, tcp or alarm",
            );
            None
        }
        (Some(http), _, _) => http_probe(scope, prefix, http),
        (_, Some(tcp), _) => tcp_probe(scope, prefix, tcp),
        (_, _, Some(alarm)) => alarm_probe(scope, prefix, alarm),
        (None, None, None) => {
            scope.report(
                prefix.trim_end_matches('.'),
                "a health check needs a kind: give http, tcp or alarm",
            );
            None
        }
    };
    let timeout = match h.timeout_minutes {
        None => Some(DEFAULT_HEALTH_TIMEOUT_SECONDS),
        Some(m) => duration_seconds(scope, prefix, "timeout", Some(m), None).and_then(|s| {
            if s > MAX_HEALTH_TIMEOUT_SECONDS {
                scope.report(
                    format!("{prefix}timeoutMinutes"),
                    format!("{m} minutes is more than a day (1440): a check that long holds the recovery for nothing"),
                );
                None
            } else {
                Some(s)
            }
        }),
    };
    let interval = match h.interval_seconds {
        None => Some(DEFAULT_HEALTH_INTERVAL_SECONDS),
        Some(s) if (1..=MAX_HEALTH_INTERVAL_SECONDS).contains(&s) => u32::try_from(s).ok(),
        Some(s) => {
            scope.report(
                format!("{prefix}intervalSeconds"),
                format!("{s} is not between 1 and {MAX_HEALTH_INTERVAL_SECONDS} seconds"),
            );
            None
        }
    };
    let (timeout_seconds, interval_seconds) = (timeout?, interval?);
    if interval_seconds > timeout_seconds {
        scope.report(
            format!("{prefix}intervalSeconds"),
            format!(
                "{interval_seconds} seconds between probes is more than the check's timeout ({timeout_seconds} s): it would be probed once at most"
            ),
        );
        return None;
    }
    Some(HealthCheck {
        probe: probe?,
        timeout_seconds,
        interval_seconds,
    })
}

/// CloudWatch's AlarmName: 1 to 255 characters (the API reference's constraint); no control
/// characters (they could not be typed in the console either), no IAM wildcards (the CDK app
/// grants DescribeAlarms on the alarm's ARN).
fn alarm_probe(scope: &mut Scope<'_>, prefix: &str, name: &str) -> Option<Probe> {
    let length = name.chars().count();
    if !(1..=MAX_ALARM_NAME_CHARS).contains(&length) || name.chars().any(char::is_control) {
        scope.report(
            format!("{prefix}alarm"),
            format!("{name:?} is not a CloudWatch alarm name: give 1 to {MAX_ALARM_NAME_CHARS} characters without control characters"),
        );
        return None;
    }
    if name.contains(['*', '?']) {
        scope.report(
            format!("{prefix}alarm"),
            format!("{name:?}: * and ? would be wildcards in the IAM policy that lets Step Functions read the alarm: rename the alarm"),
        );
        return None;
    }
    Some(Probe::Alarm {
        name: name.to_owned(),
    })
}

/// The alarm names a wave's checks read, each once, in the plan's order.
pub fn alarm_names(checks: &[HealthCheck]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for c in checks {
        if let Probe::Alarm { name } = &c.probe
            && !names.contains(name)
        {
            names.push(name.clone());
        }
    }
    names
}

fn http_probe(scope: &mut Scope<'_>, prefix: &str, http: &HttpFile) -> Option<Probe> {
    let field = format!("{prefix}http.url");
    let url = http.url.as_str();
    let url_ok = match url_problem(url) {
        Some(why) => {
            scope.report(field, format!("{url:?} {why}"));
            false
        }
        None => true,
    };
    let expect = match &http.expect {
        None => Some(StatusRange { min: 200, max: 299 }),
        Some(e) => {
            let range = expect_range(e);
            if range.is_none() {
                scope.report(
                    format!("{prefix}http.expect"),
                    format!(
                        "{} is not an HTTP status: give a code (200), a class (\"2xx\") or a range (\"200-399\") within 100-599",
                        expect_text(e)
                    ),
                );
            }
            range
        }
    };
    (url_ok)
        .then_some(())
        .and(expect)
        .map(|expect| Probe::Http {
            url: url.to_owned(),
            expect,
        })
}

/// What is wrong with an HTTP check's URL, if anything.
fn url_problem(url: &str) -> Option<String> {
    if url.starts_with("https://") {
        return Some(
            "is https: the worker probes http:// only (put the check on the plain port, or check the TLS port with tcp)"
                .to_owned(),
        );
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return Some("is not an http:// URL".to_owned());
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("has a space or a control character".to_owned());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if let Some(p) = port
        && !p.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return Some(format!("names port {p:?}: a port is 1-65535"));
    }
    if !is_host(host) {
        return Some(format!(
            "names host {host:?}: give a host name, an IPv4 address, {PRIVATE_IP_PLACEHOLDER} or {HOSTNAME_PLACEHOLDER}"
        ));
    }
    let path = &rest[authority.len()..];
    if path.contains(['{', '}']) {
        return Some(format!(
            "has a placeholder outside its host: only the host may be {PRIVATE_IP_PLACEHOLDER} or {HOSTNAME_PLACEHOLDER}"
        ));
    }
    None
}

/// A host name, an IPv4 address, or one of the placeholders.
pub(super) fn is_host(host: &str) -> bool {
    host == PRIVATE_IP_PLACEHOLDER
        || host == HOSTNAME_PLACEHOLDER
        || (!host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }))
}

fn tcp_probe(scope: &mut Scope<'_>, prefix: &str, tcp: &TcpFile) -> Option<Probe> {
    let port = u16::try_from(tcp.port).ok().filter(|p| *p > 0);
    if port.is_none() {
        scope.report(
            format!("{prefix}tcp.port"),
            format!("{} is not a port: give 1-65535", tcp.port),
        );
    }
    let host_ok = match &tcp.host {
        Some(h) if !is_host(h) => {
            scope.report(
                format!("{prefix}tcp.host"),
                format!("{h:?} is not a host: give a host name, an IPv4 address, {PRIVATE_IP_PLACEHOLDER} or {HOSTNAME_PLACEHOLDER}"),
            );
            false
        }
        _ => true,
    };
    let host = tcp.host.clone().filter(|h| h != PRIVATE_IP_PLACEHOLDER);
    (host_ok)
        .then_some(())
        .and(port)
        .map(|port| Probe::Tcp { port, host })
}

fn expect_range(e: &ExpectFile) -> Option<StatusRange> {
    let in_range = |c: u16| (100..=599).contains(&c);
    let range = match e {
        ExpectFile::Code(c) => {
            let c = u16::try_from(*c).ok()?;
            StatusRange { min: c, max: c }
        }
        ExpectFile::Text(t) => {
            let t = t.trim();
            if let Some(class) = t.strip_suffix("xx").or_else(|| t.strip_suffix("XX")) {
                let d: u16 = class.parse().ok().filter(|d| (1..=5).contains(d))?;
                StatusRange {
                    min: d * 100,
                    max: d * 100 + 99,
                }
            } else if let Some((a, b)) = t.split_once('-') {
                StatusRange {
                    min: a.trim().parse().ok()?,
                    max: b.trim().parse().ok()?,
                }
            } else {
                let c = t.parse().ok()?;
                StatusRange { min: c, max: c }
            }
        }
    };
    (in_range(range.min) && in_range(range.max) && range.min <= range.max).then_some(range)
}

fn expect_text(e: &ExpectFile) -> String {
    match e {
        ExpectFile::Code(c) => c.to_string(),
        ExpectFile::Text(t) => format!("{t:?}"),
    }
}

#[cfg(test)]
mod tests;
