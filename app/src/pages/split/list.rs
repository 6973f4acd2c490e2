//! The saved splits, newest first.

use leptos::prelude::*;

use crate::api::{Error, Experiment, Segment};
use crate::components::common::{Loaded, ScrollTable};
use crate::format;
use crate::session::encode_component;

/// The card listing the saved splits.
#[component]
pub(super) fn ExperimentList(
    experiments: LocalResource<Result<Vec<Experiment>, Error>>,
    segments: LocalResource<Result<Vec<Segment>, Error>>,
) -> impl IntoView {
    let name_of = move |id: &str| {
        segments
            .get()
            .and_then(Result::ok)
            .and_then(|l| l.into_iter().find(|s| s.id == id).map(|s| s.name))
            .unwrap_or_else(|| id.to_owned())
    };
    view! {
        <section class="card table-card experiment-list" data-testid="experiment-list">
            <header class="card-head list-head">
                <h2 class="card-title">"Saved splits"</h2>
            </header>
            <Loaded
                value=move || experiments.get()
                what="Loading splits…"
                error_class="list-head"
                ready={move |mut list: Vec<Experiment>| {
                    if list.is_empty() {
                        return view! { <p class="muted empty-state">"No splits yet."</p> }.into_any();
                    }
                    list.sort_by_key(|e| std::cmp::Reverse(e.created_ms));
                    view! {
                        <ScrollTable>
                                <thead>
                                    <tr>
                                        <th scope="col">"Experiment"</th>
                                        <th scope="col">"Segment"</th>
                                        <th scope="col">"Day"</th>
                                        <th scope="col">"Groups"</th>
                                        <th scope="col">"Created"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list
                                        .into_iter()
                                        .map(|e| {
                                            let groups = e
                                                .groups
                                                .iter()
                                                .map(|g| format!("{} {}", g.name, format::int(g.count)))
                                                .collect::<Vec<_>>()
                                                .join(" · ");
                                            view! {
                                                <tr data-testid="experiment-row" data-id=e.id.clone()>
                                                    <td>
                                                        <a class="mono" href=format!("/split?experiment={}", encode_component(&e.id))>
                                                            {e.id.clone()}
                                                        </a>
                                                    </td>
                                                    <td>{name_of(&e.segment)}</td>
                                                    <td class="small">{e.ds.clone()}</td>
                                                    <td class="small">{groups}</td>
                                                    <td class="small muted">{format::utc_ms(e.created_ms)}</td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                        </ScrollTable>
                    }
                        .into_any()
                }}
            />
        </section>
    }
}
