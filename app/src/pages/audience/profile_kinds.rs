//! The profile's panels for numeric groups (a histogram with quartiles) and events (who did it
//! in the last 1/7/30 days, and on how many days), the audience next to all users. Same tier
//! decision as the tag panels: the full tier when the audience is exact there and the panel's
//! blobs fit the download budget (never for aggregate tokens), else the sample tier, scaled.
//! The numbers are [`crate::profile`]'s.

use engine::IdSet;
use engine::catalog::NumericInfo;
use engine::manifest::BlobRef;
use leptos::prelude::*;

use super::Checked;
use super::profile::{Members, loaded};
use crate::charts::{self, Bar};
use crate::components::common::{Chart, Loading, ScrollTable};
use crate::ctx::AppState;
use crate::estimate::{self, FullTier, Tier, TierSource};
use crate::format;
use crate::profile::{self, Lean, Row};

/// The tier a panel reads: full when the audience is known there and `refs` (the panel's
/// full-tier blobs) fit the budget.
fn panel_tier(
    checked: Memo<Option<Checked>>,
    full_members: Memo<Option<Members>>,
    refs: impl Fn(&Checked, Tier) -> Vec<BlobRef> + Send + Sync + 'static,
) -> Memo<Tier> {
    let state = AppState::get();
    Memo::new(move |_| {
        state.blob_tick.track();
        let fits = checked.with(|c| {
            c.as_ref().is_some_and(|c| {
                let refs = refs(c, Tier::Full);
                state.full_tier(state.blobs.with_value(|b| estimate::missing_bytes(&refs, b))) == FullTier::Download
            })
        });
        if full_members.with(Option::is_some) && fits { Tier::Full } else { Tier::Sample }
    })
}

/// How a count on a tier reads: exact on the full tier; scaled to all users and `≈` (or `< k`
/// for an aggregate token) on the sample tier.
fn users(tier: Tier, n: u64, scale: f64) -> String {
    match tier {
        Tier::Full => format::int(n),
        Tier::Sample => AppState::get().access_or_default().estimate(n as f64 * scale),
    }
}

/// All users ÷ the tier's universe (1 on the full tier).
fn scale_of(c: &Checked, universe_len: u64) -> f64 {
    if universe_len == 0 { 1.0 } else { c.manifest.universe.count as f64 / universe_len as f64 }
}

fn tier_note(tier: Tier) -> &'static str {
    match tier {
        Tier::Full => "Exact, from the full tier.",
        Tier::Sample => {
            "Estimated from the sample tier (the full tier is over the download budget or not open to this token)."
        }
    }
}

