//! `sieve demo`: a deterministic, believable population written as the files a data engineer
//! would upload through ingest (vertical tables: one tag group per file).
//!
//! # Files
//!
//! ```text
//! DIR/groups.json                       [{"group","kind","category","multi","scale"}, ...]
//! DIR/<ds>/tags/<group>.csv             user_id,value
//! DIR/<ds>/events/<event>.csv           user_id,count
//! ```
//!
//! - `ds` runs over the `--days` days ending at `--end-ds`.
//! - User ids are external strings `u` + 10 digits (a fixed bijective scramble of the user's
//!   number, so ids are unique, look random, and rows are not in id order).
//! - **Categorical** groups (`gender`, `age_band`, `province`, `city`, `device_brand`, `os`,
//!   `channel`, `member_level`) have at most one row per user; a missing row means unknown.
//!   **Multi-valued** `interests` repeats the user on consecutive rows, one per value.
//! - **Boolean** groups (`active_1d/7d/30d/180d`, `paid_1d/7d/30d`) list only the users for
//!   whom the tag is true, with value `true`; **absence means not true**.
//! - **Numeric** groups: `age` (whole years), `spend_30d` (yuan with two decimals, `129.50`),
//!   the sum of the user's orders over the 30 days ending at ds. `spend_30d` is written for
//!   the users active in those 30 days (`0.00` for active users who bought nothing); absence
//!   means no recent activity.
//! - **Events** (`visit`, `share`, `add_to_cart`, `purchase`): per user, the count that day;
//!   only users with a count above zero.
//!
//! # Cadence
//!
//! Demographic groups change slowly and are written on the first day and every 7th day after,
//! for every user registered by then: `gender age_band age province city device_brand os
//! channel member_level interests`. Activity, payment and `spend_30d` tags and all events are
//! written every day. A day without a group's file means "the group as last written", which is
//! how a tag group is published on its own (热发布).
//!
//! # Consistency (checked by the tests)
//!
//! - `active_Nd` on ds = the user visited on one of the N days ending at ds (visits before the
//!   first written day are simulated too), so `active_1d ⊆ active_7d ⊆ active_30d ⊆ active_180d`
//!   and `active_1d` is exactly that day's `visit` file. Likewise `paid_Nd` from `purchase`;
//!   `paid_30d` ⇔ `spend_30d > 0`.
//! - A purchase implies a visit the same day; most purchases come with an add-to-cart.
//! - Every city lies in the user's province.
//! - Users join over the days (weekends and Double 11 bring more) and churn (interest fades,
//!   then events stop, and they fall out of the active tags), so segment trends move.
//!
//! # Determinism and memory
//!
//! The same flags give byte-identical files, whatever `--threads` is: every draw comes from a
//! stream keyed by (seed, user, day, purpose) ([`rng`]). The generator keeps two `u16` per
//! user (day of the last visit and of the last purchase) and a bounded number of per-block
//! buffers; profiles are recomputed from their streams instead of stored, so 100M users need
//! about 400 MB plus buffers.

pub mod activity;
pub mod geo;
pub mod population;
pub mod rng;

use std::fs::{self, File};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::ds::Ds;
use activity::{DayEvents, Detail, EVENTS, day_events};
use population::{BRANDS, CHANNELS, HISTORY_DAYS, INTERESTS, Population, age_band, age_on, member_level};

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Output directory (created when missing).
    pub out: PathBuf,
    /// User ids over the whole period.
    pub users: u32,
    /// Days to write, ending at `end_ds`.
    pub days: u32,
    /// Seed for every random draw.
    pub seed: u64,
    /// The last day written.
    pub end_ds: Ds,
    /// Worker threads; 0 means one per core. Does not change the output.
    pub threads: usize,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    /// Files written (CSV files plus `groups.json`).
    pub files: u64,
    /// Data rows (headers not counted).
    pub rows: u64,
    /// Bytes written.
    pub bytes: u64,
    /// First day written.
    pub first_ds: Ds,
    /// Last day written.
    pub last_ds: Ds,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The options make no sense.
    #[error("invalid demo options: {0}")]
    Options(String),
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A worker thread panicked (a bug).
    #[error("a generator thread panicked")]
    Worker,
}

