//! Small building blocks the pages share: the page frame, the sign-in guard, the day picker,
//! error notes, loading placeholders, drawn charts, what an aggregate token is told, and saving
//! text as a file.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::access::AGGREGATE_NOTE;
use crate::api::Error;
use crate::ctx::AppState;
use crate::format;

/// A page: its title, a sentence saying what it is for, the day picker beside them when the
/// page reads one day, and `children` once an app is signed in.
#[component]
pub fn Page(
    title: &'static str,
    lede: &'static str,
    /// Uses the whole width (the builder's two columns).
    #[prop(optional)]
    wide: bool,
    /// Shows the day picker in the header.
    #[prop(optional)]
    day_picker: bool,
    children: ChildrenFn,
) -> impl IntoView {
    let head = if day_picker {
        view! {
            <header class="page-header page-header-row">
                <div>
                    <h1 class="page-title">{title}</h1>
                    <p class="page-lede">{lede}</p>
                </div>
                <DayPicker />
            </header>
        }
        .into_any()
    } else {
        view! {
            <header class="page-header">
                <h1 class="page-title">{title}</h1>
                <p class="page-lede">{lede}</p>
            </header>
        }
        .into_any()
    };
    view! {
        <section class="page" class:page-wide=wide>
            {head}
            {RequireSession(RequireSessionProps { children })}
        </section>
    }
}

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
    // The server's code, for tests and for people reading the page's source.
    let code = error.code().map(str::to_owned);
    view! {
        <p class="error-detail" role="alert" data-code=code>
            {error.to_string()}
            {hint}
        </p>
    }
}

/// Something loaded from the server: the placeholder while `value` is `None`, the error note
/// if it failed (inside a `<div class=error_class>` when given), else `ready` of the value.
#[component]
pub fn Loaded<T, G, F, V>(
    /// Reads the value (a resource's `get`): `None` while it loads.
    value: G,
    /// What the placeholder says.
    #[prop(into)]
    what: String,
    /// The view of the loaded value.
    ready: F,
    /// CSS class of a box around the error note.
    #[prop(optional)]
    error_class: &'static str,
) -> impl IntoView
where
    G: Fn() -> Option<Result<T, Error>> + Send + Sync + 'static,
    F: Fn(T) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
    T: 'static,
{
    move || match value() {
        None => view! { <Loading what=what.clone() /> }.into_any(),
        Some(Err(e)) if error_class.is_empty() => view! { <ErrorNote error=e /> }.into_any(),
        Some(Err(e)) => view! {
            <div class=error_class>
                <ErrorNote error=e />
            </div>
        }
        .into_any(),
        Some(Ok(v)) => ready(v).into_any(),
    }
}

/// A table that scrolls sideways on a narrow screen instead of widening the page.
#[component]
pub fn ScrollTable(
    /// Extra CSS classes after `table`.
    #[prop(optional)]
    class: &'static str,
    /// The table's `data-testid`.
    #[prop(optional)]
    testid: Option<&'static str>,
    children: Children,
) -> impl IntoView {
    let class = if class.is_empty() { "table".to_owned() } else { format!("table {class}") };
    view! {
        <div class="table-scroll">
            <table class=class data-testid=testid>
                {children()}
            </table>
        </div>
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

/// A drawn chart (an SVG string) described for screen readers, or why it could not be drawn.
#[component]
pub fn Chart(
    /// The drawing, or the error of drawing it.
    svg: Result<String, String>,
    /// What the chart shows, in words.
    #[prop(into)]
    label: String,
    /// Extra CSS classes after `chart`.
    #[prop(optional)]
    class: &'static str,
) -> impl IntoView {
    match svg {
        Ok(svg) => {
            let class = if class.is_empty() { "chart".to_owned() } else { format!("chart {class}") };
            view! { <div class=class role="img" aria-label=label inner_html=svg></div> }.into_any()
        }
        Err(e) => view! { <p class="error-detail">"Chart failed: " {e}</p> }.into_any(),
    }
}

/// What an aggregate token is told where the others have buttons (exports, saves, lookups).
#[component]
pub fn AggregateNote() -> impl IntoView {
    view! {
        <article class="card aggregate-note" data-testid="aggregate-note">
            <h2 class="card-title">"Counts only"</h2>
            <p class="muted">{AGGREGATE_NOTE}</p>
        </article>
    }
}

/// Downloads text as a file named `name` (a Blob of type `mime` behind a clicked link).
pub fn save_file(name: &str, text: &str, mime: &str) -> Result<(), String> {
    save_parts(name, &js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text)), mime)
}

/// Downloads bytes as a file named `name`.
pub fn save_bytes(name: &str, bytes: &[u8], mime: &str) -> Result<(), String> {
    save_parts(name, &js_sys::Array::of1(&js_sys::Uint8Array::from(bytes)), mime)
}

/// Downloads the Blob parts `parts` as a file named `name`.
fn save_parts(name: &str, parts: &js_sys::Array, mime: &str) -> Result<(), String> {
    let fail = |e: wasm_bindgen::JsValue| format!("{e:?}");
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(parts, &options).map_err(fail)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(fail)?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement =
        document.create_element("a").map_err(fail)?.dyn_into().map_err(|_| "not an anchor".to_owned())?;
    a.set_href(&url);
    a.set_download(name);
    a.click();
    // Revoked later: revoking at once can cancel the download in some browsers.
    set_timeout(move || drop(web_sys::Url::revoke_object_url(&url)), std::time::Duration::from_secs(30));
    Ok(())
}

/// The server's error about one field of a form, shown beside that field (`field`), or about
/// none of the form's `fields` (shown under the form: `field` is `None`).
pub fn field_error(
    error: RwSignal<Option<Error>>,
    field: Option<&'static str>,
    fields: &'static [&'static str],
) -> impl Fn() -> Option<AnyView> + Copy {
    move || {
        error.with(|e| {
            let e = e.as_ref()?;
            let about = crate::admin::field_of(e);
            let here = match field {
                Some(f) => about == Some(f),
                None => !about.is_some_and(|a| fields.contains(&a)),
            };
            here.then(|| view! { <ErrorNote error=e.clone() /> }.into_any())
        })
    }
}
