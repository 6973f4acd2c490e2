//! The audience builder's decisions, out of its views (`pages/audience/` binds them): which
//! count is the headline, what the exact-count line says, what a key does to a condition, and
//! which request a save makes. Plain Rust, tested natively.
//!
//! Whether the full tier is downloaded or the server is asked is decided once, in
//! [`crate::estimate::full_tier`]; this module only reads its answer.

use crate::access::Access;
use crate::api::{Error, Estimate, FreezeInput, Rule, SegmentInput, SegmentKind};
use crate::draft::{Draft, slug};
use crate::estimate::{FullTier, Outcome};
use crate::format;

/// The best count available, in the order the builder prefers them: exact here, exact from
/// the server, the sample's estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Best<'a> {
    /// Counted in the browser on the full tier.
    Exact(&'a Outcome),
    /// Counted by the server (the full tier is over the download budget, or the token may not
    /// download it).
    Server(&'a Estimate),
    /// Estimated from the sample tier.
    Sample(&'a Outcome),
}

/// The best of the counts available, or `None` while none is.
pub fn best<'a>(
    exact: Option<&'a Outcome>,
    server: Option<&'a Estimate>,
    sample: Option<&'a Outcome>,
) -> Option<Best<'a>> {
    exact.map(Best::Exact).or(server.map(Best::Server)).or(sample.map(Best::Sample))
}

/// Where the headline's number comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Exact, counted here.
    Exact,
    /// Exact, counted by the server.
    Server,
    /// Counted by the server with noise (an aggregate token's answer).
    Noisy,
    /// Below the app's minimum audience: withheld (an aggregate token's answer).
    Withheld,
    /// The sample's estimate.
    Sample,
    /// Nothing yet.
    Loading,
}

impl Source {
    /// The value of the headline's `data-tier` (read by the browser tests).
    pub fn key(self) -> &'static str {
        match self {
            Source::Exact => "exact",
            Source::Server => "exact-server",
            Source::Noisy => "noisy-server",
            Source::Withheld => "withheld",
            Source::Sample => "sample",
            Source::Loading => "loading",
        }
    }

    /// The badge: its CSS class and words.
    pub fn badge(self) -> (&'static str, &'static str) {
        match self {
            Source::Exact => ("pill pill-good", "exact"),
            Source::Server => ("pill pill-good", "exact · server"),
            Source::Noisy => ("pill pill-good", "server · with noise"),
            Source::Withheld => ("pill pill-warning", "below the minimum audience"),
            Source::Sample => ("pill pill-warning", "estimate"),
            Source::Loading => ("pill", "loading"),
        }
    }
}

/// The audience size as the estimate card shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    /// The number as shown (`12,345`, `≈ 12,300`, `…`).
    pub text: String,
    /// The exact count, when the number is exact.
    pub exact: Option<u64>,
    /// Where it comes from.
    pub source: Source,
    /// The audience's share of all users.
    pub share: f64,
}

/// The headline for the best count available, as `access` may see it (an aggregate token's
/// counts are noisy, and withheld below the app's minimum audience: `< k`).
///
/// ```
/// use app::access::Access;
/// use app::audience::{Source, headline};
/// let h = headline(None, &Access::fallback());
/// assert_eq!((h.text.as_str(), h.exact, h.source), ("…", None, Source::Loading));
/// ```
pub fn headline(best: Option<Best<'_>>, access: &Access) -> Headline {
    let share = |count: u64, universe: u64| if universe == 0 { 0.0 } else { count as f64 / universe as f64 };
    match best {
        Some(Best::Exact(e)) => Headline {
            text: format::int(e.count as u64),
            exact: Some(e.count as u64),
            source: Source::Exact,
            share: e.share(),
        },
        Some(Best::Server(a)) => match a.count {
            Some(c) if !a.suppressed && !access.hides(c) => Headline {
                text: format::int(c),
                exact: (!a.noisy).then_some(c),
                source: if a.noisy { Source::Noisy } else { Source::Server },
                share: share(c, a.universe),
            },
            _ => Headline { text: access.withheld(), exact: None, source: Source::Withheld, share: 0.0 },
        },
        Some(Best::Sample(s)) => Headline {
            text: access.estimate(s.count),
            exact: None,
            source: Source::Sample,
            share: if access.hides(s.count.round() as u64) { 0.0 } else { s.share() },
        },
        None => Headline { text: "…".to_owned(), exact: None, source: Source::Loading, share: 0.0 },
    }
}

