//! Segments: the saved segments with their size on the chosen day and last change; open one in
//! the builder, follow it in Trends, split it, rename or delete it, download its members, make
//! a static segment from a file or replace one's list ([`transfer`]). A write that finds the
//! segment changed since it was listed (or a 412 from the server) asks: reload, or overwrite.

mod transfer;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::reach::Audience;
use crate::api::{self, Error, Segment, SegmentInput, SegmentKind};
use crate::components::common::{ErrorNote, Loading, Page};
use crate::components::syncs::Syncs;
use crate::ctx::AppState;
use crate::format;
use crate::session::{Session, encode_component};
use transfer::{DownloadMembers, NewFromFile, ReplaceMembers, ReplaceResult};

/// The Segments page.
#[component]
pub fn Segments() -> impl IntoView {
    view! {
        <Page title="Segments" lede="Saved audiences. Dynamic segments are recomputed for every new day; static ones keep their members." day_picker=true>
            <SegmentsBody />
        </Page>
    }
}

/// A write waiting for the user's choice after a conflict.
#[derive(Debug, Clone, PartialEq)]
enum Pending {
    Rename(Segment, String),
    Delete(Segment),
}

impl Pending {
    fn segment(&self) -> &Segment {
        match self {
            Pending::Rename(s, _) | Pending::Delete(s) => s,
        }
    }
}

/// Runs a write; unless `force`, it is refused when the segment changed since it was listed.
async fn run(s: &Session, op: &Pending, force: bool) -> Result<(), Error> {
    let listed = op.segment();
    let (current, etag) = api::segment(s, &listed.id).await?;
    if !force && current.revision != listed.revision {
        return Err(Error::api(412, "precondition_failed", "the segment changed since this list was loaded"));
    }
    match op {
        Pending::Rename(_, name) => {
            let input = SegmentInput {
                id: Some(current.id.clone()),
                name: name.clone(),
                description: Some(current.description.clone()),
                kind: Some(current.kind),
                rule: current.rule.clone(),
                version: None,
            };
            api::update_segment(s, &input, etag.as_deref()).await.map(|_| ())
        }
        Pending::Delete(_) => api::delete_segment(s, &current.id, etag.as_deref()).await,
    }
}

