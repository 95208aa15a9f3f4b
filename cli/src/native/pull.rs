//! `native pull`: a drs-waves plan from a DRS recovery plan. Pure: the plan and its steps in,
//! the YAML text out (checked by the plan loader before anyone writes it).
//!
//! SERVER steps become waves with explicit IDs (OPTIONAL servers `optional`), in step order;
//! the steps an export split a wave into (`<wave> part K of N`) become that one wave again;
//! WAIT steps become the next wave's `pauseBeforeMinutes` (consecutive ones added up). A WAIT
//! step with no SERVER step after it has no wave to pause and is named in the warnings.

use std::collections::BTreeSet;

use drs_waves_aws::drs::native::{NativePlan, NativeStep, NativeStepConfig};

use super::export::PLAN_TAG;

/// A wave as it is pulled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PulledWave {
    pub name: String,
    pub ids: Vec<String>,
    pub optional: Vec<String>,
    pub pause_minutes: u32,
}

/// The pulled plan: its name, waves and what could not be carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    pub name: String,
    pub waves: Vec<PulledWave>,
    pub warnings: Vec<String>,
}

/// `web part 2 of 3` is `web`; any other name is itself.
fn wave_of_step(name: &str) -> &str {
    if let Some((base, rest)) = name.rsplit_once(" part ") {
        let mut parts = rest.split(" of ");
        let numbers = (parts.next(), parts.next(), parts.next());
        if let (Some(k), Some(n), None) = numbers
            && k.parse::<u32>().is_ok()
            && n.parse::<u32>().is_ok()
        {
            return base;
        }
    }
    name
}

/// A drs-waves name (letters, digits, '-', '_'; 1 to 40) for a step's or plan's name.
fn plan_word(name: &str, fallback: &str) -> String {
    let word: String = (name.chars())
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    if word.is_empty() {
        fallback.to_owned()
    } else {
        word
    }
}

/// The waves of a plan's steps, in order.
pub fn pull(plan: &NativePlan, steps: &[NativeStep]) -> Pulled {
    let mut ordered = steps.to_vec();
    ordered.sort_by_key(|s| s.order);
    let mut waves: Vec<PulledWave> = Vec::new();
    let mut warnings = Vec::new();
    let mut pause = 0u32;
    let mut last_base: Option<String> = None;
    for step in &ordered {
        match &step.config {
            NativeStepConfig::Wait { minutes } => {
                pause += minutes;
                last_base = None;
            }
            NativeStepConfig::Server(servers) => {
                let base = wave_of_step(&step.name).to_owned();
                let same = last_base.as_deref() == Some(base.as_str()) && pause == 0;
                if !same {
                    waves.push(PulledWave {
                        name: base.clone(),
                        pause_minutes: pause,
                        ..PulledWave::default()
                    });
                    pause = 0;
                }
                let wave = waves.last_mut().expect("a wave was pushed");
                for s in servers {
                    let id = s.source_server_id().to_owned();
                    if s.optional {
                        wave.optional.push(id.clone());
                    }
                    wave.ids.push(id);
                }
                last_base = Some(base);
            }
        }
    }
    if pause > 0 {
        warnings.push(format!(
            "the plan ends with WAIT steps ({pause} min) and no SERVER step after them: a drs-waves plan pauses only before a wave, so they are left out"
        ));
    }
    unique_names(&mut waves);
    let name = plan
        .tags
        .get(PLAN_TAG)
        .filter(|n| drs_codegen::plan::is_name(n))
        .cloned()
        .unwrap_or_else(|| plan_word(&plan.name, "native-plan"));
    Pulled {
        name,
        waves,
        warnings,
    }
}

/// Wave names valid and unique: `-2`, `-3` after a name already taken.
fn unique_names(waves: &mut [PulledWave]) {
    let mut taken = BTreeSet::new();
    for (k, w) in waves.iter_mut().enumerate() {
        let base = plan_word(&w.name, &format!("wave-{}", k + 1));
        let mut name = base.clone();
        let mut n = 2;
        while !taken.insert(name.clone()) {
            name = format!("{}-{n}", base.chars().take(36).collect::<String>());
            n += 1;
        }
        w.name = name;
    }
}

/// The plan file: a header naming where it came from, then YAML.
pub fn yaml(pulled: &Pulled, plan: &NativePlan, pulled_at: &str) -> String {
    let mut out = format!(
        "# Pulled by `drs-waves native pull` from the DRS recovery plan {:?}\n# ({}) on {pulled_at}.\n# Each SERVER step is a wave of explicit source server IDs; WAIT steps are pauses.\n",
        plan.name, plan.arn
    );
    for w in &pulled.warnings {
        out.push_str(&format!("# Left out: {w}\n"));
    }
    out.push_str(&format!("name: {}\n", pulled.name));
    if let Some(d) = &plan.description {
        out.push_str(&format!("description: {}\n", quoted(d)));
    }
    out.push_str("waves:\n");
    for w in &pulled.waves {
        out.push_str(&format!("  - name: {}\n", w.name));
        if w.pause_minutes > 0 {
            out.push_str(&format!("    pauseBeforeMinutes: {}\n", w.pause_minutes));
        }
        out.push_str(&format!(
            "    servers:\n      ids: [{}]\n",
            w.ids.join(", ")
        ));
        if !w.optional.is_empty() {
            out.push_str(&format!("    optional: [{}]\n", w.optional.join(", ")));
        }
    }
    out
}

/// A YAML double-quoted scalar (JSON's string escapes are YAML's).
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}
