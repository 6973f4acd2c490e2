//! Compare: two saved segments side by side on the day — their sizes and overlap (the server's
//! `…/overlap`), and a tag group's distribution in A and in B (the group crossed with itself
//! within each, `…/pivot`), with the difference, A's TGI against B, and differences beyond
//! chance flagged. The choice lives in the address; the logic is in [`crate::analysis`].

use leptos::prelude::*;

use crate::analysis::{self, CompareChoice};
use crate::api::{self, Segment};
use crate::components::common::{ErrorNote, Loading, Page, ScrollTable};
use crate::ctx::AppState;
use crate::format;

/// The Compare page.
#[component]
pub fn Compare() -> impl IntoView {
    view! {
        <Page title="Compare" lede="Two segments side by side: sizes, overlap, and how a tag group is spread in each; differences beyond chance are marked." day_picker=true>
            <CompareBody />
        </Page>
    }
}

#[component]
fn CompareBody() -> impl IntoView {
    let state = AppState::get();
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let choice = RwSignal::new(CompareChoice::from_query(&search));
    Effect::new(move |_| {
        let url = choice.with(CompareChoice::to_url);
        if let Some(w) = web_sys::window()
            && let Ok(h) = w.history()
        {
            let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
        }
    });
    let groups = Memo::new(move |_| {
        state
            .manifest
            .get()
            .and_then(Result::ok)
            .map(|m| {
                m.groups
                    .iter()
                    .filter(|g| g.numeric.is_none() && g.values.len() <= engine::analysis::pivot::MAX_VALUES)
                    .map(|g| g.name.clone())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    });
    let segments = LocalResource::new(move || {
        let s = state.session.get();
        async move {
            match s {
                Some(s) => api::segments(&s).await.unwrap_or_default(),
                None => Vec::new(),
            }
        }
    });
    // Defaults: the first two segments and the first group.
    Effect::new(move |_| {
        let list = segments.get().unwrap_or_default();
        let g = groups.get();
        choice.update(|c| {
            if c.a.is_none() && c.b.is_none() && list.len() >= 2 {
                c.a = Some(list[0].id.clone());
                c.b = Some(list[1].id.clone());
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
        async move {
            let (s, ds) = (s?, ds?);
            let overlap = c.overlap(&ds)?;
            let (a, b) = (c.a.clone()?, c.b.clone()?);
            let o = match api::overlap(&s, &overlap).await {
                Ok(o) => o,
                Err(e) => return Some(Err(e)),
            };
            let (da, db) = match (c.distribution(&ds, &a), c.distribution(&ds, &b)) {
                (Some(ra), Some(rb)) => {
                    let (pa, pb) = futures::future::join(api::pivot(&s, &ra), api::pivot(&s, &rb)).await;
                    match (pa, pb) {
                        (Ok(pa), Ok(pb)) => (analysis::diagonal(&pa), analysis::diagonal(&pb)),
                        (Err(e), _) | (_, Err(e)) => return Some(Err(e)),
                    }
                }
                _ => (Vec::new(), Vec::new()),
            };
            Some(Ok((o, da, db)))
        }
    });
    let min_audience = move || state.access.get().map_or(0, |a| a.min_audience());
    let count = move |n: Option<u64>| n.map_or_else(|| format!("< {}", format::int(min_audience())), format::int);
    let segment_select = move |testid: &'static str,
                               pick: fn(&CompareChoice) -> Option<String>,
                               set: fn(&mut CompareChoice, String)| {
        view! {
            <select class="select" data-testid=testid on:change=move |ev| { let v = event_target_value(&ev); choice.update(|c| set(c, v)); }>
                {move || {
                    let chosen = choice.with(pick);
                    segments.get().unwrap_or_default().into_iter().map(|s: Segment| {
                        let selected = chosen.as_deref() == Some(s.id.as_str());
                        view! { <option value=s.id.clone() selected=selected>{s.name.clone()}</option> }
                    }).collect_view()
                }}
            </select>
        }
    };
    view! {
        <div class="card analysis-controls">
            <div class="analysis-filters">
                <label class="form-field"><span class="form-label">"A"</span>{segment_select("compare-a", |c| c.a.clone(), |c, v| c.a = Some(v))}</label>
                <label class="form-field"><span class="form-label">"B"</span>{segment_select("compare-b", |c| c.b.clone(), |c, v| c.b = Some(v))}</label>
                <label class="form-field">
                    <span class="form-label">"Tag group"</span>
                    <select class="select" data-testid="compare-group" on:change=move |ev| { let v = event_target_value(&ev); choice.update(|c| c.group = Some(v)); }>
                        {move || {
                            let chosen = choice.with(|c| c.group.clone());
                            groups.get().into_iter().map(|g| {
                                let selected = chosen.as_deref() == Some(g.as_str());
                                view! { <option value=g.clone() selected=selected>{g.clone()}</option> }
                            }).collect_view()
                        }}
                    </select>
                </label>
            </div>
        </div>
        {move || match answer.get() {
            None => view! { <Loading what="Comparing…" /> }.into_any(),
            Some(None) => view! { <p class="card muted empty-state">"Choose two segments."</p> }.into_any(),
            Some(Some(Err(e))) => view! { <div class="card"><ErrorNote error=e /></div> }.into_any(),
            Some(Some(Ok((o, da, db)))) => {
                let (only_a, only_b, both) = analysis::overlap_parts(&o);
                let (size_a, size_b) = (analysis::sum(only_a, both), analysis::sum(only_b, both));
                let rows = analysis::compare_rows(&da, size_a, &db, size_b);
                let pct = |s: Option<f64>| s.map_or_else(|| "–".to_owned(), format::percent);
                view! {
                    <section class="card" data-testid="compare-sizes">
                        <h2 class="card-title">{format!("Sizes on {}", o.ds)}</h2>
                        <ScrollTable>
                            <thead><tr><th class="num">"A"</th><th class="num">"B"</th><th class="num">"Only A"</th><th class="num">"Both"</th><th class="num">"Only B"</th></tr></thead>
                            <tbody><tr>
                                <td class="num" data-testid="size-a">{count(size_a)}</td>
                                <td class="num" data-testid="size-b">{count(size_b)}</td>
                                <td class="num" data-testid="only-a">{count(only_a)}</td>
                                <td class="num" data-testid="both">{count(both)}</td>
                                <td class="num" data-testid="only-b">{count(only_b)}</td>
                            </tr></tbody>
                        </ScrollTable>
                    </section>
                    <section class="card" data-testid="compare-distribution">
                        <h2 class="card-title">{choice.with_untracked(|c| c.group.clone().unwrap_or_default())}</h2>
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
