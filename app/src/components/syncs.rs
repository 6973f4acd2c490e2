//! The syncs of one audience (a segment on the Segments page, an experiment group on the Split
//! page): "Send to…" a destination, kept in sync or once, each sync's state and progress
//! (polled while a delivery is under way), pause, resume, resend in full, stop, and its
//! delivery log. The words are [`crate::reach`]'s.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wire::{DeliveryBatch, Destination, SegmentSync, SyncInput, SyncMode, SyncState};

use crate::api::Error;
use crate::api::reach::{self as api, Audience};
use crate::components::common::{ErrorNote, ScrollTable};
use crate::ctx::AppState;
use crate::format;
use crate::reach::{self, state_word};
use crate::session::Session;

/// How often a sync with a delivery under way is asked again.
const POLL_MS: u64 = 1_500;

/// The sync panel of one audience; `destinations` are the ones it may be sent to.
#[component]
pub fn Syncs(audience: Audience, destinations: LocalResource<Result<Vec<Destination>, Error>>) -> impl IntoView {
    let state = AppState::get();
    let audience = StoredValue::new(audience);
    let syncs = LocalResource::new(move || {
        let s = state.session.get();
        async move {
            match s {
                Some(s) => api::syncs(&s, &audience.get_value()).await,
                None => Ok(Vec::new()),
            }
        }
    });
    // Ask again while a delivery is under way or due (an active sync that has delivered
    // nothing yet, or not the day on show).
    Effect::new(move |_| {
        let ds = state.ds.get();
        let due = |s: &SegmentSync| {
            s.current.is_some()
                || (s.state == SyncState::Active
                    && (s.delivered_ds.is_none() || (s.group.is_none() && s.delivered_ds.as_deref() != ds.as_deref())))
        };
        let busy = syncs.get().and_then(Result::ok).is_some_and(|l| l.iter().any(due));
        if busy {
            set_timeout(move || syncs.refetch(), std::time::Duration::from_millis(POLL_MS));
        }
    });
    let problem = RwSignal::new(None::<Error>);
    let act = Callback::new(move |action: Action| {
        let Some(s) = state.session.get_untracked() else { return };
        spawn_local(async move {
            match run(&s, &audience.get_value(), action).await {
                Ok(()) => problem.set(None),
                Err(e) => problem.set(Some(e)),
            }
            syncs.refetch();
        });
    });
    let chosen = RwSignal::new(String::new());
    let once = RwSignal::new(false);
    let writes = move || state.access_or_default().writes();
    view! {
        <div class="syncs" data-testid="syncs">
            {move || syncs.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|sync| view! { <SyncLine sync act=act /> }).collect_view()}
            {move || writes().then(|| {
                let options = destinations.get().and_then(Result::ok).unwrap_or_default();
                (!options.is_empty()).then(|| view! {
                    <span class="send-to">
                        <select class="select select-small" aria-label="Destination" data-testid="send-destination" on:change=move |ev| chosen.set(event_target_value(&ev))>
                            <option value="">"Send to…"</option>
                            {options.into_iter().map(|d| view! { <option value=d.id.clone()>{d.id.clone()}</option> }).collect_view()}
                        </select>
                        <label class="check small" title="Send the latest day's members once, with no daily changes after">
                            <input type="checkbox" data-testid="send-once" prop:checked=move || once.get() on:change=move |ev| once.set(event_target_checked(&ev)) />
                            "once"
                        </label>
                        <button class="button button-small" data-testid="send" disabled=move || chosen.with(String::is_empty) on:click=move |_| {
                            let mode = if once.get_untracked() { SyncMode::Once } else { SyncMode::Keep };
                            act.run(Action::Start(chosen.get_untracked(), mode));
                        }>"Send"</button>
                    </span>
                })
            })}
            {move || problem.get().map(|e| view! { <ErrorNote error=e /> })}
        </div>
    }
}

