//! The engine's errors, one type per boundary: bytes ([`FormatError`]), bitmaps from a data
//! warehouse ([`BitmapError`]), rules ([`RuleError`]), evaluation against loaded data
//! ([`EvalError`]).

use thiserror::Error;

/// Why bytes could not be decoded (a blob, a bitmap, a manifest).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FormatError {
    /// The bytes do not start with the expected magic.
    #[error("not a {expected} (bad magic bytes)")]
    BadMagic {
        /// What the bytes were expected to be.
        expected: &'static str,
    },
    /// Written by a format version this build cannot read.
    #[error("format version {found} is not supported (this build reads {supported})")]
    IncompatibleVersion {
        /// The version in the bytes.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The payload encoding byte is unknown.
    #[error("unknown payload encoding {0}")]
    UnknownEncoding(u8),
    /// The bytes end before the structure does.
    #[error("truncated: needed {needed} bytes, got {got}")]
    Truncated {
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes there were.
        got: usize,
    },
    /// Bytes follow the end of the structure.
    #[error("{extra} unexpected bytes after the end")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// The payload does not match its checksum.
    #[error("checksum mismatch: expected {expected:#010x}, got {got:#010x}")]
    ChecksumMismatch {
        /// The checksum stored in the header.
        expected: u32,
        /// The checksum of the bytes received.
        got: u32,
    },
    /// The content does not hash to the address it was fetched by.
    #[error("content hash mismatch: expected {expected}, got {got}")]
    HashMismatch {
        /// The address.
        expected: String,
        /// The hash of the bytes.
        got: String,
    },
    /// The structure is internally inconsistent.
    #[error("malformed: {0}")]
    Malformed(String),
}

/// Why bitmap bytes from a data warehouse (a ClickHouse `groupBitmap` state or a roaring
/// portable bitmap, see [`crate::warehouse`]) were refused. Its `Display` is written for the data
/// engineer who uploaded them: it names the format the bytes looked like and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BitmapError {
    /// No bytes at all.
    #[error("empty: no bitmap bytes")]
    Empty,
    /// The bytes start like none of the formats.
    #[error(
        "not a bitmap: starts with bytes {}; expected a ClickHouse groupBitmap state (first byte 00 or 01) \
         or a roaring portable bitmap (first bytes 3a 30 or 3b 30)",
        hex_prefix(.start, *.len)
    )]
    NotABitmap {
        /// The first bytes (at most [`BitmapError::SHOWN_BYTES`]).
        start: Vec<u8>,
        /// How many bytes there were in all.
        len: usize,
    },
    /// A well-formed 64-bit bitmap: user ids are 32-bit.
    #[error("a 64-bit bitmap ({0}): only 32-bit user ids are supported")]
    SixtyFourBit(Bitmap64),
    /// A varint (ClickHouse `writeVarUInt`, LEB128) that is cut short, longer than needed or
    /// larger than 64 bits.
    #[error("a ClickHouse {field} is not a valid varint: {problem}")]
    Varint {
        /// Which number it was (`small set's id count`, `state's byte length`).
        field: &'static str,
        /// What is wrong with it.
        problem: VarintProblem,
    },
    /// A ClickHouse small set declaring more ids than a small set holds.
    #[error("a ClickHouse small set declares {declared} ids, more than the {max} it can hold")]
    SmallSetTooLarge {
        /// Ids declared.
        declared: u64,
        /// The most a small set holds.
        max: usize,
    },
    /// A ClickHouse small set whose ids take other than 4 bytes each.
    #[error(
        "a ClickHouse small set of {declared} id{} needs {needed} bytes of 4-byte ids, got {got}",
        if *.declared == 1 { "" } else { "s" }
    )]
    SmallSetLength {
        /// Ids declared.
        declared: usize,
        /// Bytes those ids take.
        needed: usize,
        /// Bytes there were after the count.
        got: usize,
    },
    /// A ClickHouse small set naming an id twice (ClickHouse's small set is a set).
    #[error("a ClickHouse small set lists id {0} twice")]
    SmallSetDuplicate(u32),
    /// A ClickHouse large state whose declared length is not the bytes that follow.
    #[error("a ClickHouse groupBitmap state declares {declared} bytes of roaring bitmap, but {got} follow")]
    LargeStateLength {
        /// The declared length.
        declared: u64,
        /// Bytes there were after it.
        got: usize,
    },
    /// A ClickHouse large state whose roaring bitmap is invalid.
    #[error("a ClickHouse groupBitmap state holds an invalid roaring bitmap: {0}")]
    LargeStateBitmap(FormatError),
    /// Bytes with the roaring portable cookie that are not a valid portable bitmap.
    #[error("not a valid roaring portable bitmap: {0}")]
    Portable(FormatError),
}

impl BitmapError {
    /// How many leading bytes [`BitmapError::NotABitmap`] keeps and shows.
    pub const SHOWN_BYTES: usize = 8;
}

