//! The app's tokens: the table, the create form (the new secret shown once), rotate and
//! revoke (after a confirm).

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::admin::{self, role_hint};
use crate::api::{self, Error, Role, Rotate, Token, TokenCreated};
use crate::components::common::{ErrorNote, Loaded, ScrollTable, field_error};
use crate::ctx::AppState;
use crate::format;

/// A date or a dash.
fn when(ms: Option<u64>) -> String {
    ms.map_or_else(|| "–".to_owned(), format::utc_ms)
}

/// Milliseconds since the epoch now.
fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// The tokens card.
#[component]
pub(super) fn TokensCard(changed: RwSignal<u64>) -> impl IntoView {
    let state = AppState::get();
    let list = LocalResource::new(move || {
        let s = state.session.get();
        async move {
            match s {
                Some(s) => api::tokens(&s).await,
                None => Err(Error::api(401, "unauthorized", "not signed in")),
            }
        }
    });
    // The secret just created or rotated, with what happened, shown until dismissed.
    let secret = RwSignal::new(None::<(String, TokenCreated)>);
    let problem = RwSignal::new(None::<Error>);
    let confirming = RwSignal::new(None::<String>);
    let done = move |what: String, created: Option<TokenCreated>| {
        problem.set(None);
        confirming.set(None);
        secret.set(created.map(|c| (what, c)));
        list.refetch();
        changed.update(|n| *n += 1);
    };
    let rotate = move |t: Token| {
        let Some(s) = state.session.get_untracked() else { return };
        spawn_local(async move {
            match api::rotate_token(&s, &t.id, &Rotate::default()).await {
                Ok(c) => done(format!("Rotated “{}”.", t.name), Some(c)),
                Err(e) => problem.set(Some(e)),
            }
        });
    };
    let revoke = move |t: Token| {
        let Some(s) = state.session.get_untracked() else { return };
        spawn_local(async move {
            match api::revoke_token(&s, &t.id).await {
                Ok(()) => done(format!("Revoked “{}”.", t.name), None),
                Err(e) => problem.set(Some(e)),
            }
        });
    };
    view! {
        <article class="card settings-tokens" aria-labelledby="tokens-title">
            <h2 class="card-title" id="tokens-title">"Tokens"</h2>
            {move || {
                secret
                    .get()
                    .map(|(what, c)| {
                        let until = c.info.previous_valid_until_ms.map(|ms| {
                            format!(" The previous secret keeps working until {}.", format::utc_ms(ms))
                        });
                        view! {
                            <div class="banner banner-good secret-banner" role="status" data-testid="new-token">
                                <p>
                                    {what} " Copy the secret of “" {c.info.name.clone()} "” (" {c.info.role.as_str()}
                                    ") now: it is not shown again." {until}
                                </p>
                                <input
                                    class="input mono secret"
                                    readonly=true
                                    aria-label="New secret"
                                    data-testid="new-secret"
                                    prop:value=c.token.clone()
                                    on:focus=move |ev| {
                                        use wasm_bindgen::JsCast;
                                        if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                                            input.select();
                                        }
                                    }
                                />
                                <button class="button button-small button-quiet" type="button" on:click=move |_| secret.set(None)>
                                    "Done, I copied it"
                                </button>
                            </div>
                        }
                    })
            }}
            {move || problem.get().map(|e| view! { <ErrorNote error=e /> })}
            <Loaded
                value=move || list.get()
                what="Loading tokens…"
                ready={move |tokens: Vec<Token>| {
                    if tokens.is_empty() {
                        return view! { <p class="muted">"No token yet: create one below."</p> }.into_any();
                    }
                    view! {
                        <ScrollTable class="tokens-table" testid="tokens-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Name"</th>
                                    <th scope="col">"Role"</th>
                                    <th scope="col">"Creator"</th>
                                    <th scope="col">"Created"</th>
                                    <th scope="col">"Expires"</th>
                                    <th scope="col">"Last used"</th>
                                    <th scope="col">"Previous secret until"</th>
                                    <th scope="col"><span class="sr-only">"Actions"</span></th>
                                </tr>
                            </thead>
                            <tbody>
                                {tokens
                                    .into_iter()
                                    .map(|t| {
                                        let (t_rotate, t_revoke, id) = (t.clone(), t.clone(), t.id.clone());
                                        let id2 = id.clone();
                                        view! {
                                            <tr data-testid="token-row" data-id=t.id.clone() data-name=t.name.clone()>
                                                <th scope="row">{t.name.clone()}</th>
                                                <td><span class="pill">{t.role.as_str()}</span></td>
                                                <td>{admin::actor_label(&t.creator)}</td>
                                                <td class="small">{format::utc_ms(t.created_ms)}</td>
                                                <td class="small">{t.expires_ms.map_or_else(|| "never".to_owned(), format::utc_ms)}</td>
                                                <td class="small">{t.last_used_ms.map_or_else(|| "never".to_owned(), format::utc_ms)}</td>
                                                <td class="small">{when(t.previous_valid_until_ms)}</td>
                                                <td class="row-actions">
                                                    <button
                                                        class="button button-small button-quiet"
                                                        data-testid="rotate-token"
                                                        on:click=move |_| rotate(t_rotate.clone())
                                                    >
                                                        "Rotate"
                                                    </button>
                                                    {move || {
                                                        if confirming.get().as_deref() == Some(id.as_str()) {
                                                            let t = t_revoke.clone();
                                                            view! {
                                                                <button
                                                                    class="button button-small button-danger"
                                                                    data-testid="confirm-revoke"
                                                                    on:click=move |_| revoke(t.clone())
                                                                >
                                                                    "Confirm revoke"
                                                                </button>
                                                                <button class="button button-small button-quiet" on:click=move |_| confirming.set(None)>
                                                                    "Cancel"
                                                                </button>
                                                            }
                                                                .into_any()
                                                        } else {
                                                            let id = id2.clone();
                                                            view! {
                                                                <button
                                                                    class="button button-small button-quiet"
                                                                    data-testid="revoke-token"
                                                                    on:click=move |_| confirming.set(Some(id.clone()))
                                                                >
                                                                    "Revoke"
                                                                </button>
                                                            }
                                                                .into_any()
                                                        }
                                                    }}
                                                </td>
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
            <NewTokenForm done />
        </article>
    }
}

/// The create form.
#[component]
fn NewTokenForm(done: impl Fn(String, Option<TokenCreated>) + Copy + Send + Sync + 'static) -> impl IntoView {
    let state = AppState::get();
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer.as_str().to_owned());
    let expires = RwSignal::new(String::new());
    let error = RwSignal::new(None::<Error>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(s) = state.session.get_untracked() else { return };
        let input =
            match admin::new_token(&name.get_untracked(), &role.get_untracked(), &expires.get_untracked(), now_ms()) {
                Ok(input) => input,
                Err(e) => return error.set(Some(e)),
            };
        busy.set(true);
        spawn_local(async move {
            match api::create_token(&s, &input).await {
                Ok(c) => {
                    error.set(None);
                    name.set(String::new());
                    expires.set(String::new());
                    done("Created.".to_owned(), Some(c));
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    const FIELDS: &[&str] = &["name", "role", "expires_ms"];
    let about = move |field: &'static str| field_error(error, Some(field), FIELDS);
    let other = field_error(error, None, FIELDS);
    view! {
        <form class="form new-token" on:submit=submit data-testid="new-token-form">
            <h3 class="section-title">"New token"</h3>
            <div class="form-row">
                <label class="form-field grow">
                    <span class="form-label">"Name"</span>
                    <input
                        class="input"
                        data-testid="token-name"
                        placeholder="e.g. CRM sync"
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                    {about("name")}
                </label>
                <label class="form-field">
                    <span class="form-label">"Role"</span>
                    <select
                        class="select"
                        data-testid="token-role"
                        prop:value=move || role.get()
                        on:change=move |ev| role.set(event_target_value(&ev))
                    >
                        {Role::ALL
                            .into_iter()
                            .map(|r| {
                                view! {
                                    <option value=r.as_str() selected=move || role.get() == r.as_str()>
                                        {format!("{} — {}", r.as_str(), role_hint(r))}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                    {about("role")}
                </label>
                <label class="form-field">
                    <span class="form-label">"Expires (optional)"</span>
                    <input
                        class="input"
                        type="date"
                        data-testid="token-expires"
                        prop:value=move || expires.get()
                        on:input=move |ev| expires.set(event_target_value(&ev))
                    />
                    {about("expires_ms")}
                </label>
            </div>
            {other}
            <div class="form-actions">
                <button class="button" type="submit" data-testid="create-token" disabled=move || busy.get()>
                    "Create token"
                </button>
            </div>
        </form>
    }
}
