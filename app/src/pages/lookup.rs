//! User lookup: everything the membership API says of one user on a day (tags, segments, the
//! day's events with counts, experiment groups), and a timeline of their tags and segments
//! across the retained days (one call per published day, `?ds=`; the grid is
//! [`crate::lookup::timeline`]).

use leptos::prelude::*;

use crate::api::{self, UserTags};
use crate::components::common::{ErrorNote, Loading, Page, ScrollTable, save_file};
use crate::ctx::AppState;
use crate::format;
use crate::lookup::{self, RowKind};

/// The lookup page.
#[component]
pub fn Lookup() -> impl IntoView {
    view! {
        <Page title="User lookup" lede="Which tags and segments one user has, as other services see it." day_picker=true>
            {move || {
                if AppState::get().access_or_default().sees_members() {
                    view! { <LookupBody /> }.into_any()
                } else {
                    view! {
                        <article class="card" data-testid="lookup-withheld">
                            <h2 class="card-title">"Lookups are withheld"</h2>
                            <p class="muted">
                                "This token is an aggregate token: it sees counts only, never one user's tags or segments. "
                                "Ask an app admin for a viewer or service token to look users up."
                            </p>
                        </article>
                    }
                        .into_any()
                }
            }}
        </Page>
    }
}

#[component]
fn LookupBody() -> impl IntoView {
    let state = AppState::get();
    let input = RwSignal::new(String::new());
    let asked = RwSignal::new(None::<String>);
    let answer = LocalResource::new(move || {
        let user = asked.get();
        let s = state.session.get();
        let ds = state.ds.get();
        async move {
            match (user, s, ds) {
                (Some(u), Some(s), Some(ds)) => Some(api::user_tags(&s, &u, &ds).await),
                _ => None,
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let user = input.get_untracked().trim().to_owned();
        if !user.is_empty() {
            asked.set(Some(user));
        }
    };
    view! {
        <form class="card lookup-form" on:submit=submit>
            <label class="form-field grow">
                <span class="form-label">"User id"</span>
                <input
                    class="input mono"
                    data-testid="lookup-input"
                    placeholder="e.g. u0000042"
                    prop:value=move || input.get()
                    on:input=move |ev| input.set(event_target_value(&ev))
                />
            </label>
            <button class="button" type="submit" data-testid="lookup-submit">"Look up"</button>
        </form>
        <div class="lookup-result" data-testid="lookup-result">
            {move || match (asked.get(), answer.get()) {
                (None, _) => view! { <p class="muted empty-state">"Enter a user id to see their tags and segments."</p> }.into_any(),
                (Some(_), None) => view! { <Loading what="Looking up…" /> }.into_any(),
                (Some(_), Some(None)) => view! { <Loading what="Waiting for the day…" /> }.into_any(),
                (Some(_), Some(Some(Err(e)))) if matches!(e, api::Error::Api { status: 404, .. }) => {
                    view! { <p class="card muted">"No such user on this day (" {e.to_string()} ")."</p> }.into_any()
                }
                (Some(_), Some(Some(Err(e)))) => view! { <ErrorNote error=e /> }.into_any(),
                (Some(_), Some(Some(Ok(tags)))) => view! { <UserCard tags /> }.into_any(),
            }}
            {move || asked.get().map(|user| view! { <TimelineCard user /> })}
        </div>
    }
}

#[component]
fn UserCard(tags: UserTags) -> impl IntoView {
    let segments = tags.segments.clone();
    let events = tags.events.clone();
    let experiments = tags.experiments.clone();
    view! {
        <article class="card">
            <h2 class="card-title">
                <span class="mono">{tags.user.clone()}</span>
                <span class="muted small">" on " {tags.ds.clone()} " (version " {tags.version} ")"</span>
            </h2>
            <div class="lookup-grid">
                <section>
                    <h3 class="section-title">"Segments"</h3>
                    {if segments.is_empty() {
                        view! { <p class="muted">"In no segment."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="chips" data-testid="lookup-segments">
                                {segments.into_iter().map(|s| view! { <li class="chip">{s}</li> }).collect_view()}
                            </ul>
                        }
                            .into_any()
                    }}
                    <h3 class="section-title">"Events that day"</h3>
                    {if events.is_empty() {
                        view! { <p class="muted" data-testid="lookup-no-events">"No event that day."</p> }.into_any()
                    } else {
                        view! {
                            <table class="table compact" data-testid="lookup-events">
                                <thead>
                                    <tr>
                                        <th scope="col">"Event"</th>
                                        <th scope="col" class="num">"Count"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {events
                                        .into_iter()
                                        .map(|(e, n)| {
                                            let key = e.clone();
                                            view! {
                                                <tr data-event=key>
                                                    <td>{e}</td>
                                                    <td class="num" data-testid="event-count">{format::int(n)}</td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        }
                            .into_any()
                    }}
                    <h3 class="section-title">"Experiment groups"</h3>
                    {if experiments.is_empty() {
                        view! { <p class="muted">"In no experiment."</p> }.into_any()
                    } else {
                        view! {
                            <dl class="fields" data-testid="lookup-experiments">
                                {experiments
                                    .into_iter()
                                    .map(|(exp, group)| {
                                        view! {
                                            <div class="field">
                                                <dt class="field-label">{exp}</dt>
                                                <dd class="field-value mono">{group}</dd>
                                            </div>
                                        }
                                    })
                                    .collect_view()}
                            </dl>
                        }
                            .into_any()
                    }}
                </section>
                <section>
                    <h3 class="section-title">"Tags"</h3>
                    <dl class="fields" data-testid="lookup-tags">
                        {tags
                            .tags
                            .into_iter()
                            .map(|(group, values)| {
                                view! {
                                    <div class="field">
                                        <dt class="field-label">{group}</dt>
                                        <dd class="field-value">{values.join(", ")}</dd>
                                    </div>
                                }
                            })
                            .collect_view()}
                    </dl>
                </section>
            </div>
        </article>
    }
}

/// The user's tags and segments on every published day: one membership call per day, in
/// parallel; a day the user was unknown on (404) is a gap.
#[component]
fn TimelineCard(user: String) -> impl IntoView {
    let state = AppState::get();
    let only_changes = RwSignal::new(false);
    let file = format!("lookup-{}.csv", file_part(&user));
    let answers = LocalResource::new(move || {
        let user = user.clone();
        let s = state.session.get();
        let days: Vec<String> =
            state.days.get().and_then(Result::ok).map(|d| d.into_iter().map(|d| d.ds).collect()).unwrap_or_default();
        async move {
            let s = s?;
            if days.is_empty() {
                return None;
            }
            let calls = days.iter().map(|ds| api::user_tags(&s, &user, ds));
            let answers = futures::future::join_all(calls).await;
            let failures = answers
                .iter()
                .filter_map(|a| a.as_ref().err())
                .filter(|e| !matches!(e, api::Error::Api { status: 404, .. }))
                .count();
            Some((days.into_iter().zip(answers.into_iter().map(Result::ok)).collect::<Vec<_>>(), failures))
        }
    });
    let grid = move || {
        answers.get().flatten().map(|(answers, failures)| {
            let refs: Vec<(String, Option<&UserTags>)> = answers.iter().map(|(d, a)| (d.clone(), a.as_ref())).collect();
            (lookup::timeline(&refs), failures)
        })
    };
    view! {
        <article class="card timeline" data-testid="lookup-timeline">
            <header class="card-head">
                <h2 class="card-title">"Across the days"</h2>
                <span class="muted small">"▲ entered that day · ▽ left that day · ■ held · · no answer (not a user yet)"</span>
            </header>
            {move || match grid() {
                None => view! { <Loading what="Looking the user up on every day…" /> }.into_any(),
                Some((t, failures)) => {
                    let csv = crate::csv::table(&t.table());
                    let days = t.days.clone();
                    let rows = t.rows.clone();
                    let file = file.clone();
                    view! {
                        {(failures > 0)
                            .then(|| view! { <p class="error-detail">{format!("{failures} day(s) could not be read; they show as gaps.")}</p> })}
                        <div class="timeline-tools">
                            <label class="check">
                                <input
                                    type="checkbox"
                                    data-testid="timeline-only-changes"
                                    prop:checked=move || only_changes.get()
                                    on:change=move |ev| only_changes.set(event_target_checked(&ev))
                                />
                                " Only rows that changed"
                            </label>
                            <button
                                class="button button-quiet button-small"
                                data-testid="timeline-csv"
                                on:click=move |_| {
                                    if let Err(e) = save_file(&file, &csv, "text/csv;charset=utf-8") {
                                        leptos::logging::warn!("download: {e}");
                                    }
                                }
                            >
                                "Download CSV"
                            </button>
                        </div>
                        <ScrollTable class="timeline-grid">
                            <thead>
                                <tr>
                                    <th scope="col">"Tag or segment"</th>
                                    {days
                                        .iter()
                                        .map(|d| view! { <th scope="col" class="tl-day" data-ds=d.clone()>{d.get(5..).unwrap_or(d).to_owned()}</th> })
                                        .collect_view()}
                                </tr>
                            </thead>
                            <tbody>
                                {move || {
                                    let only = only_changes.get();
                                    rows.iter()
                                        .filter(|r| !only || r.changes() > 0)
                                        .map(|r| {
                                            let (kind, label) = match r.kind {
                                                RowKind::Segment => ("segment", format!("segment {}", r.label)),
                                                RowKind::Tag => ("tag", format!("{} = {}", r.group, r.label)),
                                            };
                                            view! {
                                                <tr data-kind=kind data-group=r.group.clone() data-value=r.label.clone()>
                                                    <th scope="row" class="tl-label">{label}</th>
                                                    {r.cells
                                                        .iter()
                                                        .map(|c| {
                                                            let (mark, class, word) = c.parts();
                                                            view! {
                                                                <td class=format!("tl-cell {class}") data-state=word title=word>{mark}</td>
                                                            }
                                                        })
                                                        .collect_view()}
                                                </tr>
                                            }
                                        })
                                        .collect_view()
                                }}
                            </tbody>
                        </ScrollTable>
                    }
                        .into_any()
                }
            }}
        </article>
    }
}

/// The user id as a file name's part (letters, digits, `-`, `_` and `.` kept).
fn file_part(user: &str) -> String {
    user.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}
