//! Destination records: checked on the way in ([`validate`], [`validate_patch`]), stored with
//! their secret, answered without it ([`DestinationRecord::view`]).
//!
//! A URL is checked twice: its form here (scheme, host, no credentials), its addresses by the
//! caller with [`super::address::check_host`] (async: the resolver), at creation, on a change,
//! and on every delivery.

use serde::{Deserialize, Serialize};
use wire::{Destination, DestinationInput, DestinationKind, DestinationPatch, FileFormat};

use super::{DEST, ReachError, decode, encode};
use crate::store::Meta;

/// Default ids per webhook request.
pub const DEFAULT_BATCH: u32 = 1_000;
/// Most ids per webhook request (a request of 100,000 ids of 64 bytes is ~7 MB).
pub const MAX_BATCH: u32 = 100_000;
/// Shortest and longest secret, in bytes.
const SECRET_BYTES: std::ops::RangeInclusive<usize> = 16..=256;
/// Longest URL.
const MAX_URL_BYTES: usize = 2_048;

/// A stored destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestinationRecord {
    /// Its id.
    pub id: String,
    /// Webhook or files.
    pub kind: DestinationKind,
    /// Where deliveries go.
    pub url: String,
    /// The webhook's signing secret.
    #[serde(default)]
    pub secret: Option<String>,
    /// Ids per request (webhooks).
    #[serde(default)]
    pub batch_size: Option<u32>,
    /// File format (files).
    #[serde(default)]
    pub format: Option<FileFormat>,
    /// Creation time (ms).
    pub created_ms: u64,
    /// Last change (ms).
    pub updated_ms: u64,
    /// Deleted: kept as a tombstone so a sync naming it fails clearly.
    #[serde(default)]
    pub deleted: bool,
}

impl DestinationRecord {
    /// The answer: everything but the secret.
    pub fn view(&self) -> Destination {
        Destination {
            id: self.id.clone(),
            kind: self.kind,
            url: self.url.clone(),
            batch_size: self.batch_size,
            format: self.format,
            has_secret: self.secret.is_some(),
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
        }
    }

    /// Ids per webhook request.
    pub fn batch(&self) -> u32 {
        self.batch_size.unwrap_or(DEFAULT_BATCH)
    }
}

/// Where a URL points, once its form is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An HTTP(S) host and port, to be resolved and checked.
    Http {
        /// The host (a name or an address literal).
        host: String,
        /// The port.
        port: u16,
    },
    /// A local directory.
    Dir(std::path::PathBuf),
    /// A bucket and a key prefix (empty, or ending in `/`).
    Bucket {
        /// The bucket.
        bucket: String,
        /// The key prefix.
        prefix: String,
    },
}

/// Checks a URL's form for `kind`.
///
/// ```
/// use server::reach::destinations::{target, Target};
/// use wire::DestinationKind::{Files, Webhook};
/// assert_eq!(target(Webhook, "https://hooks.example.com/x").unwrap(), Target::Http { host: "hooks.example.com".into(), port: 443 });
/// assert!(target(Webhook, "ftp://x").is_err());
/// assert!(target(Webhook, "http://user:pw@x/").is_err());
/// assert_eq!(target(Files, "file:///srv/out").unwrap(), Target::Dir("/srv/out".into()));
/// assert!(target(Files, "file://relative").is_err());
/// assert_eq!(target(Files, "s3://out/sieve/").unwrap(), Target::Bucket { bucket: "out".into(), prefix: "sieve/".into() });
/// ```
pub fn target(kind: DestinationKind, url: &str) -> Result<Target, ReachError> {
    let bad = |m: &str| ReachError::invalid("url", m.to_owned());
    if url.is_empty() || url.len() > MAX_URL_BYTES || url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad("a URL of 1 to 2048 bytes without spaces or control characters"));
    }
    match kind {
        DestinationKind::Webhook => {
            let parsed = reqwest::Url::parse(url).map_err(|e| bad(&format!("not a URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(bad("a webhook URL is http:// or https://"));
            }
            if !parsed.username().is_empty() || parsed.password().is_some() {
                return Err(bad("credentials do not go in the URL: the secret signs every request"));
            }
            let host = parsed.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("the URL has no host"))?;
            let port = parsed.port_or_known_default().ok_or_else(|| bad("the URL has no port"))?;
            Ok(Target::Http { host: host.to_owned(), port })
        }
        DestinationKind::Files => match url.strip_prefix("file://") {
            Some(dir) if dir.starts_with('/') && !dir.split('/').any(|p| p == "..") => {
                Ok(Target::Dir(std::path::PathBuf::from(dir)))
            }
            Some(_) => Err(bad("a files URL is file:///absolute/directory, without `..`")),
            None => match url.strip_prefix("s3://").map(|rest| rest.split_once('/').unwrap_or((rest, ""))) {
                Some((bucket, prefix)) if !bucket.is_empty() && !prefix.split('/').any(|p| p == "..") => {
                    let prefix = prefix.trim_matches('/');
                    let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
                    Ok(Target::Bucket { bucket: bucket.to_owned(), prefix })
                }
                _ => Err(bad("a files URL is file:///absolute/directory or s3://bucket[/prefix]")),
            },
        },
    }
}

