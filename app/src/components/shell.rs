//! The frame around every page: header with the product name, navigation and the signed-in
//! app; the routes; and the status line with what loading data has cost.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::path;

use crate::ctx::AppState;
use crate::format;
use crate::nav::Page;
use crate::pages::audience::Audience;
use crate::pages::compare::Compare;
use crate::pages::destinations::Destinations;
use crate::pages::funnels::Funnels;
use crate::pages::lookup::Lookup;
use crate::pages::overview::Overview;
use crate::pages::pivot::Pivot;
use crate::pages::segments::Segments;
use crate::pages::settings::Settings;
use crate::pages::signin::SignIn;
use crate::pages::split::Split;
use crate::pages::tags::{GovernanceTick, Tags};
use crate::pages::trends::Trends;

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    // Governance changes (issue 15) refresh the catalog, the holds and the navigation's badge.
    provide_context(GovernanceTick::new());
    view! {
        <Router>
            <div class="shell">
                <Header />
                <main class="content" id="main">
                    <Routes fallback=|| view! { <NotFound /> }>
                        <Route path=path!("/") view=Overview />
                        <Route path=path!("/signin") view=SignIn />
                        <Route path=path!("/tags") view=Tags />
                        <Route path=path!("/audience") view=Audience />
                        <Route path=path!("/segments") view=Segments />
                        <Route path=path!("/trends") view=Trends />
                        <Route path=path!("/split") view=Split />
                        <Route path=path!("/funnels") view=Funnels />
                        <Route path=path!("/pivot") view=Pivot />
                        <Route path=path!("/compare") view=Compare />
                        <Route path=path!("/lookup") view=Lookup />
                        <Route path=path!("/destinations") view=Destinations />
                        <Route path=path!("/settings") view=Settings />
                    </Routes>
                </main>
                <footer class="footer">
                    <NetStatus />
                    <span class="footer-version">"Sieve app " {env!("CARGO_PKG_VERSION")}</span>
                </footer>
            </div>
        </Router>
    }
}

/// A page that does not exist.
#[component]
fn NotFound() -> impl IntoView {
    view! {
        <section class="page">
            <h1 class="page-title">"Not found"</h1>
            <p class="page-lede">"There is no page here. " <a href="/">"Go to the overview"</a></p>
        </section>
    }
}

/// Product name, the navigation between pages and the signed-in app.
#[component]
fn Header() -> impl IntoView {
    let location = use_location();
    let current = Memo::new(move |_| Page::of_path(&location.pathname.get()));
    let state = AppState::get();
    let tick = GovernanceTick::get();
    // Held uploads and flagged groups, on the Tags entry (issue 15).
    let reads = Memo::new(move |_| state.access.with(|a| a.as_ref().is_some_and(crate::catalog::reads_catalog)));
    let attention = LocalResource::new(move || {
        tick.track();
        // Only tokens that read the catalog are asked (a service token's request would be a 403).
        let s = state.session.get().filter(|_| reads.get());
        async move {
            match s {
                Some(s) => crate::api::groups(&s).await.map(|l| crate::catalog::attention(&l)).unwrap_or(0),
                None => 0,
            }
        }
    });
    view! {
        <header class="header">
            <div class="header-inner">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true"></span>
                    <span class="brand-name">"Sieve"</span>
                </a>
                <nav class="nav" aria-label="Main">
                    <ul class="nav-list">
                        {Page::ALL
                            .into_iter()
                            .map(|page| {
                                let hidden = move || !state.access.with(|a| page.is_shown_to(a.as_ref()));
                                view! {
                                    <li hidden=hidden>
                                        <NavItem page current=Signal::derive(move || current.get() == Some(page)) />
                                        {move || {
                                            let n = attention.get().unwrap_or(0);
                                            (page == Page::Tags && n > 0)
                                                .then(|| {
                                                    view! {
                                                        <span class="nav-badge" data-testid="nav-attention" title="Held uploads and flagged tag groups">
                                                            {n}
                                                        </span>
                                                    }
                                                })
                                        }}
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </nav>
                <div class="account">
                    {move || match state.session.get() {
                        Some(s) => {
                            view! {
                                <span class="account-app" title="Signed-in app" data-testid="signed-in-app">
                                    {s.app}
                                </span>
                                <button class="button button-quiet" on:click=move |_| state.sign_out()>
                                    "Sign out"
                                </button>
                            }
                                .into_any()
                        }
                        None => view! { <a class="button button-quiet" href="/signin">"Sign in"</a> }.into_any(),
                    }}
                </div>
            </div>
        </header>
    }
}

/// One entry of the navigation: a link when the page exists, a muted label when it is still
/// to come.
#[component]
fn NavItem(page: Page, current: Signal<bool>) -> impl IntoView {
    if page.is_available() {
        view! {
            <a
                class="nav-item"
                class:is-current=move || current.get()
                href=page.path()
                aria-current=move || current.get().then_some("page")
            >
                {page.label()}
            </a>
        }
        .into_any()
    } else {
        view! {
            <span class="nav-item is-soon" aria-disabled="true" title="Coming soon">
                {page.label()}
            </span>
        }
        .into_any()
    }
}

/// Bytes fetched and read from the cache, and what is loading now.
#[component]
fn NetStatus() -> impl IntoView {
    let state = AppState::get();
    view! {
        <span class="net-status" data-testid="net-status" aria-live="polite">
            {move || {
                let st = state.stats.get();
                let mut parts = vec![
                    format!("Downloaded {} blobs · {}", format::int(st.fetched), format::bytes(st.fetched_bytes)),
                    format!("from cache {} · {}", format::int(st.cached), format::bytes(st.cached_bytes)),
                ];
                if st.pending > 0 {
                    parts.push(format!("loading {} · {}", format::int(st.pending), format::bytes(st.pending_bytes)));
                }
                if st.failed > 0 {
                    parts.push(format!("{} failed", format::int(st.failed)));
                }
                parts.join(" · ")
            }}
        </span>
    }
}
