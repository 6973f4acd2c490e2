//! The app's privacy settings: the minimum audience (no export, freeze or split below it, and
//! aggregate tokens see `< k`), ε of each noisy answer and the daily budget of ε.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::admin::settings_patch;
use crate::api::{self, AppSettings, Error};
use crate::components::common::{ErrorNote, Loading, field_error};
use crate::ctx::AppState;

/// The privacy card.
#[component]
pub(super) fn PrivacyCard(changed: RwSignal<u64>) -> impl IntoView {
    let state = AppState::get();
    // Outlives the form, which is rebuilt with the saved settings.
    let saved = RwSignal::new(None::<String>);
    move || match state.app.get() {
        None => view! { <Loading what="Loading settings…" /> }.into_any(),
        Some(Err(e)) => view! { <ErrorNote error=e /> }.into_any(),
        Some(Ok(app)) => match app.settings {
            Some(current) => view! { <PrivacyForm current changed saved /> }.into_any(),
            None => view! {
                <article class="card">
                    <p class="muted">"This server does not report privacy settings."</p>
                </article>
            }
            .into_any(),
        },
    }
}

#[component]
fn PrivacyForm(current: AppSettings, changed: RwSignal<u64>, saved: RwSignal<Option<String>>) -> impl IntoView {
    let state = AppState::get();
    let k = RwSignal::new(current.min_audience.to_string());
    let eps = RwSignal::new(current.epsilon.to_string());
    let budget = RwSignal::new(current.daily_budget.to_string());
    let error = RwSignal::new(None::<Error>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(s) = state.session.get_untracked() else { return };
        saved.set(None);
        let patch = match settings_patch(&current, &k.get_untracked(), &eps.get_untracked(), &budget.get_untracked()) {
            Ok(Some(patch)) => patch,
            Ok(None) => return saved.set(Some("Nothing changed.".to_owned())),
            Err(e) => return error.set(Some(e)),
        };
        busy.set(true);
        spawn_local(async move {
            match api::patch_app(&s, &patch).await {
                Ok(_) => {
                    error.set(None);
                    saved.set(Some("Saved.".to_owned()));
                    // The app's answer holds the settings every page reads (the `< k`).
                    state.app.refetch();
                    changed.update(|n| *n += 1);
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    const FIELDS: &[&str] = &["min_audience", "epsilon", "daily_budget"];
    let about = move |field: &'static str| field_error(error, Some(field), FIELDS);
    let other = field_error(error, None, FIELDS);
    let field = move |label: &'static str,
                      testid: &'static str,
                      value: RwSignal<String>,
                      hint: &'static str,
                      name: &'static str| {
        view! {
            <label class="form-field">
                <span class="form-label">{label}</span>
                <input
                    class="input num"
                    inputmode="decimal"
                    data-testid=testid
                    prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))
                />
                <span class="muted small">{hint}</span>
                {about(name)}
            </label>
        }
    };
    view! {
        <article class="card settings-privacy" aria-labelledby="privacy-title">
            <h2 class="card-title" id="privacy-title">"Privacy"</h2>
            <form class="form" on:submit=submit data-testid="privacy-form">
                {field(
                    "Minimum audience (k)",
                    "min-audience",
                    k,
                    "No export, static freeze or split of fewer users, for any token; aggregate tokens see “< k”. 0 turns it off.",
                    "min_audience",
                )}
                {field(
                    "ε per answer",
                    "epsilon",
                    eps,
                    "Noise on each count an aggregate token sees (Laplace, scale 1/ε; 0.01 to 10). Smaller is more private.",
                    "epsilon",
                )}
                {field(
                    "Daily budget of ε",
                    "daily-budget",
                    budget,
                    "What an aggregate token may spend per day on new questions (at least ε); past it, counts are refused until the next day (UTC).",
                    "daily_budget",
                )}
                {other}
                <div class="form-actions">
                    <button class="button" type="submit" data-testid="save-privacy" disabled=move || busy.get()>
                        "Save settings"
                    </button>
                    {move || saved.get().map(|m| view! { <span class="muted" role="status">{m}</span> })}
                </div>
            </form>
        </article>
    }
}
