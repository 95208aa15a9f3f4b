//! Waves in other AWS accounts and regions (issue #23): `statemachines/two-accounts.plan.yaml`
//! runs on a drs-sim per account and region (each serving only its own account's keys, signed
//! for its own region) with the STS stand-in `drs-sim-sts` issuing the roles' credentials.
//! Everything is asserted from each simulator's own records (its jobs and who called it) and
//! the stand-in's log of AssumeRole calls.

use drs_sim::sts::{StsConfig, StsHandle};
use drs_sim::{Callers, SimHandle, Simulator};

use super::*;

const ROLE_DATA: &str = "arn:aws:iam::111111111111:role/drs-waves-recovery";
const ROLE_WEB: &str = "arn:aws:iam::222222222222:role/drs-waves-recovery";
const DB_SERVERS: [&str; 2] = ["s-a1111111110000001", "s-a1111111110000002"];
const WEB_SERVERS: [&str; 2] = ["s-b2222222220000001", "s-b2222222220000002"];

/// The two accounts' simulators and the STS stand-in, in this test process.
struct Accounts {
    sts: StsHandle,
    data: SimHandle,
    web: SimHandle,
}

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/drs-sim/fixtures").join(name)
}

/// Starts the account simulators from their fixtures and the stand-in with the roles of
/// `two-accounts-sts.yaml`, changed by `roles` (a test makes one unassumable). Sessions may
/// be as short as 30 s, so that the worker's credentials expire and are refreshed mid-drill.
async fn start_accounts(roles: impl FnOnce(&mut StsConfig)) -> Result<Accounts> {
    let mut config =
        StsConfig::load(&fixture("two-accounts-sts.yaml")).map_err(anyhow::Error::msg)?;
    config.min_session_seconds = 30;
    roles(&mut config);
    let sts = StsHandle::start("127.0.0.1:0".parse()?, config)
        .await
        .map_err(anyhow::Error::msg)?;
    let sim = |file: &str| SimConfig {
        fixture: FixtureSource::File(fixture(file)),
        ..SimConfig::default()
    };
    let data = Simulator::start(sim("two-accounts-data.yaml")).await?;
    let web = Simulator::start(sim("two-accounts-web.yaml")).await?;
    Ok(Accounts { sts, data, web })
}

impl Accounts {
    /// What the worker needs to reach them: STS, and each account's DRS.
    fn worker_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL_STS".into(), self.sts.endpoint()),
            (
                "DRS_WAVES_DRS_ENDPOINTS".into(),
                format!(
                    "111111111111/eu-west-1={},222222222222/us-west-2={}",
                    self.data.endpoint(),
                    self.web.endpoint()
                ),
            ),
            ("DRS_WAVES_ASSUME_ROLE_SECONDS".into(), "30".into()),
        ]
    }

    /// The access keys the stand-in issued for `role`.
    fn keys_of(&self, role: &str) -> BTreeSet<String> {
        self.sts
            .calls()
            .into_iter()
            .filter(|c| c.role_arn.as_deref() == Some(role))
            .filter_map(|c| c.issued_access_key_id)
            .collect()
    }
}

async fn deployment(test: &str, accounts: &Accounts) -> Result<(Deployment, String)> {
    // The worker's own account has no server of the plan.
    let mut dep = Deployment::new(test, SimConfig::default()).await?;
    let machine = dep.deploy_example("two-accounts").await?;
    let env = accounts.worker_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    dep.start_worker(&env)?;
    Ok((dep, machine))
}

