//! Segment members as files: `PUT /api/v1/apps/{app}/segments/{id}/members` uploads a static
//! segment's list (CSV `user_id`), `GET …/members?ds=` exports a segment's members on a day.
//!
//! An upload never drops a row silently: the answer counts accepted, duplicate, unknown
//! (not in the app's dictionary) and malformed rows, with the first lines of each problem.
//! It is read by the one CSV reader of every upload, so any id the dictionary holds (quoted,
//! with commas, quotes or line breaks) comes back in as it went out in an export.
//!
//! An export that fails after its headers were sent (the dictionary cannot be read, an id is
//! missing) ends with a body error, which makes hyper cut the connection before the chunked
//! body's terminator: every client sees a failed download, never a clean, short list.

use std::collections::HashSet;
use std::io::Read;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde::Deserialize;
use wire::{Actor, AuditAction, MembersReport};

use crate::audit::{self, Event};
use crate::auth::{Access, Auth, validate_id};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::ids::{self, KnownUsers};
use crate::ingest::MEMBER_HEADER;
use crate::ingest::csv::{RowError, read_rows};
use crate::privacy;
use crate::routes::blocking;
use crate::routes::ids::parse_ds;
use crate::routes::ingest::receive;
use crate::segments::sync::{SegmentKind, SegmentState, StaticMembers};
use crate::state::AppState;
use crate::store::faults::Point;

/// How many example lines an upload answer lists per kind of problem.
const EXAMPLES: usize = 10;

/// `PUT /api/v1/apps/{app}/segments/{id}/members`.
pub async fn put_members(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
    body: Body,
) -> Result<Json<MembersReport>, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    validate_id("segment", &id)?;
    // A segment that cannot take a list is refused before a byte of the body is read or
    // anything is written.
    let (st, app2, id2) = (state.clone(), app.clone(), id.clone());
    blocking(move || static_segment(&st, &app2, &id2)).await?;
    let spooled = receive(&state, body, MEMBER_HEADER, |_| Ok(())).await?;
    let st = state.clone();
    let (app2, id2) = (app.clone(), id.clone());
    let work = move || -> Result<(MembersReport, crate::segments::sync::SegmentRecord), ApiError> {
        let file = std::fs::File::open(spooled.path())?;
        let known = KnownUsers::open(&st.snapshots, &app2)?;
        let (mut report, ids) = read_member_list(file, |user| known.get(&st.meta, &app2, user))?;
        drop(spooled);
        let set = engine::IdSet::from_unsorted(ids);
        report.members = set.len();
        // Checked again just before the blob is written: the segment may have changed while
        // the list arrived. (A change between here and the commit leaves an unreferenced blob,
        // which `crate::blob_gc` collects.)
        static_segment(&st, &app2, &id2)?;
        let blob = st.snapshots.blobs().put(&engine::blob::encode(&set))?;
        let now = now_ms();
        // Read-modify-write with compare-and-swap: a concurrent definition change is not lost.
        for _ in 0..8 {
            let (bytes, mut record) = static_segment(&st, &app2, &id2)?;
            let SegmentState::Live(live) = &mut record.state else {
                return Err(ApiError::Missing(format!("no segment `{id2}`")));
            };
            live.members = Some(StaticMembers {
                blob: blob.clone(),
                count: set.len(),
                uploaded_rows: report.rows,
                uploaded_ms: now,
            });
            record.revision += 1;
            record.updated_ms = now;
            let new = serde_json::to_vec(&record).map_err(ApiError::internal)?;
            if st.meta.segment_cas(&app2, &id2, Some(&bytes), &new)? {
                report.revision = record.revision;
                return Ok((report, record));
            }
        }
        Err(ApiError::Conflict(format!("segment `{id2}` is changing too fast; retry")))
    };
    let (report, record) = blocking(work).await?;
    crate::segments::on_segment_changed(&state, &app, &record).await;
    Ok(Json(report))
}

