//! The editor of the selected condition: its tag group (or event, or segment), then its
//! values with a search, or the segment, or the numeric and event editors of [`super::numbers`].

use std::collections::BTreeSet;
use std::sync::Arc;

use engine::Manifest;
use leptos::prelude::*;

use super::Tree;
use super::numbers::{EventEditor, NumberEditor};
use crate::catalog;
use crate::components::common::Loading;
use crate::ctx::AppState;
use crate::draft::{Cond, Node};
use crate::format;

/// The select value that turns a condition into a segment reference.
const SEGMENT_CHOICE: &str = "__segment";
/// Prefix of the select values that turn a condition into an event condition.
const EVENT_CHOICE: &str = "__event:";

/// The card of the picker: what to do for the selected condition.
#[component]
pub(super) fn PickerCard(tree: Tree) -> impl IntoView {
    let state = AppState::get();
    let search = RwSignal::new(String::new());
    // A fresh search for every condition picked.
    Effect::new(move |_| {
        tree.selected.track();
        search.set(String::new());
    });
    let current = Memo::new(move |_| {
        let path = tree.selected.get()?;
        tree.draft.with(|d| d.get(&path).cloned()).map(|c| (path, c))
    });
    view! {
        <article class="card picker" aria-labelledby="picker-title" data-testid="picker">
            <h2 class="card-title" id="picker-title">"Edit condition"</h2>
            {move || {
                let manifest = state.manifest.get().and_then(Result::ok);
                match (current.get(), manifest) {
                    (None, _) => view! { <p class="muted">"Select a condition to choose its tag and values."</p> }.into_any(),
                    (Some(_), None) => view! { <Loading what="Loading the day's tags…" /> }.into_any(),
                    (Some((_, Cond { node: Node::Group(..), .. })), _) => {
                        view! {
                            <p class="muted">
                                "A group: add conditions inside it with its own buttons, and switch it between "
                                "“all of” and “any of”."
                            </p>
                        }
                            .into_any()
                    }
                    (Some((path, cond)), Some(m)) => view! { <Picker tree path cond manifest=m search /> }.into_any(),
                }
            }}
        </article>
    }
}

