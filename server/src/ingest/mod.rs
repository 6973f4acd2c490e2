//! Ingest: an uploaded CSV (rows of users, or [`bitmaps`] of users per value) becomes staged
//! data over dense ids, ready to publish.
//!
//! Staging writes nothing: new external ids get tentative dense ids in an overlay on the app's
//! dictionary, and only a successful publish commits them (with the day pointer, in one
//! transaction). A bad file therefore changes nothing, and says which line is wrong.

pub mod bitmaps;
pub mod csv;
pub mod parquet;
pub mod spool;

use std::io::Read;

use engine::TagKind;
use engine::bsi::parse_scaled;
use roaring::RoaringBitmap;

use crate::ids::{AppIds, FastMap, NewUsers, Resolver};

pub use self::csv::CsvError;
use self::csv::{Row, RowError};

/// Longest tag value accepted, in bytes (the CSV reader's bound on every field).
pub const MAX_VALUE_BYTES: usize = csv::MAX_FIELD_BYTES;
/// The header of a tag group upload.
pub const TAG_HEADER: &[&str] = &["user_id", "value"];
/// The header of an event upload.
pub const EVENT_HEADER: &[&str] = &["user_id", "count"];
/// The header of a static segment's member list (and of every member export).
pub const MEMBER_HEADER: &[&str] = &["user_id"];
/// Most decimal places a numeric group may keep.
pub const MAX_SCALE: u32 = 6;

/// What an upload holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upload {
    /// One tag group (vertical table: `user_id,value`).
    Tag {
        /// Group name.
        group: String,
        /// Kind of values.
        kind: TagKind,
        /// Category path (metadata).
        category: String,
        /// Decimal places kept, for numeric groups.
        scale: u32,
    },
    /// One event's counts for a day (`user_id,count`).
    Event {
        /// Event name.
        name: String,
    },
}

impl Upload {
    /// The header its file must have.
    pub fn header(&self) -> &'static [&'static str] {
        match self {
            Upload::Tag { .. } => TAG_HEADER,
            Upload::Event { .. } => EVENT_HEADER,
        }
    }
}

/// Whether `category` is a category path: empty, or `/`-separated names of letters, digits,
/// `_`, `-`, `.` and spaces, at most 256 bytes (uploads' `?category=` and the catalog's).
///
/// ```
/// assert!(server::ingest::valid_category("demographics/location"));
/// assert!(!server::ingest::valid_category("a//b"));
/// ```
pub fn valid_category(category: &str) -> bool {
    category.len() <= 256
        && (category.is_empty()
            || category
                .split('/')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || "_-. ".contains(c))))
}

/// The shape of every tag and event row: exactly two columns, neither empty. Checked while
/// the upload streams in and again when it is staged.
///
/// # Errors
/// The column count or the empty column, with its number.
pub fn pair<'a>(row: &Row<'a>, header: &[&str]) -> Result<(&'a str, &'a str), RowError> {
    if row.columns != 2 {
        return Err(format!("expected 2 columns, found {}", row.columns).into());
    }
    match (row.get(0), row.get(1)) {
        (Some(user), Some(value)) if !user.is_empty() && !value.is_empty() => Ok((user, value)),
        (Some(""), _) | (None, _) => {
            Err(RowError::at(1, format!("empty {}", header.first().copied().unwrap_or("user_id"))))
        }
        _ => Err(RowError::at(2, format!("empty {}", header.get(1).copied().unwrap_or("value")))),
    }
}

/// The data of a staged upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StagedData {
    /// Users per value (categorical and boolean groups).
    Values(Vec<(String, Vec<u32>)>),
    /// One scaled number per user.
    Numbers(Vec<(u32, i64)>),
    /// One count per user.
    Counts(Vec<(u32, u64)>),
    /// Users per value, as sets (bitmap uploads).
    Sets(Vec<(String, engine::IdSet)>),
    /// A numeric group's column, built (bitmap uploads).
    Column(engine::bsi::NumericColumn),
    /// An event's daily counts as a column, built (bitmap uploads).
    Bsi(engine::bsi::Bsi),
}

/// An upload parsed and mapped to dense ids.
#[derive(Debug, Clone)]
pub struct Staged {
    /// What was uploaded.
    pub upload: Upload,
    /// Data rows (the header not counted).
    pub rows: u64,
    /// Distinct users in the file.
    pub users: u64,
    /// Users named for the first time (committed by the publish).
    pub new_users: NewUsers,
    /// The data.
    pub data: StagedData,
}

