//! A saved split: how the server's groups compare with the preview just saved, the facts,
//! the groups with their CSV exports and syncs to destinations, and the server's balance check.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::balance::{MixTable, SrmLine};
use super::outcome::OutcomeCard;
use super::send::GroupSyncs;
use crate::api::{self, Error, ExperimentView};
use crate::components::common::{ErrorNote, Loaded, ScrollTable, save_file};
use crate::ctx::AppState;
use crate::format;
use crate::session::encode_component;
use crate::split::{self as logic, percent_text};

/// A saved experiment: groups with exports, the server's balance check, the outcome.
#[component]
pub(super) fn Saved(id: String, just_saved: RwSignal<Option<(String, Vec<u64>)>>) -> impl IntoView {
    let state = AppState::get();
    let id2 = id.clone();
    let view = LocalResource::new(move || {
        let s = state.session.get();
        let id = id2.clone();
        async move {
            match s {
                Some(s) => api::experiment(&s, &id).await,
                None => Err(Error::api(401, "unauthorized", "not signed in")),
            }
        }
    });
    view! {
        <p class="back-link">
            <a href="/split">"← All splits and a new one"</a>
        </p>
        <Loaded
            value=move || view.get()
            what="Loading the split…"
            error_class="card"
            ready=move |v| view! { <SavedBody v just_saved /> }.into_any()
        />
    }
}

/// The saved split's cards.
#[component]
fn SavedBody(v: ExperimentView, just_saved: RwSignal<Option<(String, Vec<u64>)>>) -> impl IntoView {
    let state = AppState::get();
    let e = v.experiment.clone();
    let names: Vec<String> = e.groups.iter().map(|g| g.name.clone()).collect();
    let counts: Vec<u64> = e.groups.iter().map(|g| g.count).collect();
    let check = logic::SizeCheck::from(&v.balance);
    // Just saved from a preview: say whether the server's groups are the previewed ones.
    let comparison = just_saved
        .get_untracked()
        .filter(|(id, _)| *id == e.id)
        .map(|(_, previewed)| logic::compare_with_preview(&counts, &previewed));
    let export_error = RwSignal::new(None::<Error>);
    let exporting = RwSignal::new(None::<String>);
    let total_percent: f64 = e.groups.iter().map(|g| g.percent).sum();
    let group_rows = e
        .groups
        .iter()
        .enumerate()
        .map(|(k, g)| {
            let group = g.name.clone();
            let group2 = g.name.clone();
            let exp_id = e.id.clone();
            let download = move |_| {
                let Some(s) = state.session.get_untracked() else { return };
                let (exp_id, group) = (exp_id.clone(), group.clone());
                exporting.set(Some(group.clone()));
                export_error.set(None);
                spawn_local(async move {
                    match api::experiment_group_csv(&s, &exp_id, &group).await {
                        Ok(text) => {
                            if let Err(e) = save_file(&format!("{exp_id}-{group}.csv"), &text, "text/csv;charset=utf-8") {
                                export_error.set(Some(Error::Fetch(e)));
                            }
                        }
                        Err(e) => export_error.set(Some(e)),
                    }
                    exporting.set(None);
                });
            };
            view! {
                <tr data-testid="group-result" data-group=g.name.clone()>
                    <th scope="row">{g.name.clone()}</th>
                    <td class="num">{format!("{}%", percent_text(g.percent))}</td>
                    <td class="num" data-testid="group-count" data-count=g.count>{format::int(g.count)}</td>
                    <td class="num">
                        {format::percent_exact(check.observed.get(k).copied().unwrap_or(0.0))}
                        <span class="muted">" vs " {format::percent_exact(check.planned.get(k).copied().unwrap_or(0.0))}</span>
                    </td>
                    <td class="row-actions">
                        <button
                            class="button button-small button-quiet"
                            data-testid="export-group"
                            data-group=g.name.clone()
                            disabled=move || exporting.get().is_some()
                            on:click=download
                        >
                            {move || if exporting.get().as_deref() == Some(group2.as_str()) { "Exporting…" } else { "CSV" }}
                        </button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    let largest =
        v.balance.mix.first().map(|r| {
            format!("Largest difference: {} = {} ({:.2} pp between groups).", r.tag, r.value, r.spread * 100.0)
        });
    view! {
        {comparison
            .map(|(same, text)| {
                let class = if same { "banner banner-good" } else { "banner banner-warning" };
                view! {
                    <div class=class role="status" data-testid="saved-comparison" data-same=same.to_string()>
                        {text}
                    </div>
                }
            })}
        <section class="card saved-head" data-testid="experiment">
            <h2 class="card-title">"Experiment " <span class="mono">{e.id.clone()}</span></h2>
            <dl class="facts">
                <div>
                    <dt>"Segment"</dt>
                    <dd>
                        <a href=format!("/trends?segments={}", encode_component(&e.segment))>{e.segment.clone()}</a>
                    </dd>
                </div>
                <div>
                    <dt>"Members on"</dt>
                    <dd>{e.ds.clone()}</dd>
                </div>
                <div>
                    <dt>"Audience"</dt>
                    <dd data-testid="experiment-audience">{format::int(e.audience)}</dd>
                </div>
                <div>
                    <dt>"Salt"</dt>
                    <dd class="mono" data-testid="experiment-salt">{e.salt.clone()}</dd>
                </div>
                <div>
                    <dt>"Frozen"</dt>
                    <dd>{format::utc_ms(e.created_ms)}</dd>
                </div>
            </dl>
        </section>
        <section class="card table-card" data-testid="groups">
            <header class="card-head list-head">
                <h2 class="card-title">"Groups"</h2>
                <span class="muted small">
                    {format!(
                        "{} of {} members assigned ({}% planned); export each group as CSV (user_id).",
                        format::int(counts.iter().sum()),
                        format::int(e.audience),
                        percent_text(total_percent),
                    )}
                </span>
            </header>
            <ScrollTable>
                    <thead>
                        <tr>
                            <th scope="col">"Group"</th>
                            <th scope="col" class="num">"Planned"</th>
                            <th scope="col" class="num">"Members"</th>
                            <th scope="col" class="num">"Share of assigned"</th>
                            <th scope="col" class="actions-col">
                                <span class="sr-only">"Export"</span>
                            </th>
                        </tr>
                    </thead>
                    <tbody>{group_rows}</tbody>
            </ScrollTable>
            {move || export_error.get().map(|e| view! { <div class="list-head"><ErrorNote error=e /></div> })}
        </section>
        <GroupSyncs experiment=e.id.clone() groups=names.clone() />
        <section class="card" data-testid="balance">
            <header class="card-head">
                <h2 class="card-title">"Balance check"</h2>
                <span class="muted small">"From the server, on the frozen groups."</span>
            </header>
            <SrmLine check testid="server-srm" />
            {largest.map(|l| view! { <p class="small">{l}</p> })}
            <MixTable names=names.clone() sizes=counts.clone() rows=v.balance.mix.clone() testid="server-mix" />
        </section>
        <OutcomeCard e />
    }
}
