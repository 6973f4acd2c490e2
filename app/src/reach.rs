//! Reach in the app (issue 17): a destination form checked before it is sent (the server
//! checks again and names the field), and a sync's state and progress in words. Plain Rust,
//! tested natively.

use wire::{
    BatchStatus, DeliveryKind, Destination, DestinationInput, DestinationKind, DestinationPatch, FileFormat,
    SegmentSync, SyncMode, SyncState,
};

use crate::format;

/// The destination form as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationForm {
    /// Id.
    pub id: String,
    /// `webhook` or `files`.
    pub kind: String,
    /// URL.
    pub url: String,
    /// A webhook's secret.
    pub secret: String,
    /// A webhook's batch size (empty: the server's default).
    pub batch_size: String,
    /// A files destination's format (`csv` or `parquet`).
    pub format: String,
}

impl DestinationForm {
    /// The request, or the field at fault and why.
    ///
    /// ```
    /// use app::reach::DestinationForm;
    /// let mut f = DestinationForm { id: "crm".into(), kind: "webhook".into(), url: "https://crm.example/hook".into(),
    ///     secret: "0123456789abcdef".into(), ..Default::default() };
    /// assert!(f.input().is_ok());
    /// f.secret = "short".into();
    /// assert_eq!(f.input().unwrap_err().0, "secret");
    /// f.kind = "files".into();
    /// assert_eq!(f.input().unwrap_err().0, "url");
    /// ```
    pub fn input(&self) -> Result<DestinationInput, (&'static str, String)> {
        let id = self.id.trim();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            return Err(("id", "letters, digits, `.`, `_` and `-`".into()));
        }
        let url = self.url.trim().to_owned();
        let webhook = self.kind != "files";
        check_url(&url, webhook)?;
        if webhook {
            check_secret(&self.secret)?;
        }
        let batch_size = batch_size(&self.batch_size)?;
        Ok(DestinationInput {
            id: id.to_owned(),
            kind: if webhook { DestinationKind::Webhook } else { DestinationKind::Files },
            url,
            secret: webhook.then(|| self.secret.clone()),
            batch_size: if webhook { batch_size } else { None },
            format: (!webhook).then_some(if self.format == "parquet" { FileFormat::Parquet } else { FileFormat::Csv }),
        })
    }
}

/// Checks a URL for a destination of `kind`.
fn check_url(url: &str, webhook: bool) -> Result<(), (&'static str, String)> {
    let ok = if webhook {
        url.starts_with("http://") || url.starts_with("https://")
    } else {
        url.starts_with("file://") || url.starts_with("s3://")
    };
    if ok {
        return Ok(());
    }
    let want = if webhook { "an http:// or https:// address" } else { "a file:// or s3:// address" };
    Err(("url", want.to_owned()))
}

/// Checks a webhook's signing secret.
fn check_secret(secret: &str) -> Result<(), (&'static str, String)> {
    if (16..=256).contains(&secret.len()) {
        Ok(())
    } else {
        Err(("secret", "a signing secret of 16 to 256 characters".into()))
    }
}

/// Parses a batch size (empty: none given).
fn batch_size(text: &str) -> Result<Option<u32>, (&'static str, String)> {
    match text.trim() {
        "" => Ok(None),
        n => n
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .map(Some)
            .ok_or(("batch_size", "1 to 100,000".to_owned())),
    }
}

/// The edit form of an existing destination, filled from it (the secret starts empty: it is
/// never answered, and left empty it stays as it is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationEdit {
    /// Whether it is a webhook (the kind cannot change).
    pub webhook: bool,
    /// URL.
    pub url: String,
    /// A new secret, or empty to keep the current one.
    pub secret: String,
    /// Batch size (webhooks).
    pub batch_size: String,
    /// `csv` or `parquet` (files).
    pub format: String,
    /// The values it started from, so only what changed is sent.
    original: (String, String, String),
}

impl DestinationEdit {
    /// The form for `d` as it is.
    pub fn of(d: &Destination) -> DestinationEdit {
        let url = d.url.clone();
        let batch_size = d.batch_size.map(|b| b.to_string()).unwrap_or_default();
        let format = if d.format == Some(FileFormat::Parquet) { "parquet" } else { "csv" }.to_owned();
        DestinationEdit {
            webhook: d.kind == DestinationKind::Webhook,
            original: (url.clone(), batch_size.clone(), format.clone()),
            url,
            secret: String::new(),
            batch_size,
            format,
        }
    }

