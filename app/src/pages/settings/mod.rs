//! Settings (app admins and the server's admin token): the app's tokens, its privacy settings,
//! the audit log and the membership lookups per day.
//!
//! | module | feature |
//! | --- | --- |
//! | [`tokens`] | the tokens table; create (the secret shown once), rotate, revoke |
//! | [`privacy`] | minimum audience, ε and the daily budget of aggregate tokens |
//! | [`audit`] | the audit log page by page, its CSV, and lookups per day |
//!
//! The forms' checks, the log's paging and the labels are plain Rust in [`crate::admin`].

mod audit;
mod privacy;
mod tokens;

use leptos::prelude::*;

use crate::access::Access;
use crate::components::common::{Loading, Page};
use crate::ctx::AppState;

use audit::{AuditCard, LookupsCard};
use privacy::PrivacyCard;
use tokens::TokensCard;

/// The Settings page.
#[component]
pub fn Settings() -> impl IntoView {
    view! {
        <Page title="Settings" lede="Who can read this app, what aggregate tokens see, and what was done." wide=true>
            <SettingsBody />
        </Page>
    }
}

#[component]
fn SettingsBody() -> impl IntoView {
    let state = AppState::get();
    // Bumped by every change made here, so the audit log shows it.
    let changed = RwSignal::new(0u64);
    // Only whether the token is an admin: a settings change must not rebuild the page.
    let admin = Memo::new(move |_| state.access.with(|a| a.as_ref().map(Access::is_admin)));
    move || {
        match admin.get() {
        None => view! { <Loading what="Loading the app…" /> }.into_any(),
        Some(false) => view! {
            <article class="card" data-testid="settings-refused">
                <h2 class="card-title">"For app admins"</h2>
                <p class="muted">"Only an admin token of this app (or the server's admin token) manages its tokens, settings and audit log."</p>
            </article>
        }
        .into_any(),
        Some(true) => view! {
            // The wide tables get the page's width; the two small cards share a row.
            <TokensCard changed />
            <div class="settings-grid">
                <PrivacyCard changed />
                <LookupsCard />
            </div>
            <AuditCard changed />
        }
        .into_any(),
    }
    }
}
