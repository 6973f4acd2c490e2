//! The editors of numeric and event conditions: the test, the numbers (typed or slid), the
//! event's window and measure, and a numeric tag's histogram.

use std::sync::Arc;

use engine::catalog::NumericInfo;
use engine::rule::Measure;
use engine::{Manifest, Plan};
use leptos::prelude::*;

use super::Tree;
use crate::charts;
use crate::components::common::{Chart, Loading};
use crate::ctx::AppState;
use crate::draft::{BoundOp, Bounds};
use crate::estimate::{self, Tier};
use crate::format;

/// The editor of a numeric condition: operator, one or two numbers (typed or slid over the
/// column's range), and the tag's histogram in the rest of the audience next to all users.
#[component]
pub(super) fn NumberEditor(
    tree: Tree,
    path: Vec<usize>,
    group: String,
    bounds: Bounds,
    manifest: Arc<Manifest>,
) -> impl IntoView {
    let Some(info) = manifest.group(&group).and_then(|g| g.numeric.as_ref()).map(|n| NumericInfo {
        scale: n.scale,
        offset: n.offset,
        max: n.max,
        count: n.bsi.exists.full.count,
    }) else {
        return view! { <p class="muted">"This tag has no numbers on this day."</p> }.into_any();
    };
    let text = move |v: i64| engine::bsi::format_scaled(v, info.scale);
    let (min, max) = (text(info.offset), text(info.max));
    let step = if info.scale == 0 { "1".to_owned() } else { format!("0.{}1", "0".repeat(info.scale as usize - 1)) };
    let set = {
        let path = path.clone();
        move |b: Bounds| tree.draft.update(|d| d.set_bounds(&path, b))
    };
    let current = bounds.clone();
    let number_input = {
        let (min, max, step) = (min.clone(), max.clone(), step.clone());
        let (set, current) = (set.clone(), current.clone());
        move |which: &'static str, value: String| {
            let (set, current) = (set.clone(), current.clone());
            let label = match (which, current.op) {
                ("lo", BoundOp::Between) => "From",
                ("lo", _) => "Value",
                _ => "To",
            };
            let apply = move |ev: leptos::ev::Event| {
                let v = event_target_value(&ev);
                let mut b = current.clone();
                if which == "lo" {
                    b.lo = v
                } else {
                    b.hi = v
                }
                set(b);
            };
            let apply2 = apply.clone();
            view! {
                <div class="number-field">
                    <label class="form-field">
                        <span class="form-label">{label}</span>
                        <input
                            class="input num"
                            type="number"
                            inputmode="decimal"
                            min=min.clone()
                            max=max.clone()
                            step=step.clone()
                            data-testid=format!("number-{which}")
                            prop:value=value.clone()
                            on:change=apply
                        />
                    </label>
                    <input
                        class="range"
                        type="range"
                        aria-label=format!("{label} (slider)")
                        min=min.clone()
                        max=max.clone()
                        step=step.clone()
                        prop:value=value
                        on:change=apply2
                    />
                </div>
            }
        }
    };
    let valid = bounds.to_test(false).is_some();
    view! {
        <div class="picker-number" data-testid="number-editor">
            <p class="muted small">{format!("{group}: {} users have a value, from {min} to {max}.", format::int(info.count))}</p>
            <OpSelect current=current.clone() testid="number-op" set=Callback::new(set.clone()) />
            <div class="number-row">
                {number_input("lo", bounds.lo.clone())}
                {(bounds.op == BoundOp::Between).then(|| number_input("hi", bounds.hi.clone()))}
            </div>
            {(!valid).then(|| view! { <p class="error-detail">"Enter a number (use a dot for decimals)."</p> })}
            <p class="muted small">"Users without a value never match a numeric condition."</p>
            <NumericHistogram tree path group manifest info />
        </div>
    }
    .into_any()
}

/// The histogram of a numeric tag on the sample tier: the rest of the audience (every other
/// condition) next to all users, as shares of the users with a value.
#[component]
fn NumericHistogram(
    tree: Tree,
    path: Vec<usize>,
    group: String,
    manifest: Arc<Manifest>,
    info: NumericInfo,
) -> impl IntoView {
    let state = AppState::get();
    let mut refs = estimate::numeric_refs(&manifest, &group, Tier::Sample);
    refs.push(estimate::universe_ref(&manifest, Tier::Sample));
    state.ensure(&refs);
    let rest = {
        let manifest = manifest.clone();
        Memo::new(move |_| {
            let rule = tree.draft.with(|d| {
                let mut rest = d.clone();
                rest.remove(&path);
                rest.compile().rule
            });
            let window = state.events.get().and_then(Result::ok).unwrap_or_default();
            // No other condition is `{"all":[]}`, which the engine evaluates as every user.
            Plan::validate(&rule, &estimate::catalog(&manifest, &window))
                .ok()
                .map(|p| (rule.to_json().to_string(), Arc::new(p), window))
        })
    };
    let figures = move || {
        state.blob_tick.track();
        let (_, plan, window) = rest.get()?;
        state.blobs.with_value(|b| {
            let source = estimate::TierSource::new(&manifest, &window, b, Tier::Sample)?;
            let column = engine::Source::column(&source, &group)?;
            let audience = engine::members(&plan, &source).ok();
            let all = column.exists.len();
            let within = audience.as_ref().map_or(0, |a| a.intersection_len(column.exists));
            let buckets = estimate::histogram(&column, &info, audience.as_ref(), charts::HISTOGRAM_BARS);
            Some((buckets, within, all))
        })
    };
    view! {
        <div class="histogram" data-testid="number-histogram">
            {move || match figures() {
                None => view! { <Loading what="Loading the column…" /> }.into_any(),
                Some((buckets, within, all)) => {
                    let bars = charts::histogram_bars(&buckets, within, all);
                    let description = bars.iter().map(charts::describe).collect::<Vec<_>>().join("; ");
                    view! {
                        <p class="muted small">
                            "Share of users with a value in each range: the rest of the audience (other conditions) next to all users. Sample tier."
                        </p>
                        <Chart svg=charts::profile_svg(&bars) label=description />
                    }
                        .into_any()
                }
            }}
        </div>
    }
}

