//! The audience builder: nested groups of conditions, the size on every edit (sample estimate
//! first, exact once the full-tier blobs are in, or the server's count above the download
//! budget), the per-condition funnel, saving as a segment, and the profile.
//!
//! The component only binds signals to views: the tree edits live in [`crate::draft`], the
//! evaluation in [`crate::estimate`], the profile in [`crate::profile`] and the charts in
//! [`crate::charts`].

use std::collections::BTreeSet;
use std::sync::Arc;

use engine::{IdSet, Manifest, Plan, Rule};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::api::{self, Error, SegmentInput};
use crate::catalog;
use crate::charts;
use crate::components::common::{DayPicker, ErrorNote, Loading, RequireSession};
use crate::ctx::AppState;
use crate::draft::{BoundOp, Bounds, Cond, Draft, Node, Op, path_key, slug};
use crate::estimate::{self, EventWindow, Outcome, Tier};
use crate::format;
use crate::profile;
use crate::session::{encode_component, parse_query};
use engine::catalog::NumericInfo;
use engine::rule::Measure;

/// The select value that turns a condition into a segment reference.
const SEGMENT_CHOICE: &str = "__segment";
/// Prefix of the select values that turn a condition into an event condition.
const EVENT_CHOICE: &str = "__event:";

/// The Audience page.
#[component]
pub fn Audience() -> impl IntoView {
    view! {
        <section class="page page-wide">
            <header class="page-header page-header-row">
                <div>
                    <h1 class="page-title">"Audience"</h1>
                    <p class="page-lede">"Combine tags and segments; the size updates on every click."</p>
                </div>
                <DayPicker />
            </header>
            <RequireSession>
                <Builder />
            </RequireSession>
        </section>
    }
}

/// A validated plan, compared by its rule and day (plans themselves are not comparable).
#[derive(Debug, Clone)]
struct Checked {
    key: String,
    plan: Arc<Plan>,
    manifest: Arc<Manifest>,
    window: Arc<EventWindow>,
}

impl PartialEq for Checked {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
            && Arc::ptr_eq(&self.manifest, &other.manifest)
            && Arc::ptr_eq(&self.window, &other.window)
    }
}

/// What validation says about the rule on the chosen day.
#[derive(Debug, Clone, PartialEq)]
enum Validity {
    /// The day's manifest is not loaded yet.
    Waiting,
    /// The rule names something the day does not have (path, message).
    Invalid(String, String),
    /// Ready to evaluate.
    Valid(Checked),
}

/// Members of the audience on a tier, compared by identity.
#[derive(Debug, Clone)]
struct Members(Tier, Arc<IdSet>);

impl PartialEq for Members {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 && Arc::ptr_eq(&self.1, &other.1)
    }
}

/// The segment being edited, when the builder was opened from Segments.
#[derive(Debug, Clone, PartialEq)]
struct Editing {
    id: String,
    name: String,
    etag: Option<String>,
}

/// Handles the tree views need.
#[derive(Debug, Clone, Copy)]
struct Tree {
    draft: RwSignal<Draft>,
    selected: RwSignal<Option<Vec<usize>>>,
}

