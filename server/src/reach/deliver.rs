//! The I/O edge of syncs: one worker task per process claims due syncs from the store, and
//! each sync delivers on a task of its own, one batch at a time, in order.
//!
//! A step: claim the sync (a lease in its record, like jobs); with no delivery under way, take
//! the next due day ([`SyncRecord::next_day`]), store the members it brings the destination to
//! (`reach/bits/<sync>/<seq>`), then start the delivery in the sync's record; send the first
//! unacknowledged batch; on a 2xx log it and move the cursor, on anything else (a status, a
//! time-out, a refused address) log the attempt and back off with jitter, or stop `failed`
//! after `--delivery-max-attempts`. After the last batch the recipients become the static
//! segment `<prefix>.<sync>.<ds>` and the delivery completes in the sync's record.
//!
//! Every record is written before the next step relies on it, so a kill anywhere leaves a
//! state the next claim resumes from: at worst a batch acknowledged but not yet recorded is
//! sent again, under the same `delivery_id` (at least once).

use std::path::PathBuf;
use std::time::Duration;

use engine::IdSet;
use roaring::RoaringBitmap;
use wire::{BatchStatus, DeliveryBatch, DeliveryKind, DestinationKind, SyncState, WebhookBody};

use super::destinations::{self, DestinationRecord, Target};
use super::syncs::{self, SyncRecord, batch_ids};
use super::{BITS, LOG, ReachError, decode, encode, files, signature};
use crate::clock::now_ms;
use crate::state::AppState;
use crate::store::Meta;

/// How often the worker looks for due syncs without being woken.
pub const SCAN_EVERY: Duration = Duration::from_millis(500);
/// How much of a failed response's body the log keeps.
const BODY_CHARS: usize = 200;

/// The delay before retry `attempt` (from 1): doubling from `first_ms`, capped at ten minutes,
/// then between half and all of that (equal jitter: syncs that failed together spread out).
///
/// ```
/// use server::reach::deliver::backoff_ms;
/// assert_eq!(backoff_ms(100, 1, 0.0), 50);
/// assert_eq!(backoff_ms(100, 3, 0.999_999), 399);
/// assert_eq!(backoff_ms(100, 60, 0.0), 300_000);
/// ```
pub fn backoff_ms(first_ms: u64, attempt: u32, jitter: f64) -> u64 {
    let full = first_ms.saturating_mul(1u64 << attempt.saturating_sub(1).min(30)).min(600_000);
    let half = full / 2;
    half + (half as f64 * jitter.clamp(0.0, 1.0)) as u64
}

fn bits_key(sync: &str, seq: u64) -> String {
    format!("{BITS}{sync}/{seq:010}")
}

fn log_key(sync: &str, seq: u64, batch: u32) -> String {
    format!("{LOG}{sync}/{seq:010}/{batch:06}")
}

