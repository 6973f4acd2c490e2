//! `sieve backup` and `sieve restore`: a consistent copy of a data directory while the server
//! runs, and bringing one back.
//!
//! A backup is itself a data directory (`meta.redb` + `blobs/`), so `sieve check` and `sieve
//! serve` work on it as they are. Why it is consistent without stopping the server:
//! - the metadata is copied from **one read transaction** into a fresh redb file: exactly one
//!   committed state, whatever the server commits meanwhile. redb locks the file against other
//!   processes, so a running server makes that copy itself ([`serve_snapshots`]: `sieve backup`
//!   asks on the Unix socket `DATA/control.sock`, reachable only by who can reach the data
//!   directory); with no server running, backup opens the file itself ([`copy_snapshot`]);
//! - blobs are immutable and content-addressed, and a publish writes its blobs *before* the
//!   commit that names them, so every blob the snapshot names exists once the snapshot is
//!   taken; copying the blob files *after* it therefore copies all of them (plus, harmlessly,
//!   newer ones). Each is re-hashed on the way.
//!
//! The copy is then checked like `sieve check` does (every record, blob and reference), and
//! only a healthy backup counts: the metadata file is renamed into place last, so an
//! interrupted backup has no `meta.redb` and cannot be mistaken for a complete one.
//!
//! Restore checks the backup, copies it next to the data directory, checks the copy, and only
//! then switches: the old directory is moved aside (kept, never deleted), the copy renamed into
//! its place. It refuses a non-empty data directory without `--force`, and a directory a
//! server is running on.

use std::fs::{self, File};
use std::io::{BufRead as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::store::Meta;
use crate::store::check::{self, META_FILE, Report};
use crate::store::meta::{StoreError, copy_snapshot};

/// The socket a serving server answers snapshot requests on, inside its data directory.
pub const CONTROL_SOCKET: &str = "control.sock";
/// Where a server writes the snapshots it is asked for (the asker moves each away).
const SNAPSHOT_DIR: &str = "snapshots";
/// The one request on the control socket.
const SNAPSHOT_REQUEST: &str = "snapshot";

/// The lock a running server holds on its data directory (see [`lock_data_dir`]).
pub const LOCK_FILE: &str = "serve.lock";

/// Why a backup or restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The destination already holds files.
    #[error(
        "{0} is not empty; nothing was changed (restore: add --force to replace it; the old directory is kept aside)"
    )]
    NotEmpty(PathBuf),
    /// A server is running on the data directory.
    #[error("a server is running on {0}; stop it first")]
    InUse(PathBuf),
    /// The metadata store could not be copied.
    #[error("copying {path}: {source}")]
    Store {
        /// The store's file.
        path: PathBuf,
        /// Why.
        source: StoreError,
    },
    /// A file operation failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The running server could not write a snapshot (its answer).
    #[error("the server on {dir} could not write a snapshot: {message}")]
    Server {
        /// The data directory.
        dir: PathBuf,
        /// What it answered.
        message: String,
    },
    /// The copy (or the backup to restore) does not pass `sieve check`.
    #[error("{dir} does not pass the check ({} problem(s)); first: {}", .problems.len(), .problems.first().map_or("", String::as_str))]
    Damaged {
        /// The directory checked.
        dir: PathBuf,
        /// Every problem found.
        problems: Vec<String>,
    },
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> BackupError + 'a {
    move |source| BackupError::Io { what, path: path.to_owned(), source }
}

/// What a backup or restore did.
#[derive(Debug)]
pub struct Summary {
    /// Metadata records copied (backup) or checked (restore).
    pub records: u64,
    /// Blob files copied.
    pub blob_files: u64,
    /// Their bytes.
    pub blob_bytes: u64,
    /// The check of the result.
    pub check: Report,
    /// Restore: where the replaced data directory was moved (kept, not deleted).
    pub replaced: Option<PathBuf>,
}

/// Takes the data directory's lock for as long as the returned file lives: a server holds it
/// while serving, restore while switching, so restore never replaces a directory in use.
///
/// # Errors
/// Another process holds it ([`BackupError::InUse`]), or the file cannot be created.
pub fn lock_data_dir(data_dir: &Path) -> Result<File, BackupError> {
    let path = data_dir.join(LOCK_FILE);
    let file =
        fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io("creating", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(BackupError::InUse(data_dir.to_owned())),
        Err(fs::TryLockError::Error(e)) => Err(io("locking", &path)(e)),
    }
}

/// Whether `dir` is missing or holds nothing but the lock file (which a failed restore leaves).
fn is_empty_dir(dir: &Path) -> Result<bool, BackupError> {
    match fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.all(|e| e.is_ok_and(|e| e.file_name() == LOCK_FILE))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io("reading", dir)(e)),
    }
}

