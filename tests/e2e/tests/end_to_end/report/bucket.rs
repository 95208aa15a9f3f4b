//! The copy of the report the worker writes to the report bucket (LocalStack's S3, with Object
//! Lock as the real bucket has it) at the end of a drill: the same report `drs-waves-report`
//! renders, kept for the bucket's retention.

use super::*;

/// An S3 client for LocalStack's S3 (path-style: the bucket is not a host name).
async fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let sdk = drs_test_harness::sdk_config(endpoint).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    )
}

/// The local report bucket's default retention (scripts/lib/stack.py), GOVERNANCE mode.
const LOCAL_RETENTION: time::Duration = time::Duration::days(1);

/// A bucket with Object Lock and a default retention, as scripts/lib/stack.py makes the local
/// report bucket and the CDK app the real one: S3 refuses an upload to it without a checksum.
async fn create_locked_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<()> {
    use aws_sdk_s3::types::{
        DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
        ObjectLockRule,
    };
    s3.create_bucket()
        .bucket(bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .context("CreateBucket")?;
    let days = i32::try_from(LOCAL_RETENTION.whole_days()).context("retention days")?;
    s3.put_object_lock_configuration()
        .bucket(bucket)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(
                            DefaultRetention::builder()
                                .mode(ObjectLockRetentionMode::Governance)
                                .days(days)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .context("PutObjectLockConfiguration")?;
    Ok(())
}

/// When an object's retention ends; it must be in GOVERNANCE mode (GetObjectRetention and
/// HeadObject agree).
async fn retention(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<OffsetDateTime> {
    use aws_sdk_s3::types::{ObjectLockMode, ObjectLockRetentionMode};
    let got = s3
        .get_object_retention()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .with_context(|| format!("GetObjectRetention {key}"))?;
    let retention = got
        .retention()
        .with_context(|| format!("{key} has no retention"))?;
    ensure!(
        retention.mode() == Some(&ObjectLockRetentionMode::Governance),
        "{key}: {retention:?}"
    );
    let until = retention
        .retain_until_date()
        .with_context(|| format!("{key}: a retention without its end"))?;
    let head = s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .with_context(|| format!("HeadObject {key}"))?;
    ensure!(
        head.object_lock_mode() == Some(&ObjectLockMode::Governance)
            && head.object_lock_retain_until_date() == Some(until),
        "{key}: HeadObject says {:?} until {:?}, GetObjectRetention {retention:?}",
        head.object_lock_mode(),
        head.object_lock_retain_until_date()
    );
    OffsetDateTime::from_unix_timestamp(until.secs()).context("retain-until date")
}

async fn object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<(Vec<u8>, String)> {
    let got = s3.get_object().bucket(bucket).key(key).send().await.ok()?;
    let content_type = got.content_type().unwrap_or_default().to_owned();
    let body = got.body.collect().await.ok()?.into_bytes().to_vec();
    Some((body, content_type))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_writes_the_report_of_a_finished_drill_to_the_bucket() -> Result<()> {
    let stack = tokio::task::spawn_blocking(drs_e2e::shared_stack).await??;
    let s3 = s3_client(&stack.s3_endpoint).await;
    let mut dep = Deployment::new(
        "report-s3",
        SimConfig::with_servers(billing_servers(&[APP2_OPTIONAL], 1.5)),
    )
    .await?;
    // A bucket of this deployment's own, as the local stack's is (Object Lock, GOVERNANCE, 1 day).
    let bucket = format!("{}-reports", dep.prefix).to_lowercase();
    create_locked_bucket(&s3, &bucket).await?;
    let machine = dep.deploy_example("billing").await?;
    dep.start_worker(&[
        ("DRS_WAVES_REPORT_BUCKET", bucket.as_str()),
        ("AWS_ENDPOINT_URL_S3", stack.s3_endpoint.as_str()),
        ("DRS_WAVES_S3_FORCE_PATH_STYLE", "true"),
    ])?;
    let before_upload = OffsetDateTime::now_utc();
    let execution = dep.start_execution(&machine, &drill()).await?;
    // While it runs, its report says so and shows what is known.
    assert_the_report_of_the_running_drill(&dep, &execution).await?;
    let ended = dep
        .wait_for_end(&execution, Duration::from_secs(180))
        .await?;
    ensure!(
        ended.succeeded(),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let name = execution.rsplit(':').next().context("execution name")?;
    let prefix = format!("billing/{name}/");
    // The finish task wrote both files before it answered; polled all the same.
    let ((json, json_type), (html, html_type)) = drs_test_harness::eventually(
        "the report in the bucket",
        Duration::from_secs(30),
        Duration::from_millis(250),
        || {
            let s3 = s3.clone();
            let (bucket, prefix) = (bucket.clone(), prefix.clone());
            async move {
                let json = object(&s3, &bucket, &format!("{prefix}report.json")).await?;
                let html = object(&s3, &bucket, &format!("{prefix}report.html")).await?;
                Some((json, html))
            }
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:#}\n{}", dep.worker_logs()))?;
    assert_eq!(json_type, "application/json");
    assert_eq!(html_type, "text/html; charset=utf-8");
    // The bucket's default retention held both files: they cannot be quietly rewritten.
    for file in ["report.json", "report.html"] {
        let key = format!("{prefix}{file}");
        let retained_until = retention(&s3, &bucket, &key).await?;
        let earliest = before_upload + LOCAL_RETENTION - time::Duration::SECOND;
        let latest = OffsetDateTime::now_utc() + LOCAL_RETENTION + time::Duration::SECOND;
        assert!(
            (earliest..=latest).contains(&retained_until),
            "{key} retained until {retained_until}, not about a day after its upload ({earliest}..={latest})"
        );
    }
    let stored: drs_waves_report::Report = serde_json::from_slice(&json)?;
    assert_eq!(
        String::from_utf8(html)?,
        drs_waves_report::render::html(&stored),
        "the stored page shows the stored JSON's facts"
    );
    // Where it went is on the EXECUTION item.
    let items = dep.history(&execution).await?;
    assert_eq!(
        items.execution()?["reportLocation"],
        serde_json::json!(format!("s3://{bucket}/{prefix}")),
        "{:?}",
        items.execution()?
    );

    // The same report as `drs-waves report` renders now, but for when it was made: the finish
    // task wrote it while Step Functions still had the execution RUNNING.
    let rendered = dep.report(&execution).await?;
    assert_eq!(stored.execution.machine_status.as_deref(), Some("RUNNING"));
    assert_eq!(
        rendered.execution.machine_status.as_deref(),
        Some("SUCCEEDED")
    );
    assert!(!stored.execution.running, "the history had its end");
    let mut normalized = stored.clone();
    normalized.generated_at = rendered.generated_at.clone();
    normalized.execution.machine_status = rendered.execution.machine_status.clone();
    assert_eq!(normalized, rendered);
    assert_eq!(
        drs_waves_report::render::html(&normalized),
        drs_waves_report::render::html(&rendered)
    );
    Ok(())
}

/// Once wave 1 is in the history of the running `execution`, its report says it still runs
/// and has every wave of the plan, started or not; the page shows the running note.
async fn assert_the_report_of_the_running_drill(dep: &Deployment, execution: &str) -> Result<()> {
    drs_test_harness::eventually(
        "wave 1 in the history",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || {
            let execution = execution.to_owned();
            async move {
                let items = dep.history(&execution).await.ok()?;
                items.wave_if_any(1).is_some().then_some(())
            }
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:#}\n{}", dep.worker_logs()))?;
    let running = dep.report(execution).await?;
    assert!(running.execution.running, "{:?}", running.execution);
    assert!(
        running.sources[0].contains("still RUNNING"),
        "{:?}",
        running.sources
    );
    assert_eq!(
        running.waves.len(),
        3,
        "every wave of the plan, started or not"
    );
    assert!(drs_waves_report::render::html(&running).contains("id=\"running-note\""));
    Ok(())
}