fn check_secret(secret: &str) -> Result<(), ReachError> {
    if !SECRET_BYTES.contains(&secret.len()) {
        return Err(ReachError::invalid("secret", "a secret is 16 to 256 bytes"));
    }
    Ok(())
}

fn check_batch(batch: u32) -> Result<(), ReachError> {
    if !(1..=MAX_BATCH).contains(&batch) {
        return Err(ReachError::invalid("batch_size", format!("1 to {MAX_BATCH} ids per request")));
    }
    Ok(())
}

/// Checks a new destination (all but its addresses) and makes its record.
///
/// # Errors
/// [`ReachError::InvalidField`] naming the field.
pub fn validate(input: DestinationInput, now_ms: u64) -> Result<(DestinationRecord, Target), ReachError> {
    engine::id::check_id(&input.id).map_err(|e| ReachError::invalid("id", e.to_string()))?;
    let target = target(input.kind, &input.url)?;
    match input.kind {
        DestinationKind::Webhook => {
            let secret =
                input.secret.as_deref().ok_or_else(|| ReachError::invalid("secret", "a webhook needs a secret"))?;
            check_secret(secret)?;
            check_batch(input.batch_size.unwrap_or(DEFAULT_BATCH))?;
            if input.format.is_some() {
                return Err(ReachError::invalid("format", "`format` is for files destinations"));
            }
        }
        DestinationKind::Files => {
            if input.secret.is_some() {
                return Err(ReachError::invalid("secret", "a files destination has no secret"));
            }
            if input.batch_size.is_some() {
                return Err(ReachError::invalid("batch_size", "a files destination writes one file per delivery"));
            }
        }
    }
    let files = input.kind == DestinationKind::Files;
    let record = DestinationRecord {
        id: input.id,
        kind: input.kind,
        url: input.url,
        secret: input.secret,
        batch_size: if files { None } else { Some(input.batch_size.unwrap_or(DEFAULT_BATCH)) },
        format: if files { Some(input.format.unwrap_or_default()) } else { None },
        created_ms: now_ms,
        updated_ms: now_ms,
        deleted: false,
    };
    Ok((record, target))
}

/// Applies a patch to a record; the new URL's target when it changes.
///
/// # Errors
/// [`ReachError::InvalidField`] naming the field.
pub fn validate_patch(
    mut record: DestinationRecord,
    patch: DestinationPatch,
    now_ms: u64,
) -> Result<(DestinationRecord, Option<Target>), ReachError> {
    let webhook = record.kind == DestinationKind::Webhook;
    let mut new_target = None;
    if let Some(url) = patch.url {
        new_target = Some(target(record.kind, &url)?);
        record.url = url;
    }
    if let Some(secret) = patch.secret {
        if !webhook {
            return Err(ReachError::invalid("secret", "a files destination has no secret"));
        }
        check_secret(&secret)?;
        record.secret = Some(secret);
    }
    if let Some(batch) = patch.batch_size {
        if !webhook {
            return Err(ReachError::invalid("batch_size", "a files destination writes one file per delivery"));
        }
        check_batch(batch)?;
        record.batch_size = Some(batch);
    }
    if let Some(format) = patch.format {
        if webhook {
            return Err(ReachError::invalid("format", "`format` is for files destinations"));
        }
        record.format = Some(format);
    }
    record.updated_ms = now_ms;
    Ok((record, new_target))
}