/// The stored record of a live static segment: 404 when there is none, 409 when it is dynamic.
fn static_segment(
    state: &AppState,
    app: &str,
    id: &str,
) -> Result<(Vec<u8>, crate::segments::sync::SegmentRecord), ApiError> {
    let Some((bytes, record)) = crate::segments::load(&state.meta, app, id)? else {
        return Err(ApiError::Missing(format!("no segment `{id}`")));
    };
    let SegmentState::Live(live) = &record.state else {
        return Err(ApiError::Missing(format!("no segment `{id}`")));
    };
    if live.spec.kind != SegmentKind::Static {
        return Err(ApiError::Conflict(format!("segment `{id}` is dynamic; only static segments take a member list")));
    }
    Ok((bytes, record))
}

/// Reads a `user_id` list with the one CSV reader ([`crate::ingest::csv`]), resolving ids with
/// `lookup`. Returns the counts and the dense ids. Rows that are not one non-empty id are
/// counted as malformed; a file the reader refuses (header, bounds, UTF-8) is a 400.
///
/// # Errors
/// The reader's error, or the lookup's.
pub fn read_member_list<R: Read>(
    input: R,
    lookup: impl Fn(&str) -> Result<Option<u32>, crate::store::StoreError>,
) -> Result<(MembersReport, Vec<u32>), ApiError> {
    let mut report = MembersReport::default();
    let mut seen: HashSet<u32> = HashSet::new();
    let mut ids = Vec::new();
    let mut failed: Option<crate::store::StoreError> = None;
    let read = read_rows(input, MEMBER_HEADER, |row| {
        report.rows += 1;
        let user = row.get(0).unwrap_or_default();
        if row.columns != 1 || user.is_empty() {
            report.malformed += 1;
            if report.malformed_lines.len() < EXAMPLES {
                report.malformed_lines.push(row.line);
            }
            return Ok(());
        }
        match lookup(user) {
            Err(e) => {
                failed = Some(e);
                return Err(RowError::from("looking the id up failed".to_owned()));
            }
            Ok(None) => {
                report.unknown += 1;
                if report.unknown_lines.len() < EXAMPLES {
                    report.unknown_lines.push(row.line);
                }
            }
            Ok(Some(id)) if !seen.insert(id) => report.duplicate += 1,
            Ok(Some(id)) => {
                report.accepted += 1;
                ids.push(id);
            }
        }
        Ok(())
    });
    if let Some(e) = failed {
        return Err(e.into());
    }
    read?;
    Ok((report, ids))
}

/// Query of the export.
#[derive(Debug, Deserialize)]
pub struct MembersQuery {
    /// The day; the latest published day when absent.
    ds: Option<String>,
    /// `csv` (default), `clickhouse` or `roaring` (see [`export`]).
    format: Option<String>,
}

/// How a list of users is exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// `user_id` and one external id a line, streamed.
    Csv,
    /// The raw bytes of a ClickHouse `AggregateFunction(groupBitmap, UInt32)` state (`u32` apps).
    ClickHouse,
    /// The roaring portable format (`u32` apps).
    Roaring,
}

impl ExportFormat {
    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::ClickHouse => "clickhouse",
            ExportFormat::Roaring => "roaring",
        }
    }

    /// Reads the `format` query parameter.
    ///
    /// # Errors
    /// A 400 naming `format` for anything but `csv`, `clickhouse` and `roaring`.
    pub fn parse(format: Option<&str>) -> Result<ExportFormat, ApiError> {
        match format.unwrap_or("csv") {
            "csv" => Ok(ExportFormat::Csv),
            "clickhouse" => Ok(ExportFormat::ClickHouse),
            "roaring" => Ok(ExportFormat::Roaring),
            other => Err(ApiError::invalid_field("format", format!("`{other}` is not csv, clickhouse or roaring"))),
        }
    }
}

