//! The Tags page's governance parts (issue 15): a group's catalog record and its edit form
//! (offline asks to confirm, listing who is affected), the day's versions with restore, held
//! uploads with approve and reject, and composite tags. The logic (what a form patches, what
//! the badge counts) is in [`crate::catalog`].

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, Error};
use crate::catalog::{self, Form};
use crate::components::common::{ErrorNote, field_error};
use crate::ctx::AppState;

/// Bumped after every governance change, so the catalog, the holds and the navigation's badge
/// read the server again.
#[derive(Debug, Clone, Copy)]
pub struct GovernanceTick(RwSignal<u64>);

impl GovernanceTick {
    /// The app's tick (provided by the shell; a new one if none is).
    pub fn get() -> GovernanceTick {
        use_context::<GovernanceTick>().unwrap_or_else(|| {
            let tick = GovernanceTick(RwSignal::new(0));
            provide_context(tick);
            tick
        })
    }

    /// A new tick, to provide.
    pub fn new() -> GovernanceTick {
        GovernanceTick(RwSignal::new(0))
    }

    /// Subscribes the caller.
    pub fn track(self) {
        self.0.track();
    }

    /// Says something changed.
    pub fn bump(self) {
        self.0.update(|n| *n += 1);
    }
}

impl Default for GovernanceTick {
    fn default() -> Self {
        GovernanceTick::new()
    }
}

/// After a change that publishes: the days, the manifest and the catalog again.
fn published(state: AppState, tick: GovernanceTick) {
    state.days.refetch();
    state.manifest.refetch();
    tick.bump();
}

/// A group's state as pills.
pub fn badges(info: &wire::GroupInfo) -> impl IntoView + use<> {
    let offline = info.status == wire::GroupStatus::Offline;
    let (composite, stale, flagged, held) = (info.composite, info.stale, !info.flags.is_empty(), info.held);
    view! {
        {composite.then(|| view! { <span class="pill pill-dynamic">"composite"</span> })}
        {offline.then(|| view! { <span class="pill pill-warning" data-testid="offline">"offline"</span> })}
        {stale.then(|| view! { <span class="pill pill-warning" data-testid="stale">"stale"</span> })}
        {flagged.then(|| view! { <span class="pill pill-warning" data-testid="flagged">"flagged"</span> })}
        {(held > 0).then(|| view! { <span class="pill pill-warning" data-testid="held">{format!("{held} held")}</span> })}
    }
}

/// What the catalog says of a group: description, owner, cadence, policy, usage, flags.
#[component]
pub fn About(info: wire::GroupInfo) -> impl IntoView {
    let quality = format!(
        "quality: {} beyond {}%",
        if info.quality.policy == wire::QualityAction::Hold { "hold" } else { "warn" },
        info.quality.max_change_pct
    );
    let cadence = catalog::name_of(&info.cadence);
    let owner = if info.owner.is_empty() { "no owner".to_owned() } else { format!("owner {}", info.owner) };
    view! {
        {(!info.description.is_empty()).then(|| view! { <p class="small" data-testid="group-description">{info.description.clone()}</p> })}
        <p class="muted small" data-testid="group-meta">{format!("{owner} · {cadence} · {quality}")}</p>
        <p class="muted small" data-testid="group-usage">{catalog::usage_line(&info.usage)}</p>
        {info
            .offline_from
            .clone()
            .map(|d| view! { <p class="small">"Not carried to days from " {d} " on."</p> })}
        {(!info.flags.is_empty())
            .then(|| {
                view! {
                    <ul class="small flag-list" data-testid="group-flags">
                        {info.flags.iter().map(|c| view! { <li>{c.message.clone()}</li> }).collect_view()}
                    </ul>
                }
            })}
    }
}

