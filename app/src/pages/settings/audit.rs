//! The audit log (oldest first, "Load more" for the next page, the whole log as CSV) and the
//! membership lookups per day and token.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::admin::{self, AUDIT_PAGE, AuditLog};
use crate::api::{self, Error, LookupCount};
use crate::components::common::{ErrorNote, Loaded, Loading, ScrollTable, save_file};
use crate::ctx::AppState;
use crate::format;

/// The audit log card; reloaded from its start whenever `changed` moves.
#[component]
pub(super) fn AuditCard(changed: RwSignal<u64>) -> impl IntoView {
    let state = AppState::get();
    let log = RwSignal::new(AuditLog::default());
    let problem = RwSignal::new(None::<Error>);
    let busy = RwSignal::new(false);
    let load = move |after: Option<String>| {
        let Some(s) = state.session.get_untracked() else { return };
        busy.set(true);
        spawn_local(async move {
            match api::audit(&s, after.as_deref(), AUDIT_PAGE).await {
                Ok(page) => {
                    problem.set(None);
                    log.update(|l| {
                        if after.is_none() {
                            *l = AuditLog::default();
                        }
                        l.append(page);
                    });
                }
                Err(e) => problem.set(Some(e)),
            }
            busy.set(false);
        });
    };
    Effect::new(move |_| {
        changed.track();
        load(None);
    });
    let download = move |_| {
        let Some(s) = state.session.get_untracked() else { return };
        spawn_local(async move {
            match api::audit_csv(&s).await {
                Ok(text) => {
                    if let Err(e) = save_file(&format!("audit-{}.csv", s.app), &text, "text/csv;charset=utf-8") {
                        problem.set(Some(Error::Fetch(e)));
                    }
                }
                Err(e) => problem.set(Some(e)),
            }
        });
    };
    view! {
        <article class="card table-card-padded" aria-labelledby="audit-title">
            <header class="card-head">
                <h2 class="card-title" id="audit-title">"Audit log"</h2>
                <button class="button button-small button-quiet" data-testid="audit-csv" on:click=download>
                    "Download CSV"
                </button>
            </header>
            <p class="muted small">"Exports, freezes, splits, deletions, token changes and settings changes, oldest first. Nothing else is logged."</p>
            {move || problem.get().map(|e| view! { <ErrorNote error=e /> })}
            {move || {
                log.with(|l| {
                    if !l.loaded {
                        return view! { <Loading what="Loading the audit log…" /> }.into_any();
                    }
                    if l.entries.is_empty() {
                        return view! { <p class="muted">"Nothing audited yet."</p> }.into_any();
                    }
                    let rows = l
                        .entries
                        .iter()
                        .map(|e| {
                            view! {
                                <tr data-testid="audit-row" data-action=e.action.as_str()>
                                    <td class="small nowrap">{format::utc_ms(e.at_ms)}</td>
                                    <td>{admin::actor_label(&e.actor)}</td>
                                    <td>{admin::action_label(e.action)}</td>
                                    <td class="mono small">{e.target.clone().unwrap_or_default()}</td>
                                    <td class="small">{e.ds.clone().unwrap_or_default()}</td>
                                    <td class="num">{e.users.map(format::int).unwrap_or_default()}</td>
                                    <td class="small">{e.detail.clone().unwrap_or_default()}</td>
                                </tr>
                            }
                        })
                        .collect_view();
                    view! {
                        <ScrollTable class="audit-table" testid="audit-table">
                            <thead>
                                <tr>
                                    <th scope="col">"When"</th>
                                    <th scope="col">"Who"</th>
                                    <th scope="col">"What"</th>
                                    <th scope="col">"Target"</th>
                                    <th scope="col">"Day"</th>
                                    <th scope="col" class="num">"Users"</th>
                                    <th scope="col">"Detail"</th>
                                </tr>
                            </thead>
                            <tbody>{rows}</tbody>
                        </ScrollTable>
                    }
                        .into_any()
                })
            }}
            {move || {
                log.with(AuditLog::has_more).then(|| {
                    view! {
                        <button
                            class="button button-quiet load-more"
                            data-testid="audit-more"
                            disabled=move || busy.get()
                            on:click=move |_| load(log.with_untracked(|l| l.next.clone()))
                        >
                            "Load more"
                        </button>
                    }
                })
            }}
        </article>
    }
}

/// Membership lookups per day and token.
#[component]
pub(super) fn LookupsCard() -> impl IntoView {
    let state = AppState::get();
    let counts = LocalResource::new(move || {
        let s = state.session.get();
        async move {
            match s {
                Some(s) => api::lookup_counts(&s).await,
                None => Err(Error::api(401, "unauthorized", "not signed in")),
            }
        }
    });
    view! {
        <article class="card" aria-labelledby="lookups-title">
            <h2 class="card-title" id="lookups-title">"Membership lookups per day"</h2>
            <p class="muted small">"Lookups of one user's tags are counted per token and day, not logged one by one."</p>
            <Loaded
                value=move || counts.get()
                what="Loading lookups…"
                ready={move |days: Vec<LookupCount>| {
                    if days.is_empty() {
                        return view! { <p class="muted">"No lookups yet."</p> }.into_any();
                    }
                    view! {
                        <ScrollTable class="lookups-table" testid="lookups-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Day"</th>
                                    <th scope="col">"Token"</th>
                                    <th scope="col" class="num">"Lookups"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {days
                                    .into_iter()
                                    .map(|d| {
                                        view! {
                                            <tr data-testid="lookups-row">
                                                <td>{d.ds}</td>
                                                <td>{admin::actor_label(&d.actor)}</td>
                                                <td class="num">{format::int(d.lookups)}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </ScrollTable>
                    }
                        .into_any()
                }}
            />
        </article>
    }
}