/// What an editor does to an audience's syncs.
#[derive(Debug, Clone)]
enum Action {
    /// Start sending to the destination, kept in sync or once.
    Start(String, SyncMode),
    /// `pause`, `resume` or `resend` the sync.
    Post(String, &'static str),
    /// Stop the sync.
    Stop(String),
}

async fn run(s: &Session, audience: &Audience, action: Action) -> Result<(), Error> {
    match action {
        Action::Start(destination, mode) => {
            let input = SyncInput { destination, id: None, reached_prefix: None, mode: Some(mode) };
            api::start_sync(s, audience, &input).await.map(|_| ())
        }
        Action::Post(sync, what) => api::sync_action(s, &sync, what).await,
        Action::Stop(sync) => api::delete_sync(s, &sync).await,
    }
}

/// One sync: its state and progress, its actions, its delivery log on demand.
#[component]
fn SyncLine(sync: SegmentSync, act: Callback<Action>) -> impl IntoView {
    let state = AppState::get();
    let id = StoredValue::new(sync.id.clone());
    let open = RwSignal::new(false);
    let log = LocalResource::new(move || {
        let s = state.session.get();
        let shown = open.get();
        async move {
            match (s, shown) {
                (Some(s), true) => Some(api::deliveries(&s, &id.get_value()).await),
                _ => None,
            }
        }
    });
    let action = move |what: &'static str| act.run(Action::Post(id.get_value(), what));
    let stop = move || act.run(Action::Stop(id.get_value()));
    let writes = move || state.access_or_default().writes();
    let (paused, done) = (sync.state == SyncState::Paused, sync.state == SyncState::Done);
    view! {
        <div class="sync-line" data-testid="sync" data-sync=sync.id.clone() data-state=state_word(sync.state)>
            <span class=format!("pill pill-sync-{}", state_word(sync.state))>{state_word(sync.state)}</span>
            <span class="small" data-testid="sync-summary">{reach::summary(&sync)}</span>
            {move || writes().then(|| view! {
                {if done {
                    None
                } else if paused {
                    Some(view! { <button class="button button-small button-quiet" data-testid="sync-resume" on:click=move |_| action("resume")>"Resume"</button> }.into_any())
                } else {
                    Some(view! { <button class="button button-small button-quiet" data-testid="sync-pause" on:click=move |_| action("pause")>"Pause"</button> }.into_any())
                }}
                <button class="button button-small button-quiet" data-testid="sync-resend" on:click=move |_| action("resend")>
                    {if done { "Send again" } else { "Resend in full" }}
                </button>
                <button class="button button-small button-quiet" data-testid="sync-stop" on:click=move |_| stop()>"Stop"</button>
            })}
            <button class="button button-small button-quiet" data-testid="sync-log" on:click=move |_| open.update(|o| *o = !*o)>
                {move || if open.get() { "Hide deliveries" } else { "Deliveries" }}
            </button>
            {move || log.get().flatten().map(|r| match r {
                Ok(batches) => view! { <DeliveryLog batches /> }.into_any(),
                Err(e) => view! { <ErrorNote error=e /> }.into_any(),
            })}
        </div>
    }
}

/// A sync's delivery log as a table.
#[component]
fn DeliveryLog(batches: Vec<DeliveryBatch>) -> impl IntoView {
    view! {
        <ScrollTable testid="delivery-log">
            <thead><tr><th>"Delivery"</th><th>"Day"</th><th>"Kind"</th><th class="num">"Ids"</th><th class="num">"Attempts"</th><th>"Status"</th><th class="num">"Response"</th><th>"Last error"</th><th>"When"</th></tr></thead>
            <tbody>
                {batches.into_iter().map(|b| view! {
                    <tr data-testid="delivery" data-status=reach::status_word(b.status)>
                        <td class="mono small">{b.delivery_id}</td>
                        <td>{b.ds}</td>
                        <td>{reach::kind_word(b.kind)}</td>
                        <td class="num" data-testid="delivery-ids">{format::int(b.ids)}</td>
                        <td class="num">{b.attempts}</td>
                        <td>{reach::status_word(b.status)}</td>
                        <td class="num">{b.response_code.map_or_else(String::new, |c| c.to_string())}</td>
                        <td class="small">{b.last_error.unwrap_or_default()}</td>
                        <td class="small">{format::utc_ms(b.updated_ms)}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </ScrollTable>
    }
}
