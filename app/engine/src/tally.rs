//! The chunk walk of an evaluation ([`crate::eval`]): which chunks it visits, what it does in
//! each when only the count is asked, and how the chunks are split across threads.
//!
//! - **Which chunks.** Without a funnel, an `all` with a plain condition (a tag value or a
//!   segment) can only match inside that condition's chunks, so the walk visits the chunks of
//!   the one with the fewest, not every chunk of the universe.
//! - **One operator over two bitmaps** (`a ∧ b`, `a ∨ b`, `a ∖ b`), counted: only `|a ∩ b|` is
//!   computed, over the chunks of the operand with fewer, by fused kernels that store nothing
//!   ([`crate::kernels::intersection_len`]); then `|a ∨ b| = |a| + |b| − |a ∩ b|` and
//!   `|a ∖ b| = |a| − |a ∩ b|` from the sizes the sets carry.
//! - **Any other `all`, counted**: a chunk whose smallest array is short enough counts its
//!   candidates one by one without writing anything; otherwise every member but the last is
//!   combined into the scratch bitset and the last is counted against it in one fused pass
//!   (`popcount(out & b)` or `popcount(out & !b)`) instead of being combined, then counted.
//! - **Threads** (native builds): the chunks are independent, so the walk is cut into one
//!   contiguous range per thread and the partial counts, funnel steps and member chunks are
//!   joined in order. Threads start only above [`PARALLEL_MIN_WORK`].
//!
//! All of this relies on what [`crate::eval::Source`] promises: every bitmap is a subset of the
//! universe.

use crate::eval::{Bound, Ctx, EvalOptions, and_child, and_into, candidate_max, eval_into, survivors};
use crate::idset::{ARRAY_MAX, Chunk, Container, IdSet, Words};
use crate::kernels::{and_count, andnot_count, bits_hit, intersection_len, popcount, runs_count};

/// Below this much work (chunks walked × leaf containers read per chunk) the walk stays on
/// the calling thread. Starting and joining a scoped thread costs tens of microseconds, and a
/// chunk-container read well under one: measured with `benches/eval.rs` (`count-threads`), two
/// threads first pay off around a few hundred chunk reads.
pub const PARALLEL_MIN_WORK: usize = 2048;

/// What one chunk of a sparse walk counts for against [`PARALLEL_MIN_WORK`], in bitset reads.
const SPARSE_CHUNK_READS: usize = 8;

/// A plan that is one operator over two leaves (indices into the leaves), counted by
/// `|a ∩ b|` alone.
#[derive(Debug, Clone, Copy)]
enum Pair {
    And(usize, usize),
    Or(usize, usize),
    AndNot(usize, usize),
}

impl Pair {
    fn of(node: &Bound) -> Option<Pair> {
        match node {
            Bound::And(m) => match m.as_slice() {
                [Bound::Leaf(a), Bound::Leaf(b)] => Some(Pair::And(*a, *b)),
                // `bind` sorts negations last.
                [Bound::Leaf(a), Bound::Not(n)] => match **n {
                    Bound::Leaf(b) => Some(Pair::AndNot(*a, b)),
                    _ => None,
                },
                _ => None,
            },
            Bound::Or(m) => match m.as_slice() {
                [Bound::Leaf(a), Bound::Leaf(b)] => Some(Pair::Or(*a, *b)),
                _ => None,
            },
            _ => None,
        }
    }

    fn leaves(self) -> (usize, usize) {
        match self {
            Pair::And(a, b) | Pair::Or(a, b) | Pair::AndNot(a, b) => (a, b),
        }
    }
}

/// What one range of the walk found.
#[derive(Debug, Default)]
pub(crate) struct Partial {
    /// Matching users (for a pair: `|a ∩ b|`, until [`Job::run`] applies the operator).
    pub total: u64,
    /// Users left after each funnel stage.
    pub steps: Vec<u64>,
    /// The matching users' chunks, when members were asked for.
    pub chunks: Vec<Chunk>,
}

