//! The audience size: the headline (exact here, exact from the server, or the sample's
//! estimate: [`crate::audience::headline`]), the sample's interval, where the exact count
//! stands, and the download budget.

use leptos::prelude::*;

use crate::api::{self, Error};
use crate::audience::{self, FullStatus};
use crate::ctx::AppState;
use crate::estimate::{FullTier, Outcome};
use crate::format;

/// The card of the audience size.
#[component]
pub(super) fn EstimateCard(
    sample: Memo<Option<Outcome>>,
    exact: Memo<Option<Outcome>>,
    server_exact: RwSignal<Option<Result<api::Estimate, Error>>>,
    full_tier: Memo<FullTier>,
    full_missing: Memo<u64>,
    full_total: Memo<u64>,
) -> impl IntoView {
    let state = AppState::get();
    let headline = move || {
        let server = server_exact.get();
        let (exact, sample) = (exact.get(), sample.get());
        audience::headline(
            audience::best(exact.as_ref(), server.as_ref().and_then(|r| r.as_ref().ok()), sample.as_ref()),
            &state.access_or_default(),
        )
    };
    let may_download = move || state.access_or_default().downloads_full_tier();
    let universe = move || sample.get().or(exact.get()).map(|o| o.universe);
    view! {
        <article class="card estimate" aria-labelledby="estimate-title" data-testid="estimate-card">
            <h2 class="card-title" id="estimate-title">"Audience size"</h2>
            <div class="estimate-number num" aria-live="polite">
                {move || {
                    let h = headline();
                    view! {
                        <span
                            data-testid=if h.exact.is_some() { "exact-count" } else { "estimated-count" }
                            data-count=h.exact.map(|c| c.to_string())
                            data-tier=h.source.key()
                        >
                            {h.text}
                        </span>
                    }
                }}
            </div>
            <div class="estimate-meta">
                {move || {
                    let h = headline();
                    let (class, words) = h.source.badge();
                    view! {
                        <span class=class>{words}</span>
                        <span data-testid="audience-share">
                            {format::percent(h.share)} " of "
                            {universe().map(format::int).unwrap_or_else(|| "–".into())} " users"
                        </span>
                    }
                }}
            </div>
            <dl class="estimate-lines">
                <div class="estimate-line">
                    <dt>"Sample estimate"</dt>
                    <dd>
                        {move || match sample.get() {
                            Some(s) if state.access_or_default().hides(s.count.round() as u64) => {
                                view! { <span data-testid="sample-estimate">{state.access_or_default().withheld()}</span> }
                                    .into_any()
                            }
                            Some(s) => {
                                view! {
                                    <span
                                        data-testid="sample-estimate"
                                        data-count=s.count.to_string()
                                        data-lo=s.lo.to_string()
                                        data-hi=s.hi.to_string()
                                    >
                                        {format!(
                                            "≈ {} (95%: {} – {})",
                                            format::int(s.count.round() as u64),
                                            format::int(s.lo.floor() as u64),
                                            format::int(s.hi.ceil() as u64),
                                        )}
                                    </span>
                                }
                                    .into_any()
                            }
                            None => view! { <span class="muted">"loading the sample…"</span> }.into_any(),
                        }}
                    </dd>
                </div>
                <div class="estimate-line">
                    <dt>"Exact count"</dt>
                    <dd data-testid="exact-status">
                        {move || {
                            let server = server_exact.get();
                            let status = FullStatus {
                                exact_here: exact.with(Option::is_some),
                                tier: full_tier.get(),
                                may_download: may_download(),
                                server: server.as_ref().map(|r| r.as_ref().map(|_| ())),
                                missing_bytes: full_missing.get(),
                                total_bytes: full_total.get(),
                            };
                            let bar = status.progress_percent().map(|pct| {
                                view! {
                                    <span class="progress" aria-hidden="true">
                                        <span style=format!("width: {pct:.0}%")></span>
                                    </span>
                                }
                            });
                            view! {
                                {status.text()}
                                {bar}
                            }
                        }}
                    </dd>
                </div>
            </dl>
            <label class="budget" hidden=move || !may_download()>
                <span class="muted small">"Download budget"</span>
                <input
                    class="input input-small num"
                    type="number"
                    min="1"
                    aria-label="Download budget in megabytes"
                    prop:value=move || state.budget_mb.get().to_string()
                    on:change=move |ev| {
                        if let Ok(mb) = event_target_value(&ev).parse::<u64>() {
                            state.set_budget_mb(mb.max(1));
                        }
                    }
                />
                <span class="muted small">"MB"</span>
            </label>
        </article>
    }
}