/// Exports users as `format`, as a download named `name` (plus the format's extension). The
/// binary formats hold the ids themselves, so they are for `u32` apps only (a string app's
/// dense ids mean nothing outside Sieve): a string app gets a 400 naming `format`.
///
/// Before anything is sent, the export is refused when the set is smaller than the app's
/// `min_audience` (409, for every role), and recorded in the audit log as `event` by `actor`
/// (a failure to record it fails the export).
///
/// # Errors
/// As [`csv_of_users`]; a binary format on a string app; too few users.
pub async fn export(
    state: &AppState,
    app: &str,
    set: std::sync::Arc<engine::IdSet>,
    name: &str,
    format: ExportFormat,
    actor: Actor,
    event: Event,
) -> Result<Response, ApiError> {
    let kind = {
        let (meta, app) = (state.meta.clone(), app.to_owned());
        blocking(move || ids::kind_of(&meta, &app)).await?
    };
    if format != ExportFormat::Csv && kind != wire::IdKind::U32 {
        return Err(ApiError::invalid_field(
            "format",
            "bitmap exports hold u32 user ids: this app's ids are strings (use csv)",
        ));
    }
    {
        let (meta, app, users) = (state.meta.clone(), app.to_owned(), set.len());
        let event = event.users(users).detail(format!("format {}", format.as_str()));
        blocking(move || -> Result<(), ApiError> {
            let min_audience = privacy::settings(&meta, &app)?.min_audience;
            privacy::check_audience(min_audience, users, "the export")?;
            audit::record(&meta, &app, &actor, event, now_ms())?;
            Ok(())
        })
        .await?;
    }
    if format == ExportFormat::Csv {
        return csv_of_users(state, app, set, &format!("{name}.csv")).await;
    }
    let (bytes, extension) = blocking(move || {
        Ok::<_, ApiError>(match format {
            ExportFormat::ClickHouse => (engine::warehouse::encode_clickhouse_state(&set), "groupbitmap"),
            _ => (engine::portable::encode(&set), "roaring"),
        })
    })
    .await?;
    let mut res = Body::from(bytes).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.{extension}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// `GET /api/v1/apps/{app}/segments/{id}/members?ds=&format=`: the members as CSV
/// (`user_id`), streamed in dense-id order; or, for `u32` apps, as one bitmap ([`export`]).
pub async fn get_members(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<MembersQuery>,
) -> Result<Response, ApiError> {
    auth.app(&state, &app, Access::Membership)?;
    validate_id("segment", &id)?;
    if let Some(ds) = &q.ds {
        parse_ds(ds)?;
    }
    let format = ExportFormat::parse(q.format.as_deref())?;
    let st = state.clone();
    let (app2, id2) = (app.clone(), id.clone());
    let (ds, set) = blocking(move || -> Result<_, ApiError> {
        let (ds, record) = st
            .snapshots
            .day(&app2, q.ds.as_deref())?
            .ok_or_else(|| ApiError::Missing("no published day with that date".into()))?;
        let m = st.snapshots.manifest(&record.manifest)?;
        let seg =
            m.segment(&id2).ok_or_else(|| ApiError::Missing(format!("segment `{id2}` has no members on {ds}")))?;
        Ok((ds, st.snapshots.set(&seg.members.full.blob)?))
    })
    .await?;

    let event = Event::new(AuditAction::ExportSegment, id.clone()).on(ds.clone());
    export(&state, &app, set, &format!("{id}-{ds}"), format, auth.actor(), event).await
}

/// What the export's producer sends to the response stream.
enum Piece {
    /// More CSV.
    Data(Bytes),
    /// Every member was written.
    Done,
    /// The export failed; the reason is logged. A store error (a damaged dictionary entry, the
    /// store failing) is kept so that, met before anything was sent, it is answered as itself.
    Failed(Option<crate::store::StoreError>),
}

/// Streams users as CSV (`user_id` header, external ids in dense-id order) as a download.
///
/// Nothing is ever skipped or misnamed: a failure met before the first 64 KiB went out (a
/// damaged dictionary entry is a 503 `data_corrupt`) is answered as an error; met later, after
/// the answer started, it becomes a body error, and so does a producer that stops without
/// saying it finished (a panic): the connection is cut before the chunked body's terminator,
/// so every client sees a broken download, never a clean, short list.
///
/// # Errors
/// The first chunk cannot be produced (a damaged entry, the store failing).
pub async fn csv_of_users(
    state: &AppState,
    app: &str,
    set: std::sync::Arc<engine::IdSet>,
    filename: &str,
) -> Result<Response, ApiError> {
    // A blocking producer turns dense ids into external ids in batches; the response streams.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Piece>(8);
    let meta = state.meta.clone();
    let kind = {
        let (meta, app) = (meta.clone(), app.to_owned());
        blocking(move || ids::kind_of(&meta, &app)).await?
    };
    let faults = state.config.faults.clone();
    let app = app.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut buf = String::from("user_id\n");
        let mut sent_batches = 0u32;
        let mut written = 0u64;
        let mut failure: Option<(String, Option<crate::store::StoreError>)> = None;
        let mut send = |buf: &mut String, failure: &mut Option<(String, Option<crate::store::StoreError>)>| -> bool {
            // Fault injection (tests): a read failing after the first batch went out.
            if sent_batches > 0
                && let Err(e) = faults.check(Point::Export)
            {
                *failure = Some((e.to_string(), None));
                return false;
            }
            sent_batches += 1;
            tx.blocking_send(Piece::Data(Bytes::from(std::mem::take(buf)))).is_ok()
        };
        let mut open = true;
        let result = ids::externals(&meta, &app, kind, set.iter(), |_, ext| {
            if !open {
                return;
            }
            written += 1;
            csv_field(&mut buf, ext);
            buf.push('\n');
            if buf.len() >= 1 << 16 {
                open = send(&mut buf, &mut failure);
            }
        });
        if let Err(e) = result {
            failure = Some((e.to_string(), Some(e)));
        } else if failure.is_none() && open && written != set.len() {
            // `dict_externals` skips ids it does not find: a short list would be a lie.
            failure = Some((format!("{} of {} members have no external id", set.len() - written, set.len()), None));
        }
        if failure.is_none() && open && !buf.is_empty() {
            open = send(&mut buf, &mut failure);
        }
        let last = match failure {
            Some((reason, cause)) => {
                tracing::error!(app, error = %reason, "member export failed mid-stream; the download is cut off");
                Piece::Failed(cause)
            }
            None => Piece::Done,
        };
        if open || matches!(last, Piece::Failed(_)) {
            let _ = tx.blocking_send(last);
        }
    });
    let first = match rx.recv().await {
        Some(Piece::Data(chunk)) => chunk,
        Some(Piece::Failed(Some(e))) => return Err(e.into()),
        Some(Piece::Done | Piece::Failed(None)) | None => {
            return Err(ApiError::internal("the member export failed before its first chunk"));
        }
    };
    // `fuse`: the compression layer may poll again after the end, which a bare `unfold` turns
    // into a panic (and a truncated download in browsers, which always ask for compression).
    let rest = futures_util::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Some(Piece::Data(chunk)) => Some((Ok(chunk), Some(rx))),
            Some(Piece::Done) => None,
            Some(Piece::Failed(_)) | None => {
                Some((Err(std::io::Error::other("the member export failed; the list is incomplete")), None))
            }
        }
    });
    let stream = futures_util::stream::once(async move { Ok(first) }).chain(rest).fuse();
    let mut res = Body::from_stream(stream).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// Appends a CSV field, quoted when it needs to be.
