//! The invariants of ARCHITECTURE.md ("Invariants") that a machine can check: which workspace
//! crate may depend on which. Read from `cargo metadata --no-deps` (the manifests as written),
//! so a new arrow that points up fails here, naming both crates, before it ships.
//!
//! Only normal dependencies count: a crate's tests may use what it must not ship with (the
//! fakes of the crates above it are behind their `fake` features for that).

use std::collections::{BTreeMap, BTreeSet};

/// Each production crate and the workspace crates it may depend on (normal dependencies). A
/// crate not listed here must be a test crate (under `tests/`), which no production crate may
/// depend on.
pub const ALLOWED: &[(&str, &[&str])] = &[
    ("drs-waves-contract", &[]),
    ("drs-waves-aws", &["drs-waves-contract"]),
    (
        "drs-waves-history",
        &["drs-waves-contract", "drs-waves-aws"],
    ),
    (
        "drs-waves-rules",
        &["drs-waves-contract", "drs-waves-aws", "drs-waves-history"],
    ),
    (
        "drs-waves-report",
        &[
            "drs-waves-contract",
            "drs-waves-aws",
            "drs-waves-history",
            "drs-waves-rules",
        ],
    ),
    ("drs-codegen", &["drs-waves-contract"]),
    (
        "drs-worker",
        &[
            "drs-waves-contract",
            "drs-waves-aws",
            "drs-waves-history",
            "drs-waves-rules",
            "drs-waves-report",
        ],
    ),
    (
        "drs-waves-cli",
        &[
            "drs-codegen",
            "drs-waves-contract",
            "drs-waves-aws",
            "drs-waves-history",
            "drs-waves-rules",
            "drs-waves-report",
        ],
    ),
];

/// The workspace's packages and, for each, its normal dependencies on other workspace packages.
pub fn workspace_dependencies(metadata: &serde_json::Value) -> BTreeMap<String, BTreeSet<String>> {
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let names: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    packages
        .iter()
        .filter_map(|p| {
            let name = p["name"].as_str()?.to_owned();
            let deps = p["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str())
                .filter(|d| names.contains(*d) && *d != name)
                .map(str::to_owned)
                .collect();
            Some((name, deps))
        })
        .collect()
}

/// Every arrow that breaks [`ALLOWED`], as one sentence each; `test_crates` are the crates under
/// `tests/`, which only other test crates may depend on.
pub fn violations(
    deps: &BTreeMap<String, BTreeSet<String>>,
    test_crates: &BTreeSet<String>,
) -> Vec<String> {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut out = Vec::new();
    for (krate, uses) in deps {
        if test_crates.contains(krate) {
            continue;
        }
        let Some(may) = allowed.get(krate.as_str()) else {
            out.push(format!(
                "{krate} is a production crate ARCHITECTURE.md does not place: add it to the \
                 invariants (tests/layout/src/lib.rs, ALLOWED) and to the code map"
            ));
            continue;
        };
        for dep in uses {
            if test_crates.contains(dep) {
                out.push(format!("{krate} depends on the test crate {dep}"));
            } else if !may.contains(&dep.as_str()) {
                out.push(format!(
                    "{krate} depends on {dep}, which ARCHITECTURE.md's invariants forbid"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata() -> serde_json::Value {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = std::process::Command::new(cargo)
            .args([
                "metadata",
                "--no-deps",
                "--format-version",
                "1",
                "--offline",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo metadata runs");
        assert!(
            out.status.success(),
            "cargo metadata: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
    }

    fn test_crates(metadata: &serde_json::Value) -> BTreeSet<String> {
        let root = metadata["workspace_root"].as_str().unwrap_or_default();
        let tests_dir = format!("{root}/tests/");
        metadata["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| {
                p["manifest_path"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(&tests_dir))
            })
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn every_arrow_between_the_workspace_crates_points_down() {
        let metadata = metadata();
        let deps = workspace_dependencies(&metadata);
        let found = violations(&deps, &test_crates(&metadata));
        assert!(found.is_empty(), "{}", found.join("\n"));
        // The check saw the workspace, not an empty list.
        for (krate, _) in ALLOWED {
            assert!(deps.contains_key(*krate), "{krate} is in the workspace");
        }
    }

    #[test]
    fn the_cli_and_the_report_never_depend_on_the_worker() {
        let deps = workspace_dependencies(&metadata());
        for krate in ["drs-waves-cli", "drs-waves-report"] {
            assert!(!deps[krate].contains("drs-worker"), "{krate} -> drs-worker");
        }
    }

    /// The normal dependencies of `krate`, workspace or not.
    fn all_dependencies(metadata: &serde_json::Value, krate: &str) -> Vec<String> {
        metadata["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["name"] == krate)
            .flat_map(|p| p["dependencies"].as_array().cloned().unwrap_or_default())
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str().map(str::to_owned))
            .collect()
    }

    #[test]
    fn the_contract_and_codegen_know_no_aws_sdk() {
        let metadata = metadata();
        for krate in ["drs-waves-contract", "drs-codegen"] {
            let deps = all_dependencies(&metadata, krate);
            assert!(!deps.is_empty(), "{krate} is in the workspace");
            let sdk: Vec<&String> = deps.iter().filter(|d| d.starts_with("aws-")).collect();
            assert!(sdk.is_empty(), "{krate} depends on {sdk:?}");
        }
    }

    #[test]
    fn an_arrow_up_or_into_a_test_crate_is_named() {
        let deps: BTreeMap<String, BTreeSet<String>> = [
            ("drs-waves-contract", vec!["drs-waves-history"]),
            ("drs-waves-cli", vec!["drs-worker", "drs-sim"]),
            ("drs-new-thing", vec![]),
            ("drs-sim", vec!["drs-worker"]),
        ]
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_owned(),
                v.into_iter().map(str::to_owned).collect::<BTreeSet<_>>(),
            )
        })
        .collect();
        let tests: BTreeSet<String> = ["drs-sim".to_owned()].into();
        let found = violations(&deps, &tests);
        assert_eq!(found.len(), 4, "{found:#?}");
        for want in [
            "drs-waves-cli depends on drs-worker,",
            "drs-waves-cli depends on the test crate drs-sim",
            "drs-waves-contract depends on drs-waves-history,",
            "drs-new-thing is a production crate",
        ] {
            assert!(found.iter().any(|f| f.contains(want)), "{want}: {found:#?}");
        }
    }
}
