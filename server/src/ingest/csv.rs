//! The one CSV reader of every upload (tag groups, events, static member lists): RFC 4180
//! quoting, errors that name the line and the column, and memory bounded whatever the input.
//!
//! Line 1 is the header; rows are numbered as a text editor shows them (a row is named by
//! the line it starts on, so a quoted field spanning lines does not shift later numbers).
//!
//! **Bounded.** The tokenizer is `csv-core`, which writes each field into a buffer we give it.
//! Ours hold [`MAX_FIELD_BYTES`] (plus a CRLF's `\r`), so a field that grows past the bound is
//! refused on the byte that crosses it, and a record's raw bytes are capped at
//! [`MAX_LINE_BYTES`] (extra columns, quoting), so neither a 1 GB field nor a 1 GB line of
//! commas is ever held: memory is a few kilobytes per reader, not the length of the longest
//! line (the `csv` crate's records grew with it: 1.9 GB resident for a 1 GB line).
//!
//! A file whose last column holds a bitmap (`value,bitmap`, base64) names a larger bound for
//! that column ([`Reader::with_last_column`]); its buffer grows with the field as it arrives,
//! up to that bound, and the line's bound grows by as much (twice, for quoting).
//!
//! **Push-based.** [`Reader::feed`] takes the input in chunks as they arrive, so an upload is
//! checked while it streams (a bad header or an over-long line is answered before the rest of
//! the body is sent) and parsed again from the spooled file by the same code ([`read_rows`]).
//!
//! Decisions: fields are trimmed of surrounding whitespace (`u1, female`), so ids never start
//! or end with it; a line that is empty or only whitespace is not a row; a UTF-8 byte-order
//! mark before the header is ignored; `\n` ends a record (a `\r` before it is dropped), and
//! quoted fields may hold delimiters, quotes (doubled) and line breaks.

use std::io::Read;

/// Longest field accepted, in bytes as written (quotes removed, surrounding spaces counted):
/// ids are at most 256 bytes ([`crate::auth::MAX_USER_ID_BYTES`]) and so are tag values.
pub const MAX_FIELD_BYTES: usize = 256;
/// Longest record accepted, in raw bytes (quotes, delimiters and the line break counted).
/// Two fields at the bound, fully quoted with every byte a doubled quote, take 1,031 bytes.
pub const MAX_LINE_BYTES: usize = 2048;
/// Most columns a header may name.
const MAX_COLUMNS: usize = 2;
/// A field buffer: the bound, plus the `\r` of a CRLF line, plus one byte to see the overflow.
const FIELD_CAPACITY: usize = MAX_FIELD_BYTES + 2;

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
    #[error("line {line}{}: {reason}", column.map(|c| format!(", column {c}")).unwrap_or_default())]
    Line {
        /// 1-based line number.
        line: u64,
        /// 1-based column, when the fault is in one field.
        column: Option<usize>,
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

    /// The 1-based column, when the error is about one field.
    pub fn column(&self) -> Option<usize> {
        match self {
            CsvError::Line { column, .. } => *column,
            _ => None,
        }
    }
}

/// Why a row's callback refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based column at fault, if one.
    pub column: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl RowError {
    /// A fault in one column.
    pub fn at(column: usize, reason: impl Into<String>) -> RowError {
        RowError { column: Some(column), reason: reason.into() }
    }
}

impl From<String> for RowError {
    fn from(reason: String) -> RowError {
        RowError { column: None, reason }
    }
}

/// One data row: its line, its first fields (trimmed), and how many fields it had.
#[derive(Debug)]
pub struct Row<'a> {
    /// The line the row starts on.
    pub line: u64,
    /// How many fields the row had (fields past the header's count are checked, not kept).
    pub columns: usize,
    kept: usize,
    fields: [&'a str; MAX_COLUMNS],
}

impl<'a> Row<'a> {
    /// The `i`-th field (0-based), trimmed, if the row has it and the header names it.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        (i < self.kept).then(|| self.fields[i])
    }
}

