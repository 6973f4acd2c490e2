//! Sending a saved split's frozen groups where campaigns run (issue 17): each group is an
//! audience of its own, synced like a segment (once, or kept in sync: a frozen group never
//! changes, so its daily deltas are empty).

use leptos::prelude::*;

use crate::api::reach::{self as api, Audience};
use crate::components::syncs::Syncs;
use crate::ctx::AppState;

/// The "Send the groups" card of experiment `experiment` with groups `groups`; shown only to
/// tokens that see members (a delivery reveals who is in a group).
#[component]
pub(super) fn GroupSyncs(experiment: String, groups: Vec<String>) -> impl IntoView {
    let state = AppState::get();
    let sees = move || state.access.get().is_some_and(|a| a.sees_members());
    let destinations = LocalResource::new(move || {
        let s = state.session.get();
        let sees = sees();
        async move {
            match s {
                Some(s) if sees => api::destinations(&s).await,
                _ => Ok(Vec::new()),
            }
        }
    });
    let experiment = StoredValue::new(experiment);
    let groups = StoredValue::new(groups);
    move || {
        sees().then(|| {
            view! {
                <section class="card" data-testid="group-sends">
                    <header class="card-head">
                        <h2 class="card-title">"Send the groups"</h2>
                        <span class="muted small">"Each group to a destination: its members once, or kept in sync."</span>
                    </header>
                    {groups.get_value().into_iter().map(|group| view! {
                        <div class="group-send" data-testid="group-send" data-group=group.clone()>
                            <strong>{group.clone()}</strong>
                            <Syncs audience=Audience::Group(experiment.get_value(), group.clone()) destinations />
                        </div>
                    }).collect_view()}
                </section>
            }
        })
    }
}
