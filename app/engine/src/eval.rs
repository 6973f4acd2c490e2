//! Evaluating a [`Plan`] over loaded bitmaps, in one pass, chunk by chunk.
//!
//! For each 65,536-id chunk, the whole rule is evaluated into one 8 KiB bitset scratch buffer
//! (a small stack of them for nested groups), then counted with popcount. Nothing is allocated
//! per chunk and no intermediate bitmap is built: that is what makes a rule's count several
//! times faster than pairwise roaring operations, which allocate a result for every operator
//! (see BENCHMARKS.md).
//!
//! Inside a chunk:
//! - AND operands run cheapest first (smallest upper bound; `not` last, as a difference);
//! - an operand with no container in the chunk empties the AND at once;
//! - when the smallest operand is a short array, its ids are the candidates, tested against the
//!   other operands one operand at a time, the operand that rejects most per bitset read first
//!   (`survivors`; a few lookups beat clearing and scanning 1,024 words); the cut-off grows
//!   with the containers the other operands would read (`candidate_max`);
//! - `not` is the chunk's universe minus the operand.
//!
//! When only the count is asked (no funnel, no members), the walk does less (`tally.rs`): an
//! `all` visits only the chunks of its plain member with the fewest; one operator over two
//! bitmaps computes `|a ∩ b|` alone with fused kernels ([`crate::kernels`]) and derives OR and
//! AND-NOT from the sets' sizes; the last member of an `all` is counted against the scratch in
//! one pass instead of combined into it; candidates are counted without writing the scratch.
//! Natively the chunks can be split across threads ([`evaluate_parallel`]), above a measured
//! break-even.
//!
//! Numeric and event conditions are computed leaves: before the pass, each is turned into a
//! bitmap with bit-sliced range comparisons and window sums ([`crate::window`]); the pass then
//! treats it like a tag value.

use crate::bsi::BsiView;
use crate::error::EvalError;
use crate::idset::{Container, IdSet, Words};
use crate::plan::{Node, Plan};
use crate::tally;
use crate::window::{select_column, select_window};

/// Where evaluation reads bitmaps from: a loaded snapshot (browser or server).
pub trait Source {
    /// Every user of the snapshot; `not` is relative to this set, and every tag and segment
    /// bitmap is a subset of it.
    fn universe(&self) -> &IdSet;
    /// Users holding `group = value`, if loaded.
    fn tag_value(&self, group: &str, value: &str) -> Option<&IdSet>;
    /// Members of a segment on this snapshot's day, if loaded.
    fn segment(&self, id: &str) -> Option<&IdSet>;
    /// The column of a numeric group, if loaded.
    fn column(&self, _group: &str) -> Option<BsiView<'_>> {
        None
    }
    /// An event's per-user counts on day `ds` (users with a count above zero), if loaded. The
    /// ids are the same as this source's (a window's days share the app's dictionary).
    fn event_day(&self, _event: &str, _ds: &str) -> Option<BsiView<'_>> {
        None
    }
}

/// What to compute besides the count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvalOptions {
    /// Running counts after each member of a top-level `all` (the funnel).
    pub steps: bool,
    /// The matching users themselves.
    pub members: bool,
}

/// One funnel step: users left after the conditions up to and including `path` (the wire
/// type: estimates answer it as computed here).
pub use wire::Step;

/// The answer of an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// Users matching the rule.
    pub count: u64,
    /// The funnel, when asked for.
    pub steps: Vec<Step>,
    /// The matching users, when asked for.
    pub members: Option<IdSet>,
}

