//! The Overview page, the analyst's landing view: for all users and each fixed population
//! (the app's boolean `active_*`/`paid_*` groups, [`crate::overview`]) the size over the retained
//! days and the distribution over chosen tag groups next to all users ([`populations`]); the
//! segments that moved most since the previous day and each group's freshness ([`tables`]);
//! the server's status and what each page is for.

mod populations;
mod tables;

use std::sync::Arc;

use engine::Manifest;
use leptos::prelude::*;

use crate::api;
use crate::ctx::AppState;
use crate::overview::Selection;

/// The address's query string (with its `?`).
fn current_query() -> String {
    web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default()
}
use crate::components::status::{Field, StatusBadge};
use crate::health::{Tone, headline_of, server_status};
use crate::nav::Page;

/// Server status and the pages.
#[component]
pub fn Overview() -> impl IntoView {
    view! {
        <section class="page">
            <header class="page-header">
                <h1 class="page-title">"Overview"</h1>
                <p class="page-lede">
                    "Build audiences from tags and behaviour, count them instantly, "
                    "and follow them day by day."
                </p>
            </header>
            {move || AppState::get().session.get().is_some().then(|| view! { <Analysis /> })}
            <div class="grid">
                <ServerCard />
                <UpcomingCard />
            </div>
        </section>
    }
}

/// Every published day with its manifest (`None`: it could not be read), oldest first.
pub(crate) type Series = Arc<Vec<(String, Option<Arc<Manifest>>)>>;

/// The signed-in app's overview: populations, movers, freshness.
#[component]
fn Analysis() -> impl IntoView {
    let state = AppState::get();
    let series = LocalResource::new(move || {
        let s = state.session.get();
        let days = state.days.get();
        async move {
            let (Some(s), Some(Ok(days))) = (s, days) else { return None };
            let calls = days.iter().map(|d| api::manifest_of_day(&s, d));
            let manifests = futures::future::join_all(calls).await;
            Some(Arc::new(
                days.into_iter().map(|d| d.ds).zip(manifests.into_iter().map(Result::ok)).collect::<Vec<_>>(),
            ))
        }
    });
    let series = Memo::new(move |_| series.get().flatten());
    let selection = RwSignal::new(Selection::from_query(&current_query()));
    Effect::new(move |_| {
        let url = selection.with(Selection::to_url);
        if let Some(w) = web_sys::window()
            && let Ok(h) = w.history()
        {
            let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
        }
    });
    view! {
        <populations::PopulationsCard series selection />
        <populations::DistributionCard selection />
        <div class="overview-pair">
            <tables::MoversCard series />
            <tables::FreshnessCard />
        </div>
    }
}

/// A button that saves a table as a CSV file.
#[component]
pub(crate) fn CsvButton(name: String, rows: Vec<Vec<String>>, testid: &'static str) -> impl IntoView {
    let text = crate::csv::table(&rows);
    view! {
        <button
            class="button button-quiet button-small"
            data-testid=testid
            on:click=move |_| {
                if let Err(e) = crate::components::common::save_file(&name, &text, "text/csv;charset=utf-8") {
                    leptos::logging::warn!("download: {e}");
                }
            }
        >
            "Download CSV"
        </button>
    }
}

/// The server's health, fetched once when the page opens, with a retry button
/// when it fails.
#[component]
fn ServerCard() -> impl IntoView {
    let health = LocalResource::new(api::health);
    let fallback = move |errors: ArcRwSignal<Errors>| {
        let messages = move || {
            errors.read().iter().map(|(_, error)| (headline_of(&***error), error.to_string())).collect::<Vec<_>>()
        };
        view! {
            {move || {
                messages()
                    .into_iter()
                    .map(|(headline, detail)| {
                        view! {
                            <dl class="fields">
                                <Field label="Status">
                                    <StatusBadge label=headline.to_owned() tone=Tone::Bad />
                                </Field>
                            </dl>
                            <p class="error-detail" role="alert">{detail}</p>
                        }
                    })
                    .collect_view()
            }}
            <button class="button" on:click=move |_| health.refetch()>"Retry"</button>
        }
    };
    view! {
        <article class="card" aria-labelledby="server-card-title">
            <h2 class="card-title" id="server-card-title">"Server"</h2>
            <Suspense fallback=|| view! { <p class="muted" aria-busy="true">"Checking the server…"</p> }>
                <ErrorBoundary fallback>
                    {move || Suspend::new(async move {
                        health.await.map(|health| {
                            let status = server_status(&health);
                            view! {
                                <dl class="fields">
                                    <Field label="Status">
                                        <StatusBadge label=status.status tone=status.tone />
                                    </Field>
                                    <Field label="Version">
                                        <span class="mono" data-testid="server-version">
                                            {status.version}
                                        </span>
                                    </Field>
                                </dl>
                            }
                        })
                    })}
                </ErrorBoundary>
            </Suspense>
        </article>
    }
}

/// What each page of the app is for, with a link to it (pages still to come are listed
/// without one).
#[component]
fn UpcomingCard() -> impl IntoView {
    view! {
        <article class="card" aria-labelledby="upcoming-card-title">
            <h2 class="card-title" id="upcoming-card-title">"Pages"</h2>
            <ul class="upcoming">
                {Page::ALL
                    .into_iter()
                    .filter(|page| *page != Page::Overview)
                    .map(|page| {
                        let name = if page.is_available() {
                            view! { <a class="upcoming-name" href=page.path()>{page.label()}</a> }.into_any()
                        } else {
                            view! { <span class="upcoming-name">{page.label()} " (coming soon)"</span> }.into_any()
                        };
                        view! {
                            <li class="upcoming-item">
                                {name}
                                <span class="upcoming-summary">{page.summary()}</span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </article>
    }
}
