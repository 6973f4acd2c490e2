//! Sieve's API on the wire: every request and response body of `/api/v1`, defined once.
//!
//! The server's handlers answer these types and the app's typed client (`app/src/api.rs`)
//! decodes them, so the two cannot disagree about a field; the server's OpenAPI document
//! derives its schemas from them too (feature `openapi`, server only), so the document cannot
//! disagree either. The crate needs serde alone: it compiles to wasm32 and the engine builds on
//! it for the few values it computes straight into an answer ([`Rate`], [`Step`], [`Warning`],
//! [`SplitGroup`]).
//!
//! Field and route names are a contract other tools rely on: a type here serialises exactly as
//! the JSON documented for its route. Enums stand for closed sets of strings (kinds, tiers,
//! states, roles) and serialise as those strings.
//!
//! # Layout
//!
//! | module | what it holds |
//! |---|---|
//! | [`error`] | [`ErrorBody`]: the body of every error answer (`error` code, `message`, `field`/`path`/`line`) |
//! | [`meta`] | [`Health`] |
//! | [`apps`] | apps, their settings and roles: [`App`], [`AppPatch`], [`AppSettings`], [`IdKind`], [`Role`] |
//! | [`analysis`] | funnels, overlaps, pivots (issue 16): [`FunnelRequest`] → [`Funnel`], [`OverlapRequest`] → [`Overlap`], [`PivotRequest`] → [`Pivot`] |
//! | [`access`] | tokens and the audit log: [`NewToken`], [`Token`], [`TokenCreated`], [`TokenList`], [`Rotate`], [`AuditEntry`], [`AuditPage`], [`LookupCounts`] |
//! | [`data`] | published days, uploads, event days: [`Day`], [`IngestResult`], [`EventDays`] |
//! | [`estimate`] | [`EstimateRequest`] → [`Estimate`], with the funnel [`Step`]s and [`Warning`]s; [`Tier`] |
//! | [`rule`] | [`Rule`]: a rule in its JSON form (parsed and checked by `engine::Rule`) |
//! | [`segments`] | segments, writes, member uploads, freezes, history: [`SegmentInput`], [`Segment`], [`WriteResult`], [`MembersReport`], [`FreezeInput`] → [`Frozen`], [`History`] |
//! | [`experiments`] | A/B splits: [`NewExperiment`], [`Experiment`], [`ExperimentView`] (with [`Balance`]), [`Outcome`], [`Rate`] |
//! | [`governance`] | tag governance (issue 15): the catalog [`GroupInfo`], [`GroupPatch`] → [`GroupChange`]; quality [`QualityCheck`]s, [`HeldUpload`], [`Hold`]; a day's [`DayVersion`]s, [`RestoreRequest`]; composite tags [`CompositeInput`] → [`Composite`] |
//! | [`jobs`] | durable background jobs: [`Job`] with its [`JobKind`], [`JobState`], [`Lease`], [`Problem`]s |
//! | [`membership`] | [`UserTags`] |
//! | [`reach`] | destinations, syncs and the delivery log (issue 17): [`DestinationInput`] → [`Destination`], [`SyncInput`] → [`SegmentSync`], [`DeliveryBatch`], the webhook's [`WebhookBody`] |
//!
//! # Adding a route
//!
//! 1. Put its request and response bodies here, in the module of its resource, deriving
//!    `Serialize`/`Deserialize` and `#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]`,
//!    with a doc comment on every field (it becomes the schema's description).
//! 2. The server's handler takes and answers these types; add the route to the route table
//!    (`server/src/routes/mod.rs`) with its operation (`server/src/routes/openapi.rs`: summary,
//!    parameters, body, answers). The tests there fail until the table and the document agree.
//! 3. The app's client (`app/src/api.rs`) gets a function that sends and decodes the same types.

pub mod access;
pub mod analysis;
pub mod apps;
pub mod data;
pub mod error;
pub mod estimate;
pub mod experiments;
pub mod governance;
pub mod jobs;
pub mod membership;
pub mod meta;
pub mod reach;
pub mod rule;
pub mod segments;

pub use access::{
    Actor, AuditAction, AuditEntry, AuditPage, LookupCount, LookupCounts, NewToken, Rotate, Token, TokenCreated,
    TokenList,
};
pub use analysis::{
    Funnel, FunnelBy, FunnelRequest, FunnelStep, FunnelStepRequest, Overlap, OverlapRequest, Pivot, PivotRequest,
    Region, SetRef,
};
pub use apps::{App, AppPatch, AppSettings, IdKind, Role};
pub use data::{Day, DayList, EventDay, EventDays, IngestResult};
pub use error::ErrorBody;
pub use estimate::{Estimate, EstimateRequest, Step, Tier, Warning};
pub use experiments::{
    Balance, Experiment, ExperimentGroup, ExperimentList, ExperimentView, GroupOutcome, MixRow, NewExperiment, Outcome,
    Rate, SplitGroup,
};
pub use governance::{
    Affected, Cadence, CheckKind, Composite, CompositeInput, CompositeList, CompositeValue, DayVersion, DayVersions,
    GovernanceHealth, GroupChange, GroupInfo, GroupList, GroupPatch, GroupStatus, HeldUpload, Hold, HoldList,
    HoldState, Quality, QualityAction, QualityCheck, QualityPolicy, RestoreRequest, Usage, ValueInfo, Verdict,
    VersionCause,
};
pub use jobs::{Job, JobKind, JobState, Lease, Problem};
pub use membership::UserTags;
pub use meta::{Health, HealthStatus, StorageHealth};
pub use reach::{
    BatchStatus, CurrentDelivery, DeliveryBatch, DeliveryKind, DeliveryList, Destination, DestinationInput,
    DestinationKind, DestinationList, DestinationPatch, FileFormat, SegmentSync, SyncInput, SyncList, SyncMode,
    SyncState, WebhookBody,
};
pub use rule::Rule;
pub use segments::{
    Backfill, BackfillState, FreezeInput, Frozen, History, HistoryDay, MembersReport, MetricRates, Segment,
    SegmentInput, SegmentKind, SegmentList, StaticMembers, WriteOutcome, WriteResult,
};