/// The funnel's inputs from the best count: all users, users left after each top-level
/// condition (`None`: withheld by the server), and whether they are estimates.
pub fn funnel_steps(best: Best<'_>) -> (u64, Vec<Option<f64>>, bool) {
    match best {
        Best::Exact(e) => (e.universe, e.steps.iter().copied().map(Some).collect(), false),
        Best::Server(a) => {
            (a.universe, a.steps.iter().map(|s| s.count.filter(|_| !s.suppressed).map(|c| c as f64)).collect(), false)
        }
        Best::Sample(s) => (s.universe, s.steps.iter().copied().map(Some).collect(), true),
    }
}

/// A funnel count as `access` may see it: `12,345`, `≈ 12K` (estimated), `< k` (withheld, or
/// below the minimum audience for an aggregate token), `–` (unknown).
///
/// ```
/// use app::access::Access;
/// use app::api::{AppSettings, Role};
/// let agg = Access { role: Some(Role::Aggregate), settings: Some(AppSettings { min_audience: 10, epsilon: 1.0, daily_budget: 5.0 }) };
/// assert_eq!(app::audience::funnel_count(Some(4.0), false, &agg), "< 10");
/// assert_eq!(app::audience::funnel_count(None, false, &agg), "< 10");
/// assert_eq!(app::audience::funnel_count(Some(1_234.0), false, &agg), "1,234");
/// assert_eq!(app::audience::funnel_count(Some(4.0), true, &Access::fallback()), "≈ 4");
/// ```
pub fn funnel_count(value: Option<f64>, estimated: bool, access: &Access) -> String {
    match value {
        Some(v) if access.hides(v.round() as u64) => access.withheld(),
        Some(v) if estimated => format!("≈ {}", format::compact(v)),
        Some(v) => format::int(v.round() as u64),
        None => access.withheld(),
    }
}

/// Where the full tier stands, for the "Exact count" line.
#[derive(Debug, Clone, PartialEq)]
pub struct FullStatus<'a> {
    /// The exact count is computed here.
    pub exact_here: bool,
    /// Download or ask the server ([`crate::estimate::full_tier`]).
    pub tier: FullTier,
    /// Whether the token may download the full tier at all (aggregate tokens may not).
    pub may_download: bool,
    /// The server's count: `None` while asked (or not asked), else its answer.
    pub server: Option<Result<(), &'a Error>>,
    /// Bytes of the full tier the rule needs and has not loaded.
    pub missing_bytes: u64,
    /// Bytes of the full tier the rule needs.
    pub total_bytes: u64,
}

