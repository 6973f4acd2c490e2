//! Pivot: the cross-tab of two tag groups on the day, computed in this browser when the values'
//! bitmaps fit the download budget and by the server's `…/pivot` otherwise (both run
//! `engine::analysis::pivot`, see [`crate::analysis_local`]), optionally within a saved
//! segment: users, row and column shares or TGI against all users, on a heat scale;
//! downloadable as CSV. The choice lives in
//! the address; the logic is in [`crate::analysis`].

use leptos::prelude::*;

use crate::analysis::{self, PivotChoice, Show};
use crate::analysis_local::LocalPivot;
use crate::api;
use crate::components::common::{ErrorNote, Page, ScrollTable};
use crate::ctx::AppState;
use crate::pages::analysis_common::{
    AnalysisLoading, AudienceSelect, ComputedNote, CsvButton, NameSelect, Shown, answer, keep_in_address,
    pivotable_groups, query, runs, saved_segments,
};

/// The Pivot page.
#[component]
pub fn Pivot() -> impl IntoView {
    view! {
        <Page title="Pivot" lede="Two tag groups crossed: users in each pair of values, their shares, and TGI against all users." day_picker=true>
            <PivotBody />
        </Page>
    }
}

#[component]
fn PivotBody() -> impl IntoView {
    let state = AppState::get();
    let choice = RwSignal::new(PivotChoice::from_query(&query()));
    keep_in_address(choice, PivotChoice::to_url);
    let groups = pivotable_groups(state);
    // The first two groups when the address names none.
    Effect::new(move |_| {
        let g = groups.get();
        if g.len() >= 2 && choice.with_untracked(|c| c.rows.is_none() && c.columns.is_none()) {
            choice.update(|c| {
                c.rows = Some(g[0].clone());
                c.columns = Some(g[1].clone());
            });
        }
    });
    let segments = saved_segments(state);
    let answer = LocalResource::new(move || {
        let s = state.session.get();
        let ds = state.ds.get();
        let request = choice.with(|c| ds.as_deref().and_then(|ds| c.request(ds)));
        let runs = runs(state, |m, w| request.as_ref().and_then(|r| LocalPivot::plan(r, m, w)));
        async move {
            let (Some(s), Some(r)) = (s, request) else { return Shown::Choose };
            answer(state, runs, api::pivot(&s, &r)).await.into()
        }
    });
    let min_audience = move || state.access.get().map_or(0, |a| a.min_audience());
    view! {
        <div class="card analysis-controls">
            <div class="analysis-filters">
                <label class="form-field">
                    <span class="form-label">"Rows"</span>
                    <NameSelect testid="pivot-rows" names=groups chosen=Signal::derive(move || choice.with(|c| c.rows.clone())) on_pick=move |v| choice.update(|c| c.rows = Some(v)) />
                </label>
                <label class="form-field">
                    <span class="form-label">"Columns"</span>
                    <NameSelect testid="pivot-columns" names=groups chosen=Signal::derive(move || choice.with(|c| c.columns.clone())) on_pick=move |v| choice.update(|c| c.columns = Some(v)) />
                </label>
                <label class="form-field">
                    <span class="form-label">"Within"</span>
                    <AudienceSelect testid="pivot-segment" none="All users" segments=segments chosen=Signal::derive(move || choice.with(|c| c.segment.clone())) on_pick=move |v: String| choice.update(|c| c.segment = (!v.is_empty()).then_some(v)) />
                </label>
                <label class="form-field">
                    <span class="form-label">"Show"</span>
                    <select class="select" data-testid="pivot-show" on:change=move |ev| {
                        let v = event_target_value(&ev);
                        choice.update(|c| c.show = Show::ALL.into_iter().find(|s| s.key() == v).unwrap_or_default());
                    }>
                        {move || {
                            let chosen = choice.with(|c| c.show);
                            Show::ALL.into_iter().map(|s| view! { <option value=s.key() selected=chosen == s>{s.label()}</option> }).collect_view()
                        }}
                    </select>
                </label>
            </div>
        </div>
        {move || match answer.get() {
            None | Some(Shown::Waiting) => view! { <AnalysisLoading what="Crossing the groups…" /> }.into_any(),
            Some(Shown::Choose) => view! { <p class="card muted empty-state">"Choose two tag groups."</p> }.into_any(),
            Some(Shown::Done(Err(e))) => view! { <div class="card"><ErrorNote error=e /></div> }.into_any(),
            Some(Shown::Done(Ok((p, computed)))) => {
                let k = min_audience();
                let show = choice.with_untracked(|c| c.show);
                let (rows_name, columns_name) = choice.with_untracked(|c| (c.rows.clone().unwrap_or_default(), c.columns.clone().unwrap_or_default()));
                let csv = analysis::pivot_csv(&p, &rows_name, &columns_name);
                let file = format!("pivot-{rows_name}-{columns_name}-{}.csv", p.ds);
                let p2 = p.clone();
                view! {
                    <section class="card" data-testid="pivot-result">
                        <header class="card-head">
                            <h2 class="card-title">{format!("{rows_name} × {columns_name} on {}", p.ds)}</h2>
                            <ComputedNote computed />
                            <CsvButton testid="pivot-csv" file=file csv=csv />
                        </header>
                        {p.noisy.then(|| view! { <p class="muted small">"Counts are noisy (aggregate token)."</p> })}
                        <ScrollTable class="pivot-table" testid="pivot-table">
                            <thead><tr><th>{format!("{rows_name} \\ {columns_name}")}</th>{p.columns.iter().map(|c| view! { <th class="num">{c.clone()}</th> }).collect_view()}</tr></thead>
                            <tbody>
                                {p.rows.iter().enumerate().map(|(i, r)| view! {
                                    <tr data-testid="pivot-row" data-value=r.clone()>
                                        <th>{r.clone()}</th>
                                        {(0..p2.columns.len()).map(|j| {
                                            let (text, heat) = analysis::cell(&p2, show, i, j, k);
                                            view! { <td class="num heat" data-testid="pivot-cell" style=format!("background: {}", analysis::heat_color(heat))>{text}</td> }
                                        }).collect_view()}
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </ScrollTable>
                    </section>
                }.into_any()
            }
        }}
    }
}
