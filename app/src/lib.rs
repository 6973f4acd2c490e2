//! Sieve's single-page app: Leptos, client-side rendered, built with Trunk.
//!
//! # Layout
//! - [`api`]: typed client for the server's REST API (`/api/v1/...`) over gloo-net; its
//!   bodies are the wire types (crate `wire`) the server uses, and one [`api::Error`] enum says
//!   what went wrong on the way (keeping the server's error code, field, path and line).
//! - [`session`]: the signed-in app and token (local storage), sign-in links, URL encoding.
//! - [`access`]: what the token may do and see (its role and the app's privacy settings):
//!   the Settings page for admins, no full tier, members or writes for aggregate tokens, and
//!   counts below the minimum audience as `< k`. Plain Rust.
//! - [`ctx`]: the app-wide reactive state: session, the token's access, day, manifest, loaded
//!   blobs (started in the background, or awaited), loading costs.
//! - [`blobs`]: blobs from the browser's Cache API or the server, checked against their address.
//! - [`audience`]: the builder's decisions: which count is the headline, the exact-count line,
//!   what a key does to a condition, which one request a save makes. Plain Rust.
//! - [`draft`]: the audience being edited (a tree of conditions) and its edits. Plain Rust.
//! - [`estimate`]: which blobs a rule needs, whether the full tier is downloaded or the server
//!   asked (decided there only), evaluation on the sample and full tiers, the funnel. Plain Rust.
//! - [`profile`]: the segment profile with TGI. Plain Rust.
//! - [`catalog`]: tag groups by category tree, search. Plain Rust.
//! - [`trends`]: the Trends page's selection, histories on one day axis, hover readings,
//!   summaries. Plain Rust.
//! - [`split`]: the Split page's form checks, the in-browser preview of a split, the balance
//!   check (sizes and tag mix: `engine::balance`, the server's own functions) and the outcome
//!   table. Plain Rust.
//! - [`overview`]: the Overview's populations (boolean `active_*`/`paid_*` groups), their sizes
//!   from the manifests, the segments that moved most, freshness, the address. Plain Rust.
//! - [`lookup`]: one user's tags and segments across the days as a timeline. Plain Rust.
//! - [`csv`]: tables as CSV for the pages' downloads. Plain Rust.
//! - [`reach`]: the destination form's checks and a sync's state in words (Segments and
//!   Destinations pages). Plain Rust.
//! - [`members`]: member lists out (formats, file names, progress) and in (a file as the list
//!   the server takes, its accounting in words). Plain Rust.
//! - [`analysis`]: the Funnels and Pivot pages' choices (in their addresses), rows, heat scale
//!   and CSV, and the audiences the analysis pages take. Plain Rust.
//! - [`compare`]: the Compare page's choices (two audiences, more sets for the overlap), sizes
//!   from the overlap's regions, distributions with differences beyond chance. Plain Rust.
//! - [`analysis_local`]: funnels, pivots, overlaps and distributions computed in the browser
//!   from full-tier blobs, with the engine functions the server's routes call; what is left to
//!   the server. Plain Rust.
//! - [`charts`]: plotters drawings (generic over the backend), their data shaping, and exact
//!   values on hover ([`charts::hover`]).
//! - [`format`]: number formats (`12,345` · `1.2M` · `38.5%`). Plain Rust.
//! - [`nav`]: the pages of the app, their order, paths and whether they exist yet.
//! - [`health`]: turns the server's health answer into what the Overview shows.
//! - [`components`]: the shell (header, navigation, routes, status line), the sync panel of a
//!   segment or experiment group, and small views.
//! - [`pages`]: one module per page; a page with several features is a folder of components
//!   (`pages/audience/`, `pages/split/`) whose `mod.rs` binds the signals.
//!
//! Components only bind data to markup; what can be computed lives in the plain modules,
//! which are tested natively with `cargo test`.

pub mod access;
pub mod admin;
pub mod analysis;
pub mod analysis_local;
pub mod api;
pub mod audience;
pub mod blobs;
pub mod catalog;
pub mod charts;
pub mod compare;
pub mod components;
pub mod csv;
pub mod ctx;
pub mod draft;
pub mod estimate;
pub mod format;
pub mod health;
pub mod lookup;
pub mod members;
pub mod nav;
pub mod overview;
pub mod pages;
pub mod profile;
pub mod reach;
pub mod session;
pub mod split;
pub mod trends;

pub use components::shell::App;
