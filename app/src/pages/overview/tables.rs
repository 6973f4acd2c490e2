//! The segments that moved most since the previous day, and each group's freshness.

use leptos::prelude::*;

use super::{CsvButton, Series};
use crate::components::common::{Loading, ScrollTable};
use crate::ctx::AppState;
use crate::format;
use crate::overview;

/// Most segments listed among the movers.
const MAX_MOVERS: usize = 10;

/// Segments by their change in size since the previous published day (from the manifests).
#[component]
pub(super) fn MoversCard(series: Memo<Option<Series>>) -> impl IntoView {
    let state = AppState::get();
    let movers = Memo::new(move |_| {
        let series = series.get()?;
        let ds = state.ds.get();
        let i = ds.and_then(|ds| series.iter().position(|(d, _)| *d == ds)).or(series.len().checked_sub(1))?;
        let today = series[i].1.clone()?;
        let before = i.checked_sub(1).and_then(|j| series[j].1.clone());
        Some((overview::movers(before.as_deref(), &today), before.map(|b| b.ds.clone()), today.ds.clone()))
    });
    view! {
        <article class="card" data-testid="overview-movers">
            <h2 class="card-title">"Segments that moved most"</h2>
            {move || match movers.get() {
                None => view! { <Loading what="Reading the days…" /> }.into_any(),
                Some((list, _, _)) if list.is_empty() => view! { <p class="muted">"No segment computed on this day."</p> }.into_any(),
                Some((list, before, today)) => {
                    let access = state.access_or_default();
                    let mut csv = vec![["segment", "before", "after", "change"].map(str::to_owned).to_vec()];
                    csv.extend(list.iter().map(|m| {
                        vec![m.id.clone(), m.before.map(|b| b.to_string()).unwrap_or_default(), m.after.to_string(), m.change().to_string()]
                    }));
                    let rows = list
                        .into_iter()
                        .take(MAX_MOVERS)
                        .map(|m| {
                            let hidden = access.hides(m.after) || m.before.is_some_and(|b| access.hides(b));
                            let change = if hidden { "–".to_owned() } else { format::signed(m.change()) };
                            let relative = if hidden { String::new() } else { m.relative().map(format::percent).unwrap_or("new".into()) };
                            view! {
                                <tr data-segment=m.id.clone()>
                                    <th scope="row"><a href=format!("/segments?open={}", crate::session::encode_component(&m.id))>{m.id.clone()}</a></th>
                                    <td class="num">{m.before.map_or("–".to_owned(), |b| access.count(Some(b)))}</td>
                                    <td class="num">{access.count(Some(m.after))}</td>
                                    <td class="num" data-testid="mover-change">{change}</td>
                                    <td class="num">{relative}</td>
                                </tr>
                            }
                        })
                        .collect_view();
                    view! {
                        <ScrollTable class="overview-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Segment"</th>
                                    <th scope="col" class="num">{before.unwrap_or_else(|| "Before".into())}</th>
                                    <th scope="col" class="num">{today}</th>
                                    <th scope="col" class="num">"Change"</th>
                                    <th scope="col" class="num">"%"</th>
                                </tr>
                            </thead>
                            <tbody>{rows}</tbody>
                        </ScrollTable>
                        <div class="card-foot">
                            <CsvButton name="movers.csv".into() rows=csv testid="movers-csv" />
                        </div>
                    }
                        .into_any()
                }
            }}
        </article>
    }
}

/// Each group's latest loaded day on the day shown, stalest first.
#[component]
pub(super) fn FreshnessCard() -> impl IntoView {
    let state = AppState::get();
    view! {
        <article class="card" data-testid="overview-freshness">
            <h2 class="card-title">"Data freshness"</h2>
            {move || match state.manifest.get().and_then(Result::ok) {
                None => view! { <Loading what="Reading the day…" /> }.into_any(),
                Some(m) => {
                    let list = overview::freshness(&m);
                    let mut csv = vec![["group", "loaded_ds", "days_behind"].map(str::to_owned).to_vec()];
                    csv.extend(list.iter().map(|f| vec![f.group.clone(), f.loaded_ds.clone(), f.days_behind.to_string()]));
                    let stale = list.iter().filter(|f| f.days_behind > 0).count();
                    view! {
                        <p class="muted small">
                            {if stale == 0 {
                                format!("Every group was uploaded for {}.", m.ds)
                            } else {
                                format!("{stale} group(s) carried forward from an earlier upload.")
                            }}
                        </p>
                        <ScrollTable class="overview-table freshness">
                            <thead>
                                <tr>
                                    <th scope="col">"Group"</th>
                                    <th scope="col">"Loaded"</th>
                                    <th scope="col" class="num">"Days behind"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {list
                                    .into_iter()
                                    .map(|f| {
                                        let stale = f.days_behind > 0;
                                        let key = f.group.clone();
                                        view! {
                                            <tr data-group=key class:stale=stale>
                                                <th scope="row">{f.group}</th>
                                                <td class="mono">{f.loaded_ds}</td>
                                                <td class="num">{f.days_behind}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </ScrollTable>
                        <div class="card-foot">
                            <CsvButton name="freshness.csv".into() rows=csv testid="freshness-csv" />
                        </div>
                    }
                        .into_any()
                }
            }}
        </article>
    }
}
