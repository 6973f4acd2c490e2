//! Segment members in and out of the app (issue 17): the formats a member list downloads in
//! (CSV always; ClickHouse `groupBitmap` and portable roaring for apps with `u32` ids), its
//! file name and progress line, and the uploaded list of a static segment from a file: the
//! header the server needs, and its accounting in words. Plain Rust, tested natively.

use wire::{IdKind, MembersReport};

use crate::format;

/// The header of a member list (`crate::ingest`'s `MEMBER_HEADER` on the server).
pub const HEADER: &str = "user_id";

/// How a member list downloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One `user_id` per line.
    Csv,
    /// ClickHouse's `groupBitmap` state (load it with `bitmap…` functions).
    ClickHouse,
    /// A portable roaring bitmap (CRoaring, roaring-rs, Java's RoaringBitmap).
    Roaring,
}

impl Format {
    /// The formats an app's ids allow: bitmaps hold `u32` ids only.
    ///
    /// ```
    /// use app::members::Format;
    /// assert_eq!(Format::offered(wire::IdKind::Strings), vec![Format::Csv]);
    /// assert_eq!(Format::offered(wire::IdKind::U32).len(), 3);
    /// ```
    pub fn offered(ids: IdKind) -> Vec<Format> {
        match ids {
            IdKind::U32 => vec![Format::Csv, Format::ClickHouse, Format::Roaring],
            _ => vec![Format::Csv],
        }
    }

    /// Its name in the export's `format` query.
    pub const fn key(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::ClickHouse => "clickhouse",
            Format::Roaring => "roaring",
        }
    }

    /// Its label in the app.
    pub const fn label(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::ClickHouse => "ClickHouse bitmap",
            Format::Roaring => "Roaring bitmap",
        }
    }

    /// The file's media type.
    pub const fn mime(self) -> &'static str {
        match self {
            Format::Csv => "text/csv",
            _ => "application/octet-stream",
        }
    }

    /// The downloaded file's name.
    ///
    /// ```
    /// use app::members::Format;
    /// assert_eq!(Format::Csv.file_name("vip", "2026-11-20"), "vip-2026-11-20.csv");
    /// assert_eq!(Format::ClickHouse.file_name("vip", "2026-11-20"), "vip-2026-11-20.groupbitmap");
    /// ```
    pub fn file_name(self, segment: &str, ds: &str) -> String {
        let extension = match self {
            Format::Csv => "csv",
            Format::ClickHouse => "groupbitmap",
            Format::Roaring => "roaring",
        };
        format!("{segment}-{ds}.{extension}")
    }

    /// The format named `key`, CSV for anything else.
    pub fn from_key(key: &str) -> Format {
        [Format::Csv, Format::ClickHouse, Format::Roaring].into_iter().find(|f| f.key() == key).unwrap_or(Format::Csv)
    }
}

/// A download's progress line: bytes so far and, for a CSV whose member count is known, the
/// share of its rows.
///
/// ```
/// assert_eq!(app::members::progress(52_000, Some(2_500), Some(10_000)), "Downloading… 52.0 KB, 2,500 of 10,000 users (25%)");
/// assert_eq!(app::members::progress(1_000, None, None), "Downloading… 1.0 KB");
/// ```
pub fn progress(bytes: u64, rows: Option<u64>, expected: Option<u64>) -> String {
    match (rows, expected) {
        (Some(rows), Some(total)) if total > 0 => format!(
            "Downloading… {}, {} of {} users ({}%)",
            format::bytes(bytes),
            format::int(rows.min(total)),
            format::int(total),
            rows.min(total) * 100 / total
        ),
        _ => format!("Downloading… {}", format::bytes(bytes)),
    }
}

/// A file's text as the list the server takes: with the `user_id` header first (added when the
/// file is a bare list of ids), and whether it was added (the server's line numbers are then
/// one past the file's).
///
/// ```
/// use app::members::as_upload;
/// assert_eq!(as_upload("user_id\nu1\n"), ("user_id\nu1\n".to_owned(), false));
/// assert_eq!(as_upload("\u{feff}u1\r\nu2"), ("user_id\nu1\r\nu2".to_owned(), true));
/// ```
pub fn as_upload(text: &str) -> (String, bool) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.lines().next().unwrap_or("").trim();
    if first == HEADER { (text.to_owned(), false) } else { (format!("{HEADER}\n{text}"), true) }
}

/// The upload's accounting in words, with the first bad lines in the file's own numbering.
///
/// ```
/// let r = wire::MembersReport { rows: 6, accepted: 3, duplicate: 1, unknown: 1, malformed: 1,
///     unknown_lines: vec![4], malformed_lines: vec![6], members: 3, revision: 2 };
/// let lines = app::members::report_lines(&r, true);
/// assert_eq!(lines[0], "6 rows: 3 accepted, 1 duplicate, 1 unknown user, 1 malformed.");
/// assert_eq!(lines[1], "Unknown users on line 3.");
/// assert_eq!(lines[2], "Malformed on line 5.");
/// ```
pub fn report_lines(r: &MembersReport, header_added: bool) -> Vec<String> {
    let plural = |n: u64, one: &str, many: &str| format!("{} {}", format::int(n), if n == 1 { one } else { many });
    let mut out = vec![format!(
        "{}: {} accepted, {}, {}, {} malformed.",
        plural(r.rows, "row", "rows"),
        format::int(r.accepted),
        plural(r.duplicate, "duplicate", "duplicates"),
        plural(r.unknown, "unknown user", "unknown users"),
        format::int(r.malformed)
    )];
    let shift = u64::from(header_added);
    let lines = |what: &str, lines: &[u64]| {
        let numbers: Vec<String> = lines.iter().map(|l| format::int(l.saturating_sub(shift))).collect();
        let word = if numbers.len() == 1 { "line" } else { "lines" };
        format!("{what} on {word} {}.", numbers.join(", "))
    };
    if !r.unknown_lines.is_empty() {
        out.push(lines("Unknown users", &r.unknown_lines));
    }
    if !r.malformed_lines.is_empty() {
        out.push(lines("Malformed", &r.malformed_lines));
    }
    out
}