/// The delivery log of a sync, oldest first: at most `limit` batches after the batch
/// `after` (a `delivery_id`), and whether more follow.
///
/// # Errors
/// [`ReachError::InvalidField`] naming `after` when it is not one of this sync's ids; the
/// store's, or a record that does not decode.
pub fn log(
    meta: &Meta,
    app: &str,
    sync: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<(Vec<DeliveryBatch>, bool), ReachError> {
    let prefix = format!("{LOG}{sync}/");
    let after = match after {
        None => None,
        Some(id) => {
            let parsed = id.strip_prefix(sync).and_then(|rest| rest.strip_prefix('.')).and_then(|rest| {
                let (seq, batch) = rest.split_once('.')?;
                Some(log_key(sync, seq.parse().ok()?, batch.parse().ok()?))
            });
            Some(parsed.ok_or_else(|| ReachError::invalid("after", format!("not a delivery_id of sync `{sync}`")))?)
        }
    };
    let mut rows = meta.access_list(app, &prefix, after.as_deref(), limit.saturating_add(1))?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let batches = rows.into_iter().map(|(k, b)| decode(&k, &b)).collect::<Result<_, _>>()?;
    Ok((batches, more))
}

/// The members delivery `seq` brings the destination to (empty for none).
fn load_bits(meta: &Meta, app: &str, sync: &str, seq: Option<u64>) -> Result<RoaringBitmap, ReachError> {
    let Some(seq) = seq else { return Ok(RoaringBitmap::new()) };
    let bytes = meta
        .access_get(app, &bits_key(sync, seq))?
        .ok_or_else(|| ReachError::Record { what: bits_key(sync, seq), reason: "missing".into() })?;
    RoaringBitmap::deserialize_from(bytes.as_slice())
        .map_err(|e| ReachError::Record { what: bits_key(sync, seq), reason: e.to_string() })
}

/// Starts the worker; it runs until the process ends.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if !state.meta.shared() {
            // The embedded store belongs to this process alone: a lease in it is a killed
            // process's, and waiting for it to lapse would only delay the resumption.
            let meta = state.meta.clone();
            if let Err(e) = blocking(move || release_leases(&meta)).await {
                tracing::error!(error = %e, "releasing the leases of a previous process failed; they lapse instead");
            }
        }
        loop {
            if let Err(e) = scan(&state).await {
                tracing::error!(error = %e, "delivery scan failed; trying again");
            }
            let _ = tokio::time::timeout(SCAN_EVERY, state.reach.wake.notified()).await;
        }
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ReachError> + Send + 'static,
) -> Result<T, ReachError> {
    crate::blocking::run(f).await
}

/// Clears every sync's lease (see [`spawn`]).
fn release_leases(meta: &Meta) -> Result<(), ReachError> {
    for (app, _) in meta.apps()? {
        for held in syncs::list(meta, &app)?.into_iter().filter(|s| s.lease.is_some()) {
            syncs::update(meta, &app, &held.id, |mut s| {
                s.lease = None;
                Some(s)
            })?;
        }
    }
    Ok(())
}

/// Runs every due sync of every app, one after another.
async fn scan(state: &AppState) -> Result<(), ReachError> {
    let meta = state.meta.clone();
    let due = blocking(move || {
        let now = now_ms();
        let mut due = Vec::new();
        for (app, _) in meta.apps()? {
            for s in syncs::list(&meta, &app)? {
                if s.runnable(now) {
                    due.push((app.clone(), s.id));
                }
            }
        }
        Ok(due)
    })
    .await?;
    for (app, sync) in due {
        // Each sync on a task of its own, so a slow receiver delays only its own syncs; the
        // running set keeps one task per sync (the lease keeps other processes out, not this one).
        let key = (app.clone(), sync.clone());
        if !state.reach.running.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone()) {
            continue;
        }
        let st = state.clone();
        tokio::spawn(async move {
            if let Err(e) = run_sync(&st, &app, &sync).await {
                tracing::error!(app, sync, error = %e, "delivery step failed; the sync is tried again");
            }
            st.reach.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
            // Its next delivery may be due at once (a day published meanwhile).
            st.reach.wake.notify_one();
        });
    }
    Ok(())
}

/// What one step found to do.
enum Step {
    /// Nothing due (or the claim is someone else's).
    Idle,
    /// A delivery started or completed; look again.
    Again,
    /// Send this batch.
    Send(Box<Batch>),
}

/// One batch, ready to send.
struct Batch {
    sync: SyncRecord,
    dest: DestinationRecord,
    seq: u64,
    batch: u32,
    ds: String,
    kind: DeliveryKind,
    ids: Ids,
}

/// A batch's ids: resolved to strings for a webhook (one batch, at most `batch_size`), or the
/// two sets a file is written from in chunks (a files delivery is one batch of any size, so its
/// ids are never all held as strings).
enum Ids {
    Strings { added: Vec<String>, removed: Vec<String> },
    Sets { from: RoaringBitmap, to: RoaringBitmap },
}