/// A bound plan and the chunks to walk.
#[derive(Debug)]
pub(crate) struct Job<'a> {
    stages: &'a [Bound],
    leaves: &'a [&'a IdSet],
    universe: &'a IdSet,
    options: EvalOptions,
    walk: &'a [Chunk],
    pair: Option<Pair>,
    /// The walk follows a set of arrays (a sparse member): its chunks are cheap.
    sparse_walk: bool,
    /// Each leaf's share of the universe.
    shares: Vec<f64>,
}

impl<'a> Job<'a> {
    pub(crate) fn new(
        stages: &'a [Bound],
        leaves: &'a [&'a IdSet],
        universe: &'a IdSet,
        options: EvalOptions,
    ) -> Job<'a> {
        let count_only = !options.steps && !options.members;
        let fewest = |ids: &mut dyn Iterator<Item = usize>| ids.map(|i| leaves[i]).min_by_key(|s| s.chunks().len());
        let root = stages.first().filter(|_| !options.steps && stages.len() == 1);
        let pair = root.filter(|_| count_only).and_then(Pair::of);
        let driver = match (pair, root) {
            (Some(p), _) => fewest(&mut [p.leaves().0, p.leaves().1].into_iter()),
            (None, Some(Bound::And(members))) => fewest(&mut members.iter().filter_map(|m| match m {
                Bound::Leaf(i) => Some(*i),
                _ => None,
            })),
            _ => None,
        };
        let walk = driver.map_or(universe.chunks(), IdSet::chunks);
        let sparse_walk = driver.is_some_and(|d| d.len() < (walk.len() * ARRAY_MAX) as u64);
        let shares = leaves.iter().map(|l| l.len() as f64 / universe.len().max(1) as f64).collect();
        Job { stages, leaves, universe, options, walk, pair, sparse_walk, shares }
    }

    /// Walks every chunk, on up to `threads` threads when the work is at least `min_work`, and
    /// joins the ranges' answers.
    pub(crate) fn run(&self, threads: usize, min_work: usize) -> Partial {
        // A chunk of a sparse walk is a few candidate tests or array passes, not a bitset read
        // per leaf: counting it as `SPARSE_CHUNK_READS` kept `10cond-sparse` at 10M users (153
        // chunks, 0.5 ms) on one thread, which the split made 3× slower on this loaded machine.
        let per_chunk = if self.sparse_walk { self.leaves.len().min(SPARSE_CHUNK_READS) } else { self.leaves.len() };
        let work = self.walk.len() * per_chunk.max(1);
        let parts = split(self.walk, if work < min_work { 1 } else { threads }, |range| self.range(range));
        let mut all = Partial { steps: vec![0; self.stages.len()], ..Partial::default() };
        for part in parts {
            all.total += part.total;
            all.steps.iter_mut().zip(part.steps).for_each(|(a, b)| *a += b);
            all.chunks.extend(part.chunks);
        }
        if let Some(pair) = self.pair {
            let (a, b) = pair.leaves();
            let (a, b, both) = (self.leaves[a].len(), self.leaves[b].len(), all.total);
            all.total = match pair {
                Pair::And(..) => both,
                Pair::Or(..) => a + b - both,
                Pair::AndNot(..) => a - both,
            };
        }
        all
    }

    /// The walk over `chunks`, one range of [`Job::walk`].
    fn range(&self, chunks: &[Chunk]) -> Partial {
        let mut part = Partial { steps: vec![0; self.stages.len()], ..Partial::default() };
        let from = chunks.first().map_or(0, |c| c.key);
        if let Some(pair) = self.pair {
            let (a, b) = pair.leaves();
            let (mut a, mut b) = (Cursor::new(self.leaves[a], from), Cursor::new(self.leaves[b], from));
            part.total =
                chunks.iter().filter_map(|c| Some(intersection_len(a.seek(c.key)?, b.seek(c.key)?) as u64)).sum();
            return part;
        }
        let depth = self.stages.iter().map(Bound::depth).max().unwrap_or(0);
        let mut out: Box<Words> = Words::boxed();
        let mut pool: Vec<Box<Words>> = (0..depth + 2).map(|_| Words::boxed()).collect();
        let mut ctx = Ctx { conts: vec![None; self.leaves.len()], universe: None, shares: &self.shares };
        let walks_universe = std::ptr::eq(self.walk, self.universe.chunks());
        let count_only = !self.options.steps && !self.options.members;
        let mut universe = Cursor::new(self.universe, from);
        let mut cursors: Vec<Cursor<'_>> = self.leaves.iter().map(|s| Cursor::new(s, from)).collect();
        for chunk in chunks {
            ctx.universe = if walks_universe { Some(&chunk.container) } else { universe.seek(chunk.key) };
            for (slot, cursor) in ctx.conts.iter_mut().zip(&mut cursors) {
                *slot = cursor.seek(chunk.key);
            }
            let out = &mut *out;
            let (Some((first, later)), Some((first_count, later_counts))) =
                (self.stages.split_first(), part.steps.split_first_mut())
            else {
                break;
            };
            if count_only {
                part.total += count_node(first, &ctx, out, &mut pool);
                continue;
            }
            eval_into(first, &ctx, out, &mut pool);
            let mut n = popcount(out);
            *first_count += n as u64;
            for (stage, slot) in later.iter().zip(later_counts.iter_mut()) {
                if n == 0 {
                    break;
                }
                and_child(stage, &ctx, out, &mut pool);
                n = popcount(out);
                *slot += n as u64;
            }
            part.total += n as u64;
            if self.options.members
                && let Some(container) = Container::from_words(out)
            {
                part.chunks.push(Chunk { key: chunk.key, container });
            }
        }
        part
    }
}