/// Writes the rule (and the segment being edited) into the address bar, so a link shares the
/// audience and a reload keeps it.
fn write_url(rule: &Rule, segment: Option<&str>) {
    let mut query = Vec::new();
    if !matches!(rule, Rule::All(m) if m.is_empty()) {
        query.push(format!("rule={}", encode_component(&rule.to_json().to_string())));
    }
    if let Some(id) = segment {
        query.push(format!("segment={}", encode_component(id)));
    }
    let url = if query.is_empty() { "/audience".to_owned() } else { format!("/audience?{}", query.join("&")) };
    if let Some(w) = web_sys::window()
        && let Ok(h) = w.history()
    {
        let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// Focuses the condition row at `path` after the next render.
fn focus_row(path: Vec<usize>) {
    let key = path_key(&path);
    request_animation_frame(move || {
        let found = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.query_selector(&format!("[data-path=\"{key}\"]")).ok().flatten())
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(el) = found {
            let _ = el.focus();
        }
    });
}

/// The rule and segment named in the address bar.
fn read_url() -> (Option<Rule>, Option<String>, Option<String>) {
    let search = web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default();
    let pairs = parse_query(&search);
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let (rule, problem) = match get("rule").map(|text| Rule::parse(&text)) {
        Some(Ok(rule)) => (Some(rule), None),
        Some(Err(e)) => (None, Some(format!("The rule in the link could not be read ({e}).",))),
        None => (None, None),
    };
    (rule, get("segment"), problem)
}

#[component]
fn Builder() -> impl IntoView {
    let state = AppState::get();
    let (url_rule, url_segment, url_problem) = read_url();
    let draft = RwSignal::new(url_rule.as_ref().map(Draft::from_rule).unwrap_or_default());
    let selected = RwSignal::new(None::<Vec<usize>>);
    let editing = RwSignal::new(None::<Editing>);
    let tree = Tree { draft, selected };

    // Opened from Segments: load the segment (its rule, unless the link carries one).
    if let (Some(id), Some(s)) = (url_segment.clone(), state.session.get_untracked()) {
        let take_rule = url_rule.is_none();
        spawn_local(async move {
            if let Ok((seg, etag)) = api::segment(&s, &id).await {
                if take_rule && let Some(rule) = seg.rule.as_ref().and_then(|r| Rule::from_json(r).ok()) {
                    draft.set(Draft::from_rule(&rule));
                }
                editing.set(Some(Editing { id: seg.id, name: seg.name, etag }));
            }
        });
    }

    let compiled = Memo::new(move |_| draft.with(Draft::compile));
    Effect::new(move |_| {
        let c = compiled.get();
        let id = editing.with(|e| e.as_ref().map(|e| e.id.clone())).or(url_segment.clone());
        write_url(&c.rule, id.as_deref());
    });

    let validity = Memo::new(move |_| {
        let c = compiled.get();
        // Without the event window (older server, or it failed), event conditions are refused
        // by validation with their path; everything else still works.
        let window = match state.events.get() {
            Some(Ok(w)) => w,
            Some(Err(_)) => Arc::new(EventWindow::default()),
            None => return Validity::Waiting,
        };
        match state.manifest.get() {
            Some(Ok(m)) => match Plan::validate(&c.rule, &estimate::catalog(&m, &window)) {
                Ok(plan) => Validity::Valid(Checked {
                    key: c.rule.to_json().to_string(),
                    plan: Arc::new(plan),
                    manifest: m,
                    window,
                }),
                Err(e) => Validity::Invalid(e.path.clone(), e.reason.to_string()),
            },
            _ => Validity::Waiting,
        }
    });
    let checked = Memo::new(move |_| match validity.get() {
        Validity::Valid(c) => Some(c),
        _ => None,
    });

    // Which blobs the rule needs, and whether the full tier fits the budget.
    let refs = Memo::new(move |_| {
        checked.get().map(|c| {
            let needs = c.plan.needs();
            (
                estimate::needed(&c.manifest, &c.window, &needs, Tier::Sample),
                estimate::needed(&c.manifest, &c.window, &needs, Tier::Full),
            )
        })
    });
    let full_missing = Memo::new(move |_| {
        state.blob_tick.track();
        refs.with(|r| {
            r.as_ref().map(|(_, full)| state.blobs.with_value(|b| estimate::missing_bytes(full, b))).unwrap_or(0)
        })
    });
    let full_total =
        Memo::new(move |_| refs.with(|r| r.as_ref().map(|(_, f)| f.iter().map(|x| x.bytes).sum::<u64>()).unwrap_or(0)));
    let over_budget = Memo::new(move |_| full_missing.get() > state.budget_bytes());
    Effect::new(move |_| {
        if let Some((sample, full)) = refs.get() {
            state.ensure(&sample);
            if !over_budget.get() {
                state.ensure(&full);
            }
        }
    });

    let outcome = move |tier: Tier| {
        state.blob_tick.track();
        checked.with(|c| {
            c.as_ref()
                .and_then(|c| state.blobs.with_value(|b| estimate::evaluate(&c.plan, &c.manifest, &c.window, b, tier)))
        })
    };
    let sample = Memo::new(move |_| outcome(Tier::Sample));
    let exact = Memo::new(move |_| outcome(Tier::Full));
    let server_exact = LocalResource::new(move || {
        let ask = over_budget.get() && checked.with(Option::is_some);
        let rule = compiled.with(|c| c.rule.to_json());
        let (s, ds) = (state.session.get(), state.ds.get());
        async move {
            match (ask, s, ds) {
                (true, Some(s), Some(ds)) => Some(api::estimate(&s, &ds, &rule, "exact").await),
                _ => None,
            }
        }
    });

    view! {
        {url_problem.map(|p| view! { <div class="banner banner-warning" role="alert">{p}</div> })}
        <div class="builder-layout">
            <div class="builder-main">
                <ConditionsCard tree validity />
                <PickerCard tree />
            </div>
            <aside class="builder-side">
                <EstimateCard sample exact server_exact over_budget full_missing full_total />
                <FunnelCard tree sample exact server_exact />
                <SaveCard compiled editing draft />
            </aside>
        </div>
        <ProfileSection checked exact sample />
    }
}

// ---- the condition tree ----

#[component]
fn ConditionsCard(tree: Tree, validity: Memo<Validity>) -> impl IntoView {
    let add = move |cond: Cond| {
        let mut new_path = None;
        tree.draft.update(|d| new_path = d.add(&[], cond));
        tree.selected.set(new_path.clone());
        if let Some(p) = new_path {
            focus_row(p);
        }
    };
    view! {
        <article class="card conditions" aria-labelledby="conditions-title">
            <header class="card-head">
                <h2 class="card-title" id="conditions-title">"Conditions"</h2>
                <span class="muted small">"Users must match all of these"</span>
            </header>
            <div class="cond-tree" data-testid="cond-tree">
                {move || {
                    let d = tree.draft.get();
                    if d.conds.is_empty() {
                        view! {
                            <p class="muted empty-state">
                                "No conditions yet: the audience is every user. Add a condition to narrow it."
                            </p>
                        }
                            .into_any()
                    } else {
                        let n = d.conds.len();
                        d.conds
                            .iter()
                            .enumerate()
                            .map(|(i, c)| cond_view(tree, c, vec![i], n))
                            .collect_view()
                            .into_any()
                    }
                }}
            </div>
            {move || match validity.get() {
                Validity::Invalid(path, message) => {
                    Some(view! { <p class="error-detail" role="alert">"Rule problem at " <code>{path}</code> ": " {message}</p> }.into_any())
                }
                Validity::Valid(c) if !c.plan.warnings().is_empty() => Some(
                    c.plan
                        .warnings()
                        .iter()
                        .map(|w| {
                            view! {
                                <p class="warning-detail" data-testid="rule-warning">
                                    "Note at " <code>{w.path.clone()}</code> ": " {w.message.clone()}
                                </p>
                            }
                        })
                        .collect_view()
                        .into_any(),
                ),
                _ => None,
            }}
            <div class="add-row">
                <button class="button button-small" data-testid="add-condition" on:click=move |_| add(Cond::tag("", &[]))>
                    "+ Condition"
                </button>
                <button class="button button-small button-quiet" data-testid="add-any" on:click=move |_| add(Cond::group(Op::Any))>
                    "+ Any-of group"
                </button>
                <button class="button button-small button-quiet" on:click=move |_| add(Cond::group(Op::All))>
                    "+ All-of group"
                </button>
                <button
                    class="button button-small button-quiet"
                    on:click=move |_| add(Cond { node: Node::Segment(String::new()), negated: false })
                >
                    "+ Segment"
                </button>
            </div>
            <p class="muted small keys-hint">
                "Keys on a condition: Enter edits · Alt+↑/↓ moves · N negates · Delete removes"
            </p>
        </article>
    }
}

/// Applies a tree action and keeps the selection and focus on the condition.
fn act(tree: Tree, path: &[usize], action: &str) {
    let mut focus = Some(path.to_vec());
    tree.draft.update(|d| match action {
        "up" => focus = d.move_by(path, -1).or(focus.take()),
        "down" => focus = d.move_by(path, 1).or(focus.take()),
        "not" => {
            d.toggle_not(path);
        }
        "op" => {
            d.toggle_op(path);
        }
        "remove" => {
            d.remove(path);
            focus = None;
        }
        _ => {}
    });
    match &focus {
        Some(p) if action != "remove" => {
            if tree.selected.get_untracked().is_some_and(|s| s.as_slice() == path) {
                tree.selected.set(Some(p.clone()));
            }
            focus_row(p.clone());
        }
        _ => tree.selected.set(None),
    }
}

/// One condition (and, for a group, its members).
fn cond_view(tree: Tree, cond: &Cond, path: Vec<usize>, siblings: usize) -> AnyView {
    let key = path_key(&path);
    let index = *path.last().unwrap_or(&0);
    let is_selected = {
        let path = path.clone();
        move || tree.selected.with(|s| s.as_deref() == Some(path.as_slice()))
    };
    let on_key = {
        let path = path.clone();
        move |ev: web_sys::KeyboardEvent| {
            // Keys other than Alt+arrows belong to the row itself, not to its buttons.
            let on_row = match (ev.target(), ev.current_target()) {
                (Some(t), Some(c)) => js_sys::Object::is(&t, &c),
                _ => false,
            };
            let action = match ev.key().as_str() {
                "ArrowUp" if ev.alt_key() => "up",
                "ArrowDown" if ev.alt_key() => "down",
                "Delete" | "Backspace" if on_row => "remove",
                "n" | "N" | "!" if on_row => "not",
                "Enter" | " " if on_row => "select",
                _ => return,
            };
            ev.prevent_default();
            ev.stop_propagation();
            if action == "select" {
                tree.selected.set(Some(path.clone()));
            } else {
                act(tree, &path, action);
            }
        }
    };
    let button = |label: &'static str, title: &'static str, action: &'static str, disabled: bool, path: Vec<usize>| {
        view! {
            <button
                class="icon-button"
                title=title
                aria-label=title
                disabled=disabled
                data-action=action
                on:click=move |ev| {
                    ev.stop_propagation();
                    act(tree, &path, action)
                }
            >
                {label}
            </button>
        }
    };
    let actions = view! {
        <span class="cond-actions">
            {button("↑", "Move up", "up", index == 0, path.clone())}
            {button("↓", "Move down", "down", index + 1 >= siblings, path.clone())}
            {button("¬", if cond.negated { "Remove not" } else { "Negate (not)" }, "not", false, path.clone())}
            {button("✕", "Remove", "remove", false, path.clone())}
        </span>
    };
    let not_badge = cond.negated.then(|| view! { <span class="not-badge">"NOT"</span> });
    let select = {
        let path = path.clone();
        move |_| tree.selected.set(Some(path.clone()))
    };
    match &cond.node {
        Node::Group(op, children) => {
            let n = children.len();
            let inner = children.iter().enumerate().map(|(i, c)| {
                let mut p = path.clone();
                p.push(i);
                cond_view(tree, c, p, n)
            });
            let inner = inner.collect_view();
            let add_into = {
                let path = path.clone();
                move |cond: Cond| {
                    let mut new_path = None;
                    tree.draft.update(|d| new_path = d.add(&path, cond));
                    tree.selected.set(new_path.clone());
                    if let Some(p) = new_path {
                        focus_row(p);
                    }
                }
            };
            let add_seg = add_into.clone();
            let op_path = path.clone();
            view! {
                <div class="cond-group" class:negated=cond.negated data-testid="cond-group">
                    <div
                        class="cond cond-group-head"
                        class:selected=is_selected
                        data-path=key
                        tabindex="0"
                        role="group"
                        aria-label=format!("{} group", op.label())
                        on:keydown=on_key
                        on:click=select
                    >
                        {not_badge}
                        <button
                            class="op-toggle"
                            title="Switch between all of and any of"
                            data-testid="op-toggle"
                            on:click=move |ev| {
                                ev.stop_propagation();
                                act(tree, &op_path, "op")
                            }
                        >
                            {op.label()}
                        </button>
                        <span class="muted small grow">{format!("{n} condition{}", if n == 1 { "" } else { "s" })}</span>
                        {actions}
                    </div>
                    <div class="cond-children">
                        {inner}
                        <div class="add-row add-row-inner">
                            <button
                                class="button button-small button-quiet"
                                data-testid="add-into-group"
                                on:click=move |_| add_into(Cond::tag("", &[]))
                            >
                                "+ Condition"
                            </button>
                            <button
                                class="button button-small button-quiet"
                                on:click=move |_| add_seg(Cond { node: Node::Segment(String::new()), negated: false })
                            >
                                "+ Segment"
                            </button>
                        </div>
                    </div>
                </div>
            }
            .into_any()
        }
        _ => {
            let incomplete = !cond.is_complete();
            let body = match &cond.node {
                Node::Tag { group, values } if !group.is_empty() => {
                    let shown = if values.is_empty() {
                        "choose values…".to_owned()
                    } else if values.len() > 4 {
                        format!("{}, … ({} values)", values[..3].join(", "), values.len())
                    } else {
                        values.join(", ")
                    };
                    view! {
                        <span class="cond-group-name">{group.clone()}</span>
                        <span class="cond-op">"is"</span>
                        <span class="cond-values">{shown}</span>
                    }
                    .into_any()
                }
                Node::Segment(id) if !id.is_empty() => view! {
                    <span class="cond-op">"in segment"</span>
                    <span class="cond-group-name">{id.clone()}</span>
                }
                .into_any(),
                Node::Segment(_) => view! { <span class="cond-values">"choose a segment…"</span> }.into_any(),
                Node::Number { group, bounds } => view! {
                    <span class="cond-group-name">{group.clone()}</span>
                    <span class="cond-values">{bounds.summary()}</span>
                }
                .into_any(),
                Node::Event { event, last_days, measure, bounds } => {
                    let what = match measure {
                        Measure::Count => "count",
                        Measure::Days => "active days",
                    };
                    view! {
                        <span class="cond-group-name">{event.clone()}</span>
                        <span class="cond-op">{what}</span>
                        <span class="cond-values">{bounds.summary()}</span>
                        <span class="cond-op">{format!("in the last {last_days} days")}</span>
                    }
                    .into_any()
                }
                _ => view! { <span class="cond-values">"choose a tag…"</span> }.into_any(),
            };
            view! {
                <div
                    class="cond cond-leaf"
                    class:selected=is_selected
                    class:incomplete=incomplete
                    class:negated=cond.negated
                    data-path=key
                    data-testid="cond"
                    tabindex="0"
                    on:keydown=on_key
                    on:click=select
                >
                    {not_badge}
                    <span class="cond-body grow">{body}</span>
                    {actions}
                </div>
            }
            .into_any()
        }
    }
}

