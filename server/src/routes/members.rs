//! Segment members as files: `PUT /api/v1/apps/{app}/segments/{id}/members` uploads a static
//! segment's list (CSV `user_id`), `GET …/members?ds=` exports a segment's members on a day.
//!
//! An upload never drops a row silently: the answer counts accepted, duplicate, unknown
//! (not in the app's dictionary) and malformed rows, with the first lines of each problem.

use std::collections::HashSet;
use std::convert::Infallible;
use std::io::BufRead;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};

use crate::auth::{Access, Auth, validate_id};
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::ingest::spool::spool;
use crate::routes::ids::parse_ds;
use crate::segments::sync::{SegmentKind, SegmentState, StaticMembers};
use crate::state::AppState;

/// How many example lines an upload answer lists per kind of problem.
const EXAMPLES: usize = 10;

/// What a member upload did.
#[derive(Debug, Default, Serialize)]
pub struct MembersReport {
    /// Data rows read (the header not counted).
    pub rows: u64,
    /// Rows whose user is now a member.
    pub accepted: u64,
    /// Rows repeating a user already listed.
    pub duplicate: u64,
    /// Rows naming a user the app has never seen.
    pub unknown: u64,
    /// Rows that are not a user id (empty, too long, extra columns).
    pub malformed: u64,
    /// First lines of unknown users.
    pub unknown_lines: Vec<u64>,
    /// First malformed lines.
    pub malformed_lines: Vec<u64>,
    /// Members stored.
    pub members: u64,
    /// The segment's new revision.
    pub revision: u64,
}

/// `PUT /api/v1/apps/{app}/segments/{id}/members`.
pub async fn put_members(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
    body: Body,
) -> Result<Json<MembersReport>, ApiError> {
    auth.app(&state, &app, Access::Write)?;
    validate_id("segment", &id)?;
    let spooled =
        spool(body, &state.config.data_dir.join("uploads"), state.config.upload_limit_bytes, &state.config.faults)
            .await?;
    let st = state.clone();
    let (app2, id2) = (app.clone(), id.clone());
    let work = move || -> Result<(MembersReport, crate::segments::sync::SegmentRecord), ApiError> {
        let file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(spooled.path())?);
        let (mut report, ids) = read_member_list(file, |user| st.meta.dict_lookup(&app2, user))?;
        let set = engine::IdSet::from_unsorted(ids);
        report.members = set.len();
        let blob = st.snapshots.blobs().put(&engine::blob::encode(&set))?;
        let now = now_ms();
        // Read-modify-write with compare-and-swap: a concurrent definition change is not lost.
        for _ in 0..8 {
            let Some((bytes, mut record)) = crate::segments::load(&st.meta, &app2, &id2)? else {
                return Err(ApiError::Missing(format!("no segment `{id2}`")));
            };
            let SegmentState::Live(live) = &mut record.state else {
                return Err(ApiError::Missing(format!("no segment `{id2}`")));
            };
            if live.spec.kind != SegmentKind::Static {
                return Err(ApiError::Conflict(format!(
                    "segment `{id2}` is dynamic; only static segments take a member list"
                )));
            }
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
    let (report, record) = tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)??;
    crate::segments::on_segment_changed(&state, &app, &record).await;
    Ok(Json(report))
}

