//! Uploads as Parquet (`?format=parquet`): the vertical table Spark, Hive, DuckDB or pyarrow
//! write, with columns `user_id` (string or integer) and `value` (string, boolean, integer,
//! decimal or floating point; `count` for events). Read with the Apache Arrow crates
//! (`parquet`'s Arrow reader), in batches of [`BATCH_ROWS`] rows whatever the row-group size, and
//! fed row by row to the same [`Stager`] as CSV, so every check and the staged result are the
//! CSV path's. Other columns are not read.
//!
//! Values become text the way Arrow's cast writes them (`true`, `42`, `12.50` for a decimal of
//! scale 2, `1.5` for a float), which is what a CSV of the same table holds; a numeric group
//! then reads them exactly (`engine::bsi::parse_scaled`). Errors name the row (1-based, in file
//! order) and the column.
//!
//! Untrusted bytes: the file must start and end with `PAR1` (checked as it streams in, see
//! [`ParquetCheck`]); its footer may hold at most [`MAX_FOOTER_BYTES`] and each column chunk
//! declare at most [`MAX_CHUNK_BYTES`] uncompressed, checked before any data page is read; a
//! panic inside the reader is caught and answered as an unreadable file.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::csv::MAX_FIELD_BYTES;
use super::{Staged, Stager, Upload};
use crate::ids::AppIds;

/// Rows decoded at a time: memory follows this, not the file's row groups.
pub const BATCH_ROWS: usize = 8192;
/// Largest footer (file metadata) accepted.
pub const MAX_FOOTER_BYTES: u64 = 16 << 20;
/// Largest uncompressed column chunk accepted (one column of one row group).
pub const MAX_CHUNK_BYTES: i64 = 1 << 30;
/// Parquet's magic, at both ends of a file.
const MAGIC: &[u8; 4] = b"PAR1";

/// Why a Parquet upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParquetError {
    /// The file is not Parquet, or cannot be read as such.
    #[error("not a readable Parquet file: {0}")]
    Unreadable(String),
    /// A column is missing or has a type that cannot hold what it must.
    #[error("column `{column}`: {reason}")]
    Column {
        /// The column's name.
        column: String,
        /// 1-based position in the expected columns (`user_id` is 1).
        position: usize,
        /// What is wrong.
        reason: String,
    },
    /// A row is wrong.
    #[error("row {row}{}: {reason}", column.map(|c| format!(", column {c}")).unwrap_or_default())]
    Row {
        /// 1-based row number, in file order.
        row: u64,
        /// 1-based column (`user_id` is 1), when the fault is in one.
        column: Option<usize>,
        /// What is wrong.
        reason: String,
    },
}

