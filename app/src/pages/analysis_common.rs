//! What the analysis pages (Funnels, Pivot, Compare) share: where an analysis runs (this
//! browser when its bitmaps fit the download budget, else the server) and a note saying which,
//! the choice kept in the address, the saved segments and pivotable groups to choose from, an
//! audience picker (a saved segment or a rule in the address, see
//! [`crate::analysis::audience_rule`]) and a CSV download button.

use std::future::Future;
use std::sync::Arc;

use engine::Manifest;
use leptos::prelude::*;

use crate::analysis_local::Local;
use crate::api::{self, Error, Segment};
use crate::components::common::save_file;
use crate::ctx::AppState;
use crate::estimate::{self, EventWindow, FullTier};
use crate::format;

/// Where an analysis's numbers were computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Computed {
    /// In this browser, from `blobs` full-tier bitmaps of `bytes` bytes.
    Browser { blobs: usize, bytes: u64 },
    /// By the server's route.
    Server,
}

impl Computed {
    /// Where a view built from two answers was computed: the browser only if both were.
    pub fn and(self, other: Computed) -> Computed {
        match (self, other) {
            (Computed::Browser { blobs: a, bytes: x }, Computed::Browser { blobs: b, bytes: y }) => {
                Computed::Browser { blobs: a + b, bytes: x + y }
            }
            _ => Computed::Server,
        }
    }
}

/// Where an analysis will run, from what is loaded.
#[derive(Debug)]
pub enum Runs<L> {
    /// The day's manifest, event window or the token's access is still loading.
    Waiting,
    /// In this browser, on this manifest and window.
    Here(L, Arc<Manifest>, Arc<EventWindow>),
    /// On the server.
    Server,
}

/// Decides where an analysis runs: here when `plan` gives one the browser answers and the
/// bitmaps it still lacks fit the download budget ([`AppState::full_tier`], which also keeps an
/// `aggregate` token on the server), else on the server. Tracks the manifest, the event window,
/// the access and the budget, so call it in a resource's tracked part.
pub fn runs<L: Local>(state: AppState, plan: impl FnOnce(&Manifest, &EventWindow) -> Option<L>) -> Runs<L> {
    let loaded = (state.ds.get(), state.manifest.get(), state.events.get(), state.access.get());
    let (Some(ds), Some(manifest), Some(window), Some(_)) = loaded else { return Runs::Waiting };
    // A resource keeps its last answer while it loads the next: wait for the day's own (its
    // event window ends on the day, which is published), not the one for no day or another.
    let (manifest, window) = match (manifest, window) {
        (Err(Error::Api { body, .. }), _) if body.error == crate::ctx::NO_DAY => return Runs::Waiting,
        (Ok(m), Ok(w)) => (m, w),
        _ => return Runs::Server,
    };
    if manifest.ds != ds || window.days.last().is_none_or(|(last, _)| *last != ds) {
        return Runs::Waiting;
    }
    let Some(local) = plan(&manifest, &window) else { return Runs::Server };
    let missing = state.blobs.with_value(|b| estimate::missing_bytes(&local.refs(), b));
    match state.full_tier(missing) {
        FullTier::Download => Runs::Here(local, manifest, window),
        FullTier::Server => Runs::Server,
    }
}

/// The answer where [`runs`] decided: here (loading the bitmaps first), or `server`'s; `None`
/// while [`Runs::Waiting`] (the resource runs again once what it waits for loads: its future
/// must end, since a resource runs its next future only after the last one ended). A failed
/// download falls back to the server.
pub async fn answer<L: Local>(
    state: AppState,
    runs: Runs<L>,
    server: impl Future<Output = Result<L::Answer, Error>>,
) -> Option<Result<(L::Answer, Computed), Error>> {
    Some(match runs {
        Runs::Waiting => return None,
        Runs::Here(local, manifest, window) => {
            let refs = local.refs();
            if state.load(&refs).await.is_ok()
                && let Some(a) = state.blobs.with_value(|b| local.answer(&manifest, &window, b))
            {
                let bytes = refs.iter().map(|r| r.bytes).sum();
                return Some(Ok((a, Computed::Browser { blobs: refs.len(), bytes })));
            }
            server.await.map(|a| (a, Computed::Server))
        }
        Runs::Server => server.await.map(|a| (a, Computed::Server)),
    })
}

/// What an analysis page shows.
#[derive(Debug, Clone)]
pub enum Shown<T> {
    /// Nothing is chosen yet.
    Choose,
    /// The day or the token's access is still loading.
    Waiting,
    /// The answer, and where it was computed, or the error.
    Done(Result<(T, Computed), Error>),
}

impl<T> From<Option<Result<(T, Computed), Error>>> for Shown<T> {
    fn from(answer: Option<Result<(T, Computed), Error>>) -> Self {
        answer.map_or(Shown::Waiting, Shown::Done)
    }
}

