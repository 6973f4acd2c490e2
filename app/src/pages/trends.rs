//! Trends: up to five segments day by day — size, entered and left, and a metric tag's rate
//! next to all users (大盘) — with exact values on hover and a summary of the range. The
//! choice lives in the address bar, so a link shares the view. The logic is in
//! [`crate::trends`] and the drawing in [`crate::charts::trends`]; this module binds them.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::{self, Error, History, Segment};
use crate::charts::trends::{self as chart, Kind, css_color};
use crate::components::common::{ErrorNote, Loaded, Loading, Page, ScrollTable};
use crate::ctx::AppState;
use crate::format;
use crate::trends::{self, MAX_SEGMENTS, Reading, Selection, Trends};

/// How often the page asks again while a backfill fills in days, in milliseconds.
const POLL_MS: u64 = 2_000;
/// Segments chosen when the address names none: the first few saved ones.
const DEFAULT_CHOSEN: usize = 3;

/// The Trends page.
#[component]
pub fn Trends() -> impl IntoView {
    view! {
        <Page title="Trends" lede="Up to five segments day by day: their size, who entered and who left, and a metric's rate next to all users (大盘). Hover a day for exact values.">
            <TrendsBody />
        </Page>
    }
}

/// The window's width without the scroll bar, in CSS pixels.
fn viewport_width() -> f64 {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
        .map_or(1280.0, |e| f64::from(e.client_width()))
}

fn write_url(selection: &Selection) {
    if let Some(w) = web_sys::window()
        && let Ok(h) = w.history()
    {
        let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&selection.to_url()));
    }
}

/// The day index under the pointer, from a hover band's `data-day`.
fn day_under(ev: &web_sys::Event) -> Option<usize> {
    ev.target()?.dyn_into::<web_sys::Element>().ok()?.get_attribute("data-day")?.parse().ok()
}

/// The histories of the chosen segments by id, in the order chosen.
type Loaded = Vec<(String, Result<History, Error>)>;

