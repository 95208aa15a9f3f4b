//! `drs-codegen`: validate recovery plans, generate their Step Functions state machines,
//! print JSON Schemas, runbooks and the worker contract, and regenerate `statemachines/`.
//!
//! Exit status: 0 on success, 2 for a bad plan or bad arguments, 1 for I/O errors.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use drs_codegen::artifacts::{self, REGENERATE_COMMAND};
use drs_codegen::generate::ActivityResources;
use drs_codegen::{budget, compile_file};

/// println!/eprintln! panic when the pipe is closed (`drs-codegen validate ... | head`); these
/// drop the line instead.
macro_rules! say {
    ($($arg:tt)*) => {{ let _ = writeln!(std::io::stdout(), $($arg)*); }};
}
macro_rules! warn {
    ($($arg:tt)*) => {{ let _ = writeln!(std::io::stderr(), $($arg)*); }};
}

#[derive(Parser)]
#[command(
    name = "drs-codegen",
    version,
    about = "Compile drs-waves recovery plans into Step Functions state machines"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check plan files and report every problem (file, wave and field); nothing is written.
    Validate {
        /// Plan files (YAML, or JSON when the name ends in .json).
        #[arg(required = true, value_name = "PLAN")]
        plans: Vec<PathBuf>,
    },
    /// Generate a plan's state machine (ASL JSON) on stdout or into a file.
    Generate {
        /// The plan file (YAML, or JSON when the name ends in .json).
        #[arg(value_name = "PLAN")]
        plan: PathBuf,
        /// Write here instead of stdout (atomically: a failure leaves no partial file).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Use a concrete activity ARN instead of the ${...} placeholder (for a local
        /// deployment). NAME is one of preflight, start-wave, check-wave, finish,
        /// record-failure, await-operator; give all six or none.
        #[arg(long = "activity-arn", value_name = "NAME=ARN")]
        activity_arns: Vec<String>,
        /// Print the definition's size and how long generation took on stderr.
        #[arg(long)]
        stats: bool,
    },
    /// Print the JSON Schema of the plan file or of the execution input.
    Schema {
        #[arg(value_enum)]
        which: SchemaKind,
    },
    /// Print a plan's operator runbook (Markdown).
    Runbook {
        /// The plan file (YAML, or JSON when the name ends in .json).
        #[arg(value_name = "PLAN")]
        plan: PathBuf,
        /// Write here instead of stdout (atomically).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the contract shared with the worker and the CDK app (statemachines/contract.json).
    Contract,
    /// Rewrite every generated file under statemachines/ (machines, runbooks, schemas,
    /// contract.json, the fleet plan).
    Regenerate {
        /// The statemachines directory (default: the one in this workspace).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Change nothing; exit 1 and list the files that are out of date.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemaKind {
    /// The plan file.
    Plan,
    /// The StartExecution input.
    Input,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(Failure { code, message }) => {
            warn!("{message}");
            ExitCode::from(code)
        }
    }
}

/// A message for stderr and the exit status that goes with it.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn io(what: &str, e: impl std::fmt::Display) -> Failure {
        Failure {
            code: 1,
            message: format!("{what}: {e}"),
        }
    }
}

impl From<drs_codegen::plan::PlanError> for Failure {
    fn from(e: drs_codegen::plan::PlanError) -> Failure {
        Failure {
            code: e.exit_code(),
            message: e.to_string(),
        }
    }
}

impl From<artifacts::ArtifactError> for Failure {
    fn from(e: artifacts::ArtifactError) -> Failure {
        Failure {
            code: e.exit_code(),
            message: e.to_string(),
        }
    }
}

fn print_stdout(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::io("stdout", e))
}

fn emit(text: &str, output: Option<&Path>) -> Result<(), Failure> {
    match output {
        None => print_stdout(text),
        Some(path) => artifacts::write_atomic(path, text.as_bytes()).map_err(Failure::from),
    }
}

/// What the plan's author should know but is not refused (printed to stderr; the exit status
/// stays 0).
fn warn_about(path: &Path, warnings: &[drs_codegen::plan::Problem]) {
    for w in warnings {
        warn!("{}: warning: {w}", path.display());
    }
}

fn run(command: Command) -> Result<u8, Failure> {
    match command {
        Command::Validate { plans } => {
            // Every plan is checked; the worst outcome decides the exit status.
            let mut code = 0u8;
            for path in &plans {
                match compile_file(path, &ActivityResources::Placeholders) {
                    Ok(c) => {
                        let spec = &c.plan.spec;
                        let by_id: usize = spec.waves.iter().map(|w| w.server_ids.len()).sum();
                        let by_tags = spec.waves.iter().filter(|w| !w.tags.is_empty()).count();
                        say!(
                            "{}: ok: plan {:?}, {} wave(s), {by_id} server(s) by ID, {by_tags} wave(s) by tags; \
                             definition {} bytes; worst case {} history events",
                            path.display(),
                            spec.name,
                            spec.waves.len(),
                            c.definition.len(),
                            budget::worst_case_history_events(&spec.waves),
                        );
                        warn_about(path, &c.plan.warnings);
                    }
                    Err(e) => {
                        warn!("{e}");
                        // A bad plan (2) outranks an unreadable file (1).
                        code = match (code, e.exit_code()) {
                            (0, c) => c,
                            (_, 2) => 2,
                            (c, _) => c,
                        };
                    }
                }
            }
            Ok(code)
        }
        Command::Generate {
            plan,
            output,
            activity_arns,
            stats,
        } => {
            let resources = ActivityResources::from_pairs(&activity_arns).map_err(|e| Failure {
                code: 2,
                message: e.to_string(),
            })?;
            let started = Instant::now();
            let compiled = compile_file(&plan, &resources)?;
            let elapsed = started.elapsed();
            warn_about(&plan, &compiled.plan.warnings);
            emit(&compiled.definition, output.as_deref())?;
            if stats {
                warn!(
                    "{}: {} states, {} bytes, parsed, validated and generated in {:.1} ms",
                    plan.display(),
                    compiled.machine.states.0.len(),
                    compiled.definition.len(),
                    elapsed.as_secs_f64() * 1000.0
                );
            }
            Ok(0)
        }
        Command::Schema { which } => {
            print_stdout(&match which {
                SchemaKind::Plan => artifacts::plan_schema(),
                SchemaKind::Input => artifacts::input_schema(),
            })?;
            Ok(0)
        }
        Command::Runbook { plan, output } => {
            let compiled = compile_file(&plan, &ActivityResources::Placeholders)?;
            let text = drs_codegen::runbook::render(&compiled.plan)
                .map_err(|e| Failure::io(&plan.display().to_string(), e))?;
            emit(&text, output.as_deref())?;
            Ok(0)
        }
        Command::Contract => {
            print_stdout(&artifacts::contract_json())?;
            Ok(0)
        }
        Command::Regenerate { dir, check } => {
            let dir = dir.unwrap_or_else(artifacts::default_dir);
            if check {
                let stale = artifacts::stale(&dir)?;
                if stale.is_empty() {
                    say!("{}: up to date", dir.display());
                    return Ok(0);
                }
                for line in &stale {
                    warn!("{}: {line}", dir.display());
                }
                warn!("run: {REGENERATE_COMMAND}");
                return Ok(1);
            }
            let changed = artifacts::write_all(&dir)?;
            if changed.is_empty() {
                say!("{}: up to date", dir.display());
            }
            for line in changed {
                say!("{}: {line}", dir.display());
            }
            Ok(0)
        }
    }
}
