//! `dependsOn`: wave names resolved into the waves they name, and the graph they make checked
//! (names that exist, no wave depending on itself, no name twice, no cycle). Without any
//! `dependsOn` the plan is the chain it always was, and nothing here changes it.

use std::collections::BTreeMap;

use super::fields::Scope;
use super::fields::minutes_text;
use super::file::WaveFile;
use super::{Problem, WaveRef};
use crate::contract::{PlanSpec, WaveSpec, WaveTarget};
use crate::graph;

/// Sets each wave's `depends_on` from its file's `dependsOn`, reporting what is wrong; then,
/// when every name resolved, reports each cycle once, as the cycle.
pub(super) fn resolve_dependencies(
    problems: &mut Vec<Problem>,
    files: &[WaveFile],
    waves: &mut [WaveSpec],
) {
    // The first wave of a duplicated name wins, as the name check reports.
    let mut index_of: BTreeMap<&str, u32> = BTreeMap::new();
    for (f, index) in files.iter().zip(1u32..) {
        index_of.entry(f.name.as_str()).or_insert(index);
    }
    let mut sound = true;
    for (file, wave) in files.iter().zip(waves.iter_mut()) {
        let Some(names) = &file.depends_on else {
            continue;
        };
        let mut scope = Scope::wave(problems, wave.index, &wave.name);
        let mut deps = Vec::new();
        for (k, name) in names.iter().enumerate() {
            let field = format!("dependsOn[{k}]");
            match index_of.get(name.as_str()) {
                None => {
                    sound = false;
                    scope.report(field, unknown_wave(name, &index_of));
                }
                Some(&i) if i == wave.index => {
                    sound = false;
                    scope.report(
                        field,
                        format!("{name:?} is this wave: a wave cannot wait for itself"),
                    );
                }
                Some(&i) if deps.contains(&i) => {
                    sound = false;
                    scope.report(field, format!("{name:?} is named twice"));
                }
                Some(&i) => deps.push(i),
            }
        }
        deps.sort_unstable();
        wave.depends_on = Some(deps);
    }
    if sound {
        report_cycles(problems, waves);
    }
}

fn unknown_wave(name: &str, index_of: &BTreeMap<&str, u32>) -> String {
    let known: Vec<&str> = index_of.keys().copied().collect();
    format!(
        "{name:?} is not a wave of this plan (its waves: {})",
        known.join(", ")
    )
}

/// Every cycle of the graph, each reported once on its first wave as `a -> b -> a`.
fn report_cycles(problems: &mut Vec<Problem>, waves: &[WaveSpec]) {
    let deps: BTreeMap<u32, Vec<u32>> = waves
        .iter()
        .map(|w| (w.index, dependencies(waves, w)))
        .collect();
    let name = |i: u32| {
        waves
            .iter()
            .find(|w| w.index == i)
            .map_or("?", |w| w.name.as_str())
    };
    let mut reported: Vec<Vec<u32>> = Vec::new();
    for w in waves {
        let Some(mut cycle) = cycle_through(&deps, w.index) else {
            continue;
        };
        // One report per cycle, whichever wave it was found from: compare it rotated to its
        // smallest index.
        let start = cycle
            .iter()
            .enumerate()
            .min_by_key(|(_, i)| **i)
            .map_or(0, |(k, _)| k);
        cycle.rotate_left(start);
        if reported.contains(&cycle) {
            continue;
        }
        let first = cycle[0];
        // The cycle runs along "waits for": print it the way the plan reads, a -> b meaning a
        // waits for b.
        let text: Vec<&str> = cycle.iter().chain([&first]).map(|&i| name(i)).collect();
        let mut scope = Scope::wave(problems, first, name(first));
        scope.report(
            "dependsOn",
            format!(
                "the waves wait for each other in a cycle ({}): none of them could ever start",
                text.join(" waits for ")
            ),
        );
        reported.push(cycle);
    }
}

