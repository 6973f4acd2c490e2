//! A files destination: one file per delivery, `<dir>/<sync>/<ds>.<seq>.<kind>.csv` (or
//! `.parquet`), columns `user_id` and `change` (`added` or `removed`), in a directory
//! (`file:///dir`) or a bucket (`s3://bucket/prefix`, with the server's `AWS_*` settings).
//!
//! The file is written under a temporary name, flushed to disk and renamed, so a reader of the
//! directory never sees half a delivery; a delivery retried after a kill writes the same name
//! again (at least once, and the same content: its ids were fixed when it started). Ids are
//! resolved and written in chunks, so memory is bounded by a chunk whatever the segment's size.
//! For a bucket the file is written to the data directory's `reach-spool/` first, then sent as
//! a multipart upload (an object appears whole or not at all) and removed.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use wire::{DeliveryKind, FileFormat};

/// The file a delivery goes to, relative to the destination: `<sync>/<ds>.<seq>.<kind>.<ext>`.
pub fn relative(sync: &str, ds: &str, seq: u64, kind: DeliveryKind, format: FileFormat) -> String {
    let path = path(Path::new(""), sync, ds, seq, kind, format);
    path.to_string_lossy().into_owned()
}

/// The file a delivery goes to under `dir`.
pub fn path(dir: &Path, sync: &str, ds: &str, seq: u64, kind: DeliveryKind, format: FileFormat) -> PathBuf {
    let kind = match kind {
        DeliveryKind::Full => "full",
        DeliveryKind::Delta => "delta",
    };
    let ext = match format {
        FileFormat::Csv => "csv",
        FileFormat::Parquet => "parquet",
    };
    dir.join(sync).join(format!("{ds}.{seq}.{kind}.{ext}"))
}

/// Writes one delivery's file.
pub struct Writer {
    tmp: PathBuf,
    dest: PathBuf,
    inner: Inner,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("dest", &self.dest).finish()
    }
}

enum Inner {
    Csv(BufWriter<File>),
    Parquet(Box<ArrowWriter<File>>),
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Utf8, false),
        Field::new("change", DataType::Utf8, false),
    ]))
}

fn io(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl Writer {
    /// Starts the file `dest` (its directory created).
    ///
    /// # Errors
    /// The file system's.
    pub fn create(dest: PathBuf, format: FileFormat) -> std::io::Result<Writer> {
        let dir = dest.parent().ok_or_else(|| io("no directory"))?;
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".{}.tmp", dest.file_name().and_then(|n| n.to_str()).unwrap_or("delivery")));
        let file = File::create(&tmp)?;
        let inner = match format {
            FileFormat::Csv => {
                let mut w = BufWriter::new(file);
                w.write_all(b"user_id,change\n")?;
                Inner::Csv(w)
            }
            FileFormat::Parquet => Inner::Parquet(Box::new(ArrowWriter::try_new(file, schema(), None).map_err(io)?)),
        };
        Ok(Writer { tmp, dest, inner })
    }

    /// Appends a chunk of ids with their change.
    ///
    /// # Errors
    /// The file system's.
    pub fn rows(&mut self, ids: &[String], change: &str) -> std::io::Result<()> {
        match &mut self.inner {
            Inner::Csv(w) => {
                for id in ids {
                    write_csv_field(w, id)?;
                    writeln!(w, ",{change}")?;
                }
                Ok(())
            }
            Inner::Parquet(w) => {
                let users: ArrayRef = Arc::new(StringArray::from_iter_values(ids.iter()));
                let changes: ArrayRef = Arc::new(StringArray::from_iter_values(ids.iter().map(|_| change)));
                let batch = RecordBatch::try_new(schema(), vec![users, changes]).map_err(io)?;
                w.write(&batch).map_err(io)
            }
        }
    }

    /// Flushes, syncs and renames the file into place.
    ///
    /// # Errors
    /// The file system's.
    pub fn finish(self) -> std::io::Result<PathBuf> {
        let file = match self.inner {
            Inner::Csv(w) => w.into_inner().map_err(|e| e.into_error())?,
            Inner::Parquet(w) => w.into_inner().map_err(io)?,
        };
        file.sync_all()?;
        std::fs::rename(&self.tmp, &self.dest)?;
        if let Some(dir) = self.dest.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(self.dest)
    }
}

