//! Member lists in and out of the Segments page: a segment's members downloaded as a file
//! (CSV, or a ClickHouse or roaring bitmap for `u32` apps) with its progress, and a static
//! segment's list uploaded from a file (picked or dropped) with the server's accounting. The
//! logic is in [`crate::members`].

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use wire::MembersReport;

use crate::api::{self, Error, IdKind, SegmentInput, SegmentKind};
use crate::components::common::{ErrorNote, save_bytes};
use crate::ctx::AppState;
use crate::members::{self, Format};
use crate::session::Session;

/// The app's kind of ids (strings until the app's answer says otherwise).
fn id_kind(state: AppState) -> IdKind {
    state.app.get().and_then(Result::ok).map_or(IdKind::Strings, |a| a.ids)
}

/// A segment's "Download" action: a format (when there is a choice), the progress while it
/// arrives, then the saved file.
#[component]
pub(super) fn DownloadMembers(id: String, #[prop(into)] members: Signal<Option<u64>>) -> impl IntoView {
    let state = AppState::get();
    let format = RwSignal::new(Format::Csv);
    let status = RwSignal::new(None::<Result<String, Error>>);
    let busy = RwSignal::new(false);
    let start = move |id: String| {
        let (Some(s), Some(ds)) = (state.session.get_untracked(), state.ds.get_untracked()) else { return };
        let chosen = format.get_untracked();
        let expected = members.get_untracked();
        busy.set(true);
        spawn_local(async move {
            let (mut bytes, mut rows) = (0u64, 0u64);
            let csv = chosen == Format::Csv;
            let result = api::segment_members_file(&s, &id, &ds, chosen.key(), |chunk| {
                bytes += chunk.len() as u64;
                if csv {
                    rows += chunk.iter().filter(|b| **b == b'\n').count() as u64;
                }
                // The header line is not a user.
                let users = csv.then(|| rows.saturating_sub(1));
                status.set(Some(Ok(members::progress(bytes, users, expected))));
            })
            .await;
            let done = result.and_then(|file| {
                let name = chosen.file_name(&id, &ds);
                save_bytes(&name, &file, chosen.mime()).map_err(Error::Decode)?;
                Ok(format!("Saved {name} ({}).", crate::format::bytes(file.len() as u64)))
            });
            status.set(Some(done));
            busy.set(false);
        });
    };
    view! {
        <span class="download-members">
            {move || {
                let offered = Format::offered(id_kind(state));
                (offered.len() > 1).then(|| view! {
                    <select class="select select-small" aria-label="Format" data-testid="download-format" on:change=move |ev| format.set(Format::from_key(&event_target_value(&ev)))>
                        {offered.into_iter().map(|f| view! { <option value=f.key()>{f.label()}</option> }).collect_view()}
                    </select>
                })
            }}
            <button class="button button-small button-quiet" data-testid="download-members" disabled=move || busy.get() on:click={
                let id = id.clone();
                move |_| start(id.clone())
            }>"Download"</button>
            {move || status.get().map(|r| match r {
                Ok(text) => view! { <span class="muted small" role="status" data-testid="download-status">{text}</span> }.into_any(),
                Err(e) => view! { <ErrorNote error=e /> }.into_any(),
            })}
        </span>
    }
}

/// The text of the first file of a picker's or a drop's file list.
async fn read_first(files: Option<web_sys::FileList>) -> Option<(String, String)> {
    let file = files?.get(0)?;
    let text = JsFuture::from(file.text()).await.ok()?.as_string()?;
    Some((file.name(), text))
}

/// Uploads `text` as the members of the static segment `id` (creating it first when it is
/// given a `name`), and answers the server's accounting and whether a header was added.
async fn upload(
    s: Option<Session>,
    id: String,
    name: Option<String>,
    text: String,
) -> Result<(MembersReport, bool), Error> {
    let s = s.ok_or_else(|| Error::api(401, "unauthorized", "not signed in"))?;
    if let Some(name) = name {
        let input = SegmentInput {
            id: Some(id.clone()),
            name,
            description: Some("Uploaded from a file on the Segments page".into()),
            kind: Some(SegmentKind::Static),
            rule: None,
            version: None,
        };
        api::create_segment(&s, &input).await?;
    }
    let (csv, added) = members::as_upload(&text);
    Ok((api::put_segment_members(&s, &id, csv).await?, added))
}

