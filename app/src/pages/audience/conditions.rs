//! The condition tree: one row per condition (groups nest), its buttons and keys, and the
//! buttons that add conditions. What an action does is [`crate::audience::act`].

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::{Tree, Validity};
use crate::audience::{self, Action};
use crate::draft::{Cond, Node, Op, path_key};
use engine::rule::Measure;

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

/// Adds `cond` to the group at `group` (`[]`: the top level), selects it and focuses it.
fn add_into(tree: Tree, group: &[usize], cond: Cond) {
    let mut new_path = None;
    tree.draft.update(|d| new_path = d.add(group, cond));
    tree.selected.set(new_path.clone());
    if let Some(p) = new_path {
        focus_row(p);
    }
}

/// The card of the condition tree, with the rule's problems and notes.
#[component]
pub(super) fn ConditionsCard(tree: Tree, validity: Memo<Validity>) -> impl IntoView {
    let add = move |cond: Cond| add_into(tree, &[], cond);
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
fn act(tree: Tree, path: &[usize], action: Action) {
    let selected = tree.selected.get_untracked();
    let mut acted = None;
    tree.draft.update(|d| acted = Some(audience::act(d, selected.as_deref(), path, action)));
    let Some(acted) = acted else { return };
    if acted.selected != selected {
        tree.selected.set(acted.selected);
    }
    if let Some(p) = acted.focus {
        focus_row(p);
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
            let Some(action) = audience::key_action(&ev.key(), ev.alt_key(), on_row) else { return };
            ev.prevent_default();
            ev.stop_propagation();
            act(tree, &path, action);
        }
    };
    let button = |label: &'static str, title: &'static str, action: Action, disabled: bool, path: Vec<usize>| {
        view! {
            <button
                class="icon-button"
                title=title
                aria-label=title
                disabled=disabled
                data-action=action.key()
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
            {button("↑", "Move up", Action::Up, index == 0, path.clone())}
            {button("↓", "Move down", Action::Down, index + 1 >= siblings, path.clone())}
            {button("¬", if cond.negated { "Remove not" } else { "Negate (not)" }, Action::Not, false, path.clone())}
            {button("✕", "Remove", Action::Remove, false, path.clone())}
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
            let add_here = {
                let path = path.clone();
                move |cond: Cond| add_into(tree, &path, cond)
            };
            let add_seg = add_here.clone();
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
                                act(tree, &op_path, Action::Op)
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
                                on:click=move |_| add_here(Cond::tag("", &[]))
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
