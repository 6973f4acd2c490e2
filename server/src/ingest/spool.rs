//! Uploads are streamed to a temporary file as they arrive, with a byte limit, so memory stays
//! bounded whatever the upload size; the file is parsed from disk and removed afterwards.
//!
//! While it streams, every chunk also goes through a check ([`Inspect`]: the CSV [`Reader`] with
//! its header, UTF-8, field and line bounds and the row shape; or Parquet's magic), so a bad
//! file is refused on the chunk that shows it, not after gigabytes more; and the body must keep arriving at a [`Pace`], so a stalled client cannot
//! hold an upload slot for the upload timeout (an hour).

use super::csv::{CsvError, Reader, Row, RowError};
use super::parquet::{ParquetCheck, ParquetError};
use crate::limits::{Deadline, Pace};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::store::faults::{Faults, Point};

/// Why an upload could not be received.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The body is larger than allowed.
    #[error("upload larger than the limit of {limit_bytes} bytes")]
    TooLarge {
        /// The limit.
        limit_bytes: u64,
    },
    /// The client stopped sending, or the body broke off.
    #[error("reading the upload failed: {0}")]
    Body(String),
    /// The body arrived slower than the [`Pace`] allows.
    #[error("the upload stalled: less than {min_bytes_per_sec} bytes/s, or nothing for {idle_secs} s")]
    Stalled {
        /// The minimum rate.
        min_bytes_per_sec: u64,
        /// The longest pause.
        idle_secs: u64,
    },
    /// The CSV is invalid (found while it streamed in).
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// The body is not Parquet (found while it streamed in).
    #[error(transparent)]
    Parquet(#[from] ParquetError),
    /// Writing the temporary file failed (disk full, …).
    #[error("spooling the upload: {0}")]
    Io(#[from] std::io::Error),
}

/// A received upload on disk; removed when dropped.
#[derive(Debug)]
pub struct Spooled {
    path: PathBuf,
    /// Bytes received.
    pub bytes: u64,
}

impl Spooled {
    /// Where the upload is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl SpoolError {
    fn stalled(pace: Pace) -> SpoolError {
        SpoolError::Stalled { min_bytes_per_sec: pace.min_bytes_per_sec, idle_secs: pace.idle.as_secs() }
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Removes uploads a killed server left half-spooled in `dir` (at start-up, before serving:
/// nothing refers to them, and [`Spooled`]'s drop never ran). Returns how many were removed.
///
/// # Errors
/// The directory exists but cannot be listed.
pub fn remove_leftovers(dir: &Path) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let path = entry?.path();
        if path.is_file() && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// Where and how an upload is received.
#[derive(Debug, Clone, Copy)]
pub struct SpoolOptions<'a> {
    /// The directory of spooled uploads.
    pub dir: &'a Path,
    /// Largest body accepted.
    pub limit_bytes: u64,
    /// How fast the body must arrive.
    pub pace: Pace,
    /// Storage fault injection.
    pub faults: &'a Faults,
}

/// What checks a body as it streams in, chunk by chunk.
pub trait Inspect {
    /// Checks the next chunk.
    ///
    /// # Errors
    /// What the chunk shows is wrong.
    fn chunk(&mut self, bytes: &[u8]) -> Result<(), SpoolError>;
    /// Checks the end of the body.
    ///
    /// # Errors
    /// What the end shows is wrong.
    fn end(self) -> Result<(), SpoolError>;
}

/// CSV: the one [`Reader`], with `row` checking each row's shape.
pub struct CsvCheck<F> {
    /// The reader (header, bounds, UTF-8).
    pub reader: Reader,
    /// The shape of each row.
    pub row: F,
}

impl<F> std::fmt::Debug for CsvCheck<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvCheck").field("reader", &self.reader).finish_non_exhaustive()
    }
}

impl<F: FnMut(&Row<'_>) -> Result<(), RowError>> Inspect for CsvCheck<F> {
    fn chunk(&mut self, bytes: &[u8]) -> Result<(), SpoolError> {
        Ok(self.reader.feed(bytes, &mut self.row)?)
    }

    fn end(mut self) -> Result<(), SpoolError> {
        self.reader.finish(&mut self.row)?;
        Ok(())
    }
}

impl Inspect for ParquetCheck {
    fn chunk(&mut self, bytes: &[u8]) -> Result<(), SpoolError> {
        Ok(ParquetCheck::chunk(self, bytes)?)
    }

    fn end(self) -> Result<(), SpoolError> {
        Ok(ParquetCheck::end(&self)?)
    }
}

/// Streams `body` into a new file under `options.dir`, refusing more than the limit, a body
/// slower than the pace, and what `check` refuses as the body arrives (CSV that the reader
/// refuses, a body that is not Parquet). On any error the partial file is removed and the rest
/// of the body is not read.
pub async fn spool(body: Body, options: &SpoolOptions<'_>, mut check: impl Inspect) -> Result<Spooled, SpoolError> {
    let limit_bytes = options.limit_bytes;
    tokio::fs::create_dir_all(options.dir).await?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = options.dir.join(format!("upload-{}-{n}", std::process::id()));
    // From here on, `Spooled`'s drop removes the file whatever happens.
    let mut spooled = Spooled { path, bytes: 0 };
    let file = tokio::fs::File::create(&spooled.path).await?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut stream = body.into_data_stream();
    let mut deadline = Deadline::start(options.pace);
    loop {
        let next = tokio::time::timeout_at(deadline.at(), stream.next())
            .await
            .map_err(|_| SpoolError::stalled(options.pace))?;
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| {
            // The route's body limit (crate::limits) cuts a streamed body off with this error.
            if crate::limits::is_length_limit(&e) {
                SpoolError::TooLarge { limit_bytes }
            } else {
                SpoolError::Body(e.to_string())
            }
        })?;
        deadline.received(chunk.len());
        spooled.bytes += chunk.len() as u64;
        if spooled.bytes > limit_bytes {
            return Err(SpoolError::TooLarge { limit_bytes });
        }
        check.chunk(&chunk)?;
        out.write_all(&chunk).await?;
        options.faults.check(Point::Upload)?;
    }
    check.end()?;
    out.flush().await?;
    Ok(spooled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_of_a_killed_run_are_removed() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(remove_leftovers(&dir.path().join("absent")).expect("absent is fine"), 0);
        std::fs::write(dir.path().join("upload-123-0"), b"user_id,value\nu1,").expect("write");
        std::fs::write(dir.path().join("upload-123-1"), b"").expect("write");
        assert_eq!(remove_leftovers(dir.path()).expect("remove"), 2);
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 0);
    }
}
