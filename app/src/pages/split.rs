//! Split (拆包): divide a segment's members on a day into A/B groups that never reshuffle.
//!
//! A new split is previewed in the browser before it is saved: the segment's members are
//! downloaded (external ids, the export) and each is assigned by the engine's salted hashes —
//! the code the server runs — so the preview's groups are the groups the server will freeze.
//! The preview shows planned against previewed sizes with the sample-ratio-mismatch test, and
//! the tag mix of each group from the day's tag bitmaps. A saved split (`/split?experiment=…`)
//! shows the server's balance check, the outcome of a metric tag on a day with 95% intervals,
//! and a CSV export per group. The logic is in [`crate::split`]; this module binds it.

use std::sync::Arc;

use engine::Manifest;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};
use wasm_bindgen::JsCast;

use crate::api::{self, Error, Experiment, ExperimentView, MixRow, NewExperiment, Segment};
use crate::charts::split::outcome_svg;
use crate::components::common::{DayPicker, ErrorNote, Loading, RequireSession};
use crate::ctx::AppState;
use crate::estimate::missing_bytes;
use crate::format;
use crate::session::{Session, encode_component};
use crate::split::{self as logic, GroupDraft, PREVIEW_MAX_MEMBERS, Preview, Verdict};
use crate::trends;