// ---- the picker for the selected condition ----

#[component]
fn PickerCard(tree: Tree) -> impl IntoView {
    let state = AppState::get();
    let search = RwSignal::new(String::new());
    // A fresh search for every condition picked.
    Effect::new(move |_| {
        tree.selected.track();
        search.set(String::new());
    });
    let current = Memo::new(move |_| {
        let path = tree.selected.get()?;
        tree.draft.with(|d| d.get(&path).cloned()).map(|c| (path, c))
    });
    view! {
        <article class="card picker" aria-labelledby="picker-title" data-testid="picker">
            <h2 class="card-title" id="picker-title">"Edit condition"</h2>
            {move || {
                let manifest = state.manifest.get().and_then(Result::ok);
                match (current.get(), manifest) {
                    (None, _) => view! { <p class="muted">"Select a condition to choose its tag and values."</p> }.into_any(),
                    (Some(_), None) => view! { <Loading what="Loading the day's tags…" /> }.into_any(),
                    (Some((_, Cond { node: Node::Group(..), .. })), _) => {
                        view! {
                            <p class="muted">
                                "A group: add conditions inside it with its own buttons, and switch it between "
                                "“all of” and “any of”."
                            </p>
                        }
                            .into_any()
                    }
                    (Some((path, cond)), Some(m)) => view! { <Picker tree path cond manifest=m search /> }.into_any(),
                }
            }}
        </article>
    }
}

