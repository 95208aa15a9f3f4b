//! CloudWatch alarms in LocalStack for the health checks' `alarm:` tests, through CloudWatch's
//! query API (form-encoded POST, `Version=2010-08-01`): two calls do not justify another SDK
//! crate in the build. Loopback only, as every service in the tests.

use anyhow::{Context, Result, bail, ensure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A metric alarm on a metric nobody publishes, in `state` with `reason`. CloudWatch evaluates
/// an alarm every period (LocalStack too: a missing datapoint turns it INSUFFICIENT_DATA within
/// seconds); `TreatMissingData: ignore` keeps the state as set, so only the test changes it.
pub async fn put_alarm_in_state(
    endpoint: &str,
    name: &str,
    state: &str,
    reason: &str,
) -> Result<()> {
    call(
        endpoint,
        &[
            ("Action", "PutMetricAlarm"),
            ("AlarmName", name),
            ("MetricName", "Errors5xx"),
            ("Namespace", "DrsWaves/E2E"),
            ("Statistic", "Sum"),
            ("Period", "60"),
            ("EvaluationPeriods", "1"),
            ("Threshold", "1"),
            ("ComparisonOperator", "GreaterThanThreshold"),
            ("TreatMissingData", "ignore"),
        ],
    )
    .await?;
    set_alarm_state(endpoint, name, state, reason).await
}

/// SetAlarmState, as an operator (or CloudWatch) would change it.
pub async fn set_alarm_state(endpoint: &str, name: &str, state: &str, reason: &str) -> Result<()> {
    call(
        endpoint,
        &[
            ("Action", "SetAlarmState"),
            ("AlarmName", name),
            ("StateValue", state),
            ("StateReason", reason),
        ],
    )
    .await
}

async fn call(endpoint: &str, params: &[(&str, &str)]) -> Result<()> {
    let authority = endpoint
        .strip_prefix("http://")
        .with_context(|| format!("{endpoint} is not an http:// endpoint"))?
        .trim_end_matches('/');
    ensure!(
        authority.starts_with("127.0.0.1:"),
        "CloudWatch calls go to loopback only, not {authority}"
    );
    let mut body = String::from("Version=2010-08-01");
    for (k, v) in params {
        body.push('&');
        body.push_str(k);
        body.push('=');
        body.push_str(&encode(v));
    }
    // LocalStack routes by the credential scope's service ("monitoring"); it checks no signature.
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting to {authority}"))?;
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.split_whitespace().nth(1).unwrap_or_default();
    if status != "200" {
        bail!("CloudWatch {:?} answered: {answer}", params.first());
    }
    Ok(())
}

/// Form encoding: unreserved characters as they are, everything else %XX.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