/// The Split page: a saved experiment when the address names one, else a new split and the list.
#[component]
pub fn Split() -> impl IntoView {
    let query = use_query_map();
    let experiment = Memo::new(move |_| query.with(|q| q.get("experiment")).filter(|id| !id.is_empty()));
    // The group sizes of the preview that was just saved, to compare with the server's.
    let just_saved = RwSignal::new(None::<(String, Vec<u64>)>);
    view! {
        <section class="page">
            <header class="page-header">
                <h1 class="page-title">"Split"</h1>
                <p class="page-lede">
                    "Split a segment into A/B groups (拆包) by a salted hash of each user's id: the same user and salt always land in the same group. Preview and check the balance before saving; groups are frozen when saved."
                </p>
            </header>
            <RequireSession>
                {move || match experiment.get() {
                    Some(id) => view! { <Saved id just_saved /> }.into_any(),
                    None => view! { <NewSplit just_saved /> }.into_any(),
                }}
            </RequireSession>
        </section>
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
            ds,
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
                        {move || match segments.get() {
                            None => view! { <Loading what="Loading segments…" /> }.into_any(),
                            Some(Err(e)) => view! { <ErrorNote error=e /> }.into_any(),
                            Some(Ok(list)) if list.is_empty() => {
                                view! {
                                    <p class="muted small">
                                        "No segments yet. " <a href="/audience">"Build an audience"</a> " and save it first."
                                    </p>
                                }
                                    .into_any()
                            }
                            Some(Ok(list)) => view! { <SegmentSelect list segment /> }.into_any(),
                        }}
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
                                    salt.set(format!("{}-{r:08x}", id.get_untracked()));
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

#[component]
fn SegmentSelect(list: Vec<Segment>, segment: RwSignal<Option<String>>) -> impl IntoView {
    let state = AppState::get();
    view! {
        <select
            class="select"
            data-testid="split-segment"
            on:change=move |ev| segment.set(Some(event_target_value(&ev)))
            prop:value=move || segment.get().unwrap_or_default()
        >
            {list
                .into_iter()
                .map(|seg| {
                    let id = seg.id.clone();
                    let id2 = seg.id.clone();
                    let size = move || {
                        state
                            .manifest
                            .get()
                            .and_then(Result::ok)
                            .and_then(|m| m.segment(&id2).map(|e| format!(" · {}", format::int(e.members.full.count))))
                            .unwrap_or_default()
                    };
                    view! {
                        <option value=id.clone() selected=move || segment.get().as_deref() == Some(id.as_str())>
                            {seg.name.clone()}
                            {size}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    }
}

#[component]
fn GroupsEditor(groups: RwSignal<Vec<GroupDraft>>) -> impl IntoView {
    let total = move || {
        groups.with(|g| {
            g.iter().filter_map(|g| g.percent.trim().trim_end_matches('%').trim().parse::<f64>().ok()).sum::<f64>()
        })
    };
    view! {
        <fieldset class="groups-editor">
            <legend class="form-label">"Groups (percent of the segment)"</legend>
            {move || {
                let n = groups.with(Vec::len);
                (0..n)
                    .map(|i| {
                        let name = move || groups.with(|g| g.get(i).map(|g| g.name.clone()).unwrap_or_default());
                        let percent = move || groups.with(|g| g.get(i).map(|g| g.percent.clone()).unwrap_or_default());
                        view! {
                            <div class="group-row" data-testid="group-row">
                                <input
                                    class="input input-small mono"
                                    aria-label=format!("Name of group {}", i + 1)
                                    data-testid="group-name"
                                    prop:value=name
                                    on:change=move |ev| {
                                        let v = event_target_value(&ev);
                                        groups.update(|g| if let Some(g) = g.get_mut(i) { g.name = v });
                                    }
                                />
                                <span class="percent-input">
                                    <input
                                        class="input input-small num"
                                        inputmode="decimal"
                                        aria-label=format!("Percent of group {}", i + 1)
                                        data-testid="group-percent"
                                        prop:value=percent
                                        on:change=move |ev| {
                                            let v = event_target_value(&ev);
                                            groups.update(|g| if let Some(g) = g.get_mut(i) { g.percent = v });
                                        }
                                    />
                                    "%"
                                </span>
                                <button
                                    class="icon-button"
                                    type="button"
                                    title="Remove this group"
                                    aria-label=format!("Remove group {}", i + 1)
                                    disabled=move || groups.with(|g| g.len() <= 2)
                                    on:click=move |_| groups.update(|g| {
                                        if g.len() > 2 {
                                            g.remove(i);
                                        }
                                    })
                                >
                                    "✕"
                                </button>
                            </div>
                        }
                    })
                    .collect_view()
            }}
            <div class="groups-foot">
                <button
                    class="button button-quiet button-small"
                    type="button"
                    data-testid="add-group"
                    disabled=move || groups.with(|g| g.len() >= logic::MAX_GROUPS)
                    on:click=move |_| groups.update(|g| {
                        let name = logic::next_group_name(g);
                        g.push(GroupDraft::new(&name, "10"));
                    })
                >
                    "+ Group"
                </button>
                <span class="muted small" data-testid="groups-total">
                    {move || {
                        let t = total();
                        if t < 100.0 - 1e-9 {
                            format!("{}% in the experiment, {}% not", trim(t), trim(100.0 - t))
                        } else {
                            format!("{}% in the experiment", trim(t))
                        }
                    }}
                </span>
            </div>
        </fieldset>
    }
}

/// A percentage without trailing zeros: `12.5`, `50`.
fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

type MembersResource = LocalResource<Option<Result<(String, String, Members), Error>>>;
type PreviewMemo = Memo<Option<(String, String, Arc<Preview>)>>;

#[component]
fn PreviewCard(
    members: MembersResource,
    preview: PreviewMemo,
    checked: Memo<Result<engine::split::Split, logic::Problems>>,
) -> impl IntoView {
    view! {
        <section class="card preview" data-testid="preview" aria-labelledby="preview-title">
            <header class="card-head">
                <h2 class="card-title" id="preview-title">"Preview"</h2>
                <span class="muted small">"Computed in your browser with the server's hash; nothing is saved yet."</span>
            </header>
            {move || match members.get() {
                None | Some(None) => view! { <Loading what="Loading the segment's members…" /> }.into_any(),
                Some(Some(Err(e))) => view! { <ErrorNote error=e /> }.into_any(),
                Some(Some(Ok((_, ds, Members::NotComputed)))) => {
                    view! {
                        <p class="muted" data-testid="preview-unavailable">
                            "This segment has no members computed on " {ds}
                            " yet (it may still be backfilling). Choose another day, or save: the server computes the members first."
                        </p>
                    }
                        .into_any()
                }
                Some(Some(Ok((_, _, Members::TooLarge(n))))) => {
                    view! {
                        <p class="muted" data-testid="preview-unavailable">
                            "The segment has " {format::int(n)} " members, more than the browser previews ("
                            {format::int(PREVIEW_MAX_MEMBERS)}
                            "). Save to split it on the server; its balance check follows."
                        </p>
                    }
                        .into_any()
                }
                Some(Some(Ok((_, _, Members::Loaded(_))))) => {
                    match (preview.get(), checked.get()) {
                        (Some((seg, ds, p)), Ok(split)) => {
                            view! { <PreviewBody seg ds preview=p split /> }.into_any()
                        }
                        _ => view! { <p class="muted">"Fix the form to see the preview."</p> }.into_any(),
                    }
                }
            }}
        </section>
    }
}

#[component]
fn PreviewBody(seg: String, ds: String, preview: Arc<Preview>, split: engine::split::Split) -> impl IntoView {
    let state = AppState::get();
    let percents: Vec<f64> = split.groups().iter().map(|g| g.percent).collect();
    let names: Vec<String> = split.groups().iter().map(|g| g.name.clone()).collect();
    let check = logic::size_check(&preview.counts, &percents);
    let total_percent: f64 = percents.iter().sum();
    let audience = preview.audience;
    let rows = split
        .groups()
        .iter()
        .enumerate()
        .map(|(k, g)| {
            let planned_users = audience as f64 * g.percent / 100.0;
            let count = preview.counts[k];
            view! {
                <tr data-testid="preview-row" data-group=g.name.clone()>
                    <th scope="row">{g.name.clone()}</th>
                    <td class="num">{format!("{}%", trim(g.percent))}</td>
                    <td class="num">{format!("≈ {}", format::int(planned_users.round() as u64))}</td>
                    <td class="num" data-testid="preview-count" data-count=count>{format::int(count)}</td>
                    <td class="num">
                        {format::percent_exact(check.observed[k])}
                        <span class="muted">" vs " {format::percent_exact(check.planned[k])}</span>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let samples = names
        .iter()
        .zip(&preview.samples)
        .map(|(name, users)| {
            view! {
                <li class="sample-group">
                    <span class="sample-name">{name.clone()}</span>
                    {users
                        .iter()
                        .map(|u| view! { <code data-testid="preview-sample" data-group=name.clone()>{u.clone()}</code> })
                        .collect_view()}
                </li>
            }
        })
        .collect_view();
    // The tag mix: the day's tag bitmaps, when they fit the download budget.
    let manifest = Memo::new(move |_| state.manifest.get().and_then(Result::ok));
    let seg2 = seg.clone();
    let refs = Memo::new(move |_| manifest.get().and_then(|m| logic::mix_refs(&m, &seg2)));
    let missing = Memo::new(move |_| {
        state.blob_tick.track();
        refs.with(|r| r.as_ref().map(|r| state.blobs.with_value(|b| missing_bytes(r, b))))
    });
    let fits = Memo::new(move |_| missing.get().is_some_and(|m| m <= state.budget_bytes()));
    Effect::new(move |_| {
        if fits.get()
            && let Some(r) = refs.get()
        {
            state.ensure(&r);
        }
    });
    let assignment = preview.clone();
    let mix_names = names.clone();
    let counts = preview.counts.clone();
    let mix = Memo::new(move |_| {
        let r = refs.get()?;
        if !state.has_all(&r) {
            return None;
        }
        let m = manifest.get()?;
        Some(state.blobs.with_value(|b| {
            let members = b.get(&r[0].blob)?;
            let sets = logic::group_sets(members, &assignment.assignment, mix_names.len())?;
            let values = logic::mix_groups(&m).flat_map(|g| {
                g.values
                    .iter()
                    .filter_map(|v| b.get(&v.full.blob).map(|set| (g.name.as_str(), v.value.as_str(), &**set)))
            });
            Some(logic::tag_mix(&sets, values))
        }))
    });
    view! {
        <p class="preview-summary">
            <span class="big-number" data-testid="preview-audience" data-count=audience>{format::int(audience)}</span>
            " members of " <span class="mono">{seg}</span> " on " {ds.clone()} ", "
            {format::int(preview.counts.iter().sum::<u64>())} " of them in the experiment ("
            {format!("{}%", trim(total_percent))} " planned)."
        </p>
        <div class="table-scroll">
            <table class="table compact-table" data-testid="preview-table">
                <thead>
                    <tr>
                        <th scope="col">"Group"</th>
                        <th scope="col" class="num">"Planned"</th>
                        <th scope="col" class="num">"Planned users"</th>
                        <th scope="col" class="num">"Preview"</th>
                        <th scope="col" class="num">"Share of assigned"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows}
                    {(preview.unassigned > 0 || total_percent < 100.0)
                        .then(|| {
                            view! {
                                <tr class="muted" data-testid="preview-unassigned" data-count=preview.unassigned>
                                    <th scope="row">"not in the experiment"</th>
                                    <td class="num">{format!("{}%", trim(100.0 - total_percent))}</td>
                                    <td class="num">
                                        {format!("≈ {}", format::int((audience as f64 * (100.0 - total_percent) / 100.0).round() as u64))}
                                    </td>
                                    <td class="num">{format::int(preview.unassigned)}</td>
                                    <td class="num"></td>
                                </tr>
                            }
                        })}
                </tbody>
            </table>
        </div>
        <SrmLine check=check.clone() testid="preview-srm" />
        <div class="samples">
            <h3 class="section-title">"Example users per group"</h3>
            <ul class="sample-list">{samples}</ul>
        </div>
        <h3 class="section-title">"Tag mix per group"</h3>
        {move || match (mix.get(), missing.get()) {
            (Some(Some(rows)), _) => {
                view! { <MixTable names=names.clone() sizes=counts.clone() rows testid="preview-mix" /> }.into_any()
            }
            (Some(None), _) => {
                view! {
                    <p class="muted small">
                        "The segment changed while loading (its members and the export differ); reload to preview the tag mix."
                    </p>
                }
                    .into_any()
            }
            (None, Some(m)) if m > state.budget_bytes() => {
                view! {
                    <p class="muted small" data-testid="preview-mix-skipped">
                        "The tag mix needs " {format::bytes(m)} " of tag data, over your download budget ("
                        {format::int(state.budget_mb.get())} " MB, set on the Audience page). Save to see the server's tag mix."
                    </p>
                }
                    .into_any()
            }
            (None, Some(m)) => view! { <Loading what=format!("Loading tag data ({})…", format::bytes(m)) /> }.into_any(),
            (None, None) => view! { <p class="muted small">"No members on this day to compare."</p> }.into_any(),
        }}
    }
}

#[component]
fn SrmLine(check: logic::SizeCheck, testid: &'static str) -> impl IntoView {
    let (class, word) = if check.srm { ("pill pill-warning", "mismatch") } else { ("pill pill-good", "balanced") };
    view! {
        <p class="srm-line" data-testid=testid data-p=check.p_value.to_string() data-srm=check.srm.to_string()>
            <span class=class>{word}</span>
            " "
            {logic::srm_verdict(&check)}
            <span class="muted small">{format!(" χ² = {:.3}", check.chi_square)}</span>
        </p>
    }
}

#[component]
fn MixTable(names: Vec<String>, sizes: Vec<u64>, rows: Vec<MixRow>, testid: &'static str) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted small">"No tag groups to compare on this day."</p> }.into_any();
    }
    let head = names.iter().map(|n| view! { <th scope="col" class="num">{n.clone()}</th> }).collect_view();
    let chance = logic::chance_band(0.5, &sizes, engine::stats::Z95);
    let flagged = rows.iter().filter(|r| logic::beyond_chance(r, &sizes)).count();
    view! {
        <p class="muted small">
            "Share of each group holding a tag value, largest differences first (top " {logic::MIX_ROWS}
            "; groups of up to " {logic::MIX_MAX_VALUES} " values). Random groups this size differ by chance: by up to "
            {format!("{:.1}", chance * 100.0)} " points for a value half the users hold (95%). "
            {if flagged == 0 {
                "No difference here is beyond chance (p < 0.001).".to_owned()
            } else {
                format!("⚑ {flagged} beyond chance (p < 0.001): check how the segment was built before launch.")
            }}
        </p>
        <div class="table-scroll">
            <table class="table compact-table mix-table" data-testid=testid>
                <thead>
                    <tr>
                        <th scope="col">"Tag"</th>
                        <th scope="col">"Value"</th>
                        {head}
                        <th scope="col" class="num">"Spread"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows
                        .into_iter()
                        .map(|r| {
                            let raw = r.shares.iter().map(f64::to_string).collect::<Vec<_>>().join(",");
                            let odd = logic::beyond_chance(&r, &sizes);
                            view! {
                                <tr
                                    data-testid="mix-row"
                                    class:beyond-chance=odd
                                    data-tag=r.tag.clone()
                                    data-value=r.value.clone()
                                    data-shares=raw
                                >
                                    <td>{r.tag.clone()}</td>
                                    <td>{r.value.clone()}</td>
                                    {r.shares.iter().map(|s| view! { <td class="num">{format::percent_exact(*s)}</td> }).collect_view()}
                                    <td class="num">
                                        {odd.then_some("⚑ ")}
                                        {format!("{:.2} pp", r.spread * 100.0)}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn ExperimentList(
    experiments: LocalResource<Result<Vec<Experiment>, Error>>,
    segments: LocalResource<Result<Vec<Segment>, Error>>,
) -> impl IntoView {
    let name_of = move |id: &str| {
        segments
            .get()
            .and_then(Result::ok)
            .and_then(|l| l.into_iter().find(|s| s.id == id).map(|s| s.name))
            .unwrap_or_else(|| id.to_owned())
    };
    view! {
        <section class="card table-card experiment-list" data-testid="experiment-list">
            <header class="card-head list-head">
                <h2 class="card-title">"Saved splits"</h2>
            </header>
            {move || match experiments.get() {
                None => view! { <Loading what="Loading splits…" /> }.into_any(),
                Some(Err(e)) => view! { <div class="list-head"><ErrorNote error=e /></div> }.into_any(),
                Some(Ok(list)) if list.is_empty() => {
                    view! { <p class="muted empty-state">"No splits yet."</p> }.into_any()
                }
                Some(Ok(mut list)) => {
                    list.sort_by_key(|e| std::cmp::Reverse(e.created_ms));
                    view! {
                        <div class="table-scroll">
                            <table class="table">
                                <thead>
                                    <tr>
                                        <th scope="col">"Experiment"</th>
                                        <th scope="col">"Segment"</th>
                                        <th scope="col">"Day"</th>
                                        <th scope="col">"Groups"</th>
                                        <th scope="col">"Created"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list
                                        .into_iter()
                                        .map(|e| {
                                            let groups = e
                                                .groups
                                                .iter()
                                                .map(|g| format!("{} {}", g.name, format::int(g.count)))
                                                .collect::<Vec<_>>()
                                                .join(" · ");
                                            view! {
                                                <tr data-testid="experiment-row" data-id=e.id.clone()>
                                                    <td>
                                                        <a class="mono" href=format!("/split?experiment={}", encode_component(&e.id))>
                                                            {e.id.clone()}
                                                        </a>
                                                    </td>
                                                    <td>{name_of(&e.segment)}</td>
                                                    <td class="small">{e.ds.clone()}</td>
                                                    <td class="small">{groups}</td>
                                                    <td class="small muted">{format::utc_ms(e.created_ms)}</td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

/// Downloads text as a file named `name`.
fn save_file(name: &str, text: &str) -> Result<(), String> {
    let fail = |e: wasm_bindgen::JsValue| format!("{e:?}");
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/csv;charset=utf-8");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).map_err(fail)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(fail)?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement =
        document.create_element("a").map_err(fail)?.dyn_into().map_err(|_| "not an anchor".to_owned())?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    // Revoked later: revoking at once can cancel the download in some browsers.
    set_timeout(move || drop(web_sys::Url::revoke_object_url(&url)), std::time::Duration::from_secs(30));
    Ok(())
}

/// A saved experiment: groups with exports, the server's balance check, the outcome.
#[component]
fn Saved(id: String, just_saved: RwSignal<Option<(String, Vec<u64>)>>) -> impl IntoView {
    let state = AppState::get();
    let id2 = id.clone();
    let view = LocalResource::new(move || {
        let s = state.session.get();
        let id = id2.clone();
        async move {
            match s {
                Some(s) => api::experiment(&s, &id).await,
                None => Err(Error::Api { status: 401, message: "not signed in".into() }),
            }
        }
    });
    view! {
        <p class="back-link">
            <a href="/split">"← All splits and a new one"</a>
        </p>
        {move || match view.get() {
            None => view! { <Loading what="Loading the split…" /> }.into_any(),
            Some(Err(e)) => view! { <div class="card"><ErrorNote error=e /></div> }.into_any(),
            Some(Ok(v)) => view! { <SavedBody v just_saved /> }.into_any(),
        }}
    }
}

#[component]
fn SavedBody(v: ExperimentView, just_saved: RwSignal<Option<(String, Vec<u64>)>>) -> impl IntoView {
    let state = AppState::get();
    let e = v.experiment.clone();
    let names: Vec<String> = e.groups.iter().map(|g| g.name.clone()).collect();
    let counts: Vec<u64> = e.groups.iter().map(|g| g.count).collect();
    let check = logic::SizeCheck {
        planned: v.balance.planned.clone(),
        observed: v.balance.observed.clone(),
        chi_square: v.balance.chi_square,
        p_value: v.balance.p_value,
        srm: v.balance.srm,
    };
    // Just saved from a preview: say whether the server's groups are the previewed ones.
    let comparison = just_saved.get_untracked().filter(|(id, _)| *id == e.id).map(|(_, previewed)| {
        if previewed == counts {
            (true, "The server froze exactly the groups of the preview.".to_owned())
        } else {
            (
                false,
                format!(
                    "The server's groups differ from the preview ({} vs {}): the segment's members changed in between. The groups below are the frozen ones.",
                    counts.iter().map(|c| format::int(*c)).collect::<Vec<_>>().join(" / "),
                    previewed.iter().map(|c| format::int(*c)).collect::<Vec<_>>().join(" / ")
                ),
            )
        }
    });
    let export_error = RwSignal::new(None::<Error>);
    let exporting = RwSignal::new(None::<String>);
    let total_percent: f64 = e.groups.iter().map(|g| g.percent).sum();
    let group_rows = e
        .groups
        .iter()
        .enumerate()
        .map(|(k, g)| {
            let group = g.name.clone();
            let group2 = g.name.clone();
            let exp_id = e.id.clone();
            let download = move |_| {
                let Some(s) = state.session.get_untracked() else { return };
                let (exp_id, group) = (exp_id.clone(), group.clone());
                exporting.set(Some(group.clone()));
                export_error.set(None);
                spawn_local(async move {
                    match api::experiment_group_csv(&s, &exp_id, &group).await {
                        Ok(text) => {
                            if let Err(e) = save_file(&format!("{exp_id}-{group}.csv"), &text) {
                                export_error.set(Some(Error::Fetch(e)));
                            }
                        }
                        Err(e) => export_error.set(Some(e)),
                    }
                    exporting.set(None);
                });
            };
            view! {
                <tr data-testid="group-result" data-group=g.name.clone()>
                    <th scope="row">{g.name.clone()}</th>
                    <td class="num">{format!("{}%", trim(g.percent))}</td>
                    <td class="num" data-testid="group-count" data-count=g.count>{format::int(g.count)}</td>
                    <td class="num">
                        {format::percent_exact(check.observed.get(k).copied().unwrap_or(0.0))}
                        <span class="muted">" vs " {format::percent_exact(check.planned.get(k).copied().unwrap_or(0.0))}</span>
                    </td>
                    <td class="row-actions">
                        <button
                            class="button button-small button-quiet"
                            data-testid="export-group"
                            data-group=g.name.clone()
                            disabled=move || exporting.get().is_some()
                            on:click=download
                        >
                            {move || if exporting.get().as_deref() == Some(group2.as_str()) { "Exporting…" } else { "CSV" }}
                        </button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let largest =
        v.balance.mix.first().map(|r| {
            format!("Largest difference: {} = {} ({:.2} pp between groups).", r.tag, r.value, r.spread * 100.0)
        });
    view! {
        {comparison
            .map(|(same, text)| {
                let class = if same { "banner banner-good" } else { "banner banner-warning" };
                view! {
                    <div class=class role="status" data-testid="saved-comparison" data-same=same.to_string()>
                        {text}
                    </div>
                }
            })}
        <section class="card saved-head" data-testid="experiment">
            <h2 class="card-title">"Experiment " <span class="mono">{e.id.clone()}</span></h2>
            <dl class="facts">
                <div>
                    <dt>"Segment"</dt>
                    <dd>
                        <a href=format!("/trends?segments={}", encode_component(&e.segment))>{e.segment.clone()}</a>
                    </dd>
                </div>
                <div>
                    <dt>"Members on"</dt>
                    <dd>{e.ds.clone()}</dd>
                </div>
                <div>
                    <dt>"Audience"</dt>
                    <dd data-testid="experiment-audience">{format::int(e.audience)}</dd>
                </div>
                <div>
                    <dt>"Salt"</dt>
                    <dd class="mono" data-testid="experiment-salt">{e.salt.clone()}</dd>
                </div>
                <div>
                    <dt>"Frozen"</dt>
                    <dd>{format::utc_ms(e.created_ms)}</dd>
                </div>
            </dl>
        </section>
        <section class="card table-card" data-testid="groups">
            <header class="card-head list-head">
                <h2 class="card-title">"Groups"</h2>
                <span class="muted small">
                    {format!(
                        "{} of {} members assigned ({}% planned); export each group as CSV (user_id).",
                        format::int(counts.iter().sum()),
                        format::int(e.audience),
                        trim(total_percent),
                    )}
                </span>
            </header>
            <div class="table-scroll">
                <table class="table">
                    <thead>
                        <tr>
                            <th scope="col">"Group"</th>
                            <th scope="col" class="num">"Planned"</th>
                            <th scope="col" class="num">"Members"</th>
                            <th scope="col" class="num">"Share of assigned"</th>
                            <th scope="col" class="actions-col">
                                <span class="sr-only">"Export"</span>
                            </th>
                        </tr>
                    </thead>
                    <tbody>{group_rows}</tbody>
                </table>
            </div>
            {move || export_error.get().map(|e| view! { <div class="list-head"><ErrorNote error=e /></div> })}
        </section>
        <section class="card" data-testid="balance">
            <header class="card-head">
                <h2 class="card-title">"Balance check"</h2>
                <span class="muted small">"From the server, on the frozen groups."</span>
            </header>
            <SrmLine check testid="server-srm" />
            {largest.map(|l| view! { <p class="small">{l}</p> })}
            <MixTable names=names.clone() sizes=counts.clone() rows=v.balance.mix.clone() testid="server-mix" />
        </section>
        <OutcomeCard e />
    }
}

#[component]
fn OutcomeCard(e: Experiment) -> impl IntoView {
    let state = AppState::get();
    let split_ds = e.ds.clone();
    let days = Memo::new(move |_| {
        state
            .days
            .get()
            .and_then(Result::ok)
            .map(|d| logic::outcome_days(&d.into_iter().map(|d| d.ds).collect::<Vec<_>>(), &split_ds))
            .unwrap_or_default()
    });
    let metric_tags = Memo::new(move |_| state.manifest.get().and_then(Result::ok).map(|m| trends::metric_tags(&m)));
    let chosen_metric = RwSignal::new(None::<String>);
    let chosen_day = RwSignal::new(None::<String>);
    let metric = Memo::new(move |_| {
        let tags = metric_tags.get()?;
        chosen_metric.get().filter(|m| tags.contains(m)).or_else(|| trends::default_metric(&tags))
    });
    let day = Memo::new(move |_| chosen_day.get().or_else(|| days.with(|d| d.first().cloned())));
    let exp_id = e.id.clone();
    let outcome = LocalResource::new(move || {
        let s = state.session.get();
        let (metric, day) = (metric.get(), day.get());
        let id = exp_id.clone();
        async move {
            match (s, metric, day) {
                (Some(s), Some(m), Some(d)) => Some(api::outcome(&s, &id, &m, &d).await),
                _ => None,
            }
        }
    });
    let width = Memo::new(move |_| {
        trends::chart_width(
            web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.document_element())
                .map_or(1280.0, |e| f64::from(e.client_width())),
        )
        .min(720)
    });
    view! {
        <section class="card" data-testid="outcome">
            <header class="card-head">
                <h2 class="card-title">"Outcome"</h2>
                <span class="muted small">
                    "A metric tag's rate per group on a day, with 95% intervals (Wilson); differences from the first group with Newcombe's 95% interval."
                </span>
            </header>
            <div class="outcome-controls">
                <label class="form-field">
                    <span class="form-label">"Metric"</span>
                    <select
                        class="select"
                        data-testid="outcome-metric"
                        on:change=move |ev| chosen_metric.set(Some(event_target_value(&ev)))
                    >
                        {move || {
                            // The tags before the metric derived from them (see the Trends page).
                            let tags = metric_tags.get().unwrap_or_default();
                            let m = metric.get();
                            tags.into_iter()
                                .map(|t| {
                                    let selected = m.as_deref() == Some(t.as_str());
                                    view! { <option value=t.clone() selected=selected>{t.clone()}</option> }
                                })
                                .collect_view()
                        }}
                    </select>
                </label>
                <label class="form-field">
                    <span class="form-label">"Day"</span>
                    <select
                        class="select"
                        data-testid="outcome-day"
                        on:change=move |ev| chosen_day.set(Some(event_target_value(&ev)))
                    >
                        {move || {
                            let list = days.get();
                            let d = day.get();
                            list.into_iter()
                                .map(|t| {
                                    let selected = d.as_deref() == Some(t.as_str());
                                    let label = if t == e.ds { format!("{t} (day of the split)") } else { t.clone() };
                                    view! { <option value=t.clone() selected=selected>{label}</option> }
                                })
                                .collect_view()
                        }}
                    </select>
                </label>
            </div>
            {move || match outcome.get() {
                None | Some(None) => view! { <Loading what="Loading the outcome…" /> }.into_any(),
                Some(Some(Err(e))) => view! { <ErrorNote error=e /> }.into_any(),
                Some(Some(Ok(o))) => {
                    let rows = logic::outcome_rows(&o);
                    let note = (!o.after_split)
                        .then(|| {
                            view! {
                                <p class="banner banner-warning" data-testid="outcome-baseline">
                                    "This is the day of the split: differences here were there before any treatment (an A/A check). Pick a later day to read the outcome."
                                </p>
                            }
                        });
                    let chart = match outcome_svg(&o, width.get()) {
                        Ok(svg) => view! { <div class="chart outcome-chart" role="img" aria-label="Rates per group with 95% intervals" inner_html=svg></div> }.into_any(),
                        Err(e) => view! { <p class="error-detail">"Chart failed: " {e}</p> }.into_any(),
                    };
                    let first = o.groups.first().map(|g| g.name.clone()).unwrap_or_default();
                    view! {
                        {note}
                        {chart}
                        <div class="table-scroll">
                            <table class="table compact-table" data-testid="outcome-table" data-ds=o.ds.clone() data-metric=o.metric.clone()>
                                <thead>
                                    <tr>
                                        <th scope="col">"Group"</th>
                                        <th scope="col" class="num">"Members"</th>
                                        <th scope="col" class="num">{format!("With {}", o.metric)}</th>
                                        <th scope="col" class="num">"Rate"</th>
                                        <th scope="col" class="num">"95% interval"</th>
                                        <th scope="col" class="num">{format!("vs {first}")}</th>
                                        <th scope="col" class="num">"95% interval"</th>
                                        <th scope="col">"Verdict"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {rows
                                        .into_iter()
                                        .map(|r| {
                                            let class = match r.verdict {
                                                Verdict::Higher => "pill pill-good",
                                                Verdict::Lower => "pill pill-warning",
                                                _ => "pill",
                                            };
                                            let group = r.name.clone();
                                            view! {
                                                <tr data-testid="outcome-row" data-group=group>
                                                    <th scope="row">{r.name}</th>
                                                    <td class="num">{r.members}</td>
                                                    <td class="num">{r.with_metric}</td>
                                                    <td class="num" data-testid="outcome-rate">{r.rate}</td>
                                                    <td class="num">{r.interval}</td>
                                                    <td class="num" data-testid="outcome-diff">{r.difference}</td>
                                                    <td class="num">{r.difference_interval}</td>
                                                    <td><span class=class>{r.verdict.label()}</span></td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}
