//! Destinations: where segments and experiment groups are sent (signed webhooks, or files),
//! made, changed and removed by editors, with every sync of the app so failures are seen in one
//! place. A form error is shown beside its field, whether the app's check
//! ([`crate::reach::DestinationForm`], [`crate::reach::DestinationEdit`]) or the server's found
//! it.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wire::{Destination, DestinationKind, FileFormat, SyncState};

use crate::api::{Error, reach as api_reach};
use crate::components::common::{ErrorNote, Loading, Page, ScrollTable, field_error};
use crate::ctx::AppState;
use crate::reach::{self, DestinationEdit, DestinationForm};

/// The Destinations page.
#[component]
pub fn Destinations() -> impl IntoView {
    view! {
        <Page title="Destinations" lede="Where segments are sent: signed webhooks or files. Send a segment from the Segments page, or an experiment's group from its split; every sync and any failure shows here.">
            <DestinationsBody />
        </Page>
    }
}

const FIELDS: &[&str] = &["id", "kind", "url", "secret", "batch_size", "format"];

/// A labelled text input bound to one field of a form, its error (the app's or the server's)
/// beside it; test id `<prefix>-<field>`, and a secret is typed unseen.
fn text_field<T: Send + Sync + 'static>(
    form: RwSignal<T>,
    error: RwSignal<Option<Error>>,
    prefix: &'static str,
    field: &'static str,
    label: &'static str,
    get: fn(&T) -> String,
    set: fn(&mut T, String),
) -> impl IntoView {
    view! {
        <label class="form-field">
            <span class="form-label">{label}</span>
            <input class="input" data-testid=format!("{prefix}-{field}") type=if field == "secret" { "password" } else { "text" }
                prop:value=move || form.with(get) on:input=move |ev| form.update(|f| set(f, event_target_value(&ev))) />
            {field_error(error, Some(field), FIELDS)}
        </label>
    }
}

/// The app's own check of a field, shown as the server's would be.
fn checked(field: &str, message: String) -> Error {
    let mut error = Error::api(400, "invalid_field", message);
    if let Error::Api { body, .. } = &mut error {
        body.field = Some(field.to_owned());
    }
    error
}