#[component]
fn Picker(
    tree: Tree,
    path: Vec<usize>,
    cond: Cond,
    manifest: Arc<Manifest>,
    search: RwSignal<String>,
) -> impl IntoView {
    let (choice, is_segment) = match &cond.node {
        Node::Segment(_) => (SEGMENT_CHOICE.to_owned(), true),
        Node::Tag { group, .. } | Node::Number { group, .. } => (group.clone(), false),
        Node::Event { event, .. } => (format!("{EVENT_CHOICE}{event}"), false),
        Node::Group(..) => (String::new(), false),
    };
    // Numeric groups are listed with the others (marked), so the category tree stays whole.
    let groups: Vec<(String, Vec<String>)> =
        catalog::tree(manifest.groups.iter().map(|g| (g.category.as_str(), g.name.as_str())))
            .into_iter()
            .filter(|c| !c.groups.is_empty())
            .map(|c| (c.title(), c.groups))
            .collect();
    let state = AppState::get();
    let event_names: Vec<String> = state.events.get().and_then(Result::ok).map(|w| w.event_names()).unwrap_or_default();
    let change_path = path.clone();
    let change_manifest = manifest.clone();
    let on_change = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        let numeric = change_manifest.group(&value).and_then(|g| g.numeric.as_ref());
        tree.draft.update(|d| {
            if value == SEGMENT_CHOICE {
                d.set_segment(&change_path, "");
            } else if let Some(event) = value.strip_prefix(EVENT_CHOICE) {
                d.set_event(&change_path, event);
            } else if let Some(n) = numeric {
                let text = |v: i64| engine::bsi::format_scaled(v, n.scale);
                d.set_number(&change_path, &value, &text(n.min), &text(n.max));
            } else if !value.is_empty() {
                d.set_group(&change_path, &value);
            }
        });
    };
    let universe = manifest.universe.count;
    let values_view = if let Node::Number { group, bounds } = &cond.node {
        view! { <NumberEditor tree path=path.clone() group=group.clone() bounds=bounds.clone() manifest=manifest.clone() /> }
            .into_any()
    } else if let Node::Event { event, last_days, measure, bounds } = &cond.node {
        view! {
            <EventEditor
                tree
                path=path.clone()
                event=event.clone()
                last_days=*last_days
                measure=*measure
                bounds=bounds.clone()
            />
        }
        .into_any()
    } else if is_segment {
        let ids: Vec<(String, u64)> = manifest.segments.iter().map(|s| (s.id.clone(), s.members.full.count)).collect();
        let path = path.clone();
        if ids.is_empty() {
            view! { <p class="muted">"No segment has members on this day yet."</p> }.into_any()
        } else {
            view! {
                <ul class="option-list" role="radiogroup" aria-label="Segment">
                    {ids
                        .into_iter()
                        .map(|(id, count)| {
                            let path = path.clone();
                            let id2 = id.clone();
                            let checked = {
                                let path = path.clone();
                                let id = id.clone();
                                move || tree.draft.with(|d| matches!(d.get(&path), Some(Cond { node: Node::Segment(s), .. }) if *s == id))
                            };
                            view! {
                                <li>
                                    <label class="option">
                                        <input
                                            type="radio"
                                            name="segment-choice"
                                            prop:checked=checked
                                            on:change=move |_| tree.draft.update(|d| d.set_segment(&path, &id2))
                                        />
                                        <span class="option-name">{id.clone()}</span>
                                        <span class="option-count num">{format::int(count)}</span>
                                    </label>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
            .into_any()
        }
    } else if let Some(group) = manifest.group(&choice).cloned() {
        let order: Vec<String> = group.values.iter().map(|v| v.value.clone()).collect();
        let counts: std::collections::HashMap<String, u64> =
            group.values.iter().map(|v| (v.value.clone(), v.count)).collect();
        let selected_values = {
            let path = path.clone();
            Memo::new(move |_| {
                tree.draft.with(|d| match d.get(&path) {
                    Some(Cond { node: Node::Tag { values, .. }, .. }) => {
                        values.iter().cloned().collect::<BTreeSet<String>>()
                    }
                    _ => BTreeSet::new(),
                })
            })
        };
        let group_for_filter = group.clone();
        let filtered = Memo::new(move |_| {
            search.with(|q| {
                catalog::filter_values(&group_for_filter, q).into_iter().map(str::to_owned).collect::<Vec<_>>()
            })
        });
        let path_all = path.clone();
        let order_all = order.clone();
        view! {
            <div class="picker-values">
                <div class="picker-tools">
                    <input
                        class="input search"
                        type="search"
                        placeholder=format!("Search {} value{}", group.values.len(), if group.values.len() == 1 { "" } else { "s" })
                        aria-label="Search values"
                        data-testid="value-search"
                        prop:value=move || search.get()
                        on:input=move |ev| search.set(event_target_value(&ev))
                    />
                    <button
                        class="button button-small button-quiet"
                        title="Select every value shown"
                        on:click=move |_| {
                            let shown = filtered.get_untracked();
                            tree.draft.update(|d| {
                                let have = selected_values.get_untracked();
                                for v in shown.iter().filter(|v| !have.contains(*v)) {
                                    d.toggle_value(&path_all, v, &order_all);
                                }
                            })
                        }
                    >
                        "All shown"
                    </button>
                </div>
                <ul class="option-list" aria-label="Values">
                    <For each=move || filtered.get() key=|v| v.clone() let:value>
                        {
                            let count = counts.get(&value).copied().unwrap_or(0);
                            let share = if universe == 0 { 0.0 } else { count as f64 / universe as f64 };
                            let (path, order, v2, v3) = (path.clone(), order.clone(), value.clone(), value.clone());
                            view! {
                                <li>
                                    <label class="option" data-testid="value-option" data-value=value.clone()>
                                        <input
                                            type="checkbox"
                                            prop:checked=move || selected_values.with(|s| s.contains(&v3))
                                            on:change=move |_| tree.draft.update(|d| d.toggle_value(&path, &v2, &order))
                                        />
                                        <span class="option-name">{value.clone()}</span>
                                        <span class="option-count num">{format::int(count)}</span>
                                        <span class="option-share num muted">{format::percent(share)}</span>
                                    </label>
                                </li>
                            }
                        }
                    </For>
                </ul>
                {move || filtered.with(Vec::is_empty).then(|| view! { <p class="muted small">"No value matches."</p> })}
            </div>
        }
        .into_any()
    } else {
        view! { <p class="muted">"Choose a tag group above."</p> }.into_any()
    };
    let negated = cond.negated;
    view! {
        <label class="form-field">
            <span class="form-label">"Tag group"</span>
            <select class="select" data-testid="group-select" on:change=on_change prop:value=choice.clone()>
                <option value="" disabled=true selected=choice.is_empty()>
                    "Choose…"
                </option>
                {groups
                    .into_iter()
                    .map(|(title, names)| {
                        let choice = choice.clone();
                        view! {
                            <optgroup label=title>
                                {names
                                    .into_iter()
                                    .map(|n| {
                                        let sel = n == choice;
                                        let numeric = manifest.group(&n).is_some_and(|g| g.numeric.is_some());
                                        let label = if numeric { format!("{n} (number)") } else { n.clone() };
                                        view! {
                                            <option value=n.clone() selected=sel>
                                                {label}
                                            </option>
                                        }
                                    })
                                    .collect_view()}
                            </optgroup>
                        }
                    })
                    .collect_view()}
                {(!event_names.is_empty()).then(|| {
                    let choice = choice.clone();
                    view! {
                        <optgroup label="Behaviour (events)">
                            {event_names
                                .iter()
                                .map(|e| {
                                    let value = format!("{EVENT_CHOICE}{e}");
                                    let sel = value == choice;
                                    view! { <option value=value selected=sel>{format!("{e} (event)")}</option> }
                                })
                                .collect_view()}
                        </optgroup>
                    }
                })}
                <optgroup label="Segments">
                    <option value=SEGMENT_CHOICE selected=is_segment>
                        "Member of a segment"
                    </option>
                </optgroup>
            </select>
        </label>
        {negated.then(|| view! { <p class="muted small">"This condition is negated: users who do " <b>"not"</b> " match it."</p> })}
        {values_view}
    }
}

/// The editor of a numeric condition: operator, one or two numbers (typed or slid over the
/// column's range), and the tag's histogram in the rest of the audience next to all users.
#[component]
fn NumberEditor(tree: Tree, path: Vec<usize>, group: String, bounds: Bounds, manifest: Arc<Manifest>) -> impl IntoView {
    let Some(info) = manifest.group(&group).and_then(|g| g.numeric.as_ref()).map(|n| NumericInfo {
        scale: n.scale,
        offset: n.offset,
        max: n.max,
        count: n.bsi.exists.full.count,
    }) else {
        return view! { <p class="muted">"This tag has no numbers on this day."</p> }.into_any();
    };
    let text = move |v: i64| engine::bsi::format_scaled(v, info.scale);
    let (min, max) = (text(info.offset), text(info.max));
    let step = if info.scale == 0 { "1".to_owned() } else { format!("0.{}1", "0".repeat(info.scale as usize - 1)) };
    let set = {
        let path = path.clone();
        move |b: Bounds| tree.draft.update(|d| d.set_bounds(&path, b))
    };
    let current = bounds.clone();
    let number_input = {
        let (min, max, step) = (min.clone(), max.clone(), step.clone());
        let (set, current) = (set.clone(), current.clone());
        move |which: &'static str, value: String| {
            let (set, current) = (set.clone(), current.clone());
            let label = match (which, current.op) {
                ("lo", BoundOp::Between) => "From",
                ("lo", _) => "Value",
                _ => "To",
            };
            let apply = move |ev: leptos::ev::Event| {
                let v = event_target_value(&ev);
                let mut b = current.clone();
                if which == "lo" {
                    b.lo = v
                } else {
                    b.hi = v
                }
                set(b);
            };
            let apply2 = apply.clone();
            view! {
                <div class="number-field">
                    <label class="form-field">
                        <span class="form-label">{label}</span>
                        <input
                            class="input num"
                            type="number"
                            inputmode="decimal"
                            min=min.clone()
                            max=max.clone()
                            step=step.clone()
                            data-testid=format!("number-{which}")
                            prop:value=value.clone()
                            on:change=apply
                        />
                    </label>
                    <input
                        class="range"
                        type="range"
                        aria-label=format!("{label} (slider)")
                        min=min.clone()
                        max=max.clone()
                        step=step.clone()
                        prop:value=value
                        on:change=apply2
                    />
                </div>
            }
        }
    };
    let valid = bounds.to_test(false).is_some();
    view! {
        <div class="picker-number" data-testid="number-editor">
            <p class="muted small">{format!("{group}: {} users have a value, from {min} to {max}.", format::int(info.count))}</p>
            <OpSelect current=current.clone() testid="number-op" set=Callback::new(set.clone()) />
            <div class="number-row">
                {number_input("lo", bounds.lo.clone())}
                {(bounds.op == BoundOp::Between).then(|| number_input("hi", bounds.hi.clone()))}
            </div>
            {(!valid).then(|| view! { <p class="error-detail">"Enter a number (use a dot for decimals)."</p> })}
            <p class="muted small">"Users without a value never match a numeric condition."</p>
            <NumericHistogram tree path group manifest info />
        </div>
    }
    .into_any()
}

/// The histogram of a numeric tag on the sample tier: the rest of the audience (every other
/// condition) next to all users, as shares of the users with a value.
#[component]
fn NumericHistogram(
    tree: Tree,
    path: Vec<usize>,
    group: String,
    manifest: Arc<Manifest>,
    info: NumericInfo,
) -> impl IntoView {
    let state = AppState::get();
    let mut refs = estimate::numeric_refs(&manifest, &group, Tier::Sample);
    refs.push(estimate::universe_ref(&manifest, Tier::Sample));
    state.ensure(&refs);
    let rest = {
        let manifest = manifest.clone();
        Memo::new(move |_| {
            let rule = tree.draft.with(|d| {
                let mut rest = d.clone();
                rest.remove(&path);
                rest.compile().rule
            });
            let window = state.events.get().and_then(Result::ok).unwrap_or_default();
            // No other condition: the rest of the audience is everyone (`all` needs a member).
            let rule = match rule {
                Rule::All(members) if members.is_empty() => return Some((String::new(), None, window)),
                rule => rule,
            };
            Plan::validate(&rule, &estimate::catalog(&manifest, &window))
                .ok()
                .map(|p| (rule.to_json().to_string(), Some(Arc::new(p)), window))
        })
    };
    let figures = move || {
        state.blob_tick.track();
        let (_, plan, window) = rest.get()?;
        state.blobs.with_value(|b| {
            let source = estimate::TierSource::new(&manifest, &window, b, Tier::Sample)?;
            let column = engine::Source::column(&source, &group)?;
            let audience = match &plan {
                Some(plan) => engine::members(plan, &source).ok(),
                None => Some(engine::Source::universe(&source).clone()),
            };
            let all = column.exists.len();
            let within = audience.as_ref().map_or(0, |a| a.intersection_len(column.exists));
            let buckets = estimate::histogram(&column, &info, audience.as_ref(), charts::HISTOGRAM_BARS);
            Some((buckets, within, all))
        })
    };
    view! {
        <div class="histogram" data-testid="number-histogram">
            {move || match figures() {
                None => view! { <Loading what="Loading the column…" /> }.into_any(),
                Some((buckets, within, all)) => {
                    let bars = charts::histogram_bars(&buckets, within, all);
                    let description = bars.iter().map(charts::describe).collect::<Vec<_>>().join("; ");
                    match charts::profile_svg(&bars) {
                        Ok(svg) => view! {
                            <p class="muted small">
                                "Share of users with a value in each range: the rest of the audience (other conditions) next to all users. Sample tier."
                            </p>
                            <div class="chart" role="img" aria-label=description inner_html=svg></div>
                        }
                        .into_any(),
                        Err(e) => view! { <p class="error-detail">"Chart failed: " {e}</p> }.into_any(),
                    }
                }
            }}
        </div>
    }
}

/// The operator of a numeric or event test (`between`, `≥`, …); the numbers are kept.
#[component]
fn OpSelect(current: Bounds, testid: &'static str, set: Callback<Bounds>) -> impl IntoView {
    let selected = current.op;
    view! {
        <label class="form-field">
            <span class="form-label">"Test"</span>
            <select
                class="select"
                data-testid=testid
                on:change=move |ev| {
                    if let Some(op) = BoundOp::from_key(&event_target_value(&ev)) {
                        set.run(current.with_op(op));
                    }
                }
            >
                {BoundOp::ALL
                    .into_iter()
                    .map(|op| view! { <option value=op.key() selected=op == selected>{op.label()}</option> })
                    .collect_view()}
            </select>
        </label>
    }
}

/// The editor of an event condition: event, window, count or active days, and the test.
#[component]
fn EventEditor(
    tree: Tree,
    path: Vec<usize>,
    event: String,
    last_days: u32,
    measure: Measure,
    bounds: Bounds,
) -> impl IntoView {
    let state = AppState::get();
    let window = state.events.get().and_then(Result::ok).unwrap_or_default();
    let retained = if window.retained_days == 0 { engine::rule::MAX_WINDOW_DAYS } else { window.retained_days };
    let set_bounds = {
        let path = path.clone();
        move |b: Bounds| tree.draft.update(|d| d.set_bounds(&path, b))
    };
    let on_days = {
        let path = path.clone();
        move |ev: leptos::ev::Event| {
            if let Ok(days) = event_target_value(&ev).trim().parse::<u32>() {
                tree.draft.update(|d| d.set_window(&path, days.min(retained), measure));
            }
        }
    };
    let on_measure = {
        let path = path.clone();
        move |ev: leptos::ev::Event| {
            let how = if event_target_value(&ev) == "days" { Measure::Days } else { Measure::Count };
            tree.draft.update(|d| d.set_window(&path, last_days, how));
        }
    };
    let current = bounds.clone();
    let field = {
        let (set, current) = (set_bounds.clone(), current.clone());
        move |which: &'static str, value: String| {
            let (set, current) = (set.clone(), current.clone());
            let label = match (which, current.op) {
                ("lo", BoundOp::Between) => "From",
                ("lo", _) => "Value",
                _ => "To",
            };
            view! {
                <label class="form-field">
                    <span class="form-label">{label}</span>
                    <input
                        class="input num"
                        type="number"
                        inputmode="numeric"
                        min="0"
                        step="1"
                        data-testid=format!("event-{which}")
                        prop:value=value
                        on:change=move |ev| {
                            let mut b = current.clone();
                            let v = event_target_value(&ev);
                            if which == "lo" { b.lo = v } else { b.hi = v }
                            set(b);
                        }
                    />
                </label>
            }
        }
    };
    let valid = bounds.to_test(true).is_some();
    let names = window.event_names();
    let path_for_event = path.clone();
    view! {
        <div class="picker-event" data-testid="event-editor">
            <label class="form-field">
                <span class="form-label">"Event"</span>
                <select
                    class="select"
                    data-testid="event-name"
                    on:change=move |ev| tree.draft.update(|d| d.set_event(&path_for_event, &event_target_value(&ev)))
                >
                    {names
                        .iter()
                        .map(|n| view! { <option value=n.clone() selected=*n == event>{n.clone()}</option> })
                        .collect_view()}
                </select>
            </label>
            <div class="number-row">
                <label class="form-field">
                    <span class="form-label">"Measure"</span>
                    <select class="select" data-testid="event-measure" on:change=on_measure>
                        <option value="count" selected=measure == Measure::Count>"times (sum of counts)"</option>
                        <option value="days" selected=measure == Measure::Days>"active days"</option>
                    </select>
                </label>
                <label class="form-field">
                    <span class="form-label">{format!("In the last … days (1–{retained})")}</span>
                    <input
                        class="input num"
                        type="number"
                        min="1"
                        max=retained.to_string()
                        step="1"
                        data-testid="event-days"
                        prop:value=last_days.to_string()
                        on:change=on_days
                    />
                </label>
            </div>
            <div class="number-row">
                <OpSelect current=current.clone() testid="event-op" set=Callback::new(set_bounds.clone()) />
                {field("lo", bounds.lo.clone())}
                {(bounds.op == BoundOp::Between).then(|| field("hi", bounds.hi.clone()))}
            </div>
            {(!valid).then(|| view! { <p class="error-detail">"Enter whole numbers of at least 0."</p> })}
            <p class="muted small">
                "The window ends with the chosen day and includes it. Users who never did the event count as 0."
            </p>
        </div>
    }
}

// ---- numbers ----

#[component]
fn EstimateCard(
    sample: Memo<Option<Outcome>>,
    exact: Memo<Option<Outcome>>,
    server_exact: LocalResource<Option<Result<api::EstimateAnswer, Error>>>,
    over_budget: Memo<bool>,
    full_missing: Memo<u64>,
    full_total: Memo<u64>,
) -> impl IntoView {
    let state = AppState::get();
    let server = move || server_exact.get().flatten();
    let headline = move || {
        if let Some(e) = exact.get() {
            return (format::int(e.count as u64), Some(e.count as u64), "exact", e.share());
        }
        if let Some(Ok(a)) = server() {
            let share = if a.universe == 0 { 0.0 } else { a.count as f64 / a.universe as f64 };
            return (format::int(a.count), Some(a.count), "exact-server", share);
        }
        match sample.get() {
            Some(s) => (format!("≈ {}", format::int(s.count.round() as u64)), None, "sample", s.share()),
            None => ("…".to_owned(), None, "loading", 0.0),
        }
    };
    let universe = move || sample.get().or(exact.get()).map(|o| o.universe);
    view! {
        <article class="card estimate" aria-labelledby="estimate-title" data-testid="estimate-card">
            <h2 class="card-title" id="estimate-title">"Audience size"</h2>
            <div class="estimate-number num" aria-live="polite">
                {move || {
                    let (text, exact_count, tier, _) = headline();
                    view! {
                        <span
                            data-testid=if exact_count.is_some() { "exact-count" } else { "estimated-count" }
                            data-count=exact_count.map(|c| c.to_string())
                            data-tier=tier
                        >
                            {text}
                        </span>
                    }
                }}
            </div>
            <div class="estimate-meta">
                {move || {
                    let (_, _, tier, share) = headline();
                    let badge = match tier {
                        "exact" => view! { <span class="pill pill-good">"exact"</span> }.into_any(),
                        "exact-server" => view! { <span class="pill pill-good">"exact · server"</span> }.into_any(),
                        "sample" => view! { <span class="pill pill-warning">"estimate"</span> }.into_any(),
                        _ => view! { <span class="pill">"loading"</span> }.into_any(),
                    };
                    view! {
                        {badge}
                        <span data-testid="audience-share">
                            {format::percent(share)} " of "
                            {universe().map(format::int).unwrap_or_else(|| "–".into())} " users"
                        </span>
                    }
                }}
            </div>
            <dl class="estimate-lines">
                <div class="estimate-line">
                    <dt>"Sample estimate"</dt>
                    <dd>
                        {move || match sample.get() {
                            Some(s) => {
                                view! {
                                    <span
                                        data-testid="sample-estimate"
                                        data-count=s.count.to_string()
                                        data-lo=s.lo.to_string()
                                        data-hi=s.hi.to_string()
                                    >
                                        {format!(
                                            "≈ {} (95%: {} – {})",
                                            format::int(s.count.round() as u64),
                                            format::int(s.lo.floor() as u64),
                                            format::int(s.hi.ceil() as u64),
                                        )}
                                    </span>
                                }
                                    .into_any()
                            }
                            None => view! { <span class="muted">"loading the sample…"</span> }.into_any(),
                        }}
                    </dd>
                </div>
                <div class="estimate-line">
                    <dt>"Exact count"</dt>
                    <dd data-testid="exact-status">
                        {move || {
                            if exact.with(Option::is_some) {
                                format!("computed here from {} of full-tier data", format::bytes(full_total.get()))
                            } else if over_budget.get() {
                                let mb = format::bytes(full_missing.get());
                                match server() {
                                    Some(Ok(_)) => format!("from the server (needs {mb}, over the download budget)"),
                                    Some(Err(e)) => format!("server count failed: {e}"),
                                    None => format!("asking the server (needs {mb}, over the download budget)"),
                                }
                            } else {
                                let missing = full_missing.get();
                                let total = full_total.get();
                                if total == 0 {
                                    "waiting for the day…".to_owned()
                                } else {
                                    format!(
                                        "downloading {} of {}…",
                                        format::bytes(total.saturating_sub(missing)),
                                        format::bytes(total),
                                    )
                                }
                            }
                        }}
                        {move || {
                            let total = full_total.get();
                            let missing = full_missing.get();
                            (exact.with(Option::is_none) && !over_budget.get() && total > 0)
                                .then(|| {
                                    let pct = (total - missing.min(total)) as f64 / total as f64 * 100.0;
                                    view! {
                                        <span class="progress" aria-hidden="true">
                                            <span style=format!("width: {pct:.0}%")></span>
                                        </span>
                                    }
                                })
                        }}
                    </dd>
                </div>
            </dl>
            <label class="budget">
                <span class="muted small">"Download budget"</span>
                <input
                    class="input input-small num"
                    type="number"
                    min="1"
                    aria-label="Download budget in megabytes"
                    prop:value=move || state.budget_mb.get().to_string()
                    on:change=move |ev| {
                        if let Ok(mb) = event_target_value(&ev).parse::<u64>() {
                            state.set_budget_mb(mb.max(1));
                        }
                    }
                />
                <span class="muted small">"MB"</span>
            </label>
        </article>
    }
}

#[component]
fn FunnelCard(
    tree: Tree,
    sample: Memo<Option<Outcome>>,
    exact: Memo<Option<Outcome>>,
    server_exact: LocalResource<Option<Result<api::EstimateAnswer, Error>>>,
) -> impl IntoView {
    let rows = move || {
        let (universe, steps, estimated) = if let Some(e) = exact.get() {
            (e.universe, e.steps, false)
        } else if let Some(Some(Ok(a))) = server_exact.get() {
            (a.universe, a.steps.iter().map(|s| s.count as f64).collect(), false)
        } else if let Some(s) = sample.get() {
            (s.universe, s.steps, true)
        } else {
            return None;
        };
        let compiled = tree.draft.with(Draft::compile);
        let labels: Vec<String> =
            tree.draft.with(|d| compiled.sources.iter().filter_map(|&i| d.conds.get(i).map(Cond::summary)).collect());
        Some((universe, estimate::funnel(universe, &steps), labels, estimated))
    };
    view! {
        <article class="card funnel" aria-labelledby="funnel-title">
            <h2 class="card-title" id="funnel-title">"Funnel"</h2>
            {move || match rows() {
                None => view! { <Loading what="Counting…" /> }.into_any(),
                Some((_, funnel, _, _)) if funnel.is_empty() => {
                    view! { <p class="muted">"Each condition's effect shows here once you add one."</p> }.into_any()
                }
                Some((universe, funnel, labels, estimated)) => {
                    let fmt = move |v: f64| if estimated { format!("≈ {}", format::compact(v)) } else { format::int(v.round() as u64) };
                    view! {
                        <ol class="funnel-list">
                            <li class="funnel-row funnel-start">
                                <span class="funnel-label">"All users"</span>
                                <span class="funnel-count num">{format::int(universe)}</span>
                            </li>
                            {funnel
                                .into_iter()
                                .zip(labels)
                                .map(|(row, label)| {
                                    let title = label.clone();
                                    view! {
                                        <li class="funnel-row" data-testid="funnel-row">
                                            <span class="funnel-label" title=title>
                                                {label}
                                            </span>
                                            <span class="funnel-count num" data-testid="funnel-remaining">
                                                {fmt(row.remaining)}
                                            </span>
                                            <span class="funnel-bar" aria-hidden="true">
                                                <span style=format!("width: {:.1}%", row.share * 100.0)></span>
                                            </span>
                                            <span class="funnel-removed num muted">
                                                "−" {fmt(row.removed)} " · " {format::percent(row.share)} " left"
                                            </span>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ol>
                        {estimated.then(|| view! { <p class="muted small">"Estimated from the sample until the exact counts arrive."</p> })}
                    }
                        .into_any()
                }
            }}
        </article>
    }
}

// ---- saving ----

/// The state of a save.
#[derive(Debug, Clone, PartialEq)]
enum SaveState {
    Idle,
    Saving,
    Saved(String),
    Conflict,
    Failed(Error),
}

/// Saves the audience as a static segment: the server freezes members it computes, so the
/// rule goes in as a temporary dynamic segment, its members (external ids) are exported, the
/// temporary segment is deleted, and the static segment is created with those members.
async fn save_static(
    s: &crate::session::Session,
    id: &str,
    name: &str,
    rule: serde_json::Value,
) -> Result<String, Error> {
    let now = js_sys::Date::now() as u64;
    let tmp: String = format!("{}.tmp-{now}", id.chars().take(40).collect::<String>());
    let input = SegmentInput {
        id: tmp.clone(),
        name: format!("{name} (freezing)"),
        description: String::new(),
        kind: "dynamic".into(),
        rule: Some(rule),
    };
    api::create_segment(s, &input).await?;
    // The export is read up to three times: a broken-off transfer is retried.
    let mut csv = api::segment_members_csv(s, &tmp, None).await;
    for _ in 0..2 {
        if !matches!(csv, Err(Error::Fetch(_))) {
            break;
        }
        csv = api::segment_members_csv(s, &tmp, None).await;
    }
    let _ = api::delete_segment(s, &tmp, None).await;
    let csv = csv.map_err(|e| match e {
        Error::Fetch(m) => Error::Fetch(format!("the member export broke off, so nothing was frozen ({m})")),
        other => other,
    })?;
    let members = csv.lines().skip(1).filter(|l| !l.trim().is_empty()).count();
    let input = SegmentInput {
        id: id.to_owned(),
        name: name.to_owned(),
        description: "Frozen from the audience builder".into(),
        kind: "static".into(),
        rule: None,
    };
    api::create_segment(s, &input).await?;
    api::put_segment_members(s, id, csv).await?;
    Ok(format!("Saved “{name}” as a static segment of {} users.", format::int(members as u64)))
}

#[component]
fn SaveCard(
    compiled: Memo<crate::draft::Compiled>,
    editing: RwSignal<Option<Editing>>,
    draft: RwSignal<Draft>,
) -> impl IntoView {
    let state = AppState::get();
    let name = RwSignal::new(String::new());
    let kind = RwSignal::new("dynamic".to_owned());
    let status = RwSignal::new(SaveState::Idle);
    Effect::new(move |_| {
        if let Some(e) = editing.get() {
            name.set(e.name);
        }
    });
    let empty = move || compiled.with(|c| c.sources.is_empty());

    // `as_new`: create; else update the segment being edited (with If-Match unless `force`).
    let save = move |as_new: bool, force: bool| {
        let Some(s) = state.session.get_untracked() else { return };
        let n = name.get_untracked().trim().to_owned();
        if n.is_empty() {
            status.set(SaveState::Failed(Error::Api { status: 400, message: "give the segment a name".into() }));
            return;
        }
        let rule = compiled.get_untracked().rule.to_json();
        let k = kind.get_untracked();
        let current = editing.get_untracked();
        status.set(SaveState::Saving);
        spawn_local(async move {
            let result = match (as_new, current) {
                (false, Some(e)) => {
                    let etag =
                        if force { api::segment(&s, &e.id).await.ok().and_then(|(_, t)| t) } else { e.etag.clone() };
                    let input = SegmentInput {
                        id: e.id.clone(),
                        name: n.clone(),
                        description: String::new(),
                        kind: "dynamic".into(),
                        rule: Some(rule),
                    };
                    api::update_segment(&s, &input, etag.as_deref()).await.map(|etag| {
                        editing.set(Some(Editing { id: e.id, name: n.clone(), etag }));
                        format!("Saved changes to “{n}”.")
                    })
                }
                _ if k == "static" => save_static(&s, &slug(&n), &n, rule).await,
                _ => {
                    let id = slug(&n);
                    let input = SegmentInput {
                        id: id.clone(),
                        name: n.clone(),
                        description: String::new(),
                        kind: "dynamic".into(),
                        rule: Some(rule),
                    };
                    api::create_segment(&s, &input).await.map(|etag| {
                        editing.set(Some(Editing { id, name: n.clone(), etag }));
                        format!("Saved “{n}” as a dynamic segment.")
                    })
                }
            };
            match result {
                Ok(message) => {
                    status.set(SaveState::Saved(message));
                    state.manifest.refetch();
                }
                Err(e) if e.is_conflict() => status.set(SaveState::Conflict),
                Err(e) => status.set(SaveState::Failed(e)),
            }
        });
    };
    let reload = move |_| {
        let (Some(s), Some(e)) = (state.session.get_untracked(), editing.get_untracked()) else { return };
        spawn_local(async move {
            match api::segment(&s, &e.id).await {
                Ok((seg, etag)) => {
                    if let Some(rule) = seg.rule.as_ref().and_then(|r| Rule::from_json(r).ok()) {
                        draft.set(Draft::from_rule(&rule));
                    }
                    editing.set(Some(Editing { id: seg.id, name: seg.name, etag }));
                    status.set(SaveState::Idle);
                }
                Err(e) => status.set(SaveState::Failed(e)),
            }
        });
    };
    view! {
        <article class="card save" aria-labelledby="save-title">
            <h2 class="card-title" id="save-title">
                {move || match editing.get() {
                    Some(e) => format!("Segment “{}”", e.name),
                    None => "Save as a segment".to_owned(),
                }}
            </h2>
            <form
                class="form"
                on:submit=move |ev| {
                    ev.prevent_default();
                    save(editing.with_untracked(Option::is_none), false)
                }
            >
                <label class="form-field">
                    <span class="form-label">"Name"</span>
                    <input
                        class="input"
                        data-testid="segment-name"
                        placeholder="e.g. Young women in Guangdong"
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                </label>
                <p class="muted small">
                    "Id: " <code>{move || editing.get().map(|e| e.id).unwrap_or_else(|| slug(&name.get()))}</code>
                </p>
                {move || {
                    editing
                        .with(Option::is_none)
                        .then(|| {
                            view! {
                                <fieldset class="radio-row">
                                    <legend class="form-label">"Kind"</legend>
                                    <label>
                                        <input
                                            type="radio"
                                            name="kind"
                                            value="dynamic"
                                            prop:checked=move || kind.get() == "dynamic"
                                            on:change=move |_| kind.set("dynamic".into())
                                        />
                                        " Dynamic (recomputed daily)"
                                    </label>
                                    <label>
                                        <input
                                            type="radio"
                                            name="kind"
                                            value="static"
                                            prop:checked=move || kind.get() == "static"
                                            on:change=move |_| kind.set("static".into())
                                        />
                                        " Static (frozen now)"
                                    </label>
                                </fieldset>
                            }
                        })
                }}
                <div class="form-actions">
                    <button
                        class="button"
                        type="submit"
                        data-testid="save-segment"
                        disabled=move || empty() || status.get() == SaveState::Saving
                    >
                        {move || if editing.with(Option::is_some) { "Save changes" } else { "Save segment" }}
                    </button>
                    {move || {
                        editing
                            .with(Option::is_some)
                            .then(|| {
                                view! {
                                    <button class="button button-quiet" type="button" on:click=move |_| save(true, false)>
                                        "Save as new"
                                    </button>
                                }
                            })
                    }}
                </div>
            </form>
            <div class="save-status" data-testid="save-status" aria-live="polite">
                {move || match status.get() {
                    SaveState::Idle => None,
                    SaveState::Saving => Some(view! { <p class="muted">"Saving…"</p> }.into_any()),
                    SaveState::Saved(m) => Some(view! { <p class="good">{m} " " <a href="/segments">"See segments"</a></p> }.into_any()),
                    SaveState::Failed(e) => Some(view! { <ErrorNote error=e /> }.into_any()),
                    SaveState::Conflict => {
                        Some(
                            view! {
                                <div class="banner banner-warning" role="alert" data-testid="save-conflict">
                                    <span>"Changed elsewhere: reload it, or overwrite it with this audience."</span>
                                    <span class="banner-actions">
                                        <button class="button button-quiet button-small" type="button" on:click=reload>
                                            "Reload"
                                        </button>
                                        <button class="button button-danger button-small" type="button" on:click=move |_| save(false, true)>
                                            "Overwrite"
                                        </button>
                                    </span>
                                </div>
                            }
                                .into_any(),
                        )
                    }
                }}
            </div>
        </article>
    }
}

// ---- profile ----

#[component]
fn ProfileSection(
    checked: Memo<Option<Checked>>,
    exact: Memo<Option<Outcome>>,
    sample: Memo<Option<Outcome>>,
) -> impl IntoView {
    let state = AppState::get();
    let open = RwSignal::new(BTreeSet::<String>::new());
    // The audience's members on each tier, computed only while a panel is open.
    let members = move |tier: Tier| {
        Memo::new(move |_| {
            if open.with(BTreeSet::is_empty) {
                return None;
            }
            let ready = match tier {
                Tier::Full => exact.with(Option::is_some),
                Tier::Sample => sample.with(Option::is_some),
            };
            if !ready {
                return None;
            }
            state.blob_tick.track();
            checked.with(|c| {
                let c = c.as_ref()?;
                state
                    .blobs
                    .with_value(|b| estimate::audience(&c.plan, &c.manifest, &c.window, b, tier))
                    .map(|m| Members(tier, Arc::new(m)))
            })
        })
    };
    let full_members = members(Tier::Full);
    let sample_members = members(Tier::Sample);
    let groups = move || {
        state
            .manifest
            .get()
            .and_then(Result::ok)
            .map(|m| catalog::selectable(&m).map(|g| (g.name.clone(), g.values.len())).collect::<Vec<_>>())
    };
    view! {
        <section class="card profile" aria-labelledby="profile-title" data-testid="profile">
            <header class="card-head">
                <h2 class="card-title" id="profile-title">"Profile"</h2>
                <span class="muted small">
                    "Each group inside the audience next to all users. TGI = audience share ÷ overall share × 100; "
                    <span class="lean-over">"≥ 120 over-represented"</span>
                    ", "
                    <span class="lean-under">"≤ 80 under-represented"</span>
                    "."
                </span>
            </header>
            {move || match groups() {
                None => view! { <Loading what="Loading the day's tags…" /> }.into_any(),
                Some(list) => {
                    list.into_iter()
                        .map(|(name, n)| {
                            let is_open = {
                                let name = name.clone();
                                move || open.with(|o| o.contains(&name))
                            };
                            let toggle_name = name.clone();
                            let panel_name = name.clone();
                            view! {
                                <details
                                    class="profile-group"
                                    data-testid="profile-group"
                                    data-group=name.clone()
                                    on:toggle=move |ev| {
                                        let now_open = ev
                                            .target()
                                            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                                            .is_some_and(|e| e.has_attribute("open"));
                                        open.update(|o| {
                                            if now_open {
                                                o.insert(toggle_name.clone());
                                            } else {
                                                o.remove(&toggle_name);
                                            }
                                        });
                                    }
                                >
                                    <summary>
                                        <span class="profile-group-name">{name.clone()}</span>
                                        <span class="muted small">{format!("{n} value{}", if n == 1 { "" } else { "s" })}</span>
                                    </summary>
                                    {move || {
                                        is_open()
                                            .then(|| {
                                                view! {
                                                    <ProfilePanel
                                                        group=panel_name.clone()
                                                        checked
                                                        full_members
                                                        sample_members
                                                    />
                                                }
                                            })
                                    }}
                                </details>
                            }
                        })
                        .collect_view()
                        .into_any()
                }
            }}
        </section>
    }
}

#[component]
fn ProfilePanel(
    group: String,
    checked: Memo<Option<Checked>>,
    full_members: Memo<Option<Members>>,
    sample_members: Memo<Option<Members>>,
) -> impl IntoView {
    let state = AppState::get();
    // Full tier when the audience is exact there and the group fits the budget.
    let tier = {
        let group = group.clone();
        Memo::new(move |_| {
            state.blob_tick.track();
            let fits = checked.with(|c| {
                c.as_ref().is_some_and(|c| {
                    let refs = estimate::group_refs(&c.manifest, &group, Tier::Full);
                    state.blobs.with_value(|b| estimate::missing_bytes(&refs, b)) <= state.budget_bytes()
                })
            });
            if full_members.with(Option::is_some) && fits { Tier::Full } else { Tier::Sample }
        })
    };
    let group_refs = {
        let group = group.clone();
        Memo::new(move |_| {
            checked
                .with(|c| c.as_ref().map(|c| estimate::group_refs(&c.manifest, &group, tier.get())))
                .unwrap_or_default()
        })
    };
    Effect::new(move |_| state.ensure(&group_refs.get()));
    let rows = {
        let group = group.clone();
        move || {
            let members = match tier.get() {
                Tier::Full => full_members.get(),
                Tier::Sample => sample_members.get(),
            }?;
            let refs = group_refs.get();
            if !state.has_all(&refs) {
                return None;
            }
            checked.with(|c| {
                let c = c.as_ref()?;
                let g = c.manifest.group(&group)?;
                state.blobs.with_value(|b| {
                    let universe = estimate::universe_ref(&c.manifest, members.0);
                    let universe_len = b.get(&universe.blob)?.len();
                    let counts: Vec<(String, u64, u64)> = g
                        .values
                        .iter()
                        .zip(&refs)
                        .filter_map(|(v, r)| {
                            let set = b.get(&r.blob)?;
                            Some((v.value.clone(), profile::intersect_count(&members.1, set), set.len()))
                        })
                        .collect();
                    let scale =
                        if universe_len == 0 { 1.0 } else { c.manifest.universe.count as f64 / universe_len as f64 };
                    let mut rows = profile::rows(members.1.len(), universe_len, &counts);
                    profile::sort_by_audience(&mut rows);
                    Some((rows, members.0, scale, members.1.len()))
                })
            })
        }
    };
    let loading = move || {
        let refs = group_refs.get();
        let missing = state.blobs.with_value(|b| estimate::missing_bytes(&refs, b));
        format!("Loading {} values ({})…", refs.len(), format::bytes(missing))
    };
    view! {
        <div class="profile-panel">
            {move || match rows() {
                None => view! { <Loading what=loading() /> }.into_any(),
                Some((_, _, _, 0)) => view! { <p class="muted">"The audience is empty: nothing to profile."</p> }.into_any(),
                Some((rows, tier, scale, _)) => {
                    let bars = charts::profile_bars(&rows, charts::MAX_BARS);
                    let description = bars.iter().map(charts::describe).collect::<Vec<_>>().join("; ");
                    let chart = match charts::profile_svg(&bars) {
                        Ok(svg) => view! { <div class="chart" role="img" aria-label=description inner_html=svg></div> }.into_any(),
                        Err(e) => view! { <p class="error-detail">"Chart failed: " {e}</p> }.into_any(),
                    };
                    let note = match tier {
                        Tier::Full => "Exact, from the full tier.",
                        Tier::Sample => "Estimated from the sample tier.",
                    };
                    view! {
                        <p class="muted small">{note}</p>
                        {chart}
                        <div class="table-scroll">
                            <table class="table profile-table">
                                <thead>
                                    <tr>
                                        <th scope="col">"Value"</th>
                                        <th scope="col" class="num">"Audience"</th>
                                        <th scope="col" class="num">"Share"</th>
                                        <th scope="col" class="num">"All users"</th>
                                        <th scope="col" class="num">"TGI"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {rows
                                        .into_iter()
                                        .map(|r| {
                                            let users = r.audience as f64 * scale;
                                            let users = if tier == Tier::Full { format::int(r.audience) } else { format!("≈ {}", format::compact(users)) };
                                            view! {
                                                <tr class=r.lean.class()>
                                                    <td>{r.value.clone()}</td>
                                                    <td class="num">{users}</td>
                                                    <td class="num">{format::percent(r.audience_share)}</td>
                                                    <td class="num">{format::percent(r.all_share)}</td>
                                                    <td class="num tgi" data-testid="tgi">
                                                        {format::tgi(r.tgi)}
                                                        {match r.lean {
                                                            profile::Lean::Over => " ▲",
                                                            profile::Lean::Under => " ▼",
                                                            profile::Lean::Even => "",
                                                        }}
                                                    </td>
                                                </tr>
                                            }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                        .into_any()
                }
            }}
        </div>
    }
}
