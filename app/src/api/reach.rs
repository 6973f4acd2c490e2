//! The client of the reach routes (issue 17): destinations, the syncs of segments and
//! experiment groups, and their delivery log.

use wire::{
    DeliveryBatch, DeliveryList, Destination, DestinationInput, DestinationList, DestinationPatch, SegmentSync,
    SyncInput, SyncList,
};

use super::{Error, app_path, call, decode};
use crate::session::{Session, encode_component};

/// The app's destinations.
pub async fn destinations(s: &Session) -> Result<Vec<Destination>, Error> {
    Ok(decode::<DestinationList>(&call(s, "GET", &app_path(s, "/destinations"), None, None).await?.0)?.destinations)
}

/// Creates a destination (the secret is sent once and never answered).
pub async fn create_destination(s: &Session, input: &DestinationInput) -> Result<Destination, Error> {
    let body = serde_json::to_string(input).map_err(|e| Error::Decode(e.to_string()))?;
    decode(&call(s, "POST", &app_path(s, "/destinations"), Some(body), None).await?.0)
}

/// Changes a destination (absent fields stay as they are).
pub async fn patch_destination(s: &Session, id: &str, patch: &DestinationPatch) -> Result<Destination, Error> {
    let body = serde_json::to_string(patch).map_err(|e| Error::Decode(e.to_string()))?;
    let path = app_path(s, &format!("/destinations/{}", encode_component(id)));
    decode(&call(s, "PATCH", &path, Some(body), None).await?.0)
}

/// Deletes a destination.
pub async fn delete_destination(s: &Session, id: &str) -> Result<(), Error> {
    let path = app_path(s, &format!("/destinations/{}", encode_component(id)));
    call(s, "DELETE", &path, None, None).await.map(|_| ())
}

/// What a sync sends: a segment, or an experiment's frozen group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// A segment's id.
    Segment(String),
    /// An experiment's id and one of its groups.
    Group(String, String),
}

impl Audience {
    fn syncs_path(&self, s: &Session) -> String {
        match self {
            Audience::Segment(id) => app_path(s, &format!("/segments/{}/syncs", encode_component(id))),
            Audience::Group(e, g) => {
                app_path(s, &format!("/experiments/{}/groups/{}/syncs", encode_component(e), encode_component(g)))
            }
        }
    }
}

/// The syncs of a segment or an experiment group.
pub async fn syncs(s: &Session, audience: &Audience) -> Result<Vec<SegmentSync>, Error> {
    Ok(decode::<SyncList>(&call(s, "GET", &audience.syncs_path(s), None, None).await?.0)?.syncs)
}

/// Every sync of the app, whatever it sends.
pub async fn app_syncs(s: &Session) -> Result<Vec<SegmentSync>, Error> {
    Ok(decode::<SyncList>(&call(s, "GET", &app_path(s, "/syncs"), None, None).await?.0)?.syncs)
}

/// Starts sending a segment or an experiment group to a destination.
pub async fn start_sync(s: &Session, audience: &Audience, input: &SyncInput) -> Result<SegmentSync, Error> {
    let body = serde_json::to_string(input).map_err(|e| Error::Decode(e.to_string()))?;
    decode(&call(s, "POST", &audience.syncs_path(s), Some(body), None).await?.0)
}

/// The app-level path of a sync (any audience).
fn sync_path(s: &Session, sync: &str) -> String {
    app_path(s, &format!("/syncs/{}", encode_component(sync)))
}

/// `pause`, `resume` or `resend` a sync.
pub async fn sync_action(s: &Session, sync: &str, action: &str) -> Result<(), Error> {
    call(s, "POST", &format!("{}/{action}", sync_path(s, sync)), None, None).await.map(|_| ())
}

/// Stops a sync (its log and reached segments stay).
pub async fn delete_sync(s: &Session, sync: &str) -> Result<(), Error> {
    call(s, "DELETE", &sync_path(s, sync), None, None).await.map(|_| ())
}

/// A sync's delivery log, oldest batch first.
pub async fn deliveries(s: &Session, sync: &str) -> Result<Vec<DeliveryBatch>, Error> {
    let path = format!("{}/deliveries", sync_path(s, sync));
    Ok(decode::<DeliveryList>(&call(s, "GET", &path, None, None).await?.0)?.deliveries)
}