/// The edit form of a group (editors). Going offline asks the server who is affected first
/// (a dry run) and shows it with a confirm button.
#[component]
pub fn EditGroup(info: wire::GroupInfo, done: RwSignal<bool>) -> impl IntoView {
    let state = AppState::get();
    let tick = GovernanceTick::get();
    let form = RwSignal::new(Form::of(&info));
    let error = RwSignal::new(None::<Error>);
    let affected = RwSignal::new(None::<(wire::Affected, wire::GroupPatch)>);
    let busy = RwSignal::new(false);
    let group = info.name.clone();
    let send = {
        let group = group.clone();
        move |patch: wire::GroupPatch| {
            let Some(s) = state.session.get_untracked() else { return };
            let group = group.clone();
            busy.set(true);
            spawn_local(async move {
                let asks = patch.status == Some(wire::GroupStatus::Offline) && !patch.dry_run;
                let dry = wire::GroupPatch { dry_run: true, ..patch.clone() };
                let first = if asks { api::patch_group(&s, &group, &dry).await.map(Some) } else { Ok(None) };
                match first {
                    Ok(Some(change)) if affected.get_untracked().is_none() => {
                        error.set(None);
                        affected.set(Some((change.affected, patch)));
                    }
                    Err(e) => error.set(Some(e)),
                    Ok(_) => match api::patch_group(&s, &group, &patch).await {
                        Ok(_) => {
                            error.set(None);
                            affected.set(None);
                            done.set(false);
                            tick.bump();
                        }
                        Err(e) => error.set(Some(e)),
                    },
                }
                busy.set(false);
            });
        }
    };
    let send_form = send.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        affected.set(None);
        match form.get_untracked().patch(&info) {
            Ok(Some(p)) => send_form(p),
            Ok(None) => done.set(false),
            Err((field, message)) => error.set(Some(Error::Api {
                status: 400,
                body: Box::new(wire::ErrorBody {
                    error: "invalid_field".into(),
                    message,
                    field: Some(field.into()),
                    path: None,
                    line: None,
                    row: None,
                    column: None,
                    cycle: None,
                }),
            })),
        }
    };
    const FIELDS: &[&str] = &["display_name", "description", "owner", "category", "status", "cadence", "quality"];
    let about = move |f: &'static str| field_error(error, Some(f), FIELDS);
    let text = move |label: &'static str, f: &'static str, get: fn(&Form) -> String, set: fn(&mut Form, String)| {
        view! {
            <label class="form-field">
                <span class="form-label">{label}</span>
                <input
                    class="input"
                    data-testid=format!("edit-{f}")
                    prop:value=move || form.with(get)
                    on:input=move |ev| form.update(|fm| set(fm, event_target_value(&ev)))
                />
                {about(f)}
            </label>
        }
    };
    let select = move |label: &'static str,
                       f: &'static str,
                       options: &'static [&'static str],
                       get: fn(&Form) -> String,
                       set: fn(&mut Form, String)| {
        view! {
            <label class="form-field">
                <span class="form-label">{label}</span>
                <select
                    class="input"
                    data-testid=format!("edit-{f}")
                    prop:value=move || form.with(get)
                    on:change=move |ev| form.update(|fm| set(fm, event_target_value(&ev)))
                >
                    {options.iter().map(|o| view! { <option value=*o>{*o}</option> }).collect_view()}
                </select>
            </label>
        }
    };
    let other = field_error(error, None, FIELDS);
    view! {
        <form class="form group-edit" on:submit=submit data-testid="group-edit">
            {text("Display name", "display_name", |f| f.display_name.clone(), |f, v| f.display_name = v)}
            {text("Description", "description", |f| f.description.clone(), |f, v| f.description = v)}
            {text("Owner", "owner", |f| f.owner.clone(), |f, v| f.owner = v)}
            {text("Category", "category", |f| f.category.clone(), |f, v| f.category = v)}
            {select("Status", "status", &["active", "offline"], |f| f.status.clone(), |f, v| f.status = v)}
            {select("Cadence", "cadence", &["adhoc", "daily", "weekly", "monthly"], |f| f.cadence.clone(), |f, v| f.cadence = v)}
            {select("On a failed check", "policy", &["warn", "hold"], |f| f.policy.clone(), |f, v| f.policy = v)}
            {text("Largest change accepted (%)", "max_change_pct", |f| f.max_change_pct.clone(), |f, v| f.max_change_pct = v)}
            {about("quality")}
            {other}
            {move || {
                affected
                    .get()
                    .map(|(a, patch)| {
                        let send = send.clone();
                        let who = if a.segments.is_empty() && a.composites.is_empty() {
                            "Nothing uses it.".to_owned()
                        } else {
                            format!(
                                "Segments: {}. Composite tags: {}. Experiments: {}.",
                                list(&a.segments),
                                list(&a.composites),
                                list(&a.experiments)
                            )
                        };
                        view! {
                            <div class="banner banner-warning" role="alert" data-testid="offline-confirm">
                                <span>
                                    "Offline from the next day on: it leaves the builder, the profile and carry-forward, and what uses it stops there. "
                                    <span data-testid="affected">{who}</span>
                                </span>
                                <button
                                    class="button"
                                    type="button"
                                    data-testid="confirm-offline"
                                    on:click=move |_| send(patch.clone())
                                >
                                    "Take it offline"
                                </button>
                            </div>
                        }
                    })
            }}
            <div class="form-actions">
                <button class="button" type="submit" data-testid="save-group" disabled=move || busy.get()>
                    "Save"
                </button>
            </div>
        </form>
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() { "none".to_owned() } else { items.join(", ") }
}

