//! The populations table (size on the day, change, the size over the retained days) and the
//! chosen population's distribution over tag groups next to all users.

use std::rc::Rc;

use engine::IdSet;
use engine::catalog::TagKind;
use engine::manifest::BlobRef;
use leptos::prelude::*;

use super::{CsvButton, Series};
use crate::charts::{self, overview::sparkline_svg};
use crate::components::common::{Chart, Loading, ScrollTable};
use crate::ctx::AppState;
use crate::estimate::{self, FullTier, Tier};
use crate::format;
use crate::overview::{self, Population, Selection};
use crate::profile;

/// The index of the day shown (the chosen day, else the latest) in the series.
fn day_index(series: &Series, ds: Option<&str>) -> Option<usize> {
    ds.and_then(|ds| series.iter().position(|(d, _)| d == ds)).or_else(|| series.len().checked_sub(1))
}

/// One row of the populations table.
#[derive(Debug, Clone, PartialEq)]
struct PopRow {
    population: Population,
    /// Size on every day of the series.
    sizes: Vec<Option<u64>>,
    today: Option<u64>,
    before: Option<u64>,
    universe: u64,
}

/// All users and the populations of the day, with their sizes over the days.
#[component]
pub(super) fn PopulationsCard(series: Memo<Option<Series>>, selection: RwSignal<Selection>) -> impl IntoView {
    let state = AppState::get();
    let rows = Memo::new(move |_| {
        let series = series.get()?;
        let i = day_index(&series, state.ds.get().as_deref())?;
        let today = series[i].1.clone()?;
        let pops =
            std::iter::once(Population::All).chain(overview::populations(&today).into_iter().map(Population::Group));
        let rows: Vec<PopRow> = pops
            .map(|p| {
                let sizes: Vec<Option<u64>> = series.iter().map(|(_, m)| m.as_ref().and_then(|m| p.size(m))).collect();
                PopRow {
                    today: sizes[i],
                    before: i.checked_sub(1).and_then(|j| sizes[j]),
                    sizes,
                    universe: today.universe.count,
                    population: p,
                }
            })
            .collect();
        Some((series.iter().map(|(d, _)| d.clone()).collect::<Vec<_>>(), series[i].0.clone(), rows))
    });
    view! {
        <article class="card overview-populations" data-testid="overview-populations">
            <header class="card-head">
                <h2 class="card-title">"Populations"</h2>
                <span class="muted small">
                    "All users and the app's activity and payment groups (boolean groups named active_… or paid_…)."
                </span>
            </header>
            {move || match rows.get() {
                None => view! { <Loading what="Reading the retained days…" /> }.into_any(),
                Some((days, ds, rows)) => {
                    let access = state.access_or_default();
                    let mut csv = vec![std::iter::once("population".to_owned()).chain(days.iter().cloned()).collect::<Vec<_>>()];
                    csv.extend(rows.iter().map(|r| {
                        std::iter::once(r.population.key().to_owned())
                            .chain(r.sizes.iter().map(|s| s.map(|n| n.to_string()).unwrap_or_default()))
                            .collect()
                    }));
                    let body = rows
                        .into_iter()
                        .map(|r| {
                            let key = r.population.key().to_owned();
                            let hidden = |n: Option<u64>| n.is_none_or(|n| access.hides(n));
                            let change = if hidden(r.today) || hidden(r.before) {
                                "–".to_owned()
                            } else {
                                let (a, b) = (r.today.unwrap_or(0), r.before.unwrap_or(0));
                                format::signed(i64::try_from(a).unwrap_or(i64::MAX) - i64::try_from(b).unwrap_or(i64::MAX))
                            };
                            let share = r.today.filter(|_| !hidden(r.today)).map_or("–".to_owned(), |n| {
                                format::percent(if r.universe == 0 { 0.0 } else { n as f64 / r.universe as f64 })
                            });
                            let title = days
                                .iter()
                                .zip(&r.sizes)
                                .map(|(d, n)| format!("{d}: {}", n.map_or("–".to_owned(), |n| access.count(Some(n)))))
                                .collect::<Vec<_>>()
                                .join("\n");
                            let sizes_attr = days
                                .iter()
                                .zip(&r.sizes)
                                .map(|(d, n)| format!("{d}={}", n.map_or(String::new(), |n| n.to_string())))
                                .collect::<Vec<_>>()
                                .join(";");
                            let chosen = {
                                let key = key.clone();
                                move || selection.with(|s| s.population.as_deref().unwrap_or("all") == key)
                            };
                            let chosen_row = chosen.clone();
                            let pick = key.clone();
                            let label = title.clone();
                            view! {
                                <tr data-testid="overview-population" data-population=key.clone() data-sizes=sizes_attr class:chosen=chosen_row>
                                    <th scope="row">{r.population.label()}</th>
                                    <td class="num" data-testid="population-size">{access.count(r.today)}</td>
                                    <td class="num">{share}</td>
                                    <td class="num">{change}</td>
                                    <td class="spark" title=title>
                                        <Chart svg=sparkline_svg(&r.sizes) label=label class="sparkline" />
                                    </td>
                                    <td>
                                        <button
                                            class="button button-quiet button-small"
                                            data-testid="population-show"
                                            aria-pressed=move || chosen().to_string()
                                            on:click=move |_| {
                                                let p = if pick == "all" { None } else { Some(pick.clone()) };
                                                selection.update(|s| s.population = p);
                                            }
                                        >
                                            "Distribution"
                                        </button>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view();
                    view! {
                        <ScrollTable class="overview-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Population"</th>
                                    <th scope="col" class="num">{format!("Users on {ds}")}</th>
                                    <th scope="col" class="num">"Share"</th>
                                    <th scope="col" class="num">"Since the day before"</th>
                                    <th scope="col">{format!("{} days", days.len())}</th>
                                    <th scope="col"></th>
                                </tr>
                            </thead>
                            <tbody>{body}</tbody>
                        </ScrollTable>
                        <div class="card-foot">
                            <CsvButton name="populations.csv".into() rows=csv testid="populations-csv" />
                        </div>
                    }
                        .into_any()
                }
            }}
        </article>
    }
}

/// The chosen population's distribution over the chosen tag groups, next to all users.
#[component]
pub(super) fn DistributionCard(selection: RwSignal<Selection>) -> impl IntoView {
    let state = AppState::get();
    let manifest = move || state.manifest.get().and_then(Result::ok);
    let chosen = Memo::new(move |_| {
        let m = manifest()?;
        Some(selection.with(|s| s.groups.clone()).unwrap_or_else(|| overview::default_groups(&m)))
    });
    let population =
        Memo::new(move |_| Population::from_key(selection.with(|s| s.population.clone()).as_deref().unwrap_or("all")));
    // The blobs on a tier: the universe, the population's members, every chosen group's values.
    let refs_on = move |tier: Tier| -> Vec<BlobRef> {
        let (Some(m), Some(groups)) = (manifest(), chosen.get()) else { return Vec::new() };
        let mut refs = vec![estimate::universe_ref(&m, tier)];
        if let Population::Group(g) = population.get() {
            refs.extend(estimate::value_ref(&m, &g, "true", tier));
        }
        for g in &groups {
            refs.extend(estimate::group_refs(&m, g, tier));
        }
        refs
    };
    let tier = Memo::new(move |_| {
        state.blob_tick.track();
        let full = refs_on(Tier::Full);
        let missing = state.blobs.with_value(|b| estimate::missing_bytes(&full, b));
        if state.full_tier(missing) == FullTier::Download { Tier::Full } else { Tier::Sample }
    });
    let refs = Memo::new(move |_| refs_on(tier.get()));
    Effect::new(move |_| state.ensure(&refs.get()));
    let toggle = move |group: String, on: bool| {
        let current = chosen.get_untracked().unwrap_or_default();
        let mut next: Vec<String> = current.into_iter().filter(|g| *g != group).collect();
        if on {
            next.push(group);
        }
        selection.update(|s| s.groups = Some(next));
    };
    let panels = move || {
        let m = manifest()?;
        let groups = chosen.get()?;
        let tier = tier.get();
        if !state.has_all(&refs.get()) {
            return None;
        }
        state.blobs.with_value(|b| {
            let universe = b.get(&estimate::universe_ref(&m, tier).blob)?.clone();
            let members: Rc<IdSet> = match population.get() {
                Population::All => universe.clone(),
                Population::Group(g) => b.get(&estimate::value_ref(&m, &g, "true", tier)?.blob)?.clone(),
            };
            let out: Vec<(String, Vec<profile::Row>)> = groups
                .iter()
                .filter_map(|g| {
                    let entry = m.group(g)?;
                    let counts: Vec<(String, u64, u64)> = entry
                        .values
                        .iter()
                        .filter_map(|v| {
                            let set = b.get(&if tier == Tier::Full { &v.full } else { &v.sample }.blob)?;
                            Some((v.value.clone(), profile::intersect_count(&members, set), set.len()))
                        })
                        .collect();
                    let mut rows = profile::rows(members.len(), universe.len(), &counts);
                    profile::sort_by_audience(&mut rows);
                    Some((g.clone(), rows))
                })
                .collect();
            Some((tier, out))
        })
    };
    view! {
        <article class="card overview-distribution" data-testid="overview-distribution">
            <header class="card-head">
                <h2 class="card-title">{move || format!("{} next to all users", population.get().label())}</h2>
                <span class="muted small">"TGI = share in the population ÷ share of all users × 100."</span>
            </header>
            <fieldset class="group-picker" data-testid="overview-groups">
                <legend class="form-label">"Tag groups"</legend>
                {move || {
                    let m = manifest()?;
                    let on = chosen.get().unwrap_or_default();
                    Some(
                        m.groups
                            .iter()
                            .filter(|g| g.kind != TagKind::Numeric)
                            .map(|g| {
                                let name = g.name.clone();
                                let checked = on.contains(&name);
                                let n = name.clone();
                                view! {
                                    <label class="check chip">
                                        <input
                                            type="checkbox"
                                            data-group=name.clone()
                                            prop:checked=checked
                                            on:change=move |ev| toggle(n.clone(), event_target_checked(&ev))
                                        />
                                        " "
                                        {name}
                                    </label>
                                }
                            })
                            .collect_view(),
                    )
                }}
            </fieldset>
            {move || match panels() {
                None => view! { <Loading what="Loading the groups' values…" /> }.into_any(),
                Some((tier, groups)) => {
                    let note = match tier {
                        Tier::Full => "Exact, from the full tier.",
                        Tier::Sample => "Estimated from the sample tier: the full tier is over the download budget, or not open to this token.",
                    };
                    view! {
                        <p class="muted small" data-testid="distribution-tier" data-tier=if tier == Tier::Full { "full" } else { "sample" }>{note}</p>
                        <div class="distribution-grid">
                            {groups
                                .into_iter()
                                .map(|(g, rows)| {
                                    let bars = charts::profile_bars(&rows, charts::MAX_BARS);
                                    let description = bars.iter().map(charts::describe).collect::<Vec<_>>().join("; ");
                                    let mut csv = vec![["value", "population_share", "all_share", "tgi"].map(str::to_owned).to_vec()];
                                    csv.extend(rows.iter().map(|r| {
                                        vec![
                                            r.value.clone(),
                                            format!("{:.6}", r.audience_share),
                                            format!("{:.6}", r.all_share),
                                            r.tgi.map(|t| format!("{t:.1}")).unwrap_or_default(),
                                        ]
                                    }));
                                    view! {
                                        <section class="distribution" data-testid="distribution" data-group=g.clone()>
                                            <h3 class="section-title">{g.clone()}</h3>
                                            <Chart svg=charts::profile_svg(&bars) label=description />
                                            <CsvButton name=format!("distribution-{g}.csv") rows=csv testid="distribution-csv" />
                                        </section>
                                    }
                                })
                                .collect_view()}
                        </div>
                    }
                        .into_any()
                }
            }}
        </article>
    }
}
