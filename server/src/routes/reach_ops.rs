//! The OpenAPI operations of the reach routes (issue 17): destinations ([`super::reach`]) and
//! syncs ([`super::syncs`]), apart from [`super::operations`] so that file stays a readable size.

use serde_json::json;
use wire::{
    DeliveryList, Destination, DestinationInput, DestinationList, DestinationPatch, SegmentSync, SyncInput, SyncList,
};

use super::openapi::Op;

/// Errors of a reach write.
const WRITE: [u16; 7] = [400, 401, 403, 404, 409, 503, 507];
/// Errors of a reach read.
const READ: [u16; 5] = [400, 401, 403, 404, 503];

fn destination_id() -> serde_json::Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}, "description": "The destination's id"})
}

fn sync_id() -> serde_json::Value {
    json!({"name": "sync", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}, "description": "The sync's id"})
}

/// `POST /v1/apps/{app}/destinations`.
pub fn create_destination() -> Op {
    Op::new("createDestination", "reach", "Add a destination: a signed webhook, or files in a directory or bucket (editors)")
        .describe("A URL whose host resolves to a loopback, private, link-local, unspecified or multicast address is refused (400 naming `url`) unless the server runs with `--allow-private-destinations`; the check is repeated on every delivery. The secret is never answered again.")
        .params(&["app"])
        .body::<DestinationInput>()
        .answer::<Destination>(201, "Created (without its secret)")
        .errors(&WRITE)
}

/// `GET /v1/apps/{app}/destinations`.
pub fn list_destinations() -> Op {
    Op::new("listDestinations", "reach", "The app's destinations, without secrets")
        .params(&["app"])
        .answer::<DestinationList>(200, "Destinations by id")
        .errors(&READ)
}

/// `GET /v1/apps/{app}/destinations/{id}`.
pub fn get_destination() -> Op {
    Op::new("getDestination", "reach", "One destination, without its secret")
        .params(&["app"])
        .param(destination_id())
        .answer::<Destination>(200, "The destination")
        .errors(&READ)
}

/// `PATCH /v1/apps/{app}/destinations/{id}`.
pub fn patch_destination() -> Op {
    Op::new("patchDestination", "reach", "Change a destination's URL, secret, batch size or format (editors)")
        .params(&["app"])
        .param(destination_id())
        .body::<DestinationPatch>()
        .answer::<Destination>(200, "The destination as changed")
        .errors(&WRITE)
}

/// `DELETE /v1/apps/{app}/destinations/{id}`.
pub fn delete_destination() -> Op {
    Op::new("deleteDestination", "reach", "Delete a destination no sync sends to (editors)")
        .params(&["app"])
        .param(destination_id())
        .answer_raw(204, json!({"description": "Deleted"}))
        .errors(&WRITE)
}

/// Path parameters of an experiment group's syncs.
fn experiment_group() -> [serde_json::Value; 2] {
    [
        json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}, "description": "The experiment's id"}),
        json!({"name": "group", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"}, "description": "The group's name"}),
    ]
}

const START: &str = "A `full` delivery of the latest day's members first; then, with `mode: keep` (the default), for every later published day, in order, a `delta` of who entered (`added`) and left (`removed`) since the last delivered day; with `mode: once`, nothing more (the sync is `done` until re-sent). Deliveries are durable, retried with exponential backoff and jitter, logged per batch; each completed delivery's recipients become the static segment `<reached_prefix>.<sync>.<ds>`, named `reached:<sync>:<ds>`.";

/// `POST /v1/apps/{app}/segments/{id}/syncs`.
pub fn start_sync() -> Op {
    Op::new("startSync", "reach", "Send a segment to a destination, once or kept in sync day by day (editors)")
        .describe(START)
        .params(&["app", "segment"])
        .body::<SyncInput>()
        .answer::<SegmentSync>(201, "Started")
        .errors(&WRITE)
}

/// `POST /v1/apps/{app}/experiments/{id}/groups/{group}/syncs`.
pub fn start_group_sync() -> Op {
    let [experiment, group] = experiment_group();
    Op::new("startGroupSync", "reach", "Send an experiment's frozen group to a destination (editors)")
        .describe(&format!("{START} A group is frozen, so its deltas are empty; webhook bodies name it `<experiment>/<group>` in `segment`, with `experiment` and `group`. Manage the sync through `…/syncs/{{sync}}`."))
        .params(&["app"])
        .param(experiment)
        .param(group)
        .body::<SyncInput>()
        .answer::<SegmentSync>(201, "Started")
        .errors(&WRITE)
}

/// `GET /v1/apps/{app}/experiments/{id}/groups/{group}/syncs`.
pub fn list_group_syncs() -> Op {
    let [experiment, group] = experiment_group();
    Op::new("listGroupSyncs", "reach", "An experiment group's syncs")
        .params(&["app"])
        .param(experiment)
        .param(group)
        .answer::<SyncList>(200, "Syncs by id")
        .errors(&READ)
}