/// A streaming CSV reader for a fixed header; see the module docs.
pub struct Reader {
    core: csv_core::Reader,
    header: &'static [&'static str],
    /// Field bytes of the current record: one buffer per header column, then a scratch buffer
    /// where fields past the header's columns are read (checked, then dropped).
    buffers: [Vec<u8>; MAX_COLUMNS + 1],
    lens: [usize; MAX_COLUMNS + 1],
    /// The longest field of each buffer, and of a record's raw bytes.
    bounds: [usize; MAX_COLUMNS + 1],
    max_line: usize,
    /// Index of the field being read in the current record.
    field: usize,
    /// The line of the current position, and of the current record's start.
    line: u64,
    record_line: u64,
    record_bytes: usize,
    /// Between records (line breaks here are blank lines, skipped).
    between: bool,
    header_seen: bool,
    rows: u64,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("header", &self.header).field("line", &self.line).finish()
    }
}

impl Reader {
    /// A reader for files whose header is `header` (one or two columns).
    ///
    /// # Panics
    /// When `header` names no column or more than two (a programming error).
    pub fn new(header: &'static [&'static str]) -> Reader {
        assert!((1..=MAX_COLUMNS).contains(&header.len()), "a header of 1 to {MAX_COLUMNS} columns");
        Reader {
            core: csv_core::ReaderBuilder::new().terminator(csv_core::Terminator::Any(b'\n')).build(),
            header,
            buffers: std::array::from_fn(|_| vec![0; FIELD_CAPACITY]),
            lens: [0; MAX_COLUMNS + 1],
            bounds: [MAX_FIELD_BYTES; MAX_COLUMNS + 1],
            max_line: MAX_LINE_BYTES,
            field: 0,
            line: 1,
            record_line: 1,
            record_bytes: 0,
            between: true,
            header_seen: false,
            rows: 0,
        }
    }

    /// A reader whose last column may hold up to `max_bytes` (a base64 bitmap); the others
    /// keep [`MAX_FIELD_BYTES`].
    ///
    /// ```
    /// use server::ingest::csv::{Reader, RowError};
    /// let mut r = Reader::with_last_column(&["value", "bitmap"], 1000);
    /// let mut got = Vec::new();
    /// let text = format!("value,bitmap\nv1,{}\n", "A".repeat(900));
    /// r.feed(text.as_bytes(), &mut |row| { got.push(row.get(1).unwrap_or_default().len()); Ok::<(), RowError>(()) }).unwrap();
    /// assert_eq!(got, [900]);
    /// let long = format!("value,bitmap\nv1,{}\n", "A".repeat(1001));
    /// let err = Reader::with_last_column(&["value", "bitmap"], 1000).feed(long.as_bytes(), &mut |_| Ok(())).unwrap_err();
    /// assert_eq!((err.line(), err.column()), (Some(2), Some(2)));
    /// ```
    pub fn with_last_column(header: &'static [&'static str], max_bytes: usize) -> Reader {
        let mut reader = Reader::new(header);
        let last = header.len() - 1;
        reader.bounds[last] = max_bytes.max(MAX_FIELD_BYTES);
        reader.max_line = MAX_LINE_BYTES.saturating_add((reader.bounds[last] - MAX_FIELD_BYTES).saturating_mul(2));
        reader
    }

    /// Reads the next chunk of input, calling `row` for each complete data row.
    ///
    /// # Errors
    /// The first problem met: header, bounds, UTF-8, or a row `row` refused.
    pub fn feed(
        &mut self,
        mut input: &[u8],
        row: &mut impl FnMut(&Row<'_>) -> Result<(), RowError>,
    ) -> Result<(), CsvError> {
        while !input.is_empty() {
            if self.between {
                // Blank lines between records are not rows; skipping them here (csv-core would
                // too) lets each record know the line it starts on.
                let blank = input.iter().take_while(|&&b| b == b'\n').count();
                self.line += blank as u64;
                input = &input[blank..];
                if input.is_empty() {
                    break;
                }
                self.start_record();
            }
            let slot = self.slot();
            let filled = self.lens[slot];
            // A column with a large bound grows its buffer as its field arrives.
            if filled == self.buffers[slot].len() && filled < self.bounds[slot] + 2 {
                let grown = (filled * 2).clamp(FIELD_CAPACITY, self.bounds[slot] + 2);
                self.buffers[slot].resize(grown, 0);
            }
            let (result, nin, nout) = self.core.read_field(input, &mut self.buffers[slot][filled..]);
            self.line += input[..nin].iter().filter(|&&b| b == b'\n').count() as u64;
            self.record_bytes += nin;
            self.lens[slot] += nout;
            input = &input[nin..];
            self.step(result, row)?;
        }
        Ok(())
    }

    /// Ends the input: reads a last row without a final line break. Returns the data rows read.
    ///
    /// # Errors
    /// As [`Reader::feed`]; an input without a header is a header error.
    pub fn finish(mut self, row: &mut impl FnMut(&Row<'_>) -> Result<(), RowError>) -> Result<u64, CsvError> {
        if !self.between {
            loop {
                let (result, _, _) = self.core.read_field(&[], &mut []);
                if result == csv_core::ReadFieldResult::End {
                    break;
                }
                self.step(result, row)?;
                if self.between {
                    break;
                }
            }
        }
        if !self.header_seen {
            return Err(CsvError::Header { expected: self.header.join(","), found: String::new() });
        }
        Ok(self.rows)
    }

    fn start_record(&mut self) {
        self.between = false;
        self.record_line = self.line;
        self.record_bytes = 0;
        self.field = 0;
        self.lens = [0; MAX_COLUMNS + 1];
    }

    /// The buffer the current field goes to: its column's, or the scratch one past the header.
    fn slot(&self) -> usize {
        self.field.min(self.header.len())
    }

    fn line_error(&self, column: Option<usize>, reason: impl Into<String>) -> CsvError {
        CsvError::Line { line: self.record_line, column, reason: reason.into() }
    }

    /// Acts on what the tokenizer said after a read.
    fn step(
        &mut self,
        result: csv_core::ReadFieldResult,
        row: &mut impl FnMut(&Row<'_>) -> Result<(), RowError>,
    ) -> Result<(), CsvError> {
        use csv_core::ReadFieldResult::{End, Field, InputEmpty, OutputFull};
        if self.record_bytes > self.max_line {
            return Err(self.line_error(None, format!("line longer than {} bytes", self.max_line)));
        }
        match result {
            InputEmpty | End => Ok(()),
            // The buffer is full: grown on the next read while under the column's bound.
            OutputFull if self.lens[self.slot()] < self.bounds[self.slot()] + 2 => Ok(()),
            OutputFull => Err(self.too_long()),
            Field { record_end } => self.end_field(record_end, row),
        }
    }

    fn too_long(&self) -> CsvError {
        let what = self.header.get(self.field).map_or_else(|| "field".to_owned(), |name| format!("`{name}`"));
        let bound = self.bounds[self.slot()];
        self.line_error(Some(self.field + 1), format!("{what} longer than {bound} bytes"))
    }

    fn end_field(
        &mut self,
        record_end: bool,
        row: &mut impl FnMut(&Row<'_>) -> Result<(), RowError>,
    ) -> Result<(), CsvError> {
        let slot = self.slot();
        let mut len = self.lens[slot];
        // The `\r` of a CRLF line is not part of the last field.
        if record_end && len > 0 && self.buffers[slot][len - 1] == b'\r' {
            len -= 1;
        }
        self.lens[slot] = len;
        if len > self.bounds[slot] {
            return Err(self.too_long());
        }
        if std::str::from_utf8(&self.buffers[slot][..len]).is_err() {
            return Err(self.line_error(Some(self.field + 1), "not valid UTF-8"));
        }
        if slot == self.header.len() {
            self.lens[slot] = 0; // an extra column: checked, not kept
        }
        self.field += 1;
        if record_end {
            self.between = true;
            self.end_record(row)?;
        }
        Ok(())
    }

    fn end_record(&mut self, row: &mut impl FnMut(&Row<'_>) -> Result<(), RowError>) -> Result<(), CsvError> {
        let columns = self.field;
        let kept = columns.min(self.header.len());
        let mut fields = [""; MAX_COLUMNS];
        for (i, field) in fields.iter_mut().enumerate().take(kept) {
            // Each field was checked to be UTF-8 when it ended.
            *field = std::str::from_utf8(&self.buffers[i][..self.lens[i]]).unwrap_or_default().trim();
        }
        if columns == 1 && fields[0].is_empty() {
            return Ok(()); // a line of spaces (or a CRLF blank line) is not a row
        }
        if !self.header_seen {
            fields[0] = fields[0].trim_start_matches('\u{feff}').trim();
            if columns != self.header.len() || fields[..kept] != *self.header {
                let more = if columns > kept { ",…" } else { "" };
                return Err(CsvError::Header {
                    expected: self.header.join(","),
                    found: fields[..kept].join(",") + more,
                });
            }
            self.header_seen = true;
            return Ok(());
        }
        let data = Row { line: self.record_line, columns, kept, fields };
        row(&data).map_err(|e| CsvError::Line { line: self.record_line, column: e.column, reason: e.reason })?;
        self.rows += 1;
        Ok(())
    }
}

/// Reads a whole input with [`Reader`] in 1 MiB chunks, calling `row` for each data row.
/// Returns the number of data rows.
///
/// ```
/// use server::ingest::csv::{read_rows, RowError};
/// let mut seen = Vec::new();
/// let text = "user_id,value\nu1,female\n\"u,2\",\"say \"\"hi\"\"\"\n";
/// let n = read_rows(text.as_bytes(), &["user_id", "value"], |row| {
///     seen.push((row.get(0).unwrap_or_default().to_owned(), row.get(1).unwrap_or_default().to_owned()));
///     Ok::<(), RowError>(())
/// }).unwrap();
/// assert_eq!(n, 2);
/// assert_eq!(seen[1], ("u,2".to_owned(), "say \"hi\"".to_owned()));
/// let bytes = b"user_id,value\nu1,\xff\n";
/// let err = read_rows(&bytes[..], &["user_id", "value"], |_| Ok(())).unwrap_err();
/// assert_eq!((err.line(), err.column()), (Some(2), Some(2)));
/// ```
///
/// # Errors
/// As [`Reader::feed`], or [`CsvError::Io`] when reading fails.
pub fn read_rows<R: Read>(
    input: R,
    header: &'static [&'static str],
    row: impl FnMut(&Row<'_>) -> Result<(), RowError>,
) -> Result<u64, CsvError> {
    read_with(input, Reader::new(header), row)
}

/// [`read_rows`] with a larger bound for the last column ([`Reader::with_last_column`]).
///
/// # Errors
/// As [`read_rows`].
pub fn read_rows_bounded<R: Read>(
    input: R,
    header: &'static [&'static str],
    last_column_bytes: usize,
    row: impl FnMut(&Row<'_>) -> Result<(), RowError>,
) -> Result<u64, CsvError> {
    read_with(input, Reader::with_last_column(header, last_column_bytes), row)
}

fn read_with<R: Read>(
    mut input: R,
    mut reader: Reader,
    mut row: impl FnMut(&Row<'_>) -> Result<(), RowError>,
) -> Result<u64, CsvError> {
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CsvError::Io(e.to_string())),
        };
        reader.feed(&buf[..n], &mut row)?;
    }
    reader.finish(&mut row)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAIR: &[&str] = &["user_id", "value"];

    /// Rows of `text` as (line, fields), fed in chunks of `chunk` bytes.
    fn rows_in_chunks(
        text: &[u8],
        header: &'static [&'static str],
        chunk: usize,
    ) -> Result<Vec<(u64, Vec<String>)>, CsvError> {
        let mut out = Vec::new();
        let mut row = |r: &Row<'_>| {
            let fields = (0..r.columns).filter_map(|i| r.get(i)).map(str::to_owned).collect();
            out.push((r.line, fields));
            Ok(())
        };
        let mut reader = Reader::new(header);
        for piece in text.chunks(chunk.max(1)) {
            reader.feed(piece, &mut row)?;
        }
        reader.finish(&mut row)?;
        Ok(out)
    }

    fn err(text: &str) -> CsvError {
        read_rows(text.as_bytes(), PAIR, |r| {
            if r.get(1) == Some("bad") { Err(RowError::at(2, "bad value")) } else { Ok(()) }
        })
        .expect_err("must fail")
    }

    #[test]
    fn errors_name_the_line_and_column() {
        assert_eq!(err("").line(), Some(1));
        assert!(matches!(err("id,value\nu1,a\n"), CsvError::Header { .. }));
        assert!(matches!(err("user_id,value,extra\nu1,a\n"), CsvError::Header { .. }));
        assert_eq!(
            err("user_id,value\nu1,a\nu2,bad\n"),
            CsvError::Line { line: 3, column: Some(2), reason: "bad value".into() }
        );
        let long = err(&format!("user_id,value\nu1,a\n{},a\n", "x".repeat(257)));
        assert_eq!((long.line(), long.column()), (Some(3), Some(1)), "{long}");
        assert!(long.to_string().contains("`user_id` longer than 256 bytes"), "{long}");
        let long = err(&format!("user_id,value\nu1,{}\n", "v".repeat(300)));
        assert_eq!((long.line(), long.column()), (Some(2), Some(2)));
        // Exactly at the bound is fine, with or without a CRLF.
        let at = format!("user_id,value\r\n{},{}\r\n", "x".repeat(256), "y".repeat(256));
        assert_eq!(rows_in_chunks(at.as_bytes(), PAIR, 7).expect("at the bound")[0].1[1].len(), 256);
        // Invalid UTF-8: in a value, in an id, in the header.
        for (bytes, line, column) in [
            (&b"user_id,value\nu1,\xff\n"[..], 2, 2),
            (&b"user_id,value\nu1,a\n\xc3(,a\n"[..], 3, 1),
            (&b"user_id,val\xffue\nu1,a\n"[..], 1, 2),
        ] {
            let e = read_rows(bytes, PAIR, |_| Ok(())).expect_err("utf-8");
            assert_eq!((e.line(), e.column()), (Some(line), Some(column)), "{e}");
            assert!(e.to_string().contains("UTF-8"), "{e}");
        }
    }

    #[test]
    fn rfc4180_quoting_bom_crlf_and_blank_lines() {
        let text =
            "\u{feff}user_id,value\r\nu1,a\r\n\r\n\"u 2\",\"b, c\"\r\n\"multi\nline\",\"say \"\"hi\"\"\"\n   \nlast,z";
        let rows = rows_in_chunks(text.as_bytes(), PAIR, 1 << 20).expect("valid");
        assert_eq!(
            rows,
            vec![
                (2, vec!["u1".to_owned(), "a".to_owned()]),
                (4, vec!["u 2".to_owned(), "b, c".to_owned()]),
                (5, vec!["multi\nline".to_owned(), "say \"hi\"".to_owned()]),
                (8, vec!["last".to_owned(), "z".to_owned()]),
            ]
        );
        // Any chunking gives the same rows.
        for chunk in [1, 2, 3, 5, 13] {
            assert_eq!(rows_in_chunks(text.as_bytes(), PAIR, chunk).expect("valid"), rows, "chunks of {chunk}");
        }
    }

    #[test]
    fn extra_columns_are_counted_not_kept() {
        let rows = rows_in_chunks(b"user_id\nu1\nu2,x,y\n", MEMBER, 4).expect("valid");
        assert_eq!(rows, vec![(2, vec!["u1".to_owned()]), (3, vec!["u2".to_owned()])]);
        let mut columns = Vec::new();
        read_rows(&b"user_id\nu1\nu2,x,y\n"[..], MEMBER, |r| {
            columns.push(r.columns);
            Ok(())
        })
        .expect("valid");
        assert_eq!(columns, vec![1, 3]);
    }

    const MEMBER: &[&str] = &["user_id"];

    /// The bounds hold on the byte that crosses them: a huge field or line is refused after a
    /// few hundred bytes, whatever follows, and the reader's size does not depend on the input.
    #[test]
    fn bounds_fail_as_soon_as_crossed() {
        let mut reader = Reader::new(PAIR);
        let mut rows = 0;
        let mut count = |_: &Row<'_>| {
            rows += 1;
            Ok(())
        };
        reader.feed(b"user_id,value\n", &mut count).expect("header");
        let a = vec![b'a'; 64 << 10];
        let e = reader.feed(&a, &mut count).expect_err("a 64 KiB field is refused in its first chunk");
        assert_eq!((e.line(), e.column()), (Some(2), Some(1)));
        // A line of many short fields is refused by the line bound.
        let mut reader = Reader::new(MEMBER);
        reader.feed(b"user_id\n", &mut count).expect("header");
        let commas = ",".repeat(MAX_LINE_BYTES + 1);
        let e = reader.feed(commas.as_bytes(), &mut count).expect_err("line bound");
        assert_eq!(e.line(), Some(2));
        assert!(e.to_string().contains("line longer than 2048 bytes"), "{e}");
        // A quoted field of doubled quotes counts its decoded bytes.
        let quoted = format!("user_id,value\nu1,\"{}\"\n", "\"\"".repeat(257));
        let e = read_rows(quoted.as_bytes(), PAIR, |_| Ok(())).expect_err("decoded field over the bound");
        assert_eq!((e.line(), e.column()), (Some(2), Some(2)));
        assert!(std::mem::size_of::<Reader>() < 4096, "the reader is a few buffers, not the input");
    }

    #[test]
    fn an_uploaded_id_fits_wherever_ids_are_read() {
        // The membership route takes ids in its path up to this length: every uploaded id must fit.
        assert_eq!(MAX_FIELD_BYTES, crate::auth::MAX_USER_ID_BYTES);
    }
}