/// A set's chunks read in increasing key order, as the walk visits them: a step forward instead
/// of a binary search per chunk and leaf (which cost ~20% of a dense pair's count at 10M users).
struct Cursor<'a> {
    chunks: &'a [Chunk],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the first chunk with a key of at least `from` (a thread's range starts there).
    fn new(set: &'a IdSet, from: u16) -> Cursor<'a> {
        let chunks = set.chunks();
        Cursor { chunks, at: chunks.partition_point(|c| c.key < from) }
    }

    /// The container for `key`; keys must not decrease from one call to the next.
    fn seek(&mut self, key: u16) -> Option<&'a Container> {
        while self.chunks.get(self.at).is_some_and(|c| c.key < key) {
            self.at += 1;
        }
        self.chunks.get(self.at).filter(|c| c.key == key).map(|c| &c.container)
    }
}

/// Users of the current chunk matching `node`, computed without keeping them.
fn count_node(node: &Bound, ctx: &Ctx<'_>, out: &mut Words, pool: &mut [Box<Words>]) -> u64 {
    let members = match node {
        Bound::Leaf(i) => return ctx.conts[*i].map_or(0, |c| c.len() as u64),
        Bound::And(members) => members,
        _ => {
            eval_into(node, ctx, out, pool);
            return popcount(out) as u64;
        }
    };
    let mut smallest_array: Option<(usize, &[u16])> = None;
    for (mi, m) in members.iter().enumerate() {
        if let Bound::Leaf(i) = m {
            match ctx.conts[*i] {
                None => return 0,
                Some(Container::Array(v)) if smallest_array.is_none_or(|(_, s)| v.len() < s.len()) => {
                    smallest_array = Some((mi, v))
                }
                Some(_) => {}
            }
        }
    }
    match members.as_slice() {
        [] => return ctx.universe.map_or(0, |u| u.len() as u64),
        [only] => return count_node(only, ctx, out, pool),
        // Two leaves (present, as checked above), or a leaf minus a leaf: no scratch at all.
        [Bound::Leaf(a), Bound::Leaf(b)] => {
            if let (Some(x), Some(y)) = (ctx.conts[*a], ctx.conts[*b]) {
                return intersection_len(x, y) as u64;
            }
        }
        [Bound::Leaf(a), Bound::Not(n)] => {
            if let (Some(x), Bound::Leaf(b)) = (ctx.conts[*a], &**n) {
                let both = ctx.conts[*b].map_or(0, |y| intersection_len(x, y));
                return (x.len() - both) as u64;
            }
        }
        _ => {}
    }
    if let Some((generator, candidates)) = smallest_array.filter(|(_, c)| c.len() <= candidate_max(members)) {
        return survivors(members, generator, candidates, ctx).len() as u64;
    }
    let Some((last, rest)) = members.split_last() else { return 0 };
    and_into(rest, ctx, out, pool);
    and_count_last(last, ctx, out, pool) as u64
}