/// Checks a Parquet body as it streams in: `PAR1` first (refused on the fourth byte) and last.
#[derive(Debug, Default)]
pub struct ParquetCheck {
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl ParquetCheck {
    /// Takes the next chunk.
    ///
    /// # Errors
    /// The body does not start with `PAR1`.
    pub fn chunk(&mut self, bytes: &[u8]) -> Result<(), ParquetError> {
        if self.head.len() < MAGIC.len() {
            let take = (MAGIC.len() - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
            if !MAGIC.starts_with(&self.head) {
                return Err(not_parquet());
            }
        }
        self.tail.extend_from_slice(&bytes[bytes.len().saturating_sub(MAGIC.len())..]);
        let extra = self.tail.len().saturating_sub(MAGIC.len());
        self.tail.drain(..extra);
        Ok(())
    }

    /// The end of the body.
    ///
    /// # Errors
    /// The body is shorter than two magics, or does not end with `PAR1`.
    pub fn end(&self) -> Result<(), ParquetError> {
        if self.head.as_slice() != MAGIC || self.tail.as_slice() != MAGIC {
            return Err(not_parquet());
        }
        Ok(())
    }
}

fn not_parquet() -> ParquetError {
    ParquetError::Unreadable("a Parquet file starts and ends with `PAR1`".into())
}

/// Reads and maps a Parquet upload from disk. Nothing is written either way.
///
/// # Errors
/// [`ParquetError`]: an unreadable file, a missing or mistyped column, or the first bad row.
pub fn stage(path: &Path, upload: &Upload, ids: &AppIds) -> Result<Staged, ParquetError> {
    check_footer(path)?;
    match catch_unwind(AssertUnwindSafe(|| read(path, upload, ids))) {
        Ok(result) => result,
        Err(_) => Err(ParquetError::Unreadable("the reader failed on damaged data".into())),
    }
}

/// The footer's declared length, from the last 8 bytes, before the reader allocates it.
fn check_footer(path: &Path) -> Result<(), ParquetError> {
    let io = |e: std::io::Error| ParquetError::Unreadable(e.to_string());
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len < 12 {
        return Err(not_parquet());
    }
    file.seek(SeekFrom::End(-8)).map_err(io)?;
    let mut end = [0u8; 8];
    file.read_exact(&mut end).map_err(io)?;
    let footer = u64::from(u32::from_le_bytes([end[0], end[1], end[2], end[3]]));
    if footer > MAX_FOOTER_BYTES || footer + 12 > len {
        return Err(ParquetError::Unreadable(format!(
            "its footer declares {footer} bytes (at most {MAX_FOOTER_BYTES}, and within the file)"
        )));
    }
    Ok(())
}

fn read(path: &Path, upload: &Upload, ids: &AppIds) -> Result<Staged, ParquetError> {
    let unreadable = |e: parquet::errors::ParquetError| ParquetError::Unreadable(e.to_string());
    let file = File::open(path).map_err(|e| ParquetError::Unreadable(e.to_string()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(unreadable)?;
    let header = upload.header();
    let mut roots = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let field = builder.schema().field_with_name(name).map_err(|_| ParquetError::Column {
            column: (*name).to_owned(),
            position: i + 1,
            reason: format!(
                "missing (the file has {})",
                builder.schema().fields().iter().map(|f| format!("`{}`", f.name())).collect::<Vec<_>>().join(", ")
            ),
        })?;
        check_type(field.data_type(), i == 0).map_err(|reason| ParquetError::Column {
            column: (*name).to_owned(),
            position: i + 1,
            reason,
        })?;
        roots.push(builder.schema().index_of(name).map_err(|e| ParquetError::Unreadable(e.to_string()))?);
    }
    for (g, rg) in builder.metadata().row_groups().iter().enumerate() {
        for c in rg.columns() {
            if c.uncompressed_size() > MAX_CHUNK_BYTES || c.uncompressed_size() < 0 {
                return Err(ParquetError::Unreadable(format!(
                    "row group {g}: column `{}` declares {} bytes uncompressed (at most {MAX_CHUNK_BYTES})",
                    c.column_path(),
                    c.uncompressed_size()
                )));
            }
        }
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder.with_projection(mask).with_batch_size(BATCH_ROWS).build().map_err(unreadable)?;
    let mut stager = Stager::new(upload, ids);
    let mut row = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| ParquetError::Unreadable(format!("after row {row}: {e}")))?;
        let column = |i: usize| -> Result<ArrayRef, ParquetError> {
            let array = batch
                .column_by_name(header[i])
                .ok_or_else(|| ParquetError::Unreadable("a column went missing".into()))?;
            arrow_cast::cast(array, &DataType::Utf8).map_err(|e| ParquetError::Column {
                column: header[i].to_owned(),
                position: i + 1,
                reason: e.to_string(),
            })
        };
        let (users, values) = (column(0)?, column(1)?);
        let (users, values) = (users.as_string::<i32>(), values.as_string::<i32>());
        for i in 0..batch.num_rows() {
            row += 1;
            let user = field(users, i, row, 0, header)?;
            let value = field(values, i, row, 1, header)?;
            stager.row(user, value).map_err(|e| ParquetError::Row { row, column: e.column, reason: e.reason })?;
        }
    }
    Ok(stager.finish(row))
}

/// Row `i`'s field of column `c` (0-based in `header`), trimmed: refused when null, empty or
/// longer than a CSV field may be (row `row`, 1-based).
fn field<'a>(
    array: &'a arrow_array::StringArray,
    i: usize,
    row: u64,
    c: usize,
    header: &[&str],
) -> Result<&'a str, ParquetError> {
    let at = |reason: String| ParquetError::Row { row, column: Some(c + 1), reason };
    if array.is_null(i) {
        return Err(at(format!("`{}` is null", header[c])));
    }
    let text = array.value(i).trim();
    if text.is_empty() {
        return Err(at(format!("empty {}", header[c])));
    }
    if text.len() > MAX_FIELD_BYTES {
        return Err(at(format!("`{}` longer than {MAX_FIELD_BYTES} bytes", header[c])));
    }
    Ok(text)
}

/// Whether a column of this type can hold user ids (`user`) or values: text, integers, and
/// for values also booleans, decimals and floats (dictionary-encoded or not).
fn check_type(t: &DataType, user: bool) -> Result<(), String> {
    let inner = match t {
        DataType::Dictionary(_, value) => value.as_ref(),
        other => other,
    };
    let text = matches!(inner, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    let integer = inner.is_integer();
    let value = matches!(
        inner,
        DataType::Boolean
            | DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..)
            | DataType::Float16
            | DataType::Float32
            | DataType::Float64
    );
    if text || integer || (!user && value) {
        Ok(())
    } else if user {
        Err(format!("of type {t}: user ids are strings or integers"))
    } else {
        Err(format!("of type {t}: values are strings, booleans, integers, decimals or floats"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_magic_is_checked_at_both_ends_whatever_the_chunks() {
        let file = b"PAR1 pages and a footer PAR1";
        for split in 0..file.len() {
            let mut check = ParquetCheck::default();
            check.chunk(&file[..split]).expect("head");
            check.chunk(&file[split..]).expect("rest");
            assert_eq!(check.end(), Ok(()), "split at {split}");
        }
        let mut check = ParquetCheck::default();
        assert!(check.chunk(b"user_id,value\n").is_err(), "CSV is refused on its first bytes");
        let mut check = ParquetCheck::default();
        check.chunk(b"PAR1 cut off").expect("head");
        assert!(check.end().is_err());
        let mut check = ParquetCheck::default();
        check.chunk(b"PAR").expect("so far so good");
        assert!(check.end().is_err());
    }
}
