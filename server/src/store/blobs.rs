//! Content-addressed blob storage.
//!
//! [`BlobStore`] is the seam for object storage (DESIGN.md §8); [`FsBlobStore`] is the
//! embedded default. A blob's name is the BLAKE3 hash of its bytes, so writes are idempotent
//! and a reader can always tell a damaged file from a good one: every read re-hashes the bytes,
//! and a mismatch is [`BlobError::Corrupt`], never served.
//!
//! **Collecting orphans.** A write that fails after its blobs are on disk (a full metadata
//! store, a refused request, a crash) leaves files nothing refers to. [`BlobStore::addresses`]
//! lists the stored blobs and [`BlobStore::remove_unused`] deletes one unless it was written
//! *or reused* within a grace period; `crate::blob_gc` decides which are unreferenced. A put
//! that finds its bytes already stored refreshes the file's modification time, and puts and
//! removals exclude each other (a read-write lock), so a publish that is about to refer to an
//! old orphan either refreshed it first (it is kept) or finds it gone (and writes it again).

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, SystemTime};

use super::faults::{Faults, Point};

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The file exists but its bytes do not hash to its name (disk damage, truncation).
    #[error("blob {hash} is corrupt on disk")]
    Corrupt {
        /// The blob's address.
        hash: String,
    },
    /// Published data names this blob, but its file is gone: damage like a corrupt file.
    #[error("blob {hash} is missing from the blob store")]
    Missing {
        /// The blob's address.
        hash: String,
    },
    /// Reading or writing failed (disk full, permissions, …).
    #[error("blob storage I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Where immutable blobs live.
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Stores bytes and returns their address. Durable when it returns; storing the same bytes
    /// again is a no-op.
    fn put(&self, bytes: &[u8]) -> Result<String, BlobError>;
    /// The bytes at an address, checked against it; `None` if there is no such blob.
    fn get(&self, hash: &str) -> Result<Option<Vec<u8>>, BlobError>;
    /// The bytes of a blob that published data names: checked like [`BlobStore::get`], and
    /// its absence is [`BlobError::Missing`] (damage, listed like a corrupt blob), not `None`.
    fn get_referenced(&self, hash: &str) -> Result<Vec<u8>, BlobError> {
        self.get(hash)?.ok_or_else(|| BlobError::Missing { hash: hash.to_owned() })
    }
    /// Whether a blob exists (not checked).
    fn contains(&self, hash: &str) -> bool;
    /// Reads a blob from where it is stored, past any local cache, and checks it against its
    /// address (a copy's final check).
    fn check_stored(&self, hash: &str) -> Result<(), BlobError> {
        self.get_referenced(hash).map(|_| ())
    }
    /// Stores many blobs; all durable when it returns. Stores may batch the flushes.
    fn put_many(&self, blobs: &[&[u8]]) -> Result<(), BlobError> {
        blobs.iter().try_for_each(|b| self.put(b).map(|_| ()))
    }
    /// Brings blobs that are about to be read close (a remote store fetches the ones it lacks
    /// locally, many at a time, into its cache); local stores have nothing to do. Best effort:
    /// a failure here shows again, as an error, at the read.
    fn prefetch(&self, _hashes: &[&str]) {}
    /// Whether [`BlobStore::put_named`] keeps anything, so a caller can skip preparing bytes
    /// that would be dropped (compressing a 10M-user membership index took a fifth of its build).
    fn keeps_named(&self) -> bool {
        false
    }
    /// Stores `bytes` under `name`, for data derived from immutable blobs that every process
    /// would derive the same (a version's membership index): shared where the store is shared.
    /// Stores that keep nothing derived do nothing. The bytes carry their own hash.
    fn put_named(&self, _name: &str, _bytes: &[u8]) -> Result<(), BlobError> {
        Ok(())
    }
    /// What [`BlobStore::put_named`] stored under `name`, checked against its own hash;
    /// `None` when there is nothing (or nothing intact: it is derived again).
    fn get_named(&self, _name: &str) -> Result<Option<Vec<u8>>, BlobError> {
        Ok(None)
    }
    /// Addresses of blobs found damaged or missing since start-up and not healed since (for
    /// health).
    fn corrupt(&self) -> Vec<String> {
        Vec::new()
    }
    /// Every blob address stored (for collecting orphans). Stores that cannot list say so
    /// with an empty list, and nothing is collected.
    fn addresses(&self) -> Result<Vec<String>, BlobError> {
        Ok(Vec::new())
    }
    /// Deletes a blob unless it was written or reused (put again) less than `grace` ago.
    /// Returns whether it was deleted. The caller has checked nothing refers to it.
    fn remove_unused(&self, _hash: &str, _grace: Duration) -> Result<bool, BlobError> {
        Ok(false)
    }
}

