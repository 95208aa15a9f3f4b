use super::*;
use drs_test_builders::{plan, wave};

/// A plan of waves named by letters; `deps[i]` is wave i+1's `dependsOn` (None: the wave
/// before).
fn spec(deps: &[Option<&[u32]>]) -> PlanSpec {
    let waves = deps
        .iter()
        .enumerate()
        .map(|(k, d)| {
            let index = u32::try_from(k + 1).expect("present");
            let mut w = wave(index, &format!("w{index}"), &[], &[("App", "x")]);
            w.depends_on = d.map(<[u32]>::to_vec);
            w
        })
        .collect();
    plan("p", waves)
}

fn wave_block(i: u32) -> Block {
    Block::Wave(i)
}

#[test]
fn a_plan_without_depends_on_is_one_series_in_order() {
    let l = layout(&spec(&[None, None, None]));
    assert_eq!(
        l.root,
        Block::Series(vec![wave_block(1), wave_block(2), wave_block(3)])
    );
    assert!(l.extra_waits.is_empty());
}

#[test]
fn a_single_wave_is_itself() {
    assert_eq!(layout(&spec(&[None])).root, wave_block(1));
}

#[test]
fn a_diamond_runs_its_middle_side_by_side() {
    let l = layout(&spec(&[None, Some(&[1]), Some(&[1]), Some(&[2, 3])]));
    assert_eq!(
        l.root,
        Block::Series(vec![
            wave_block(1),
            Block::Parallel(vec![wave_block(2), wave_block(3)]),
            wave_block(4)
        ])
    );
    assert!(l.extra_waits.is_empty());
}

#[test]
fn independent_chains_are_branches() {
    // 1 -> 2 ; 3 (starts at once) -> 4 (the wave before it)
    let l = layout(&spec(&[None, None, Some(&[]), None]));
    assert_eq!(
        l.root,
        Block::Parallel(vec![
            Block::Series(vec![wave_block(1), wave_block(2)]),
            Block::Series(vec![wave_block(3), wave_block(4)]),
        ])
    );
    assert!(l.extra_waits.is_empty());
}

#[test]
fn nested_branches_inside_a_branch() {
    // 1; then 2 and (3 then 4 and 5 side by side then 6); 7 after everything
    let l = layout(&spec(&[
        None,
        Some(&[1]),
        Some(&[1]),
        Some(&[3]),
        Some(&[3]),
        Some(&[4, 5]),
        Some(&[2, 6]),
    ]));
    assert_eq!(
        l.root,
        Block::Series(vec![
            wave_block(1),
            Block::Parallel(vec![
                wave_block(2),
                Block::Series(vec![
                    wave_block(3),
                    Block::Parallel(vec![wave_block(4), wave_block(5)]),
                    wave_block(6),
                ]),
            ]),
            wave_block(7),
        ])
    );
    assert!(l.extra_waits.is_empty());
}

#[test]
fn a_graph_parallel_states_cannot_express_names_the_extra_wait() {
    // The N: 3 waits for 1 and 2, 4 only for 2. All sources start at once; 4 then waits for 1.
    let l = layout(&spec(&[Some(&[]), Some(&[]), Some(&[1, 2]), Some(&[2])]));
    assert_eq!(
        l.root,
        Block::Series(vec![
            Block::Parallel(vec![wave_block(1), wave_block(2)]),
            Block::Parallel(vec![wave_block(3), wave_block(4)]),
        ])
    );
    assert_eq!(
        l.extra_waits,
        vec![ExtraWait {
            wave: 4,
            waits_for: vec![1]
        }]
    );
}

#[test]
fn every_wave_is_laid_out_once_and_after_what_it_waits_for() {
    // A larger mixed graph: the layout's order never breaks a dependency.
    let s = spec(&[
        Some(&[]),
        Some(&[]),
        Some(&[1]),
        Some(&[1, 2]),
        Some(&[2]),
        Some(&[3, 5]),
        Some(&[]),
        Some(&[6, 7]),
    ]);
    let l = layout(&s);
    let mut waves = l.root.waves();
    waves.sort_unstable();
    assert_eq!(waves, (1..=8).collect::<Vec<_>>());
    for w in &s.waves {
        for d in s.dependencies(w.index) {
            assert!(
                runs_before(&l.root, d, w.index),
                "{d} must end before {} starts",
                w.index
            );
        }
    }
}

/// Whether the layout makes `a` end before `b` starts.
fn runs_before(block: &Block, a: u32, b: u32) -> bool {
    match block {
        Block::Wave(_) => false,
        Block::Parallel(parts) => parts.iter().any(|p| runs_before(p, a, b)),
        Block::Series(parts) => {
            let pos = |w| parts.iter().position(|p| p.waves().contains(&w));
            match (pos(a), pos(b)) {
                (Some(x), Some(y)) if x < y => true,
                (Some(x), Some(y)) if x == y => runs_before(&parts[x], a, b),
                _ => false,
            }
        }
    }
}
