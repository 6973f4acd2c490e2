//! Uploads are streamed to a temporary file as they arrive, with a byte limit, so memory stays
//! bounded whatever the upload size; the file is parsed from disk and removed afterwards.

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

/// Streams `body` into a new file under `dir`, refusing more than `limit_bytes`. On any error
/// the partial file is removed.
pub async fn spool(body: Body, dir: &Path, limit_bytes: u64, faults: &Faults) -> Result<Spooled, SpoolError> {
    tokio::fs::create_dir_all(dir).await?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("upload-{}-{n}", std::process::id()));
    // From here on, `Spooled`'s drop removes the file whatever happens.
    let mut spooled = Spooled { path, bytes: 0 };
    let file = tokio::fs::File::create(&spooled.path).await?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            // The route's body limit (crate::limits) cuts a streamed body off with this error.
            if crate::limits::is_length_limit(&e) {
                SpoolError::TooLarge { limit_bytes }
            } else {
                SpoolError::Body(e.to_string())
            }
        })?;
        spooled.bytes += chunk.len() as u64;
        if spooled.bytes > limit_bytes {
            return Err(SpoolError::TooLarge { limit_bytes });
        }
        out.write_all(&chunk).await?;
        faults.check(Point::Upload)?;
    }
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