/// Reads and maps an upload. Errors name the line; nothing is written either way.
pub fn stage<R: Read>(input: R, upload: &Upload, ids: &AppIds) -> Result<Staged, CsvError> {
    let mut stager = Stager::new(upload, ids);
    let header = upload.header();
    let rows = csv::read_rows(input, header, |row| {
        let (user, value) = pair(row, header)?;
        stager.row(user, value)
    })?;
    Ok(stager.finish(rows))
}

/// Maps rows of (user, value) to staged data, whatever file they come from (CSV rows here,
/// Parquet rows in [`parquet`]).
#[derive(Debug)]
pub struct Stager<'a> {
    upload: &'a Upload,
    resolver: Resolver<'a>,
    /// Users seen in this file (distinct users, and repeats where not allowed): a bitmap, since
    /// a `u32` app's ids may lie anywhere in the 32-bit range.
    seen: RoaringBitmap,
    users: u64,
    values: Vec<(String, Vec<u32>)>,
    value_index: FastMap<String, usize>,
    numbers: Vec<(u32, i64)>,
    counts: Vec<(u32, u64)>,
}

impl<'a> Stager<'a> {
    /// A stager for one upload to an app with `ids`.
    pub fn new(upload: &'a Upload, ids: &'a AppIds) -> Stager<'a> {
        Stager {
            upload,
            resolver: ids.resolver(),
            seen: RoaringBitmap::new(),
            users: 0,
            values: Vec::new(),
            value_index: FastMap::default(),
            numbers: Vec::new(),
            counts: Vec::new(),
        }
    }

    /// Takes one row: a user (column 1) and its value or count (column 2).
    ///
    /// # Errors
    /// What is wrong with the row, naming its column.
    pub fn row(&mut self, user: &str, value: &str) -> Result<(), RowError> {
        let id = self.resolver.resolve(user).map_err(|e| RowError::at(1, e))?;
        let repeated = !self.seen.insert(id);
        if !repeated {
            self.users += 1;
        }
        let once = |what: &str| {
            if repeated {
                Err(RowError::at(1, format!("user `{user}` appears more than once in {what}")))
            } else {
                Ok(())
            }
        };
        match self.upload {
            Upload::Tag { kind: TagKind::Numeric, scale, .. } => {
                once("a numeric group")?;
                self.numbers.push((id, parse_scaled(value, *scale).map_err(|e| RowError::at(2, e.to_string()))?));
            }
            Upload::Tag { kind, .. } => {
                let value =
                    if *kind == TagKind::Boolean { boolean(value).map_err(|e| RowError::at(2, e))? } else { value };
                // Look up before allocating: most rows repeat a known value.
                let i = match self.value_index.get(value) {
                    Some(&i) => i,
                    None => {
                        self.values.push((value.to_owned(), Vec::new()));
                        self.value_index.insert(value.to_owned(), self.values.len() - 1);
                        self.values.len() - 1
                    }
                };
                self.values[i].1.push(id);
            }
            Upload::Event { .. } => {
                once("an event file")?;
                // Bounded so a 90-day window's sum is exact in 64 bits (engine::window).
                let n = engine::window::parse_daily_count(value)?;
                self.counts.push((id, n));
            }
        }
        Ok(())
    }

    /// The staged upload, after `rows` rows.
    pub fn finish(self, rows: u64) -> Staged {
        let data = match self.upload {
            Upload::Tag { kind: TagKind::Numeric, .. } => StagedData::Numbers(self.numbers),
            Upload::Tag { .. } => {
                let mut values = self.values;
                values.sort_by(|a, b| a.0.cmp(&b.0));
                StagedData::Values(values)
            }
            Upload::Event { .. } => StagedData::Counts(self.counts),
        };
        Staged { upload: self.upload.clone(), rows, users: self.users, new_users: self.resolver.into_new(), data }
    }
}

