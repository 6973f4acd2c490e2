//! Checking a data directory: at start-up (the metadata store only, so start-up stays fast)
//! and offline (`sieve check`: every record, every blob, every reference).
//!
//! Start-up refuses a store that is damaged, or empty while the blobs show data existed (a
//! lost or truncated `meta.redb` would otherwise start as a fresh, empty server), with a
//! message naming the file and what to do. `--serve-damaged` starts anyway when only records
//! are damaged: those answer 503 and `/health` lists them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use super::faults::Faults;
use super::meta::{Meta, StoreError};

/// The metadata store's file inside a data directory.
pub const META_FILE: &str = "meta.redb";
/// The blob files' directory inside a data directory.
pub const BLOB_DIR: &str = "blobs";

/// Why the server refuses to start on a data directory. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// `meta.redb` is missing or empty while blob files exist.
    #[error(
        "{meta} is {state}, but {blobs} holds {count} blob file(s): the metadata was lost. Nothing was changed. \
         Restore a backup with `sieve restore --from BACKUP --data-dir {dir}` (`sieve check --data-dir {dir}` \
         shows what is there); to start over, move {dir} away first"
    )]
    MetadataLost {
        /// The metadata file.
        meta: PathBuf,
        /// `missing`, `empty` or `an empty database`.
        state: &'static str,
        /// The blob directory.
        blobs: PathBuf,
        /// Blob files found.
        count: u64,
        /// The data directory.
        dir: PathBuf,
    },
    /// `meta.redb` fails redb's integrity check (or makes redb panic).
    #[error(
        "{0}. Nothing was changed. `sieve check --data-dir {1}` lists the problems; restore a backup with \
         `sieve restore --from BACKUP --data-dir {1}`"
    )]
    Unreadable(StoreError, PathBuf),
    /// Records fail their checksums.
    #[error(
        "{meta} has {count} damaged record(s) ({first}). Nothing was changed. `sieve check --data-dir {dir}` \
         lists them; restore a backup with `sieve restore --from BACKUP --data-dir {dir}`, or start with \
         --serve-damaged to serve everything else (damaged records then answer 503)"
    )]
    DamagedRecords {
        /// The metadata file.
        meta: PathBuf,
        /// How many problems.
        count: usize,
        /// The first one.
        first: String,
        /// The data directory.
        dir: PathBuf,
    },
    /// Opening failed for another reason (permissions, a server already running on it, …).
    #[error(transparent)]
    Store(StoreError),
}

/// Blob files under `data_dir/blobs` (recursively), in path order.
///
/// # Errors
/// A directory cannot be read (a missing `blobs/` is no error: no files).
pub fn blob_files(data_dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(&data_dir.join(BLOB_DIR), &mut out)?;
    out.sort();
    Ok(out)
}

/// Whether any blob file exists (stops at the first).
fn any_blob(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() { any_blob(&path) } else { true }
    })
}

