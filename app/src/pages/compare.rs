//! Compare: two audiences (saved segments, or a rule opened from the Audience page) side by
//! side on the day — their sizes and overlap (with up to three more sets in the UpSet chart),
//! and a tag group's distribution in A and in B, computed in this browser when the bitmaps fit
//! the download budget (see [`crate::analysis_local`]) and otherwise by the server
//! (`…/overlap`, and `…/pivot` of the group crossed with itself within each audience, whose
//! diagonal is the distribution), with the difference, A's TGI against B, and differences
//! beyond chance flagged. The choice lives in the address; the logic is in [`crate::compare`].

use leptos::prelude::*;

use crate::analysis;
use crate::analysis_local::{LocalDistribution, LocalOverlap};
use crate::api;
use crate::charts::upset;
use crate::compare::{self, CompareChoice};
use crate::components::common::{Chart, ErrorNote, Page, ScrollTable};
use crate::ctx::AppState;
use crate::format;
use crate::pages::analysis_common::{
    AnalysisLoading, AudienceSelect, ComputedNote, CsvButton, NameSelect, Shown, answer, keep_in_address,
    pivotable_groups, query, runs, saved_segments,
};

/// The Compare page.
#[component]
pub fn Compare() -> impl IntoView {
    view! {
        <Page title="Compare" lede="Two audiences (saved segments, or a rule from the Audience page) side by side: sizes, overlap (with up to three more sets), and how a tag group is spread in each; differences beyond chance are marked." day_picker=true>
            <CompareBody />
        </Page>
    }
}