/// Tag group kinds, as written in `groups.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// One of a set of string values.
    Categorical,
    /// `true` rows only.
    Boolean,
    /// A number.
    Numeric,
}

/// One entry of `groups.json`.
#[derive(Debug, Clone, Serialize)]
pub struct GroupSpec {
    /// Group name, also the file name.
    pub group: &'static str,
    /// How values are read.
    pub kind: Kind,
    /// Category path (metadata only).
    pub category: &'static str,
    /// Whether a user may have several values.
    pub multi: bool,
    /// Decimal places of a numeric group (the `scale` query parameter of the upload).
    pub scale: u32,
    /// Written only every 7th day (slow-changing).
    #[serde(skip)]
    pub weekly: bool,
}

const fn spec(group: &'static str, kind: Kind, category: &'static str, multi: bool, weekly: bool) -> GroupSpec {
    GroupSpec { group, kind, category, multi, scale: 0, weekly }
}

const fn with_scale(spec: GroupSpec, scale: u32) -> GroupSpec {
    GroupSpec { scale, ..spec }
}

/// Every tag group, in file-index order (see [`G`]).
pub static GROUPS: &[GroupSpec] = &[
    spec("gender", Kind::Categorical, "demographics/basic", false, true),
    spec("age_band", Kind::Categorical, "demographics/basic", false, true),
    spec("age", Kind::Numeric, "demographics/basic", false, true),
    spec("province", Kind::Categorical, "demographics/location", false, true),
    spec("city", Kind::Categorical, "demographics/location", false, true),
    spec("device_brand", Kind::Categorical, "device", false, true),
    spec("os", Kind::Categorical, "device", false, true),
    spec("channel", Kind::Categorical, "acquisition", false, true),
    spec("member_level", Kind::Categorical, "membership", false, true),
    spec("interests", Kind::Categorical, "preferences/interests", true, true),
    with_scale(spec("spend_30d", Kind::Numeric, "commerce/spend", false, false), 2),
    spec("active_1d", Kind::Boolean, "behaviour/activity", false, false),
    spec("active_7d", Kind::Boolean, "behaviour/activity", false, false),
    spec("active_30d", Kind::Boolean, "behaviour/activity", false, false),
    spec("active_180d", Kind::Boolean, "behaviour/activity", false, false),
    spec("paid_1d", Kind::Boolean, "commerce/payment", false, false),
    spec("paid_7d", Kind::Boolean, "commerce/payment", false, false),
    spec("paid_30d", Kind::Boolean, "commerce/payment", false, false),
];

/// File indexes of the groups (events come first, see [`file_index`]).
#[derive(Debug, Clone, Copy)]
enum G {
    Gender,
    AgeBand,
    Age,
    Province,
    City,
    DeviceBrand,
    Os,
    Channel,
    MemberLevel,
    Interests,
    Spend30d,
    Active1d,
    Active7d,
    Active30d,
    Active180d,
    Paid1d,
    Paid7d,
    Paid30d,
}

/// Number of files per day at most: events then groups.
const FILES: usize = 4 + 18;

fn file_index(g: G) -> usize {
    EVENTS.len() + g as usize
}

/// The external id of user `i`: `u` + 10 digits of a bijective scramble of `i`.
///
/// ```
/// use server::demo::user_id;
/// assert_eq!(user_id(0).len(), 11);
/// assert_ne!(user_id(0), user_id(1));
/// ```
pub fn user_id(i: u32) -> String {
    String::from_utf8_lossy(&user_id_bytes(i)).into_owned()
}

fn user_id_bytes(i: u32) -> [u8; 11] {
    // Each step is a bijection on u32: xor with a constant, multiply by an odd number,
    // xor-shift right.
    let mut x = i ^ 0x5bd1_e995;
    x = x.wrapping_mul(0x9e37_79b1);
    x ^= x >> 16;
    x = x.wrapping_mul(0x85eb_ca6b);
    x ^= x >> 13;
    let mut out = [b'0'; 11];
    out[0] = b'u';
    let mut v = x;
    for slot in out[1..].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out
}

fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Formats fen as yuan with two decimals: `12950` → `129.50`.
///
/// ```
/// assert_eq!(server::demo::format_cents(12950), "129.50");
/// assert_eq!(server::demo::format_cents(7), "0.07");
/// ```
pub fn format_cents(cents: u64) -> String {
    let mut buf = Vec::new();
    push_cents(&mut buf, cents);
    String::from_utf8_lossy(&buf).into_owned()
}

fn push_cents(buf: &mut Vec<u8>, cents: u64) {
    push_u64(buf, cents / 100);
    let c = (cents % 100) as u8;
    buf.extend_from_slice(&[b'.', b'0' + c / 10, b'0' + c % 10]);
}

/// Rows of one block of users for every file of one day.
#[derive(Debug)]
struct BlockOut {
    bufs: Vec<Vec<u8>>,
    rows: [u64; FILES],
}

impl Default for BlockOut {
    fn default() -> Self {
        Self { bufs: (0..FILES).map(|_| Vec::new()).collect(), rows: [0; FILES] }
    }
}

impl BlockOut {
    /// Empties the buffers, keeping their capacity for the next block.
    fn clear(&mut self) {
        self.bufs.iter_mut().for_each(Vec::clear);
        self.rows = [0; FILES];
    }

    fn start_row(&mut self, file: usize, id: &[u8; 11]) -> &mut Vec<u8> {
        self.rows[file] += 1;
        let buf = &mut self.bufs[file];
        buf.extend_from_slice(id);
        buf.push(b',');
        buf
    }

    fn text(&mut self, g: G, id: &[u8; 11], value: &str) {
        let buf = self.start_row(file_index(g), id);
        buf.extend_from_slice(value.as_bytes());
        buf.push(b'\n');
    }

    fn number(&mut self, file: usize, id: &[u8; 11], value: u64) {
        let buf = self.start_row(file, id);
        push_u64(buf, value);
        buf.push(b'\n');
    }

    fn money(&mut self, g: G, id: &[u8; 11], cents: u64) {
        let buf = self.start_row(file_index(g), id);
        push_cents(buf, cents);
        buf.push(b'\n');
    }
}

/// `u16` day marks: 0 is "never"; day `d` is stored as `d + HISTORY_DAYS + 1`.
fn mark(day: i32) -> u16 {
    u16::try_from(day + HISTORY_DAYS + 1).unwrap_or(GONE - 1)
}

/// Last-visit mark of a user who has churned and is out of every activity window: nothing but
/// the weekly demographic rows will ever be written for them, so daily passes skip them.
const GONE: u16 = u16::MAX;

fn days_since(mark: u16, day: i32) -> Option<i32> {
    (mark != 0 && mark != GONE).then(|| day - (i32::from(mark) - HISTORY_DAYS - 1))
}

/// Whether, after `day`, the user can have no daily rows any more: churned (no events from
/// `day + 1` on) and the last visit (if any) at least 180 days before `day + 1`.
fn gone_after(day: i32, churn: i32, since_visit: Option<i32>) -> bool {
    churn <= day + 1 && since_visit.is_none_or(|s| s >= 179)
}

/// What one day's generation needs to know.
#[derive(Debug)]
struct DayCtx<'a> {
    pop: &'a Population,
    seed: u64,
    day: i32,
    ds: Ds,
    weekly: bool,
}

/// What the generator remembers per user between days (4 bytes).
#[derive(Debug, Clone, Copy, Default)]
struct Marks {
    /// Mark of the last visit (see [`mark`]), or [`GONE`].
    visit: u16,
    /// Mark of the last purchase.
    buy: u16,
}