/// Ids resolved to strings per chunk.
const CHUNK: usize = 10_000;

/// Writes the delivery from `from` to `to` (added, then removed) into the file `dest`,
/// resolving ids to the app's strings a chunk at a time. Blocking.
///
/// # Errors
/// The file system's, or the store's (as an I/O error).
pub fn write_delivery(
    meta: &crate::store::Meta,
    app: &str,
    dest: PathBuf,
    format: FileFormat,
    from: &roaring::RoaringBitmap,
    to: &roaring::RoaringBitmap,
) -> std::io::Result<()> {
    let kind = crate::ids::kind_of(meta, app).map_err(std::io::Error::other)?;
    let mut w = Writer::create(dest, format)?;
    for (set, change) in [(to - from, "added"), (from - to, "removed")] {
        let mut ids = set.iter();
        loop {
            let chunk: Vec<u32> = ids.by_ref().take(CHUNK).collect();
            if chunk.is_empty() {
                break;
            }
            let mut text = Vec::with_capacity(chunk.len());
            crate::ids::externals(meta, app, kind, chunk.into_iter(), |_, t| text.push(t.to_owned()))
                .map_err(std::io::Error::other)?;
            w.rows(&text, change)?;
        }
    }
    w.finish().map(|_| ())
}

/// Uploads the local file `local` to `key` in `bucket` as a multipart upload, 8 MiB parts,
/// a few in flight.
///
/// # Errors
/// What the object store or the file said.
pub async fn upload(bucket: &str, key: &str, local: &Path) -> Result<(), String> {
    use object_store::{ObjectStoreExt as _, WriteMultipart};
    use tokio::io::AsyncReadExt as _;
    let store = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()
        .map_err(|e| format!("the bucket: {e}"))?;
    let upload = store.put_multipart(&object_store::path::Path::from(key)).await.map_err(|e| e.to_string())?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, 8 << 20);
    let mut file = tokio::fs::File::open(local).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        writer.wait_for_capacity(4).await.map_err(|e| e.to_string())?;
        let n = file.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        writer.write(&buf[..n]);
    }
    writer.finish().await.map_err(|e| e.to_string())?;
    Ok(())
}

/// A CSV field, quoted when it holds a comma, quote or line break (string ids may).
fn write_csv_field(w: &mut impl Write, field: &str) -> std::io::Result<()> {
    if field.contains([',', '"', '\n', '\r']) {
        write!(w, "\"{}\"", field.replace('"', "\"\""))
    } else {
        w.write_all(field.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_parquet_hold_the_rows() {
        let dir = tempfile::tempdir().expect("tmp");
        let ids = vec!["u1".to_owned(), "a,b".to_owned()];
        let csv = path(dir.path(), "s", "2026-11-01", 1, DeliveryKind::Full, FileFormat::Csv);
        let mut w = Writer::create(csv.clone(), FileFormat::Csv).expect("create");
        w.rows(&ids, "added").expect("rows");
        w.finish().expect("finish");
        assert_eq!(std::fs::read_to_string(&csv).expect("read"), "user_id,change\nu1,added\n\"a,b\",added\n");
        let pq = path(dir.path(), "s", "2026-11-01", 2, DeliveryKind::Delta, FileFormat::Parquet);
        let mut w = Writer::create(pq.clone(), FileFormat::Parquet).expect("create");
        w.rows(&ids, "removed").expect("rows");
        w.finish().expect("finish");
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(File::open(&pq).expect("open"))
                .expect("parquet")
                .build()
                .expect("reader");
        let rows: usize = reader.map(|b| b.expect("batch").num_rows()).sum();
        assert_eq!(rows, 2);
        let names: Vec<_> =
            std::fs::read_dir(dir.path().join("s")).expect("dir").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
    }
}