/// Normalises a boolean value (without allocating: this runs once per row).
pub(crate) fn boolean(value: &str) -> Result<&'static str, String> {
    if value.eq_ignore_ascii_case("true") || value == "1" {
        Ok("true")
    } else if value.eq_ignore_ascii_case("false") || value == "0" {
        Ok("false")
    } else {
        Err(format!("`{value}` is not a boolean (true/false)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(kind: TagKind) -> Upload {
        Upload::Tag { group: "g".into(), kind, category: String::new(), scale: 2 }
    }

    #[test]
    fn stages_categorical_multi_valued() {
        let dict = AppIds::Strings(crate::ids::AppDict::from_ids(vec!["a".into()]));
        let s = stage("user_id,value\nb,x\na,y\nb,y\n".as_bytes(), &tag(TagKind::Categorical), &dict).expect("ok");
        assert_eq!(s.new_users, NewUsers::Strings { first: 1, ids: vec!["b".to_owned()] });
        assert_eq!((s.rows, s.users), (3, 2));
        assert_eq!(s.data, StagedData::Values(vec![("x".into(), vec![1]), ("y".into(), vec![0, 1])]));
    }

    #[test]
    fn stages_u32_ids_as_themselves() {
        let ids = AppIds::U32(engine::IdSet::from_sorted(&[7]));
        let text = "user_id,value\n4294967295,x\n7,y\n4294967295,y\n";
        let s = stage(text.as_bytes(), &tag(TagKind::Categorical), &ids).expect("ok");
        assert_eq!(s.new_users, NewUsers::U32(engine::IdSet::from_sorted(&[u32::MAX])));
        assert_eq!((s.rows, s.users), (3, 2));
        assert_eq!(s.data, StagedData::Values(vec![("x".into(), vec![u32::MAX]), ("y".into(), vec![7, u32::MAX])]));
        let err =
            stage("user_id,value\n7,x\n07,y\n".as_bytes(), &tag(TagKind::Categorical), &ids).expect_err("refused");
        assert_eq!((err.line(), err.column()), (Some(3), Some(1)), "{err}");
    }

    #[test]
    fn refuses_bad_numbers_booleans_counts_and_repeats() {
        let d = AppIds::empty(wire::IdKind::Strings);
        let line = |text: &str, u: &Upload| stage(text.as_bytes(), u, &d).expect_err("refused").line();
        assert_eq!(line("user_id,value\na,1.5\nb,x\n", &tag(TagKind::Numeric)), Some(3));
        assert_eq!(line("user_id,value\na,1.555\n", &tag(TagKind::Numeric)), Some(2));
        assert_eq!(line("user_id,value\na,1\na,2\n", &tag(TagKind::Numeric)), Some(3));
        assert_eq!(line("user_id,value\na,maybe\n", &tag(TagKind::Boolean)), Some(2));
        let ev = Upload::Event { name: "visit".into() };
        assert_eq!(line("user_id,count\na,-1\n", &ev), Some(2));
        assert_eq!(line("user_id,value\na,1\n", &ev), Some(1), "events need the count header");
        let ok = stage("user_id,value\na,TRUE\nb,0\n".as_bytes(), &tag(TagKind::Boolean), &d).expect("ok");
        assert_eq!(ok.data, StagedData::Values(vec![("false".into(), vec![1]), ("true".into(), vec![0])]));
    }
}

/// Throughput of the reader against staging (run in release: `cargo test -p server --release
/// --lib reader_throughput -- --ignored --nocapture`): the upload is tokenized twice (checked
/// while it streams, staged from disk), so tokenizing must stay small next to staging.
#[cfg(test)]
#[test]
#[ignore = "a measurement; run in release"]
fn reader_throughput() {
    let mut text = String::from("user_id,value\n");
    for i in 0..2_000_000u32 {
        text.push_str(&format!("user-{:08},value-{}\n", i.wrapping_mul(2_654_435_761) % 5_000_000, i % 50));
    }
    let mb = text.len() as f64 / 1e6;
    let started = std::time::Instant::now();
    let rows = csv::read_rows(text.as_bytes(), TAG_HEADER, |_| Ok(())).expect("valid");
    let read = started.elapsed();
    let started = std::time::Instant::now();
    let upload = Upload::Tag { group: "g".into(), kind: TagKind::Categorical, category: String::new(), scale: 0 };
    let staged = stage(text.as_bytes(), &upload, &AppIds::empty(wire::IdKind::Strings)).expect("valid");
    let staging = started.elapsed();
    assert_eq!((rows, staged.rows), (2_000_000, 2_000_000));
    eprintln!(
        "{mb:.0} MB, 2M rows: tokenize {:.0} MB/s ({read:?}); stage {:.0} MB/s ({staging:?})",
        mb / read.as_secs_f64(),
        mb / staging.as_secs_f64()
    );
}