#[component]
fn TrendsBody() -> impl IntoView {
    let state = AppState::get();
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let selection = RwSignal::new(Selection::from_query(&search));
    let from_link = selection.with_untracked(|s| !s.segments.is_empty());
    Effect::new(move |_| selection.with(write_url));

    let segments = LocalResource::new(move || {
        let s = state.session.get();
        async move {
            match s {
                Some(s) => api::segments(&s).await,
                None => Ok(Vec::new()),
            }
        }
    });
    // Nothing named in the link: start with the first saved segments, so the page opens on charts.
    Effect::new(move |_| {
        if let Some(Ok(list)) = segments.get()
            && !from_link
            && selection.with_untracked(|s| s.segments.is_empty())
        {
            selection.update(|s| s.segments = list.iter().take(DEFAULT_CHOSEN).map(|g| g.id.clone()).collect());
        }
    });

    let days = Memo::new(move |_| {
        state.days.get().and_then(Result::ok).map(|d| d.into_iter().map(|d| d.ds).collect::<Vec<_>>())
    });
    let range = Memo::new(move |_| {
        let days = days.get()?;
        selection.with(|s| trends::range(&days, s.from.as_deref(), s.to.as_deref()))
    });
    let metric_tags = Memo::new(move |_| state.manifest.get().and_then(Result::ok).map(|m| trends::metric_tags(&m)));
    // The metric named in the link is used at once (the history answers rates of any tag), so
    // the charts need not wait for the day's manifest; once its tags are known, a name that is
    // not a metric gives way to the default.
    let metric = Memo::new(move |_| {
        let asked = selection.with(|s| s.metric.clone());
        match metric_tags.get() {
            Some(tags) => asked.filter(|m| tags.contains(m)).or_else(|| trends::default_metric(&tags)),
            None => asked,
        }
    });

    // Bumped to ask again while a backfill runs.
    let poll = RwSignal::new(0u64);
    let histories = LocalResource::new(move || {
        poll.track();
        let s = state.session.get();
        let ids = selection.with(|s| s.segments.clone());
        let range = range.get();
        let metric = metric.get();
        // No metric named and the day's tags not known yet: wait for the default metric rather
        // than ask twice.
        let waiting = metric.is_none() && metric_tags.with(Option::is_none);
        async move {
            let (Some(s), Some((from, to)), false) = (s, range, waiting) else { return None };
            let metrics: Vec<String> = metric.into_iter().collect();
            let calls = ids.iter().map(|id| api::history(&s, id, Some(&from), Some(&to), &metrics));
            let answers = futures::future::join_all(calls).await;
            let loaded: Loaded = ids.into_iter().zip(answers).collect();
            Some((loaded, metrics.into_iter().next()))
        }
    });
    let shaped = Memo::new(move |_| {
        let (loaded, metric) = histories.get().flatten()?;
        // Charts, legends and error cards name segments: wait for the list (ids only if it
        // failed), so nothing is shown by id and then renamed.
        let names = segments.get()?.unwrap_or_default();
        let name_of = |id: &str| names.iter().find(|g| g.id == id).map_or_else(|| id.to_owned(), |g| g.name.clone());
        let ok: Vec<(String, String, History)> =
            loaded.iter().filter_map(|(id, h)| h.as_ref().ok().map(|h| (id.clone(), name_of(id), h.clone()))).collect();
        let errors: Vec<(String, Error)> =
            loaded.into_iter().filter_map(|(id, h)| h.err().map(|e| (name_of(&id), e))).collect();
        let backfill = ok.iter().find_map(|(_, _, h)| h.backfill.clone());
        let day_errors = trends::day_errors(&ok);
        let min_audience = state.access_or_default().min_audience();
        Some((trends::Trends { min_audience, ..trends::shape(&ok, metric.as_deref()) }, errors, backfill, day_errors))
    });
    // While a backfill fills in days, ask again every few seconds (after every answer, even one
    // equal to the last).
    Effect::new(move |_| {
        histories.track();
        if let Some((t, _, backfill, _)) = shaped.get()
            && trends::should_poll(backfill.as_ref(), t.missing_days())
        {
            set_timeout(
                move || {
                    poll.try_update(|n| *n += 1);
                },
                std::time::Duration::from_millis(POLL_MS),
            );
        }
    });

    let width = RwSignal::new(trends::chart_width(viewport_width()));
    let resize = window_event_listener(leptos::ev::resize, move |_| {
        let w = trends::chart_width(viewport_width());
        if width.get_untracked() != w {
            width.set(w);
        }
    });
    on_cleanup(move || resize.remove());
    let hover = RwSignal::new(None::<usize>);

    view! {
        <Controls selection segments days range metric_tags metric />
        {move || {
            shaped
                .get()
                .and_then(|(t, _, backfill, _)| {
                    trends::backfill_note(backfill.as_ref(), t.missing_days()).map(|note| (note, backfill))
                })
                .map(|(note, backfill)| {
                    let progress = backfill
                        .filter(|b| b.state == api::BackfillState::Running && b.total > 0)
                        .map(|b| f64::from(b.done) / f64::from(b.total) * 100.0);
                    view! {
                        <div class="banner banner-warning" role="status" data-testid="backfill-note">
                            <span>{note}</span>
                            {progress
                                .map(|p| {
                                    view! {
                                        <span class="progress backfill-progress" aria-hidden="true">
                                            <span style=format!("width: {p:.0}%")></span>
                                        </span>
                                    }
                                })}
                        </div>
                    }
                })
        }}
        {move || {
            shaped
                .get()
                .map(|(_, _, _, day_errors)| {
                    day_errors
                        .into_iter()
                        .map(|line| {
                            view! {
                                <div class="banner banner-warning" role="status" data-testid="day-error">
                                    {line}
                                </div>
                            }
                        })
                        .collect_view()
                })
        }}
        {move || {
            shaped
                .get()
                .map(|(_, errors, _, _)| {
                    errors
                        .into_iter()
                        .map(|(name, e)| {
                            view! {
                                <div class="card trend-error">
                                    <p class="small">"The history of “" {name} "” could not be loaded."</p>
                                    <ErrorNote error=e />
                                </div>
                            }
                        })
                        .collect_view()
                })
        }}
        {move || {
            if selection.with(|s| s.segments.is_empty()) {
                return match segments.get() {
                    Some(Ok(list)) if list.is_empty() => {
                        view! {
                            <div class="card empty-state">
                                <p class="muted">"No segments yet: save an audience as a segment to follow it here."</p>
                                <a class="button" href="/audience">"Build an audience"</a>
                            </div>
                        }
                            .into_any()
                    }
                    Some(Err(_)) => ().into_any(),
                    _ => view! { <p class="card muted empty-state">"Choose up to five segments above."</p> }.into_any(),
                };
            }
            match shaped.get() {
                None => {
                    view! {
                        <div class="trend-charts" data-testid="trend-charts" data-ready="false">
                            <Loading what="Loading the segments' history…" />
                        </div>
                    }
                        .into_any()
                }
                Some((t, ..)) if t.lines.is_empty() => ().into_any(),
                Some((t, ..)) => view! { <Charts t width hover /> }.into_any(),
            }
        }}
    }
}

