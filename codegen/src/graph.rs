//! The waves' dependency graph laid out as Step Functions can run it: waves one after another
//! (a series) and side by side (a Parallel state's branches), nested.
//!
//! A graph built only of series and side-by-side parts (series-parallel) is laid out exactly.
//! Others (the "N" shape: c waits for a and b, d only for b) cannot be: a Parallel state ends
//! when all its branches end, and branches cannot wait for each other. There the layout puts a
//! wave after a group it does not depend on, and says so ([`Layout::extra_waits`]): validation
//! prints it as a warning, so the plan's author knows which wave waits longer than it must.
//!
//! A plan without `dependsOn` is one series of its waves in order: the machine it always was.

use std::collections::{BTreeMap, BTreeSet};

use crate::contract::PlanSpec;

/// A part of the layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Block {
    /// One wave, by index.
    Wave(u32),
    /// Each part starts when the one before it has ended.
    Series(Vec<Block>),
    /// The parts run at the same time; the block ends when all have ended.
    Parallel(Vec<Block>),
}

impl Block {
    /// The waves in the block, in the order the layout runs them (branches in order).
    pub fn waves(&self) -> Vec<u32> {
        match self {
            Block::Wave(i) => vec![*i],
            Block::Series(parts) | Block::Parallel(parts) => {
                parts.iter().flat_map(Block::waves).collect()
            }
        }
    }

    /// The first wave a reader meets in the block.
    pub fn first_wave(&self) -> u32 {
        self.waves().first().copied().unwrap_or(0)
    }
}

/// A wave that the layout makes wait for a wave it does not depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtraWait {
    pub wave: u32,
    pub waits_for: Vec<u32>,
}

/// The layout of a plan's waves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub root: Block,
    pub extra_waits: Vec<ExtraWait>,
}

/// Lays out a plan whose dependencies are sound (every index known, no cycle: validation
/// checks that first).
pub fn layout(spec: &PlanSpec) -> Layout {
    if !spec.is_graph() {
        // Nothing to compute: the waves in order, the machine it always was.
        let waves = spec
            .waves
            .iter()
            .map(|w| Block::Wave(w.index))
            .collect::<Vec<_>>();
        let root = if waves.len() == 1 {
            waves
                .into_iter()
                .next()
                .unwrap_or(Block::Series(Vec::new()))
        } else {
            Block::Series(waves)
        };
        return Layout {
            root,
            extra_waits: Vec::new(),
        };
    }
    let order = Order::of(spec);
    let all: BTreeSet<u32> = spec.waves.iter().map(|w| w.index).collect();
    let mut extra: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    let root = order.build(&all, &mut extra);
    Layout {
        root,
        extra_waits: extra
            .into_iter()
            .map(|(wave, set)| ExtraWait {
                wave,
                waits_for: set.into_iter().collect(),
            })
            .collect(),
    }
}

/// Every wave each wave waits for, directly or through others. The graph must have no cycle
/// (validation checks that first); a cycle would only be cut short, never loop.
pub fn ancestors(spec: &PlanSpec) -> BTreeMap<u32, BTreeSet<u32>> {
    fn close(
        spec: &PlanSpec,
        w: u32,
        memo: &mut BTreeMap<u32, BTreeSet<u32>>,
        depth: usize,
    ) -> BTreeSet<u32> {
        if let Some(done) = memo.get(&w) {
            return done.clone();
        }
        let mut set = BTreeSet::new();
        if depth <= spec.waves.len() {
            for d in spec.dependencies(w) {
                set.insert(d);
                set.extend(close(spec, d, memo, depth + 1));
            }
        }
        memo.insert(w, set.clone());
        set
    }
    let mut memo = BTreeMap::new();
    for w in &spec.waves {
        close(spec, w.index, &mut memo, 0);
    }
    memo
}

/// The "waits for" relation, transitively closed: `ancestors[w]` is every wave that must end
/// before `w` starts.
struct Order {
    ancestors: BTreeMap<u32, BTreeSet<u32>>,
}

impl Order {
    fn of(spec: &PlanSpec) -> Order {
        Order {
            ancestors: ancestors(spec),
        }
    }

    fn precedes(&self, a: u32, b: u32) -> bool {
        self.ancestors.get(&b).is_some_and(|s| s.contains(&a))
    }

    fn comparable(&self, a: u32, b: u32) -> bool {
        self.precedes(a, b) || self.precedes(b, a)
    }