/// Writes `bytes` to `dest` durably: a temp file, fsync, rename.
fn write_file(dest: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let dir = dest.parent().ok_or_else(|| io("writing", dest)(std::io::Error::other("no parent directory")))?;
    fs::create_dir_all(dir).map_err(io("creating", dir))?;
    let tmp = dest.with_extension("partial");
    let mut f = File::create(&tmp).map_err(io("creating", &tmp))?;
    f.write_all(bytes).map_err(io("writing", &tmp))?;
    f.sync_all().map_err(io("syncing", &tmp))?;
    fs::rename(&tmp, dest).map_err(io("renaming", &tmp))
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io("syncing", dir))
}

/// Copies every good blob file of `from` into `to` (same layout), re-hashing each; damaged
/// ones are skipped (the check that follows reports them if anything names them).
fn copy_blobs(from: &Path, to: &Path) -> Result<(u64, u64), BackupError> {
    let files = check::blob_files(from).map_err(io("listing blobs in", from))?;
    let (mut n, mut bytes_total) = (0, 0);
    let mut dirs = std::collections::BTreeSet::new();
    for path in files {
        let Some(name) = path.file_name().and_then(|n| n.to_str()).filter(|n| engine::blob::is_hash(n)) else {
            continue;
        };
        let bytes = fs::read(&path).map_err(io("reading", &path))?;
        if engine::blob::hash(&bytes) != name {
            tracing::warn!(blob = name, "damaged blob file not copied");
            continue;
        }
        let dest = check::blob_path_in(to, name);
        write_file(&dest, &bytes)?;
        if let Some(dir) = dest.parent() {
            dirs.insert(dir.to_owned());
        }
        n += 1;
        bytes_total += bytes.len() as u64;
    }
    for dir in dirs {
        sync_dir(&dir)?;
    }
    Ok((n, bytes_total))
}

fn checked(dir: &Path) -> Result<Report, BackupError> {
    let report = check::check_data_dir(dir);
    if report.is_healthy() {
        Ok(report)
    } else {
        Err(BackupError::Damaged { dir: dir.to_owned(), problems: report.problems })
    }
}

/// `sieve backup --data-dir DIR --to DEST`: see the module docs. `DEST` must not exist or be
/// empty.
///
/// # Errors
/// See [`BackupError`]; on [`BackupError::Damaged`] the incomplete copy is left for inspection.
pub fn backup(data_dir: &Path, dest: &Path) -> Result<Summary, BackupError> {
    if !is_empty_dir(dest)? {
        return Err(BackupError::NotEmpty(dest.to_owned()));
    }
    fs::create_dir_all(dest).map_err(io("creating", dest))?;
    let src_meta = data_dir.join(META_FILE);
    let staged = dest.join(format!("{META_FILE}.partial"));
    let records = match snapshot_from_server(data_dir, &staged)? {
        Some(records) => records,
        None => copy_snapshot(&src_meta, &staged).map_err(|source| BackupError::Store { path: src_meta, source })?,
    };
    File::open(&staged).and_then(|f| f.sync_all()).map_err(io("syncing", &staged))?;
    // After the snapshot: every blob it names exists by now (see the module docs).
    let (blob_files, blob_bytes) = copy_blobs(data_dir, dest)?;
    let meta = dest.join(META_FILE);
    fs::rename(&staged, &meta).map_err(io("renaming", &staged))?;
    sync_dir(dest)?;
    let check = checked(dest)?;
    Ok(Summary { records, blob_files, blob_bytes, check, replaced: None })
}

