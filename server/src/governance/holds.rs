//! Held uploads: a tag group upload whose checks failed under a `hold` policy publishes
//! nothing. Its bytes are kept as blobs (16 MiB chunks, so memory stays bounded whatever the
//! upload's size, and replicas sharing the blob store see them), and a record `hold/<id>` in
//! the app's `access` table names them with the checks. Nothing readable changes: no day
//! pointer, no dictionary entry (a held file's new users are not added; the universe, and so
//! every `not`, stays as it was).
//!
//! Approving stages the bytes again *as if uploaded now* (new users get ids then, the
//! comparison is with what is published then) and publishes them; the record's new state is
//! written in the publish's own transaction, so an approval is published exactly once.
//! Rejecting marks the record; its chunks are then unreferenced and the orphan-blob collector
//! takes them. Records stay (who decided, when) as the hold's history.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use wire::{Actor, Hold, HoldState, QualityCheck};

use super::GovernanceError;
use crate::store::{BlobStore, Meta, StoreError};

const PREFIX: &str = "hold/";
/// Bytes per stored chunk of a held upload.
pub const CHUNK_BYTES: usize = 16 << 20;

/// How the held upload was sent (to stage it again the same way).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    /// `categorical`, `boolean` or `numeric`.
    pub kind: String,
    /// `?category=`.
    pub category: String,
    /// `?scale=`.
    pub scale: u32,
    /// `csv`, `bitmaps` or `parquet`.
    pub format: String,
}

/// One stored chunk of the upload's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// Its blob.
    pub blob: String,
    /// Its length.
    pub bytes: u64,
}

/// A hold as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldRecord {
    /// What the API shows.
    pub hold: Hold,
    /// How it was sent.
    pub params: Params,
    /// Its bytes, in order.
    pub chunks: Vec<Chunk>,
}

/// The key of a hold's record.
pub fn key(id: &str) -> String {
    format!("{PREFIX}{id}")
}

/// What a new hold is.
#[derive(Debug)]
pub struct NewHold<'a> {
    /// The day.
    pub ds: &'a str,
    /// The group.
    pub group: &'a str,
    /// How it was sent.
    pub params: Params,
    /// The spooled upload.
    pub path: &'a Path,
    /// Its checks.
    pub checks: Vec<QualityCheck>,
    /// Rows and distinct users.
    pub rows: u64,
    /// Distinct users.
    pub users: u64,
    /// Who sent it.
    pub by: Actor,
    /// When.
    pub now_ms: u64,
}

/// Stores a held upload: its bytes as blobs first, then the record naming them.
///
/// # Errors
/// Reading the spooled file, writing blobs, the store.
pub fn stage(meta: &Meta, blobs: &dyn BlobStore, app: &str, new: NewHold<'_>) -> Result<Hold, GovernanceError> {
    let mut file = std::fs::File::open(new.path).map_err(|e| GovernanceError::Conflict(format!("held upload: {e}")))?;
    let mut chunks = Vec::new();
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut size_bytes = 0u64;
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            let n =
                file.read(&mut buf[filled..]).map_err(|e| GovernanceError::Conflict(format!("held upload: {e}")))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        let blob = blobs.put(&buf[..filled])?;
        chunks.push(Chunk { blob, bytes: filled as u64 });
        size_bytes += filled as u64;
        if filled < buf.len() {
            break;
        }
    }
    let mut tail = [0u8; 4];
    rand::fill(&mut tail);
    let id = format!("h{:013}{}", new.now_ms, tail.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let hold = Hold {
        id: id.clone(),
        ds: new.ds.to_owned(),
        group: new.group.to_owned(),
        state: HoldState::Held,
        rows: new.rows,
        users: new.users,
        size_bytes,
        checks: new.checks,
        by: new.by,
        at_ms: new.now_ms,
        decided_by: None,
        decided_ms: None,
        version: None,
    };
    let record = HoldRecord { hold: hold.clone(), params: new.params, chunks };
    let bytes = serde_json::to_vec(&record).unwrap_or_default();
    meta.access_update(app, &key(&id), move |cur| cur.is_none().then_some(bytes))?;
    Ok(hold)
}