/// A numeric group: histogram of the audience against all users, and the quartiles of each.
#[component]
pub(super) fn NumericPanel(
    group: String,
    checked: Memo<Option<Checked>>,
    full_members: Memo<Option<Members>>,
    sample_members: Memo<Option<Members>>,
) -> impl IntoView {
    let state = AppState::get();
    let refs_of = {
        let group = group.clone();
        move |c: &Checked, tier: Tier| {
            let mut refs = estimate::numeric_refs(&c.manifest, &group, tier);
            refs.push(estimate::universe_ref(&c.manifest, tier));
            refs
        }
    };
    let tier = panel_tier(checked, full_members, refs_of.clone());
    let refs = Memo::new(move |_| checked.with(|c| c.as_ref().map(|c| refs_of(c, tier.get()))).unwrap_or_default());
    Effect::new(move |_| state.ensure(&refs.get()));
    let computed = move || {
        let members = loaded(state, tier.get(), full_members, sample_members, &refs.get())?;
        checked.with(|c| {
            let c = c.as_ref()?;
            let n = c.manifest.group(&group)?.numeric.as_ref()?;
            let info = NumericInfo { scale: n.scale, offset: n.offset, max: n.max, count: 0 };
            state.blobs.with_value(|b| {
                let source = TierSource::new(&c.manifest, &c.window, b, members.0)?;
                let column = engine::Source::column(&source, &group)?;
                let top = info.max.abs_diff(info.offset);
                let buckets = estimate::histogram(&column, &info, Some(&members.1), charts::HISTOGRAM_BARS);
                let all_q = profile::quartiles(&column, None, top);
                let audience_q = profile::quartiles(&column, Some(&members.1), top);
                let within = members.1.intersection_len(column.exists);
                let bars = charts::histogram_bars(&buckets, within, column.exists.len());
                let scale = scale_of(c, engine::Source::universe(&source).len());
                let text = move |v: u64| engine::bsi::format_scaled(info.offset.saturating_add_unsigned(v), info.scale);
                let q = |q: Option<profile::Quartiles>| q.map(|q| (q.n, text(q.q1), text(q.median), text(q.q3)));
                Some((members.0, bars, q(audience_q), q(all_q), scale, members.1.len()))
            })
        })
    };
    view! {
        <div class="profile-panel" data-testid="numeric-panel">
            {move || match computed() {
                None => view! { <Loading what="Loading the column…" /> }.into_any(),
                Some((_, _, _, _, _, 0)) => view! { <p class="muted">"The audience is empty: nothing to profile."</p> }.into_any(),
                Some((tier, bars, audience_q, all_q, scale, _)) => {
                    let description = bars.iter().map(charts::describe).collect::<Vec<_>>().join("; ");
                    let row = move |who: &'static str, label: &'static str, q: Option<(u64, String, String, String)>| {
                        let (n, q1, median, q3) = q.unwrap_or((0, "–".into(), "–".into(), "–".into()));
                        view! {
                            <tr data-who=who>
                                <th scope="row">{label}</th>
                                <td class="num" data-testid="q-n">{users(tier, n, scale)}</td>
                                <td class="num" data-testid="q1">{q1}</td>
                                <td class="num" data-testid="median">{median}</td>
                                <td class="num" data-testid="q3">{q3}</td>
                            </tr>
                        }
                    };
                    view! {
                        <p class="muted small">{tier_note(tier)} " Bars: share of the users with a value."</p>
                        <Chart svg=charts::profile_svg(&bars) label=description />
                        <ScrollTable class="profile-table quartiles">
                            <thead>
                                <tr>
                                    <th scope="col"></th>
                                    <th scope="col" class="num">"With a value"</th>
                                    <th scope="col" class="num">"Q1"</th>
                                    <th scope="col" class="num">"Median"</th>
                                    <th scope="col" class="num">"Q3"</th>
                                </tr>
                            </thead>
                            <tbody data-testid="numeric-quartiles">
                                {row("audience", "Audience", audience_q)}
                                {row("all", "All users", all_q)}
                            </tbody>
                        </ScrollTable>
                    }
                        .into_any()
                }
            }}
        </div>
    }
}

/// The days an event panel reads: the last `min(30, retained)` days ending with the day.
fn event_days(c: &Checked) -> Vec<String> {
    let n = match c.window.retained_days {
        0 => profile::ACTIVE_DAYS_WINDOW,
        r => r.min(profile::ACTIVE_DAYS_WINDOW),
    };
    engine::window::window_days(&c.manifest.ds, n).unwrap_or_default()
}