/// `sieve restore --from BACKUP --data-dir DIR [--force]`: see the module docs.
///
/// # Errors
/// See [`BackupError`]. Nothing in `data_dir` changes unless everything before the switch
/// succeeded.
pub fn restore(from: &Path, data_dir: &Path, force: bool) -> Result<Summary, BackupError> {
    checked(from)?;
    let was_empty = is_empty_dir(data_dir)?;
    if !force && !was_empty {
        return Err(BackupError::NotEmpty(data_dir.to_owned()));
    }
    let name = data_dir.file_name().and_then(|n| n.to_str()).unwrap_or("data").to_owned();
    let parent = data_dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io("creating", parent))?;
    // Held through the switch; a running server holds it too.
    let _lock = if data_dir.exists() { Some(lock_data_dir(data_dir)?) } else { None };
    let staging = parent.join(format!("{name}.restoring-{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging).map_err(io("removing", &staging))?;
    }
    fs::create_dir_all(&staging).map_err(io("creating", &staging))?;
    let src_meta = from.join(META_FILE);
    let meta_bytes = fs::read(&src_meta).map_err(io("reading", &src_meta))?;
    write_file(&staging.join(META_FILE), &meta_bytes)?;
    let (blob_files, blob_bytes) = copy_blobs(from, &staging)?;
    sync_dir(&staging)?;
    let check = match checked(&staging) {
        Ok(check) => check,
        Err(e) => {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let mut replaced = None;
    if was_empty && data_dir.exists() {
        // Only the lock file taken above is in it.
        fs::remove_dir_all(data_dir).map_err(io("removing", data_dir))?;
    } else if data_dir.exists() {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let aside = parent.join(format!("{name}.replaced-{secs}"));
        fs::rename(data_dir, &aside).map_err(io("moving aside", data_dir))?;
        replaced = Some(aside);
    }
    fs::rename(&staging, data_dir).map_err(io("renaming", &staging))?;
    sync_dir(parent)?;
    Ok(Summary { records: check.records, blob_files, blob_bytes, check, replaced })
}

/// Answers `sieve backup`'s requests for a metadata snapshot on `DATA/control.sock`, from a
/// thread, for as long as the process runs. Each snapshot is written under `DATA/snapshots/`
/// from one read transaction of the open store, and its path answered; the asker moves it away.
///
/// # Errors
/// The socket cannot be bound (a data directory path longer than a socket path may be, for
/// one): the server then runs without live backups.
#[cfg(unix)]
pub fn serve_snapshots(data_dir: &Path, meta: Arc<Meta>) -> std::io::Result<()> {
    use std::os::unix::net::UnixListener;
    let socket = data_dir.join(CONTROL_SOCKET);
    let dir = data_dir.join(SNAPSHOT_DIR);
    // Left by a backup that was killed; this process holds the data directory's lock, so no
    // other server owns the socket or these files.
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let _ = fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)?;
    // Weak: this thread must not keep the store open past shutdown, whose clean close the
    // next start's integrity check relies on.
    let meta = Arc::downgrade(&meta);
    std::thread::Builder::new().name("snapshots".into()).spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { continue };
            let dest = dir.join(format!("{}-{n}.redb", std::process::id()));
            let mut request = String::new();
            let asked = conn.set_read_timeout(Some(Duration::from_secs(5))).is_ok()
                && std::io::BufReader::new((&conn).take(64)).read_line(&mut request).is_ok()
                && request.trim_end() == SNAPSHOT_REQUEST;
            let answer = if !asked {
                "error unknown request\n".to_owned()
            } else if let Some(meta) = meta.upgrade() {
                match meta.snapshot_to(&dest) {
                    Ok(records) => format!("ok {records} {}\n", dest.display()),
                    Err(e) => {
                        let _ = fs::remove_file(&dest);
                        format!("error {e}\n")
                    }
                }
            } else {
                "error the server is shutting down\n".to_owned()
            };
            tracing::info!(answer = answer.trim_end(), "metadata snapshot asked for on the control socket");
            let _ = conn.write_all(answer.as_bytes());
        }
    })?;
    Ok(())
}

/// Without Unix sockets there are no live backups (back up with the server stopped).
#[cfg(not(unix))]
pub fn serve_snapshots(_data_dir: &Path, _meta: Arc<Meta>) -> std::io::Result<()> {
    Ok(())
}

/// Asks a server running on `data_dir` for a metadata snapshot and moves it to `staged`;
/// `None` when no server answers there (then the file can be opened directly).
#[cfg(unix)]
fn snapshot_from_server(data_dir: &Path, staged: &Path) -> Result<Option<u64>, BackupError> {
    use std::os::unix::net::UnixStream;
    let socket = data_dir.join(CONTROL_SOCKET);
    let mut conn = match UnixStream::connect(&socket) {
        Ok(conn) => conn,
        // No socket, or a dead server's: nobody has the store open (or its open fails clearly).
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
            return Ok(None);
        }
        Err(e) => return Err(io("connecting to", &socket)(e)),
    };
    conn.write_all(format!("{SNAPSHOT_REQUEST}\n").as_bytes()).map_err(io("writing to", &socket))?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer).map_err(io("reading from", &socket))?;
    let server = |message: &str| BackupError::Server { dir: data_dir.to_owned(), message: message.to_owned() };
    let answer = answer.trim_end();
    let Some(ok) = answer.strip_prefix("ok ") else {
        return Err(server(answer.strip_prefix("error ").unwrap_or(answer)));
    };
    let (records, path) = ok.split_once(' ').ok_or_else(|| server(answer))?;
    let records = records.parse().map_err(|_| server(answer))?;
    let path = PathBuf::from(path);
    // A rename when both are on one filesystem; a copy otherwise.
    if fs::rename(&path, staged).is_err() {
        fs::copy(&path, staged).map_err(io("copying", &path))?;
        fs::remove_file(&path).map_err(io("removing", &path))?;
    }
    Ok(Some(records))
}

#[cfg(not(unix))]
fn snapshot_from_server(_data_dir: &Path, _staged: &Path) -> Result<Option<u64>, BackupError> {
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_holding_only_the_lock_counts_as_empty() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path().join("data");
        assert!(is_empty_dir(&dir).expect("missing"), "a missing directory");
        fs::create_dir(&dir).expect("mkdir");
        let lock = lock_data_dir(&dir).expect("lock");
        assert!(is_empty_dir(&dir).expect("lock only"), "what a failed restore leaves");
        assert!(matches!(lock_data_dir(&dir), Err(BackupError::InUse(_))), "held");
        drop(lock);
        fs::write(dir.join("meta.redb"), b"x").expect("a file");
        assert!(!is_empty_dir(&dir).expect("not empty"));
    }
}
