//! `POST /api/v1/apps/{app}/segments/{id}/freeze`: a rule's or an existing segment's members on
//! a day become the new static segment `id`, in one request ("save as static, frozen now").
//!
//! Body: `{"name", "description"?, "ds"?, "rule": <rule>}` or `{…, "segment": "<id>"}` (exactly
//! one of the two). Answers 201 `{"applied": true, "result": "created", "version": null,
//! "segment": {…}, "ds", "members"}` with the segment's `ETag`; 409 when the id is taken or the
//! source segment has no members that day; 400 naming the field or the rule's path. The domain
//! work is [`crate::segments::freeze`].

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use wire::{AuditAction, FreezeInput, Frozen, SegmentInput, WriteOutcome, WriteResult};

use crate::audit::{self, Event};
use crate::auth::{Access, Auth, validate_id};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::extract::{ApiPath, JsonBody};
use crate::privacy;
use crate::routes::blocking;
use crate::routes::ids::parse_ds;
use crate::segments::freeze::{FreezeRequest, Source, freeze};
use crate::segments::{validate, view};
use crate::state::AppState;

/// `POST /api/v1/apps/{app}/segments/{id}/freeze`.
pub async fn freeze_segment(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((app, id)): ApiPath<(String, String)>,
    JsonBody(body): JsonBody<FreezeInput>,
) -> Result<Response, ApiError> {
    // Creates a segment (segment write) with members (data write): editors.
    auth.app(&state, &app, Access::Write)?;
    validate_id("segment", &id)?;
    if let Some(ds) = &body.ds {
        parse_ds(ds)?;
    }
    let source = match (body.rule, body.segment) {
        (Some(rule), None) => Source::Rule(engine::Rule::from_json(&rule)?),
        (None, Some(segment)) => {
            validate_id("segment", &segment)?;
            Source::Segment(segment)
        }
        _ => return Err(ApiError::invalid_field("rule", "give exactly one of `rule` and `segment`")),
    };
    // The same name and description rules as any segment, through the same validation.
    let definition: SegmentInput = serde_json::from_value(serde_json::json!({
        "name": body.name, "description": body.description, "kind": "static"
    }))
    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (spec, _) = validate(definition)?;
    let (st, app2, actor) = (state.clone(), app.clone(), auth.actor());
    let frozen = blocking(move || -> Result<_, ApiError> {
        let min_audience = privacy::settings(&st.meta, &app2)?.min_audience;
        let req = FreezeRequest { id: id.clone(), spec, source, ds: body.ds, min_audience };
        let frozen = freeze(&st.snapshots, st.config.retention_days, &app2, &req, now_ms())?;
        let users = frozen.record.live().and_then(|l| l.members.as_ref()).map_or(0, |m| m.count);
        let event = Event::new(AuditAction::Freeze, id).on(frozen.ds.clone()).users(users);
        audit::record(&st.meta, &app2, &actor, event, now_ms())?;
        Ok(frozen)
    })
    .await?;
    crate::segments::on_segment_changed(&state, &app, &frozen.record).await;
    let segment = view(&frozen.record);
    let members = segment.as_ref().and_then(|v| v.members.as_ref()).map_or(0, |m| m.count);
    let body = Frozen {
        write: WriteResult { applied: true, result: WriteOutcome::Created, version: None, segment },
        ds: frozen.ds,
        members,
    };
    let mut res = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&frozen.record.etag()) {
        res.headers_mut().insert(header::ETAG, v);
    }
    Ok(res)
}
