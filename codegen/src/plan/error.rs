//! What is wrong with a plan, and how the CLI reports it.

use std::fmt;

/// Which wave a problem is in (1-based, as the console names it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaveRef {
    pub index: u32,
    pub name: String,
}

/// One thing wrong with a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub wave: Option<WaveRef>,
    /// The field's path inside the plan or the wave (`servers.ids[1]`).
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(w) = &self.wave {
            write!(f, "wave {} {:?}: ", w.index, w.name)?;
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Why a plan was not compiled.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {}{}{message}", location_text(*.location), if path.is_empty() { String::new() } else { format!("{path}: ") })]
    Syntax {
        file: String,
        location: Option<(usize, usize)>,
        path: String,
        message: String,
    },
    #[error("{}", problems.iter().map(|p| format!("{file}: {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
    #[error("{file}: internal error, the generated state machine is invalid (a drs-codegen bug): {}", errors.join("; "))]
    Generator { file: String, errors: Vec<String> },
}

fn location_text(location: Option<(usize, usize)>) -> String {
    location
        .map(|(line, column)| format!("line {line}, column {column}: "))
        .unwrap_or_default()
}

impl PlanError {
    /// The CLI's exit status: 2 for a bad plan, 1 for anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            PlanError::Syntax { .. } | PlanError::Invalid { .. } => 2,
            PlanError::Read { .. } | PlanError::Generator { .. } => 1,
        }
    }
}