/// Finds each pre-existing user's last visit and last purchase before the first written day.
fn history_block(pop: &Population, seed: u64, first: u32, marks: &mut [Marks]) {
    for (k, m) in marks.iter_mut().enumerate() {
        let i = first + k as u32;
        let (core, _) = pop.core(i);
        let life = pop.life(i, &core);
        let from = life.join.max(-HISTORY_DAYS);
        let to = life.churn.min(0);
        for d in (from..to).rev() {
            let ev = day_events(pop, seed, i, &life, d, Detail::VisitAndPurchase);
            if ev.visit > 0 && m.visit == 0 {
                m.visit = mark(d);
            }
            if ev.purchase > 0 && m.buy == 0 && d >= -29 {
                m.buy = mark(d);
            }
            if m.visit != 0 && (m.buy != 0 || d <= -29) {
                break;
            }
        }
        if gone_after(-1, life.churn, days_since(m.visit, -1)) {
            m.visit = GONE;
        }
    }
}

/// Generates the rows of users `first..first + marks.len()` for one day into `out`.
fn day_block(ctx: &DayCtx<'_>, first: u32, marks: &mut [Marks], out: &mut BlockOut) {
    out.clear();
    let day = ctx.day;
    for (k, m) in marks.iter_mut().enumerate() {
        let i = first + k as u32;
        if m.visit == GONE && !ctx.weekly {
            continue;
        }
        let (core, mut profile) = ctx.pop.core(i);
        let life = ctx.pop.life(i, &core);
        let ev: DayEvents = day_events(ctx.pop, ctx.seed, i, &life, day, Detail::Full);
        if ev.visit > 0 {
            m.visit = mark(day);
        }
        if ev.purchase > 0 {
            m.buy = mark(day);
        }
        let id = user_id_bytes(i);
        for (e, n) in ev.counts().into_iter().enumerate() {
            if n > 0 {
                out.number(e, &id, u64::from(n));
            }
        }
        let since_visit = days_since(m.visit, day);
        let since_buy = days_since(m.buy, day);
        let within = |since: Option<i32>, n: i32| since.is_some_and(|s| s < n);
        for (g, n) in [(G::Active1d, 1), (G::Active7d, 7), (G::Active30d, 30), (G::Active180d, 180)] {
            if within(since_visit, n) {
                out.text(g, &id, "true");
            }
        }
        for (g, n) in [(G::Paid1d, 1), (G::Paid7d, 7), (G::Paid30d, 30)] {
            if within(since_buy, n) {
                out.text(g, &id, "true");
            }
        }
        if within(since_visit, 30) {
            let mut cents = ev.spend_cents;
            if within(since_buy, 30) {
                for d in life.join.max(day - 29)..day {
                    cents += day_events(ctx.pop, ctx.seed, i, &life, d, Detail::VisitAndPurchase).spend_cents;
                }
            }
            out.money(G::Spend30d, &id, cents);
        }
        if gone_after(day, life.churn, since_visit) {
            m.visit = GONE;
        }
        if ctx.weekly {
            let extra = ctx.pop.extra(&mut profile, &core, &life);
            if let Some(g) = core.gender {
                out.text(G::Gender, &id, g.as_str());
            }
            if let Some(birth) = core.birth {
                let age = age_on(birth, ctx.ds);
                out.text(G::AgeBand, &id, age_band(age));
                out.number(file_index(G::Age), &id, u64::from(age));
            }
            let province = &geo::PROVINCES[core.province];
            out.text(G::Province, &id, province.name);
            out.text(G::City, &id, province.cities[core.city].name);
            out.text(G::DeviceBrand, &id, BRANDS[extra.brand]);
            out.text(G::Os, &id, extra.os);
            out.text(G::Channel, &id, CHANNELS[extra.channel].0);
            out.text(G::MemberLevel, &id, member_level(extra.level_score, day - life.join));
            for (k, interest) in INTERESTS.iter().enumerate() {
                if extra.interests & (1 << k) != 0 {
                    out.text(G::Interests, &id, interest.0);
                }
            }
        }
    }
}

/// The open files of one day.
struct DayFiles {
    files: Vec<Option<(PathBuf, BufWriter<File>)>>,
    rows: u64,
    bytes: u64,
}

