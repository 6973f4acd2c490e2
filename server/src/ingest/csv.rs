//! Reading uploaded CSV (vertical table: `user_id,<value>` per row) with errors that name the
//! line. Line 1 is the header; rows are numbered as a text editor shows them.

use std::io::Read;

/// Longest external user id accepted, in bytes.
pub const MAX_USER_ID_BYTES: usize = 256;

/// A CSV upload that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    /// The first line is not the expected header.
    #[error("line 1: expected the header `{expected}`, found `{found}`")]
    Header {
        /// The header required.
        expected: String,
        /// What the file had.
        found: String,
    },
    /// A data line is wrong.
    #[error("line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// The body could not be read.
    #[error("reading the upload failed: {0}")]
    Io(String),
}

impl CsvError {
    /// The line number, when the error is about one line.
    pub fn line(&self) -> Option<u64> {
        match self {
            CsvError::Header { .. } => Some(1),
            CsvError::Line { line, .. } => Some(*line),
            CsvError::Io(_) => None,
        }
    }
}

/// Reads `user_id,<second>` rows, calling `row(line, user_id, value)` for each. `row` may
/// refuse a value with a reason, which becomes a [`CsvError::Line`]. Returns the row count.
///
/// ```
/// use server::ingest::csv::{read_rows, CsvError};
/// let mut seen = Vec::new();
/// let n = read_rows("user_id,value\nu1,female\n\"u,2\",male\n".as_bytes(), "value", |_, u, v| {
///     seen.push((u.to_owned(), v.to_owned()));
///     Ok(())
/// }).unwrap();
/// assert_eq!(n, 2);
/// assert_eq!(seen[1].0, "u,2");
/// let err = read_rows("user_id,value\nu1\n".as_bytes(), "value", |_, _, _| Ok(())).unwrap_err();
/// assert_eq!(err.line(), Some(2));
/// ```
pub fn read_rows<R: Read>(
    input: R,
    second: &str,
    mut row: impl FnMut(u64, &str, &str) -> Result<(), String>,
) -> Result<u64, CsvError> {
    // `\n` alone ends a record: with the default CRLF handling the csv crate numbers the lines
    // of CRLF files one short. A `\r` left at the end of the last field is trimmed below.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(input);
    let mut record = csv::StringRecord::new();
    let expected = format!("user_id,{second}");
    let line_of = |r: &csv::StringRecord| r.position().map_or(0, |p| p.line());
    let read = |reader: &mut csv::Reader<R>, record: &mut csv::StringRecord| {
        reader.read_record(record).map_err(|e| match e.kind() {
            csv::ErrorKind::Utf8 { pos, .. } => {
                CsvError::Line { line: pos.as_ref().map_or(0, |p| p.line()), reason: "not valid UTF-8".into() }
            }
            csv::ErrorKind::Io(io) => CsvError::Io(io.to_string()),
            _ => CsvError::Line { line: e.position().map_or(0, |p| p.line()), reason: e.to_string() },
        })
    };
    if !read(&mut reader, &mut record)? {
        return Err(CsvError::Header { expected, found: String::new() });
    }
    let header: Vec<&str> = record.iter().map(|f| f.trim().trim_start_matches('\u{feff}').trim()).collect();
    if header != ["user_id", second] {
        return Err(CsvError::Header { expected, found: header.join(",") });
    }
    let mut rows = 0u64;
    while read(&mut reader, &mut record)? {
        let line = line_of(&record);
        if record.len() != 2 {
            return Err(CsvError::Line { line, reason: format!("expected 2 columns, found {}", record.len()) });
        }
        let (user, value) = (record[0].trim(), record[1].trim());
        if user.is_empty() {
            return Err(CsvError::Line { line, reason: "empty user_id".into() });
        }
        if user.len() > MAX_USER_ID_BYTES {
            return Err(CsvError::Line { line, reason: format!("user_id longer than {MAX_USER_ID_BYTES} bytes") });
        }
        if value.is_empty() {
            return Err(CsvError::Line { line, reason: format!("empty {second}") });
        }
        row(line, user, value).map_err(|reason| CsvError::Line { line, reason })?;
        rows += 1;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> CsvError {
        read_rows(text.as_bytes(), "value", |_, _, v| if v == "bad" { Err("bad value".into()) } else { Ok(()) })
            .expect_err("must fail")
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(err("").line(), Some(1));
        assert!(matches!(err("id,value\nu1,a\n"), CsvError::Header { .. }));
        assert_eq!(
            err("user_id,value\nu1,a\nu2\n"),
            CsvError::Line { line: 3, reason: "expected 2 columns, found 1".into() }
        );
        assert_eq!(err("user_id,value\nu1,a,b\n").line(), Some(2));
        assert_eq!(err("user_id,value\n,a\n"), CsvError::Line { line: 2, reason: "empty user_id".into() });
        assert_eq!(err("user_id,value\nu1,\n"), CsvError::Line { line: 2, reason: "empty value".into() });
        assert_eq!(err("user_id,value\nu1,a\nu2,bad\n"), CsvError::Line { line: 3, reason: "bad value".into() });
        assert_eq!(err(&format!("user_id,value\n{},a\n", "x".repeat(257))).line(), Some(2));
        let bytes = b"user_id,value\nu1,\xff\n";
        let e = read_rows(&bytes[..], "value", |_, _, _| Ok(())).expect_err("utf-8");
        assert_eq!(e.line(), Some(2));
    }

    #[test]
    fn accepts_bom_crlf_quotes_and_trailing_newline() {
        let mut rows = Vec::new();
        let n = read_rows("\u{feff}user_id,value\r\nu1,a\r\n\"u 2\",\"b, c\"\r\n".as_bytes(), "value", |l, u, v| {
            rows.push((l, u.to_owned(), v.to_owned()));
            Ok(())
        })
        .expect("valid");
        assert_eq!(n, 2);
        assert_eq!(rows[1], (3, "u 2".to_owned(), "b, c".to_owned()));
    }
}