/// Every hold record of an app, oldest first.
///
/// # Errors
/// The store failed.
pub fn records(meta: &Meta, app: &str) -> Result<Vec<HoldRecord>, StoreError> {
    Ok(meta
        .access_list(app, PREFIX, None, usize::MAX)?
        .into_iter()
        .filter_map(|(_, b)| serde_json::from_slice(&b).ok())
        .collect())
}

/// Holds waiting for a decision (`all`: every hold), oldest first.
///
/// # Errors
/// The store failed.
pub fn list(meta: &Meta, app: &str, all: bool) -> Result<Vec<Hold>, StoreError> {
    Ok(records(meta, app)?.into_iter().map(|r| r.hold).filter(|h| all || h.state == HoldState::Held).collect())
}

/// Holds waiting, per group.
///
/// # Errors
/// The store failed.
pub fn pending_by_group(meta: &Meta, app: &str) -> Result<BTreeMap<String, u64>, StoreError> {
    let mut out = BTreeMap::new();
    for h in list(meta, app, false)? {
        *out.entry(h.group).or_default() += 1;
    }
    Ok(out)
}

/// A hold waiting for a decision.
///
/// # Errors
/// Unknown, or already decided.
pub fn waiting(meta: &Meta, app: &str, id: &str) -> Result<HoldRecord, GovernanceError> {
    let bytes = meta.access_get(app, &key(id))?.ok_or_else(|| GovernanceError::NotFound(format!("no hold `{id}`")))?;
    let record: HoldRecord =
        serde_json::from_slice(&bytes).map_err(|source| StoreError::Record { what: format!("hold {id}"), source })?;
    if record.hold.state != HoldState::Held {
        return Err(GovernanceError::Conflict(format!("hold `{id}` was already {}", state_name(record.hold.state))));
    }
    Ok(record)
}

fn state_name(s: HoldState) -> &'static str {
    match s {
        HoldState::Held => "held",
        HoldState::Approved => "approved",
        HoldState::Rejected => "rejected",
    }
}

/// The record after a decision, as bytes to store.
pub fn decided(
    mut record: HoldRecord,
    state: HoldState,
    by: Actor,
    now_ms: u64,
    version: Option<u64>,
) -> (Hold, Vec<u8>) {
    record.hold.state = state;
    record.hold.decided_by = Some(by);
    record.hold.decided_ms = Some(now_ms);
    record.hold.version = version;
    let bytes = serde_json::to_vec(&record).unwrap_or_default();
    (record.hold, bytes)
}

/// Rejects a waiting hold.
///
/// # Errors
/// Unknown, already decided, the store.
pub fn reject(meta: &Meta, app: &str, id: &str, by: Actor, now_ms: u64) -> Result<Hold, GovernanceError> {
    let record = waiting(meta, app, id)?;
    let (hold, bytes) = decided(record, HoldState::Rejected, by, now_ms, None);
    // Only a record still held is changed: an approval racing this one wins or loses whole.
    let written = meta.access_update(app, &key(id), move |cur| {
        let still = cur
            .and_then(|b| serde_json::from_slice::<HoldRecord>(&b).ok())
            .is_some_and(|r| r.hold.state == HoldState::Held);
        still.then_some(bytes)
    })?;
    if written.is_none() {
        return Err(GovernanceError::Conflict(format!("hold `{id}` was decided meanwhile")));
    }
    Ok(hold)
}

/// A held upload's bytes written back to a file of their own (removed when dropped).
#[derive(Debug)]
pub struct Restaged {
    path: PathBuf,
}

impl Restaged {
    /// Where the bytes are.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Restaged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Writes a hold's bytes to a file in `dir`, each chunk checked by the blob store.
///
/// # Errors
/// A chunk is missing or damaged; the file cannot be written.
pub fn restage(blobs: &dyn BlobStore, record: &HoldRecord, dir: &Path) -> Result<Restaged, GovernanceError> {
    let io = |e: std::io::Error| GovernanceError::Conflict(format!("held upload: {e}"));
    std::fs::create_dir_all(dir).map_err(io)?;
    let restaged = Restaged { path: dir.join(format!("{}.held", record.hold.id)) };
    let mut file = std::fs::File::create(&restaged.path).map_err(io)?;
    for chunk in &record.chunks {
        file.write_all(&blobs.get_referenced(&chunk.blob)?).map_err(io)?;
    }
    file.flush().map_err(io)?;
    Ok(restaged)
}