/// Counts the users matching a plan.
///
/// ```
/// use engine::{Catalog, IdSet, MemorySource, Plan, count};
/// let mut src = MemorySource::new(IdSet::full_range(10));
/// src.insert_tag_value("gender", "female", IdSet::from_sorted(&[0, 2, 4, 6, 8]));
/// src.insert_tag_value("active_7d", "true", IdSet::from_sorted(&[0, 1, 2]));
/// let plan = Plan::parse(
///     r#"{"all":[{"tag":"gender","in":["female"]},{"not":{"tag":"active_7d","in":["true"]}}]}"#,
///     &src.catalog(),
/// ).unwrap();
/// assert_eq!(count(&plan, &src).unwrap(), 3); // 4, 6, 8
/// ```
pub fn count(plan: &Plan, source: &dyn Source) -> Result<u64, EvalError> {
    evaluate(plan, source, EvalOptions::default()).map(|e| e.count)
}

/// The users matching a plan.
pub fn members(plan: &Plan, source: &dyn Source) -> Result<IdSet, EvalError> {
    let e = evaluate(plan, source, EvalOptions { members: true, steps: false })?;
    Ok(e.members.unwrap_or_default())
}

/// Evaluates a plan: count, and optionally the funnel steps and the members.
pub fn evaluate(plan: &Plan, source: &dyn Source, options: EvalOptions) -> Result<Evaluation, EvalError> {
    evaluate_parallel(plan, source, options, 1)
}

/// Counts the users matching a plan with up to `threads` threads (natively; the browser
/// build counts on the calling thread). Small inputs stay on one thread: below a measured
/// break-even (2,048 chunk-container reads; ARCHITECTURE.md, "Threads") starting threads costs
/// more than it saves.
///
/// ```
/// use engine::{IdSet, MemorySource, Plan, count_parallel};
/// let mut src = MemorySource::new(IdSet::full_range(300_000));
/// src.insert_tag_value("gender", "female", IdSet::from_sorted_iter((0..300_000).step_by(2)));
/// let plan = Plan::parse(r#"{"not":{"tag":"gender","in":["female"]}}"#, &src.catalog()).unwrap();
/// assert_eq!(count_parallel(&plan, &src, 2).unwrap(), 150_000);
/// ```
pub fn count_parallel(plan: &Plan, source: &dyn Source, threads: usize) -> Result<u64, EvalError> {
    evaluate_parallel(plan, source, EvalOptions::default(), threads).map(|e| e.count)
}

/// [`evaluate`] with the chunks split across up to `threads` threads (natively, and only when
/// there is enough work; see [`count_parallel`]). The answer is the same for any `threads`.
pub fn evaluate_parallel(
    plan: &Plan,
    source: &dyn Source,
    options: EvalOptions,
    threads: usize,
) -> Result<Evaluation, EvalError> {
    evaluate_split(plan, source, options, threads, tally::PARALLEL_MIN_WORK)
}

/// [`evaluate_parallel`] with the break-even given: the walk is split when its work (chunks
/// walked × leaf containers read) is at least `min_work`, so `0` always splits. For tests (which
/// must reach the split on small data) and for benches measuring the break-even.
///
/// ```
/// use engine::{EvalOptions, IdSet, MemorySource, Plan, eval::evaluate_split};
/// let mut src = MemorySource::new(IdSet::full_range(200_000));
/// src.insert_tag_value("t", "a", IdSet::from_sorted_iter((0..200_000).step_by(3)));
/// let plan = Plan::parse(r#"{"tag":"t","in":["a"]}"#, &src.catalog()).unwrap();
/// let options = EvalOptions { steps: true, members: true };
/// let split = evaluate_split(&plan, &src, options, 3, 0).unwrap();
/// assert_eq!(split, engine::evaluate(&plan, &src, options).unwrap());
/// ```
pub fn evaluate_split(
    plan: &Plan,
    source: &dyn Source,
    options: EvalOptions,
    threads: usize,
    min_work: usize,
) -> Result<Evaluation, EvalError> {
    let universe = source.universe();
    let mut computed = Vec::new();
    compute_leaves(plan.root(), source, &mut computed)?;
    let mut binder = Binder { source, leaves: Vec::new(), universe_len: universe.len(), computed: &computed, next: 0 };
    // With steps, the top-level members are kept in the user's order (each prefix is a step);
    // otherwise the whole tree is reordered for speed.
    let (stages, step_paths): (Vec<Bound>, &[String]) = match (plan.root(), options.steps) {
        // An empty `all` (every user) has no steps; it is evaluated as one stage.
        (Node::And(members), true) if !members.is_empty() => {
            (members.iter().map(|m| binder.bind(m).map(|(b, _)| b)).collect::<Result<_, _>>()?, plan.step_paths())
        }
        (root, true) => (vec![binder.bind(root)?.0], plan.step_paths()),
        (root, false) => (vec![binder.bind(root)?.0], &[]),
    };
    let job = tally::Job::new(&stages, &binder.leaves, universe, options);
    let part = job.run(threads, min_work);
    let steps = if options.steps {
        step_paths
            .iter()
            .zip(part.steps)
            .map(|(p, c)| Step { path: p.clone(), count: Some(c), suppressed: false })
            .collect()
    } else {
        Vec::new()
    };
    let members = options.members.then(|| IdSet::from_chunks(part.chunks));
    Ok(Evaluation { count: part.total, steps, members })
}

