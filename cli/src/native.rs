//! `drs-waves native ...`: DRS's own recovery plans. `native export PLAN` prints the native
//! plan a drs-waves plan becomes (the CreateRecoveryPlan and CreateRecoveryPlanStep requests,
//! JSON on stdout) and every loss, by wave, on stderr. It is offline unless `--resolve` asks a
//! live DRS which servers the plan's tag selectors find. `push` makes DRS hold that export
//! ([`push`]), `pull` writes a plan file from a native plan ([`pull`]), `start`, `follow`,
//! `retry`, `skip` and `cancel` run one ([`run`]), and `report` of a native execution builds
//! the same report as a drs-waves execution's (`drs_waves_report::native`).

pub mod export;
pub mod pull;
pub mod push;
pub mod run;

use std::collections::BTreeMap;
use std::path::Path;

use drs_codegen::plan::Plan;
use drs_waves_aws::drs::native::RecoveryPlans;
use drs_waves_aws::drs::{Drs, SdkDrs, ServerSelection};

use crate::error::CliError;
use export::{Target, export};

/// What `native export` was given.
#[derive(Debug, Clone)]
pub struct ExportArgs<'a> {
    pub plan: &'a Path,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub resolve: bool,
    pub table: &'a str,
    pub prefix: &'a str,
}

/// Runs `native export`: the requests on stdout, the losses on stderr.
pub async fn run_export(args: ExportArgs<'_>) -> Result<u8, CliError> {
    let plan =
        drs_codegen::plan::load_file(args.plan).map_err(|e| CliError::Usage(e.to_string()))?;
    let (target, resolved) = if args.resolve {
        resolve_live(&plan, &args).await?
    } else {
        let target = Target {
            account_id: args.account_id.clone().ok_or_else(|| {
                CliError::Usage("native export needs --account-id (or --resolve to ask AWS)".into())
            })?,
            region: args.region.clone().ok_or_else(|| {
                CliError::Usage("native export needs --region or AWS_REGION (or --resolve)".into())
            })?,
        };
        (target, BTreeMap::new())
    };
    let out = export(&plan, &target, &resolved).map_err(|e| CliError::Usage(e.to_string()))?;
    for loss in &out.losses {
        eprintln!("warning: {loss}");
    }
    let text = serde_json::to_string_pretty(&out.requests())
        .map_err(|e| CliError::Other(e.to_string()))?;
    println!("{text}");
    Ok(0)
}

/// The caller's account and region, and each tag-selecting wave's servers, from DRS now.
async fn resolve_live(
    plan: &Plan,
    args: &ExportArgs<'_>,
) -> Result<(Target, BTreeMap<u32, Vec<String>>), CliError> {
    let aws = crate::aws::connect(args.table, args.prefix).await?;
    let identity = (aws.sts.get_caller_identity().send().await)
        .map_err(|e| CliError::Aws(format!("sts:GetCallerIdentity failed: {e}")))?;
    let account_id = match &args.account_id {
        Some(a) => a.clone(),
        None => identity.account().unwrap_or_default().to_owned(),
    };
    let region = match &args.region {
        Some(r) => r.clone(),
        None => aws
            .drs
            .config()
            .region()
            .map(ToString::to_string)
            .unwrap_or_default(),
    };
    let resolved = resolve_tags(plan, &SdkDrs::new(aws.drs.clone())).await?;
    Ok((Target { account_id, region }, resolved))
}

/// The servers each tag-selecting wave finds in DRS now, by wave index, sorted.
pub async fn resolve_tags(
    plan: &Plan,
    drs: &impl Drs,
) -> Result<BTreeMap<u32, Vec<String>>, CliError> {
    let mut resolved = BTreeMap::new();
    for wave in plan.spec.waves.iter().filter(|w| !w.tags.is_empty()) {
        let selection = ServerSelection {
            ids: Default::default(),
            tag_sets: vec![wave.tags.clone()],
        };
        let mut found: Vec<String> = (drs.select_source_servers(&selection).await)
            .map_err(|e| CliError::Aws(e.to_string()))?
            .into_iter()
            .map(|s| s.id)
            .collect();
        found.sort();
        resolved.insert(wave.index, found);
    }
    Ok(resolved)
}

#[cfg(test)]
mod run_tests;
#[cfg(test)]
mod sync_tests;
#[cfg(test)]
mod test_sim;
#[cfg(test)]
mod tests;

/// Where the native plan lives: `--account-id`/`--region`, else the caller's account
/// (sts:GetCallerIdentity) and the configured region.
async fn live_target(
    aws: &crate::aws::Aws,
    account_id: Option<&str>,
    region: Option<&str>,
) -> Result<Target, CliError> {
    let account_id = match account_id {
        Some(a) => a.to_owned(),
        None => {
            let identity = (aws.sts.get_caller_identity().send().await)
                .map_err(|e| CliError::Aws(format!("sts:GetCallerIdentity failed: {e}")))?;
            identity.account().unwrap_or_default().to_owned()
        }
    };
    let region = match region {
        Some(r) => r.to_owned(),
        None => (aws.drs.config().region())
            .map(ToString::to_string)
            .unwrap_or_default(),
    };
    Ok(Target { account_id, region })
}