#[component]
fn CompareBody() -> impl IntoView {
    let state = AppState::get();
    let choice = RwSignal::new(CompareChoice::from_query(&query()));
    keep_in_address(choice, CompareChoice::to_url);
    let groups = pivotable_groups(state);
    let segments = saved_segments(state);
    // Defaults: the first two segments and the first group.
    Effect::new(move |_| {
        let list = segments.get().unwrap_or_default();
        let g = groups.get();
        choice.update(|c| {
            if c.a.is_none() && c.b.is_none() && list.len() >= 2 {
                c.a = Some(list[0].id.clone());
                c.b = Some(list[1].id.clone());
            } else if c.b.is_none()
                && let Some(other) = list.iter().find(|s| c.a.as_deref() != Some(s.id.as_str()))
            {
                // Opened with A only (a rule from the Audience page): B is the first other segment.
                c.b = Some(other.id.clone());
            }
            if c.group.is_none() {
                c.group = g.first().cloned();
            }
        });
    });
    let answer = LocalResource::new(move || {
        let s = state.session.get();
        let ds = state.ds.get();
        let c = choice.get();
        let overlap = ds.as_deref().and_then(|ds| c.overlap(ds));
        let runs_overlap = runs(state, |m, w| overlap.as_ref().and_then(|r| LocalOverlap::plan(r, m, w)));
        let distribution = |audience: Option<&str>| {
            runs(state, |m, w| LocalDistribution::plan(c.group.as_deref()?, &analysis::audience_rule(audience?), m, w))
        };
        let (runs_a, runs_b) = (distribution(c.a.as_deref()), distribution(c.b.as_deref()));
        async move {
            let (Some(s), Some(ds), Some(overlap), Some(a), Some(b)) = (s, ds, overlap, c.a.clone(), c.b.clone())
            else {
                return Shown::Choose;
            };
            let (o, computed) = match answer(state, runs_overlap, api::overlap(&s, &overlap)).await {
                None => return Shown::Waiting,
                Some(Err(e)) => return Shown::Done(Err(e)),
                Some(Ok(o)) => o,
            };
            let (da, db, computed) = match (c.distribution(&ds, &a), c.distribution(&ds, &b)) {
                (Some(ra), Some(rb)) => {
                    // On the server: the group crossed with itself within the audience, whose
                    // diagonal is each value's users in it.
                    let s = &s;
                    let diagonal = |r| async move { api::pivot(s, &r).await.map(|p| compare::diagonal(&p)) };
                    let (pa, pb) =
                        futures::future::join(answer(state, runs_a, diagonal(ra)), answer(state, runs_b, diagonal(rb)))
                            .await;
                    match (pa, pb) {
                        (Some(Ok((da, ca))), Some(Ok((db, cb)))) => (da, db, computed.and(ca).and(cb)),
                        (Some(Err(e)), _) | (_, Some(Err(e))) => return Shown::Done(Err(e)),
                        _ => return Shown::Waiting,
                    }
                }
                _ => (Vec::new(), Vec::new(), computed),
            };
            Shown::Done(Ok(((o, da, db), computed)))
        }
    });
    let min_audience = move || state.access.get().map_or(0, |a| a.min_audience());
    let count = move |n: Option<u64>| n.map_or_else(|| format!("< {}", format::int(min_audience())), format::int);
    view! {
        <div class="card analysis-controls">
            <div class="analysis-filters">
                <label class="form-field"><span class="form-label">"A"</span>
                    <AudienceSelect testid="compare-a" segments=segments chosen=Signal::derive(move || choice.with(|c| c.a.clone())) on_pick=move |v| choice.update(|c| c.a = Some(v)) />
                </label>
                <label class="form-field"><span class="form-label">"B"</span>
                    <AudienceSelect testid="compare-b" segments=segments chosen=Signal::derive(move || choice.with(|c| c.b.clone())) on_pick=move |v| choice.update(|c| c.b = Some(v)) />
                </label>
                {move || {
                    // One select per further set, and an empty one while fewer than five.
                    let shown = choice.with(|c| (c.more.len() + 1).min(compare::MAX_SETS - 2));
                    (0..shown).map(|i| {
                        let letter = ["C", "D", "E"][i];
                        view! {
                            <label class="form-field"><span class="form-label">{format!("{letter} (overlap)")}</span>
                                <AudienceSelect testid="compare-more" none="—" segments=segments chosen=Signal::derive(move || choice.with(|c| c.more.get(i).cloned())) on_pick=move |v: String| choice.update(|c| c.set_more(i, (!v.is_empty()).then_some(v))) />
                            </label>
                        }
                    }).collect_view()
                }}
                <label class="form-field">
                    <span class="form-label">"Tag group"</span>
                    <NameSelect testid="compare-group" names=groups chosen=Signal::derive(move || choice.with(|c| c.group.clone())) on_pick=move |v| choice.update(|c| c.group = Some(v)) />
                </label>
            </div>
        </div>
        {move || match answer.get() {
            None | Some(Shown::Waiting) => view! { <AnalysisLoading what="Comparing…" /> }.into_any(),
            Some(Shown::Choose) => view! { <p class="card muted empty-state">"Choose two segments."</p> }.into_any(),
            Some(Shown::Done(Err(e))) => view! { <div class="card"><ErrorNote error=e /></div> }.into_any(),
            Some(Shown::Done(Ok(((o, da, db), computed)))) => {
                let p = compare::pair_sizes(&o);
                let rows = compare::compare_rows(&da, p.a, &db, p.b);
                let pct = |s: Option<f64>| s.map_or_else(|| "–".to_owned(), format::percent);
                let group = choice.with_untracked(|c| c.group.clone().unwrap_or_default());
                let n = choice.with_untracked(|c| c.sets().map_or(2, |s| s.len()));
                let names: Vec<String> = ["A", "B", "C", "D", "E"].iter().take(n).map(|s| (*s).to_owned()).collect();
                let bars = upset::bars(n, &o.regions.iter().map(|r| r.count).collect::<Vec<_>>());
                let upset_label = (1u32..).zip(&o.regions).map(|(m, r)| format!("{}: {}", compare::region_name(&names, m), count(r.count))).collect::<Vec<_>>().join("; ");
                let sizes_csv = compare::compare_sizes_csv(&p);
                let rows_csv = compare::compare_rows_csv(&rows, &group);
                let regions_csv = compare::regions_csv(&o, &names);
                let (sizes_file, rows_file, regions_file) = (format!("compare-sizes-{}.csv", o.ds), format!("compare-{group}-{}.csv", o.ds), format!("compare-regions-{}.csv", o.ds));
                let regions: Vec<(String, Option<u64>)> = (1u32..).zip(&o.regions).map(|(m, r)| (compare::region_name(&names, m), r.count)).collect();
                view! {
                    <section class="card" data-testid="compare-sizes">
                        <header class="card-head">
                            <h2 class="card-title">{format!("Sizes on {}", o.ds)}</h2>
                            <ComputedNote computed />
                            <CsvButton testid="compare-sizes-csv" file=sizes_file csv=sizes_csv />
                        </header>
                        <ScrollTable>
                            <thead><tr><th class="num">"A"</th><th class="num">"B"</th><th class="num">"A, not B"</th><th class="num">"Both"</th><th class="num">"B, not A"</th></tr></thead>
                            <tbody><tr>
                                <td class="num" data-testid="size-a">{count(p.a)}</td>
                                <td class="num" data-testid="size-b">{count(p.b)}</td>
                                <td class="num" data-testid="only-a">{count(p.only_a)}</td>
                                <td class="num" data-testid="both">{count(p.both)}</td>
                                <td class="num" data-testid="only-b">{count(p.only_b)}</td>
                            </tr></tbody>
                        </ScrollTable>
                        <Chart svg=upset::svg(&names, &bars, &format!("< {}", format::int(min_audience()))) label=upset_label />
                        {(n > 2).then(|| view! {
                            <header class="card-head">
                                <h3 class="section-title">{format!("The {} regions of {} sets", regions.len(), n)}</h3>
                                <CsvButton testid="compare-regions-csv" file=regions_file csv=regions_csv />
                            </header>
                            <ScrollTable testid="compare-regions">
                                <thead><tr><th>"Region"</th><th class="num">"Users"</th></tr></thead>
                                <tbody>
                                    {regions.into_iter().map(|(name, c)| view! {
                                        <tr data-testid="compare-region"><td>{name}</td><td class="num" data-testid="region-users">{count(c)}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </ScrollTable>
                        })}
                    </section>
                    <section class="card" data-testid="compare-distribution">
                        <header class="card-head">
                            <h2 class="card-title">{group.clone()}</h2>
                            <CsvButton testid="compare-csv" file=rows_file csv=rows_csv />
                        </header>
                        <ScrollTable>
                            <thead><tr><th>"Value"</th><th class="num">"A"</th><th class="num">"% of A"</th><th class="num">"B"</th><th class="num">"% of B"</th><th class="num">"Difference"</th><th class="num">"TGI A vs B"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|r| view! {
                                    <tr data-testid="compare-row" data-value=r.value.clone() class:beyond-chance=r.beyond_chance>
                                        <td>{r.value.clone()}</td>
                                        <td class="num" data-testid="a-users">{count(r.a.0)}</td>
                                        <td class="num">{pct(r.a.1)}</td>
                                        <td class="num" data-testid="b-users">{count(r.b.0)}</td>
                                        <td class="num">{pct(r.b.1)}</td>
                                        <td class="num">{r.difference.map_or_else(|| "–".to_owned(), format::points)}{r.beyond_chance.then(|| view! { <span class="chance-flag" title="Beyond chance: the 95% interval of the difference leaves out 0">" ●"</span> })}</td>
                                        <td class="num">{format::tgi(r.tgi)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </ScrollTable>
                        <p class="muted small">"● beyond chance: the 95% interval of the difference (Newcombe, as on the Split page) leaves out 0."</p>
                    </section>
                }.into_any()
            }
        }}
    }
}
