//! The OpenAPI operations of the reach routes (issue 17), apart from [`super::operations`] so
//! that file stays a readable size.

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

/// `POST /v1/apps/{app}/segments/{id}/syncs`.
pub fn start_sync() -> Op {
    Op::new("startSync", "reach", "Send a segment to a destination and keep it in sync day by day (editors)")
        .describe("A `full` delivery of the latest day's members first, then for every later published day, in order, a `delta` of who entered (`added`) and left (`removed`) since the last delivered day. Deliveries are durable, retried with exponential backoff and jitter, logged per batch; each completed delivery's recipients become the static segment `<reached_prefix>.<sync>.<ds>`, named `reached:<sync>:<ds>`.")
        .params(&["app", "segment"])
        .body::<SyncInput>()
        .answer::<SegmentSync>(201, "Started")
        .errors(&WRITE)
}

/// `GET /v1/apps/{app}/segments/{id}/syncs`.
pub fn list_syncs() -> Op {
    Op::new("listSyncs", "reach", "A segment's syncs")
        .params(&["app", "segment"])
        .answer::<SyncList>(200, "Syncs by id")
        .errors(&READ)
}

/// `GET /v1/apps/{app}/segments/{id}/syncs/{sync}`.
pub fn get_sync() -> Op {
    Op::new("getSync", "reach", "A sync: its state, last delivered day and the delivery under way")
        .params(&["app", "segment"])
        .param(sync_id())
        .answer::<SegmentSync>(200, "The sync")
        .errors(&READ)
}

/// `POST /v1/apps/{app}/segments/{id}/syncs/{sync}/pause`.
pub fn pause_sync() -> Op {
    Op::new("pauseSync", "reach", "Pause a sync: nothing is sent until it resumes (editors)")
        .params(&["app", "segment"])
        .param(sync_id())
        .answer::<SegmentSync>(200, "Paused")
        .errors(&WRITE)
}

/// `POST /v1/apps/{app}/segments/{id}/syncs/{sync}/resume`.
pub fn resume_sync() -> Op {
    Op::new("resumeSync", "reach", "Resume a paused or failed sync; a failed batch gets fresh attempts (editors)")
        .params(&["app", "segment"])
        .param(sync_id())
        .answer::<SegmentSync>(200, "Active")
        .errors(&WRITE)
}

/// `POST /v1/apps/{app}/segments/{id}/syncs/{sync}/resend`.
pub fn resend_sync() -> Op {
    Op::new("resendSync", "reach", "Send the latest day's members in full again (editors; audited)")
        .params(&["app", "segment"])
        .param(sync_id())
        .answer::<SegmentSync>(200, "A full delivery is due")
        .errors(&WRITE)
}

/// `DELETE /v1/apps/{app}/segments/{id}/syncs/{sync}`.
pub fn delete_sync() -> Op {
    Op::new("deleteSync", "reach", "Stop and delete a sync; its reached segments stay (editors)")
        .params(&["app", "segment"])
        .param(sync_id())
        .answer_raw(204, json!({"description": "Deleted"}))
        .errors(&WRITE)
}

/// `GET /v1/apps/{app}/segments/{id}/syncs/{sync}/deliveries`.
pub fn sync_deliveries() -> Op {
    Op::new("syncDeliveries", "reach", "The delivery log: every batch with its ids count, attempts, status, response")
        .params(&["app", "segment"])
        .param(sync_id())
        .param(json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}, "description": "Most batches answered (default 10000)"}))
        .param(json!({"name": "after", "in": "query", "schema": {"type": "string"}, "description": "Batches after this `delivery_id` (`more` in the answer says whether to ask again)"}))
        .answer::<DeliveryList>(200, "Batches, oldest first")
        .errors(&READ)
}
