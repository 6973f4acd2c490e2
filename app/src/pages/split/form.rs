//! The new split's form parts: the segment select (with each segment's size on the day) and
//! the groups editor.

use leptos::prelude::*;

use crate::api::Segment;
use crate::ctx::AppState;
use crate::format;
use crate::split::{self as logic, GroupDraft};

/// The segment to split, with its members on the day.
#[component]
pub(super) fn SegmentSelect(list: Vec<Segment>, segment: RwSignal<Option<String>>) -> impl IntoView {
    let state = AppState::get();
    view! {
        <select
            class="select"
            data-testid="split-segment"
            on:change=move |ev| segment.set(Some(event_target_value(&ev)))
            prop:value=move || segment.get().unwrap_or_default()
        >
            {list
                .into_iter()
                .map(|seg| {
                    let id = seg.id.clone();
                    let id2 = seg.id.clone();
                    let size = move || {
                        state
                            .manifest
                            .get()
                            .and_then(Result::ok)
                            .and_then(|m| m.segment(&id2).map(|e| format!(" · {}", format::int(e.members.full.count))))
                            .unwrap_or_default()
                    };
                    view! {
                        <option value=id.clone() selected=move || segment.get().as_deref() == Some(id.as_str())>
                            {seg.name.clone()}
                            {size}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    }
}

/// The groups: names and percents, added and removed.
#[component]
pub(super) fn GroupsEditor(groups: RwSignal<Vec<GroupDraft>>) -> impl IntoView {
    view! {
        <fieldset class="groups-editor">
            <legend class="form-label">"Groups (percent of the segment)"</legend>
            {move || {
                let n = groups.with(Vec::len);
                (0..n)
                    .map(|i| {
                        let name = move || groups.with(|g| g.get(i).map(|g| g.name.clone()).unwrap_or_default());
                        let percent = move || groups.with(|g| g.get(i).map(|g| g.percent.clone()).unwrap_or_default());
                        view! {
                            <div class="group-row" data-testid="group-row">
                                <input
                                    class="input input-small mono"
                                    aria-label=format!("Name of group {}", i + 1)
                                    data-testid="group-name"
                                    prop:value=name
                                    on:change=move |ev| {
                                        let v = event_target_value(&ev);
                                        groups.update(|g| if let Some(g) = g.get_mut(i) { g.name = v });
                                    }
                                />
                                <span class="percent-input">
                                    <input
                                        class="input input-small num"
                                        inputmode="decimal"
                                        aria-label=format!("Percent of group {}", i + 1)
                                        data-testid="group-percent"
                                        prop:value=percent
                                        on:change=move |ev| {
                                            let v = event_target_value(&ev);
                                            groups.update(|g| if let Some(g) = g.get_mut(i) { g.percent = v });
                                        }
                                    />
                                    "%"
                                </span>
                                <button
                                    class="icon-button"
                                    type="button"
                                    title="Remove this group"
                                    aria-label=format!("Remove group {}", i + 1)
                                    disabled=move || groups.with(|g| g.len() <= 2)
                                    on:click=move |_| groups.update(|g| {
                                        if g.len() > 2 {
                                            g.remove(i);
                                        }
                                    })
                                >
                                    "✕"
                                </button>
                            </div>
                        }
                    })
                    .collect_view()
            }}
            <div class="groups-foot">
                <button
                    class="button button-quiet button-small"
                    type="button"
                    data-testid="add-group"
                    disabled=move || groups.with(|g| g.len() >= logic::MAX_GROUPS)
                    on:click=move |_| groups.update(|g| {
                        let name = logic::next_group_name(g);
                        g.push(GroupDraft::new(&name, "10"));
                    })
                >
                    "+ Group"
                </button>
                <span class="muted small" data-testid="groups-total">
                    {move || groups.with(|g| logic::groups_total(g))}
                </span>
            </div>
        </fieldset>
    }
}