fn key(id: &str) -> String {
    format!("{DEST}{id}")
}

/// A live destination.
///
/// # Errors
/// [`ReachError::NotFound`], or the store's.
pub fn get(meta: &Meta, app: &str, id: &str) -> Result<DestinationRecord, ReachError> {
    meta.access_get(app, &key(id))?
        .map(|b| decode::<DestinationRecord>(&format!("destination {id}"), &b))
        .transpose()?
        .filter(|r| !r.deleted)
        .ok_or_else(|| ReachError::NotFound(format!("no destination `{id}`")))
}

/// Every live destination, by id.
///
/// # Errors
/// The store's, or a record that does not decode.
pub fn list(meta: &Meta, app: &str) -> Result<Vec<DestinationRecord>, ReachError> {
    let mut out = Vec::new();
    for (k, bytes) in meta.access_list(app, DEST, None, usize::MAX)? {
        let r: DestinationRecord = decode(&k, &bytes)?;
        if !r.deleted {
            out.push(r);
        }
    }
    Ok(out)
}

/// Stores a new destination; 409 when the id is live.
///
/// # Errors
/// [`ReachError::Conflict`], or the store's.
pub fn create(meta: &Meta, app: &str, record: &DestinationRecord) -> Result<(), ReachError> {
    let bytes = encode(record);
    let written = meta.access_update(app, &key(&record.id), move |cur| {
        let free =
            cur.as_deref().is_none_or(|c| serde_json::from_slice::<DestinationRecord>(c).is_ok_and(|r| r.deleted));
        free.then_some(bytes)
    })?;
    if written.is_none() {
        return Err(ReachError::Conflict(format!("destination `{}` exists", record.id)));
    }
    Ok(())
}

/// Replaces a live destination (a patch or a delete's tombstone).
///
/// # Errors
/// [`ReachError::NotFound`] if it was deleted meanwhile, or the store's.
pub fn put(meta: &Meta, app: &str, record: &DestinationRecord) -> Result<(), ReachError> {
    let bytes = encode(record);
    let written = meta.access_update(app, &key(&record.id), move |cur| {
        let live =
            cur.as_deref().is_some_and(|c| serde_json::from_slice::<DestinationRecord>(c).is_ok_and(|r| !r.deleted));
        live.then_some(bytes)
    })?;
    if written.is_none() {
        return Err(ReachError::NotFound(format!("no destination `{}`", record.id)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(secret: Option<&str>, batch: Option<u32>) -> DestinationInput {
        DestinationInput {
            id: "crm".into(),
            kind: DestinationKind::Webhook,
            url: "https://hooks.example.com/in".into(),
            secret: secret.map(str::to_owned),
            batch_size: batch,
            format: None,
        }
    }

    fn field(r: Result<impl std::fmt::Debug, ReachError>) -> &'static str {
        match r {
            Err(ReachError::InvalidField { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn bad_input_names_its_field() {
        assert_eq!(field(validate(webhook(None, None), 0)), "secret");
        assert_eq!(field(validate(webhook(Some("short"), None), 0)), "secret");
        assert_eq!(field(validate(webhook(Some("0123456789abcdef"), Some(0)), 0)), "batch_size");
        let mut bad_id = webhook(Some("0123456789abcdef"), None);
        bad_id.id = "a/b".into();
        assert_eq!(field(validate(bad_id, 0)), "id");
        let mut bad_url = webhook(Some("0123456789abcdef"), None);
        bad_url.url = "gopher://x".into();
        assert_eq!(field(validate(bad_url, 0)), "url");
        let (record, _) = validate(webhook(Some("0123456789abcdef"), None), 5).expect("valid");
        assert_eq!((record.batch(), record.view().has_secret), (DEFAULT_BATCH, true));
        let patch = DestinationPatch { format: Some(FileFormat::Csv), ..Default::default() };
        assert_eq!(field(validate_patch(record, patch, 6)), "format");
    }

    #[test]
    fn the_view_never_has_the_secret() {
        let (record, _) = validate(webhook(Some("s3cr3t-s3cr3t-s3cr3t"), None), 1).expect("valid");
        let json = serde_json::to_string(&record.view()).expect("json");
        assert!(!json.contains("s3cr3t"), "{json}");
    }
}