/// Threads that flush a batch of blobs together (the journal commits concurrent fsyncs as a group).
const FLUSH_THREADS: usize = 8;

/// Blobs as files under `root/ab/cd/<hash>`.
#[derive(Debug)]
pub struct FsBlobStore {
    root: PathBuf,
    tmp: PathBuf,
    counter: AtomicU64,
    faults: Faults,
    /// Blobs whose file failed its hash check, until a good copy is written again.
    corrupt: Mutex<BTreeSet<String>>,
    /// Puts hold it shared, removals exclusively (see the module docs).
    gate: RwLock<()>,
}

impl FsBlobStore {
    /// Opens (creating) a store under `dir`; removes temp files a crash left behind.
    pub fn open(dir: &Path) -> Result<FsBlobStore, BlobError> {
        FsBlobStore::open_with_faults(dir, Faults::off())
    }

    /// Opens (creating) a store under `dir`, with storage fault injection (see [`Faults`]).
    pub fn open_with_faults(dir: &Path, faults: Faults) -> Result<FsBlobStore, BlobError> {
        let root = dir.join("blobs");
        let tmp = dir.join("tmp");
        fs::create_dir_all(&root)?;
        fs::create_dir_all(&tmp)?;
        for entry in fs::read_dir(&tmp)? {
            // Half-written blobs were never renamed into place, so nothing refers to them.
            let _ = fs::remove_file(entry?.path());
        }
        Ok(FsBlobStore {
            root,
            tmp,
            counter: AtomicU64::new(0),
            faults,
            corrupt: Mutex::default(),
            gate: RwLock::new(()),
        })
    }

    /// Every stored blob with its size and when it was last written (a cache's eviction order).
    ///
    /// # Errors
    /// The directory cannot be listed.
    pub fn files(&self) -> Result<Vec<(String, u64, SystemTime)>, BlobError> {
        let mut out = Vec::new();
        for hash in self.addresses()? {
            if let Some(meta) = self.path(&hash).and_then(|p| fs::metadata(p).ok()) {
                out.push((hash, meta.len(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH)));
            }
        }
        Ok(out)
    }

