//! Small status views: a coloured dot with a word, and a label/value row.

use leptos::prelude::*;

use crate::health::Tone;

/// A status word with a dot in its tone's colour.
#[component]
pub fn StatusBadge(
    /// The word shown, e.g. `"ok"`.
    label: String,
    /// Colour of the badge.
    tone: Tone,
) -> impl IntoView {
    view! {
        <span class=format!("badge {}", tone.class()) data-testid="server-status">
            <span class="badge-dot" aria-hidden="true"></span>
            {label}
        </span>
    }
}

/// One label/value row of a description list.
#[component]
pub fn Field(
    /// What the value is.
    label: &'static str,
    /// The value.
    children: Children,
) -> impl IntoView {
    view! {
        <div class="field">
            <dt class="field-label">{label}</dt>
            <dd class="field-value">{children()}</dd>
        </div>
    }
}