#[component]
fn SegmentsBody() -> impl IntoView {
    let state = AppState::get();
    let list = LocalResource::new(move || {
        let s = state.session.get();
        async move {
            match s {
                Some(s) => api::segments(&s).await,
                None => Ok(Vec::new()),
            }
        }
    });
    let editing = RwSignal::new(None::<String>);
    let new_name = RwSignal::new(String::new());
    let confirming = RwSignal::new(None::<String>);
    let conflict = RwSignal::new(None::<Pending>);
    let problem = RwSignal::new(None::<Error>);
    let notice = RwSignal::new(None::<String>);
    let replaced = RwSignal::new(None::<transfer::Uploaded>);
    // The destinations a segment can be sent to (tokens that see members only).
    let destinations = LocalResource::new(move || {
        let s = state.session.get();
        let sees = state.access.get().is_some_and(|a| a.sees_members());
        async move {
            match s {
                Some(s) if sees => api::reach::destinations(&s).await,
                _ => Ok(Vec::new()),
            }
        }
    });

    let perform = move |op: Pending, force: bool| {
        let Some(s) = state.session.get_untracked() else { return };
        spawn_local(async move {
            match run(&s, &op, force).await {
                Ok(()) => {
                    notice.set(Some(match &op {
                        Pending::Rename(seg, name) => format!("Renamed “{}” to “{name}”.", seg.name),
                        Pending::Delete(seg) => format!("Deleted “{}”.", seg.name),
                    }));
                    conflict.set(None);
                    problem.set(None);
                    editing.set(None);
                    confirming.set(None);
                    list.refetch();
                    state.manifest.refetch();
                }
                Err(e) if e.is_conflict() => conflict.set(Some(op)),
                Err(e) => problem.set(Some(e)),
            }
        });
    };

    // Aggregate tokens write nothing: no split, rename or delete.
    let writes = move || state.access_or_default().writes();
    let sees_members = move || state.access_or_default().sees_members();
    let size_of = move |id: &str| -> Option<u64> {
        state.manifest.get().and_then(Result::ok).and_then(|m| m.segment(id).map(|s| s.members.full.count))
    };

    view! {
        {move || {
            conflict
                .get()
                .map(|op| {
                    let name = op.segment().name.clone();
                    let op2 = op.clone();
                    view! {
                        <div class="banner banner-warning" role="alert" data-testid="conflict">
                            <span>"“" {name} "” was changed elsewhere: reload to see the change, or overwrite it."</span>
                            <span class="banner-actions">
                                <button
                                    class="button button-quiet"
                                    on:click=move |_| {
                                        conflict.set(None);
                                        list.refetch();
                                    }
                                >
                                    "Reload"
                                </button>
                                <button class="button button-danger" on:click=move |_| perform(op2.clone(), true)>
                                    "Overwrite"
                                </button>
                            </span>
                        </div>
                    }
                })
        }}
        {move || notice.get().map(|n| view! { <div class="banner banner-good" role="status">{n}</div> })}
        {move || problem.get().map(|e| view! { <ErrorNote error=e /> })}
        {move || writes().then(|| view! { <NewFromFile on_done=move |_| { list.refetch(); state.manifest.refetch(); } /> })}
        <ReplaceResult result=replaced />
        <div class="card table-card">
            {move || match list.get() {
                None => view! { <Loading what="Loading segments…" /> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote error=e /> }.into_any(),
                Some(Ok(segments)) if segments.is_empty() => {
                    view! {
                        <div class="empty-state">
                            <p class="muted">"No segments yet."</p>
                            <a class="button" href="/audience">"Build an audience"</a>
                        </div>
                    }
                        .into_any()
                }
                Some(Ok(segments)) => {
                    view! {
                        <table class="table segments-table" data-testid="segments-table">
                            <thead>
                                <tr>
                                    <th scope="col">"Name"</th>
                                    <th scope="col">"Kind"</th>
                                    <th scope="col" class="num">"Size"</th>
                                    <th scope="col">"Last change"</th>
                                    <th scope="col" class="actions-col">
                                        <span class="sr-only">"Actions"</span>
                                    </th>
                                </tr>
                            </thead>
                            <tbody>
                                {segments
                                    .into_iter()
                                    .map(|seg| {
                                        let id = seg.id.clone();
                                        let id2 = id.clone();
                                        let id3 = id.clone();
                                        let id4 = id.clone();
                                        let (id5, id6, id7) = (id.clone(), id.clone(), id.clone());
                                        let size = {
                                            let id = id.clone();
                                            move || match size_of(&id) {
                                                Some(n) => state.access_or_default().count(Some(n)),
                                                None => "–".into(),
                                            }
                                        };
                                        let open_href = format!("/audience?segment={}", encode_component(&id));
                                        let is_dynamic = seg.kind == SegmentKind::Dynamic;
                                        let seg_r = seg.clone();
                                        let seg_d = seg.clone();
                                        let (shown_name, shown_id) = (seg.name.clone(), seg.id.clone());
                                        view! {
                                            <tr data-testid="segment-row" data-id=id.clone()>
                                                <td>
                                                    {move || match editing.get() {
                                                        Some(eid) if eid == id2 => {
                                                            let seg_r = seg_r.clone();
                                                            view! {
                                                                <form
                                                                    class="inline-form"
                                                                    on:submit=move |ev| {
                                                                        ev.prevent_default();
                                                                        perform(Pending::Rename(seg_r.clone(), new_name.get_untracked()), false);
                                                                    }
                                                                >
                                                                    <input
                                                                        class="input input-small"
                                                                        aria-label="New name"
                                                                        data-testid="rename-input"
                                                                        prop:value=new_name.get_untracked()
                                                                        on:input=move |ev| new_name.set(event_target_value(&ev))
                                                                    />
                                                                    <button class="button button-small" type="submit">"Save"</button>
                                                                    <button class="button button-small button-quiet" type="button" on:click=move |_| editing.set(None)>
                                                                        "Cancel"
                                                                    </button>
                                                                </form>
                                                            }
                                                                .into_any()
                                                        }
                                                        _ => {
                                                            view! {
                                                                <span class="segment-name">{shown_name.clone()}</span>
                                                                <span class="muted small mono segment-id">{shown_id.clone()}</span>
                                                            }
                                                                .into_any()
                                                        }
                                                    }}
                                                </td>
                                                <td>
                                                    <span class=format!("pill pill-{}", seg.kind.as_str())>{seg.kind.as_str()}</span>
                                                </td>
                                                <td class="num" data-label="Users">{size}</td>
                                                <td class="muted small" data-label="Changed">{format::utc_ms(seg.updated_ms)}</td>
                                                <td class="row-actions">
                                                    {is_dynamic
                                                        .then(|| {
                                                            view! {
                                                                <a class="button button-small" href=open_href.clone() data-testid="open-segment">
                                                                    "Open"
                                                                </a>
                                                            }
                                                        })}
                                                    <a
                                                        class="button button-small button-quiet"
                                                        href=format!("/trends?segments={}", encode_component(&id))
                                                        data-testid="segment-trends"
                                                    >
                                                        "Trends"
                                                    </a>
                                                    {move || sees_members().then(|| {
                                                        let id = id5.clone();
                                                        let members = Signal::derive(move || size_of(&id));
                                                        view! { <DownloadMembers id=id5.clone() members /> }
                                                    })}
                                                    {move || (writes() && !is_dynamic).then(|| view! {
                                                        <ReplaceMembers id=id6.clone() result=replaced on_done=move |_| { list.refetch(); state.manifest.refetch(); } />
                                                    })}
                                                    {move || writes().then(|| { let id = id4.clone(); view! {
                                                    <a
                                                        class="button button-small button-quiet"
                                                        href=format!("/split?segment={}", encode_component(&id))
                                                        data-testid="segment-split"
                                                    >
                                                        "Split"
                                                    </a>
                                                    }})}
                                                    <button
                                                        hidden=move || !writes()
                                                        class="button button-small button-quiet"
                                                        on:click={
                                                            let id = id.clone();
                                                            let name = seg.name.clone();
                                                            move |_| {
                                                                new_name.set(name.clone());
                                                                editing.set(Some(id.clone()));
                                                            }
                                                        }
                                                    >
                                                        "Rename"
                                                    </button>
                                                    {move || {
                                                        if !writes() {
                                                            ().into_any()
                                                        } else if confirming.get().as_deref() == Some(id3.as_str()) {
                                                            let seg_d = seg_d.clone();
                                                            view! {
                                                                <button
                                                                    class="button button-small button-danger"
                                                                    on:click=move |_| perform(Pending::Delete(seg_d.clone()), false)
                                                                >
                                                                    "Confirm delete"
                                                                </button>
                                                            }
                                                                .into_any()
                                                        } else {
                                                            let id = id3.clone();
                                                            view! {
                                                                <button
                                                                    class="button button-small button-quiet"
                                                                    on:click=move |_| confirming.set(Some(id.clone()))
                                                                >
                                                                    "Delete"
                                                                </button>
                                                            }
                                                                .into_any()
                                                        }
                                                    }}
                                                </td>
                                            </tr>
                                            {move || sees_members().then(|| view! {
                                                <tr class="sync-row" data-testid="sync-row" data-id=id7.clone()>
                                                    <td colspan="5"><Syncs audience=Audience::Segment(id7.clone()) destinations /></td>
                                                </tr>
                                            })}
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    }
                        .into_any()
                }
            }}
        </div>
    }
}