/// Reads a `user_id` list, resolving ids with `lookup`. Returns the counts and the dense ids.
pub fn read_member_list<R: BufRead>(
    input: R,
    lookup: impl Fn(&str) -> Result<Option<u32>, crate::store::StoreError>,
) -> Result<(MembersReport, Vec<u32>), ApiError> {
    let mut report = MembersReport::default();
    let mut seen: HashSet<u32> = HashSet::new();
    let mut ids = Vec::new();
    let mut lines = input.lines();
    let header = lines.next().transpose()?.unwrap_or_default();
    if header.trim().trim_start_matches('\u{feff}') != "user_id" {
        return Err(ApiError::InvalidUpload {
            line: Some(1),
            message: format!("line 1: expected the header `user_id`, found `{}`", header.trim()),
        });
    }
    for (i, line) in lines.enumerate() {
        let line_no = i as u64 + 2;
        let line = line?;
        let user = line.trim();
        if user.is_empty() && line.is_empty() {
            continue; // a trailing newline or blank separator line, not a row
        }
        report.rows += 1;
        let user = user.strip_prefix('"').and_then(|u| u.strip_suffix('"')).unwrap_or(user);
        if user.is_empty() || user.len() > crate::auth::MAX_USER_ID_BYTES || user.contains(',') {
            report.malformed += 1;
            if report.malformed_lines.len() < EXAMPLES {
                report.malformed_lines.push(line_no);
            }
            continue;
        }
        match lookup(user)? {
            None => {
                report.unknown += 1;
                if report.unknown_lines.len() < EXAMPLES {
                    report.unknown_lines.push(line_no);
                }
            }
            Some(id) if !seen.insert(id) => report.duplicate += 1,
            Some(id) => {
                report.accepted += 1;
                ids.push(id);
            }
        }
    }
    Ok((report, ids))
}

/// Query of the export.
#[derive(Debug, Deserialize)]
pub struct MembersQuery {
    /// The day; the latest published day when absent.
    ds: Option<String>,
}

/// `GET /api/v1/apps/{app}/segments/{id}/members?ds=`: the members as CSV (`user_id`),
/// streamed in dense-id order.
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
    let st = state.clone();
    let (app2, id2) = (app.clone(), id.clone());
    let (ds, set) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let (ds, record) = st
            .snapshots
            .day(&app2, q.ds.as_deref())?
            .ok_or_else(|| ApiError::Missing("no published day with that date".into()))?;
        let m = st.snapshots.manifest(&record.manifest)?;
        let seg =
            m.segment(&id2).ok_or_else(|| ApiError::Missing(format!("segment `{id2}` has no members on {ds}")))?;
        Ok((ds, st.snapshots.set(&seg.members.full.blob)?))
    })
    .await
    .map_err(ApiError::internal)??;

    Ok(csv_of_users(&state, &app, set, &format!("{id}-{ds}.csv")))
}

/// Streams users as CSV (`user_id` header, external ids in dense-id order) as a download.
pub fn csv_of_users(state: &AppState, app: &str, set: std::sync::Arc<engine::IdSet>, filename: &str) -> Response {
    // A blocking producer turns dense ids into external ids in batches; the response streams.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let meta = state.meta.clone();
    let app = app.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut buf = String::from("user_id\n");
        let mut ok = true;
        let result = meta.dict_externals(&app, set.iter(), |_, ext| {
            if !ok {
                return;
            }
            csv_field(&mut buf, ext);
            buf.push('\n');
            if buf.len() >= 1 << 16 {
                ok = tx.blocking_send(Bytes::from(std::mem::take(&mut buf))).is_ok();
            }
        });
        if let Err(e) = result {
            tracing::error!(error = %e, "member export failed mid-stream");
            return;
        }
        if ok && !buf.is_empty() {
            let _ = tx.blocking_send(Bytes::from(buf));
        }
    });
    // `fuse`: the compression layer may poll again after the end, which a bare `unfold` turns
    // into a panic (and a truncated download in browsers, which always ask for compression).
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (Ok::<_, Infallible>(chunk), rx))
    })
    .fuse();
    let mut res = Body::from_stream(stream).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    res
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

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_kind_of_row() {
        let text = "user_id\nu1\nu2\nu1\nnobody\n\n   \nu3,extra\n\"u2\"\n";
        let lookup = |u: &str| Ok(["u1", "u2", "u3"].iter().position(|x| *x == u).map(|p| p as u32));
        let (r, ids) = read_member_list(text.as_bytes(), lookup).expect("valid");
        assert_eq!((r.rows, r.accepted, r.duplicate, r.unknown, r.malformed), (7, 2, 2, 1, 2));
        assert_eq!(r.unknown_lines, vec![5]);
        assert_eq!(r.malformed_lines, vec![7, 8]);
        assert_eq!(ids, vec![0, 1]);
        assert!(read_member_list("id\nu1\n".as_bytes(), lookup).is_err());
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        let mut s = String::new();
        csv_field(&mut s, "a,b\"c");
        assert_eq!(s, "\"a,b\"\"c\"");
    }
}