/// Every call a simulator got was signed with a key the stand-in issued for `role`, and none
/// was refused; returns the operations those keys called.
fn only_callers(callers: &Callers, keys: &BTreeSet<String>, what: &str) -> BTreeSet<String> {
    assert!(!callers.is_empty(), "{what} was never called");
    let mut operations = BTreeSet::new();
    for (key, caller) in callers {
        assert!(
            keys.contains(key),
            "{what} was called with {key}, not its role's key: {callers:?}"
        );
        assert!(
            caller.refused.is_empty(),
            "{what} refused {key}: {caller:?}"
        );
        operations.extend(caller.operations.keys().cloned());
    }
    operations
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_over_two_accounts_launches_each_wave_through_its_own_account() -> Result<()> {
    let accounts = start_accounts(|_| {}).await?;
    let (dep, machine) = deployment("accounts", &accounts).await?;
    let (execution, _) = drill_to_success(&dep, &machine).await?;

    for (sim, wave, servers, account, region) in [
        (
            &accounts.data,
            "databases",
            DB_SERVERS,
            "111111111111",
            "eu-west-1",
        ),
        (
            &accounts.web,
            "web",
            WEB_SERVERS,
            "222222222222",
            "us-west-2",
        ),
    ] {
        let jobs = launch_jobs_by_wave(&sim.jobs());
        assert_eq!(
            jobs.keys().collect::<Vec<_>>(),
            vec![wave],
            "the {account} simulator launched only wave {wave}"
        );
        let launched: BTreeSet<&str> = jobs[wave]
            .iter()
            .flat_map(|j| j.servers.iter().map(|s| s.source_server_id.as_str()))
            .collect();
        assert_eq!(launched, servers.into_iter().collect());
        for job in &jobs[wave] {
            assert_eq!(job.is_drill, Some(true), "{job:?}");
            assert_eq!(job.tags[job_tags::ACCOUNT], account);
            assert_eq!(job.tags[job_tags::REGION], region);
            assert_eq!(job.tags[job_tags::EXECUTION], execution);
        }
        assert!(
            sim.jobs().iter().any(|j| j.job_type == "TERMINATE"),
            "the drill's instances in {account} were terminated there"
        );
    }
    let data_ops = only_callers(
        &accounts.data.callers(),
        &accounts.keys_of(ROLE_DATA),
        "the data account's DRS",
    );
    let web_ops = only_callers(
        &accounts.web.callers(),
        &accounts.keys_of(ROLE_WEB),
        "the web account's DRS",
    );
    for ops in [&data_ops, &web_ops] {
        assert!(
            ops.contains("StartRecovery") && ops.contains("TerminateRecoveryInstances"),
            "{ops:?}"
        );
    }
    assert!(
        accounts.sts.calls().iter().all(|c| c.error.is_none()),
        "{:?}",
        accounts.sts.calls()
    );
    assert!(
        dep.sim.jobs().is_empty(),
        "nothing ran in the worker's own account"
    );
    let history = dep.history(&execution).await?;
    for (index, role, region) in [(1, ROLE_DATA, "eu-west-1"), (2, ROLE_WEB, "us-west-2")] {
        let account = &history.wave(index)?["waveAccount"];
        assert_eq!(
            account["roleArn"], role,
            "the history keeps each wave's account"
        );
        assert_eq!(account["region"], region);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_cannot_be_assumed_fails_preflight_with_nothing_launched() -> Result<()> {
    // The web account's role no longer trusts the worker's account.
    let accounts = start_accounts(|config| {
        for role in config.roles.iter_mut().filter(|r| r.arn == ROLE_WEB) {
            role.trusted_principals = vec!["999999999999".into()];
        }
    })
    .await?;
    let (dep, machine) = deployment("accounts-denied", &accounts).await?;
    let (_, ended) = run_to_end(&dep, &machine, drill()).await?;
    assert_eq!(
        ended.error.as_deref(),
        Some("DrsWaves.PreflightFailed"),
        "{}\n{}",
        describe(&ended),
        dep.worker_logs()
    );
    let cause = ended.cause.clone().unwrap_or_default();
    for part in [
        "wave 'web'",
        ROLE_WEB,
        "AccessDenied",
        "not authorized to perform: sts:AssumeRole",
    ] {
        assert!(cause.contains(part), "{part} in {cause}");
    }
    assert!(
        !cause.contains("wave 'databases'"),
        "the data account's role is fine: {cause}"
    );
    for (sim, what) in [
        (&accounts.data, "data"),
        (&accounts.web, "web"),
        (&dep.sim, "own"),
    ] {
        assert!(
            sim.jobs().is_empty(),
            "the {what} account launched nothing: {:?}",
            sim.jobs()
        );
        let starts: u64 = sim
            .callers()
            .values()
            .filter_map(|c| c.operations.get("StartRecovery"))
            .sum();
        assert_eq!(starts, 0, "no StartRecovery reached the {what} account");
    }
    assert!(
        accounts.web.callers().is_empty(),
        "the web account's DRS was never reached"
    );
    let refused: Vec<_> = accounts
        .sts
        .calls()
        .into_iter()
        .filter(|c| c.role_arn.as_deref() == Some(ROLE_WEB))
        .collect();
    assert!(
        !refused.is_empty()
            && refused
                .iter()
                .all(|c| c.error.as_deref() == Some("AccessDenied")),
        "{refused:?}"
    );
    Ok(())
}

/// The way home across accounts (issue #27): after a RECOVERY of the two-accounts plan,
/// `drs-waves failback-check` reads each wave's recovery instances in its own account (through
/// its role), naming those not ready; once both accounts report them ready, a FAILBACK brings
/// the web tier home first, then the databases, each wave's failback job in its own account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovery_over_two_accounts_is_checked_and_comes_home_account_by_account() -> Result<()> {
    use drs_sim::FailbackStaging;
    let accounts = start_accounts(|_| {}).await?;
    let (dep, machine) = deployment("accounts-home", &accounts).await?;
    let confirmed = |mode: &str| json!({"mode": mode, "confirm": "two-accounts"});
    run_to_success(&dep, &machine, confirmed("RECOVERY")).await?;
    let env = accounts.worker_env();
    let check = || super::failback::failback_check_of(&dep, "two-accounts", &env);
    // Only the web account replicates back so far: the databases are named, read in theirs.
    accounts
        .web
        .stage_failback(&FailbackStaging::ready(&WEB_SERVERS, 0.0))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (code, text) = check()?;
    ensure!(code == 1, "the databases hold it back ({code}): {text}");
    ensure!(
        text.contains("1 databases (111111111111")
            && DB_SERVERS.iter().all(|s| text.contains(s))
            && text.contains("FAILBACK_NOT_STARTED")
            && !WEB_SERVERS.iter().any(|s| text.contains(s)),
        "each wave read in its own account: {text}"
    );
    accounts
        .data
        .stage_failback(&FailbackStaging::ready(&DB_SERVERS, 0.0))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (code, text) = check()?;
    ensure!(code == 0, "ready in both accounts ({code}): {text}");

    let (execution, _) = run_to_success(&dep, &machine, confirmed("FAILBACK")).await?;
    let home_of = |sim: &SimHandle| -> Vec<_> {
        sim.jobs()
            .into_iter()
            .filter(|j| j.initiated_by == "FAILBACK")
            .filter(|j| j.tags.get(job_tags::EXECUTION) == Some(&execution))
            .collect()
    };
    let (web, data) = (home_of(&accounts.web), home_of(&accounts.data));
    ensure!(
        web.len() == 1 && data.len() == 1,
        "one failback job in each account: web {web:?}, data {data:?}"
    );
    ensure!(
        data[0].creation_date_time >= web[0].end_date_time.context("web's job ended")?,
        "the web tier came home before the databases left"
    );
    ensure!(
        home_of(&dep.sim).is_empty(),
        "nothing went home through the worker's own account"
    );
    Ok(())
}