/// Says where the numbers were computed (`data-source` is `browser` or `server`).
#[component]
pub fn ComputedNote(computed: Computed) -> impl IntoView {
    let (source, text) = match computed {
        Computed::Browser { blobs, bytes } => (
            "browser",
            format!(
                "Computed in this browser from {} bitmap{} ({}).",
                format::int(blobs as u64),
                if blobs == 1 { "" } else { "s" },
                format::bytes(bytes)
            ),
        ),
        Computed::Server => ("server", "Computed by the server.".to_owned()),
    };
    view! { <span class="muted small" data-testid="computed" data-source=source>{text}</span> }
}

/// "Loading" with the bitmaps still downloading, if any.
#[component]
pub fn AnalysisLoading(what: &'static str) -> impl IntoView {
    let state = AppState::get();
    let progress = move || {
        let st = state.stats.get();
        (st.pending > 0).then(|| {
            format!(" Downloading {} bitmaps ({} left)…", format::int(st.pending), format::bytes(st.pending_bytes))
        })
    };
    view! { <p class="muted loading" aria-busy="true" data-testid="analysis-loading">{what}{progress}</p> }
}

/// The page's query string (`?…`), empty outside a browser.
pub fn query() -> String {
    web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default()
}

/// Keeps the address in step with the choice (replacing the history entry, not adding one).
pub fn keep_in_address<T: Send + Sync + 'static>(choice: RwSignal<T>, to_url: fn(&T) -> String) {
    Effect::new(move |_| {
        let url = choice.with(to_url);
        if let Some(w) = web_sys::window()
            && let Ok(h) = w.history()
        {
            let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
        }
    });
}

/// The day's tag groups a pivot accepts (not numeric, at most `MAX_VALUES` values).
pub fn pivotable_groups(state: AppState) -> Memo<Vec<String>> {
    Memo::new(move |_| {
        state
            .manifest
            .get()
            .and_then(Result::ok)
            .map(|m| {
                m.groups
                    .iter()
                    .filter(|g| g.numeric.is_none() && g.values.len() <= engine::analysis::pivot::MAX_VALUES)
                    .map(|g| g.name.clone())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    })
}

/// The saved segments (none when signed out or when the list fails to load).
pub fn saved_segments(state: AppState) -> LocalResource<Vec<Segment>> {
    LocalResource::new(move || {
        let s = state.session.get();
        async move {
            match s {
                Some(s) => api::segments(&s).await.unwrap_or_default(),
                None => Vec::new(),
            }
        }
    })
}

/// A `<select>` of `(value, label)` options, the chosen value selected, with an optional
/// first "none" entry whose value is empty.
#[component]
fn OptionSelect(
    testid: &'static str,
    #[prop(into)] options: Signal<Vec<(String, String)>>,
    #[prop(into)] chosen: Signal<Option<String>>,
    #[prop(into)] on_pick: Callback<String>,
    none: Option<&'static str>,
) -> impl IntoView {
    view! {
        <select class="select" data-testid=testid on:change=move |ev| on_pick.run(event_target_value(&ev))>
            {none.map(|label| view! { <option value="">{label}</option> })}
            {move || {
                let chosen = chosen.get();
                options.get().into_iter().map(|(value, label)| {
                    let selected = chosen.as_deref() == Some(value.as_str());
                    view! { <option value=value selected=selected>{label}</option> }
                }).collect_view()
            }}
        </select>
    }
}

/// A `<select>` of plain choices (value = label).
#[component]
pub fn NameSelect(
    testid: &'static str,
    #[prop(into)] names: Signal<Vec<String>>,
    #[prop(into)] chosen: Signal<Option<String>>,
    #[prop(into)] on_pick: Callback<String>,
    #[prop(optional)] none: Option<&'static str>,
) -> impl IntoView {
    let options = Signal::derive(move || names.get().into_iter().map(|n| (n.clone(), n)).collect::<Vec<_>>());
    view! { <OptionSelect testid options chosen on_pick none /> }
}

/// A `<select>` of audiences: the saved segments, and the rule the address carries when the
/// chosen audience is one (opened from the Audience page's "Analyse this audience" links).
#[component]
pub fn AudienceSelect(
    testid: &'static str,
    segments: LocalResource<Vec<Segment>>,
    #[prop(into)] chosen: Signal<Option<String>>,
    #[prop(into)] on_pick: Callback<String>,
    #[prop(optional)] none: Option<&'static str>,
) -> impl IntoView {
    let options = Signal::derive(move || {
        let rule = chosen.get().filter(|c| crate::analysis::is_rule(c));
        let rule = rule.map(|r| (r, "The builder's audience (rule)".to_owned()));
        let list = segments.get().unwrap_or_default().into_iter().map(|s| (s.id, s.name));
        rule.into_iter().chain(list).collect::<Vec<_>>()
    });
    view! { <OptionSelect testid options chosen on_pick none /> }
}

/// A "Download CSV" button saving `csv` as `file`.
#[component]
pub fn CsvButton(testid: &'static str, file: String, csv: String) -> impl IntoView {
    view! {
        <button class="button" data-testid=testid on:click=move |_| { let _ = save_file(&file, &csv, "text/csv"); }>"Download CSV"</button>
    }
}