/// Opens the metadata store of `data_dir` for serving: redb's integrity check, then every
/// record's checksum; refuses a damaged store, or an empty one while blobs exist. With
/// `serve_damaged`, damaged records are logged and listed in `/health` instead of refused.
///
/// # Errors
/// See [`Refusal`].
pub fn open_for_serving(data_dir: &Path, faults: Faults, serve_damaged: bool) -> Result<Meta, Refusal> {
    let path = data_dir.join(META_FILE);
    let blobs = data_dir.join(BLOB_DIR);
    let lost = |state| {
        let count = blob_files(data_dir).map_or(0, |f| f.len() as u64);
        Refusal::MetadataLost { meta: path.clone(), state, blobs: blobs.clone(), count, dir: data_dir.to_owned() }
    };
    // Checked before opening: redb would turn a missing or empty file into a fresh database.
    match std::fs::metadata(&path) {
        Err(_) if any_blob(&blobs) => return Err(lost("missing")),
        Ok(m) if m.len() == 0 && any_blob(&blobs) => return Err(lost("empty")),
        _ => {}
    }
    let started = std::time::Instant::now();
    let meta = match Meta::open_with_faults(&path, faults) {
        Ok(meta) => meta,
        Err(e @ (StoreError::Unreadable { .. } | StoreError::IncompatibleVersion { .. })) => {
            return Err(Refusal::Unreadable(e, data_dir.to_owned()));
        }
        Err(e) => return Err(Refusal::Store(e)),
    };
    let opened_ms = started.elapsed().as_millis();
    let report = meta.verify_records(false).map_err(Refusal::Store)?;
    tracing::info!(
        records = report.records,
        redb_check_ms = opened_ms,
        records_check_ms = started.elapsed().as_millis() - opened_ms,
        "metadata store checked"
    );
    // A valid file with no app (replaced, or re-created by hand) while blobs exist: data was lost.
    if report.apps == 0 && any_blob(&blobs) {
        return Err(lost("an empty database"));
    }
    if let Some(first) = report.problems.first() {
        if !serve_damaged {
            return Err(Refusal::DamagedRecords {
                meta: path,
                count: report.problems.len(),
                first: first.clone(),
                dir: data_dir.to_owned(),
            });
        }
        for problem in &report.problems {
            tracing::error!(problem = %problem, "serving a damaged metadata store (--serve-damaged)");
        }
        meta.note_damaged(report.damaged);
    }
    Ok(meta)
}

/// What `sieve check` found.
#[derive(Debug, Default)]
pub struct Report {
    /// What is wrong, one line each.
    pub problems: Vec<String>,
    /// Metadata records checked.
    pub records: u64,
    /// Apps.
    pub apps: usize,
    /// Published days (all apps).
    pub days: usize,
    /// Users (all apps' dictionaries).
    pub users: u64,
    /// Blob files read and hashed.
    pub blob_files: u64,
    /// Their bytes.
    pub blob_bytes: u64,
    /// Blob references followed (manifests, bitmaps, segment and experiment members).
    pub references: u64,
}

impl Report {
    /// Whether nothing is wrong.
    pub fn is_healthy(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for Report {
    /// The summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} app(s), {} day(s), {} user(s), {} record(s), {} blob file(s) ({} bytes), {} reference(s) checked",
            if self.is_healthy() {
                "healthy".to_owned()
            } else {
                format!("DAMAGED, {} problem(s)", self.problems.len())
            },
            self.apps,
            self.days,
            self.users,
            self.records,
            self.blob_files,
            self.blob_bytes,
            self.references,
        )
    }
}

/// What is known of one blob address after reading the blob files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlobState {
    Good,
    Damaged,
}