impl Ids {
    fn count(&self) -> u64 {
        match self {
            Ids::Strings { added, removed } => (added.len() + removed.len()) as u64,
            Ids::Sets { from, to } => (to - from).len() + (from - to).len(),
        }
    }
}

/// Claims a sync and delivers until it is up to date, fails, or is paused.
async fn run_sync(state: &AppState, app: &str, id: &str) -> Result<(), ReachError> {
    loop {
        let (st, a, i) = (state.clone(), app.to_owned(), id.to_owned());
        let step = blocking(move || prepare(&st, &a, &i)).await?;
        match step {
            Step::Idle => return Ok(()),
            Step::Again => continue,
            Step::Send(batch) => {
                if !send(state, app, *batch).await? {
                    return Ok(()); // failed: the record says when to retry
                }
            }
        }
    }
}

/// Claims the sync and finds its next step, starting or completing a delivery on the way.
fn prepare(state: &AppState, app: &str, id: &str) -> Result<Step, ReachError> {
    let meta = &state.meta;
    let owner = state.reach.owner.clone();
    let Some(sync) = syncs::update(meta, app, id, |s| s.claim(&owner, now_ms()))? else { return Ok(Step::Idle) };
    let dest = match destinations::get(meta, app, &sync.destination) {
        Ok(d) => d,
        Err(ReachError::NotFound(m)) => {
            syncs::update(meta, app, id, |mut s| {
                s.stopped(m, now_ms());
                Some(s)
            })?;
            return Ok(Step::Idle);
        }
        Err(e) => return Err(e),
    };
    let Some(current) = sync.current.clone() else {
        return start_next(state, app, sync, &dest);
    };
    if current.batches_done >= current.batches {
        finish(state, app, &sync, current.seq, &current.ds)?;
        return Ok(Step::Again);
    }
    let from = match current.kind {
        DeliveryKind::Full => RoaringBitmap::new(),
        DeliveryKind::Delta => load_bits(meta, app, id, sync.delivered.as_ref().map(|(s, _)| *s))?,
    };
    let to = load_bits(meta, app, id, Some(current.seq))?;
    if dest.kind == DestinationKind::Files {
        let ids = Ids::Sets { from, to };
        let (seq, batch, ds, kind) = (current.seq, current.batches_done, current.ds, current.kind);
        return Ok(Step::Send(Box::new(Batch { sync, dest, seq, batch, ds, kind, ids })));
    }
    let (added, removed) = batch_ids(&from, &to, dest.batch(), current.batches_done);
    let kind =
        crate::ids::kind_of(meta, app).map_err(|e| ReachError::Record { what: "ids".into(), reason: e.to_string() })?;
    let externals = |ids: Vec<u32>| -> Result<Vec<String>, ReachError> {
        let mut out = Vec::with_capacity(ids.len());
        crate::ids::externals(meta, app, kind, ids.into_iter(), |_, text| out.push(text.to_owned()))?;
        Ok(out)
    };
    let (added, removed) = (externals(added)?, externals(removed)?);
    Ok(Step::Send(Box::new(Batch {
        seq: current.seq,
        batch: current.batches_done,
        ds: current.ds,
        kind: current.kind,
        sync,
        dest,
        ids: Ids::Strings { added, removed },
    })))
}

