//! Uploads in the warehouse's form (`?format=bitmaps`, `u32` apps): one row per tag value,
//! number or daily count, with the bitmap of the users holding it, base64-encoded as a
//! ClickHouse `groupBitmap` state or roaring portable bytes (told apart per row by
//! [`engine::warehouse::decode_bitmap`]). What Spark or ClickHouse computes as
//! `SELECT value, base64Encode(groupBitmapState(uid)) … GROUP BY value` loads as it is.
//!
//! The same [`Staged`] comes out as from a CSV of rows, so publishing, atomicity and "a bad file
//! changes nothing" are the same code. Sets stay sets: a value's users are never expanded into
//! a list of ids, and numbers and counts become bit-sliced columns by bitmap unions.
//!
//! Decisions: a value (or number, or count) in several rows is the union of their bitmaps (a
//! warehouse may write one row per shard). A user may hold several values of a categorical or
//! boolean group, as in CSV; a user with two numbers of a numeric group, or two counts of an
//! event, is refused, naming the row and a user. Rows of count 0 are kept out, as in CSV.

use std::collections::BTreeMap;
use std::io::Read;

use base64::Engine as _;
use engine::bsi::{Bsi, NumericColumn, parse_scaled};
use engine::{IdSet, TagKind};

use super::csv::{self, CsvError, Row, RowError};
use super::{Staged, StagedData, Upload, boolean};
use crate::ids::{AppIds, NewUsers};

/// The header of a categorical or boolean group's bitmaps.
pub const VALUE_HEADER: &[&str] = &["value", "bitmap"];
/// The header of a numeric group's bitmaps.
pub const NUMBER_HEADER: &[&str] = &["number", "bitmap"];
/// The header of an event's bitmaps (users with that count on the day).
pub const COUNT_HEADER: &[&str] = &["count", "bitmap"];

/// The header a bitmap upload of `upload` must have.
pub fn header(upload: &Upload) -> &'static [&'static str] {
    match upload {
        Upload::Tag { kind: TagKind::Numeric, .. } => NUMBER_HEADER,
        Upload::Tag { .. } => VALUE_HEADER,
        Upload::Event { .. } => COUNT_HEADER,
    }
}

/// The longest base64 text a bitmap field may hold for bitmaps of at most `max_bytes`.
pub fn field_bound(max_bytes: usize) -> usize {
    max_bytes.div_ceil(3).saturating_mul(4)
}

/// The shape of a row, checked while the upload streams in: two non-empty columns, the second
/// base64 text. (The bitmap itself is decoded once, when the file is staged.)
///
/// # Errors
/// The column and what is wrong.
pub fn check_row<'a>(row: &Row<'a>, header: &[&str]) -> Result<(&'a str, &'a str), RowError> {
    let (value, bitmap) = super::pair(row, header)?;
    if let Some(at) = bitmap.bytes().position(|b| !(b.is_ascii_alphanumeric() || b"+/=".contains(&b))) {
        return Err(RowError::at(2, format!("the bitmap is not base64 (byte {} is `{}`)", at + 1, &bitmap[at..=at])));
    }
    Ok((value, bitmap))
}

/// Reads and maps a bitmap upload. Errors name the line (and the column); nothing is written.
///
/// # Errors
/// The first bad row: its shape, its value, a bitmap that is not base64 or not a 32-bit
/// bitmap of a known serialisation (the reason given), a bitmap larger than `max_bytes`, or
/// users holding two numbers or counts.
pub fn stage<R: Read>(input: R, upload: &Upload, ids: &AppIds, max_bytes: usize) -> Result<Staged, CsvError> {
    let header = header(upload);
    let mut by_key: BTreeMap<Key, IdSet> = BTreeMap::new();
    // Every user so far, grown in place (a new set per row made an upload of many numbers
    // quadratic: seconds for 1,000 rows).
    let mut all = roaring::RoaringBitmap::new();
    let exclusive = !matches!(upload, Upload::Tag { kind: TagKind::Categorical | TagKind::Boolean, .. });
    let rows = csv::read_rows_bounded(input, header, field_bound(max_bytes), |row| {
        let (text, bitmap) = check_row(row, header)?;
        let key = key(upload, text)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(bitmap)
            .map_err(|e| RowError::at(2, format!("the bitmap is not base64: {e}")))?;
        if bytes.len() > max_bytes {
            return Err(RowError::at(2, format!("the bitmap is {} bytes, more than {max_bytes}", bytes.len())));
        }
        let (set, _) = engine::warehouse::decode_bitmap(&bytes).map_err(|e| RowError::at(2, e.to_string()))?;
        let users = set.to_roaring();
        if exclusive && let Some(user) = (&users & &all).min() {
            let what = if matches!(upload, Upload::Event { .. }) { "count" } else { "number" };
            return Err(RowError::at(2, format!("user {user} already has another {what} in an earlier row")));
        }
        all |= users;
        let entry = by_key.entry(key).or_default();
        *entry = entry.or(&set);
        Ok(())
    })?;
    let data = match upload {
        Upload::Tag { kind: TagKind::Numeric, scale, .. } => StagedData::Column(NumericColumn::from_value_sets(
            *scale,
            by_key.into_iter().map(|(k, set)| (k.number(), set)).collect(),
        )),
        Upload::Tag { .. } => StagedData::Sets(by_key.into_iter().map(|(k, set)| (k.text(), set)).collect()),
        Upload::Event { .. } => StagedData::Bsi(Bsi::from_value_sets(
            by_key
                .into_iter()
                .filter(|(k, _)| k.number() > 0)
                .map(|(k, set)| (k.number().unsigned_abs(), set))
                .collect(),
        )),
    };
    let all = IdSet::from_roaring(&all);
    let new_users = match ids {
        AppIds::U32(universe) => NewUsers::U32(all.and_not(universe)),
        AppIds::Strings(_) => {
            return Err(CsvError::Line { line: 1, column: None, reason: "bitmaps need an app of u32 ids".into() });
        }
    };
    Ok(Staged { upload: upload.clone(), rows, users: all.len(), new_users, data })
}

