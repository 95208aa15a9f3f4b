//! The local stack as end-to-end tests use it: plans deployed to LocalStack's Step Functions
//! engine and run by a real `drs-worker` process against drs-sim and moto's DynamoDB.
//!
//! LocalStack and moto are shared by every test of the process (they take seconds to start);
//! everything else is per test, so tests run side by side without seeing each other: each
//! [`Deployment`] has its own activities (a unique name prefix), history table, drs-sim
//! (in-process, on its own port) and worker process. A worker only ever polls its own
//! deployment's activities, exactly as in a real account. A deployment stops what it started
//! when it is dropped, however the test ends (see its `Drop`).
//!
//! The shared services come from `scripts/test.sh`, which starts them with
//! `scripts/local-stack.sh` and names its env file in `DRS_WAVES_E2E_STACK_ENV`; without it
//! (a plain `cargo test`), the first test starts a private stack the same way, and a watchdog
//! process stops it by PID when the test process exits.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sfn::types::ExecutionStatus;
use drs_codegen::generate::ActivityResources;
use drs_sim::{SimConfig, SimHandle, Simulator};
use drs_test_harness::{ChildGuard, eventually, repo_root, unique_name};
use drs_waves_contract::{Activity, history};
// The worker's history store (the table's creation, the records the report reads): the one
// import of it in the e2e tests, so that its move to a crate of its own changes this line only.
use drs_waves_history as history_store;
use serde_json::Value;

pub mod cloudwatch;
mod history_items;
mod stack;

pub use drs_test_harness as harness;
pub use history_items::{ExecutionHistory, item_to_json};
pub use stack::{SharedStack, drs_waves_cli_binary, shared_stack, worker_binary};

/// The role LocalStack wants on CreateStateMachine (it does not check it).
const LOCAL_ROLE_ARN: &str = "arn:aws:iam::000000000000:role/drs-waves-local";

/// How an execution ended.
#[derive(Clone, Debug)]
pub struct Ended {
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl Ended {
    pub fn succeeded(&self) -> bool {
        self.status == ExecutionStatus::Succeeded
    }
}

/// One isolated drs-waves deployment on the shared stack; dropping it stops its worker and
/// drs-sim.
pub struct Deployment {
    pub prefix: String,
    pub table: String,
    pub sfn: aws_sdk_sfn::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sim: SimHandle,
    pub activity_arns: BTreeMap<Activity, String>,
    stack: SharedStack,
    worker: Option<ChildGuard>,
    worker_starts: u32,
    log_dir: PathBuf,
    /// The loopback port this deployment's worker serves its health on.
    pub health_port: u16,
}

impl Deployment {
    /// Creates the activities and the table, and starts drs-sim with `sim_config`. The worker
    /// is started separately ([`Deployment::start_worker`]) so a test can choose its faults.
    pub async fn new(test: &str, sim_config: SimConfig) -> Result<Deployment> {
        let stack = tokio::task::spawn_blocking(shared_stack).await??;
        let prefix = short_unique(test);
        let sfn = drs_test_harness::sfn_client(&stack.sfn_endpoint).await;
        let dynamodb = drs_test_harness::dynamodb_client(&stack.dynamodb_endpoint).await;
        let sim = Simulator::start(sim_config)
            .await
            .map_err(|e| anyhow!("starting drs-sim: {e}"))?;
        let table = format!("{prefix}-history");
        history_store::create_table(&dynamodb, &table)
            .await
            .map_err(|e| anyhow!("creating table {table}: {e}"))?;
        let mut activity_arns = BTreeMap::new();
        for activity in Activity::ALL {
            let created = sfn
                .create_activity()
                .name(activity.deployed_name(&prefix))
                .send()
                .await
                .with_context(|| format!("creating activity {}", activity.name()))?;
            activity_arns.insert(activity, created.activity_arn().to_owned());
        }
        let log_dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&log_dir)?;
        Ok(Deployment {
            prefix,
            table,
            sfn,
            dynamodb,
            sim,
            activity_arns,
            stack,
            worker: None,
            worker_starts: 0,
            log_dir,
            health_port: drs_test_harness::free_port()?,
        })
    }

