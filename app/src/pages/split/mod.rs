//! Split (拆包): divide a segment's members on a day into A/B groups that never reshuffle.
//!
//! A new split is previewed in the browser before it is saved: the segment's members are
//! downloaded (external ids, the export) and each is assigned by the engine's salted hashes —
//! the code the server runs — so the preview's groups are the groups the server will freeze.
//! The preview shows planned against previewed sizes with the sample-ratio-mismatch test, and
//! the tag mix of each group from the day's tag bitmaps. A saved split (`/split?experiment=…`)
//! shows the server's balance check, the outcome of a metric tag on a day with 95% intervals,
//! and a CSV export per group. The logic is in [`crate::split`]; this module binds the new
//! split's signals, and each part of the page is a component of its own module:
//!
//! | module | part |
//! | --- | --- |
//! | [`form`] | the segment select and the groups editor |
//! | [`preview`] | the in-browser preview: sizes, examples, tag mix |
//! | [`balance`] | the sample-ratio line and the tag-mix table (preview and saved alike) |
//! | [`list`] | the saved splits |
//! | [`saved`] | a saved split: groups, exports, the server's balance check |
//! | [`send`] | a saved split's groups sent to destinations (once or kept in sync) |
//! | [`outcome`] | a metric's rate per group on a day |

mod balance;
mod form;
mod list;
mod outcome;
mod preview;
mod saved;
mod send;

use std::sync::Arc;

use engine::Manifest;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api::{self, Error, NewExperiment};
use crate::components::common::{AggregateNote, DayPicker, ErrorNote, Loaded, Page};
use crate::ctx::AppState;
use crate::session::{Session, encode_component};
use crate::split::{self as logic, PREVIEW_MAX_MEMBERS};

use form::{GroupsEditor, SegmentSelect};
use list::ExperimentList;
use preview::PreviewCard;
use saved::Saved;

/// The Split page: a saved experiment when the address names one, else a new split and the list.
#[component]
pub fn Split() -> impl IntoView {
    let query = use_query_map();
    let experiment = Memo::new(move |_| query.with(|q| q.get("experiment")).filter(|id| !id.is_empty()));
    // The group sizes of the preview that was just saved, to compare with the server's.
    let just_saved = RwSignal::new(None::<(String, Vec<u64>)>);
    view! {
        <Page
            title="Split"
            lede="Split a segment into A/B groups (拆包) by a salted hash of each user's id: the same user and salt always land in the same group. Preview and check the balance before saving; groups are frozen when saved."
        >
            {move || match experiment.get() {
                // Splits read and freeze members: nothing an aggregate token may do.
                _ if !AppState::get().access_or_default().sees_members() => view! { <AggregateNote /> }.into_any(),
                Some(id) => view! { <Saved id just_saved /> }.into_any(),
                None => view! { <NewSplit just_saved /> }.into_any(),
            }}
        </Page>
    }
}

/// The members of a segment on a day, as exported (dense-id order).
#[derive(Debug, Clone, PartialEq)]
enum Members {
    /// The ids.
    Loaded(Arc<Vec<String>>),
    /// Too many to preview in the browser.
    TooLarge(u64),
    /// The segment has no members computed on the day.
    NotComputed,
}

async fn load_members(s: &Session, manifest: &Manifest, segment: &str, ds: &str) -> Result<Members, Error> {
    let Some(entry) = manifest.segment(segment) else { return Ok(Members::NotComputed) };
    if entry.members.full.count > PREVIEW_MAX_MEMBERS {
        return Ok(Members::TooLarge(entry.members.full.count));
    }
    let csv = api::segment_members_csv(s, segment, Some(ds)).await?;
    let users = logic::parse_user_csv(&csv).map_err(Error::Decode)?;
    Ok(Members::Loaded(Arc::new(users)))
}