/// `GET /v1/apps/{app}/syncs`.
pub fn list_app_syncs() -> Op {
    Op::new("listAppSyncs", "reach", "Every sync of the app: of segments and of experiment groups")
        .params(&["app"])
        .answer::<SyncList>(200, "Syncs by id")
        .errors(&READ)
}

/// `GET /v1/apps/{app}/segments/{id}/syncs`.
pub fn list_syncs() -> Op {
    Op::new("listSyncs", "reach", "A segment's syncs")
        .params(&["app", "segment"])
        .answer::<SyncList>(200, "Syncs by id")
        .errors(&READ)
}

/// One sync's operation, under its segment (`segment: true`) or the app.
fn on_sync(id: &str, summary: &str, segment: bool) -> Op {
    let (id, summary) = if segment {
        (id.to_owned(), summary.to_owned())
    } else {
        (format!("{id}OfApp"), format!("{summary} (any sync of the app, a segment's or an experiment group's)"))
    };
    let op = Op::new(&id, "reach", &summary);
    if segment { op.params(&["app", "segment"]) } else { op.params(&["app"]) }.param(sync_id())
}

fn get(segment: bool) -> Op {
    on_sync("getSync", "A sync: its state, last delivered day and the delivery under way", segment)
        .answer::<SegmentSync>(200, "The sync")
        .errors(&READ)
}

fn pause(segment: bool) -> Op {
    on_sync("pauseSync", "Pause a sync: nothing is sent until it resumes (editors)", segment)
        .answer::<SegmentSync>(200, "Paused (a `done` sync stays done)")
        .errors(&WRITE)
}

fn resume(segment: bool) -> Op {
    on_sync("resumeSync", "Resume a paused or failed sync; a failed batch gets fresh attempts (editors)", segment)
        .answer::<SegmentSync>(200, "Active (a `done` sync stays done: re-send it instead)")
        .errors(&WRITE)
}

fn resend(segment: bool) -> Op {
    on_sync("resendSync", "Send the latest day's members in full again (editors; audited)", segment)
        .answer::<SegmentSync>(200, "A full delivery is due")
        .errors(&WRITE)
}

fn delete(segment: bool) -> Op {
    on_sync("deleteSync", "Stop and delete a sync; its reached segments stay (editors)", segment)
        .answer_raw(204, json!({"description": "Deleted"}))
        .errors(&WRITE)
}

fn deliveries(segment: bool) -> Op {
    on_sync("syncDeliveries", "The delivery log: every batch with its ids count, attempts, status, response", segment)
        .param(json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}, "description": "Most batches answered (default 10000)"}))
        .param(json!({"name": "after", "in": "query", "schema": {"type": "string"}, "description": "Batches after this `delivery_id` (`more` in the answer says whether to ask again)"}))
        .answer::<DeliveryList>(200, "Batches, oldest first")
        .errors(&READ)
}

/// `GET /v1/apps/{app}/segments/{id}/syncs/{sync}`.
pub fn get_sync() -> Op {
    get(true)
}

/// `GET /v1/apps/{app}/syncs/{sync}`.
pub fn get_sync_app() -> Op {
    get(false)
}

/// `POST /v1/apps/{app}/segments/{id}/syncs/{sync}/pause`.
pub fn pause_sync() -> Op {
    pause(true)
}

/// `POST /v1/apps/{app}/syncs/{sync}/pause`.
pub fn pause_sync_app() -> Op {
    pause(false)
}

/// `POST /v1/apps/{app}/segments/{id}/syncs/{sync}/resume`.
pub fn resume_sync() -> Op {
    resume(true)
}

/// `POST /v1/apps/{app}/syncs/{sync}/resume`.
pub fn resume_sync_app() -> Op {
    resume(false)
}

/// `POST /v1/apps/{app}/segments/{id}/syncs/{sync}/resend`.
pub fn resend_sync() -> Op {
    resend(true)
}

/// `POST /v1/apps/{app}/syncs/{sync}/resend`.
pub fn resend_sync_app() -> Op {
    resend(false)
}

/// `DELETE /v1/apps/{app}/segments/{id}/syncs/{sync}`.
pub fn delete_sync() -> Op {
    delete(true)
}

/// `DELETE /v1/apps/{app}/syncs/{sync}`.
pub fn delete_sync_app() -> Op {
    delete(false)
}

/// `GET /v1/apps/{app}/segments/{id}/syncs/{sync}/deliveries`.
pub fn sync_deliveries() -> Op {
    deliveries(true)
}

/// `GET /v1/apps/{app}/syncs/{sync}/deliveries`.
pub fn sync_deliveries_app() -> Op {
    deliveries(false)
}