    /// LocalStack's endpoint (Step Functions, SNS, S3, STS share it): for a test that makes
    /// its own clients (a child state machine, an SNS topic).
    pub fn localstack_endpoint(&self) -> &str {
        &self.stack.sfn_endpoint
    }

    /// Starts a worker process polling this deployment's activities; `extra_env` adds or
    /// overrides settings (a test fault point, quotas).
    pub fn start_worker(&mut self, extra_env: &[(&str, &str)]) -> Result<()> {
        if self.worker.is_some() {
            bail!("a worker is already running for {}", self.prefix);
        }
        self.worker_starts += 1;
        let log = self
            .log_dir
            .join(format!("worker-{}.log", self.worker_starts));
        let arns = self
            .activity_arns
            .iter()
            .map(|(a, arn)| format!("{}={arn}", a.name()))
            .collect::<Vec<_>>()
            .join(",");
        let mut cmd = Command::new(worker_binary()?);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_REGION", drs_test_harness::TEST_REGION)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL_SFN", &self.stack.sfn_endpoint)
            .env("AWS_ENDPOINT_URL_DYNAMODB", &self.stack.dynamodb_endpoint)
            .env("AWS_ENDPOINT_URL_DRS", self.sim.endpoint())
            .env("DRS_WAVES_TABLE", &self.table)
            .env("DRS_WAVES_ACTIVITY_ARNS", arns)
            .env("DRS_WAVES_LOG_FORMAT", "json")
            .env("DRS_WAVES_SHUTDOWN_GRACE_SECONDS", "10")
            // LocalStack serves each open GetActivityTask with a thread of its own; with several
            // deployments at once, the production default (10 per activity) would only load it.
            .env("DRS_WAVES_POLLERS_PER_ACTIVITY", "2")
            // Each worker its own health port, so that `drs-worker health` can ask it.
            .env("DRS_WAVES_HEALTH_PORT", self.health_port.to_string())
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        self.worker = Some(ChildGuard::spawn_logged("drs-worker", &mut cmd, &log)?);
        Ok(())
    }

    /// The whole environment a `drs-waves` child process needs to operate this deployment (use
    /// it after `env_clear()`): test credentials and region, the endpoints (LocalStack's one
    /// gateway serves Step Functions, STS and S3; drs-sim DRS; moto DynamoDB), this deployment's
    /// history table and its name prefix (its plans are the machines `<prefix>-<plan>`).
    pub fn cli_env(&self) -> Vec<(String, String)> {
        let path = std::env::var("PATH").unwrap_or_default();
        [
            ("PATH", path.as_str()),
            ("AWS_REGION", drs_test_harness::TEST_REGION),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_ENDPOINT_URL_SFN", &self.stack.sfn_endpoint),
            ("AWS_ENDPOINT_URL_STS", &self.stack.sfn_endpoint),
            ("AWS_ENDPOINT_URL_S3", &self.stack.s3_endpoint),
            ("AWS_ENDPOINT_URL_DYNAMODB", &self.stack.dynamodb_endpoint),
            ("AWS_ENDPOINT_URL_DRS", &self.sim.endpoint()),
            ("DRS_WAVES_TABLE", &self.table),
            ("DRS_WAVES_PREFIX", &self.prefix),
            ("NO_COLOR", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// `drs-waves` with [`Deployment::cli_env`] and nothing else from the test's environment;
    /// add the arguments and run it (in a process group of its own if it may outlive a check:
    /// [`harness::ChildGuard`]).
    pub fn cli_command(&self) -> Result<Command> {
        let mut cmd = Command::new(drs_waves_cli_binary()?);
        cmd.env_clear().envs(self.cli_env());
        Ok(cmd)
    }

    /// The running worker (to kill it, wait for it, read its log).
    pub fn worker(&mut self) -> Option<&mut ChildGuard> {
        self.worker.as_mut()
    }

    /// Forgets a worker that has exited (or kills it first).
    pub fn discard_worker(&mut self) {
        if let Some(mut w) = self.worker.take() {
            w.kill();
        }
    }

    /// Every worker log of this deployment, for failure messages.
    pub fn worker_logs(&self) -> String {
        let mut out = String::new();
        for n in 1..=self.worker_starts {
            let path = self.log_dir.join(format!("worker-{n}.log"));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let tail: String = text
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            out.push_str(&format!("--- {} (last 40 lines)\n{tail}\n", path.display()));
        }
        out
    }

    /// Compiles a plan (YAML text) with this deployment's activity ARNs and creates its state
    /// machine; returns the machine's ARN.
    pub async fn deploy_plan(&self, file: &str, plan_yaml: &str) -> Result<String> {
        let pairs: Vec<String> = self
            .activity_arns
            .iter()
            .map(|(a, arn)| format!("{}={arn}", a.name()))
            .collect();
        let resources = ActivityResources::from_pairs(&pairs)?;
        let compiled = drs_codegen::compile_str(file, plan_yaml, &resources)?;
        let created = self
            .sfn
            .create_state_machine()
            .name(format!("{}-{}", self.prefix, compiled.plan.spec.name))
            .definition(&compiled.definition)
            .role_arn(LOCAL_ROLE_ARN)
            .send()
            .await
            .with_context(|| format!("creating the state machine of {file}"))?;
        Ok(created.state_machine_arn().to_owned())
    }

    /// A plan from `statemachines/`, deployed.
    pub async fn deploy_example(&self, name: &str) -> Result<String> {
        let path = repo_root()
            .join("statemachines")
            .join(format!("{name}.plan.yaml"));
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        self.deploy_plan(&path.display().to_string(), &text).await
    }

    /// StartExecution; returns the execution ARN.
    pub async fn start_execution(&self, machine_arn: &str, input: &Value) -> Result<String> {
        let started = self
            .sfn
            .start_execution()
            .state_machine_arn(machine_arn)
            .name(short_unique("x"))
            .input(input.to_string())
            .send()
            .await
            .context("StartExecution")?;
        Ok(started.execution_arn().to_owned())
    }

    /// Polls DescribeExecution until the execution has ended.
    pub async fn wait_for_end(&self, execution_arn: &str, timeout: Duration) -> Result<Ended> {
        let sfn = self.sfn.clone();
        let result = eventually(
            &format!("execution {execution_arn} to end"),
            timeout,
            Duration::from_millis(500),
            || {
                let sfn = sfn.clone();
                async move {
                    let d = sfn
                        .describe_execution()
                        .execution_arn(execution_arn)
                        .send()
                        .await
                        .ok()?;
                    if d.status() == &ExecutionStatus::Running {
                        return None;
                    }
                    Some(Ended {
                        status: d.status().clone(),
                        output: d.output().and_then(|o| serde_json::from_str(o).ok()),
                        error: d.error().map(str::to_owned),
                        cause: d.cause().map(str::to_owned),
                    })
                }
            },
        )
        .await;
        result.map_err(|e| anyhow!("{e:#}\n{}", self.worker_logs()))
    }

    /// Every history item of an execution, keyed by sort key, as plain JSON.
    pub async fn history(&self, execution_arn: &str) -> Result<ExecutionHistory> {
        let pk = history::execution_pk(execution_arn);
        let mut pages = self
            .dynamodb
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", history::PARTITION_KEY)
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .into_paginator()
            .send();
        let mut items = BTreeMap::new();
        while let Some(page) = pages.next().await {
            let page = page.context("querying the history")?;
            for item in page.items() {
                let sk = match item.get(history::SORT_KEY) {
                    Some(AttributeValue::S(s)) => s.clone(),
                    _ => continue,
                };
                items.insert(sk, item_to_json(item));
            }
        }
        Ok(ExecutionHistory::new(items))
    }

    /// The run lock of a plan (the `LOCK#<plan>` item) as JSON, or None when no execution
    /// holds it. A consistent read: a lock released a moment ago is gone.
    pub async fn lock(&self, plan: &str) -> Result<Option<Value>> {
        let got = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key(
                history::PARTITION_KEY,
                AttributeValue::S(history::lock_pk(plan)),
            )
            .key(
                history::SORT_KEY,
                AttributeValue::S(history::LOCK_SK.to_owned()),
            )
            .consistent_read(true)
            .send()
            .await
            .context("reading the run lock")?;
        Ok(got.item().map(item_to_json))
    }

    /// Polls the execution's history until it is in the Wait state `state` (its latest event
    /// entered it). LocalStack aborts a stopped execution at once only in a Wait state: a stop
    /// while an activity task is scheduled ends it FAILED with States.Timeout instead, once a
    /// worker picks the task up.
    pub async fn wait_until_waiting_in(
        &self,
        execution_arn: &str,
        state: &str,
        timeout: Duration,
    ) -> Result<()> {
        let sfn = self.sfn.clone();
        eventually(
            &format!("execution {execution_arn} to wait in {state:?}"),
            timeout,
            Duration::from_millis(100),
            || {
                let sfn = sfn.clone();
                async move {
                    let events = sfn
                        .get_execution_history()
                        .execution_arn(execution_arn)
                        .reverse_order(true)
                        .max_results(1)
                        .send()
                        .await
                        .ok()?;
                    let last = events.events().first()?;
                    let waiting = last.r#type()
                        == &aws_sdk_sfn::types::HistoryEventType::WaitStateEntered
                        && last
                            .state_entered_event_details()
                            .is_some_and(|d| d.name() == state);
                    waiting.then_some(())
                }
            },
        )
        .await
        .map_err(|e| anyhow!("{e:#}\n{}", self.worker_logs()))
    }

    /// StopExecution, as the console or an operator's CLI does it.
    pub async fn stop_execution(&self, execution_arn: &str, cause: &str) -> Result<()> {
        self.sfn
            .stop_execution()
            .execution_arn(execution_arn)
            .error("Operator.Stopped")
            .cause(cause)
            .send()
            .await
            .context("StopExecution")?;
        Ok(())
    }

    /// The report of an execution from this deployment's history table, Step Functions and
    /// drs-sim, as `drs-waves report EXECUTION -o DIR` builds it.
    pub async fn report(&self, execution_arn: &str) -> Result<drs_waves_report::Report> {
        let history = history_store::DynamoHistory::new(self.dynamodb.clone(), &self.table);
        let drs = drs_test_harness::drs_client(&self.sim.endpoint()).await;
        let apis = drs_waves_report::SdkEvidenceApis::new(self.sfn.clone(), drs);
        Ok(drs_waves_report::report_of(
            &history,
            &self.table,
            &apis,
            execution_arn,
            time::OffsetDateTime::now_utc(),
        )
        .await?)
    }
}

/// How long a deployment's worker gets to stop after SIGTERM: more than its own shutdown grace
/// (`DRS_WAVES_SHUTDOWN_GRACE_SECONDS`, 10 s here), so it ends its tasks before the SIGKILL.
const WORKER_STOP_GRACE: Duration = Duration::from_secs(15);

/// The deployment is its own guard: when a test ends, however it ends (it returns, fails with
/// `?` or panics), what the deployment started stops with it, so no test stops it by hand.
/// The worker gets SIGTERM and its grace, then SIGKILL to its whole process group; drs-sim is
/// told to stop by its own drop, and the test's runtime ends its server task. (A test that
/// needs them gone before its end drops the deployment: `drop(dep)`.) Activities, state
/// machines and the table are left: their names are unique, and LocalStack and moto die with
/// the stack.
///
/// The stop blocks the dropping thread for up to [`WORKER_STOP_GRACE`]: under
/// `#[tokio::test(flavor = "multi_thread")]` that is the test's own thread, not one of the
/// runtime's workers, so drs-sim still answers the stopping worker.
impl Drop for Deployment {
    fn drop(&mut self) {
        if let Some(mut worker) = self.worker.take() {
            worker.stop(WORKER_STOP_GRACE);
        }
    }
}

/// A unique name short enough for activity and state machine names (80 characters).
fn short_unique(prefix: &str) -> String {
    let full = unique_name(prefix);
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&full, &mut hasher);
    let tag = std::hash::Hasher::finish(&hasher);
    let head: String = prefix.chars().take(24).collect();
    format!("{head}-{tag:016x}")
}
