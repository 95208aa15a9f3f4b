//! The names of the states that lay waves out side by side: a Parallel state
//! (`Waves 2, 3 side by side`) and each branch's own states (`Branch of wave 2: done`). No two
//! Parallel states hold the same waves, nor two branches, so the names are unique in a machine.

/// Step Functions' limit on a state's name.
pub const MAX_STATE_NAME_CHARS: usize = 80;

const PARALLEL_PREFIX: &str = "Waves ";
const PARALLEL_SUFFIX: &str = " side by side";
const BRANCH_PREFIX: &str = "Branch of wave";

/// A branch's own states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BranchStep {
    /// The Pass that ends a branch that ended well, handing its waves' states on.
    Done,
    /// The Choice before the branch's two Fail states (a Fail reading a missing cause would
    /// hide the error).
    ErrorHasCause,
    /// Fails the branch (and its Parallel state) with the caught error and cause.
    Failed,
    /// Fails the branch with the caught error, which had no cause.
    FailedWithoutCause,
}

impl BranchStep {
    pub const ALL: [BranchStep; 4] = [
        BranchStep::Done,
        BranchStep::ErrorHasCause,
        BranchStep::Failed,
        BranchStep::FailedWithoutCause,
    ];

    pub fn suffix(self) -> &'static str {
        match self {
            BranchStep::Done => "done",
            BranchStep::ErrorHasCause => "error has a cause?",
            BranchStep::Failed => "failed",
            BranchStep::FailedWithoutCause => "failed without a cause",
        }
    }
}

/// `Waves 2, 3 side by side`, or for many waves `Waves 2 to 40 (12 waves) side by side`.
pub fn parallel(waves: &[u32]) -> String {
    let full = format!("{PARALLEL_PREFIX}{}{PARALLEL_SUFFIX}", list(waves));
    if full.chars().count() <= MAX_STATE_NAME_CHARS {
        return full;
    }
    format!("{PARALLEL_PREFIX}{}{PARALLEL_SUFFIX}", range(waves))
}

/// `Branch of waves 3, 4: done`. The longest step decides whether the list is shortened, so
/// that all of a branch's names read alike.
pub fn branch(waves: &[u32], step: BranchStep) -> String {
    let plural = if waves.len() == 1 { "" } else { "s" };
    let name =
        |ws: &str, step: BranchStep| format!("{BRANCH_PREFIX}{plural} {ws}: {}", step.suffix());
    let full = list(waves);
    if name(&full, BranchStep::FailedWithoutCause).chars().count() <= MAX_STATE_NAME_CHARS {
        name(&full, step)
    } else {
        name(&range(waves), step)
    }
}

/// Whether a state is a Parallel state of waves or one of a branch's own states.
pub fn is_layout_state(state_name: &str) -> bool {
    let parallel = state_name
        .strip_prefix(PARALLEL_PREFIX)
        .and_then(|s| s.strip_suffix(PARALLEL_SUFFIX))
        .is_some_and(|s| s.starts_with(|c: char| c.is_ascii_digit()));
    let branch = state_name.starts_with(BRANCH_PREFIX)
        && BranchStep::ALL
            .iter()
            .any(|s| state_name.ends_with(&format!(": {}", s.suffix())));
    parallel || branch
}

fn list(waves: &[u32]) -> String {
    waves
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn range(waves: &[u32]) -> String {
    let lo = waves.iter().min().copied().unwrap_or(0);
    let hi = waves.iter().max().copied().unwrap_or(0);
    format!("{lo} to {hi} ({} waves)", waves.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names_read_as_the_console_shows_them_and_fit_its_limit() {
        assert_eq!(parallel(&[2, 3]), "Waves 2, 3 side by side");
        assert_eq!(branch(&[2], BranchStep::Done), "Branch of wave 2: done");
        assert_eq!(
            branch(&[3, 4], BranchStep::Failed),
            "Branch of waves 3, 4: failed"
        );
        let many: Vec<u32> = (10..40).collect();
        assert_eq!(parallel(&many), "Waves 10 to 39 (30 waves) side by side");
        for step in BranchStep::ALL {
            let name = branch(&many, step);
            assert!(
                name.starts_with("Branch of waves 10 to 39 (30 waves): "),
                "{name}"
            );
            assert!(name.chars().count() <= MAX_STATE_NAME_CHARS);
            assert!(is_layout_state(&name));
        }
        assert!(is_layout_state(&parallel(&many)));
        assert!(!is_layout_state("Wave 2 app: done?"));
        assert!(!is_layout_state("Preflight"));
    }
}