/// What `native push` was given.
#[derive(Debug, Clone)]
pub struct PushArgs<'a> {
    pub plan: &'a Path,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub dry_run: bool,
}

/// Runs `native push`: the plan's export made true in DRS, each call printed as it is made
/// (with `--dry-run`, printed and not made).
pub async fn run_push(aws: &crate::aws::Aws, args: PushArgs<'_>) -> Result<u8, CliError> {
    let plan =
        drs_codegen::plan::load_file(args.plan).map_err(|e| CliError::Usage(e.to_string()))?;
    let drs = SdkDrs::new(aws.drs.clone());
    let target = live_target(aws, args.account_id.as_deref(), args.region.as_deref()).await?;
    let resolved = resolve_tags(&plan, &drs).await?;
    let out = export(&plan, &target, &resolved).map_err(|e| CliError::Usage(e.to_string()))?;
    for loss in &out.losses {
        eprintln!("warning: {loss}");
    }
    let existing = push::find_plan(&drs, &out.name).await?;
    let steps = match &existing {
        Some(p) => Some(
            drs.list_recovery_plan_steps(&p.arn)
                .await
                .map_err(push::aws)?,
        ),
        None => None,
    };
    let calls = push::changes(steps.as_deref(), &out);
    if calls.is_empty() {
        let arn = existing.map(|p| p.arn).unwrap_or_default();
        println!(
            "no change: {} ({arn}) already holds the plan's {} step(s)",
            out.name,
            out.steps.len()
        );
        return Ok(0);
    }
    if args.dry_run {
        for call in &calls {
            println!("would call {}", call.call());
        }
        println!("dry run: {} call(s), none made", calls.len());
        return Ok(0);
    }
    let arn = push::apply(&drs, existing.as_ref(), &out, &calls, |c| {
        println!("called {}", c.call());
    })
    .await?;
    println!("pushed {} ({arn}): {} change(s)", out.name, calls.len());
    Ok(0)
}

/// Runs `native pull`: the plan file written to `out` (checked by the plan loader first; the
/// file is written whole or not at all).
pub async fn run_pull(aws: &crate::aws::Aws, name: &str, out: &Path) -> Result<u8, CliError> {
    let drs = SdkDrs::new(aws.drs.clone());
    let plan = push::find_plan(&drs, name)
        .await?
        .ok_or_else(|| CliError::NotFound(format!("DRS has no recovery plan named {name:?}")))?;
    // A listing's summary has no tags or description: read the plan itself.
    let plan = drs.get_recovery_plan(&plan.arn).await.map_err(push::aws)?;
    let steps = drs
        .list_recovery_plan_steps(&plan.arn)
        .await
        .map_err(push::aws)?;
    let pulled = pull::pull(&plan, &steps);
    let now = drs_waves_contract::clock::format_time(time::OffsetDateTime::now_utc());
    let text = pull::yaml(&pulled, &plan, &now);
    let shown = out.display().to_string();
    drs_codegen::plan::load_str(&shown, &text).map_err(|e| {
        CliError::Other(format!(
            "the plan pulled from {name:?} is not a valid drs-waves plan ({e}); nothing written"
        ))
    })?;
    for w in &pulled.warnings {
        eprintln!("warning: {w}");
    }
    let partial = out.with_extension("pulling");
    std::fs::write(&partial, &text)
        .and_then(|()| std::fs::rename(&partial, out))
        .map_err(|e| CliError::Other(format!("writing {shown}: {e}")))?;
    println!(
        "wrote {shown}: {} wave(s) from {} ({})",
        pulled.waves.len(),
        plan.name,
        plan.arn
    );
    Ok(0)
}

/// What `native start` was given.
#[derive(Debug, Clone)]
pub struct StartArgs {
    pub name: String,
    pub recovery: bool,
    pub point_in_time: Option<String>,
    pub confirm: Option<String>,
    pub follow: bool,
    /// Plain lines even on a terminal.
    pub plain: bool,
}

