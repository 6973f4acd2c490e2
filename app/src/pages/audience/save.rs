//! Saving the audience: a dynamic segment (created, or updated with `If-Match`, a 412
//! offering Reload / Overwrite) or a static one frozen by the server in one request. Which
//! request is [`crate::audience::save_request`]; this module sends it and shows the answer.

use engine::Rule;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::audience::{Editing, SaveForm, SaveKind, SaveRequest, SaveState, save_request};
use crate::components::common::ErrorNote;
use crate::ctx::AppState;
use crate::draft::{Compiled, Draft, slug};
use crate::session::Session;

/// Sends a save's request; answers what to say. `force` reads the segment's current ETag
/// first, so an update overwrites whatever changed it.
async fn send(
    s: &Session,
    request: &SaveRequest,
    etag: Option<String>,
    force: bool,
) -> Result<(String, Option<String>), api::Error> {
    match request {
        SaveRequest::Update(input) => {
            let etag = if force { api::segment(s, request.id()).await.ok().and_then(|(_, t)| t) } else { etag };
            let etag = api::update_segment(s, input, etag.as_deref()).await?;
            Ok((request.done_message(0, ""), etag))
        }
        SaveRequest::Create(input) => {
            let etag = api::create_segment(s, input).await?;
            Ok((request.done_message(0, ""), etag))
        }
        SaveRequest::Freeze { id, input } => {
            let (frozen, etag) = api::freeze_segment(s, id, input).await?;
            Ok((request.done_message(frozen.members, &frozen.ds), etag))
        }
    }
}

/// The card of the save form.
#[component]
pub(super) fn SaveCard(
    compiled: Memo<Compiled>,
    editing: RwSignal<Option<Editing>>,
    draft: RwSignal<Draft>,
) -> impl IntoView {
    let state = AppState::get();
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new(SaveKind::Dynamic);
    let status = RwSignal::new(SaveState::Idle);
    Effect::new(move |_| {
        if let Some(e) = editing.get() {
            name.set(e.name);
        }
    });
    let empty = move || compiled.with(|c| c.sources.is_empty());

    // `as_new`: create; else update the segment being edited (with If-Match unless `force`).
    let save = move |as_new: bool, force: bool| {
        let Some(s) = state.session.get_untracked() else { return };
        let current = editing.get_untracked();
        let ds = state.ds.get_untracked();
        let form = SaveForm {
            name: &name.get_untracked(),
            kind: kind.get_untracked(),
            editing: current.as_ref(),
            as_new,
            rule: compiled.get_untracked().rule.to_json(),
            ds: ds.as_deref(),
        };
        let request = match save_request(&form) {
            Ok(request) => request,
            Err(e) => return status.set(SaveState::Failed(e)),
        };
        status.set(SaveState::Saving);
        spawn_local(async move {
            let etag = current.and_then(|e| e.etag);
            let result = send(&s, &request, etag, force).await.map(|(message, etag)| {
                // A dynamic segment is edited from here on; a frozen one is done.
                if !matches!(request, SaveRequest::Freeze { .. }) {
                    let (id, name) = (request.id().to_owned(), request.name().to_owned());
                    editing.set(Some(Editing { id, name, etag }));
                }
                state.manifest.refetch();
                message
            });
            status.set(SaveState::after(result));
        });
    };
    let reload = move |_| {
        let (Some(s), Some(e)) = (state.session.get_untracked(), editing.get_untracked()) else { return };
        spawn_local(async move {
            match api::segment(&s, &e.id).await {
                Ok((seg, etag)) => {
                    if let Some(rule) = seg.rule.as_ref().and_then(|r| Rule::from_json(&r.0).ok()) {
                        draft.set(Draft::from_rule(&rule));
                    }
                    editing.set(Some(Editing { id: seg.id, name: seg.name, etag }));
                    status.set(SaveState::Idle);
                }
                Err(e) => status.set(SaveState::Failed(e)),
            }
        });
    };
    view! {
        <article class="card save" aria-labelledby="save-title">
            <h2 class="card-title" id="save-title">
                {move || match editing.get() {
                    Some(e) => format!("Segment “{}”", e.name),
                    None => "Save as a segment".to_owned(),
                }}
            </h2>
            <form
                class="form"
                on:submit=move |ev| {
                    ev.prevent_default();
                    save(editing.with_untracked(Option::is_none), false)
                }
            >
                <label class="form-field">
                    <span class="form-label">"Name"</span>
                    <input
                        class="input"
                        data-testid="segment-name"
                        placeholder="e.g. Young women in Guangdong"
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                </label>
                <p class="muted small">
                    "Id: " <code>{move || editing.get().map(|e| e.id).unwrap_or_else(|| slug(&name.get()))}</code>
                </p>
                {move || {
                    editing
                        .with(Option::is_none)
                        .then(|| {
                            view! {
                                <fieldset class="radio-row">
                                    <legend class="form-label">"Kind"</legend>
                                    <label>
                                        <input
                                            type="radio"
                                            name="kind"
                                            value="dynamic"
                                            prop:checked=move || kind.get() == SaveKind::Dynamic
                                            on:change=move |_| kind.set(SaveKind::Dynamic)
                                        />
                                        " Dynamic (recomputed daily)"
                                    </label>
                                    <label>
                                        <input
                                            type="radio"
                                            name="kind"
                                            value="static"
                                            prop:checked=move || kind.get() == SaveKind::Static
                                            on:change=move |_| kind.set(SaveKind::Static)
                                        />
                                        " Static (frozen now)"
                                    </label>
                                </fieldset>
                            }
                        })
                }}
                <div class="form-actions">
                    <button
                        class="button"
                        type="submit"
                        data-testid="save-segment"
                        disabled=move || empty() || status.get() == SaveState::Saving
                    >
                        {move || if editing.with(Option::is_some) { "Save changes" } else { "Save segment" }}
                    </button>
                    {move || {
                        editing
                            .with(Option::is_some)
                            .then(|| {
                                view! {
                                    <button class="button button-quiet" type="button" on:click=move |_| save(true, false)>
                                        "Save as new"
                                    </button>
                                }
                            })
                    }}
                </div>
            </form>
            <div class="save-status" data-testid="save-status" aria-live="polite">
                {move || match status.get() {
                    SaveState::Idle => None,
                    SaveState::Saving => Some(view! { <p class="muted">"Saving…"</p> }.into_any()),
                    SaveState::Saved(m) => Some(view! { <p class="good">{m} " " <a href="/segments">"See segments"</a></p> }.into_any()),
                    SaveState::Failed(e) => Some(view! { <ErrorNote error=e /> }.into_any()),
                    SaveState::Conflict => {
                        Some(
                            view! {
                                <div class="banner banner-warning" role="alert" data-testid="save-conflict">
                                    <span>"Changed elsewhere: reload it, or overwrite it with this audience."</span>
                                    <span class="banner-actions">
                                        <button class="button button-quiet button-small" type="button" on:click=reload>
                                            "Reload"
                                        </button>
                                        <button class="button button-danger button-small" type="button" on:click=move |_| save(false, true)>
                                            "Overwrite"
                                        </button>
                                    </span>
                                </div>
                            }
                                .into_any(),
                        )
                    }
                }}
            </div>
        </article>
    }
}
