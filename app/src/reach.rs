//! Reach in the app (issue 17): a destination form checked before it is sent (the server
//! checks again and names the field), and a sync's state and progress in words. Plain Rust,
//! tested natively.

use wire::{BatchStatus, DeliveryKind, DestinationInput, DestinationKind, FileFormat, SegmentSync, SyncState};

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
        let scheme_ok = if webhook {
            url.starts_with("http://") || url.starts_with("https://")
        } else {
            url.starts_with("file://") || url.starts_with("s3://")
        };
        if !scheme_ok {
            let want = if webhook { "an http:// or https:// address" } else { "a file:// or s3:// address" };
            return Err(("url", want.to_owned()));
        }
        if webhook && !(16..=256).contains(&self.secret.len()) {
            return Err(("secret", "a signing secret of 16 to 256 characters".into()));
        }
        let batch_size = match self.batch_size.trim() {
            "" => None,
            n => Some(
                n.parse::<u32>()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or(("batch_size", "1 to 100,000".to_owned()))?,
            ),
        };
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

/// A sync's state as a word (also its CSS class suffix).
pub fn state_word(s: SyncState) -> &'static str {
    match s {
        SyncState::Active => "active",
        SyncState::Paused => "paused",
        SyncState::Failed => "failed",
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
/// ```
pub fn summary(sync: &SegmentSync) -> String {
    let mut text = format!("→ {}: ", sync.destination);
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