impl DayFiles {
    fn open(out: &Path, ds: Ds, weekly: bool) -> Result<Self, DemoError> {
        let day_dir = out.join(ds.to_string());
        let tags = day_dir.join("tags");
        let events = day_dir.join("events");
        for dir in [&tags, &events] {
            fs::create_dir_all(dir).map_err(|source| DemoError::Io { path: dir.clone(), source })?;
        }
        let mut files = Vec::with_capacity(FILES);
        let mut bytes = 0;
        for name in EVENTS {
            let header = "user_id,count\n";
            files.push(Some(create(&events.join(format!("{name}.csv")), header)?));
            bytes += header.len() as u64;
        }
        for g in GROUPS {
            if g.weekly && !weekly {
                files.push(None);
                continue;
            }
            let header = "user_id,value\n";
            files.push(Some(create(&tags.join(format!("{}.csv", g.group)), header)?));
            bytes += header.len() as u64;
        }
        Ok(Self { files, rows: 0, bytes })
    }

    fn write(&mut self, block: &BlockOut) -> Result<(), DemoError> {
        for ((slot, buf), rows) in self.files.iter_mut().zip(&block.bufs).zip(block.rows) {
            if let Some((path, w)) = slot {
                w.write_all(buf).map_err(|source| DemoError::Io { path: path.clone(), source })?;
                self.rows += rows;
                self.bytes += buf.len() as u64;
            }
        }
        Ok(())
    }

    /// Flushes and closes; returns (files, rows, bytes).
    fn finish(self) -> Result<(u64, u64, u64), DemoError> {
        let mut n = 0;
        for (path, w) in self.files.into_iter().flatten() {
            w.into_inner().map_err(|e| DemoError::Io { path, source: e.into_error() })?;
            n += 1;
        }
        Ok((n, self.rows, self.bytes))
    }
}

fn create(path: &Path, header: &str) -> Result<(PathBuf, BufWriter<File>), DemoError> {
    let io = |source| DemoError::Io { path: path.to_owned(), source };
    let file = File::create(path).map_err(io)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    w.write_all(header.as_bytes()).map_err(io)?;
    Ok((path.to_owned(), w))
}

/// Users per block: the unit of parallel work and of buffering.
const BLOCK: usize = 1 << 15;

/// Runs `work` over users `0..marks.len()` in blocks, `threads` blocks at a time, handing
/// each block's output to `sink` in user order while the next wave is being computed. Outputs
/// are recycled, so memory stays at about `2 × threads` blocks' worth of rows.
fn in_waves<T: Send + Default>(
    marks: &mut [Marks],
    threads: usize,
    work: &(dyn Fn(u32, &mut [Marks], &mut T) + Sync),
    sink: &mut dyn FnMut(&T) -> Result<(), DemoError>,
) -> Result<(), DemoError> {
    let n = marks.len();
    let wave = BLOCK * threads;
    let mut pending: Vec<T> = Vec::new();
    let mut free: Vec<T> = Vec::new();
    let mut lo = 0;
    while lo < n || !pending.is_empty() {
        let hi = (lo + wave).min(n);
        let chunk = &mut marks[lo..hi];
        let done = std::thread::scope(|scope| -> Result<Vec<T>, DemoError> {
            let handles: Vec<_> = chunk
                .chunks_mut(BLOCK)
                .enumerate()
                .map(|(b, m)| {
                    let first = u32::try_from(lo + b * BLOCK).unwrap_or(u32::MAX);
                    let mut out = free.pop().unwrap_or_default();
                    scope.spawn(move || {
                        work(first, m, &mut out);
                        out
                    })
                })
                .collect();
            for out in pending.drain(..) {
                sink(&out)?;
                free.push(out);
            }
            handles.into_iter().map(|h| h.join().map_err(|_| DemoError::Worker)).collect()
        })?;
        pending = done;
        lo = hi;
    }
    Ok(())
}