impl FullStatus<'_> {
    /// What the "Exact count" line says.
    ///
    /// ```
    /// use app::audience::FullStatus;
    /// use app::estimate::FullTier;
    /// let s = FullStatus { exact_here: false, tier: FullTier::Download, may_download: true, server: None, missing_bytes: 500_000, total_bytes: 2_000_000 };
    /// assert_eq!(s.text(), "downloading 1.5 MB of 2.0 MB…");
    /// ```
    pub fn text(&self) -> String {
        if self.exact_here {
            return format!("computed here from {} of full-tier data", format::bytes(self.total_bytes));
        }
        match (self.tier, &self.server) {
            (FullTier::Server, Some(Ok(()))) if !self.may_download => {
                "counted by the server: this token downloads no full-tier data".to_owned()
            }
            (FullTier::Server, None) if !self.may_download => {
                "asking the server: this token downloads no full-tier data".to_owned()
            }
            (FullTier::Server, Some(Ok(()))) => {
                format!("from the server (needs {}, over the download budget)", format::bytes(self.missing_bytes))
            }
            (FullTier::Server, Some(Err(e))) => format!("server count failed: {e}"),
            (FullTier::Server, None) => {
                format!("asking the server (needs {}, over the download budget)", format::bytes(self.missing_bytes))
            }
            (FullTier::Download, _) if self.total_bytes == 0 => "waiting for the day…".to_owned(),
            (FullTier::Download, _) => format!(
                "downloading {} of {}…",
                format::bytes(self.total_bytes.saturating_sub(self.missing_bytes)),
                format::bytes(self.total_bytes),
            ),
        }
    }

    /// The download's progress in percent, while the browser downloads the full tier.
    pub fn progress_percent(&self) -> Option<f64> {
        (!self.exact_here && self.tier == FullTier::Download && self.total_bytes > 0).then(|| {
            (self.total_bytes - self.missing_bytes.min(self.total_bytes)) as f64 / self.total_bytes as f64 * 100.0
        })
    }
}

/// What a key or button does to a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Move it before its previous sibling.
    Up,
    /// Move it after its next sibling.
    Down,
    /// Negate it (or remove the negation).
    Not,
    /// Switch a group between all of and any of.
    Op,
    /// Remove it.
    Remove,
    /// Open it in the picker.
    Select,
}

impl Action {
    /// The value of a button's `data-action`.
    pub fn key(self) -> &'static str {
        match self {
            Action::Up => "up",
            Action::Down => "down",
            Action::Not => "not",
            Action::Op => "op",
            Action::Remove => "remove",
            Action::Select => "select",
        }
    }
}

/// The action of a key pressed on a condition row; `on_row` when the row itself has the focus
/// (not one of its buttons, which keep their own keys except Alt+arrows).
///
/// ```
/// use app::audience::{Action, key_action};
/// assert_eq!(key_action("ArrowUp", true, false), Some(Action::Up));
/// assert_eq!(key_action("ArrowUp", false, true), None);
/// assert_eq!(key_action("Delete", false, false), None);
/// ```
pub fn key_action(key: &str, alt: bool, on_row: bool) -> Option<Action> {
    match key {
        "ArrowUp" if alt => Some(Action::Up),
        "ArrowDown" if alt => Some(Action::Down),
        "Delete" | "Backspace" if on_row => Some(Action::Remove),
        "n" | "N" | "!" if on_row => Some(Action::Not),
        "Enter" | " " if on_row => Some(Action::Select),
        _ => None,
    }
}

/// What an action leaves behind: the row to focus and the selection after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acted {
    /// The row to focus (where the condition is now), none after a removal.
    pub focus: Option<Vec<usize>>,
    /// The selected condition after the action.
    pub selected: Option<Vec<usize>>,
}

/// Applies `action` to the condition at `path`; the selection follows a moved condition and
/// is cleared by a removal.
pub fn act(draft: &mut Draft, selected: Option<&[usize]>, path: &[usize], action: Action) -> Acted {
    let focus = match action {
        Action::Up => draft.move_by(path, -1).unwrap_or_else(|| path.to_vec()),
        Action::Down => draft.move_by(path, 1).unwrap_or_else(|| path.to_vec()),
        Action::Not => {
            draft.toggle_not(path);
            path.to_vec()
        }
        Action::Op => {
            draft.toggle_op(path);
            path.to_vec()
        }
        Action::Select => return Acted { focus: Some(path.to_vec()), selected: Some(path.to_vec()) },
        Action::Remove => {
            draft.remove(path);
            return Acted { focus: None, selected: None };
        }
    };
    let selected = if selected == Some(path) { Some(focus.clone()) } else { selected.map(<[usize]>::to_vec) };
    Acted { focus: Some(focus), selected }
}

