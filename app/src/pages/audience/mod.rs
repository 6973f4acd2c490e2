//! The audience builder: nested groups of conditions, the size on every edit (sample estimate
//! first, exact once the full-tier blobs are in, or the server's count above the download
//! budget), the per-condition funnel, saving as a segment, and the profile. An aggregate token
//! never downloads the full tier (the server counts, with noise) and cannot save: its counts
//! below the app's minimum audience read `< k`.
//!
//! This module binds the builder's signals; each feature is a component of its own module:
//!
//! | module | feature |
//! | --- | --- |
//! | [`conditions`] | the condition tree, its buttons and keys |
//! | [`picker`] | the editor of the selected condition: tag group, values, segment |
//! | [`numbers`] | the editors of numeric and event conditions, the histogram |
//! | [`estimate_card`] | the audience size and where it comes from, the download budget |
//! | [`funnel`] | each top-level condition's effect |
//! | [`save`] | saving as a dynamic or static segment, conflicts |
//! | [`profile`] | the profile with TGI, panel by panel |
//!
//! What can be computed is plain Rust elsewhere: the builder's decisions (headline, exact-count
//! line, keys, the save request) in [`crate::audience`], the tree edits in [`crate::draft`],
//! the evaluation and the download-or-ask decision in [`crate::estimate`], the profile in
//! [`crate::profile`] and the charts in [`crate::charts`].

mod conditions;
mod estimate_card;
mod funnel;
mod numbers;
mod picker;
mod profile;
mod profile_kinds;
mod save;

use std::sync::Arc;

use engine::{Manifest, Plan, Rule};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::audience::Editing;
use crate::components::common::{AggregateNote, Page};
use crate::ctx::AppState;
use crate::draft::Draft;
use crate::estimate::{self, EventWindow, FullTier, Tier};
use crate::session::{encode_component, parse_query};

use conditions::ConditionsCard;
use estimate_card::EstimateCard;
use funnel::FunnelCard;
use picker::PickerCard;
use profile::ProfileSection;
use save::SaveCard;

/// The Audience page.
#[component]
pub fn Audience() -> impl IntoView {
    view! {
        <Page
            title="Audience"
            lede="Combine tags and segments; the size updates on every click."
            wide=true
            day_picker=true
        >
            <Builder />
        </Page>
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

/// Links opening the analysis pages on the builder's rule (a valid one), which they carry
/// in their address as the audience (see [`crate::analysis::audience_rule`]).
#[component]
fn AnalyseCard(checked: Memo<Option<Checked>>) -> impl IntoView {
    move || {
        checked.with(|c| c.as_ref().map(|c| c.key.clone())).map(|rule| {
            let rule = encode_component(&rule);
            view! {
                <section class="card" data-testid="analyse-audience">
                    <h2 class="card-title">"Analyse this audience"</h2>
                    <p class="analyse-links">
                        <a class="button" data-testid="analyse-compare" href=format!("/compare?a={rule}")>"Compare"</a>" "
                        <a class="button" data-testid="analyse-funnel" href=format!("/funnels?segment={rule}")>"Funnel"</a>" "
                        <a class="button" data-testid="analyse-pivot" href=format!("/pivot?segment={rule}")>"Pivot"</a>
                    </p>
                </section>
            }
        })
    }
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
                if take_rule && let Some(rule) = seg.rule.as_ref().and_then(|r| Rule::from_json(&r.0).ok()) {
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
    let full_tier = Memo::new(move |_| state.full_tier(full_missing.get()));
    Effect::new(move |_| {
        if let Some((sample, full)) = refs.get() {
            state.ensure(&sample);
            if full_tier.get() == FullTier::Download {
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
    // The server's exact count when the full tier is not downloaded: asked again whenever the
    // rule, the day, the decision or the token's access changes; an answer to an older question
    // is dropped. (An effect, not a `LocalResource`: the resource stopped re-running once its
    // first answers were "nothing to ask", so an aggregate token's builder never asked.)
    let server_exact = RwSignal::new(None::<Result<api::Estimate, api::Error>>);
    let asked = StoredValue::new(0u64);
    Effect::new(move |_| {
        let (tier, valid, known) = (full_tier.get(), checked.with(Option::is_some), state.access.with(Option::is_some));
        let rule = compiled.with(|c| c.rule.to_json());
        let (s, ds) = (state.session.get(), state.ds.get());
        let generation = asked.get_value() + 1;
        asked.set_value(generation);
        server_exact.set(None);
        if let (true, Some(s), Some(ds)) = (tier == FullTier::Server && valid && known, s, ds) {
            spawn_local(async move {
                let answer = api::estimate(&s, &ds, &rule, api::Tier::Exact).await;
                if asked.get_value() == generation {
                    server_exact.set(Some(answer));
                }
            });
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
                <EstimateCard sample exact server_exact full_tier full_missing full_total />
                <FunnelCard tree sample exact server_exact />
                <AnalyseCard checked />
                {move || {
                    if state.access_or_default().writes() {
                        view! { <SaveCard compiled editing draft /> }.into_any()
                    } else {
                        view! { <AggregateNote /> }.into_any()
                    }
                }}
            </aside>
        </div>
        <ProfileSection checked exact sample />
    }
}
