//! The Overview page: is the server up, which version, and what each page is for.

use leptos::prelude::*;

use crate::api;
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
            <div class="grid">
                <ServerCard />
                <UpcomingCard />
            </div>
        </section>
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