/// Checks a data directory that no server is running on (see the module docs): the store
/// (redb's check, every record's checksum, the dictionary both ways), every blob file against
/// its address, and every reference — each day's manifest and the blobs it names, every
/// segment's and experiment's members — including that member bitmaps name only known users.
///
/// Opens the store as the server would (recovering from a crash, migrating an older format).
pub fn check_data_dir(dir: &Path) -> Report {
    let mut report = Report::default();
    if !dir.is_dir() {
        report.problems.push(format!("{}: not a directory", dir.display()));
        return report;
    }
    // Blob files first: every address's state, whatever the metadata says.
    let mut blobs: BTreeMap<String, BlobState> = BTreeMap::new();
    match blob_files(dir) {
        Err(e) => report.problems.push(format!("{}: cannot be listed: {e}", dir.join(BLOB_DIR).display())),
        Ok(files) => {
            for path in files {
                let shown = path.strip_prefix(dir).unwrap_or(&path).display().to_string();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
                let placed = engine::blob::is_hash(&name)
                    && path.parent().is_some_and(|p| p.ends_with(Path::new(&name[..2]).join(&name[2..4])));
                if !placed {
                    report.problems.push(format!("{shown}: not a blob (its name is not its address)"));
                    continue;
                }
                match std::fs::read(&path) {
                    Ok(bytes) => {
                        report.blob_files += 1;
                        report.blob_bytes += bytes.len() as u64;
                        let good = engine::blob::hash(&bytes) == name;
                        if !good {
                            report.problems.push(format!("{shown}: damaged (its bytes do not hash to its address)"));
                        }
                        blobs.insert(name, if good { BlobState::Good } else { BlobState::Damaged });
                    }
                    Err(e) => report.problems.push(format!("{shown}: cannot be read: {e}")),
                }
            }
        }
    }
    let path = dir.join(META_FILE);
    let lost = if blobs.is_empty() {
        String::new()
    } else {
        format!(", but {BLOB_DIR}/ holds {} blob(s): the metadata was lost; restore a backup", blobs.len())
    };
    match std::fs::metadata(&path) {
        Err(_) => {
            report.problems.push(format!("{META_FILE}: missing{lost}"));
            return report;
        }
        Ok(m) if m.len() == 0 => {
            report.problems.push(format!("{META_FILE}: empty (0 bytes){lost}"));
            return report;
        }
        Ok(_) => {}
    }
    let meta = match Meta::open(&path) {
        Ok(meta) => meta,
        Err(StoreError::Db(redb::Error::DatabaseAlreadyOpen)) => {
            report.problems.push(format!(
                "{META_FILE}: in use by a running server; stop it, or check a copy made with `sieve backup`"
            ));
            return report;
        }
        Err(e) => {
            report.problems.push(format!("{META_FILE}: {e}"));
            return report;
        }
    };
    let Ok(records) = meta.verify_records(true).map_err(|e| report.problems.push(format!("{META_FILE}: {e}"))) else {
        return report;
    };
    report.records = records.records;
    report.users = records.dict_sizes.values().map(|&n| u64::from(n)).sum();
    report.problems.extend(records.problems);
    let apps: BTreeSet<String> = match meta.apps() {
        Ok(apps) => apps.into_iter().map(|(id, _)| id).collect(),
        // A damaged app record was reported above; still check the apps the dictionary knows.
        Err(_) => records.dict_sizes.keys().cloned().collect(),
    };
    report.apps = apps.len();
    if apps.is_empty() && !blobs.is_empty() {
        report.problems.push(format!("{META_FILE}: holds no app, but {BLOB_DIR}/ holds published data"));
    }
    let mut refs = References { dir, blobs: &blobs, decoded: BTreeMap::new(), report: &mut report };
    for app in &apps {
        // A string app's bitmaps name dense ids below its dictionary's size; a `u32` app's
        // name the warehouse's ids, and its record points to the blob of all of them.
        let users = match meta.app(app) {
            Ok(Some(record)) if record.ids == wire::IdKind::U32 => {
                if let Some(universe) = &record.universe {
                    let users = refs.members(&format!("app `{app}`: users"), universe, None);
                    refs.report.users += users.unwrap_or(0);
                }
                None
            }
            _ => Some(records.dict_sizes.get(app).copied().unwrap_or(0)),
        };
        refs.app(&meta, app, users);
    }
    // The same blob named twice in one place (both tiers of a tiny app share bitmaps) is one problem.
    let mut seen = BTreeSet::new();
    report.problems.retain(|p| seen.insert(p.clone()));
    report
}

/// Follows references from the metadata into the blobs.
struct References<'a> {
    dir: &'a Path,
    blobs: &'a BTreeMap<String, BlobState>,
    /// Bitmaps already decoded: their largest id (`None`: empty) and size, or `Err` if they did
    /// not decode.
    decoded: BTreeMap<String, Result<(Option<u32>, u64), String>>,
    report: &'a mut Report,
}