    fn writing(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks an existing file as just used, so a collection in progress keeps it.
    fn touch(path: &Path) -> std::io::Result<()> {
        File::options().write(true).open(path)?.set_modified(SystemTime::now())
    }

    fn corrupt_set(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.corrupt.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes `bytes` to a new file at `tmp`; with fault injection on, a write can fail half-way
    /// as on a full disk (the temp file then exists, holding part of the bytes).
    fn write_tmp(&self, tmp: &Path, bytes: &[u8]) -> std::io::Result<File> {
        let mut f = File::create(tmp)?;
        if self.faults.enabled() {
            let half = bytes.len() / 2;
            f.write_all(&bytes[..half])?;
            self.faults.check(Point::Blob)?;
            f.write_all(&bytes[half..])?;
        } else {
            f.write_all(bytes)?;
        }
        Ok(f)
    }

    fn path(&self, hash: &str) -> Option<PathBuf> {
        engine::blob::is_hash(hash).then(|| self.root.join(&hash[..2]).join(&hash[2..4]).join(hash))
    }

    /// Writes a file to a temp name and renames it into place, without flushing; the caller
    /// flushes before anything refers to it.
    fn write_unsynced(&self, dest: &Path, bytes: &[u8]) -> Result<(), BlobError> {
        let dir = dest.parent().ok_or_else(|| std::io::Error::other("blob path has no parent"))?;
        fs::create_dir_all(dir)?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = self.tmp.join(format!("{}-{n}", std::process::id()));
        let result = self.write_tmp(&tmp, bytes).and_then(|f| {
            drop(f);
            fs::rename(&tmp, dest)
        });
        if result.is_err() {
            // Disk full or similar: leave nothing behind; the caller answers 5xx.
            let _ = fs::remove_file(&tmp);
        }
        Ok(result?)
    }

    /// Writes a file atomically: temp file, fsync, rename into place, fsync the directory.
    fn write_atomic(&self, dest: &Path, bytes: &[u8]) -> Result<(), BlobError> {
        let dir = dest.parent().ok_or_else(|| std::io::Error::other("blob path has no parent"))?;
        fs::create_dir_all(dir)?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = self.tmp.join(format!("{}-{n}", std::process::id()));
        let result = (|| {
            let f = self.write_tmp(&tmp, bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, dest)?;
            File::open(dir)?.sync_all()
        })();
        if result.is_err() {
            // Disk full or similar: leave nothing behind; the caller answers 5xx.
            let _ = fs::remove_file(&tmp);
        }
        Ok(result?)
    }
}

impl BlobStore for FsBlobStore {
    fn put(&self, bytes: &[u8]) -> Result<String, BlobError> {
        let hash = engine::blob::hash(bytes);
        let path = self.path(&hash).ok_or_else(|| std::io::Error::other("bad hash"))?;
        let _writing = self.writing();
        // An existing file may be damaged; rewriting it heals it, skipping it only if it is good.
        let good = fs::read(&path).is_ok_and(|existing| existing == bytes);
        // A file whose time cannot be refreshed (read-only, restored from a backup) is written
        // again instead: either way it is young, so a collection in progress keeps it.
        if !(good && Self::touch(&path).is_ok()) {
            self.write_atomic(&path, bytes)?;
            self.corrupt_set().remove(&hash);
        }
        Ok(hash)
    }

    fn get(&self, hash: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let Some(path) = self.path(hash) else { return Ok(None) };
        match fs::read(&path) {
            Ok(bytes) if engine::blob::hash(&bytes) == hash => {
                // A file found damaged earlier may have been restored from a backup meanwhile.
                self.corrupt_set().remove(hash);
                Ok(Some(bytes))
            }
            Ok(bytes) => {
                // Logged once per damaged file (and listed in health), not on every request.
                if self.corrupt_set().insert(hash.to_owned()) {
                    tracing::error!(
                        blob = hash,
                        path = %path.display(),
                        size_bytes = bytes.len(),
                        "blob is corrupt on disk (its bytes do not hash to its address); not serving it"
                    );
                }
                Err(BlobError::Corrupt { hash: hash.to_owned() })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn get_referenced(&self, hash: &str) -> Result<Vec<u8>, BlobError> {
        match self.get(hash)? {
            Some(bytes) => Ok(bytes),
            None => {
                if self.corrupt_set().insert(hash.to_owned()) {
                    tracing::error!(
                        blob = hash,
                        path = ?self.path(hash),
                        "published data names a blob whose file is missing; not serving what needs it"
                    );
                }
                Err(BlobError::Missing { hash: hash.to_owned() })
            }
        }
    }

    fn contains(&self, hash: &str) -> bool {
        self.path(hash).is_some_and(|p| p.exists())
    }

    fn put_many(&self, blobs: &[&[u8]]) -> Result<(), BlobError> {
        let _writing = self.writing();
        let mut written: Vec<PathBuf> = Vec::new();
        for bytes in blobs {
            let hash = engine::blob::hash(bytes);
            let path = self.path(&hash).ok_or_else(|| std::io::Error::other("bad hash"))?;
            let good = fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64)
                && fs::read(&path).is_ok_and(|existing| existing == *bytes);
            if !(good && Self::touch(&path).is_ok()) {
                self.write_unsynced(&path, bytes)?;
                self.corrupt_set().remove(&hash);
                written.push(path);
            }
        }
        let mut dirs: Vec<PathBuf> = written.iter().filter_map(|p| p.parent().map(Path::to_owned)).collect();
        dirs.sort();
        dirs.dedup();
        let flush = |paths: &[PathBuf]| -> std::io::Result<()> {
            let per_thread = paths.len().div_ceil(FLUSH_THREADS).max(1);
            std::thread::scope(|scope| {
                let handles: Vec<_> = paths
                    .chunks(per_thread)
                    .map(|chunk| scope.spawn(move || chunk.iter().try_for_each(|p| File::open(p)?.sync_all())))
                    .collect();
                handles
                    .into_iter()
                    .try_for_each(|h| h.join().unwrap_or_else(|_| Err(std::io::Error::other("flush thread panicked"))))
            })
        };
        // Files first, then the directories holding their new names.
        flush(&written)?;
        flush(&dirs)?;
        Ok(())
    }

    fn corrupt(&self) -> Vec<String> {
        self.corrupt_set().iter().cloned().collect()
    }

    fn addresses(&self) -> Result<Vec<String>, BlobError> {
        let mut out = Vec::new();
        for a in fs::read_dir(&self.root)? {
            let a = a?.path();
            if !a.is_dir() {
                continue;
            }
            for b in fs::read_dir(&a)? {
                let b = b?.path();
                if !b.is_dir() {
                    continue;
                }
                for file in fs::read_dir(&b)? {
                    let name = file?.file_name();
                    // Only files named by an address, in that address's folder: anything else
                    // is not ours to delete.
                    if let Some(hash) = name.to_str()
                        && self.path(hash).is_some_and(|p| p.parent() == Some(b.as_path()))
                    {
                        out.push(hash.to_owned());
                    }
                }
            }
        }
        Ok(out)
    }

    fn remove_unused(&self, hash: &str, grace: Duration) -> Result<bool, BlobError> {
        let Some(path) = self.path(hash) else { return Ok(false) };
        let _removing = self.gate.write().unwrap_or_else(|p| p.into_inner());
        let modified = match fs::metadata(&path).and_then(|m| m.modified()) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        // A clock set back makes files look young: kept, which is the safe side.
        let age = SystemTime::now().duration_since(modified).unwrap_or(Duration::ZERO);
        if age < grace {
            return Ok(false);
        }
        fs::remove_file(&path)?;
        self.corrupt_set().remove(hash);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_and_detect_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsBlobStore::open(dir.path()).expect("open");
        let hash = store.put(b"hello").expect("put");
        assert_eq!(hash, engine::blob::hash(b"hello"));
        assert_eq!(store.get(&hash).expect("get").as_deref(), Some(&b"hello"[..]));
        assert_eq!(store.put(b"hello").expect("idempotent"), hash);
        assert!(store.get(&"0".repeat(64)).expect("absent is not an error").is_none());
        assert!(store.get("../../etc/passwd").expect("not a hash").is_none());

        // Damage the file: reads refuse it and it is listed; putting the bytes again heals it.
        let path = store.path(&hash).expect("path");
        assert!(store.corrupt().is_empty());
        fs::write(&path, b"hellO").expect("damage");
        assert!(matches!(store.get(&hash), Err(BlobError::Corrupt { .. })));
        assert_eq!(store.corrupt(), std::slice::from_ref(&hash));
        store.put(b"hello").expect("heal");
        assert!(store.get(&hash).expect("healed").is_some());
        assert!(store.corrupt().is_empty(), "healed blobs are no longer listed");
        // Truncated, then restored by hand (from a backup): a good read clears it too.
        fs::write(&path, b"hel").expect("truncate");
        assert!(matches!(store.get(&hash), Err(BlobError::Corrupt { .. })));
        assert_eq!(store.corrupt().len(), 1);
        fs::write(&path, b"hello").expect("restore");
        assert!(store.get(&hash).expect("restored").is_some());
        assert!(store.corrupt().is_empty());
        assert_eq!(fs::read_dir(dir.path().join("tmp")).expect("tmp").count(), 0, "no temp files left");
    }

    #[test]
    fn a_missing_referenced_blob_is_damage_until_written_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsBlobStore::open(dir.path()).expect("open");
        let hash = store.put(b"named by a manifest").expect("put");
        fs::remove_file(store.path(&hash).expect("path")).expect("lose the file");
        assert!(store.get(&hash).expect("a plain get: absent").is_none());
        assert!(store.corrupt().is_empty(), "asking for an unknown address is not damage");
        assert!(matches!(store.get_referenced(&hash), Err(BlobError::Missing { hash: h }) if h == hash));
        assert_eq!(store.corrupt(), std::slice::from_ref(&hash), "listed for health");
        store.put(b"named by a manifest").expect("written again");
        assert_eq!(store.get_referenced(&hash).expect("back"), b"named by a manifest");
        assert!(store.corrupt().is_empty());
    }

    #[test]
    fn a_full_disk_leaves_no_temp_file_and_no_blob() {
        let dir = tempfile::tempdir().expect("tempdir");
        let control = dir.path().join("faults");
        let store =
            FsBlobStore::open_with_faults(&dir.path().join("data"), Faults::with_control_file(&control)).expect("open");
        fs::write(&control, "blob enospc\n").expect("fault on");
        let err = store.put(b"some bytes").expect_err("no space");
        assert!(matches!(&err, BlobError::Io(e) if e.kind() == std::io::ErrorKind::StorageFull), "{err:?}");
        let err = store.put_many(&[b"one", b"two"]).expect_err("no space");
        assert!(matches!(&err, BlobError::Io(e) if e.kind() == std::io::ErrorKind::StorageFull), "{err:?}");
        assert_eq!(fs::read_dir(dir.path().join("data/tmp")).expect("tmp").count(), 0, "no temp files left");
        assert!(!store.contains(&engine::blob::hash(b"some bytes")), "nothing renamed into place");
        fs::remove_file(&control).expect("fault off");
        let hash = store.put(b"some bytes").expect("space is back");
        assert_eq!(store.get(&hash).expect("get").as_deref(), Some(&b"some bytes"[..]));
        store.put_many(&[b"one", b"two"]).expect("space is back");
    }

    #[test]
    fn only_unused_files_older_than_the_grace_are_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsBlobStore::open(dir.path()).expect("open");
        let old = store.put(b"old orphan").expect("put");
        let reused = store.put(b"reused").expect("put");
        let fresh = store.put(b"fresh").expect("put");
        // Age two files by an hour, as if written long ago.
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        for hash in [&old, &reused] {
            File::options()
                .write(true)
                .open(store.path(hash).expect("path"))
                .expect("open")
                .set_modified(hour_ago)
                .expect("age");
        }
        // A put of bytes already stored makes the file young again: a publish about to refer to it.
        store.put(b"reused").expect("reuse");
        store.put_many(&[b"fresh"]).expect("reuse in a batch");
        let mut listed = store.addresses().expect("list");
        listed.sort();
        let mut want = vec![old.clone(), reused.clone(), fresh.clone()];
        want.sort();
        assert_eq!(listed, want, "every stored blob is listed");
        let grace = Duration::from_secs(60);
        assert!(store.remove_unused(&old, grace).expect("remove"), "old and unused: removed");
        assert!(!store.remove_unused(&reused, grace).expect("kept"), "reused just now: kept");
        assert!(!store.remove_unused(&fresh, grace).expect("kept"), "written just now: kept");
        assert!(!store.remove_unused(&old, grace).expect("gone"), "already gone");
        assert!(store.get(&old).expect("get").is_none());
        assert!(store.get(&reused).expect("get").is_some());
        // Files that are not named by an address in their folder are never listed.
        fs::write(dir.path().join("blobs").join("README"), b"not a blob").expect("write");
        fs::create_dir_all(dir.path().join("blobs/ab/cd")).expect("dir");
        fs::write(dir.path().join("blobs/ab/cd").join(&fresh), b"misplaced").expect("write");
        assert_eq!(store.addresses().expect("list").len(), 2);
    }

    #[test]
    fn put_many_stores_every_blob() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FsBlobStore::open(dir.path()).expect("open");
        let blobs: Vec<Vec<u8>> = (0..50u32).map(|i| i.to_le_bytes().repeat(i as usize + 1)).collect();
        let refs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
        store.put_many(&refs).expect("put_many");
        store.put_many(&refs).expect("again: a no-op");
        for b in &blobs {
            assert_eq!(store.get(&engine::blob::hash(b)).expect("get").as_deref(), Some(b.as_slice()));
        }
        assert_eq!(fs::read_dir(dir.path().join("tmp")).expect("tmp").count(), 0);
    }
}
