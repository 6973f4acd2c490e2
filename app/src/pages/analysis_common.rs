//! What the analysis pages (Funnels, Pivot, Compare) share: the choice kept in the address,
//! the saved segments and pivotable groups to choose from, an audience picker (a saved segment
//! or a rule in the address, see [`crate::analysis::audience_rule`]) and a CSV download button.

use leptos::prelude::*;

use crate::api::{self, Segment};
use crate::components::common::save_file;
use crate::ctx::AppState;

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