/// Segment checkboxes, the day range and the metric.
#[component]
fn Controls(
    selection: RwSignal<Selection>,
    segments: LocalResource<Result<Vec<Segment>, Error>>,
    days: Memo<Option<Vec<String>>>,
    range: Memo<Option<(String, String)>>,
    metric_tags: Memo<Option<Vec<String>>>,
    metric: Memo<Option<String>>,
) -> impl IntoView {
    // Each list reads its source (days, tags) before the choice derived from it: reactive_graph
    // 0.2 can miss a memo's change when the same effect first reaches it through a memo derived
    // from it whose own value did not change (here: the metric named in the link stays the same
    // when the day's tags arrive), and the options would never be filled in.
    let day_options = move |end: fn(&(String, String)) -> String| {
        let list = days.get().unwrap_or_default();
        let chosen = range.get().map(|r| end(&r));
        list.into_iter()
            .rev()
            .map(|d| {
                let selected = chosen.as_deref() == Some(d.as_str());
                view! {
                    <option value=d.clone() selected=selected>
                        {d.clone()}
                    </option>
                }
            })
            .collect_view()
    };
    view! {
        <div class="card trend-controls">
            <fieldset class="segment-choices" data-testid="segment-choices">
                <legend class="form-label">
                    "Segments "
                    <span class="muted small">
                        {move || format!("{} of {MAX_SEGMENTS} chosen", selection.with(|s| s.segments.len()))}
                    </span>
                </legend>
                <Loaded
                    value=move || segments.get()
                    what="Loading segments…"
                    ready={move |list: Vec<Segment>| {
                        view! {
                            <ul class="choice-list">
                                {list
                                    .into_iter()
                                    .map(|seg| {
                                        let id = seg.id.clone();
                                        let id_c = id.clone();
                                        let id_d = id.clone();
                                        let id_s = id.clone();
                                        let id_t = id.clone();
                                        let slot = Memo::new(move |_| selection.with(|s| s.segments.iter().position(|x| *x == id_s)));
                                        view! {
                                            <li>
                                                <label
                                                    class="choice"
                                                    class:is-chosen=move || slot.get().is_some()
                                                    data-testid="segment-choice"
                                                    data-id=id.clone()
                                                    title=seg.description.clone()
                                                >
                                                    <input
                                                        type="checkbox"
                                                        prop:checked=move || selection.with(|s| s.segments.contains(&id_c))
                                                        disabled=move || selection.with(|s| s.is_full() && !s.segments.contains(&id_d))
                                                        on:change=move |_| selection.update(|s| s.toggle(&id_t))
                                                    />
                                                    <span
                                                        class="swatch"
                                                        aria-hidden="true"
                                                        style=move || match slot.get() {
                                                            Some(k) => format!("background: {}", css_color(Some(k))),
                                                            None => String::new(),
                                                        }
                                                    ></span>
                                                    <span class="choice-name">{seg.name.clone()}</span>
                                                </label>
                                            </li>
                                        }
                                    })
                                    .collect_view()}
                            </ul>
                            {move || {
                                selection
                                    .with(|s| s.is_full())
                                    .then(|| view! { <p class="muted small">"Five segments at most: untick one to choose another."</p> })
                            }}
                        }
                            .into_any()
                    }}
                />
            </fieldset>
            <div class="trend-filters">
                <label class="form-field">
                    <span class="form-label">"From"</span>
                    <select
                        class="select"
                        data-testid="range-from"
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            selection.update(|s| s.from = Some(v));
                        }
                    >
                        {move || day_options(|r| r.0.clone())}
                    </select>
                </label>
                <label class="form-field">
                    <span class="form-label">"To"</span>
                    <select
                        class="select"
                        data-testid="range-to"
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            selection.update(|s| s.to = Some(v));
                        }
                    >
                        {move || day_options(|r| r.1.clone())}
                    </select>
                </label>
                <label class="form-field">
                    <span class="form-label">"Metric"</span>
                    <select
                        class="select"
                        data-testid="metric-picker"
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            selection.update(|s| s.metric = Some(v));
                        }
                    >
                        {move || {
                            let tags = metric_tags.get().unwrap_or_default();
                            let chosen = metric.get();
                            tags.into_iter()
                                .map(|m| {
                                    let selected = chosen.as_deref() == Some(m.as_str());
                                    view! {
                                        <option value=m.clone() selected=selected>
                                            {m.clone()}
                                        </option>
                                    }
                                })
                                .collect_view()
                        }}
                    </select>
                </label>
            </div>
        </div>
    }
}

