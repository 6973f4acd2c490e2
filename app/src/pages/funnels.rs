//! Funnels: an ordered event funnel over a range of days, computed in this browser when the
//! event columns fit the download budget and by the server's `…/funnel` otherwise (both run
//! `engine::analysis::funnel`, see [`crate::analysis_local`]), with an optional saved segment as the audience and a split by a
//! tag group. The choice lives in the address; the logic is in [`crate::analysis`].
//!
//! A step's users (who reached it, or who reached it but not the next) are saved as a static
//! segment through the freeze route's `funnel` source (editors only).

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::analysis::{self, FunnelChoice};
use crate::analysis_local::LocalFunnel;
use crate::api;
use crate::charts::funnel as chart;
use crate::components::common::{Chart, ErrorNote, Page, ScrollTable};
use crate::ctx::AppState;
use crate::format;
use crate::pages::analysis_common::{
    AnalysisLoading, AudienceSelect, ComputedNote, CsvButton, NameSelect, Shown, answer, keep_in_address, query, runs,
    saved_segments,
};

/// The Funnels page.
#[component]
pub fn Funnels() -> impl IntoView {
    view! {
        <Page title="Funnels" lede="Users who did the steps in order, day by day: who entered, who converted within the window, how long it took.">
            <FunnelsBody />
        </Page>
    }
}