#[component]
fn DestinationsBody() -> impl IntoView {
    let state = AppState::get();
    let list = LocalResource::new(move || {
        let s = state.session.get();
        async move {
            match s {
                Some(s) => api_reach::destinations(&s).await,
                None => Ok(Vec::new()),
            }
        }
    });
    // Every sync of the app, for the overview of what is sent where and what failed.
    let syncs = LocalResource::new(move || {
        let s = state.session.get();
        async move {
            match s {
                Some(s) => api_reach::app_syncs(&s).await,
                None => Ok(Vec::new()),
            }
        }
    });
    // The destination being edited (one at a time), under its row.
    let editing = RwSignal::new(None::<String>);
    let reload = Callback::new(move |()| list.refetch());
    let form = RwSignal::new(DestinationForm { kind: "webhook".into(), format: "csv".into(), ..Default::default() });
    let error = RwSignal::new(None::<Error>);
    let saved = RwSignal::new(None::<String>);
    let create = move |_| {
        let Some(s) = state.session.get_untracked() else { return };
        match form.with_untracked(DestinationForm::input) {
            Err((field, message)) => error.set(Some(checked(field, message))),
            Ok(input) => spawn_local(async move {
                match api_reach::create_destination(&s, &input).await {
                    Ok(d) => {
                        error.set(None);
                        saved.set(Some(format!("Destination “{}” made; its secret is not shown again.", d.id)));
                        form.update(|f| {
                            f.id.clear();
                            f.secret.clear();
                        });
                        list.refetch();
                    }
                    Err(e) => error.set(Some(e)),
                }
            }),
        }
    };
    let remove = move |id: String| {
        let Some(s) = state.session.get_untracked() else { return };
        spawn_local(async move {
            match api_reach::delete_destination(&s, &id).await {
                Ok(()) => list.refetch(),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let writes = move || state.access_or_default().writes();
    let input = move |field, label, get, set| text_field(form, error, "destination", field, label, get, set);
    view! {
        {move || writes().then(|| view! {
            <section class="card" data-testid="destination-form">
                <h2 class="card-title">"New destination"</h2>
                <div class="form-grid">
                    {input("id", "Id", |f| f.id.clone(), |f, v| f.id = v)}
                    <label class="form-field">
                        <span class="form-label">"Kind"</span>
                        <select class="select" data-testid="destination-kind" on:change=move |ev| form.update(|f| f.kind = event_target_value(&ev))>
                            <option value="webhook">"Webhook (signed JSON)"</option>
                            <option value="files">"Files (CSV or Parquet)"</option>
                        </select>
                    </label>
                    {input("url", "URL", |f| f.url.clone(), |f, v| f.url = v)}
                    {move || if form.with(|f| f.kind != "files") {
                        view! {
                            {input("secret", "Signing secret (16+ characters)", |f| f.secret.clone(), |f, v| f.secret = v)}
                            {input("batch_size", "Ids per request", |f| f.batch_size.clone(), |f, v| f.batch_size = v)}
                        }.into_any()
                    } else {
                        view! {
                            <label class="form-field">
                                <span class="form-label">"Format"</span>
                                <select class="select" data-testid="destination-format" on:change=move |ev| form.update(|f| f.format = event_target_value(&ev))>
                                    <option value="csv">"CSV"</option>
                                    <option value="parquet">"Parquet"</option>
                                </select>
                            </label>
                        }.into_any()
                    }}
                </div>
                <button class="button" data-testid="destination-create" on:click=create>"Make destination"</button>
                {field_error(error, None, FIELDS)}
                {move || saved.get().map(|m| view! { <p class="banner banner-good" role="status">{m}</p> })}
            </section>
        })}
        <section class="card table-card">
            {move || match list.get() {
                None => view! { <Loading what="Loading destinations…" /> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote error=e /> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="muted empty-state">"No destinations yet."</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <ScrollTable testid="destinations">
                        <thead><tr><th>"Id"</th><th>"Kind"</th><th>"URL"</th><th>"Settings"</th><th></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|d| {
                                let id = d.id.clone();
                                let settings = match (d.kind, d.batch_size, d.format) {
                                    (DestinationKind::Webhook, b, _) => format!("{} ids per request, {}", b.unwrap_or(1000), if d.has_secret { "signed" } else { "unsigned" }),
                                    (DestinationKind::Files, _, f) => if f == Some(FileFormat::Parquet) { "Parquet".into() } else { "CSV".into() },
                                };
                                view! {
                                    <tr data-testid="destination" data-id=d.id.clone()>
                                        <td class="mono">{d.id.clone()}</td>
                                        <td>{if d.kind == DestinationKind::Webhook { "webhook" } else { "files" }}</td>
                                        <td class="mono small">{d.url.clone()}</td>
                                        <td class="small">{settings}</td>
                                        <td class="row-actions">{move || writes().then(|| {
                                            let (id, id2) = (id.clone(), id.clone());
                                            view! {
                                                <button class="button button-small button-quiet" data-testid="destination-edit" on:click=move |_| editing.set(Some(id2.clone()))>"Edit"</button>
                                                <button class="button button-small button-quiet" data-testid="destination-delete" on:click=move |_| remove(id.clone())>"Delete"</button>
                                            }
                                        })}</td>
                                    </tr>
                                    {
                                        let d = d.clone();
                                        move || (editing.get().as_deref() == Some(d.id.as_str())).then(|| {
                                            let d = d.clone();
                                            view! { <tr><td colspan="5"><EditDestination d editing reload /></td></tr> }
                                        })
                                    }
                                }
                            }).collect_view()}
                        </tbody>
                    </ScrollTable>
                }.into_any(),
            }}
        </section>
        <section class="card" data-testid="all-syncs">
            <h2 class="card-title">"Syncs"</h2>
            {move || match syncs.get() {
                None => view! { <Loading what="Loading syncs…" /> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote error=e /> }.into_any(),
                Some(Ok(all)) if all.is_empty() => view! { <p class="muted">"Nothing is being sent anywhere."</p> }.into_any(),
                Some(Ok(mut all)) => {
                    // Failures first.
                    all.sort_by_key(|s| (s.state != SyncState::Failed, s.id.clone()));
                    view! {
                        <ul class="sync-overview">
                            {all.into_iter().map(|s| view! {
                                <li data-testid="sync-overview" data-state=reach::state_word(s.state)>
                                    <span class=format!("pill pill-sync-{}", reach::state_word(s.state))>{reach::state_word(s.state)}</span>
                                    " "{match &s.experiment {
                                        Some(e) => view! { <a href=format!("/split?experiment={}", crate::session::encode_component(e))>{s.segment.clone()}</a> }.into_any(),
                                        None => view! { <a href="/segments">{s.segment.clone()}</a> }.into_any(),
                                    }}" "
                                    <span class="small">{reach::summary(&s)}</span>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }
            }}
        </section>
    }
}

/// The edit form of one destination: URL, a new secret and the batch size (webhooks) or the
/// format (files); only what changed is sent, and the server checks the URL again.
#[component]
fn EditDestination(d: Destination, editing: RwSignal<Option<String>>, reload: Callback<()>) -> impl IntoView {
    let state = AppState::get();
    let form = RwSignal::new(DestinationEdit::of(&d));
    let error = RwSignal::new(None::<Error>);
    let id = StoredValue::new(d.id.clone());
    let save = move |_| {
        let Some(s) = state.session.get_untracked() else { return };
        match form.with_untracked(DestinationEdit::patch) {
            Err((field, message)) => error.set(Some(checked(field, message))),
            Ok(None) => editing.set(None),
            Ok(Some(patch)) => spawn_local(async move {
                match api_reach::patch_destination(&s, &id.get_value(), &patch).await {
                    Ok(_) => {
                        editing.set(None);
                        reload.run(());
                    }
                    Err(e) => error.set(Some(e)),
                }
            }),
        }
    };
    let input = move |field, label, get, set| text_field(form, error, "edit", field, label, get, set);
    let webhook = d.kind == DestinationKind::Webhook;
    view! {
        <div class="destination-edit" data-testid="destination-edit-form">
            {input("url", "URL", |f| f.url.clone(), |f, v| f.url = v)}
            {if webhook {
                view! {
                    {input("secret", "New signing secret (empty: keep)", |f| f.secret.clone(), |f, v| f.secret = v)}
                    {input("batch_size", "Ids per request", |f| f.batch_size.clone(), |f, v| f.batch_size = v)}
                }.into_any()
            } else {
                view! {
                    <label class="form-field">
                        <span class="form-label">"Format"</span>
                        <select class="select" data-testid="edit-format" prop:value=move || form.with(|f| f.format.clone())
                            on:change=move |ev| form.update(|f| f.format = event_target_value(&ev))>
                            <option value="csv">"CSV"</option>
                            <option value="parquet">"Parquet"</option>
                        </select>
                    </label>
                }.into_any()
            }}
            <button class="button button-small" data-testid="destination-save" on:click=save>"Save"</button>
            <button class="button button-small button-quiet" on:click=move |_| editing.set(None)>"Cancel"</button>
            {field_error(error, None, FIELDS)}
        </div>
    }
}