/// Writes the demo population; see the module docs for the files.
///
/// # Errors
/// Invalid options or a file that cannot be written.
pub fn generate(opts: &DemoOptions) -> Result<DemoSummary, DemoError> {
    if opts.users == 0 || opts.days == 0 {
        return Err(DemoError::Options("--users and --days must be at least 1".into()));
    }
    if opts.days > 3650 {
        return Err(DemoError::Options("--days is at most 3650".into()));
    }
    let days = i32::try_from(opts.days).unwrap_or(i32::MAX);
    let first_ds = opts.end_ds.add_days(1 - days);
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        t => t,
    };
    let pop = Population::new(opts.seed, opts.users, first_ds, opts.days);
    fs::create_dir_all(&opts.out).map_err(|source| DemoError::Io { path: opts.out.clone(), source })?;
    let groups_path = opts.out.join("groups.json");
    let mut groups_json =
        serde_json::to_vec_pretty(GROUPS).map_err(|e| DemoError::Io { path: groups_path.clone(), source: e.into() })?;
    groups_json.push(b'\n');
    fs::write(&groups_path, &groups_json).map_err(|source| DemoError::Io { path: groups_path.clone(), source })?;
    let mut summary =
        DemoSummary { files: 1, rows: 0, bytes: groups_json.len() as u64, first_ds, last_ds: opts.end_ds };

    let users = opts.users as usize;
    let mut marks = vec![Marks::default(); users];
    let base = pop.base as usize;
    let history = |first: u32, m: &mut [Marks], (): &mut ()| history_block(&pop, opts.seed, first, m);
    in_waves(&mut marks[..base], threads, &history, &mut |()| Ok(()))?;

    for day in 0..days {
        let ds = first_ds.add_days(day);
        let weekly = day % 7 == 0;
        let ctx = DayCtx { pop: &pop, seed: opts.seed, day, ds, weekly };
        let mut files = DayFiles::open(&opts.out, ds, weekly)?;
        let n = pop.joined_by(day) as usize;
        let work = |first: u32, m: &mut [Marks], out: &mut BlockOut| day_block(&ctx, first, m, out);
        in_waves(&mut marks[..n], threads, &work, &mut |block| files.write(block))?;
        let (f, rows, bytes) = files.finish()?;
        summary.files += f;
        summary.rows += rows;
        summary.bytes += bytes;
        tracing::debug!(%ds, rows, "day written");
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_fixed_width() {
        let ids: HashSet<[u8; 11]> = (0..200_000).map(user_id_bytes).collect();
        assert_eq!(ids.len(), 200_000);
        assert!(ids.iter().all(|id| id[0] == b'u' && id[1..].iter().all(u8::is_ascii_digit)));
        assert_eq!(user_id_bytes(u32::MAX).len(), 11);
    }

    #[test]
    fn numbers_format() {
        let mut b = Vec::new();
        for v in [0, 7, 10, 1234567890, u64::MAX] {
            b.clear();
            push_u64(&mut b, v);
            assert_eq!(String::from_utf8_lossy(&b), v.to_string());
        }
        assert_eq!(format_cents(0), "0.00");
        assert_eq!(format_cents(100), "1.00");
        assert_eq!(format_cents(12950), "129.50");
        assert_eq!(format_cents(123456789), "1234567.89");
    }

    #[test]
    fn marks_round_trip() {
        for d in [-HISTORY_DAYS, -1, 0, 29, 3649] {
            assert_eq!(days_since(mark(d), d), Some(0));
            assert_eq!(days_since(mark(d), d + 5), Some(5));
        }
        assert_eq!(days_since(0, 3), None);
        assert_eq!(days_since(GONE, 3), None);
        assert!(gone_after(10, 5, None));
        assert!(gone_after(10, 11, Some(179)));
        assert!(!gone_after(10, 12, None), "still has events on day 11");
        assert!(!gone_after(10, 5, Some(178)), "still active_180d on day 11");
    }

    #[test]
    fn groups_match_file_indexes() {
        assert_eq!(GROUPS.len() + EVENTS.len(), FILES);
        assert_eq!(GROUPS[G::Paid30d as usize].group, "paid_30d");
        assert_eq!(GROUPS[G::Interests as usize].group, "interests");
        assert_eq!(GROUPS[G::Spend30d as usize].group, "spend_30d");
        assert!(GROUPS.iter().filter(|g| g.multi).all(|g| g.group == "interests"));
    }
}
