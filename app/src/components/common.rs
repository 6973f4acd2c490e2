//! Small building blocks the pages share: the sign-in guard, the day picker, error notes.

use leptos::prelude::*;

use crate::api::Error;
use crate::ctx::AppState;
use crate::format;

/// Shows `children` when an app is signed in, else a prompt to sign in.
#[component]
pub fn RequireSession(children: ChildrenFn) -> impl IntoView {
    let state = AppState::get();
    move || {
        if state.session.with(Option::is_some) {
            children().into_any()
        } else {
            view! {
                <div class="card empty-state" data-testid="needs-signin">
                    <h2 class="card-title">"Sign in to continue"</h2>
                    <p class="muted">"This page reads your app's data, so it needs an app token."</p>
                    <a class="button" href="/signin">"Sign in"</a>
                </div>
            }
            .into_any()
        }
    }
}

/// A select of the app's published days (latest first).
#[component]
pub fn DayPicker() -> impl IntoView {
    let state = AppState::get();
    let days = move || state.days.get().and_then(Result::ok).unwrap_or_default();
    view! {
        <label class="day-picker">
            <span class="day-picker-label">"Day"</span>
            <select
                class="select"
                data-testid="day-picker"
                on:change=move |ev| {
                    let ds = event_target_value(&ev);
                    state.chosen_ds.set((!ds.is_empty()).then_some(ds));
                }
                prop:value=move || state.ds.get().unwrap_or_default()
            >
                {move || {
                    let current = state.ds.get();
                    days()
                        .into_iter()
                        .rev()
                        .map(|d| {
                            let selected = current.as_deref() == Some(d.ds.as_str());
                            let title = format!("version {}, published {}", d.version, format::utc_ms(d.published_ms));
                            view! {
                                <option value=d.ds.clone() selected=selected title=title>
                                    {d.ds.clone()}
                                </option>
                            }
                        })
                        .collect_view()
                }}
            </select>
        </label>
    }
}

/// An error, said plainly, with the server's words.
#[component]
pub fn ErrorNote(error: Error) -> impl IntoView {
    let hint = match &error {
        Error::Api { status: 401, .. } => " Your token was refused: sign out and sign in again.",
        Error::Api { status: 403, .. } => " Your token may not do this (a viewer token only reads).",
        Error::Fetch(_) => " Check that the server is running.",
        _ => "",
    };
    view! {
        <p class="error-detail" role="alert">
            {error.to_string()}
            {hint}
        </p>
    }
}

/// The placeholder while something loads, taking the same room as what replaces it.
#[component]
pub fn Loading(#[prop(into)] what: String) -> impl IntoView {
    view! {
        <p class="muted loading" aria-busy="true">
            {what}
        </p>
    }
}