    /// The block of a set of waves that is convex in the order (every wave between two of its
    /// waves is in it), so that its layout never needs a wave outside it.
    fn build(&self, set: &BTreeSet<u32>, extra: &mut BTreeMap<u32, BTreeSet<u32>>) -> Block {
        match set.len() {
            0 => return Block::Series(Vec::new()),
            1 => return Block::Wave(*set.iter().next().unwrap_or(&0)),
            _ => {}
        }
        let parts = self.components(set);
        if parts.len() > 1 {
            return Block::Parallel(parts.iter().map(|p| self.build(p, extra)).collect());
        }
        let (before, after) = self.split(set, extra);
        let mut series = Vec::new();
        for part in [self.build(&before, extra), self.build(&after, extra)] {
            match part {
                Block::Series(inner) => series.extend(inner),
                other => series.push(other),
            }
        }
        Block::Series(series)
    }

    /// The set's waves grouped so that no wave of one group is ordered with a wave of another:
    /// the groups can run side by side. Ordered by their smallest wave.
    fn components(&self, set: &BTreeSet<u32>) -> Vec<BTreeSet<u32>> {
        let mut groups: Vec<BTreeSet<u32>> = Vec::new();
        for &w in set {
            let (joined, rest): (Vec<_>, Vec<_>) = groups
                .into_iter()
                .partition(|g| g.iter().any(|&o| self.comparable(o, w)));
            let mut merged: BTreeSet<u32> = joined.into_iter().flatten().collect();
            merged.insert(w);
            groups = rest;
            groups.push(merged);
        }
        groups.sort_by_key(|g| g.iter().next().copied());
        groups
    }

    /// Splits a connected set into what runs first and what runs after it. Each candidate for
    /// "first" is the set of waves some wave of the set waits for (such a set is closed under
    /// "waits for"); a candidate is exact when every wave after it waits for every wave in
    /// it. The smallest exact one is taken; without one, the candidate that adds the fewest
    /// waits, and those waits are recorded.
    fn split(
        &self,
        set: &BTreeSet<u32>,
        extra: &mut BTreeMap<u32, BTreeSet<u32>>,
    ) -> (BTreeSet<u32>, BTreeSet<u32>) {
        let mut candidates: Vec<BTreeSet<u32>> = set
            .iter()
            .map(|&w| self.ancestors_in(w, set))
            .filter(|a| !a.is_empty() && a.len() < set.len())
            .collect();
        // The waves that wait for nothing in the set: always a candidate.
        let sources: BTreeSet<u32> = set
            .iter()
            .copied()
            .filter(|&w| self.ancestors_in(w, set).is_empty())
            .collect();
        candidates.push(sources.clone());
        // The smallest exact candidate (the lowest indexes among equals, so the layout is
        // always the same).
        candidates.sort_by_key(|c| (c.len(), c.iter().copied().collect::<Vec<_>>()));
        candidates.dedup();
        if let Some(exact) = candidates.iter().find(|c| self.is_exact(c, set)) {
            let rest = set.difference(exact).copied().collect();
            return (exact.clone(), rest);
        }
        // Else the fewest added waits; then the waves that wait for nothing (no such wave is
        // held back); then as above.
        candidates.sort_by_key(|c| {
            (
                self.added_waits(c, set).len(),
                *c != sources,
                c.len(),
                c.iter().copied().collect::<Vec<_>>(),
            )
        });
        let first = candidates.into_iter().next().unwrap_or_default();
        for (wave, waits_for) in self.added_waits(&first, set) {
            extra.entry(wave).or_default().insert(waits_for);
        }
        let rest = set.difference(&first).copied().collect();
        (first, rest)
    }

    /// Whether every wave of `set` outside `first` waits for every wave in it.
    fn is_exact(&self, first: &BTreeSet<u32>, set: &BTreeSet<u32>) -> bool {
        set.difference(first)
            .all(|b| self.ancestors.get(b).is_some_and(|a| first.is_subset(a)))
    }

    fn ancestors_in(&self, w: u32, set: &BTreeSet<u32>) -> BTreeSet<u32> {
        self.ancestors
            .get(&w)
            .map(|a| a.intersection(set).copied().collect())
            .unwrap_or_default()
    }

    /// The (wave, waits for) pairs that putting `first` before the rest of `set` adds.
    fn added_waits(&self, first: &BTreeSet<u32>, set: &BTreeSet<u32>) -> Vec<(u32, u32)> {
        set.difference(first)
            .flat_map(|&b| {
                first
                    .iter()
                    .filter(move |&&a| !self.precedes(a, b))
                    .map(move |&a| (b, a))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