/// Runs `native start`: a DRILL, or a confirmed RECOVERY, of the native plan.
pub async fn run_start(aws: &crate::aws::Aws, args: StartArgs) -> Result<u8, CliError> {
    let now = time::OffsetDateTime::now_utc();
    let point_in_time = (args.point_in_time.as_deref())
        .map(|t| crate::commands::normalize_point_in_time(t, now))
        .transpose()?;
    let drs = SdkDrs::new(aws.drs.clone());
    let plan = push::find_plan(&drs, &args.name).await?.ok_or_else(|| {
        CliError::NotFound(format!("DRS has no recovery plan named {:?}", args.name))
    })?;
    if args.recovery {
        crate::commands::confirm_recovery(&plan.name, args.confirm.as_deref())?;
    }
    let steps = drs
        .list_recovery_plan_steps(&plan.arn)
        .await
        .map_err(push::aws)?;
    let servers = run::servers_of_steps(steps.iter().map(|s| &s.config));
    let snapshots = match &point_in_time {
        Some(t) => {
            let ids: Vec<&String> = servers.iter().collect();
            let found =
                drs_waves_rules::launch_points::snapshots_of(&drs, &ids, Some(&t.normalized))
                    .await
                    .map_err(|e| CliError::Aws(e.to_string()))?;
            Some(
                found
                    .into_iter()
                    .map(|(id, s)| (id, s.map(|s| s.id)))
                    .collect(),
            )
        }
        None => None,
    };
    let caller = aws.caller_arn().await?;
    let request = run::start_request(
        &plan.arn,
        !args.recovery,
        &servers,
        snapshots.as_ref(),
        &caller,
    )?;
    let exec = drs
        .start_recovery_plan_execution(request)
        .await
        .map_err(push::aws)?;
    println!("started {}", exec.arn);
    if args.follow {
        return run::follow(&drs, &drs, &exec.arn, args.plain).await;
    }
    Ok(0)
}

/// What an operator answers a native execution with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Retry,
    Skip,
    Cancel,
}

/// Runs `native follow` and the answers: retry or skip the failed step, or cancel.
pub async fn run_answer(
    aws: &crate::aws::Aws,
    execution: &str,
    answer: Option<Answer>,
    plain: bool,
) -> Result<u8, CliError> {
    let drs = SdkDrs::new(aws.drs.clone());
    match answer {
        None => run::follow(&drs, &drs, execution, plain).await,
        Some(Answer::Cancel) => {
            let e = (drs.cancel_recovery_plan_execution(execution).await).map_err(push::aws)?;
            println!("{}: {}", e.arn, e.status);
            Ok(0)
        }
        Some(a) => {
            let step = run::failed_step(&drs, execution).await?;
            let after = if a == Answer::Retry {
                drs.retry_recovery_plan_execution_step(&step.arn).await
            } else {
                drs.skip_recovery_plan_execution_step(&step.arn).await
            }
            .map_err(push::aws)?;
            println!("step {} {}: {}", after.index, after.name, after.status);
            Ok(0)
        }
    }
}

/// Whether a name is a DRS recovery plan execution's ARN (`native` commands and `report`).
pub fn is_execution_arn(name: &str) -> bool {
    name.starts_with("arn:") && name.contains(":recovery-plan-execution/")
}

/// Runs `report` of a native execution: the same report.html and report.json as a drs-waves
/// execution's.
pub async fn run_report(
    aws: &crate::aws::Aws,
    execution: &str,
    out_dir: &Path,
    targets: (Option<u32>, Option<u32>),
) -> Result<u8, CliError> {
    // The report reads DRS once, not in a loop: the SDK's own retries are welcome here.
    let client = aws_sdk_drs::Client::from_conf(
        (aws.drs.config().to_builder())
            .retry_config(aws_config::retry::RetryConfig::standard())
            .build(),
    );
    let drs = SdkDrs::new(client.clone());
    let exec = (drs.get_recovery_plan_execution(execution).await).map_err(push::aws)?;
    let plan = (drs.get_recovery_plan(&exec.plan_arn).await).map_err(push::aws)?;
    let steps = (drs.list_recovery_plan_execution_steps(execution).await).map_err(push::aws)?;
    let job_ids: Vec<String> = {
        let mut ids = std::collections::BTreeSet::new();
        for s in &steps {
            if let drs_waves_aws::drs::native::NativeStepConfig::Server(servers) = &s.config {
                ids.extend(servers.iter().filter_map(|x| x.job_id.clone()));
            }
        }
        ids.into_iter().collect()
    };
    let jobs = if job_ids.is_empty() {
        Vec::new()
    } else {
        let filter = drs_waves_aws::drs::JobFilter {
            job_ids,
            from_date: None,
        };
        drs.describe_jobs(filter).await.map_err(push::aws)?
    };
    let targets = drs_waves_report::native::targets_of(&plan, targets.0, targets.1);
    let run = drs_waves_report::native::NativeRun {
        plan,
        execution: exec,
        steps,
        jobs,
    };
    let apis = drs_waves_report::SdkEvidenceApis::new(aws.sfn.clone(), client);
    let report = drs_waves_report::native::report_of_native(
        &run,
        targets,
        &apis,
        time::OffsetDateTime::now_utc(),
    )
    .await;
    let page = drs_waves_report::write(&report, out_dir).map_err(|e| {
        CliError::Other(format!("writing the report to {}: {e}", out_dir.display()))
    })?;
    println!("{}", page.display());
    Ok(0)
}
