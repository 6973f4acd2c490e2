//! Pivot: the cross-tab of two tag groups on the day (the server's `…/pivot`, which runs
//! `engine::analysis::pivot`), optionally within a saved segment: users, row and column
//! shares or TGI against all users, on a heat scale; downloadable as CSV. The choice lives in
//! the address; the logic is in [`crate::analysis`].

use leptos::prelude::*;

use crate::analysis::{self, PivotChoice, Show};
use crate::api::{self, Segment};
use crate::components::common::{ErrorNote, Loading, Page, ScrollTable, save_file};
use crate::ctx::AppState;

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
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let choice = RwSignal::new(PivotChoice::from_query(&search));
    Effect::new(move |_| {
        let url = choice.with(PivotChoice::to_url);
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
    let segments = LocalResource::new(move || {
        let s = state.session.get();
        async move {
            match s {
                Some(s) => api::segments(&s).await.unwrap_or_default(),
                None => Vec::new(),
            }
        }
    });
    let answer = LocalResource::new(move || {
        let s = state.session.get();
        let ds = state.ds.get();
        let request = choice.with(|c| ds.as_deref().and_then(|ds| c.request(ds)));
        async move {
            let (Some(s), Some(r)) = (s, request) else { return None };
            Some(api::pivot(&s, &r).await)
        }
    });
    let min_audience = move || state.access.get().map_or(0, |a| a.min_audience());
    let group_select = move |testid: &'static str,
                             pick: fn(&PivotChoice) -> Option<String>,
                             set: fn(&mut PivotChoice, String)| {
        view! {
            <select class="select" data-testid=testid on:change=move |ev| { let v = event_target_value(&ev); choice.update(|c| set(c, v)); }>
                {move || {
                    let chosen = choice.with(pick);
                    groups.get().into_iter().map(|g| {
                        let selected = chosen.as_deref() == Some(g.as_str());
                        view! { <option value=g.clone() selected=selected>{g.clone()}</option> }
                    }).collect_view()
                }}
            </select>
        }
    };
    view! {
        <div class="card analysis-controls">
            <div class="analysis-filters">
                <label class="form-field">
                    <span class="form-label">"Rows"</span>
                    {group_select("pivot-rows", |c| c.rows.clone(), |c, v| c.rows = Some(v))}
                </label>
                <label class="form-field">
                    <span class="form-label">"Columns"</span>
                    {group_select("pivot-columns", |c| c.columns.clone(), |c, v| c.columns = Some(v))}
                </label>
                <label class="form-field">
                    <span class="form-label">"Within"</span>
                    <select class="select" data-testid="pivot-segment" on:change=move |ev| { let v = event_target_value(&ev); choice.update(|c| c.segment = (!v.is_empty()).then_some(v)); }>
                        <option value="">"All users"</option>
                        {move || {
                            let chosen = choice.with(|c| c.segment.clone());
                            segments.get().unwrap_or_default().into_iter().map(|s: Segment| {
                                let selected = chosen.as_deref() == Some(s.id.as_str());
                                view! { <option value=s.id.clone() selected=selected>{s.name.clone()}</option> }
                            }).collect_view()
                        }}
                    </select>
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
            None => view! { <Loading what="Crossing the groups…" /> }.into_any(),
            Some(None) => view! { <p class="card muted empty-state">"Choose two tag groups."</p> }.into_any(),
            Some(Some(Err(e))) => view! { <div class="card"><ErrorNote error=e /></div> }.into_any(),
            Some(Some(Ok(p))) => {
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
                            <button class="button" data-testid="pivot-csv" on:click=move |_| { let _ = save_file(&file, &csv, "text/csv"); }>"Download CSV"</button>
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