/// A plan node bound to loaded bitmaps.
#[derive(Debug)]
pub(crate) enum Bound {
    And(Vec<Bound>),
    Or(Vec<Bound>),
    Not(Box<Bound>),
    /// Index into `Binder::leaves` / `Ctx::conts`.
    Leaf(usize),
}

impl Bound {
    pub(crate) fn depth(&self) -> usize {
        match self {
            Bound::And(v) | Bound::Or(v) => 1 + v.iter().map(Bound::depth).max().unwrap_or(0),
            Bound::Not(b) => 1 + b.depth(),
            Bound::Leaf(_) => 0,
        }
    }

    /// Leaf containers the node reads per chunk (at most).
    pub(crate) fn reads(&self) -> usize {
        match self {
            Bound::And(v) | Bound::Or(v) => v.iter().map(Bound::reads).sum(),
            Bound::Not(b) => b.reads(),
            Bound::Leaf(_) => 1,
        }
    }
}

struct Binder<'a> {
    source: &'a dyn Source,
    leaves: Vec<&'a IdSet>,
    universe_len: u64,
    /// Bitmaps of the computed leaves, in the order `bind` meets them.
    computed: &'a [IdSet],
    next: usize,
}

/// Computes the bitmap of every numeric and event leaf, in the order [`Binder::bind`] visits
/// them (members left to right, depth first).
fn compute_leaves(node: &Node, source: &dyn Source, out: &mut Vec<IdSet>) -> Result<(), EvalError> {
    match node {
        Node::And(members) | Node::Or(members) => {
            members.iter().try_for_each(|m| compute_leaves(m, source, out))?;
        }
        Node::Not(inner) => compute_leaves(inner, source, out)?,
        Node::Value { .. } | Node::Segment(_) => {}
        Node::Numeric { group, select } => {
            let column = source.column(group).ok_or_else(|| EvalError::MissingColumn(group.clone()))?;
            // Columns are subsets of the universe; the AND keeps that true for any source.
            out.push(select_column(&column, select).and(source.universe()));
        }
        Node::Event { event, measure, days, select } => {
            let columns = days
                .iter()
                .map(|ds| {
                    source
                        .event_day(event, ds)
                        .ok_or_else(|| EvalError::MissingEventDay { event: event.clone(), ds: ds.clone() })
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.push(select_window(source.universe(), &columns, *measure, select));
        }
    }
    Ok(())
}

impl<'a> Binder<'a> {
    /// Binds a node and returns it with an upper bound of its result size.
    fn bind(&mut self, node: &Node) -> Result<(Bound, u64), EvalError> {
        Ok(match node {
            Node::Value { group, value } => {
                let set = self
                    .source
                    .tag_value(group, value)
                    .ok_or_else(|| EvalError::MissingTagValue { group: group.clone(), value: value.clone() })?;
                self.leaf(set)
            }
            Node::Segment(id) => {
                let set = self.source.segment(id).ok_or_else(|| EvalError::MissingSegment(id.clone()))?;
                self.leaf(set)
            }
            Node::Numeric { .. } | Node::Event { .. } => {
                let computed: &'a [IdSet] = self.computed;
                let set = computed.get(self.next).ok_or_else(|| EvalError::MissingColumn("(computed leaf)".into()))?;
                self.next += 1;
                self.leaf(set)
            }
            Node::Not(inner) => (Bound::Not(Box::new(self.bind(inner)?.0)), self.universe_len),
            Node::Or(members) => {
                let bound = members.iter().map(|m| self.bind(m)).collect::<Result<Vec<_>, _>>()?;
                let upper = bound.iter().map(|b| b.1).sum::<u64>().min(self.universe_len);
                (Bound::Or(bound.into_iter().map(|b| b.0).collect()), upper)
            }
            Node::And(members) => {
                let mut bound = members.iter().map(|m| self.bind(m)).collect::<Result<Vec<_>, _>>()?;
                // Cheapest first; differences last, so they subtract from an already small set.
                bound.sort_by_key(|(b, upper)| (matches!(b, Bound::Not(_)), *upper));
                let upper = bound.iter().map(|b| b.1).min().unwrap_or(self.universe_len);
                (Bound::And(bound.into_iter().map(|b| b.0).collect()), upper)
            }
        })
    }

    fn leaf(&mut self, set: &'a IdSet) -> (Bound, u64) {
        self.leaves.push(set);
        (Bound::Leaf(self.leaves.len() - 1), set.len())
    }
}

/// The containers of every leaf (and of the universe) in the current chunk.
pub(crate) struct Ctx<'a> {
    pub(crate) conts: Vec<Option<&'a Container>>,
    pub(crate) universe: Option<&'a Container>,
    /// Each leaf's share of the universe (its size over the universe's), for ordering tests.
    pub(crate) shares: &'a [f64],
}

/// An AND tests its smallest array's ids one by one (instead of combining bitsets) when that
/// array has at most this many ids per bitset the other operands would have it read. Each
/// operand tests only the candidates the ones before it kept ([`survivors`]), so the work
/// shrinks with every operand, while the bitset path reads 1,024 words per operand container:
/// so the cut-off grows with the operands. Measured in `benches/eval.rs`:
/// `10cond-sparse` (~65 candidates a chunk against 20 containers) went from the bitset path to
/// this one; `2cond-sparse` (~650 ids against one bitset) stays on the bitset path.
const CANDIDATES_PER_READ: usize = 64;

/// The candidate cut-off for an AND of `members` (see [`CANDIDATES_PER_READ`]).
pub(crate) fn candidate_max(members: &[Bound]) -> usize {
    CANDIDATES_PER_READ * members.iter().map(Bound::reads).sum::<usize>().saturating_sub(1).max(1)
}

pub(crate) fn eval_into(node: &Bound, ctx: &Ctx<'_>, out: &mut Words, pool: &mut [Box<Words>]) {
    match node {
        Bound::Leaf(i) => match ctx.conts[*i] {
            Some(c) => c.write_bits(out),
            None => out.fill(0),
        },
        Bound::Or(members) => {
            out.fill(0);
            for m in members {
                match m {
                    Bound::Leaf(i) => {
                        if let Some(c) = ctx.conts[*i] {
                            c.or_into(out)
                        }
                    }
                    _ => with_scratch(pool, |tmp, rest| {
                        eval_into(m, ctx, tmp, rest);
                        out.iter_mut().zip(tmp.iter()).for_each(|(a, b)| *a |= b);
                    }),
                }
            }
        }
        Bound::Not(inner) => {
            match ctx.universe {
                Some(u) => u.write_bits(out),
                None => out.fill(0),
            }
            subtract(inner, ctx, out, pool);
        }
        Bound::And(members) => and_into(members, ctx, out, pool),
    }
}

pub(crate) fn and_into(members: &[Bound], ctx: &Ctx<'_>, out: &mut Words, pool: &mut [Box<Words>]) {
    // (member index, its array) of the smallest array operand.
    let mut smallest_array: Option<(usize, &[u16])> = None;
    for (mi, m) in members.iter().enumerate() {
        if let Bound::Leaf(i) = m {
            match ctx.conts[*i] {
                None => {
                    out.fill(0);
                    return;
                }
                Some(Container::Array(v)) if smallest_array.is_none_or(|(_, s)| v.len() < s.len()) => {
                    smallest_array = Some((mi, v))
                }
                Some(_) => {}
            }
        }
    }
    if let Some((generator, candidates)) = smallest_array.filter(|(_, c)| c.len() <= candidate_max(members)) {
        out.fill(0);
        for v in survivors(members, generator, candidates, ctx) {
            out[usize::from(v >> 6)] |= 1u64 << (v & 63);
        }
        return;
    }
    let Some((first, rest)) = members.split_first() else {
        // `all` of nothing: every user of the chunk.
        match ctx.universe {
            Some(u) => u.write_bits(out),
            None => out.fill(0),
        }
        return;
    };
    eval_into(first, ctx, out, pool);
    for m in rest {
        and_child(m, ctx, out, pool);
    }
}

/// `out &= node`.
pub(crate) fn and_child(node: &Bound, ctx: &Ctx<'_>, out: &mut Words, pool: &mut [Box<Words>]) {
    match node {
        Bound::Leaf(i) => match ctx.conts[*i] {
            Some(c) => with_scratch(pool, |tmp, _| c.and_into(out, tmp)),
            None => out.fill(0),
        },
        Bound::Or(members) if members.iter().all(|m| matches!(m, Bound::Leaf(_))) => {
            with_scratch(pool, |tmp, _| fused_or(members, ctx, out, tmp, false))
        }
        Bound::Not(inner) => subtract(inner, ctx, out, pool),
        _ => with_scratch(pool, |tmp, rest| {
            eval_into(node, ctx, tmp, rest);
            out.iter_mut().zip(tmp.iter()).for_each(|(a, b)| *a &= b);
        }),
    }
}

/// `out &= !node`.
fn subtract(node: &Bound, ctx: &Ctx<'_>, out: &mut Words, pool: &mut [Box<Words>]) {
    match node {
        Bound::Leaf(i) => {
            if let Some(c) = ctx.conts[*i] {
                c.andnot_into(out)
            }
        }
        Bound::Or(members) if members.iter().all(|m| matches!(m, Bound::Leaf(_))) => {
            with_scratch(pool, |tmp, _| fused_or(members, ctx, out, tmp, true))
        }
        _ => with_scratch(pool, |tmp, rest| {
            eval_into(node, ctx, tmp, rest);
            out.iter_mut().zip(tmp.iter()).for_each(|(a, b)| *a &= !b);
        }),
    }
}

/// Most bitset sources one fused pass reads; more are folded into the scratch first.
const FUSED_MAX: usize = 8;
/// Words per block of a fused pass: the OR of one block stays in registers.
const BLOCK_WORDS: usize = 16;

/// `out &= (a | b | …)` (or `out &= !(a | b | …)` when `negate`) for an OR of leaves, in one
/// pass over `out` instead of clearing a scratch, OR-ing each value into it, then combining:
/// `province in [a, b, c]` reads three bitsets and writes `out` once. Array containers (and
/// sources past [`FUSED_MAX`]) are OR-ed into `tmp` first, which then joins as one source.
fn fused_or(members: &[Bound], ctx: &Ctx<'_>, out: &mut Words, tmp: &mut Words, negate: bool) {
    let mut sources: [&Words; FUSED_MAX] = [&EMPTY_WORDS; FUSED_MAX];
    let mut n = 0;
    let mut tmp_used = false;
    for m in members {
        let Bound::Leaf(i) = m else { continue };
        match ctx.conts[*i] {
            Some(Container::Bits(w)) if n < FUSED_MAX - 1 => {
                sources[n] = w;
                n += 1;
            }
            Some(c) => {
                if !tmp_used {
                    tmp.fill(0);
                    tmp_used = true;
                }
                c.or_into(tmp);
            }
            None => {}
        }
    }
    if tmp_used {
        sources[n] = tmp;
        n += 1;
    }
    let sources = &sources[..n];
    if sources.is_empty() {
        // The OR is empty in this chunk: AND empties `out`, AND-NOT leaves it.
        if !negate {
            out.fill(0);
        }
        return;
    }
    for (b, block) in out.chunks_exact_mut(BLOCK_WORDS).enumerate() {
        let start = b * BLOCK_WORDS;
        let mut acc = [0u64; BLOCK_WORDS];
        for src in sources {
            for (a, w) in acc.iter_mut().zip(&src[start..start + BLOCK_WORDS]) {
                *a |= w;
            }
        }
        if negate {
            block.iter_mut().zip(acc).for_each(|(o, a)| *o &= !a);
        } else {
            block.iter_mut().zip(acc).for_each(|(o, a)| *o &= a);
        }
    }
}

static EMPTY_WORDS: Words = Words::ZERO;

/// The candidates (ids of member `generator`) that every other member of an `all` holds,
/// found member by member: each pass tests every id still in against one member and keeps
/// those it holds, with no branch on the answer. An id-by-id test (every member for one id,
/// then the next id) waits on each cache miss in turn, because which member comes next
/// depends on the answer; here the tests of one pass are independent, so their misses
/// overlap (at 100M users most bitset tests miss the cache).
///
/// The members go in the order that drops the most candidates per bitset read ([`test_rank`]):
/// at 100M users the sorted candidates' tests sweep each bitset they touch, so a test costs
/// about one bitset read, and an `in` of three values costs three. A run list or an array
/// stays in cache and goes first.
///
/// Measured on `10cond-sparse` in the peer report's data: at 100M users 11.2 → 7.1 ms, at 10M
/// 0.50 → 0.39 ms. Passes through the general [`contains`] gained only 4%: a test there is
/// some forty instructions, so the CPU held only a few in flight; the tight loops per kind of
/// member below are what let the misses overlap. The order alone gained another ~5%.
pub(crate) fn survivors(members: &[Bound], generator: usize, candidates: &[u16], ctx: &Ctx<'_>) -> Vec<u16> {
    let mut order: Vec<(f64, &Bound)> =
        members.iter().enumerate().filter(|(mi, _)| *mi != generator).map(|(_, m)| (test_rank(m, ctx), m)).collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut live = candidates.to_vec();
    for (_, m) in order {
        let kept = match m {
            // The common tests get loops of a few instructions, so that the CPU holds many
            // tests (and their misses) in flight at once.
            Bound::Leaf(i) => match ctx.conts[*i] {
                Some(Container::Bits(w)) => keep(&mut live, |v| bit(w, v)),
                Some(c) => keep(&mut live, |v| c.contains(v)),
                None => 0,
            },
            Bound::Not(inner) => match (&**inner, ctx.universe) {
                (Bound::Leaf(i), Some(u)) => match ctx.conts[*i] {
                    Some(Container::Bits(w)) => keep(&mut live, |v| !bit(w, v) && u.contains(v)),
                    Some(c) => keep(&mut live, |v| !c.contains(v) && u.contains(v)),
                    None => keep(&mut live, |v| u.contains(v)),
                },
                _ => keep(&mut live, |v| contains(m, ctx, v)),
            },
            // Every value of an `in` is read (no early exit), so the reads do not wait on one another.
            Bound::Or(values) if values.iter().all(|v| matches!(v, Bound::Leaf(_))) => keep(&mut live, |v| {
                values.iter().fold(false, |any, m| {
                    let Bound::Leaf(i) = m else { return any };
                    any | match ctx.conts[*i] {
                        Some(Container::Bits(w)) => bit(w, v),
                        Some(c) => c.contains(v),
                        None => false,
                    }
                })
            }),
            _ => keep(&mut live, |v| contains(m, ctx, v)),
        };
        live.truncate(kept);
        if live.is_empty() {
            break;
        }
    }
    live
}

/// Moves the ids of `live` that pass `test` to its front, in order, and returns how many:
/// no branch on the answer.
#[inline(always)]
fn keep(live: &mut [u16], test: impl Fn(u16) -> bool) -> usize {
    let mut kept = 0;
    for i in 0..live.len() {
        let v = live[i];
        live[kept] = v;
        kept += usize::from(test(v));
    }
    kept
}

/// Whether bit `v` of a bitset is set.
#[inline(always)]
fn bit(w: &Words, v: u16) -> bool {
    w[usize::from(v >> 6)] >> (v & 63) & 1 != 0
}

/// The share of candidates a test of `node` rejects, per bitset it reads (an estimate from the
/// leaves' shares of the universe; small containers count as a twentieth of a read).
fn test_rank(node: &Bound, ctx: &Ctx<'_>) -> f64 {
    let (share, reads) = test_cost(node, ctx);
    (1.0 - share) / reads
}

/// (share of ids that pass, bitsets read) of testing one id against `node`.
fn test_cost(node: &Bound, ctx: &Ctx<'_>) -> (f64, f64) {
    const SMALL: f64 = 0.05;
    let reads = |c: Option<&Container>| if matches!(c, Some(Container::Bits(_))) { 1.0 } else { SMALL };
    match node {
        Bound::Leaf(i) => (ctx.shares.get(*i).copied().unwrap_or(1.0), reads(ctx.conts[*i])),
        Bound::Not(inner) => {
            let (share, r) = test_cost(inner, ctx);
            (1.0 - share, r + reads(ctx.universe))
        }
        Bound::Or(members) => {
            members.iter().map(|m| test_cost(m, ctx)).fold((0.0, 0.0), |(s, r), (ms, mr)| ((s + ms).min(1.0), r + mr))
        }
        Bound::And(members) => {
            members.iter().map(|m| test_cost(m, ctx)).fold((1.0, 0.0), |(s, r), (ms, mr)| (s * ms, r + mr))
        }
    }
}

/// Whether the id with low half `v` in the current chunk matches `node`.
pub(crate) fn contains(node: &Bound, ctx: &Ctx<'_>, v: u16) -> bool {
    match node {
        Bound::Leaf(i) => ctx.conts[*i].is_some_and(|c| c.contains(v)),
        Bound::And(members) if members.is_empty() => ctx.universe.is_some_and(|u| u.contains(v)),
        Bound::And(members) => members.iter().all(|m| contains(m, ctx, v)),
        Bound::Or(members) => members.iter().any(|m| contains(m, ctx, v)),
        Bound::Not(inner) => ctx.universe.is_some_and(|u| u.contains(v)) && !contains(inner, ctx, v),
    }
}

/// Lends the next scratch bitset of the pool (one per nesting level). The pool is sized from
/// the plan's depth, so the fallback allocation is never expected; it keeps the answer right
/// if that sizing is ever wrong.
pub(crate) fn with_scratch(pool: &mut [Box<Words>], f: impl FnOnce(&mut Words, &mut [Box<Words>])) {
    match pool.split_first_mut() {
        Some((tmp, rest)) => f(tmp, rest),
        None => {
            let mut zero = Words::ZERO;
            f(&mut zero, &mut [])
        }
    }
}