#[component]
fn FunnelsBody() -> impl IntoView {
    let state = AppState::get();
    let choice = RwSignal::new(FunnelChoice::from_query(&query()));
    keep_in_address(choice, FunnelChoice::to_url);
    let days = Memo::new(move |_| {
        state.days.get().and_then(Result::ok).map(|d| {
            let mut v: Vec<String> = d.into_iter().map(|d| d.ds).collect();
            v.sort();
            v
        })
    });
    let manifest = Memo::new(move |_| state.manifest.get().and_then(Result::ok));
    let events = Memo::new(move |_| {
        manifest.get().map(|m| m.events.iter().map(|e| e.name.clone()).collect::<Vec<_>>()).unwrap_or_default()
    });
    let groups = Memo::new(move |_| {
        manifest
            .get()
            .map(|m| m.groups.iter().filter(|g| g.numeric.is_none()).map(|g| g.name.clone()).collect::<Vec<_>>())
            .unwrap_or_default()
    });
    // The first events of the day when the address names none, so the page opens on a funnel.
    Effect::new(move |_| {
        let names = events.get();
        if choice.with_untracked(|c| c.events.is_empty()) && !names.is_empty() {
            choice.update(|c| c.events = names.iter().take(3).cloned().collect());
        }
    });
    let segments = saved_segments(state);
    let request = Memo::new(move |_| {
        let days = days.get();
        choice.with(|c| {
            let d = days.as_ref()?;
            let (first, last) = (d.first()?, d.last()?);
            // A week back from the latest day by default.
            let from_default = d.get(d.len().saturating_sub(7)).unwrap_or(first);
            c.request(from_default, last)
        })
    });
    let answer = LocalResource::new(move || {
        let s = state.session.get();
        let request = request.get();
        let runs = runs(state, |m, w| request.as_ref().and_then(|r| LocalFunnel::plan(r, m, w)));
        async move {
            let (Some(s), Some(r)) = (s, request) else { return Shown::Choose };
            answer(state, runs, api::funnel(&s, &r)).await.into()
        }
    });
    // A step's users saved as a static segment (editors; aggregate tokens cannot write).
    let saved = RwSignal::new(None::<Result<String, api::Error>>);
    let save_step = move |step: usize, dropped: bool| {
        let (Some(r), Some(s)) = (request.get_untracked(), state.session.get_untracked()) else { return };
        let events: Vec<String> = r.steps.iter().map(|s| s.event.clone()).collect();
        let default = analysis::step_segment_name(&events, step, dropped, &r.from, &r.to);
        let Some(name) = web_sys::window()
            .and_then(|w| w.prompt_with_message_and_default("Name of the new static segment", &default).ok().flatten())
            .filter(|n| !n.trim().is_empty())
        else {
            return;
        };
        let (id, input) = analysis::step_freeze(&r, step, dropped, name.trim());
        spawn_local(async move {
            let done = api::freeze_segment(&s, &id, &input)
                .await
                .map(|(f, _)| format!("Saved “{}”: {} users frozen on {}.", input.name, format::int(f.members), f.ds));
            saved.set(Some(done));
        });
    };
    let writes = move || state.access_or_default().writes();
    let min_audience = move || state.access.get().map_or(0, |a| a.min_audience());
    let day_options = move |pick: fn(&FunnelChoice) -> Option<String>, default_last: bool| {
        let d = days.get().unwrap_or_default();
        let chosen = choice
            .with(pick)
            .or_else(|| if default_last { d.last().cloned() } else { d.get(d.len().saturating_sub(7)).cloned() });
        d.into_iter()
            .map(|ds| {
                let selected = chosen.as_deref() == Some(ds.as_str());
                view! { <option value=ds.clone() selected=selected>{ds.clone()}</option> }
            })
            .collect_view()
    };
    view! {
        <div class="card analysis-controls">
            <label class="form-field analysis-steps">
                <span class="form-label">"Steps (events in order, comma-separated)"</span>
                <input
                    class="input"
                    data-testid="funnel-steps"
                    list="funnel-events"
                    prop:value=move || choice.with(|c| c.events.join(", "))
                    on:change=move |ev| {
                        let v = event_target_value(&ev);
                        choice.update(|c| c.events = v.split(',').map(str::trim).filter(|e| !e.is_empty()).map(str::to_owned).take(analysis::MAX_STEPS).collect());
                    }
                />
                <datalist id="funnel-events">
                    {move || events.get().into_iter().map(|e| view! { <option value=e.clone()></option> }).collect_view()}
                </datalist>
                <span class="muted small">{move || format!("Events of the day: {}", events.get().join(", "))}</span>
            </label>
            <div class="analysis-filters">
                <label class="form-field">
                    <span class="form-label">"From"</span>
                    <select class="select" data-testid="funnel-from" on:change=move |ev| { let v = event_target_value(&ev); choice.update(|c| c.from = Some(v)); }>
                        {move || day_options(|c| c.from.clone(), false)}
                    </select>
                </label>
                <label class="form-field">
                    <span class="form-label">"To"</span>
                    <select class="select" data-testid="funnel-to" on:change=move |ev| { let v = event_target_value(&ev); choice.update(|c| c.to = Some(v)); }>
                        {move || day_options(|c| c.to.clone(), true)}
                    </select>
                </label>
                <label class="form-field">
                    <span class="form-label">"Within days"</span>
                    <input
                        class="input input-narrow"
                        type="number"
                        min="0"
                        data-testid="funnel-within"
                        prop:value=move || choice.with(|c| c.within_days.to_string())
                        on:change=move |ev| {
                            let v = event_target_value(&ev).parse().unwrap_or(7);
                            choice.update(|c| c.within_days = v);
                        }
                    />
                </label>
                <label class="form-field">
                    <span class="form-label">"Audience"</span>
                    <AudienceSelect testid="funnel-segment" none="All users" segments=segments chosen=Signal::derive(move || choice.with(|c| c.segment.clone())) on_pick=move |v: String| choice.update(|c| c.segment = (!v.is_empty()).then_some(v)) />
                </label>
                <label class="form-field">
                    <span class="form-label">"Split by"</span>
                    <NameSelect testid="funnel-by" none="Nothing" names=groups chosen=Signal::derive(move || choice.with(|c| c.by.clone())) on_pick=move |v: String| choice.update(|c| c.by = (!v.is_empty()).then_some(v)) />
                </label>
            </div>
        </div>
        {move || saved.get().map(|r| match r {
            Ok(message) => view! { <div class="banner banner-good" role="status" data-testid="step-saved">{message}" "<a href="/segments">"Segments"</a></div> }.into_any(),
            Err(e) => view! { <div class="card"><ErrorNote error=e /></div> }.into_any(),
        })}
        {move || match answer.get() {
            None | Some(Shown::Waiting) => view! { <AnalysisLoading what="Computing the funnel…" /> }.into_any(),
            Some(Shown::Choose) => view! { <p class="card muted empty-state">"Name at least one event."</p> }.into_any(),
            Some(Shown::Done(Err(e))) => view! { <div class="card"><ErrorNote error=e /></div> }.into_any(),
            Some(Shown::Done(Ok((f, computed)))) => {
                let k = min_audience();
                let rows = analysis::funnel_rows(&f.steps, k);
                let label = rows.iter().map(|r| format!("{}: {} users ({} of step 1)", r.label, r.users, r.from_first)).collect::<Vec<_>>().join("; ");
                let by = analysis::by_rows(&f, k);
                let table_rows = rows.clone();
                let n_steps = rows.len();
                let steps_csv = analysis::funnel_csv(&f.steps);
                let steps_file = format!("funnel-{}-{}.csv", f.from, f.to);
                let by_name = choice.with_untracked(|c| c.by.clone().unwrap_or_default());
                let by_csv = analysis::funnel_by_csv(&f, &by_name);
                let by_file = format!("funnel-{}-{}-by-{by_name}.csv", f.from, f.to);
                view! {
                    <section class="card" data-testid="funnel-result">
                        <header class="card-head">
                            <h2 class="card-title">{format!("{} to {}", f.from, f.to)}</h2>
                            {f.noisy.then(|| view! { <span class="muted small">"Counts are noisy (aggregate token)."</span> })}
                            <ComputedNote computed />
                            <CsvButton testid="funnel-csv" file=steps_file csv=steps_csv />
                        </header>
                        <Chart svg=chart::svg(&rows) label=label />
                        <ScrollTable testid="funnel-table">
                            <thead><tr><th>"Step"</th><th class="num">"Users"</th><th class="num">"From previous"</th><th class="num">"Dropped"</th><th class="num">"From step 1"</th><th class="num">"Median time"</th>{writes().then(|| view! { <th>"Save as segment"</th> })}</tr></thead>
                            <tbody>
                                {table_rows.into_iter().enumerate().map(|(i, r)| view! {
                                    <tr data-testid="funnel-step">
                                        <td>{r.label}</td>
                                        <td class="num" data-testid="step-users">{r.users}</td>
                                        <td class="num">{r.from_previous}</td>
                                        <td class="num">{r.dropped}</td>
                                        <td class="num">{r.from_first}</td>
                                        <td class="num">{r.median_days}</td>
                                        {writes().then(|| view! {
                                            <td class="save-step">
                                                <button class="button button-small" data-testid="save-step" title="The users who reached this step" on:click=move |_| save_step(i, false)>"Reached"</button>
                                                {(i + 1 < n_steps).then(|| view! {
                                                    <button class="button button-small" data-testid="save-dropped" title="The users who reached this step but not the next" on:click=move |_| save_step(i, true)>"Stopped here"</button>
                                                })}
                                            </td>
                                        })}
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </ScrollTable>
                    </section>
                    {(!by.is_empty()).then(|| view! {
                        <section class="card" data-testid="funnel-by">
                            <header class="card-head">
                                <h2 class="card-title">"By value"</h2>
                                <CsvButton testid="funnel-by-csv" file=by_file csv=by_csv />
                            </header>
                            <ScrollTable>
                                <thead><tr><th>"Value"</th>{rows.iter().map(|r| view! { <th class="num">{r.label.clone()}</th> }).collect_view()}</tr></thead>
                                <tbody>
                                    {by.into_iter().map(|(value, steps)| view! {
                                        <tr data-testid="funnel-by-row" data-value=value.clone()>
                                            <td>{value.clone()}</td>
                                            {steps.into_iter().enumerate().map(|(i, s)| view! {
                                                <td class="num" data-testid="by-users">{s.users}{(i > 0).then(|| view! { <span class="muted small">{format!(" ({})", s.from_first)}</span> })}</td>
                                            }).collect_view()}
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </ScrollTable>
                        </section>
                    })}
                }.into_any()
            }
        }}
    }
}
