//! The client of the reach routes (issue 17): destinations, a segment's syncs and their
//! delivery log.

use wire::{
    DeliveryBatch, DeliveryList, Destination, DestinationInput, DestinationList, SegmentSync, SyncInput, SyncList,
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

/// Deletes a destination.
pub async fn delete_destination(s: &Session, id: &str) -> Result<(), Error> {
    let path = app_path(s, &format!("/destinations/{}", encode_component(id)));
    call(s, "DELETE", &path, None, None).await.map(|_| ())
}

fn syncs_path(s: &Session, segment: &str) -> String {
    app_path(s, &format!("/segments/{}/syncs", encode_component(segment)))
}

/// A segment's syncs.
pub async fn syncs(s: &Session, segment: &str) -> Result<Vec<SegmentSync>, Error> {
    Ok(decode::<SyncList>(&call(s, "GET", &syncs_path(s, segment), None, None).await?.0)?.syncs)
}

/// Starts sending a segment to a destination.
pub async fn start_sync(s: &Session, segment: &str, input: &SyncInput) -> Result<SegmentSync, Error> {
    let body = serde_json::to_string(input).map_err(|e| Error::Decode(e.to_string()))?;
    decode(&call(s, "POST", &syncs_path(s, segment), Some(body), None).await?.0)
}

/// `pause`, `resume` or `resend` a sync.
pub async fn sync_action(s: &Session, segment: &str, sync: &str, action: &str) -> Result<(), Error> {
    let path = format!("{}/{}/{action}", syncs_path(s, segment), encode_component(sync));
    call(s, "POST", &path, None, None).await.map(|_| ())
}

/// Stops a sync (its log and reached segments stay).
pub async fn delete_sync(s: &Session, segment: &str, sync: &str) -> Result<(), Error> {
    let path = format!("{}/{}", syncs_path(s, segment), encode_component(sync));
    call(s, "DELETE", &path, None, None).await.map(|_| ())
}

/// A sync's delivery log, oldest batch first.
pub async fn deliveries(s: &Session, segment: &str, sync: &str) -> Result<Vec<DeliveryBatch>, Error> {
    let path = format!("{}/{}/deliveries", syncs_path(s, segment), encode_component(sync));
    Ok(decode::<DeliveryList>(&call(s, "GET", &path, None, None).await?.0)?.deliveries)
}
