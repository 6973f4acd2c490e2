//! The funnel: users left after each top-level condition, from the best count available
//! ([`crate::audience::best`], the headline's).

use leptos::prelude::*;

use super::Tree;
use crate::api::{self, Error};
use crate::audience;
use crate::components::common::Loading;
use crate::ctx::AppState;
use crate::draft::{Cond, Draft};
use crate::estimate::{self, Outcome};
use crate::format;

/// The card of the funnel.
#[component]
pub(super) fn FunnelCard(
    tree: Tree,
    sample: Memo<Option<Outcome>>,
    exact: Memo<Option<Outcome>>,
    server_exact: RwSignal<Option<Result<api::Estimate, Error>>>,
) -> impl IntoView {
    let state = AppState::get();
    let rows = move || {
        let server = server_exact.get();
        let (exact, sample) = (exact.get(), sample.get());
        let best = audience::best(exact.as_ref(), server.as_ref().and_then(|r| r.as_ref().ok()), sample.as_ref())?;
        let (universe, steps, estimated) = audience::funnel_steps(best);
        let compiled = tree.draft.with(Draft::compile);
        let labels: Vec<String> =
            tree.draft.with(|d| compiled.sources.iter().filter_map(|&i| d.conds.get(i).map(Cond::summary)).collect());
        Some((universe, estimate::funnel(universe, &steps), labels, estimated))
    };
    view! {
        <article class="card funnel" aria-labelledby="funnel-title">
            <h2 class="card-title" id="funnel-title">"Funnel"</h2>
            {move || match rows() {
                None => view! { <Loading what="Counting…" /> }.into_any(),
                Some((_, funnel, _, _)) if funnel.is_empty() => {
                    view! { <p class="muted">"Each condition's effect shows here once you add one."</p> }.into_any()
                }
                Some((universe, funnel, labels, estimated)) => {
                    let access = state.access_or_default();
                    let fmt = move |v: Option<f64>| audience::funnel_count(v, estimated, &access);
                    view! {
                        <ol class="funnel-list">
                            <li class="funnel-row funnel-start">
                                <span class="funnel-label">"All users"</span>
                                <span class="funnel-count num">{format::int(universe)}</span>
                            </li>
                            {funnel
                                .into_iter()
                                .zip(labels)
                                .map(|(row, label)| {
                                    let title = label.clone();
                                    view! {
                                        <li class="funnel-row" data-testid="funnel-row">
                                            <span class="funnel-label" title=title>
                                                {label}
                                            </span>
                                            <span class="funnel-count num" data-testid="funnel-remaining">
                                                {fmt(row.remaining)}
                                            </span>
                                            <span class="funnel-bar" aria-hidden="true">
                                                <span style=format!("width: {:.1}%", row.share.unwrap_or(0.0) * 100.0)></span>
                                            </span>
                                            <span class="funnel-removed num muted">
                                                {match (row.removed, row.share) {
                                                    (Some(_), Some(share)) => format!("−{} · {} left", fmt(row.removed), format::percent(share)),
                                                    _ => "–".to_owned(),
                                                }}
                                            </span>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ol>
                        {estimated.then(|| view! { <p class="muted small">"Estimated from the sample until the exact counts arrive."</p> })}
                    }
                        .into_any()
                }
            }}
        </article>
    }
}
