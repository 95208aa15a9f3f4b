//! The local stack as end-to-end tests use it: plans deployed to LocalStack's Step Functions
//! engine and run by a real `drs-worker` process against drs-sim and moto's DynamoDB.
//!
//! LocalStack and moto are shared by every test of the process (they take seconds to start);
//! everything else is per test, so tests run side by side without seeing each other: each
//! [`Deployment`] has its own activities (a unique name prefix), history table, drs-sim
//! (in-process, on its own port) and worker process. A worker only ever polls its own
//! deployment's activities, exactly as in a real account.
//!
//! The shared services come from `scripts/test.sh`, which starts them with
//! `scripts/local-stack.sh` and names its env file in `DRS_WAVES_E2E_STACK_ENV`; without it
//! (a plain `cargo test`), the first test starts a private stack the same way, and a watchdog
//! process stops it by PID when the test process exits.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sfn::types::ExecutionStatus;
use drs_codegen::generate::ActivityResources;
use drs_sim::{SimConfig, SimHandle, Simulator};
use drs_test_harness::{ChildGuard, eventually, repo_root, unique_name};
use drs_waves_contract::{Activity, history};
use serde_json::Value;

pub use drs_test_harness as harness;

/// The role LocalStack wants on CreateStateMachine (it does not check it).
const LOCAL_ROLE_ARN: &str = "arn:aws:iam::000000000000:role/drs-waves-local";

/// Endpoints of the services every test shares.
#[derive(Clone, Debug)]
pub struct SharedStack {
    pub sfn_endpoint: String,
    pub dynamodb_endpoint: String,
    /// LocalStack's S3 (the report bucket).
    pub s3_endpoint: String,
}

static SHARED: OnceLock<std::result::Result<SharedStack, String>> = OnceLock::new();
/// Held for the life of the process: when the process exits, the watchdog reads EOF and stops
/// the private stack by PID.
static WATCHDOG: Mutex<Option<ChildStdin>> = Mutex::new(None);

/// The shared LocalStack and moto, started on first use.
pub fn shared_stack() -> Result<SharedStack> {
    SHARED
        .get_or_init(|| start_or_find_stack().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!("the local stack is not available: {e}"))
}

fn start_or_find_stack() -> Result<SharedStack> {
    if let Some(env_file) = std::env::var_os("DRS_WAVES_E2E_STACK_ENV") {
        return read_stack_env(Path::new(&env_file));
    }
    let root = repo_root();
    let dir = std::env::temp_dir().join(unique_name("drs-waves-e2e-stack"));
    std::fs::create_dir_all(&dir)?;
    let script = root.join("scripts/local-stack.sh");
    // The watchdog first, so that even a stack that half-started is stopped.
    let mut watchdog = Command::new("bash")
        .arg("-c")
        .arg("read -r _ || true; exec \"$0\" down >/dev/null 2>&1")
        .arg(&script)
        .env("DRS_WAVES_STACK_DIR", &dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the local stack's watchdog")?;
    if let Ok(mut slot) = WATCHDOG.lock() {
        *slot = watchdog.stdin.take();
    }
    let output = Command::new("bash")
        .arg(&script)
        .arg("up")
        .env("DRS_WAVES_STACK_DIR", &dir)
        .env("DRS_WAVES_SFN_PORT", "0")
        .env("DRS_WAVES_DDB_PORT", "0")
        .env("DRS_WAVES_DRS_PORT", "0")
        .env("DRS_WAVES_NO_BUILD", "1")
        .output()
        .context("running scripts/local-stack.sh up")?;
    if !output.status.success() {
        bail!(
            "scripts/local-stack.sh up failed ({}); run scripts/bootstrap.sh first:\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    read_stack_env(&dir.join("env"))
}

/// Reads the endpoints from an env file written by `scripts/local-stack.sh up`.
fn read_stack_env(path: &Path) -> Result<SharedStack> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the local stack's env file {}", path.display()))?;
    let mut vars = HashMap::new();
    for line in text.lines() {
        let line = line.trim().trim_start_matches("export ");
        if let Some((k, v)) = line.split_once('=') {
            vars.insert(
                k.trim().to_owned(),
                v.trim().trim_matches(['"', '\'']).to_owned(),
            );
        }
    }
    let get = |k: &str| {
        vars.get(k)
            .cloned()
            .ok_or_else(|| anyhow!("{} has no {k}", path.display()))
    };
    Ok(SharedStack {
        sfn_endpoint: get("AWS_ENDPOINT_URL_SFN")?,
        dynamodb_endpoint: get("AWS_ENDPOINT_URL_DYNAMODB")?,
        s3_endpoint: get("AWS_ENDPOINT_URL_S3")?,
    })
}

/// The `drs-worker` binary built beside the test binary (`target/debug/drs-worker`).
pub fn worker_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/debug/deps/<test binary> -> target/debug/drs-worker
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow!("cannot place the test binary {}", exe.display()))?;
    let bin = dir.join("drs-worker");
    if !bin.exists() {
        bail!(
            "{} does not exist: build it first with `cargo build -p drs-worker` (scripts/test.sh does)",
            bin.display()
        );
    }
    Ok(bin)
}

