//! `POST /api/v1/apps/{app}/segments/{id}/freeze`: a rule's or an existing segment's members on
//! a day become the new static segment `id`, in one request ("save as static, frozen now").
//!
//! Body: `{"name", "description"?, "ds"?, "rule": <rule>}`, `{…, "segment": "<id>"}` or
//! `{…, "funnel": <funnel request>, "step": k, "dropped"?: bool}` (exactly one of the three):
//! a funnel step's users (who reached step k, counted from 0; with `dropped`, who reached k but
//! not k + 1), computed as `POST …/funnel` computes them, the day defaulting to the funnel's `to`. Answers 201 `{"applied": true, "result": "created", "version": null,
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
use crate::routes::analysis::funnel_step_users;
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
    if (body.step.is_some() || body.dropped) && body.funnel.is_none() {
        return Err(ApiError::invalid_field("step", "`step` and `dropped` go with `funnel`"));
    }
    // A funnel step's users are computed below, with the funnel route's code.
    let (source, funnel) = match (body.rule, body.segment, body.funnel) {
        (Some(rule), None, None) => (Source::Rule(engine::Rule::from_json(&rule)?), None),
        (None, Some(segment), None) => {
            validate_id("segment", &segment)?;
            (Source::Segment(segment), None)
        }
        (None, None, Some(funnel)) => {
            let step = body.step.ok_or_else(|| ApiError::invalid_field("step", "give the funnel's `step`"))?;
            (Source::Users(engine::IdSet::new()), Some((funnel, step, body.dropped)))
        }
        _ => {
            return Err(ApiError::invalid_field("rule", "give exactly one of `rule`, `segment` and `funnel`"));
        }
    };
    let ds = body.ds.or_else(|| funnel.as_ref().map(|(f, _, _)| f.to.clone()));
    // The same name and description rules as any segment, through the same validation.
    let definition: SegmentInput = serde_json::from_value(serde_json::json!({
        "name": body.name, "description": body.description, "kind": "static"
    }))
    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (spec, _) = validate(definition)?;
    let (st, app2, actor) = (state.clone(), app.clone(), auth.actor());
    let frozen = blocking(move || -> Result<_, ApiError> {
        let min_audience = privacy::settings(&st.meta, &app2)?.min_audience;
        let source = match funnel {
            Some((funnel, step, dropped)) => Source::Users(funnel_step_users(&st, &app2, &funnel, step, dropped)?),
            None => source,
        };
        let req = FreezeRequest { id: id.clone(), spec, source, ds, min_audience };
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
