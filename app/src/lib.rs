//! Sieve's single-page app: Leptos, client-side rendered, built with Trunk.
//!
//! # Layout
//! - [`api`]: typed client for the server's REST API (`/api/v1/...`) over gloo-net,
//!   with one [`api::Error`] enum for everything that can go wrong on the way.
//! - [`session`]: the signed-in app and token (local storage), sign-in links, URL encoding.
//! - [`ctx`]: the app-wide reactive state: session, day, manifest, loaded blobs, loading costs.
//! - [`blobs`]: blobs from the browser's Cache API or the server, checked against their address.
//! - [`draft`]: the audience being edited (a tree of conditions) and its edits. Plain Rust.
//! - [`estimate`]: which blobs a rule needs, evaluation on the sample and full tiers, the
//!   funnel. Plain Rust.
//! - [`profile`]: the segment profile with TGI. Plain Rust.
//! - [`catalog`]: tag groups by category tree, search. Plain Rust.
//! - [`trends`]: the Trends page's selection, histories on one day axis, hover readings,
//!   summaries. Plain Rust.
//! - [`split`]: the Split page's form checks, the in-browser preview of a split, the balance
//!   check (sizes and tag mix) and the outcome table. Plain Rust.
//! - [`charts`]: plotters drawings (generic over the backend) and their data shaping.
//! - [`format`]: number formats (`12,345` · `1.2M` · `38.5%`). Plain Rust.
//! - [`nav`]: the pages of the app, their order, paths and whether they exist yet.
//! - [`health`]: turns the server's health answer into what the Overview shows.
//! - [`components`]: the shell (header, navigation, routes, status line) and small views.
//! - [`pages`]: one module per page.
//!
//! Components only bind data to markup; what can be computed lives in the plain modules,
//! which are tested natively with `cargo test`.

pub mod api;
pub mod blobs;
pub mod catalog;
pub mod charts;
pub mod components;
pub mod ctx;
pub mod draft;
pub mod estimate;
pub mod format;
pub mod health;
pub mod nav;
pub mod pages;
pub mod profile;
pub mod session;
pub mod split;
pub mod trends;

pub use components::shell::App;