/// Starts the next due delivery, if a day is due: its target members are stored first, then
/// the delivery is started in the sync's record (only if nobody started one meanwhile).
fn start_next(state: &AppState, app: &str, sync: SyncRecord, dest: &DestinationRecord) -> Result<Step, ReachError> {
    let meta = &state.meta;
    let days: Vec<String> = meta.days(app)?.into_iter().map(|(ds, _)| ds).collect();
    let Some((ds, kind)) = sync.next_day(&days) else {
        syncs::update(meta, app, &sync.id, |mut s| {
            s.lease = None;
            Some(s)
        })?;
        return Ok(Step::Idle);
    };
    let ds = ds.to_owned();
    let to = match audience(state, app, &sync, &ds)? {
        Ok(set) => set,
        Err(problem) => {
            syncs::update(meta, app, &sync.id, |mut s| {
                s.stopped(problem, now_ms());
                Some(s)
            })?;
            return Ok(Step::Idle);
        }
    };
    let from = match kind {
        DeliveryKind::Full => RoaringBitmap::new(),
        DeliveryKind::Delta => load_bits(meta, app, &sync.id, sync.delivered.as_ref().map(|(s, _)| *s))?,
    };
    let (added, removed) = ((&to - &from).len(), (&from - &to).len());
    let seq = sync.seq + 1;
    let mut bytes = Vec::with_capacity(to.serialized_size());
    to.serialize_into(&mut bytes)
        .map_err(|e| ReachError::Record { what: bits_key(&sync.id, seq), reason: e.to_string() })?;
    // Written whole before the delivery names it; a retry after a kill writes the same bytes.
    meta.access_update(app, &bits_key(&sync.id, seq), move |_| Some(bytes))?;
    let size = if dest.kind == DestinationKind::Files { u32::MAX } else { dest.batch() };
    syncs::update(meta, app, &sync.id, |mut s| {
        (s.current.is_none() && s.seq + 1 == seq).then(|| {
            s.start(&ds, kind, added, removed, size, now_ms());
            s
        })
    })?;
    Ok(Step::Again)
}

/// The members a delivery of `ds` brings the destination to: the segment's on that day, or the
/// experiment group's (frozen, the same every day). The inner `Err` is why the sync stops (the
/// audience is gone); the outer one a failure worth retrying (the store).
fn audience(
    state: &AppState,
    app: &str,
    sync: &SyncRecord,
    ds: &str,
) -> Result<Result<RoaringBitmap, String>, ReachError> {
    use crate::experiments::ExperimentError as E;
    if let Some((experiment, group)) = &sync.group {
        return match crate::experiments::record::group_members(&state.snapshots, app, experiment, group) {
            Ok(set) => Ok(Ok(set.to_roaring())),
            Err(e @ (E::NotFound(_) | E::NoGroup { .. })) => Ok(Err(e.to_string())),
            Err(e) => Err(ReachError::Record { what: format!("experiment {experiment}"), reason: e.to_string() }),
        };
    }
    let (_, day) = state.snapshots.day(app, Some(ds))?.ok_or_else(|| ReachError::NotFound(format!("day {ds}")))?;
    let manifest = state.snapshots.manifest(&day.manifest)?;
    let Some(entry) = manifest.segment(&sync.segment) else {
        let why = manifest.segment_errors.iter().find(|e| e.id == sync.segment).map(|e| e.message.clone());
        return Ok(Err(format!(
            "segment `{}` has no members on {ds}{}",
            sync.segment,
            why.map(|w| format!(": {w}")).unwrap_or_default()
        )));
    };
    Ok(Ok(state.snapshots.set(&entry.members.full.blob)?.to_roaring()))
}

/// Completes delivery `seq`: its recipients become the reached segment, then the cursor moves
/// and the previous target's bits are emptied (the log keeps the counts).
fn finish(state: &AppState, app: &str, sync: &SyncRecord, seq: u64, ds: &str) -> Result<(), ReachError> {
    let meta = &state.meta;
    let to = load_bits(meta, app, &sync.id, Some(seq))?;
    let previous = sync.delivered.as_ref().map(|(s, _)| *s);
    let from = match sync.current.as_ref().map(|c| c.kind) {
        Some(DeliveryKind::Delta) => load_bits(meta, app, &sync.id, previous)?,
        _ => RoaringBitmap::new(),
    };
    let recipients = &to - &from;
    if !recipients.is_empty() {
        save_reached(state, app, sync, ds, &recipients)?;
    }
    let members = to.len();
    syncs::update(meta, app, &sync.id, |mut s| {
        s.complete(seq, members, now_ms());
        Some(s)
    })?;
    if let Some(old) = previous {
        meta.access_update(app, &bits_key(&sync.id, old), |_| Some(Vec::new()))?;
    }
    Ok(())
}