/// The operator of a numeric or event test (`between`, `≥`, …); the numbers are kept.
#[component]
fn OpSelect(current: Bounds, testid: &'static str, set: Callback<Bounds>) -> impl IntoView {
    let selected = current.op;
    view! {
        <label class="form-field">
            <span class="form-label">"Test"</span>
            <select
                class="select"
                data-testid=testid
                on:change=move |ev| {
                    if let Some(op) = BoundOp::from_key(&event_target_value(&ev)) {
                        set.run(current.with_op(op));
                    }
                }
            >
                {BoundOp::ALL
                    .into_iter()
                    .map(|op| view! { <option value=op.key() selected=op == selected>{op.label()}</option> })
                    .collect_view()}
            </select>
        </label>
    }
}

/// The editor of an event condition: event, window, count or active days, and the test.
#[component]
pub(super) fn EventEditor(
    tree: Tree,
    path: Vec<usize>,
    event: String,
    last_days: u32,
    measure: Measure,
    bounds: Bounds,
) -> impl IntoView {
    let state = AppState::get();
    let window = state.events.get().and_then(Result::ok).unwrap_or_default();
    let retained = if window.retained_days == 0 { engine::rule::MAX_WINDOW_DAYS } else { window.retained_days };
    let set_bounds = {
        let path = path.clone();
        move |b: Bounds| tree.draft.update(|d| d.set_bounds(&path, b))
    };
    let on_days = {
        let path = path.clone();
        move |ev: leptos::ev::Event| {
            if let Ok(days) = event_target_value(&ev).trim().parse::<u32>() {
                tree.draft.update(|d| d.set_window(&path, days.min(retained), measure));
            }
        }
    };
    let on_measure = {
        let path = path.clone();
        move |ev: leptos::ev::Event| {
            let how = if event_target_value(&ev) == "days" { Measure::Days } else { Measure::Count };
            tree.draft.update(|d| d.set_window(&path, last_days, how));
        }
    };
    let current = bounds.clone();
    let field = {
        let (set, current) = (set_bounds.clone(), current.clone());
        move |which: &'static str, value: String| {
            let (set, current) = (set.clone(), current.clone());
            let label = match (which, current.op) {
                ("lo", BoundOp::Between) => "From",
                ("lo", _) => "Value",
                _ => "To",
            };
            view! {
                <label class="form-field">
                    <span class="form-label">{label}</span>
                    <input
                        class="input num"
                        type="number"
                        inputmode="numeric"
                        min="0"
                        step="1"
                        data-testid=format!("event-{which}")
                        prop:value=value
                        on:change=move |ev| {
                            let mut b = current.clone();
                            let v = event_target_value(&ev);
                            if which == "lo" { b.lo = v } else { b.hi = v }
                            set(b);
                        }
                    />
                </label>
            }
        }
    };
    let valid = bounds.to_test(true).is_some();
    let names = window.event_names();
    let path_for_event = path.clone();
    view! {
        <div class="picker-event" data-testid="event-editor">
            <label class="form-field">
                <span class="form-label">"Event"</span>
                <select
                    class="select"
                    data-testid="event-name"
                    on:change=move |ev| tree.draft.update(|d| d.set_event(&path_for_event, &event_target_value(&ev)))
                >
                    {names
                        .iter()
                        .map(|n| view! { <option value=n.clone() selected=*n == event>{n.clone()}</option> })
                        .collect_view()}
                </select>
            </label>
            <div class="number-row">
                <label class="form-field">
                    <span class="form-label">"Measure"</span>
                    <select class="select" data-testid="event-measure" on:change=on_measure>
                        <option value="count" selected=measure == Measure::Count>"times (sum of counts)"</option>
                        <option value="days" selected=measure == Measure::Days>"active days"</option>
                    </select>
                </label>
                <label class="form-field">
                    <span class="form-label">{format!("In the last … days (1–{retained})")}</span>
                    <input
                        class="input num"
                        type="number"
                        min="1"
                        max=retained.to_string()
                        step="1"
                        data-testid="event-days"
                        prop:value=last_days.to_string()
                        on:change=on_days
                    />
                </label>
            </div>
            <div class="number-row">
                <OpSelect current=current.clone() testid="event-op" set=Callback::new(set_bounds.clone()) />
                {field("lo", bounds.lo.clone())}
                {(bounds.op == BoundOp::Between).then(|| field("hi", bounds.hi.clone()))}
            </div>
            {(!valid).then(|| view! { <p class="error-detail">"Enter whole numbers of at least 0."</p> })}
            <p class="muted small">
                "The window ends with the chosen day and includes it. Users who never did the event count as 0."
            </p>
        </div>
    }
}
