//! `drs-waves native ...`: DRS's own recovery plans. `native export PLAN` prints the native
//! plan a drs-waves plan becomes (the CreateRecoveryPlan and CreateRecoveryPlanStep requests,
//! JSON on stdout) and every loss, by wave, on stderr. It is offline unless `--resolve` asks a
//! live DRS which servers the plan's tag selectors find.

pub mod export;

use std::collections::BTreeMap;
use std::path::Path;

use drs_codegen::plan::Plan;
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
mod tests;