/// The versions of the day that changed `group`, newest first, with restore (editors).
#[component]
pub fn Versions(group: String, ds: String, edits: Memo<bool>) -> impl IntoView {
    let state = AppState::get();
    let tick = GovernanceTick::get();
    let error = RwSignal::new(None::<Error>);
    let d = ds.clone();
    let versions = LocalResource::new(move || {
        tick.track();
        let (s, ds) = (state.session.get(), d.clone());
        async move {
            match s {
                Some(s) => api::day_versions(&s, &ds).await,
                None => Err(Error::api(401, "unauthorized", "not signed in")),
            }
        }
    });
    view! {
        <div class="versions" data-testid="versions">
            {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
            {move || match versions.get() {
                None => view! { <p class="muted small">"Loading versions…"</p> }.into_any(),
                Some(Err(e)) => view! { <ErrorNote error=e /> }.into_any(),
                Some(Ok(v)) => {
                    let current = v.current;
                    let rows: Vec<wire::DayVersion> =
                        v.versions.into_iter().filter(|x| x.group.as_deref() == Some(group.as_str())).collect();
                    if rows.is_empty() {
                        return view! { <p class="muted small">"No version of " {ds.clone()} " changed this group."</p> }.into_any();
                    }
                    let (group, ds) = (group.clone(), ds.clone());
                    view! {
                        <ol class="version-list small" reversed>
                            {rows
                                .into_iter()
                                .map(|x| {
                                    let (group, ds) = (group.clone(), ds.clone());
                                    let why = catalog::name_of(&x.cause);
                                    let why = match x.restored_from {
                                        Some(n) => format!("{why} of v{n}"),
                                        None => why,
                                    };
                                    let holders = match (x.holders_before, x.holders_after) {
                                        (Some(b), Some(a)) => format!(" · holders {b} → {a}"),
                                        (None, Some(a)) => format!(" · {a} holders"),
                                        _ => String::new(),
                                    };
                                    let verdict = x.verdict.map(|v| format!(" · {}", catalog::name_of(&v))).unwrap_or_default();
                                    let by = x.by.map(|b| format!(" by {}", b.name)).unwrap_or_default();
                                    let n = x.version;
                                    let can = x.restorable && n != current;
                                    let current_mark = if n == current { " (current)" } else { "" };
                                    view! {
                                        <li data-testid="version-row" data-version=n>
                                            <strong>{format!("v{n}{current_mark}")}</strong>
                                            {format!(" {why}{by}{holders}{verdict}")}
                                            {move || {
                                                (edits.get() && can)
                                                    .then(|| {
                                                        let (group, ds) = (group.clone(), ds.clone());
                                                        view! {
                                                            " "
                                                            <button
                                                                class="button button-quiet button-small"
                                                                data-testid="restore"
                                                                on:click=move |_| {
                                                                    let Some(s) = state.session.get_untracked() else { return };
                                                                    let (group, ds) = (group.clone(), ds.clone());
                                                                    spawn_local(async move {
                                                                        match api::restore_group(&s, &ds, &group, n).await {
                                                                            Ok(_) => {
                                                                                error.set(None);
                                                                                published(state, tick);
                                                                            }
                                                                            Err(e) => error.set(Some(e)),
                                                                        }
                                                                    });
                                                                }
                                                            >
                                                                "Restore"
                                                            </button>
                                                        }
                                                    })
                                            }}
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ol>
                    }
                        .into_any()
                }
            }}
        </div>
    }
}

/// Uploads held by their checks, with approve and reject for editors. Tokens that may not
/// read holds (aggregate) see nothing here.
#[component]
pub fn HoldsPanel(edits: Memo<bool>) -> impl IntoView {
    let state = AppState::get();
    let tick = GovernanceTick::get();
    let error = RwSignal::new(None::<Error>);
    // Holds carry exact counts: aggregate tokens may not read them (and are not asked to).
    let reads = Memo::new(move |_| state.access.with(|a| a.as_ref().is_some_and(catalog::reads_holds)));
    let holds = LocalResource::new(move || {
        tick.track();
        let s = state.session.get().filter(|_| reads.get());
        async move {
            match s {
                Some(s) => api::holds(&s).await.ok(),
                None => None,
            }
        }
    });
    let decide = move |id: String, approve: bool| {
        let Some(s) = state.session.get_untracked() else { return };
        spawn_local(async move {
            match api::decide_hold(&s, &id, approve).await {
                Ok(()) => {
                    error.set(None);
                    published(state, tick);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    move || {
        let list = holds.get().flatten().unwrap_or_default();
        (!list.is_empty()).then(|| {
            view! {
                <article class="card holds" data-testid="holds">
                    <h2 class="card-title">{format!("Held uploads ({})", list.len())}</h2>
                    <p class="muted small">"These uploads failed a quality check of a group whose policy is hold: nothing was published. Approving publishes one as if uploaded now."</p>
                    {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
                    <ul class="hold-list">
                        {list
                            .into_iter()
                            .map(|h| {
                                let failed: Vec<String> = h.checks.iter().filter(|c| !c.ok).map(|c| c.message.clone()).collect();
                                let (a, r) = (h.id.clone(), h.id.clone());
                                view! {
                                    <li data-testid="hold" data-group=h.group.clone()>
                                        <strong>{h.group.clone()}</strong>
                                        {format!(" on {} · {} rows by {}", h.ds, h.rows, h.by.name)}
                                        <ul class="small">{failed.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}</ul>
                                        {move || {
                                            let (a, r) = (a.clone(), r.clone());
                                            edits.get().then(|| view! {
                                                <button class="button" data-testid="approve" on:click=move |_| decide(a.clone(), true)>"Approve"</button>
                                                " "
                                                <button class="button button-quiet" data-testid="reject" on:click=move |_| decide(r.clone(), false)>"Reject"</button>
                                            })
                                        }}
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </article>
            }
        })
    }
}

/// Composite tags: their definitions, and for editors a form to define or delete one.
#[component]
pub fn Composites(edits: Memo<bool>) -> impl IntoView {
    let state = AppState::get();
    let tick = GovernanceTick::get();
    let error = RwSignal::new(None::<Error>);
    let list = LocalResource::new(move || {
        tick.track();
        let s = state.session.get();
        async move {
            match s {
                Some(s) => api::composites(&s).await.ok(),
                None => None,
            }
        }
    });
    let group = RwSignal::new(String::new());
    let category = RwSignal::new(String::new());
    let multi = RwSignal::new(false);
    let values = RwSignal::new(String::from("{\n  \"champions\": {\"all\": []}\n}"));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(s) = state.session.get_untracked() else { return };
        let parsed = match catalog::composite_values(&values.get_untracked()) {
            Ok(v) => v,
            Err(m) => return error.set(Some(Error::api(400, "invalid_field", m))),
        };
        let input =
            wire::CompositeInput { values: parsed, category: category.get_untracked(), multi: multi.get_untracked() };
        let g = group.get_untracked().trim().to_owned();
        spawn_local(async move {
            match api::put_composite(&s, &g, &input).await {
                Ok(_) => {
                    error.set(None);
                    published(state, tick);
                }
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let remove = move |g: String| {
        let Some(s) = state.session.get_untracked() else { return };
        spawn_local(async move {
            match api::delete_composite(&s, &g).await {
                Ok(()) => published(state, tick),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    view! {
        <article class="card composites" data-testid="composites">
            <h2 class="card-title">"Composite tags"</h2>
            <p class="muted small">"A tag group whose values are rules, computed on every day; without “several values”, a user gets the first value that matches."</p>
            <ul class="small">
                {move || {
                    list.get()
                        .flatten()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|c| {
                            let g = c.group.clone();
                            let names: Vec<String> = c.values.iter().map(|v| v.value.clone()).collect();
                            view! {
                                <li data-testid="composite" data-group=c.group.clone()>
                                    <strong>{c.group.clone()}</strong>
                                    {format!(": {}{}", names.join(", "), if c.multi { " (several values)" } else { "" })}
                                    {move || {
                                        let g = g.clone();
                                        edits.get().then(|| view! {
                                            " "
                                            <button class="button button-quiet" on:click=move |_| remove(g.clone())>"Delete"</button>
                                        })
                                    }}
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
            {move || error.get().map(|e| view! { <ErrorNote error=e /> })}
            {move || {
                edits.get().then(|| view! {
                    <form class="form" on:submit=submit data-testid="composite-form">
                        <label class="form-field">
                            <span class="form-label">"Group"</span>
                            <input class="input" data-testid="composite-group" prop:value=move || group.get() on:input=move |ev| group.set(event_target_value(&ev)) />
                        </label>
                        <label class="form-field">
                            <span class="form-label">"Category"</span>
                            <input class="input" data-testid="composite-category" prop:value=move || category.get() on:input=move |ev| category.set(event_target_value(&ev)) />
                        </label>
                        <label class="form-check">
                            <input type="checkbox" data-testid="composite-multi" prop:checked=move || multi.get() on:change=move |ev| multi.set(event_target_checked(&ev)) />
                            "Several values per user (every matching one)"
                        </label>
                        <label class="form-field">
                            <span class="form-label">"Values: {\"value\": rule, …} in order"</span>
                            <textarea class="input mono" rows="6" data-testid="composite-values" prop:value=move || values.get() on:input=move |ev| values.set(event_target_value(&ev))></textarea>
                        </label>
                        <div class="form-actions">
                            <button class="button" type="submit" data-testid="save-composite">"Save composite"</button>
                        </div>
                    </form>
                })
            }}
        </article>
    }
}