/// `7b 22 69 …`: the first bytes in hex, and an ellipsis when there were more.
fn hex_prefix(start: &[u8], len: usize) -> String {
    let mut out: Vec<String> = start.iter().map(|b| format!("{b:02x}")).collect();
    if len > start.len() {
        out.push("…".to_owned());
    }
    out.join(" ")
}

/// The 64-bit layouts recognised (and refused) by [`crate::warehouse::decode_bitmap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bitmap64 {
    /// `AggregateFunction(groupBitmap, UInt64)`, small set: 8-byte ids.
    ClickHouseSmall,
    /// `AggregateFunction(groupBitmap, UInt64)`, large: a `Roaring64Map`.
    ClickHouseLarge,
    /// The 64-bit portable layout on its own (CRoaring `Roaring64Map`, roaring-rs
    /// `RoaringTreemap`).
    Portable,
}

impl std::fmt::Display for Bitmap64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bitmap64::ClickHouseSmall => "ClickHouse UInt64 state, small set",
            Bitmap64::ClickHouseLarge => "ClickHouse UInt64 state",
            Bitmap64::Portable => "64-bit roaring portable format, as RoaringTreemap or Roaring64Map write it",
        })
    }
}

/// What is wrong with a varint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum VarintProblem {
    /// The bytes end inside it.
    #[error("the bytes end inside it")]
    Truncated,
    /// Written with more bytes than its value needs (ClickHouse never does that).
    #[error("overlong encoding (more bytes than its value needs)")]
    Overlong,
    /// Larger than 64 bits.
    #[error("larger than 64 bits")]
    Overflow,
}

/// A rule that cannot be evaluated, with the JSON path of the offending node
/// (`all[2].any[0].not`; the root is `$`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{path}: {reason}")]
pub struct RuleError {
    /// Where in the rule the problem is.
    pub path: String,
    /// What is wrong there.
    pub reason: RuleErrorReason,
}

/// What is wrong with a rule node.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuleErrorReason {
    /// The text is not JSON at all.
    #[error("not valid JSON: {0}")]
    Json(String),
    /// A node has the wrong JSON type or shape.
    #[error("{0}")]
    Shape(String),
    /// A tag group the snapshot does not have.
    #[error("unknown tag group `{0}`")]
    UnknownTag(String),
    /// A value the tag group does not have.
    #[error("tag group `{group}` has no value `{value}`")]
    UnknownValue {
        /// The group.
        group: String,
        /// The value asked for.
        value: String,
    },
    /// A segment the catalog does not have.
    #[error("unknown segment `{0}`")]
    UnknownSegment(String),
    /// An event never uploaded on the retained days.
    #[error("unknown event `{0}`: it was not uploaded on any retained day")]
    UnknownEvent(String),
    /// A window longer than the days the app keeps.
    #[error("a window of {days} days reaches beyond the {retained} retained days")]
    WindowTooLong {
        /// The window asked for.
        days: u32,
        /// Days kept.
        retained: u32,
    },
    /// A numeric test on a group of named values, or `in` on a numeric group.
    #[error("tag group `{group}` is {actual}: {hint}")]
    WrongKind {
        /// The group.
        group: String,
        /// What the group is (`numeric`, `not numeric`).
        actual: &'static str,
        /// What to write instead.
        hint: &'static str,
    },
    /// A constant that cannot be compared (not a decimal, out of range, `between` reversed).
    #[error("{0}")]
    BadNumber(String),
    /// An `all`/`any` with no members, or an `in` with no values.
    #[error("empty {0}: it needs at least one member")]
    Empty(&'static str),
    /// Nesting deeper than the limit.
    #[error("nesting deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// More nodes than the limit.
    #[error("more than {limit} nodes")]
    TooManyNodes {
        /// The limit.
        limit: usize,
    },
}

impl RuleError {
    pub(crate) fn new(path: &str, reason: RuleErrorReason) -> RuleError {
        let path = if path.is_empty() { "$".to_owned() } else { path.to_owned() };
        RuleError { path, reason }
    }
}

/// Evaluation failed because data the plan needs is not loaded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EvalError {
    /// The bitmap for a tag value is not loaded (the caller fetches it and tries again).
    #[error("bitmap for {group}={value} is not loaded")]
    MissingTagValue {
        /// The group.
        group: String,
        /// The value.
        value: String,
    },
    /// The members of a segment are not loaded.
    #[error("members of segment `{0}` are not loaded")]
    MissingSegment(String),
    /// The column of a numeric group is not loaded.
    #[error("column of numeric tag `{0}` is not loaded")]
    MissingColumn(String),
    /// An event's counts for a day of its window are not loaded.
    #[error("counts of event `{event}` on {ds} are not loaded")]
    MissingEventDay {
        /// The event.
        event: String,
        /// The day.
        ds: String,
    },
}