/// The waves a wave waits for: its `dependsOn`, or else the wave before it.
fn dependencies(waves: &[WaveSpec], w: &WaveSpec) -> Vec<u32> {
    match &w.depends_on {
        Some(d) => d.clone(),
        None => waves
            .iter()
            .filter(|o| o.index < w.index)
            .map(|o| o.index)
            .max()
            .into_iter()
            .collect(),
    }
}

/// A cycle through `start` along the dependencies, as the waves in order, if there is one.
fn cycle_through(deps: &BTreeMap<u32, Vec<u32>>, start: u32) -> Option<Vec<u32>> {
    // Depth-first search for a path from start's dependencies back to start.
    let mut stack: Vec<(u32, usize)> = vec![(start, 0)];
    let mut on_path = vec![start];
    let mut seen = std::collections::BTreeSet::new();
    while let Some((node, next)) = stack.pop() {
        let children = deps.get(&node).map_or(&[][..], Vec::as_slice);
        if let Some(&child) = children.get(next) {
            stack.push((node, next + 1));
            if child == start {
                return Some(on_path.clone());
            }
            if seen.insert(child) {
                stack.push((child, 0));
                on_path.push(child);
            }
        } else {
            on_path.pop();
        }
    }
    None
}

/// In a graph, a wave's RTO target is not sooner than that of a wave it waits for.
pub(super) fn check_rto_order(
    problems: &mut Vec<Problem>,
    waves: &[WaveSpec],
    targets: &mut Vec<WaveTarget>,
) {
    let spec = PlanSpec {
        name: String::new(),
        terminate_drill_instances: false,
        waves: waves.to_vec(),
    };
    let ancestors = graph::ancestors(&spec);
    let rto = |i: u32| targets.iter().find(|t| t.index == i).map(|t| t.rto_seconds);
    let mut refused = Vec::new();
    for t in targets.iter() {
        let earlier = ancestors
            .get(&t.index)
            .into_iter()
            .flatten()
            .find(|&&a| rto(a).is_some_and(|r| r > t.rto_seconds));
        if let Some(&a) = earlier {
            let other = targets
                .iter()
                .find(|o| o.index == a)
                .map_or(0, |o| o.rto_seconds);
            let name = waves
                .iter()
                .find(|w| w.index == a)
                .map_or("?", |w| w.name.as_str());
            let mut scope = Scope::wave(problems, t.index, &t.name);
            scope.report(
                "rtoMinutes",
                format!(
                    "{} minutes is less than wave {a} {name:?}'s rtoMinutes ({}): this wave waits for it, so it cannot be recovered sooner",
                    minutes_text(t.rto_seconds),
                    minutes_text(other)
                ),
            );
            refused.push(t.index);
        }
    }
    targets.retain(|t| !refused.contains(&t.index));
}

/// Each wave the layout makes wait for waves it does not depend on, as a warning that says
/// why and what to do.
pub(super) fn layout_warnings(spec: &PlanSpec) -> Vec<Problem> {
    let name = |i: u32| {
        spec.waves
            .iter()
            .find(|w| w.index == i)
            .map_or_else(String::new, |w| w.name.clone())
    };
    graph::layout(spec)
        .extra_waits
        .into_iter()
        .map(|extra| {
            let others: Vec<String> = extra
                .waits_for
                .iter()
                .map(|&i| format!("wave {i} {:?}", name(i)))
                .collect();
            Problem {
                wave: Some(WaveRef {
                    index: extra.wave,
                    name: name(extra.wave),
                }),
                field: "dependsOn".into(),
                message: format!(
                    "will also wait for {}, which it does not depend on: Step Functions' Parallel states cannot run this graph \
                     exactly (a Parallel state ends when all its branches have ended, and one branch cannot wait for another). \
                     Name them in dependsOn to make the wait explicit, or reshape the graph",
                    others.join(" and ")
                ),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