fn csv_field(buf: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        buf.push('"');
        buf.push_str(&field.replace('"', "\"\""));
        buf.push('"');
    } else {
        buf.push_str(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_kind_of_row() {
        let text = "user_id\nu1\nu2\nu1\nnobody\n\n   \nu3,extra\n\"u2\"\n";
        let lookup = |u: &str| Ok(["u1", "u2", "u3"].iter().position(|x| *x == u).map(|p| p as u32));
        let (r, ids) = read_member_list(text.as_bytes(), lookup).expect("valid");
        // Blank lines (empty or spaces only) are not rows; `u3,extra` has two columns.
        assert_eq!((r.rows, r.accepted, r.duplicate, r.unknown, r.malformed), (6, 2, 2, 1, 1));
        assert_eq!(r.unknown_lines, vec![5]);
        assert_eq!(r.malformed_lines, vec![8]);
        assert_eq!(ids, vec![0, 1]);
        assert!(read_member_list("id\nu1\n".as_bytes(), lookup).is_err());
    }

    /// Regressions: the old reader (`lines()`) answered invalid UTF-8 with a 500, stripped
    /// quotes by hand and refused every id with a comma; a huge line grew its memory.
    #[test]
    fn member_lists_use_the_one_reader() {
        let known = ["a,b", "say \"hi\"", "two\nlines", "plain"];
        let lookup = |u: &str| Ok(known.iter().position(|x| *x == u).map(|p| p as u32));
        let text = "user_id\n\"a,b\"\n\"say \"\"hi\"\"\"\n\"two\nlines\"\nplain\n";
        let (r, ids) = read_member_list(text.as_bytes(), lookup).expect("valid");
        assert_eq!((r.rows, r.accepted, r.malformed), (4, 4, 0), "{r:?}");
        assert_eq!(ids, vec![0, 1, 2, 3]);
        for (bytes, line) in [(&b"user_id\nplain\n\xff\n"[..], 3), (&b"user\xff_id\nplain\n"[..], 1)] {
            let err = read_member_list(bytes, lookup).expect_err("not UTF-8");
            assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST, "{err:?}");
            assert!(matches!(err, ApiError::InvalidUpload { line: Some(l), .. } if l == line), "{err:?}");
        }
        let mut long = b"user_id\n".to_vec();
        long.extend(std::iter::repeat_n(b'a', 10 << 20));
        let err = read_member_list(&long[..], lookup).expect_err("over the field bound");
        assert!(matches!(err, ApiError::InvalidUpload { line: Some(2), column: Some(1), .. }), "{err:?}");
    }

    proptest::proptest! {
        /// Any id the dictionary accepts (as a tag upload stages it) survives an export (CSV
        /// as the server writes it), a static member upload of that file, and a second export,
        /// byte for byte.
        #[test]
        fn ids_round_trip_through_export_and_member_upload(
            raw in proptest::collection::vec("[a-z0-9,\"\n\r \t;'\\\\\u{feff}\u{a0}é漢😀]{1,60}", 1..20)
        ) {
            let upload = crate::ingest::Upload::Event { name: "e".into() };
            let mut text = String::from("user_id,count\n");
            let mut distinct = std::collections::HashSet::new();
            // Blank ids are not ids; one row per user (the dictionary trims what it stores).
            for id in raw.iter().filter(|id| !id.trim().is_empty() && distinct.insert(id.trim().to_owned())) {
                csv_field(&mut text, id);
                text.push_str(",1\n");
            }
            let dict = crate::ids::AppIds::empty(wire::IdKind::Strings);
            let staged = crate::ingest::stage(text.as_bytes(), &upload, &dict).expect("ids up to 240 bytes are accepted");
            let crate::ids::NewUsers::Strings { ids, .. } = staged.new_users else { panic!("string ids") };
            let export = |members: &[String]| {
                let mut out = String::from("user_id\n");
                for id in members {
                    csv_field(&mut out, id);
                    out.push('\n');
                }
                out
            };
            let first = export(&ids);
            proptest::prop_assert_eq!(ids.len(), distinct.len());
            let lookup = |u: &str| Ok(ids.iter().position(|x| x == u).map(|p| p as u32));
            let (report, dense) = read_member_list(first.as_bytes(), lookup).expect("an export reads back");
            proptest::prop_assert_eq!(report.accepted as usize, ids.len(), "{:?}", report);
            let again: Vec<String> = dense.iter().map(|&d| ids[d as usize].clone()).collect();
            proptest::prop_assert_eq!(export(&again), first);
        }
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        let mut s = String::new();
        csv_field(&mut s, "a,b\"c");
        assert_eq!(s, "\"a,b\"\"c\"");
    }
}