/// `|out ∧ node|`, in one pass over `out` when `node` is a leaf or the negation of one.
fn and_count_last(node: &Bound, ctx: &Ctx<'_>, out: &mut Words, pool: &mut [Box<Words>]) -> usize {
    match node {
        Bound::Leaf(i) => match ctx.conts[*i] {
            None => 0,
            Some(Container::Bits(w)) => and_count(out, w),
            Some(Container::Array(v)) => bits_hit(v, out),
            Some(Container::Runs(r)) => runs_count(r, out),
        },
        Bound::Not(inner) if matches!(**inner, Bound::Leaf(_)) => {
            let Bound::Leaf(i) = **inner else { return 0 };
            match ctx.conts[i] {
                None => popcount(out),
                Some(Container::Bits(w)) => andnot_count(out, w),
                Some(Container::Array(v)) => popcount(out) - bits_hit(v, out),
                Some(Container::Runs(r)) => popcount(out) - runs_count(r, out),
            }
        }
        _ => {
            and_child(node, ctx, out, pool);
            popcount(out)
        }
    }
}

/// Ranges per thread the walk is cut into, so that a thread that starts late (on a busy
/// machine) finds the work already taken instead of holding up the answer with its share.
#[cfg(not(target_arch = "wasm32"))]
const RANGES_PER_THREAD: usize = 4;

/// Runs `f` over contiguous ranges of `chunks` on up to `threads` threads and returns the
/// answers in the ranges' order. The ranges are claimed from a shared counter, the calling
/// thread included: when the other threads are slow to start, it does their share itself.
#[cfg(not(target_arch = "wasm32"))]
fn split<T: Send>(chunks: &[Chunk], threads: usize, f: impl Fn(&[Chunk]) -> T + Sync) -> Vec<T> {
    use std::sync::atomic::{AtomicUsize, Ordering};

    let threads = threads.clamp(1, chunks.len().max(1));
    if threads == 1 {
        return vec![f(chunks)];
    }
    let per = chunks.len().div_ceil(threads * RANGES_PER_THREAD);
    let ranges: Vec<&[Chunk]> = chunks.chunks(per).collect();
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(range) = ranges.get(i) else { return done };
            done.push((i, f(range)));
        }
    };
    let mut all = std::thread::scope(|s| {
        let handles: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut all = work();
        for h in handles {
            // A panic in a range is a bug in the walk: raise it here as it was raised there.
            all.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        all
    });
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, t)| t).collect()
}

/// The browser build has no threads (Web Workers would need the bitmaps copied or shared
/// memory; see ARCHITECTURE.md): the whole walk runs on the calling thread.
#[cfg(target_arch = "wasm32")]
fn split<T: Send>(chunks: &[Chunk], _threads: usize, f: impl Fn(&[Chunk]) -> T + Sync) -> Vec<T> {
    vec![f(chunks)]
}
