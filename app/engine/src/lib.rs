//! Sieve's segmentation engine: the rule model, its evaluation over bitmaps of user ids, the
//! snapshot codec and the sample tier. UI-free and I/O-free, so the browser (WASM) and the
//! server link the same code and give the same answers.
//!
//! # Layout
//! - [`analysis`]: ordered event funnels, overlaps of up to five sets, pivots of two groups
//!   (issue 16), by set operations per day, per set, per value.
//! - [`idset`]: [`IdSet`], the chunked id set (roaring layout) that evaluation walks.
//! - [`kernels`]: popcount and pair-count kernels over one chunk's containers, with AVX2 chosen
//!   at run time natively.
//! - `arrays`: intersection sizes of two sorted arrays (block merge, galloping), compiled into
//!   each kernel level.
//! - [`portable`]: the roaring portable format, read with full checks and written compactly.
//! - [`rank`]: each id's position in a set, for per-user tables over ids that are not `0..n`.
//! - [`warehouse`]: bitmaps as warehouses write them (ClickHouse `groupBitmap` states, bare
//!   portable bitmaps), told apart per value; 64-bit bitmaps recognised and refused.
//! - [`blob`]: the versioned, checksummed, content-addressed blob around a bitmap.
//! - [`elias_fano`]: the blob payload for sparse values (issue 19), near the information floor.
//! - [`bsi`]: bit-sliced numeric columns (numeric tags, daily event counts).
//! - [`window`]: numeric conditions and event windows evaluated on bit-sliced columns.
//! - [`ds`]: the data date and day arithmetic (event windows).
//! - [`manifest`]: the per-day snapshot manifest (JSON) naming the blobs.
//! - [`snapshot`]: decoded bitmaps in memory ([`MemorySource`]) and building snapshots.
//! - [`rule`]: the JSON rule language, parsed with paths for errors.
//! - [`catalog`]: the names a rule may use on one day.
//! - [`plan`]: a rule checked against a catalog.
//! - [`deps`]: dependencies between definitions (segments using segments), and the cycle check.
//! - [`id`]: the one id rule (apps, segments, tag groups, events, experiments, group names).
//! - [`eval`]: one-pass, count-first evaluation of a plan, with the per-condition funnel.
//! - `tally`: the chunk walk of an evaluation: the chunks it visits, counting without storing
//!   (pairs of bitmaps, the last member of an `all`), and the split across threads.
//! - [`sample`]: the fixed-hash sample tier (rank or block scheme) and estimates with 95% intervals.
//! - [`split`]: A/B splits by salted hashes of external ids, stable as they grow.
//! - [`stats`]: Wilson and Newcombe intervals, the chi-square test for sample-ratio mismatch.
//! - [`balance`]: a split's balance check (sizes against the plan, tag mix), for the browser's
//!   preview and the server's answer alike.
//! - [`error`]: the error types.

pub mod analysis;
mod arrays;
pub mod balance;
pub mod blob;
pub mod bsi;
pub mod catalog;
pub mod deps;
pub mod ds;
pub mod elias_fano;
pub mod error;
pub mod eval;
pub mod id;
pub mod idset;
pub mod kernels;
pub mod manifest;
pub mod plan;
pub mod portable;
pub mod rank;
pub mod rule;
pub mod sample;
pub mod snapshot;
pub mod split;
pub mod stats;
mod tally;
pub mod warehouse;
pub mod window;

pub use catalog::{Catalog, TagKind};
pub use error::{BitmapError, EvalError, FormatError, RuleError, RuleErrorReason};
pub use eval::{EvalOptions, Evaluation, Source, Step, count, count_parallel, evaluate, evaluate_parallel, members};
pub use idset::IdSet;
pub use manifest::Manifest;
pub use plan::Plan;
pub use rule::Rule;
pub use snapshot::MemorySource;
