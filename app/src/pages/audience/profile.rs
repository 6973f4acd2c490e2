//! The profile: each tag group inside the audience next to all users, with TGI, one panel per
//! group loading its values when opened; numeric groups and events in panels of their own
//! ([`super::profile_kinds`]). The rows are [`crate::profile`]'s.

use std::collections::BTreeSet;
use std::sync::Arc;

use engine::IdSet;
use engine::manifest::BlobRef;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::Checked;
use super::profile_kinds::{EventPanel, NumericPanel};
use crate::catalog;
use crate::charts;
use crate::components::common::{Chart, Loading, ScrollTable};
use crate::ctx::AppState;
use crate::estimate::{self, FullTier, Outcome, Tier};
use crate::format;
use crate::profile;

/// Members of the audience on a tier, compared by identity.
#[derive(Debug, Clone)]
pub(super) struct Members(pub(super) Tier, pub(super) Arc<IdSet>);

impl PartialEq for Members {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 && Arc::ptr_eq(&self.1, &other.1)
    }
}

/// The audience's members on `tier`, once they and every blob of `refs` are loaded (tracks
/// both): what each profile panel waits for before it counts.
pub(super) fn loaded(
    state: AppState,
    tier: Tier,
    full: Memo<Option<Members>>,
    sample: Memo<Option<Members>>,
    refs: &[BlobRef],
) -> Option<Members> {
    let members = match tier {
        Tier::Full => full.get(),
        Tier::Sample => sample.get(),
    }?;
    state.has_all(refs).then_some(members)
}

/// The profile card: a panel per selectable tag group.
#[component]
pub(super) fn ProfileSection(
    checked: Memo<Option<Checked>>,
    exact: Memo<Option<Outcome>>,
    sample: Memo<Option<Outcome>>,
) -> impl IntoView {
    let state = AppState::get();
    let open = RwSignal::new(BTreeSet::<String>::new());
    // The audience's members on each tier, computed only while a panel is open.
    let members = move |tier: Tier| {
        Memo::new(move |_| {
            if open.with(BTreeSet::is_empty) {
                return None;
            }
            let ready = match tier {
                Tier::Full => exact.with(Option::is_some),
                Tier::Sample => sample.with(Option::is_some),
            };
            if !ready {
                return None;
            }
            state.blob_tick.track();
            checked.with(|c| {
                let c = c.as_ref()?;
                state
                    .blobs
                    .with_value(|b| estimate::audience(&c.plan, &c.manifest, &c.window, b, tier))
                    .map(|m| Members(tier, Arc::new(m)))
            })
        })
    };
    let full_members = members(Tier::Full);
    let sample_members = members(Tier::Sample);
    let groups = move || {
        state.manifest.get().and_then(Result::ok).map(|m| {
            let tags = catalog::selectable(&m).map(|g| {
                let n = g.values.len();
                (format!("t:{}", g.name), g.name.clone(), format!("{n} value{}", if n == 1 { "" } else { "s" }))
            });
            let numbers = m
                .groups
                .iter()
                .filter(|g| g.numeric.is_some())
                .map(|g| (format!("n:{}", g.name), g.name.clone(), "number".to_owned()));
            tags.chain(numbers).collect::<Vec<_>>()
        })
    };
    let events = move || state.events.get().and_then(Result::ok).map(|w| w.event_names()).unwrap_or_default();
    // One foldable panel; its body is built only while it is open.
    let fold = move |key: String, name: String, detail: String, kind: &'static str| {
        let is_open = {
            let key = key.clone();
            move || open.with(|o| o.contains(&key))
        };
        let toggle_key = key.clone();
        let panel_name = name.clone();
        view! {
            <details
                class="profile-group"
                data-testid="profile-group"
                data-group=name.clone()
                data-kind=kind
                on:toggle=move |ev| {
                    let now_open = ev
                        .target()
                        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                        .is_some_and(|e| e.has_attribute("open"));
                    open.update(|o| {
                        if now_open {
                            o.insert(toggle_key.clone());
                        } else {
                            o.remove(&toggle_key);
                        }
                    });
                }
            >
                <summary>
                    <span class="profile-group-name">{name.clone()}</span>
                    <span class="muted small">{detail}</span>
                </summary>
                {move || {
                    is_open()
                        .then(|| match kind {
                            "number" => view! { <NumericPanel group=panel_name.clone() checked full_members sample_members /> }.into_any(),
                            "event" => view! { <EventPanel event=panel_name.clone() checked full_members sample_members /> }.into_any(),
                            _ => view! { <ProfilePanel group=panel_name.clone() checked full_members sample_members /> }.into_any(),
                        })
                }}
            </details>
        }
    };
    view! {
        <section class="card profile" aria-labelledby="profile-title" data-testid="profile">
            <header class="card-head">
                <h2 class="card-title" id="profile-title">"Profile"</h2>
                <span class="muted small">
                    "Each group inside the audience next to all users. TGI = audience share ÷ overall share × 100; "
                    <span class="lean-over">"≥ 120 over-represented"</span>
                    ", "
                    <span class="lean-under">"≤ 80 under-represented"</span>
                    "."
                </span>
            </header>
            {move || match groups() {
                None => view! { <Loading what="Loading the day's tags…" /> }.into_any(),
                Some(list) => {
                    list.into_iter()
                        .map(|(key, name, detail)| {
                            let kind = if key.starts_with("n:") { "number" } else { "tag" };
                            fold(key, name, detail, kind)
                        })
                        .collect_view()
                        .into_any()
                }
            }}
            {move || {
                let events = events();
                (!events.is_empty())
                    .then(|| {
                        view! {
                            <h3 class="section-title profile-subtitle">"Events"</h3>
                            {events
                                .into_iter()
                                .map(|e| fold(format!("e:{e}"), e, "event".to_owned(), "event"))
                                .collect_view()}
                        }
                    })
            }}
        </section>
    }
}