/// A new split: the form, the preview, the balance check, saving; then the list of splits.
#[component]
fn NewSplit(just_saved: RwSignal<Option<(String, Vec<u64>)>>) -> impl IntoView {
    let state = AppState::get();
    let query = use_query_map();
    let segments = LocalResource::new(move || {
        let s = state.session.get();
        async move {
            match s {
                Some(s) => api::segments(&s).await,
                None => Ok(Vec::new()),
            }
        }
    });
    let experiments = LocalResource::new(move || {
        let s = state.session.get();
        async move {
            match s {
                Some(s) => api::experiments(&s).await,
                None => Ok(Vec::new()),
            }
        }
    });

    let segment = RwSignal::new(query.with_untracked(|q| q.get("segment")).filter(|s| !s.is_empty()));
    Effect::new(move |_| {
        if segment.with_untracked(Option::is_none)
            && let Some(Ok(list)) = segments.get()
            && let Some(first) = list.first()
        {
            segment.set(Some(first.id.clone()));
        }
    });
    let id = RwSignal::new(String::new());
    let id_edited = RwSignal::new(false);
    let salt = RwSignal::new(String::new());
    let salt_edited = RwSignal::new(false);
    let groups = RwSignal::new(logic::default_groups());
    // Until edited, the id follows the segment and day, and the salt follows the id.
    Effect::new(move |_| {
        let taken: Vec<String> =
            experiments.get().and_then(Result::ok).map(|l| l.into_iter().map(|e| e.id).collect()).unwrap_or_default();
        if let (Some(seg), Some(ds)) = (segment.get(), state.ds.get())
            && !id_edited.get_untracked()
        {
            id.set(logic::suggest_id(&seg, &ds, &taken));
        }
    });
    Effect::new(move |_| {
        let current = id.get();
        if !salt_edited.get_untracked() {
            salt.set(current);
        }
    });

    let checked = Memo::new(move |_| logic::check(&id.get(), &salt.get(), &groups.get()));
    let members = LocalResource::new(move || {
        let s = state.session.get();
        let seg = segment.get();
        let ds = state.ds.get();
        let manifest = state.manifest.get().and_then(Result::ok);
        async move {
            match (s, seg, ds, manifest) {
                (Some(s), Some(seg), Some(ds), Some(m)) if m.ds == ds => {
                    Some(load_members(&s, &m, &seg, &ds).await.map(|members| (seg, ds, members)))
                }
                _ => None,
            }
        }
    });
    let preview = Memo::new(move |_| {
        let split = checked.get().ok()?;
        let (seg, ds, members) = members.get().flatten()?.ok()?;
        match members {
            Members::Loaded(users) => Some((seg, ds, Arc::new(logic::preview(&split, &users)))),
            _ => None,
        }
    });

    let saving = RwSignal::new(false);
    let save_error = RwSignal::new(None::<Error>);
    let navigate = use_navigate();
    let save = move |_| {
        let Some(s) = state.session.get_untracked() else { return };
        let Ok(split) = checked.get_untracked() else { return };
        let (Some(seg), Some(ds)) = (segment.get_untracked(), state.ds.get_untracked()) else { return };
        let input = NewExperiment {
            id: id.get_untracked().trim().to_owned(),
            segment: seg,
            ds: Some(ds),
            salt: salt.get_untracked(),
            groups: split.groups().to_vec(),
        };
        let previewed = preview.get_untracked().map(|(_, _, p)| p.counts.clone());
        saving.set(true);
        save_error.set(None);
        let navigate = navigate.clone();
        spawn_local(async move {
            let result = api::create_experiment(&s, &input).await;
            saving.set(false);
            match result {
                Ok(view) => {
                    just_saved.set(previewed.map(|counts| (view.experiment.id.clone(), counts)));
                    experiments.refetch();
                    navigate(
                        &format!("/split?experiment={}", encode_component(&view.experiment.id)),
                        NavigateOptions::default(),
                    );
                }
                Err(e) => save_error.set(Some(e)),
            }
        });
    };

    view! {
        <div class="split-layout">
            <section class="card split-form" data-testid="split-form">
                <h2 class="card-title">"New split"</h2>
                <div class="form">
                    <label class="form-field">
                        <span class="form-label">"Segment"</span>
                        <Loaded
                            value=move || segments.get()
                            what="Loading segments…"
                            ready={move |list: Vec<api::Segment>| {
                                if list.is_empty() {
                                    view! {
                                        <p class="muted small">
                                            "No segments yet. " <a href="/audience">"Build an audience"</a> " and save it first."
                                        </p>
                                    }
                                        .into_any()
                                } else {
                                    view! { <SegmentSelect list segment /> }.into_any()
                                }
                            }}
                        />
                    </label>
                    <div class="form-field">
                        <span class="form-label">"Day of the members"</span>
                        <DayPicker />
                    </div>
                    <label class="form-field">
                        <span class="form-label">"Experiment id"</span>
                        <input
                            class="input mono"
                            data-testid="experiment-id"
                            prop:value=move || id.get()
                            on:input=move |ev| {
                                id_edited.set(true);
                                id.set(event_target_value(&ev));
                            }
                        />
                    </label>
                    <label class="form-field">
                        <span class="form-label">"Salt"</span>
                        <span class="salt-row">
                            <input
                                class="input mono grow"
                                data-testid="salt"
                                prop:value=move || salt.get()
                                on:input=move |ev| {
                                    salt_edited.set(true);
                                    salt.set(event_target_value(&ev));
                                }
                            />
                            <button
                                class="button button-quiet button-small"
                                type="button"
                                data-testid="new-salt"
                                on:click=move |_| {
                                    salt_edited.set(true);
                                    let r = (js_sys::Math::random() * f64::from(u32::MAX)) as u32;
                                    salt.set(logic::new_salt(&id.get_untracked(), r));
                                }
                            >
                                "New salt"
                            </button>
                        </span>
                        <span class="muted small">
                            "The same salt gives the same groups, here and on the server. It starts as the experiment id; a new salt re-draws the groups."
                        </span>
                    </label>
                    <GroupsEditor groups />
                    {move || {
                        checked
                            .get()
                            .err()
                            .map(|p| {
                                view! {
                                    <ul class="problems" role="alert" data-testid="form-problems">
                                        {p.0.into_iter().map(|text| view! { <li>{text}</li> }).collect_view()}
                                    </ul>
                                }
                            })
                    }}
                    <div class="form-actions">
                        <button
                            class="button"
                            data-testid="save-split"
                            disabled=move || saving.get() || checked.with(Result::is_err) || segment.with(Option::is_none)
                            on:click=save
                        >
                            {move || if saving.get() { "Freezing groups…" } else { "Save and freeze groups" }}
                        </button>
                    </div>
                    {move || save_error.get().map(|e| view! { <ErrorNote error=e /> })}
                </div>
            </section>
            <div class="split-preview">
                <PreviewCard members preview checked />
            </div>
        </div>
        <ExperimentList experiments segments />
    }
}
