//! User lookup: one user's tags and segments on a day (the membership API).

use leptos::prelude::*;

use crate::api::{self, UserTags};
use crate::components::common::{ErrorNote, Loading, Page};
use crate::ctx::AppState;

/// The lookup page.
#[component]
pub fn Lookup() -> impl IntoView {
    view! {
        <Page title="User lookup" lede="Which tags and segments one user has, as other services see it." day_picker=true>
            {move || {
                if AppState::get().access_or_default().sees_members() {
                    view! { <LookupBody /> }.into_any()
                } else {
                    view! {
                        <article class="card" data-testid="lookup-withheld">
                            <h2 class="card-title">"Lookups are withheld"</h2>
                            <p class="muted">
                                "This token is an aggregate token: it sees counts only, never one user's tags or segments. "
                                "Ask an app admin for a viewer or service token to look users up."
                            </p>
                        </article>
                    }
                        .into_any()
                }
            }}
        </Page>
    }
}

#[component]
fn LookupBody() -> impl IntoView {
    let state = AppState::get();
    let input = RwSignal::new(String::new());
    let asked = RwSignal::new(None::<String>);
    let answer = LocalResource::new(move || {
        let user = asked.get();
        let s = state.session.get();
        let ds = state.ds.get();
        async move {
            match (user, s, ds) {
                (Some(u), Some(s), Some(ds)) => Some(api::user_tags(&s, &u, &ds).await),
                _ => None,
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let user = input.get_untracked().trim().to_owned();
        if !user.is_empty() {
            asked.set(Some(user));
        }
    };
    view! {
        <form class="card lookup-form" on:submit=submit>
            <label class="form-field grow">
                <span class="form-label">"User id"</span>
                <input
                    class="input mono"
                    data-testid="lookup-input"
                    placeholder="e.g. u0000042"
                    prop:value=move || input.get()
                    on:input=move |ev| input.set(event_target_value(&ev))
                />
            </label>
            <button class="button" type="submit" data-testid="lookup-submit">"Look up"</button>
        </form>
        <div class="lookup-result" data-testid="lookup-result">
            {move || match (asked.get(), answer.get()) {
                (None, _) => view! { <p class="muted empty-state">"Enter a user id to see their tags and segments."</p> }.into_any(),
                (Some(_), None) => view! { <Loading what="Looking up…" /> }.into_any(),
                (Some(_), Some(None)) => view! { <Loading what="Waiting for the day…" /> }.into_any(),
                (Some(_), Some(Some(Err(e)))) if matches!(e, api::Error::Api { status: 404, .. }) => {
                    view! { <p class="card muted">"No such user on this day (" {e.to_string()} ")."</p> }.into_any()
                }
                (Some(_), Some(Some(Err(e)))) => view! { <ErrorNote error=e /> }.into_any(),
                (Some(_), Some(Some(Ok(tags)))) => view! { <UserCard tags /> }.into_any(),
            }}
        </div>
    }
}

#[component]
fn UserCard(tags: UserTags) -> impl IntoView {
    let segments = tags.segments.clone();
    view! {
        <article class="card">
            <h2 class="card-title">
                <span class="mono">{tags.user.clone()}</span>
                <span class="muted small">" on " {tags.ds.clone()}</span>
            </h2>
            <h3 class="section-title">"Segments"</h3>
            {if segments.is_empty() {
                view! { <p class="muted">"In no segment."</p> }.into_any()
            } else {
                view! {
                    <ul class="chips" data-testid="lookup-segments">
                        {segments.into_iter().map(|s| view! { <li class="chip">{s}</li> }).collect_view()}
                    </ul>
                }
                    .into_any()
            }}
            <h3 class="section-title">"Tags"</h3>
            <dl class="fields" data-testid="lookup-tags">
                {tags
                    .tags
                    .into_iter()
                    .map(|(group, values)| {
                        view! {
                            <div class="field">
                                <dt class="field-label">{group}</dt>
                                <dd class="field-value">{values.join(", ")}</dd>
                            </div>
                        }
                    })
                    .collect_view()}
            </dl>
        </article>
    }
}
