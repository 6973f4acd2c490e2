//! The engine's errors, one type per boundary: bytes ([`FormatError`]), rules ([`RuleError`]),
//! evaluation against loaded data ([`EvalError`]).

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