impl References<'_> {
    fn app(&mut self, meta: &Meta, app: &str, users: Option<u32>) {
        match meta.days(app) {
            Err(e) => self.report.problems.push(format!("app `{app}`: days cannot be read: {e}")),
            Ok(days) => {
                self.report.days += days.len();
                for (ds, day) in days {
                    self.day(app, &ds, &day.manifest, users);
                }
            }
        }
        for (kind, list) in [("segment", meta.segment_list(app)), ("experiment", meta.experiment_list(app))] {
            match list {
                Err(e) => self.report.problems.push(format!("app `{app}`: {kind}s cannot be read: {e}")),
                Ok(records) => {
                    for (id, bytes) in records {
                        // Records are opaque here: every address they hold under a `blob` key
                        // is a member bitmap (static segments, experiment groups).
                        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
                            self.report.problems.push(format!("app `{app}`: {kind} `{id}`: record is not JSON"));
                            continue;
                        };
                        let mut hashes = Vec::new();
                        blob_fields(&json, &mut hashes);
                        for hash in hashes {
                            self.members(&format!("app `{app}`: {kind} `{id}`"), &hash, users);
                        }
                    }
                }
            }
        }
    }

    fn day(&mut self, app: &str, ds: &str, manifest: &str, users: Option<u32>) {
        let at = format!("app `{app}` day {ds}");
        if !self.present(&at, "manifest", manifest) {
            return;
        }
        let bytes = std::fs::read(blob_path_in(self.dir, manifest)).unwrap_or_default();
        let m = match engine::Manifest::from_json(&bytes) {
            Ok(m) => m,
            Err(e) => {
                self.report.problems.push(format!("{at}: manifest {manifest} does not decode: {e}"));
                return;
            }
        };
        for hash in m.blob_hashes() {
            self.present(&at, "blob", hash);
        }
        self.members(&format!("{at}: universe"), &m.universe.blob, users);
        for seg in &m.segments {
            self.members(&format!("{at}: members of segment `{}`", seg.id), &seg.members.full.blob, users);
        }
    }

    /// Whether a referenced blob is there and good; a problem line otherwise.
    fn present(&mut self, at: &str, what: &str, hash: &str) -> bool {
        self.report.references += 1;
        match self.blobs.get(hash) {
            Some(BlobState::Good) => true,
            Some(BlobState::Damaged) => {
                self.report.problems.push(format!("{at}: {what} {hash} is damaged"));
                false
            }
            None => {
                self.report.problems.push(format!("{at}: {what} {hash} is missing"));
                false
            }
        }
    }

    /// A member bitmap: present, decodes, and names only users the dictionary knows (`users`:
    /// its size; `None` for a `u32` app, whose ids are any `u32`). Returns its size when it
    /// decodes.
    fn members(&mut self, at: &str, hash: &str, users: Option<u32>) -> Option<u64> {
        if !self.present(at, "bitmap", hash) {
            return None;
        }
        let dir = self.dir;
        let decoded = self.decoded.entry(hash.to_owned()).or_insert_with(|| {
            let bytes = std::fs::read(blob_path_in(dir, hash)).map_err(|e| e.to_string())?;
            engine::blob::decode(&bytes).map(|set| (set.max(), set.len())).map_err(|e| e.to_string())
        });
        match decoded {
            Err(e) => {
                self.report.problems.push(format!("{at}: bitmap {hash} does not decode: {e}"));
                None
            }
            Ok((Some(max), _)) if users.is_some_and(|users| *max >= users) => {
                self.report.problems.push(format!(
                    "{at}: bitmap {hash} names dense id {max}, but the dictionary knows only {} user(s)",
                    users.unwrap_or_default()
                ));
                None
            }
            Ok((_, len)) => Some(*len),
        }
    }
}

/// Every string under a `blob` key that is a blob address, anywhere in `v`.
fn blob_fields(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) if k == "blob" && engine::blob::is_hash(s) => out.push(s.clone()),
                    other => blob_fields(other, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| blob_fields(v, out)),
        _ => {}
    }
}

/// Where a blob's file is inside a data directory.
pub fn blob_path_in(data_dir: &Path, hash: &str) -> PathBuf {
    data_dir.join(BLOB_DIR).join(&hash[..2.min(hash.len())]).join(hash.get(2..4).unwrap_or_default()).join(hash)
}