/// A file picker that is also a drop zone; `on_file` gets the file's name and text.
#[component]
fn FileDrop(
    testid: &'static str,
    label: &'static str,
    #[prop(into)] on_file: Callback<(String, String)>,
) -> impl IntoView {
    let over = RwSignal::new(false);
    let take = move |files: Option<web_sys::FileList>| {
        spawn_local(async move {
            if let Some(file) = read_first(files).await {
                on_file.run(file);
            }
        });
    };
    view! {
        <label
            class="file-drop"
            class:file-drop-over=move || over.get()
            data-testid=format!("{testid}-zone")
            on:dragover=move |ev: web_sys::DragEvent| { ev.prevent_default(); over.set(true); }
            on:dragleave=move |_| over.set(false)
            on:drop=move |ev: web_sys::DragEvent| {
                ev.prevent_default();
                over.set(false);
                take(ev.data_transfer().and_then(|d| d.files()));
            }
        >
            <span>{label}</span>
            <input type="file" accept=".csv,.txt,text/csv,text/plain" data-testid=testid on:change=move |ev| {
                let input = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok());
                take(input.and_then(|i| i.files()));
            } />
        </label>
    }
}

/// What an upload answered, for the banner.
#[component]
fn UploadResult(result: Uploaded) -> impl IntoView {
    match result {
        Ok((id, report, added)) => view! {
            <div class="banner banner-good" role="status" data-testid="upload-report">
                <div>
                    <strong>{format!("“{id}” now has {} members. ", crate::format::int(report.members))}</strong>
                    {members::report_lines(&report, added).into_iter().map(|l| view! { <span class="report-line">{l}" "</span> }).collect_view()}
                </div>
            </div>
        }
        .into_any(),
        Err(e) => view! { <ErrorNote error=e /> }.into_any(),
    }
}

/// The card making a static segment from a file: its name, then a file picked or dropped.
#[component]
pub(super) fn NewFromFile(#[prop(into)] on_done: Callback<()>) -> impl IntoView {
    let state = AppState::get();
    let name = RwSignal::new(String::new());
    let result = RwSignal::new(None::<Uploaded>);
    let busy = RwSignal::new(false);
    let on_file = move |(file, text): (String, String)| {
        let given = name.get_untracked().trim().to_owned();
        let shown =
            if given.is_empty() { file.trim_end_matches(".csv").trim_end_matches(".txt").to_owned() } else { given };
        let id = crate::draft::slug(&shown);
        busy.set(true);
        let session = state.session.get_untracked();
        spawn_local(async move {
            let r = upload(session, id.clone(), Some(shown), text).await.map(|(report, added)| (id, report, added));
            let ok = r.is_ok();
            result.set(Some(r));
            busy.set(false);
            if ok {
                on_done.run(());
            }
        });
    };
    view! {
        <section class="card upload-card" data-testid="new-from-file">
            <h2 class="card-title">"New static segment from a file"</h2>
            <p class="muted small">"A CSV with a "<code>"user_id"</code>" column, or one id per line. The server reports what it took."</p>
            <div class="upload-row">
                <label class="form-field">
                    <span class="form-label">"Name"</span>
                    <input class="input" data-testid="upload-name" placeholder="the file's name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev)) />
                </label>
                <FileDrop testid="upload-file" label="Drop a file here, or choose one" on_file />
            </div>
            {move || busy.get().then(|| view! { <p class="muted small" aria-busy="true">"Uploading…"</p> })}
            {move || result.get().map(|r| view! { <UploadResult result=r /> })}
        </section>
    }
}

/// What a list upload answered: the segment, the server's accounting, whether a header was
/// added; or the error.
pub(super) type Uploaded = Result<(String, MembersReport, bool), Error>;

/// A static segment's "Replace list" action; `result` (shown by the page, as replacing the list
/// reloads the rows) gets what the server answered.
#[component]
pub(super) fn ReplaceMembers(
    id: String,
    result: RwSignal<Option<Uploaded>>,
    #[prop(into)] on_done: Callback<()>,
) -> impl IntoView {
    let state = AppState::get();
    let on_file = move |(_, text): (String, String)| {
        let id = id.clone();
        let session = state.session.get_untracked();
        spawn_local(async move {
            let r = upload(session, id.clone(), None, text).await.map(|(report, added)| (id, report, added));
            let ok = r.is_ok();
            result.set(Some(r));
            if ok {
                on_done.run(());
            }
        });
    };
    view! {
        <span class="replace-members">
            <FileDrop testid="replace-file" label="Replace list" on_file />
        </span>
    }
}

/// The answer of the last list replaced.
#[component]
pub(super) fn ReplaceResult(result: RwSignal<Option<Uploaded>>) -> impl IntoView {
    move || result.get().map(|r| view! { <div data-testid="replace-report"><UploadResult result=r /></div> })
}
