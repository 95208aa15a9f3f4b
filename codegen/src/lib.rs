//! drs-codegen: the recovery plan model and its validation, the contract shared with the
//! activity worker, and the generator that compiles a plan into a Step Functions state machine.
//!
//! - [`contract`]: re-export of `drs-waves-contract`, the single source of names shared with
//!   the worker and the CLI.
//! - [`plan`]: the plan file, parsed and validated into [`contract::PlanSpec`].
//! - [`asl`]: a typed ASL model with its own `validate()`.
//! - [`generate`]: plan -> machine; [`budget`]: the time and size limits both respect.
//! - [`runbook`]: the Markdown runbook of a plan; [`describe`]: the plan in words, shared by
//!   the machine's comments and the runbook; [`artifacts`]: everything checked in under
//!   `statemachines/` and how it is regenerated.
//! - The state names are the contract's ([`contract::states`]), so the worker and the CLI
//!   read back the names the generator wrote.

pub mod artifacts;
pub mod asl;
pub mod budget;
pub mod describe;
/// The contract lives in its own crate (shared with the worker and the CLI); re-exported so
/// the generator reads `contract::...` as before.
pub use drs_waves_contract as contract;
pub mod generate;
pub mod graph;
pub mod plan;
pub mod runbook;

use std::path::Path;

use crate::asl::StateMachine;
use crate::generate::ActivityResources;
use crate::plan::{Plan, PlanError, Problem};

/// A plan and its generated machine, validated, with the definition as it is written out.
#[derive(Clone, Debug)]
pub struct Compiled {
    pub plan: Plan,
    pub machine: StateMachine,
    /// Pretty JSON with a trailing newline.
    pub definition: String,
}

/// Parses, validates and generates; the machine is validated before it is returned.
pub fn compile_str(
    file: &str,
    text: &str,
    resources: &ActivityResources,
) -> Result<Compiled, PlanError> {
    let plan = plan::load_str(file, text)?;
    compile_plan(file, plan, resources)
}

/// [`compile_str`] on a file.
pub fn compile_file(path: &Path, resources: &ActivityResources) -> Result<Compiled, PlanError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
        file: file.clone(),
        source,
    })?;
    compile_str(&file, &text, resources)
}

/// Generates and validates the machine of an already validated plan.
pub fn compile_plan(
    file: &str,
    plan: Plan,
    resources: &ActivityResources,
) -> Result<Compiled, PlanError> {
    let machine = generate::generate(&plan, resources);
    let errors = machine.validate();
    if !errors.is_empty() {
        return Err(PlanError::Generator {
            file: file.to_owned(),
            errors: errors.iter().map(ToString::to_string).collect(),
        });
    }
    let definition = machine.to_json_pretty();
    let size = worst_case_definition_bytes(&machine, &definition);
    if size > budget::DEFINITION_LIMIT_BYTES {
        return Err(PlanError::Invalid {
            file: file.to_owned(),
            problems: vec![Problem {
                wave: None,
                field: "waves".into(),
                message: format!(
                    "the generated state machine would be about {size} bytes once its activity ARNs are filled in, over Step Functions' \
                     definition limit of {} bytes: split the plan, or select servers by tags instead of listing their IDs",
                    budget::DEFINITION_LIMIT_BYTES
                ),
            }],
        });
    }
    Ok(Compiled {
        plan,
        machine,
        definition,
    })
}

/// The definition's size with every `Resource` as long as an ARN can be, so that a placeholder
/// definition that passes here also fits once CDK substitutes the ARNs.
pub fn worst_case_definition_bytes(machine: &StateMachine, definition: &str) -> usize {
    let growth: usize = machine
        .states
        .0
        .iter()
        .filter_map(|(_, s)| match s {
            asl::State::Task(t) => Some(budget::MAX_ARN_CHARS.saturating_sub(t.resource.len())),
            _ => None,
        })
        .sum();
    definition.len() + growth
}