/// An event: who did it in the last 1, 7 and 30 days, and on how many of the days, in the
/// audience and among all users.
#[component]
pub(super) fn EventPanel(
    event: String,
    checked: Memo<Option<Checked>>,
    full_members: Memo<Option<Members>>,
    sample_members: Memo<Option<Members>>,
) -> impl IntoView {
    let state = AppState::get();
    let refs_of = {
        let event = event.clone();
        move |c: &Checked, tier: Tier| {
            let mut refs = vec![estimate::universe_ref(&c.manifest, tier)];
            for ds in event_days(c) {
                if let Some(e) = c.window.entry(&event, &ds) {
                    refs.push(match tier {
                        Tier::Full => e.bsi.exists.full.clone(),
                        Tier::Sample => e.bsi.exists.sample.clone(),
                    });
                }
            }
            refs
        }
    };
    let tier = panel_tier(checked, full_members, refs_of.clone());
    let refs = Memo::new(move |_| checked.with(|c| c.as_ref().map(|c| refs_of(c, tier.get()))).unwrap_or_default());
    Effect::new(move |_| state.ensure(&refs.get()));
    let computed = move || {
        let members = loaded(state, tier.get(), full_members, sample_members, &refs.get())?;
        checked.with(|c| {
            let c = c.as_ref()?;
            let tier = members.0;
            state.blobs.with_value(|b| {
                let universe = b.get(&estimate::universe_ref(&c.manifest, tier).blob)?;
                let days = event_days(c);
                let empty = IdSet::new();
                // One set per day of the window, oldest first (empty on days without the event).
                let sets: Vec<&IdSet> = days
                    .iter()
                    .map(|ds| {
                        c.window
                            .entry(&event, ds)
                            .and_then(|e| {
                                let r = match tier {
                                    Tier::Full => &e.bsi.exists.full,
                                    Tier::Sample => &e.bsi.exists.sample,
                                };
                                b.get(&r.blob).map(|s| &**s)
                            })
                            .unwrap_or(&empty)
                    })
                    .collect();
                let reach: Vec<(String, u64, u64)> = profile::EVENT_WINDOWS
                    .iter()
                    .filter(|&&w| w as usize <= sets.len())
                    .map(|&w| {
                        let did = profile::active_any(&sets[sets.len() - w as usize..], universe);
                        (w.to_string(), did.intersection_len(&members.1), did.len())
                    })
                    .collect();
                let buckets = profile::day_buckets(sets.len() as u32);
                let audience_days = profile::bucket_counts(&profile::active_day_counts(&sets, &members.1), &buckets);
                let all_days = profile::bucket_counts(&profile::active_day_counts(&sets, universe), &buckets);
                let day_counts: Vec<(String, u64, u64)> =
                    audience_days.into_iter().zip(all_days).map(|((label, a), (_, n))| (label, a, n)).collect();
                let n = members.1.len();
                let reach = profile::rows(n, universe.len(), &reach);
                let active = profile::rows(n, universe.len(), &day_counts);
                Some((tier, reach, active, sets.len(), scale_of(c, universe.len()), n))
            })
        })
    };
    view! {
        <div class="profile-panel" data-testid="event-panel">
            {move || match computed() {
                None => view! { <Loading what="Loading the event's days…" /> }.into_any(),
                Some((_, _, _, _, _, 0)) => view! { <p class="muted">"The audience is empty: nothing to profile."</p> }.into_any(),
                Some((tier, reach, active, n_days, scale, _)) => {
                    let bars: Vec<Bar> = active.iter().map(|r| Bar::of_row(r, r.value.clone())).collect();
                    let description = bars.iter().map(charts::describe).collect::<Vec<_>>().join("; ");
                    view! {
                        <p class="muted small">{tier_note(tier)}</p>
                        <h4 class="section-title">"Did it in the last…"</h4>
                        <RowsTable rows=reach tier scale first="Window" testid="event-reach" label=|v: &str| {
                            if v == "1" { "1 day".to_owned() } else { format!("{v} days") }
                        } />
                        <h4 class="section-title">{format!("Active days of the last {n_days}")}</h4>
                        <Chart svg=charts::profile_svg(&bars) label=description />
                        <RowsTable rows=active tier scale first="Days active" testid="event-days" label=|v: &str| v.to_owned() />
                    }
                        .into_any()
                }
            }}
        </div>
    }
}

/// Rows of the profile (audience users, shares, TGI) with the first column labelled by `label`.
#[component]
fn RowsTable(
    rows: Vec<Row>,
    tier: Tier,
    scale: f64,
    first: &'static str,
    testid: &'static str,
    label: fn(&str) -> String,
) -> impl IntoView {
    view! {
        <ScrollTable class="profile-table">
            <thead>
                <tr>
                    <th scope="col">{first}</th>
                    <th scope="col" class="num">"Audience"</th>
                    <th scope="col" class="num">"Share"</th>
                    <th scope="col" class="num">"All users"</th>
                    <th scope="col" class="num">"TGI"</th>
                </tr>
            </thead>
            <tbody data-testid=testid>
                {rows
                    .into_iter()
                    .map(|r| {
                        view! {
                            <tr class=r.lean.class() data-key=r.value.clone()>
                                <td>{label(&r.value)}</td>
                                <td class="num" data-testid="audience-users">{users(tier, r.audience, scale)}</td>
                                <td class="num">{format::percent(r.audience_share)}</td>
                                <td class="num">{format::percent(r.all_share)}</td>
                                <td class="num tgi">
                                    {format::tgi(r.tgi)}
                                    {match r.lean {
                                        Lean::Over => " ▲",
                                        Lean::Under => " ▼",
                                        Lean::Even => "",
                                    }}
                                </td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </ScrollTable>
    }
}