    /// The patch of what changed (`None`: nothing did), or the field at fault and why.
    ///
    /// ```
    /// use app::reach::DestinationEdit;
    /// let d: wire::Destination = serde_json::from_value(serde_json::json!({"id": "crm", "kind": "webhook",
    ///     "url": "https://crm.example/hook", "batch_size": 1000, "has_secret": true, "created_ms": 0, "updated_ms": 0})).unwrap();
    /// let mut f = DestinationEdit::of(&d);
    /// assert_eq!(f.patch(), Ok(None));
    /// f.batch_size = "500".into();
    /// assert_eq!(f.patch().unwrap().unwrap().batch_size, Some(500));
    /// assert_eq!(f.patch().unwrap().unwrap().url, None, "an unchanged URL is not sent");
    /// f.secret = "short".into();
    /// assert_eq!(f.patch().unwrap_err().0, "secret");
    /// f.secret.clear();
    /// f.url = "ftp://x".into();
    /// assert_eq!(f.patch().unwrap_err().0, "url");
    /// ```
    pub fn patch(&self) -> Result<Option<DestinationPatch>, (&'static str, String)> {
        let url = self.url.trim();
        check_url(url, self.webhook)?;
        let mut patch = DestinationPatch::default();
        if url != self.original.0 {
            patch.url = Some(url.to_owned());
        }
        if self.webhook {
            if !self.secret.is_empty() {
                check_secret(&self.secret)?;
                patch.secret = Some(self.secret.clone());
            }
            if self.batch_size.trim() != self.original.1 {
                patch.batch_size = batch_size(&self.batch_size)?;
            }
        } else if self.format != self.original.2 {
            patch.format = Some(if self.format == "parquet" { FileFormat::Parquet } else { FileFormat::Csv });
        }
        Ok((patch != DestinationPatch::default()).then_some(patch))
    }
}

/// A sync's state as a word (also its CSS class suffix).
pub fn state_word(s: SyncState) -> &'static str {
    match s {
        SyncState::Active => "active",
        SyncState::Paused => "paused",
        SyncState::Failed => "failed",
        SyncState::Done => "done",
    }
}

/// A delivery's kind as a word.
pub fn kind_word(k: DeliveryKind) -> &'static str {
    match k {
        DeliveryKind::Full => "full",
        DeliveryKind::Delta => "delta",
    }
}

/// A batch's status as a word.
pub fn status_word(s: BatchStatus) -> &'static str {
    match s {
        BatchStatus::Pending => "pending",
        BatchStatus::Delivered => "delivered",
        BatchStatus::Failed => "failed",
    }
}

/// Where a sync stands, in one line.
///
/// ```
/// let sync: wire::SegmentSync = serde_json::from_value(serde_json::json!({"id": "vip.crm", "segment": "vip",
///     "destination": "crm", "state": "active", "reached_prefix": "reached", "delivered_ds": "2026-11-20",
///     "delivered_members": 1200, "current": null, "problem": null, "created_ms": 0, "updated_ms": 0})).unwrap();
/// assert_eq!(app::reach::summary(&sync), "→ crm: up to date with 2026-11-20 (1,200 members)");
/// let once = wire::SegmentSync { mode: wire::SyncMode::Once, state: wire::SyncState::Done, ..sync };
/// assert_eq!(app::reach::summary(&once), "→ crm (once): sent once, 2026-11-20 (1,200 members)");
/// ```
pub fn summary(sync: &SegmentSync) -> String {
    let mut text = format!("→ {}{}: ", sync.destination, if sync.mode == SyncMode::Once { " (once)" } else { "" });
    match (&sync.current, &sync.delivered_ds) {
        (Some(c), _) => {
            text.push_str(&format!(
                "sending {} of {} ({} added, {} removed), batch {} of {}",
                kind_word(c.kind),
                c.ds,
                format::int(c.added),
                format::int(c.removed),
                c.batches_done.min(c.batches),
                c.batches
            ));
            if c.attempts > 0 {
                text.push_str(&format!(", {} failed attempt{}", c.attempts, if c.attempts == 1 { "" } else { "s" }));
            }
            if let Some(e) = &c.last_error {
                text.push_str(&format!(" (last: {e})"));
            }
        }
        (None, Some(ds)) if sync.state == SyncState::Done => {
            text.push_str(&format!("sent once, {ds} ({} members)", format::int(sync.delivered_members)))
        }
        (None, Some(ds)) => {
            text.push_str(&format!("up to date with {ds} ({} members)", format::int(sync.delivered_members)))
        }
        (None, None) => text.push_str("nothing delivered yet"),
    }
    if let Some(p) = &sync.problem {
        text.push_str(&format!(" — {p}"));
    }
    text
}