/// The `drs-waves` operator CLI built beside the test binary (`target/debug/drs-waves`); run
/// it with [`Deployment::cli_env`] (or [`Deployment::cli_command`]).
pub fn drs_waves_cli_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow!("cannot place the test binary {}", exe.display()))?;
    let bin = dir.join("drs-waves");
    if !bin.exists() {
        bail!(
            "{} does not exist: build it first with `cargo build -p drs-waves-cli` (scripts/test.sh does)",
            bin.display()
        );
    }
    Ok(bin)
}

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

/// One isolated drs-waves deployment on the shared stack.
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
        drs_waves_history::create_table(&dynamodb, &table)
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
    pub async fn history(&self, execution_arn: &str) -> Result<BTreeMap<String, Value>> {
        let pk = drs_waves_history::execution_pk(execution_arn);
        let mut items = BTreeMap::new();
        let mut start_key = None;
        loop {
            let page = self
                .dynamodb
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", history::PARTITION_KEY)
                .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .context("querying the history")?;
            for item in page.items() {
                let sk = match item.get(history::SORT_KEY) {
                    Some(AttributeValue::S(s)) => s.clone(),
                    _ => continue,
                };
                items.insert(sk, item_to_json(item));
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start_key = Some(k.clone()),
                _ => break,
            }
        }
        Ok(items)
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
                AttributeValue::S(drs_waves_history::lock_pk(plan)),
            )
            .key(
                history::SORT_KEY,
                AttributeValue::S(drs_waves_history::LOCK_SK.to_owned()),
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

    /// The report of an execution (drs-waves-report) from this deployment's history table,
    /// Step Functions and drs-sim, as `drs-waves-report EXECUTION -o DIR` builds it.
    pub async fn report(&self, execution_arn: &str) -> Result<drs_waves_report::Report> {
        let history = drs_waves_history::DynamoHistory::new(self.dynamodb.clone(), &self.table);
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

    /// Stops the worker and the simulator.
    pub async fn shutdown(mut self) {
        if let Some(mut w) = self.worker.take() {
            w.stop(Duration::from_secs(15));
        }
        self.sim.shutdown().await;
    }
}

/// A DynamoDB item as JSON (S -> string, N -> number, BOOL, L, M, SS -> array, NULL).
pub fn item_to_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), attribute_to_json(v)))
            .collect(),
    )
}

fn attribute_to_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => serde_json::from_str(n).unwrap_or(Value::String(n.clone())),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::L(l) => Value::Array(l.iter().map(attribute_to_json).collect()),
        AttributeValue::M(m) => item_to_json(m),
        AttributeValue::Ss(ss) => Value::Array(ss.iter().cloned().map(Value::String).collect()),
        AttributeValue::Null(_) => Value::Null,
        other => Value::String(format!("{other:?}")),
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
