//! Sieve's single-page app: Leptos, client-side rendered, built with Trunk.
//!
//! # Layout
//! - [`api`]: typed client for the server's REST API (`/api/v1/...`) over gloo-net,
//!   with one [`api::Error`] enum for everything that can go wrong on the way.
//! - [`nav`]: the pages of the app, their order, paths and whether they exist yet.
//!   Plain data, tested natively.
//! - [`health`]: turns the server's health answer into what the Overview shows.
//!   Plain functions, tested natively.
//! - [`components`]: the shell (header, navigation) and small reusable views.
//!   Components only bind data to markup; what can be computed lives in the
//!   modules above.
//! - [`pages`]: one module per page; for now only the Overview.

pub mod api;
pub mod components;
pub mod health;
pub mod nav;
pub mod pages;

pub use components::shell::App;