/// The legend, the three charts with their readouts, and the summary table.
#[component]
fn Charts(t: Trends, width: RwSignal<u32>, hover: RwSignal<Option<usize>>) -> impl IntoView {
    let t = std::sync::Arc::new(t);
    let metric = t.metric.clone().unwrap_or_default();
    let legend = t
        .lines
        .iter()
        .enumerate()
        .map(|(k, l)| {
            view! {
                <li data-segment=l.id.clone()>
                    <span class="swatch" style=format!("background: {}", css_color(Some(k)))></span>
                    {l.name.clone()}
                </li>
            }
        })
        .collect_view();
    let (t1, t2, t3, t4) = (t.clone(), t.clone(), t.clone(), t.clone());
    view! {
        <div class="trend-charts" data-testid="trend-charts" data-ready="true" data-days=t.days.len()>
            <ul class="legend" data-testid="trend-legend">
                {legend}
            </ul>
            <ChartCard
                t=t1
                kind=Kind::Sizes
                title="Size per day".to_owned()
                note="Members on each day.".to_owned()
                width
                hover
            />
            <ChartCard
                t=t2
                kind=Kind::Flows
                title="Entered and left per day".to_owned()
                note="Above zero: users who entered since the previous published day; below zero (lighter): users who left.".to_owned()
                width
                hover
            />
            <ChartCard
                t=t3
                kind=Kind::Rates
                title=format!("{metric} rate per day")
                note=format!("Share of each segment with {metric} = true; dashed: all users (大盘).")
                width
                hover
            />
            <SummaryTable t=t4 />
        </div>
    }
}

#[component]
fn ChartCard(
    t: std::sync::Arc<Trends>,
    kind: Kind,
    title: String,
    note: String,
    width: RwSignal<u32>,
    hover: RwSignal<Option<usize>>,
) -> impl IntoView {
    let name = match kind {
        Kind::Sizes => "sizes",
        Kind::Flows => "flows",
        Kind::Rates => "rates",
    };
    let tc = t.clone();
    let svg = Memo::new(move |_| chart::svg(&tc, kind, width.get()));
    let readings = move || {
        let i = hover.get().or_else(|| t.default_day())?;
        let r = match kind {
            Kind::Sizes => trends::size_readings(&t, i),
            Kind::Flows => trends::flow_readings(&t, i),
            Kind::Rates => trends::rate_readings(&t, i),
        };
        Some((t.days.get(i).cloned().unwrap_or_default(), hover.get().is_some(), r))
    };
    view! {
        <section class="card trend-card" data-testid=format!("chart-{name}")>
            <header class="card-head">
                <h2 class="card-title">{title.clone()}</h2>
                <span class="muted small">{note}</span>
            </header>
            {move || match svg.get() {
                Ok(svg) => {
                    view! {
                        <div
                            class="chart trend-chart"
                            role="img"
                            aria-label=title.clone()
                            inner_html=svg
                            on:pointermove=move |ev| {
                                if let Some(i) = day_under(&ev) && hover.get_untracked() != Some(i) {
                                    hover.set(Some(i));
                                }
                            }
                            on:pointerdown=move |ev| {
                                if let Some(i) = day_under(&ev) {
                                    hover.set(Some(i));
                                }
                            }
                            on:pointerleave=move |ev: web_sys::PointerEvent| {
                                // A finger lifting also "leaves": keep the tapped day on touch.
                                if ev.pointer_type() == "mouse" {
                                    hover.set(None);
                                }
                            }
                        ></div>
                    }
                        .into_any()
                }
                Err(e) => view! { <p class="error-detail">"Chart failed: " {e}</p> }.into_any(),
            }}
            {move || {
                readings()
                    .map(|(ds, hovered, rows)| {
                        let day = ds.clone();
                        view! {
                            <div class="readout" data-testid=format!("readout-{name}") data-day=day>
                                <span class="readout-day">
                                    {ds} {(!hovered).then_some(" (latest; hover a day for others)")}
                                </span>
                                <ul class="readout-list">{rows.into_iter().map(reading_view).collect_view()}</ul>
                            </div>
                        }
                    })
            }}
        </section>
    }
}

