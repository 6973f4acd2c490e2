//! Published days, uploads and the event days of a window.

use serde::{Deserialize, Serialize};

/// One published day of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Day {
    /// The data date, `YYYY-MM-DD`.
    #[cfg_attr(feature = "openapi", schema(format = Date))]
    pub ds: String,
    /// Address of the day's manifest.
    pub manifest: String,
    /// Published version of the day (publish counter).
    pub version: u64,
    /// When it was published, ms since the epoch.
    pub published_ms: u64,
}

/// `GET …/days`: the published days, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayList {
    /// The days, oldest first.
    pub days: Vec<Day>,
}

/// What an upload did; `changed` is false for an identical re-upload (same manifest, same
/// version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestResult {
    /// The day.
    pub ds: String,
    /// The tag group or event.
    pub name: String,
    /// Data rows read.
    pub rows: u64,
    /// Distinct users in the file.
    pub users: u64,
    /// Distinct values (tag groups; 0 for numeric groups and events).
    pub values: u64,
    /// Users seen for the first time.
    pub new_ids: u64,
    /// The day's version after the upload.
    pub version: u64,
    /// False when the upload was identical to what was published.
    pub changed: bool,
    /// Later days that carried the group forward and were updated too.
    pub days_updated: Vec<String>,
    /// Address of the day's manifest.
    pub manifest: String,
    /// The quality checks of a tag group upload against the group's previous version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<crate::governance::Quality>,
}

/// `GET …/days/{ds}/events`: the event uploads of the published days of a window ending with
/// `ds`, oldest first (days never published are absent).
///
/// `E` is an event entry of the engine's manifest format (`engine::manifest::EventEntry`: name,
/// users, total, bit-sliced columns); this crate does not depend on the engine, so both sides
/// name it (and its schema is written out below, for any `E`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDays<E> {
    /// The window's last day.
    pub ds: String,
    /// The window's length in days.
    pub last_days: u32,
    /// Days this server keeps (the longest window).
    pub retained_days: u32,
    /// The published days of the window, oldest first.
    pub days: Vec<EventDay<E>>,
}

/// One day of [`EventDays`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDay<E> {
    /// The day.
    pub ds: String,
    /// Its version.
    pub version: u64,
    /// The events uploaded for it, each an event entry of the engine's manifest format (name,
    /// users, total, bit-sliced columns). An upload with only the header is an event nobody did
    /// that day: listed, with no users.
    pub events: Vec<E>,
}

/// The schema of [`EventDays`] for any entry type: the entries are the engine's manifest format,
/// described in words (the manifest route serves the same format as a plain object).
#[cfg(feature = "openapi")]
mod event_days_schema {
    use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, Schema, Type};
    use utoipa::openapi::{RefOr, schema::KnownFormat, schema::SchemaFormat};

    use super::EventDays;

    fn integer(description: &str) -> ObjectBuilder {
        ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).description(Some(description))
    }

    impl<E> utoipa::PartialSchema for EventDays<E> {
        fn schema() -> RefOr<Schema> {
            let entry = ObjectBuilder::new().description(Some(
                "An event's bit-sliced daily counts (engine manifest format: name, users, total, bsi). \
                 An upload with only the header is an event nobody did that day: listed, with no users.",
            ));
            let day = ObjectBuilder::new()
                .property(
                    "ds",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
                )
                .property("version", integer("The day's version"))
                .property("events", ArrayBuilder::new().items(entry))
                .required("ds")
                .required("version")
                .required("events");
            let object: Object = ObjectBuilder::new()
                .description(Some("The event uploads of the published days of a window ending with `ds`, oldest first"))
                .property(
                    "ds",
                    ObjectBuilder::new().schema_type(Type::String).description(Some("The window's last day")),
                )
                .property("last_days", integer("The window's length in days"))
                .property("retained_days", integer("Days this server keeps (the longest window)"))
                .property(
                    "days",
                    ArrayBuilder::new()
                        .items(day)
                        .description(Some("Published days of the window; days never published are absent")),
                )
                .required("ds")
                .required("last_days")
                .required("retained_days")
                .required("days")
                .build();
            RefOr::T(Schema::Object(object))
        }
    }

    impl<E> utoipa::ToSchema for EventDays<E> {
        fn name() -> std::borrow::Cow<'static, str> {
            std::borrow::Cow::Borrowed("EventDays")
        }
    }
}
