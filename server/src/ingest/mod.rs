//! Ingest: an uploaded CSV becomes staged data over dense ids, ready to publish.
//!
//! Staging writes nothing: new external ids get tentative dense ids in an overlay on the app's
//! dictionary, and only a successful publish commits them (with the day pointer, in one
//! transaction). A bad file therefore changes nothing, and says which line is wrong.

pub mod csv;
pub mod spool;

use std::collections::HashMap;
use std::io::Read;

use engine::TagKind;
use engine::bsi::parse_scaled;

pub use self::csv::CsvError;

/// Longest tag value accepted, in bytes.
pub const MAX_VALUE_BYTES: usize = 256;
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

/// Hash maps keyed by uploaded text: foldhash is several times faster than the default SipHash
/// on short ids (it showed in ingest profiles), and is seeded per process, so crafted ids
/// cannot force collisions.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// An app's dictionary in memory: external id → dense id. Loaded on the first upload.
#[derive(Debug, Default)]
pub struct AppDict {
    ids: FastMap<String, u32>,
}

impl AppDict {
    /// A dictionary from ids in dense order.
    pub fn from_ids(ids: Vec<String>) -> AppDict {
        let mut map = FastMap::with_capacity_and_hasher(ids.len(), Default::default());
        map.extend(ids.into_iter().enumerate().map(|(i, s)| (s, i as u32)));
        AppDict { ids: map }
    }

    /// Users known.
    pub fn len(&self) -> u32 {
        self.ids.len() as u32
    }

    /// True before the first user.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds ids committed by a publish (dense ids `len..len + new.len()`).
    pub fn commit(&mut self, new_ids: Vec<String>) {
        let base = self.len();
        for (i, s) in new_ids.into_iter().enumerate() {
            self.ids.insert(s, base + i as u32);
        }
    }

    /// The dense id of an external id.
    pub fn get(&self, external: &str) -> Option<u32> {
        self.ids.get(external).copied()
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
    /// External ids seen for the first time, in the order of their new dense ids.
    pub new_ids: Vec<String>,
    /// The dense id the first new id gets.
    pub first_new_id: u32,
    /// The data.
    pub data: StagedData,
}

/// Reads and maps an upload. Errors name the line; nothing is written either way.
pub fn stage<R: Read>(input: R, upload: &Upload, dict: &AppDict) -> Result<Staged, CsvError> {
    let first_new_id = dict.len();
    let mut new: FastMap<String, u32> = FastMap::default();
    let mut new_ids: Vec<String> = Vec::new();
    // One bit per dense id seen in this file (distinct users, and repeats where not allowed).
    let mut seen: Vec<u64> = vec![0; (dict.len() as usize).div_ceil(64) + 1];
    let mut users = 0u64;
    let mut resolve = |user: &str| -> Result<u32, String> {
        if let Some(id) = dict.get(user).or_else(|| new.get(user).copied()) {
            return Ok(id);
        }
        let id = first_new_id
            .checked_add(new_ids.len() as u32)
            .filter(|&id| id < u32::MAX)
            .ok_or_else(|| "the app has no room for more users (2^32 - 1)".to_owned())?;
        new.insert(user.to_owned(), id);
        new_ids.push(user.to_owned());
        Ok(id)
    };
    let mut values: Vec<(String, Vec<u32>)> = Vec::new();
    let mut value_index: FastMap<String, usize> = FastMap::default();
    let mut numbers: Vec<(u32, i64)> = Vec::new();
    let mut counts: Vec<(u32, u64)> = Vec::new();
    let second = match upload {
        Upload::Tag { .. } => "value",
        Upload::Event { .. } => "count",
    };
    let rows = csv::read_rows(input, second, |_line, user, value| {
        let id = resolve(user)?;
        let word = id as usize / 64;
        if word >= seen.len() {
            seen.resize(word * 2 + 1, 0);
        }
        let bit = 1u64 << (id % 64);
        let repeated = seen[word] & bit != 0;
        if !repeated {
            seen[word] |= bit;
            users += 1;
        }
        let once = |what: &str| {
            if repeated { Err(format!("user `{user}` appears more than once in {what}")) } else { Ok(()) }
        };
        match upload {
            Upload::Tag { kind: TagKind::Numeric, scale, .. } => {
                once("a numeric group")?;
                numbers.push((id, parse_scaled(value, *scale).map_err(|e| e.to_string())?));
            }
            Upload::Tag { kind, .. } => {
                let value = if *kind == TagKind::Boolean { boolean(value)? } else { value };
                if value.len() > MAX_VALUE_BYTES {
                    return Err(format!("value longer than {MAX_VALUE_BYTES} bytes"));
                }
                // Look up before allocating: most rows repeat a known value.
                let i = match value_index.get(value) {
                    Some(&i) => i,
                    None => {
                        values.push((value.to_owned(), Vec::new()));
                        value_index.insert(value.to_owned(), values.len() - 1);
                        values.len() - 1
                    }
                };
                values[i].1.push(id);
            }
            Upload::Event { .. } => {
                once("an event file")?;
                let n: u64 = value.parse().map_err(|_| format!("count `{value}` is not a whole number ≥ 0"))?;
                counts.push((id, n));
            }
        }
        Ok(())
    })?;
    let data = match upload {
        Upload::Tag { kind: TagKind::Numeric, .. } => StagedData::Numbers(numbers),
        Upload::Tag { .. } => {
            values.sort_by(|a, b| a.0.cmp(&b.0));
            StagedData::Values(values)
        }
        Upload::Event { .. } => StagedData::Counts(counts),
    };
    Ok(Staged { upload: upload.clone(), rows, users, new_ids, first_new_id, data })
}

/// Normalises a boolean value (without allocating: this runs once per row).
fn boolean(value: &str) -> Result<&'static str, String> {
    if value.eq_ignore_ascii_case("true") || value == "1" {
        Ok("true")
    } else if value.eq_ignore_ascii_case("false") || value == "0" {
        Ok("false")
    } else {
        Err(format!("`{value}` is not a boolean (true/false)"))
    }
}

impl From<CsvError> for crate::error::ApiError {
    fn from(err: CsvError) -> Self {
        match err {
            CsvError::Io(_) => crate::error::ApiError::internal(err.to_string()),
            _ => crate::error::ApiError::InvalidUpload { line: err.line(), message: err.to_string() },
        }
    }
}

impl From<spool::SpoolError> for crate::error::ApiError {
    fn from(err: spool::SpoolError) -> Self {
        use crate::error::ApiError;
        match err {
            spool::SpoolError::TooLarge { limit_bytes } => ApiError::PayloadTooLarge { limit_bytes },
            spool::SpoolError::Body(_) => ApiError::BadRequest(err.to_string()),
            spool::SpoolError::Io(e) => ApiError::storage(e),
        }
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
        let dict = AppDict::from_ids(vec!["a".into()]);
        let s = stage("user_id,value\nb,x\na,y\nb,y\n".as_bytes(), &tag(TagKind::Categorical), &dict).expect("ok");
        assert_eq!(s.new_ids, vec!["b".to_owned()]);
        assert_eq!((s.rows, s.users, s.first_new_id), (3, 2, 1));
        assert_eq!(s.data, StagedData::Values(vec![("x".into(), vec![1]), ("y".into(), vec![0, 1])]));
    }

    #[test]
    fn refuses_bad_numbers_booleans_counts_and_repeats() {
        let d = AppDict::default();
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
