//! Sign in: an app id and an app token, from the sign-in link's fragment or typed in.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;

use crate::ctx::AppState;
use crate::session::{self, Session};

/// The sign-in page. A link `/signin#app=demo&token=sv_…` signs in at once and opens the
/// audience builder; the fragment is cleared so the token does not stay in the address bar.
#[component]
pub fn SignIn() -> impl IntoView {
    let state = AppState::get();
    let navigate = use_navigate();
    let app = RwSignal::new(state.session.get_untracked().map(|s| s.app).unwrap_or_else(|| "demo".into()));
    let token = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<&'static str>);

    // The link's fragment signs in at once; also when only the fragment changed (a second
    // link opened in the same tab).
    let consume_fragment = {
        let navigate = navigate.clone();
        move || {
            let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
            let Some(s) = session::from_fragment(&hash) else { return };
            if let Some(w) = web_sys::window()
                && let Ok(history) = w.history()
            {
                let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some("/signin"));
            }
            state.sign_in(s);
            let navigate = navigate.clone();
            request_animation_frame(move || {
                navigate("/audience", NavigateOptions { replace: true, ..Default::default() })
            });
        }
    };
    consume_fragment();
    let handle = window_event_listener(leptos::ev::hashchange, move |_| consume_fragment());
    on_cleanup(move || handle.remove());

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (a, t) = (app.get_untracked().trim().to_owned(), token.get_untracked().trim().to_owned());
        if a.is_empty() || t.is_empty() {
            problem.set(Some("Enter both the app id and its token."));
            return;
        }
        state.sign_in(Session { app: a, token: t });
        navigate("/audience", NavigateOptions::default());
    };

    view! {
        <section class="page page-narrow">
            <header class="page-header">
                <h1 class="page-title">"Sign in"</h1>
                <p class="page-lede">
                    "Sieve needs an app id and one of its tokens. The token stays in this browser "
                    "(local storage) until you sign out."
                </p>
            </header>
            <form class="card form" on:submit=submit>
                <label class="form-field">
                    <span class="form-label">"App id"</span>
                    <input
                        class="input"
                        name="app"
                        autocomplete="username"
                        prop:value=move || app.get()
                        on:input=move |ev| app.set(event_target_value(&ev))
                    />
                </label>
                <label class="form-field">
                    <span class="form-label">"Token"</span>
                    <input
                        class="input mono"
                        name="token"
                        type="password"
                        autocomplete="current-password"
                        placeholder="sv_…"
                        prop:value=move || token.get()
                        on:input=move |ev| token.set(event_target_value(&ev))
                    />
                </label>
                {move || problem.get().map(|p| view! { <p class="error-detail" role="alert">{p}</p> })}
                <div class="form-actions">
                    <button class="button" type="submit">"Sign in"</button>
                </div>
                <p class="muted small">
                    "Running the demo? " <code>"bash .dev/run.sh"</code>
                    " prints a sign-in link that fills this in for you."
                </p>
            </form>
        </section>
    }
}
