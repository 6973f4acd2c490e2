//! The outcome of a saved split: a metric tag's rate per group on a day, with 95% intervals
//! and each group's verdict against the first.

use leptos::prelude::*;

use crate::api::{self, Experiment};
use crate::charts::split::outcome_svg;
use crate::components::common::{Chart, ErrorNote, Loading};
use crate::ctx::AppState;
use crate::split::{self as logic, Verdict};
use crate::trends;

/// The card of the outcome.
#[component]
pub(super) fn OutcomeCard(e: Experiment) -> impl IntoView {
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
                    let chart = view! {
                        <Chart svg=outcome_svg(&o, width.get()) label="Rates per group with 95% intervals" class="outcome-chart" />
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
