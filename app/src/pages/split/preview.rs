//! The preview of a new split, computed in the browser with the server's hash: planned and
//! previewed sizes with the sample-ratio test, example users, and the tag mix of each group
//! when the day's tag bitmaps fit the download budget ([`crate::estimate::full_tier`]).

use std::sync::Arc;

use leptos::prelude::*;

use super::Members;
use super::balance::{MixTable, SrmLine};
use crate::api::Error;
use crate::components::common::{ErrorNote, Loading, ScrollTable};
use crate::ctx::AppState;
use crate::estimate::{FullTier, missing_bytes};
use crate::format;
use crate::split::{self as logic, PREVIEW_MAX_MEMBERS, Preview, percent_text};

/// The members of the chosen segment and day: `None` until asked.
pub(super) type MembersResource = LocalResource<Option<Result<(String, String, Members), Error>>>;
/// The preview of the chosen segment and day, with them.
pub(super) type PreviewMemo = Memo<Option<(String, String, Arc<Preview>)>>;

/// The card of the preview, or why there is none.
#[component]
pub(super) fn PreviewCard(
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
                    <td class="num">{format!("{}%", percent_text(g.percent))}</td>
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
    let fits = Memo::new(move |_| missing.get().is_some_and(|m| state.full_tier(m) == FullTier::Download));
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
            {format!("{}%", percent_text(total_percent))} " planned)."
        </p>
        <ScrollTable class="compact-table" testid="preview-table">
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
                                    <td class="num">{format!("{}%", percent_text(100.0 - total_percent))}</td>
                                    <td class="num">
                                        {format!("≈ {}", format::int((audience as f64 * (100.0 - total_percent) / 100.0).round() as u64))}
                                    </td>
                                    <td class="num">{format::int(preview.unassigned)}</td>
                                    <td class="num"></td>
                                </tr>
                            }
                        })}
                </tbody>
        </ScrollTable>
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
            (None, Some(m)) if state.full_tier(m) == FullTier::Server => {
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
