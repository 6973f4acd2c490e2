//! Tags: the catalog of the chosen day by category tree, with search; each group with its
//! values, their users and share of all users; and its governance (issue 15): the catalog's
//! display name, description, owner, category, status, cadence and quality policy, staleness,
//! the failed checks of its latest load, held uploads, usage, the day's versions, composite
//! tags. Editors edit all of it in place ([`governance`]); other roles read it.

mod governance;

use std::sync::Arc;

use engine::Manifest;
use engine::manifest::GroupEntry;
use leptos::prelude::*;

use crate::api;
use crate::catalog::{self, kind_label};
use crate::components::common::{ErrorNote, Loading, Page};
use crate::ctx::AppState;
use crate::format;

pub use governance::GovernanceTick;

/// Most values listed per group before "and N more".
const MAX_VALUES: usize = 40;

/// The Tags page.
#[component]
pub fn Tags() -> impl IntoView {
    view! {
        <Page title="Tags" lede="Every tag group of the day, by category, with how many users hold each value, who owns it, how its loads went and who uses it." day_picker=true>
            <TagsBody />
        </Page>
    }
}

#[component]
fn TagsBody() -> impl IntoView {
    let state = AppState::get();
    let query = RwSignal::new(String::new());
    let tick = GovernanceTick::get();
    // The server's catalog: metadata of every group, the same on every day.
    let reads = Memo::new(move |_| state.access.with(|a| a.as_ref().is_some_and(catalog::reads_catalog)));
    let groups = LocalResource::new(move || {
        tick.track();
        let s = state.session.get().filter(|_| reads.get());
        async move {
            match s {
                Some(s) => api::groups(&s).await.ok(),
                None => None,
            }
        }
    });
    let edits = Memo::new(move |_| state.access.with(|a| a.as_ref().is_some_and(catalog::edits_catalog)));
    view! {
        <governance::HoldsPanel edits />
        <div class="toolbar">
            <input
                class="input search"
                type="search"
                placeholder="Search groups, categories and values"
                aria-label="Search tags"
                data-testid="tag-search"
                prop:value=move || query.get()
                on:input=move |ev| query.set(event_target_value(&ev))
            />
        </div>
        {move || match (state.manifest.get(), groups.get()) {
            (None, _) | (_, None) => view! { <Loading what="Loading the day's tags…" /> }.into_any(),
            (Some(Err(e)), _) => view! { <ErrorNote error=e /> }.into_any(),
            (Some(Ok(m)), Some(list)) => {
                view! { <Catalog manifest=m list=list.map(Arc::new) query edits /> }.into_any()
            }
        }}
        <governance::Composites edits />
    }
}

#[component]
fn Catalog(
    manifest: Arc<Manifest>,
    list: Option<Arc<wire::GroupList>>,
    query: RwSignal<String>,
    edits: Memo<bool>,
) -> impl IntoView {
    let universe = manifest.universe.count;
    let m = manifest.clone();
    let summary = format!(
        "{} users · {} groups · {} values · day {}",
        format::int(universe),
        manifest.groups.len(),
        format::int(manifest.groups.iter().map(|g| g.values.len() as u64).sum()),
        manifest.ds
    );
    view! {
        <p class="muted small" data-testid="catalog-summary">{summary}</p>
        {move || {
            let q = query.get();
            let list = list.clone();
            let shown: Vec<&GroupEntry> = m.groups.iter().filter(|g| catalog::matches(g, &q)).collect();
            if shown.is_empty() {
                return view! { <p class="card empty-state muted">"No tag group matches “" {q} "”."</p> }.into_any();
            }
            let tree = catalog::tree(
                shown.iter().map(|g| (catalog::category_of(g, catalog::info(list.as_deref(), &g.name)), g.name.as_str())),
            );
            tree.into_iter()
                .map(|cat| {
                    let groups: Vec<GroupEntry> = cat.groups.iter().filter_map(|name| m.group(name).cloned()).collect();
                    let list = list.clone();
                    let ds = m.ds.clone();
                    view! {
                        <section class="category" style=format!("--depth: {}", cat.depth) data-testid="category" data-path=cat.path.clone()>
                            <h2 class="category-title">{cat.title()}</h2>
                            <div class="group-grid">
                                {groups
                                    .into_iter()
                                    .map(|g| {
                                        let info = catalog::info(list.as_deref(), &g.name).cloned();
                                        view! { <GroupCard group=g info universe query=q.clone() edits ds=ds.clone() /> }
                                    })
                                    .collect_view()}
                            </div>
                        </section>
                    }
                })
                .collect_view()
                .into_any()
        }}
    }
}

