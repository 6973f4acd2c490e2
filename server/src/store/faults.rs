//! Storage fault injection, for tests of the real binary: a full disk or a failing one, on
//! demand, in the exact places where real writes fail.
//!
//! Off unless the server starts with the environment variable `SIEVE_FAULTS` naming a
//! *control file* (an environment variable, not a flag, so no deployment turns it on by
//! accident; the server logs a warning at start when it is set). Before every storage write
//! the server reads that file; each line names a write point and an error:
//!
//! ```text
//! blob enospc     # blob files (temp file written half, then "no space left on device")
//! upload enospc   # spooling an upload to disk
//! meta enospc     # the metadata store's file (writes, growth, fsync; see FaultyBackend)
//! export eio      # member exports: a read failing after the first batch was sent
//! * enospc        # every write point
//! blob eio        # `eio` instead: an I/O error, as from a failing disk
//! ```
//!
//! A missing or empty control file injects nothing, so a test turns a fault on and off while
//! the server runs by writing and removing the file. The errors are the operating system's own
//! (`ENOSPC`, `EIO`), so everything above this module handles them exactly as it would handle a
//! real full or failing disk. With `SIEVE_FAULTS` unset, [`Faults::check`] is one branch.

use std::io;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The environment variable that names the control file.
pub const ENV_VAR: &str = "SIEVE_FAULTS";

/// Where a storage write happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// Writing a blob file ([`super::FsBlobStore`]).
    Blob,
    /// Spooling an upload to disk ([`crate::ingest::spool`]).
    Upload,
    /// Writing, growing or syncing the metadata store's file ([`super::Meta`]).
    Meta,
    /// Reading a member export's ids after its first batch was sent
    /// ([`crate::routes::members::csv_of_users`]): a failure after the response started.
    Export,
}

impl Point {
    fn name(self) -> &'static str {
        match self {
            Point::Blob => "blob",
            Point::Upload => "upload",
            Point::Meta => "meta",
            Point::Export => "export",
        }
    }
}

/// Fault injection: off, or reading a control file before each write.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    control: Option<Arc<PathBuf>>,
}

impl Faults {
    /// No injection (the default).
    pub fn off() -> Faults {
        Faults::default()
    }

    /// Injection driven by the control file at `path`.
    pub fn with_control_file(path: impl Into<PathBuf>) -> Faults {
        Faults { control: Some(Arc::new(path.into())) }
    }

    /// From [`ENV_VAR`]: on when it names a file (which need not exist yet), else off.
    pub fn from_env() -> Faults {
        match std::env::var_os(ENV_VAR) {
            Some(path) if !path.is_empty() => Faults::with_control_file(path),
            _ => Faults::off(),
        }
    }

    /// Whether injection is on.
    pub fn enabled(&self) -> bool {
        self.control.is_some()
    }

    /// The injected error for a write at `point`, if the control file asks for one now.
    ///
    /// ```
    /// use server::store::faults::{Faults, Point};
    /// let dir = std::env::temp_dir().join(format!("sieve-faults-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let control = dir.join("faults");
    /// let faults = Faults::with_control_file(&control);
    /// assert!(faults.check(Point::Blob).is_ok(), "no control file: no fault");
    /// std::fs::write(&control, "blob enospc\n").unwrap();
    /// let err = faults.check(Point::Blob).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::StorageFull);
    /// assert!(faults.check(Point::Meta).is_ok(), "other points are not affected");
    /// std::fs::remove_file(&control).unwrap();
    /// assert!(faults.check(Point::Blob).is_ok());
    /// ```
    ///
    /// # Errors
    /// The injected error (`ENOSPC` or `EIO`).
    pub fn check(&self, point: Point) -> io::Result<()> {
        let Some(control) = &self.control else { return Ok(()) };
        let Ok(text) = std::fs::read_to_string(control.as_path()) else { return Ok(()) };
        for line in text.lines() {
            let mut words = line.split_whitespace();
            let (Some(at), Some(error)) = (words.next(), words.next()) else { continue };
            // `*` is every write point; the export point is a read, named on its own.
            if at != point.name() && (at != "*" || point == Point::Export) {
                continue;
            }
            let errno = match error {
                "enospc" => 28, // ENOSPC on Linux
                "eio" => 5,     // EIO
                _ => continue,
            };
            tracing::debug!(point = point.name(), error, "injecting a storage fault");
            return Err(io::Error::from_raw_os_error(errno));
        }
        Ok(())
    }
}

/// The metadata store's file behind [`Faults`]: while [`Point::Meta`] is faulted, every write,
/// growth and sync of a running store fails with the injected error. Writes made while the
/// store is being opened pass: opening runs redb's recovery, which rewrites pages the file
/// already has, and on a real full disk that succeeds (verified on a full tmpfs; see
/// ARCHITECTURE.md), so the model keeps what reality does there and is strict everywhere else.
/// Used only when injection is on; otherwise redb opens its file itself.
#[derive(Debug)]
pub struct FaultyBackend {
    inner: redb::backends::FileBackend,
    faults: Faults,
    /// True until the database built on this backend has finished opening.
    opening: Arc<AtomicBool>,
}

impl FaultyBackend {
    /// Wraps redb's own file backend over `file`; faults apply once `opening` is set to false.
    ///
    /// # Errors
    /// redb refuses the file.
    pub fn new(
        file: std::fs::File,
        faults: Faults,
        opening: Arc<AtomicBool>,
    ) -> Result<FaultyBackend, redb::DatabaseError> {
        Ok(FaultyBackend { inner: redb::backends::FileBackend::new(file)?, faults, opening })
    }

    fn check(&self) -> io::Result<()> {
        if self.opening.load(Ordering::Acquire) { Ok(()) } else { self.faults.check(Point::Meta) }
    }
}

impl redb::StorageBackend for FaultyBackend {
    fn len(&self) -> Result<u64, io::Error> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        if len > self.inner.len()? {
            self.check()?;
        }
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        self.check()?;
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.check()?;
        self.inner.write(offset, data)
    }

    fn close(&self) -> Result<(), io::Error> {
        self.inner.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, redb::BackendError> {
        self.inner.query_lock_range(start, end)
    }
}