#[component]
fn ProfilePanel(
    group: String,
    checked: Memo<Option<Checked>>,
    full_members: Memo<Option<Members>>,
    sample_members: Memo<Option<Members>>,
) -> impl IntoView {
    let state = AppState::get();
    // Full tier when the audience is exact there and the group fits the budget.
    let tier = {
        let group = group.clone();
        Memo::new(move |_| {
            state.blob_tick.track();
            let fits = checked.with(|c| {
                c.as_ref().is_some_and(|c| {
                    let refs = estimate::group_refs(&c.manifest, &group, Tier::Full);
                    state.full_tier(state.blobs.with_value(|b| estimate::missing_bytes(&refs, b))) == FullTier::Download
                })
            });
            if full_members.with(Option::is_some) && fits { Tier::Full } else { Tier::Sample }
        })
    };
    let group_refs = {
        let group = group.clone();
        Memo::new(move |_| {
            checked
                .with(|c| c.as_ref().map(|c| estimate::group_refs(&c.manifest, &group, tier.get())))
                .unwrap_or_default()
        })
    };
    Effect::new(move |_| state.ensure(&group_refs.get()));
    let rows = {
        let group = group.clone();
        move || {
            let refs = group_refs.get();
            let members = loaded(state, tier.get(), full_members, sample_members, &refs)?;
            checked.with(|c| {
                let c = c.as_ref()?;
                let g = c.manifest.group(&group)?;
                state.blobs.with_value(|b| {
                    let universe = estimate::universe_ref(&c.manifest, members.0);
                    let universe_len = b.get(&universe.blob)?.len();
                    let counts: Vec<(String, u64, u64)> = g
                        .values
                        .iter()
                        .zip(&refs)
                        .filter_map(|(v, r)| {
                            let set = b.get(&r.blob)?;
                            Some((v.value.clone(), profile::intersect_count(&members.1, set), set.len()))
                        })
                        .collect();
                    let scale =
                        if universe_len == 0 { 1.0 } else { c.manifest.universe.count as f64 / universe_len as f64 };
                    let mut rows = profile::rows(members.1.len(), universe_len, &counts);
                    profile::sort_by_audience(&mut rows);
                    Some((rows, members.0, scale, members.1.len()))
                })
            })
        }
    };
    let loading = move || {
        let refs = group_refs.get();
        let missing = state.blobs.with_value(|b| estimate::missing_bytes(&refs, b));
        format!("Loading {} values ({})…", refs.len(), format::bytes(missing))
    };
    view! {
        <div class="profile-panel">
            {move || match rows() {
                None => view! { <Loading what=loading() /> }.into_any(),
                Some((_, _, _, 0)) => view! { <p class="muted">"The audience is empty: nothing to profile."</p> }.into_any(),
                Some((rows, tier, scale, _)) => {
                    let bars = charts::profile_bars(&rows, charts::MAX_BARS);
                    let description = bars.iter().map(charts::describe).collect::<Vec<_>>().join("; ");
                    let chart = view! { <Chart svg=charts::profile_svg(&bars) label=description /> };
                    let note = match tier {
                        Tier::Full => "Exact, from the full tier.",
                        Tier::Sample => "Estimated from the sample tier.",
                    };
                    view! {
                        <p class="muted small">{note}</p>
                        {chart}
                        <ScrollTable class="profile-table">
                                <thead>
                                    <tr>
                                        <th scope="col">"Value"</th>
                                        <th scope="col" class="num">"Audience"</th>
                                        <th scope="col" class="num">"Share"</th>
                                        <th scope="col" class="num">"All users"</th>
                                        <th scope="col" class="num">"TGI"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {rows
                                        .into_iter()
                                        .map(|r| {
                                            let users = r.audience as f64 * scale;
                                            let users = if tier == Tier::Full { format::int(r.audience) } else { format!("≈ {}", format::compact(users)) };
                                            view! {
                                                <tr class=r.lean.class()>
                                                    <td>{r.value.clone()}</td>
                                                    <td class="num">{users}</td>
                                                    <td class="num">{format::percent(r.audience_share)}</td>
                                                    <td class="num">{format::percent(r.all_share)}</td>
                                                    <td class="num tgi" data-testid="tgi">
                                                        {format::tgi(r.tgi)}
                                                        {match r.lean {
                                                            profile::Lean::Over => " ▲",
                                                            profile::Lean::Under => " ▼",
                                                            profile::Lean::Even => "",
                                                        }}
                                                    </td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                        </ScrollTable>
                    }
                        .into_any()
                }
            }}
        </div>
    }
}