/// The static segment `<prefix>.<sync>.<ds>` named `reached:<sync>:<ds>` (issue 17's name;
/// ids cannot hold `:`). Already there (a completion retried after a kill, a re-send of the
/// same day): kept as it is.
fn save_reached(
    state: &AppState,
    app: &str,
    sync: &SyncRecord,
    ds: &str,
    users: &RoaringBitmap,
) -> Result<(), ReachError> {
    use crate::segments::freeze::{FreezeError, FreezeRequest, Source, freeze};
    let id = format!("{}.{}.{ds}", sync.reached_prefix, sync.id);
    let input: wire::SegmentInput = serde_json::from_value(serde_json::json!({
        "name": format!("reached:{}:{ds}", sync.id),
        "description": format!("Users delivered to `{}` by sync `{}` for {ds}", sync.destination, sync.id),
        "kind": "static",
    }))
    .map_err(|e| ReachError::Record { what: "reached segment".into(), reason: e.to_string() })?;
    let (spec, _) = crate::segments::validate(input)
        .map_err(|e| ReachError::Record { what: "reached segment".into(), reason: e.to_string() })?;
    let req = FreezeRequest {
        id,
        spec,
        source: Source::Users(IdSet::from_roaring(users)),
        ds: Some(ds.to_owned()),
        min_audience: 0,
    };
    match freeze(&state.snapshots, state.config.retention_days, app, &req, now_ms()) {
        Ok(_) => {
            // Its members reach the day's versions through the segments job the freeze queued.
            state.jobs.wake();
            Ok(())
        }
        Err(FreezeError::Exists(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// What one attempt got.
struct Attempt {
    ok: bool,
    code: Option<u16>,
    error: Option<String>,
}

/// Sends one batch and records the outcome; `true` when it was acknowledged.
async fn send(state: &AppState, app: &str, b: Batch) -> Result<bool, ReachError> {
    let delivery_id = format!("{}.{}.{}", b.sync.id, b.seq, b.batch);
    let count = b.ids.count();
    let attempt = match destinations::target(b.dest.kind, &b.dest.url)? {
        Target::Http { host, port } => post(state, &b, &delivery_id, &host, port).await,
        target @ (Target::Dir(_) | Target::Bucket { .. }) => {
            let Ids::Sets { from, to } = b.ids else {
                return Err(ReachError::Record { what: "a files batch".into(), reason: "ids as strings".into() });
            };
            let format = b.dest.format.unwrap_or_default();
            let name = files::relative(&b.sync.id, &b.ds, b.seq, b.kind, format);
            let (local, bucket) = match target {
                Target::Bucket { bucket, prefix } => {
                    let spool = state.config.data_dir.join("reach-spool").join(app);
                    (spool.join(&name), Some((bucket, format!("{prefix}{name}"))))
                }
                Target::Dir(dir) => (dir.join(&name), None),
                Target::Http { .. } => (PathBuf::new(), None), // matched above
            };
            let (meta, a, file) = (state.meta.clone(), app.to_owned(), local.clone());
            let written =
                tokio::task::spawn_blocking(move || files::write_delivery(&meta, &a, file, format, &from, &to)).await;
            let mut result = match written {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("writing the file: {e}")),
                Err(e) => Err(format!("writing the file: {e}")),
            };
            if let (Ok(()), Some((bucket, key))) = (&result, bucket) {
                result = files::upload(&bucket, &key, &local)
                    .await
                    .map_err(|e| format!("uploading to s3://{bucket}/{key}: {e}"));
                let _ = tokio::fs::remove_file(&local).await;
            }
            match result {
                Ok(()) => Attempt { ok: true, code: None, error: None },
                Err(e) => Attempt { ok: false, code: None, error: Some(e) },
            }
        }
    };
    let (st, a) = (state.clone(), app.to_owned());
    let (sync_id, seq, batch, ds, kind) = (b.sync.id.clone(), b.seq, b.batch, b.ds.clone(), b.kind);
    let ok = attempt.ok;
    let (first, max) = (st.config.delivery_first_backoff_ms, st.config.delivery_max_attempts);
    let jitter: f64 = rand::random();
    blocking(move || {
        let now = now_ms();
        let meta = &st.meta;
        let key = log_key(&sync_id, seq, batch);
        let mut entry = meta
            .access_get(&a, &key)?
            .and_then(|bytes| serde_json::from_slice::<DeliveryBatch>(&bytes).ok())
            .unwrap_or(DeliveryBatch {
                delivery_id,
                seq,
                ds,
                kind,
                batch,
                ids: count,
                attempts: 0,
                status: BatchStatus::Pending,
                response_code: None,
                last_error: None,
                updated_ms: now,
            });
        entry.attempts += 1;
        entry.response_code = attempt.code;
        entry.last_error = attempt.error.clone();
        entry.updated_ms = now;
        let failed_for_good = !attempt.ok && entry.attempts >= max;
        entry.status = match (attempt.ok, failed_for_good) {
            (true, _) => BatchStatus::Delivered,
            (false, true) => BatchStatus::Failed,
            (false, false) => BatchStatus::Pending,
        };
        let bytes = encode(&entry);
        meta.access_update(&a, &key, move |_| Some(bytes))?;
        syncs::update(meta, &a, &sync_id, |mut s| {
            if attempt.ok {
                s.batch_done(seq, batch, now);
            } else {
                let attempts = s.current.as_ref().map_or(0, |c| c.attempts) + 1;
                let error = attempt.error.clone().unwrap_or_default();
                s.batch_failed(seq, error, backoff_ms(first, attempts, jitter), max, now);
                if s.state == SyncState::Failed {
                    tracing::warn!(sync = %s.id, seq, batch, "a delivery batch failed every attempt; the sync stops");
                }
            }
            Some(s)
        })?;
        Ok(())
    })
    .await?;
    Ok(ok)
}

/// POSTs a batch to a webhook: the host checked again (an address literal never reaches the
/// resolver hook), the body signed.
async fn post(state: &AppState, b: &Batch, delivery_id: &str, host: &str, port: u16) -> Attempt {
    let failed = |error: String| Attempt { ok: false, code: None, error: Some(error) };
    if let Err(e) = super::address::check_host(host, port, state.config.allow_private_destinations).await {
        return failed(e.to_string());
    }
    let Ids::Strings { added, removed } = &b.ids else {
        return failed("a webhook batch without its ids".into());
    };
    let body = WebhookBody {
        delivery_id: delivery_id.to_owned(),
        segment: b.sync.segment.clone(),
        experiment: b.sync.group.as_ref().map(|(e, _)| e.clone()),
        group: b.sync.group.as_ref().map(|(_, g)| g.clone()),
        ds: b.ds.clone(),
        kind: b.kind,
        added: added.clone(),
        removed: removed.clone(),
    };
    let bytes = encode(&body);
    let secret = b.dest.secret.as_deref().unwrap_or_default();
    let t = now_ms() / 1_000;
    let sig = signature::sign(secret.as_bytes(), t, &bytes);
    let sent = state
        .reach
        .client
        .post(&b.dest.url)
        .header("content-type", "application/json")
        .header(signature::HEADER, sig)
        .header("x-sieve-delivery", delivery_id)
        .body(bytes)
        .send()
        .await;
    match sent {
        Ok(res) if res.status().is_success() => Attempt { ok: true, code: Some(res.status().as_u16()), error: None },
        Ok(res) => {
            let code = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            let text: String = text.chars().take(BODY_CHARS).collect();
            Attempt { ok: false, code: Some(code), error: Some(format!("answered {code}: {text}")) }
        }
        Err(e) if e.is_timeout() => failed("timed out".into()),
        Err(e) => failed(format!("request failed: {}", error_chain(&e))),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