fn reading_view(r: Reading) -> impl IntoView {
    let key = r.id.clone().unwrap_or_else(|| "all".to_owned());
    view! {
        <li class="readout-item" data-segment=key>
            <span class="swatch" class:swatch-dashed=r.slot.is_none() style=format!("background: {}", css_color(r.slot))></span>
            <span class="readout-label">{r.label}</span>
            <span class="readout-value num" data-testid="readout-value">{r.value}</span>
            {(!r.detail.is_empty()).then(|| view! { <span class="readout-detail muted">{r.detail}</span> })}
        </li>
    }
}

#[component]
fn SummaryTable(t: std::sync::Arc<Trends>) -> impl IntoView {
    let metric = t.metric.clone().unwrap_or_default();
    let (first, last) = (t.days.first().cloned().unwrap_or_default(), t.days.last().cloned().unwrap_or_default());
    let rows = trends::summaries(&t);
    view! {
        <section class="card table-card trend-summary" data-testid="trend-summary">
            <header class="card-head summary-head">
                <h2 class="card-title">"Over the range"</h2>
                <span class="muted small">{format!("{first} to {last} · {} days", t.days.len())}</span>
            </header>
            <ScrollTable>
                    <thead>
                        <tr>
                            <th scope="col">"Segment"</th>
                            <th scope="col" class="num">"Latest size"</th>
                            <th scope="col" class="num">"Change"</th>
                            <th scope="col" class="num">"Entered"</th>
                            <th scope="col" class="num">"Left"</th>
                            <th scope="col" class="num">{metric.clone()}</th>
                            <th scope="col" class="num">"All users"</th>
                            <th scope="col" class="num" title="segment rate ÷ all users' rate × 100">
                                "Index"
                            </th>
                        </tr>
                    </thead>
                    <tbody>
                        {rows
                            .into_iter()
                            .enumerate()
                            .map(|(k, s)| {
                                let change = trends::change_text(s.change, s.change_share);
                                let index = s.index();
                                view! {
                                    <tr data-testid="summary-row" data-segment=s.id.clone()>
                                        <td>
                                            <span class="swatch" style=format!("background: {}", css_color(Some(k)))></span>
                                            " "
                                            {s.name.clone()}
                                        </td>
                                        <td class="num" data-testid="summary-latest">{s.latest.map_or_else(|| "–".to_owned(), format::int)}</td>
                                        <td class="num">{change}</td>
                                        <td class="num" data-testid="summary-entered">{format!("+{}", format::int(s.entered))}</td>
                                        <td class="num" data-testid="summary-left">{format!("−{}", format::int(s.left))}</td>
                                        <td class="num">{s.rate.map_or_else(|| "–".to_owned(), format::percent_exact)}</td>
                                        <td class="num">{s.all_rate.map_or_else(|| "–".to_owned(), format::percent_exact)}</td>
                                        <td
                                            class="num"
                                            class:lean-over=index.is_some_and(|i| i >= 120.0)
                                            class:lean-under=index.is_some_and(|i| i <= 80.0)
                                        >
                                            {format::tgi(index)}
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
            </ScrollTable>
        </section>
    }
}
