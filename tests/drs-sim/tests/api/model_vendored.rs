//! The vendored DRS model (`model/drs-service-2.json`) is the one the pinned botocore ships,
//! and the operations drs-sim serves are operations of it with the same HTTP binding.

use std::path::{Path, PathBuf};
use std::process::Command;

use drs_sim::Model;
use drs_sim::model::MODEL_JSON;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The project's Python venv (bootstrap.sh makes it from requirements.txt): DRS_WAVES_VENV,
/// else `<repo>/.venv`.
fn venv() -> Option<PathBuf> {
    let venv = std::env::var_os("DRS_WAVES_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_dir().join("../../.venv"));
    venv.join("bin/python").is_file().then_some(venv)
}

/// botocore's version and the bytes of its newest DRS `service-2.json` (gzipped or not).
fn pinned_model(venv: &Path) -> (String, Vec<u8>) {
    const SCRIPT: &str = r#"
import gzip, os, sys, botocore
root = os.path.join(os.path.dirname(botocore.__file__), "data", "drs")
newest = os.path.join(root, sorted(os.listdir(root))[-1])
plain = os.path.join(newest, "service-2.json")
data = open(plain, "rb").read() if os.path.exists(plain) else gzip.open(plain + ".gz").read()
sys.stderr.write(botocore.__version__)
sys.stdout.buffer.write(data)
"#;
    let out = Command::new(venv.join("bin/python"))
        .args(["-c", SCRIPT])
        .output()
        .expect("the venv's python runs");
    assert!(
        out.status.success(),
        "reading botocore's DRS model failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        out.stdout,
    )
}

#[test]
fn the_vendored_model_is_the_one_the_pinned_botocore_ships() {
    let Some(venv) = venv() else {
        println!(
            "skipped: no Python venv (set DRS_WAVES_VENV or run scripts/bootstrap.sh), so the \
             vendored model cannot be compared with botocore's"
        );
        return;
    };
    let (version, pinned) = pinned_model(&venv);
    assert!(
        pinned == MODEL_JSON.as_bytes(),
        "tests/drs-sim/model/drs-service-2.json differs from botocore {version}'s DRS model in \
         {}: copy it again (see tests/drs-sim/README.md, \"The DRS model\") and look at what \
         the new model changes for drs-sim",
        venv.display()
    );
    // The README says which botocore the copy comes from; a stale line would mislead.
    let readme = std::fs::read_to_string(crate_dir().join("README.md")).expect("README");
    assert!(
        readme.contains(&format!("botocore {version}")),
        "tests/drs-sim/README.md does not name botocore {version} as the model's source"
    );
}

#[test]
fn every_served_operation_is_a_model_operation_bound_to_post_of_its_name() {
    let model = Model::drs();
    for name in drs_sim::wire::OPERATIONS {
        let op = model
            .operation(name)
            .unwrap_or_else(|| panic!("drs-sim serves {name}, which the DRS model does not have"));
        assert_eq!(op.method, "POST", "{name}");
        assert_eq!(op.request_uri, format!("/{name}"), "{name}");
        // StopFailback is the one served operation without an output shape: it answers `{}`.
        assert!(
            op.input.is_some() && (op.output.is_some() || *name == "StopFailback"),
            "{name}"
        );
    }
}