#[component]
fn GroupCard(
    group: GroupEntry,
    info: Option<wire::GroupInfo>,
    universe: u64,
    query: String,
    edits: Memo<bool>,
    ds: String,
) -> impl IntoView {
    let state = AppState::get();
    let holders: u64 = group.values.iter().map(|v| v.count).sum();
    let numeric = group.numeric.as_ref().map(|n| {
        let scale = 10f64.powi(n.scale as i32);
        format!("numeric, from {} to {}", n.min as f64 / scale, n.max as f64 / scale)
    });
    let q = query.to_lowercase();
    let mut values: Vec<_> = group.values.iter().collect();
    // Values matching the search come first.
    if !q.is_empty() && !group.name.to_lowercase().contains(&q) {
        values.sort_by_key(|v| !v.value.to_lowercase().contains(&q));
    }
    let more = values.len().saturating_sub(MAX_VALUES);
    let title = info.as_ref().map_or_else(|| group.name.clone(), |i| i.display_name.clone());
    let editing = RwSignal::new(false);
    let history = RwSignal::new(false);
    let name = group.name.clone();
    view! {
        <article class="card group-card" data-testid="tag-group" data-group=group.name.clone()>
            <header class="group-head">
                <h3 class="group-name">{title.clone()}</h3>
                <span class="pill">{kind_label(group.kind)}</span>
                {info.as_ref().map(governance::badges)}
            </header>
            {(title != group.name).then(|| view! { <p class="muted small mono">{group.name.clone()}</p> })}
            <p class="muted small">
                {match numeric {
                    Some(text) => text,
                    None => format!("{} values · {} holders", group.values.len(), format::compact(holders as f64)),
                }}
                {(group.loaded_ds.as_str() != "").then(|| format!(" · loaded {}", group.loaded_ds))}
            </p>
            {info.clone().map(|i| view! { <governance::About info=i /> })}
            <ul class="value-list">
                {values
                    .into_iter()
                    .take(MAX_VALUES)
                    .map(|v| {
                        let share = if universe == 0 { 0.0 } else { v.count as f64 / universe as f64 };
                        let count = v.count;
                        // An aggregate token's manifest says 0 for a withheld count: `< k`.
                        let hidden = move || state.access_or_default().hides(count);
                        view! {
                            <li class="value-row">
                                <span class="value-name">{v.value.clone()}</span>
                                <span class="value-bar" aria-hidden="true">
                                    <span style=format!("width: {:.1}%", (share * 100.0).min(100.0))></span>
                                </span>
                                <span class="value-count num" data-testid="value-count">
                                    {move || state.access_or_default().count(Some(count))}
                                </span>
                                <span class="value-share num">
                                    {move || if hidden() { String::new() } else { format::percent(share) }}
                                </span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            {(more > 0).then(|| view! { <p class="muted small">"and " {more} " more"</p> })}
            <div class="form-actions">
                {move || {
                    edits
                        .get()
                        .then(|| {
                            view! {
                                <button class="button button-quiet" data-testid="edit-group" on:click=move |_| editing.update(|e| *e = !*e)>
                                    {move || if editing.get() { "Close" } else { "Edit" }}
                                </button>
                            }
                        })
                }}
                {move || {
                    state
                        .access
                        .with(|a| a.as_ref().is_some_and(catalog::reads_holds))
                        .then(|| {
                            view! {
                                <button
                                    class="button button-quiet"
                                    data-testid="group-history"
                                    on:click=move |_| history.update(|h| *h = !*h)
                                >
                                    {move || if history.get() { "Hide versions" } else { "Versions" }}
                                </button>
                            }
                        })
                }}
            </div>
            {move || {
                (editing.get())
                    .then(|| info.clone().map(|i| view! { <governance::EditGroup info=i done=editing /> }))
                    .flatten()
            }}
            {move || {
                history.get().then(|| view! { <governance::Versions group=name.clone() ds=ds.clone() edits /> })
            }}
        </article>
    }
}