/// The kind chosen in the save form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveKind {
    /// Recomputed every day from the rule.
    Dynamic,
    /// The members of the chosen day, frozen.
    Static,
}

/// The segment being edited, when the builder was opened from Segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Editing {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The ETag it was read with (for `If-Match`).
    pub etag: Option<String>,
}

/// The one request a save makes.
#[derive(Debug, Clone, PartialEq)]
pub enum SaveRequest {
    /// `PUT …/segments/{id}` of the segment being edited (with `If-Match`).
    Update(SegmentInput),
    /// `POST …/segments`: a new dynamic segment.
    Create(SegmentInput),
    /// `POST …/segments/{id}/freeze`: the rule's members on the day, as a new static segment.
    Freeze {
        /// The new segment's id.
        id: String,
        /// Its name, description, day and rule.
        input: FreezeInput,
    },
}

/// What the save form asks for, before any request.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveForm<'a> {
    /// The name typed.
    pub name: &'a str,
    /// The kind chosen (ignored when updating).
    pub kind: SaveKind,
    /// The segment being edited, if any.
    pub editing: Option<&'a Editing>,
    /// "Save as new" (or a first save): create rather than update.
    pub as_new: bool,
    /// The rule, as JSON.
    pub rule: serde_json::Value,
    /// The builder's day (the members a static segment freezes).
    pub ds: Option<&'a str>,
}

/// The request for a save, or the problem with the form (a 400 naming the field, as the
/// server would answer it).
///
/// ```
/// use app::audience::{SaveForm, SaveKind, SaveRequest, save_request};
/// let form = SaveForm { name: " Fans ", kind: SaveKind::Static, editing: None, as_new: true, rule: serde_json::json!({"all": []}), ds: Some("2026-11-20") };
/// let SaveRequest::Freeze { id, input } = save_request(&form).unwrap() else { panic!("a freeze") };
/// assert_eq!((id.as_str(), input.name.as_str(), input.ds.as_deref()), ("fans", "Fans", Some("2026-11-20")));
/// ```
pub fn save_request(form: &SaveForm<'_>) -> Result<SaveRequest, Error> {
    let name = form.name.trim();
    if name.is_empty() {
        let mut error = Error::api(400, "invalid_field", "give the segment a name");
        if let Error::Api { body, .. } = &mut error {
            body.field = Some("name".to_owned());
        }
        return Err(error);
    }
    let dynamic = |id: &str| SegmentInput {
        id: Some(id.to_owned()),
        name: name.to_owned(),
        description: Some(String::new()),
        kind: Some(SegmentKind::Dynamic),
        rule: Some(Rule(form.rule.clone())),
        version: None,
    };
    Ok(match (form.as_new, form.editing, form.kind) {
        (false, Some(e), _) => SaveRequest::Update(dynamic(&e.id)),
        (_, _, SaveKind::Static) => SaveRequest::Freeze {
            id: slug(name),
            input: FreezeInput {
                name: name.to_owned(),
                description: Some("Frozen from the audience builder".to_owned()),
                ds: form.ds.map(str::to_owned),
                rule: Some(form.rule.clone()),
                segment: None,
                funnel: None,
                step: None,
                dropped: false,
            },
        },
        (_, _, SaveKind::Dynamic) => SaveRequest::Create(dynamic(&slug(name))),
    })
}

impl SaveRequest {
    /// The id of the segment written.
    pub fn id(&self) -> &str {
        match self {
            SaveRequest::Update(input) | SaveRequest::Create(input) => input.id.as_deref().unwrap_or_default(),
            SaveRequest::Freeze { id, .. } => id,
        }
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        match self {
            SaveRequest::Update(input) | SaveRequest::Create(input) => &input.name,
            SaveRequest::Freeze { input, .. } => &input.name,
        }
    }