/// What a row's first column names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Text(String),
    Number(i64),
}

impl Key {
    fn text(self) -> String {
        match self {
            Key::Text(t) => t,
            Key::Number(n) => n.to_string(),
        }
    }

    fn number(&self) -> i64 {
        match self {
            Key::Number(n) => *n,
            Key::Text(_) => 0,
        }
    }
}

/// Reads a row's first column as the upload's kind of value.
fn key(upload: &Upload, text: &str) -> Result<Key, RowError> {
    match upload {
        Upload::Tag { kind: TagKind::Numeric, scale, .. } => {
            parse_scaled(text, *scale).map(Key::Number).map_err(|e| RowError::at(1, e.to_string()))
        }
        Upload::Tag { kind: TagKind::Boolean, .. } => {
            boolean(text).map(|b| Key::Text(b.to_owned())).map_err(|e| RowError::at(1, e))
        }
        Upload::Tag { .. } => Ok(Key::Text(text.to_owned())),
        Upload::Event { .. } => {
            let n = engine::window::parse_daily_count(text).map_err(|e| RowError::at(1, e))?;
            i64::try_from(n).map(Key::Number).map_err(|_| RowError::at(1, format!("count `{text}` is too large")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    fn tag(kind: TagKind) -> Upload {
        Upload::Tag { group: "g".into(), kind, category: String::new(), scale: 1 }
    }

    fn b64(set: &[u32]) -> String {
        STANDARD.encode(engine::warehouse::encode_clickhouse_state(&IdSet::from_sorted(set)))
    }

    #[test]
    fn values_numbers_and_counts_become_sets_and_columns() {
        let ids = AppIds::U32(IdSet::from_sorted(&[1]));
        let text = format!("value,bitmap\na,{}\nb,{}\na,{}\n", b64(&[1, 5]), b64(&[5]), b64(&[9]));
        let s = stage(text.as_bytes(), &tag(TagKind::Categorical), &ids, 1 << 20).expect("ok");
        let want = vec![("a".to_owned(), IdSet::from_sorted(&[1, 5, 9])), ("b".to_owned(), IdSet::from_sorted(&[5]))];
        assert_eq!(s.data, StagedData::Sets(want));
        assert_eq!((s.rows, s.users, s.new_users), (3, 3, NewUsers::U32(IdSet::from_sorted(&[5, 9]))));

        let text = format!("number,bitmap\n-1.5,{}\n2,{}\n", b64(&[3]), b64(&[4, 8]));
        let s = stage(text.as_bytes(), &tag(TagKind::Numeric), &ids, 1 << 20).expect("ok");
        assert_eq!(s.data, StagedData::Column(NumericColumn::from_scaled(1, vec![(3, -15), (4, 20), (8, 20)])));

        let text = format!("count,bitmap\n0,{}\n3,{}\n", b64(&[2]), b64(&[4]));
        let s = stage(text.as_bytes(), &Upload::Event { name: "e".into() }, &ids, 1 << 20).expect("ok");
        assert_eq!(s.data, StagedData::Bsi(Bsi::from_pairs(vec![(4, 3)])));
    }

    #[test]
    fn bad_rows_are_named() {
        let ids = AppIds::U32(IdSet::new());
        let line = |text: String, u: &Upload| {
            let e = stage(text.as_bytes(), u, &ids, 1 << 20).expect_err("refused");
            (e.line(), e.column(), e.to_string())
        };
        let (l, c, m) = line(format!("value,bitmap\na,{}\nb,not base64!\n", b64(&[1])), &tag(TagKind::Categorical));
        assert_eq!((l, c), (Some(3), Some(2)), "{m}");
        let (l, c, m) =
            line(format!("value,bitmap\na,{}\n", STANDARD.encode(b"{\"x\":1}")), &tag(TagKind::Categorical));
        assert_eq!((l, c), (Some(2), Some(2)), "{m}");
        let (l, _, m) = line(format!("number,bitmap\n1,{}\n2,{}\n", b64(&[1, 2]), b64(&[2])), &tag(TagKind::Numeric));
        assert_eq!(l, Some(3));
        assert!(m.contains("user 2"), "{m}");
        let (l, c, _) = line(format!("number,bitmap\nx,{}\n", b64(&[1])), &tag(TagKind::Numeric));
        assert_eq!((l, c), (Some(2), Some(1)));
        // 18 bytes: a ClickHouse small set of four ids.
        let e =
            stage(format!("value,bitmap\na,{}\n", b64(&[1, 2, 3, 4])).as_bytes(), &tag(TagKind::Categorical), &ids, 10)
                .expect_err("over the bound");
        assert!(e.to_string().contains("longer than") || e.to_string().contains("more than"), "{e}");
        let strings = AppIds::empty(wire::IdKind::Strings);
        assert!(
            stage(format!("value,bitmap\na,{}\n", b64(&[1])).as_bytes(), &tag(TagKind::Categorical), &strings, 1 << 20)
                .is_err()
        );
    }
}