#[component]
fn Picker(
    tree: Tree,
    path: Vec<usize>,
    cond: Cond,
    manifest: Arc<Manifest>,
    search: RwSignal<String>,
) -> impl IntoView {
    let (choice, is_segment) = match &cond.node {
        Node::Segment(_) => (SEGMENT_CHOICE.to_owned(), true),
        Node::Tag { group, .. } | Node::Number { group, .. } => (group.clone(), false),
        Node::Event { event, .. } => (format!("{EVENT_CHOICE}{event}"), false),
        Node::Group(..) => (String::new(), false),
    };
    // Numeric groups are listed with the others (marked), so the category tree stays whole.
    let groups: Vec<(String, Vec<String>)> =
        catalog::tree(manifest.groups.iter().map(|g| (g.category.as_str(), g.name.as_str())))
            .into_iter()
            .filter(|c| !c.groups.is_empty())
            .map(|c| (c.title(), c.groups))
            .collect();
    let state = AppState::get();
    let event_names: Vec<String> = state.events.get().and_then(Result::ok).map(|w| w.event_names()).unwrap_or_default();
    let change_path = path.clone();
    let change_manifest = manifest.clone();
    let on_change = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        let numeric = change_manifest.group(&value).and_then(|g| g.numeric.as_ref());
        tree.draft.update(|d| {
            if value == SEGMENT_CHOICE {
                d.set_segment(&change_path, "");
            } else if let Some(event) = value.strip_prefix(EVENT_CHOICE) {
                d.set_event(&change_path, event);
            } else if let Some(n) = numeric {
                let text = |v: i64| engine::bsi::format_scaled(v, n.scale);
                d.set_number(&change_path, &value, &text(n.min), &text(n.max));
            } else if !value.is_empty() {
                d.set_group(&change_path, &value);
            }
        });
    };
    let universe = manifest.universe.count;
    let values_view = if let Node::Number { group, bounds } = &cond.node {
        view! { <NumberEditor tree path=path.clone() group=group.clone() bounds=bounds.clone() manifest=manifest.clone() /> }
            .into_any()
    } else if let Node::Event { event, last_days, measure, bounds } = &cond.node {
        view! {
            <EventEditor
                tree
                path=path.clone()
                event=event.clone()
                last_days=*last_days
                measure=*measure
                bounds=bounds.clone()
            />
        }
        .into_any()
    } else if is_segment {
        let ids: Vec<(String, u64)> = manifest.segments.iter().map(|s| (s.id.clone(), s.members.full.count)).collect();
        let path = path.clone();
        if ids.is_empty() {
            view! { <p class="muted">"No segment has members on this day yet."</p> }.into_any()
        } else {
            view! {
                <ul class="option-list" role="radiogroup" aria-label="Segment">
                    {ids
                        .into_iter()
                        .map(|(id, count)| {
                            let path = path.clone();
                            let id2 = id.clone();
                            let checked = {
                                let path = path.clone();
                                let id = id.clone();
                                move || tree.draft.with(|d| matches!(d.get(&path), Some(Cond { node: Node::Segment(s), .. }) if *s == id))
                            };
                            view! {
                                <li>
                                    <label class="option">
                                        <input
                                            type="radio"
                                            name="segment-choice"
                                            prop:checked=checked
                                            on:change=move |_| tree.draft.update(|d| d.set_segment(&path, &id2))
                                        />
                                        <span class="option-name">{id.clone()}</span>
                                        <span class="option-count num">{move || state.access_or_default().count(Some(count))}</span>
                                    </label>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
            .into_any()
        }
    } else if let Some(group) = manifest.group(&choice).cloned() {
        let order: Vec<String> = group.values.iter().map(|v| v.value.clone()).collect();
        let counts: std::collections::HashMap<String, u64> =
            group.values.iter().map(|v| (v.value.clone(), v.count)).collect();
        let selected_values = {
            let path = path.clone();
            Memo::new(move |_| {
                tree.draft.with(|d| match d.get(&path) {
                    Some(Cond { node: Node::Tag { values, .. }, .. }) => {
                        values.iter().cloned().collect::<BTreeSet<String>>()
                    }
                    _ => BTreeSet::new(),
                })
            })
        };
        let group_for_filter = group.clone();
        let filtered = Memo::new(move |_| {
            search.with(|q| {
                catalog::filter_values(&group_for_filter, q).into_iter().map(str::to_owned).collect::<Vec<_>>()
            })
        });
        let path_all = path.clone();
        let order_all = order.clone();
        view! {
            <div class="picker-values">
                <div class="picker-tools">
                    <input
                        class="input search"
                        type="search"
                        placeholder=format!("Search {} value{}", group.values.len(), if group.values.len() == 1 { "" } else { "s" })
                        aria-label="Search values"
                        data-testid="value-search"
                        prop:value=move || search.get()
                        on:input=move |ev| search.set(event_target_value(&ev))
                    />
                    <button
                        class="button button-small button-quiet"
                        title="Select every value shown"
                        on:click=move |_| {
                            let shown = filtered.get_untracked();
                            tree.draft.update(|d| {
                                let have = selected_values.get_untracked();
                                for v in shown.iter().filter(|v| !have.contains(*v)) {
                                    d.toggle_value(&path_all, v, &order_all);
                                }
                            })
                        }
                    >
                        "All shown"
                    </button>
                </div>
                <ul class="option-list" aria-label="Values">
                    <For each=move || filtered.get() key=|v| v.clone() let:value>
                        {
                            let count = counts.get(&value).copied().unwrap_or(0);
                            let share = if universe == 0 { 0.0 } else { count as f64 / universe as f64 };
                            let (path, order, v2, v3) = (path.clone(), order.clone(), value.clone(), value.clone());
                            view! {
                                <li>
                                    <label class="option" data-testid="value-option" data-value=value.clone()>
                                        <input
                                            type="checkbox"
                                            prop:checked=move || selected_values.with(|s| s.contains(&v3))
                                            on:change=move |_| tree.draft.update(|d| d.toggle_value(&path, &v2, &order))
                                        />
                                        <span class="option-name">{value.clone()}</span>
                                        <span class="option-count num" data-testid="option-count">
                                            {move || state.access_or_default().count(Some(count))}
                                        </span>
                                        <span class="option-share num muted">
                                            {move || if state.access_or_default().hides(count) { String::new() } else { format::percent(share) }}
                                        </span>
                                    </label>
                                </li>
                            }
                        }
                    </For>
                </ul>
                {move || filtered.with(Vec::is_empty).then(|| view! { <p class="muted small">"No value matches."</p> })}
            </div>
        }
        .into_any()
    } else {
        view! { <p class="muted">"Choose a tag group above."</p> }.into_any()
    };
    let negated = cond.negated;
    view! {
        <label class="form-field">
            <span class="form-label">"Tag group"</span>
            <select class="select" data-testid="group-select" on:change=on_change prop:value=choice.clone()>
                <option value="" disabled=true selected=choice.is_empty()>
                    "Choose…"
                </option>
                {groups
                    .into_iter()
                    .map(|(title, names)| {
                        let choice = choice.clone();
                        view! {
                            <optgroup label=title>
                                {names
                                    .into_iter()
                                    .map(|n| {
                                        let sel = n == choice;
                                        let numeric = manifest.group(&n).is_some_and(|g| g.numeric.is_some());
                                        let label = if numeric { format!("{n} (number)") } else { n.clone() };
                                        view! {
                                            <option value=n.clone() selected=sel>
                                                {label}
                                            </option>
                                        }
                                    })
                                    .collect_view()}
                            </optgroup>
                        }
                    })
                    .collect_view()}
                {(!event_names.is_empty()).then(|| {
                    let choice = choice.clone();
                    view! {
                        <optgroup label="Behaviour (events)">
                            {event_names
                                .iter()
                                .map(|e| {
                                    let value = format!("{EVENT_CHOICE}{e}");
                                    let sel = value == choice;
                                    view! { <option value=value selected=sel>{format!("{e} (event)")}</option> }
                                })
                                .collect_view()}
                        </optgroup>
                    }
                })}
                <optgroup label="Segments">
                    <option value=SEGMENT_CHOICE selected=is_segment>
                        "Member of a segment"
                    </option>
                </optgroup>
            </select>
        </label>
        {negated.then(|| view! { <p class="muted small">"This condition is negated: users who do " <b>"not"</b> " match it."</p> })}
        {values_view}
    }
}