    /// What the form says once the save succeeded; `members` is what a freeze answered.
    pub fn done_message(&self, members: u64, ds: &str) -> String {
        let name = self.name();
        match self {
            SaveRequest::Update(_) => format!("Saved changes to “{name}”."),
            SaveRequest::Create(_) => format!("Saved “{name}” as a dynamic segment."),
            SaveRequest::Freeze { .. } => {
                format!("Saved “{name}” as a static segment of {} users (members of {ds}).", format::int(members))
            }
        }
    }
}

/// The state of a save.
#[derive(Debug, Clone, PartialEq)]
pub enum SaveState {
    /// Nothing asked yet (or a conflict was reloaded).
    Idle,
    /// The request is under way.
    Saving,
    /// Done: what to say.
    Saved(String),
    /// The segment changed since it was read (412).
    Conflict,
    /// Refused or failed, with the server's words.
    Failed(Error),
}

impl SaveState {
    /// The state after a request's answer.
    pub fn after(result: Result<String, Error>) -> SaveState {
        match result {
            Ok(message) => SaveState::Saved(message),
            Err(e) if e.is_conflict() => SaveState::Conflict,
            Err(e) => SaveState::Failed(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draft::{Cond, Op};
    use crate::estimate::Tier;

    fn outcome(tier: Tier, count: f64) -> Outcome {
        Outcome { tier, count, lo: count - 10.0, hi: count + 10.0, universe: 1_000, steps: vec![600.0, count] }
    }

    fn server(count: u64) -> Estimate {
        let json = serde_json::json!({
            "ds": "2026-11-20", "version": 1, "tier": "exact", "count": count, "universe": 2_000,
            "steps": [{"path": "all[0]", "count": 900}, {"path": "all[1]", "count": count}], "warnings": []
        });
        serde_json::from_value(json).expect("an estimate")
    }

    #[test]
    fn the_headline_prefers_exact_here_then_the_server_then_the_sample() {
        let (exact, sample, srv) = (outcome(Tier::Full, 250.0), outcome(Tier::Sample, 247.6), server(251));
        let a = Access::fallback();
        let h = headline(best(Some(&exact), Some(&srv), Some(&sample)), &a);
        assert_eq!((h.text.as_str(), h.exact, h.source), ("250", Some(250), Source::Exact));
        assert!((h.share - 0.25).abs() < 1e-12);
        let h = headline(best(None, Some(&srv), Some(&sample)), &a);
        assert_eq!((h.text.as_str(), h.exact, h.source.key()), ("251", Some(251), "exact-server"));
        assert!((h.share - 251.0 / 2_000.0).abs() < 1e-12);
        let h = headline(best(None, None, Some(&sample)), &a);
        assert_eq!((h.text.as_str(), h.exact, h.source.badge().1), ("≈ 248", None, "estimate"));
        let h = headline(best(None, None, None), &a);
        assert_eq!((h.text.as_str(), h.source), ("…", Source::Loading));
    }

    #[test]
    fn an_empty_server_universe_is_a_zero_share_not_nan() {
        let mut srv = server(0);
        srv.universe = 0;
        assert_eq!(headline(best(None, Some(&srv), None), &Access::fallback()).share, 0.0);
    }

    fn aggregate(k: u64) -> Access {
        let settings = crate::api::AppSettings { min_audience: k, epsilon: 1.0, daily_budget: 10.0 };
        Access { role: Some(crate::api::Role::Aggregate), settings: Some(settings) }
    }

    #[test]
    fn an_aggregate_token_sees_noisy_counts_and_less_than_k_below_the_minimum() {
        let a = aggregate(100);
        let mut noisy = server(251);
        noisy.noisy = true;
        let h = headline(best(None, Some(&noisy), None), &a);
        assert_eq!((h.text.as_str(), h.exact, h.source), ("251", None, Source::Noisy));
        let mut withheld = server(0);
        (withheld.count, withheld.suppressed, withheld.noisy) = (None, true, true);
        withheld.steps[1] = crate::api::Step { path: "all[1]".into(), count: None, suppressed: true };
        let h = headline(best(None, Some(&withheld), None), &a);
        assert_eq!((h.text.as_str(), h.exact, h.source, h.share), ("< 100", None, Source::Withheld, 0.0));
        assert_eq!(funnel_steps(Best::Server(&withheld)), (2_000, vec![Some(900.0), None], false));
        // The sample's own estimate below k reads the same way.
        let low = outcome(Tier::Sample, 40.0);
        let h = headline(best(None, None, Some(&low)), &a);
        assert_eq!((h.text.as_str(), h.share), ("< 100", 0.0));
    }

    #[test]
    fn the_funnel_reads_the_same_best_count_as_the_headline() {
        let (sample, srv) = (outcome(Tier::Sample, 247.6), server(251));
        assert_eq!(
            funnel_steps(best(None, Some(&srv), Some(&sample)).expect("a count")),
            (2_000, vec![Some(900.0), Some(251.0)], false)
        );
        assert_eq!(
            funnel_steps(best(None, None, Some(&sample)).expect("a count")),
            (1_000, vec![Some(600.0), Some(247.6)], true)
        );
    }

    #[test]
    fn the_exact_count_line_follows_the_budget_decision() {
        let failed = Error::api(503, "overloaded", "busy");
        let status = |exact_here, tier, server, missing_bytes, total_bytes| FullStatus {
            exact_here,
            tier,
            may_download: true,
            server,
            missing_bytes,
            total_bytes,
        };
        let here = status(true, FullTier::Download, None, 0, 3_000_000);
        assert_eq!(here.text(), "computed here from 3.0 MB of full-tier data");
        assert_eq!(here.progress_percent(), None);
        let asking = status(false, FullTier::Server, None, 90_000_000, 90_000_000);
        assert_eq!(asking.text(), "asking the server (needs 90.0 MB, over the download budget)");
        assert_eq!(asking.progress_percent(), None);
        let answered = status(false, FullTier::Server, Some(Ok(())), 90_000_000, 90_000_000);
        assert_eq!(answered.text(), "from the server (needs 90.0 MB, over the download budget)");
        let refused = status(false, FullTier::Server, Some(Err(&failed)), 90_000_000, 90_000_000);
        assert_eq!(refused.text(), "server count failed: the server answered 503: busy");
        let waiting = status(false, FullTier::Download, None, 0, 0);
        assert_eq!((waiting.text().as_str(), waiting.progress_percent()), ("waiting for the day…", None));
        let quarter = status(false, FullTier::Download, None, 3_000_000, 4_000_000);
        assert_eq!(quarter.progress_percent(), Some(25.0));
        let aggregate = FullStatus { may_download: false, ..status(false, FullTier::Server, Some(Ok(())), 0, 0) };
        assert_eq!(aggregate.text(), "counted by the server: this token downloads no full-tier data");
    }

    #[test]
    fn keys_on_a_row_and_on_its_buttons() {
        assert_eq!(key_action("ArrowDown", true, true), Some(Action::Down));
        assert_eq!(key_action("Backspace", false, true), Some(Action::Remove));
        assert_eq!(key_action("N", false, true), Some(Action::Not));
        assert_eq!(key_action("!", false, false), None);
        assert_eq!(key_action(" ", false, true), Some(Action::Select));
        assert_eq!(key_action("Enter", false, false), None);
        assert_eq!(key_action("x", true, true), None);
    }

    fn three() -> Draft {
        let mut d = Draft::default();
        d.add(&[], Cond::tag("gender", &["female"]));
        d.add(&[], Cond::tag("city", &["sz"]));
        d.add(&[], Cond::group(Op::Any));
        d
    }

    #[test]
    fn a_moved_condition_keeps_its_selection_and_focus() {
        let mut d = three();
        let acted = act(&mut d, Some(&[1]), &[1], Action::Up);
        assert_eq!(acted, Acted { focus: Some(vec![0]), selected: Some(vec![0]) });
        assert_eq!(d.conds[0].summary(), Cond::tag("city", &["sz"]).summary());
        // Another row selected: the selection stays where it is.
        let acted = act(&mut d, Some(&[2]), &[0], Action::Down);
        assert_eq!(acted, Acted { focus: Some(vec![1]), selected: Some(vec![2]) });
        // The first row cannot move up: focus stays on it.
        let acted = act(&mut d, None, &[0], Action::Up);
        assert_eq!(acted, Acted { focus: Some(vec![0]), selected: None });
    }

    #[test]
    fn negating_switching_and_removing() {
        let mut d = three();
        act(&mut d, None, &[0], Action::Not);
        assert!(d.conds[0].negated);
        act(&mut d, None, &[2], Action::Op);
        assert!(matches!(&d.conds[2].node, crate::draft::Node::Group(Op::All, _)));
        let acted = act(&mut d, Some(&[2]), &[1], Action::Remove);
        assert_eq!(acted, Acted { focus: None, selected: None });
        assert_eq!(d.conds.len(), 2);
        assert_eq!(act(&mut d, None, &[1], Action::Select).selected, Some(vec![1]));
    }

    #[test]
    fn a_save_makes_exactly_one_request_of_the_right_kind() {
        let rule = serde_json::json!({"all": [{"tag": "gender", "in": ["female"]}]});
        let editing = Editing { id: "women".into(), name: "Women".into(), etag: Some("\"3\"".into()) };
        let form = |name, kind, editing, as_new| SaveForm {
            name,
            kind,
            editing,
            as_new,
            rule: rule.clone(),
            ds: Some("2026-11-20"),
        };

        let update = save_request(&form("Women 2", SaveKind::Static, Some(&editing), false)).expect("a request");
        let SaveRequest::Update(input) = &update else { panic!("an update: {update:?}") };
        assert_eq!(
            (input.id.as_deref(), input.kind, update.name()),
            (Some("women"), Some(SegmentKind::Dynamic), "Women 2")
        );
        assert_eq!(update.done_message(0, "2026-11-20"), "Saved changes to “Women 2”.");

        let create = save_request(&form("Young women", SaveKind::Dynamic, Some(&editing), true)).expect("a request");
        assert!(matches!(&create, SaveRequest::Create(i) if i.rule == Some(Rule(rule.clone()))));
        assert_eq!(create.id(), "young-women");

        let freeze = save_request(&form("Young women", SaveKind::Static, None, true)).expect("a request");
        let SaveRequest::Freeze { id, input } = &freeze else { panic!("a freeze: {freeze:?}") };
        assert_eq!((id.as_str(), input.rule.as_ref(), input.segment.as_ref()), ("young-women", Some(&rule), None));
        assert_eq!(
            freeze.done_message(12_345, "2026-11-20"),
            "Saved “Young women” as a static segment of 12,345 users (members of 2026-11-20)."
        );
        // The body is what the server's `FreezeInput` reads (it refuses unknown fields).
        let body = serde_json::to_value(input).expect("serializes");
        assert_eq!(body["ds"], "2026-11-20");
        assert!(body.get("segment").is_none());
    }

    #[test]
    fn a_nameless_save_is_refused_naming_the_field() {
        let form = SaveForm {
            name: "  ",
            kind: SaveKind::Dynamic,
            editing: None,
            as_new: true,
            rule: serde_json::json!({}),
            ds: None,
        };
        let e = save_request(&form).expect_err("refused");
        let Error::Api { status, body } = &e else { panic!("an API error") };
        assert_eq!((*status, body.field.as_deref()), (400, Some("name")));
        assert_eq!(e.to_string(), "the server answered 400: give the segment a name");
    }

    #[test]
    fn answers_become_states() {
        assert_eq!(SaveState::after(Ok("ok".into())), SaveState::Saved("ok".into()));
        assert_eq!(SaveState::after(Err(Error::api(412, "precondition_failed", "changed"))), SaveState::Conflict);
        let e = Error::api(409, "conflict", "segment `x` exists");
        assert_eq!(SaveState::after(Err(e.clone())), SaveState::Failed(e));
    }
}
