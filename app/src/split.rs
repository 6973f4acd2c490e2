//! The Split page's logic (拆包): the form of a new split and its checks, the preview of the
//! groups computed in the browser with the engine's salted hashes (the server runs the same
//! code, so the preview is the split), the balance check (sizes against the plan with the
//! chi-square sample-ratio-mismatch test, and the tag mix of each group), and the outcome
//! table. Plain Rust, tested natively.

use engine::IdSet;
use engine::Manifest;
use engine::manifest::BlobRef;
use engine::split::{Group, Split};

use crate::api::{MixRow, Outcome};
use crate::format;

// The balance arithmetic is the engine's, the very functions the server's balance check calls,
// so the preview and the server's answer agree to the last digit by construction.
pub use engine::balance::{MIX_MAX_VALUES, MIX_ROWS, SRM_ALPHA, SizeCheck, mix_groups, size_check, tag_mix};
/// Largest segment previewed in the browser: its member list is downloaded (about 12 bytes a
/// member), so beyond this the page says the server will split it and shows the server's
/// check after saving.
pub const PREVIEW_MAX_MEMBERS: u64 = 2_000_000;
/// Example users listed per group in the preview.
pub const SAMPLE_USERS: usize = 3;
/// Longest salt the server takes, in bytes.
pub const MAX_SALT_BYTES: usize = 128;
/// Most groups in one split (more would not fit the page, nor a sensible experiment).
pub const MAX_GROUPS: usize = 10;

/// Whether `id` is a valid id for the server (the one rule, [`engine::id::check_id`]:
/// `[A-Za-z0-9._-]{1,64}`, not `.` or `..`): experiment ids and group names (group names are
/// part of the export's path).
///
/// ```
/// assert!(app::split::valid_id("spring-push_2026.v2"));
/// assert!(!app::split::valid_id("spring push"));
/// assert!(!app::split::valid_id(""));
/// assert!(!app::split::valid_id(".."));
/// ```
pub fn valid_id(id: &str) -> bool {
    engine::id::check_id(id).is_ok()
}

/// The user ids of a member export (`user_id` header, one id a line, quoted when needed).
///
/// ```
/// let users = app::split::parse_user_csv("user_id\nu1\n\"u,2\"\n\"say \"\"hi\"\"\"\n").unwrap();
/// assert_eq!(users, ["u1", "u,2", "say \"hi\""]);
/// assert!(app::split::parse_user_csv("id\nu1\n").is_err());
/// ```
pub fn parse_user_csv(text: &str) -> Result<Vec<String>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (header, rest) = text.split_once('\n').unwrap_or((text, ""));
    if header.trim_end_matches('\r') != "user_id" {
        return Err(format!("expected the header `user_id`, found `{}`", header.trim()));
    }
    let mut users = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(&c) = chars.peek() {
        let mut field = String::new();
        if c == '"' {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("a quoted user id is not closed".into()),
                }
            }
            // Up to the end of the line.
            for c in chars.by_ref() {
                if c == '\n' {
                    break;
                }
            }
        } else {
            for c in chars.by_ref() {
                if c == '\n' {
                    break;
                }
                field.push(c);
            }
            if field.ends_with('\r') {
                field.pop();
            }
            if field.is_empty() {
                continue;
            }
        }
        users.push(field);
    }
    Ok(users)
}

/// One group row of the form, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDraft {
    /// Group name.
    pub name: String,
    /// Percentage of the segment, as typed.
    pub percent: String,
}

impl GroupDraft {
    /// A row.
    pub fn new(name: &str, percent: &str) -> GroupDraft {
        GroupDraft { name: name.to_owned(), percent: percent.to_owned() }
    }
}

/// The groups a new split starts with: half and half.
pub fn default_groups() -> Vec<GroupDraft> {
    vec![GroupDraft::new("control", "50"), GroupDraft::new("treatment", "50")]
}

/// A name for one more group: `treatment-2`, `treatment-3`, … (the first free one).
///
/// ```
/// use app::split::{GroupDraft, next_group_name};
/// assert_eq!(next_group_name(&app::split::default_groups()), "treatment-2");
/// assert_eq!(next_group_name(&[GroupDraft::new("a", "1")]), "treatment");
/// ```
pub fn next_group_name(groups: &[GroupDraft]) -> String {
    let taken = |n: &str| groups.iter().any(|g| g.name == n);
    if !taken("treatment") {
        return "treatment".to_owned();
    }
    (2..).map(|i| format!("treatment-{i}")).find(|n| !taken(n)).unwrap_or_default()
}

/// What is wrong with the form, each problem once, in the form's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<String>);

/// Checks the form: the id, the salt and the groups. On success, the split the engine will run
/// (in the preview and, identically, on the server).
///
/// ```
/// use app::split::{check, default_groups, GroupDraft};
/// assert!(check("exp-1", "exp-1", &default_groups()).is_ok());
/// let problems = check("exp 1", "", &[GroupDraft::new("a", "70"), GroupDraft::new("b", "40")]).expect_err("refused");
/// assert_eq!(problems.0.len(), 3, "{problems:?}");
/// ```
pub fn check(id: &str, salt: &str, groups: &[GroupDraft]) -> Result<Split, Problems> {
    let mut problems = Vec::new();
    if !valid_id(id.trim()) {
        problems
            .push("The experiment id may use letters, digits, “.”, “_” and “-” (1 to 64; not “.” or “..”).".to_owned());
    }
    if salt.is_empty() || salt.len() > MAX_SALT_BYTES {
        problems.push(format!("The salt must be 1 to {MAX_SALT_BYTES} bytes."));
    }
    let mut parsed = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let name = g.name.trim();
        if !valid_id(name) {
            problems.push(format!(
                "Group {}: the name may use letters, digits, “.”, “_” and “-” (1 to 64; not “.” or “..”).",
                i + 1
            ));
        }
        match g.percent.trim().trim_end_matches('%').trim().parse::<f64>() {
            Ok(p) if p > 0.0 && p.is_finite() => parsed.push(Group { name: name.to_owned(), percent: p }),
            _ => problems.push(format!("Group {}: the percentage must be a number above 0.", i + 1)),
        }
    }
    // Said with the other problems, so the form shows everything at once.
    let total: f64 = parsed.iter().map(|g| g.percent).sum();
    if total > 100.0 {
        problems.push(format!("Group percentages must total at most 100% (they add up to {total}%)."));
    }
    if groups.len() < 2 {
        problems.push("A split needs at least two groups.".to_owned());
    }
    if groups.len() > MAX_GROUPS {
        problems.push(format!("A split has at most {MAX_GROUPS} groups."));
    }
    if problems.is_empty() {
        match Split::new(salt, parsed) {
            Ok(split) => return Ok(split),
            Err(e) => problems.push(format!("The groups are not usable: {e}.")),
        }
    }
    Err(Problems(problems))
}

/// A suggested experiment id: the segment and the day (`lapsed-buyers-20261120`), with `-2`,
/// `-3`, … when taken.
///
/// ```
/// assert_eq!(app::split::suggest_id("lapsed-buyers", "2026-11-20", &[]), "lapsed-buyers-20261120");
/// let taken = vec!["a-20261120".to_owned()];
/// assert_eq!(app::split::suggest_id("a", "2026-11-20", &taken), "a-20261120-2");
/// ```
pub fn suggest_id(segment: &str, ds: &str, taken: &[String]) -> String {
    let day: String = ds.chars().filter(char::is_ascii_digit).collect();
    let mut base = format!("{segment}-{day}");
    // Room for a `-NN` suffix within 64 bytes (ids are ASCII).
    base.truncate(60);
    if !taken.contains(&base) {
        return base;
    }
    (2..).map(|i| format!("{base}-{i}")).find(|id| !taken.contains(id)).unwrap_or(base)
}

/// A split computed in the browser.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    /// Members of the segment on the day.
    pub audience: u64,
    /// Members per group.
    pub counts: Vec<u64>,
    /// Members in no group (the groups' total is under 100%).
    pub unassigned: u64,
    /// The group of each member, in the export's order (dense-id order); `u8::MAX`: none.
    pub assignment: Vec<u8>,
    /// The first few members of each group.
    pub samples: Vec<Vec<String>>,
}

/// Assigns every member with the engine's [`Split::assign`], exactly as the server will.
///
/// ```
/// use engine::split::{Group, Split};
/// let split = Split::new("s", vec![Group { name: "a".into(), percent: 50.0 }, Group { name: "b".into(), percent: 50.0 }]).unwrap();
/// let users: Vec<String> = (0..1_000).map(|i| format!("u{i}")).collect();
/// let p = app::split::preview(&split, &users);
/// assert_eq!(p.counts.iter().sum::<u64>(), 1_000);
/// assert_eq!(p.assignment[7] as usize, split.assign("u7").unwrap());
/// ```
pub fn preview(split: &Split, users: &[String]) -> Preview {
    let n = split.groups().len();
    let mut counts = vec![0u64; n];
    let mut samples = vec![Vec::new(); n];
    let mut unassigned = 0;
    let assignment = users
        .iter()
        .map(|u| match split.assign(u) {
            Some(g) => {
                counts[g] += 1;
                if samples[g].len() < SAMPLE_USERS {
                    samples[g].push(u.clone());
                }
                // `check` allows at most MAX_GROUPS groups, far below u8::MAX.
                u8::try_from(g).unwrap_or(u8::MAX)
            }
            None => {
                unassigned += 1;
                u8::MAX
            }
        })
        .collect();
    Preview { audience: users.len() as u64, counts, unassigned, assignment, samples }
}

/// A p-value as people read it: `0.412`, `0.0031`, `< 0.0001`.
///
/// ```
/// assert_eq!(app::split::p_value(0.41234), "0.412");
/// assert_eq!(app::split::p_value(0.0031), "0.0031");
/// assert_eq!(app::split::p_value(1e-9), "< 0.0001");
/// ```
pub fn p_value(p: f64) -> String {
    if !p.is_finite() {
        "–".to_owned()
    } else if p < 0.0001 {
        "< 0.0001".to_owned()
    } else if p < 0.01 {
        format!("{p:.4}")
    } else {
        format!("{p:.3}")
    }
}

/// The verdict of a size check in words.
pub fn srm_verdict(check: &SizeCheck) -> String {
    if check.srm {
        format!(
            "Sample-ratio mismatch: p = {} < {SRM_ALPHA}. The groups are not the sizes planned; do not launch until the cause is found.",
            p_value(check.p_value)
        )
    } else {
        format!("Sizes as planned: p = {} (a mismatch is flagged below {SRM_ALPHA}).", p_value(check.p_value))
    }
}

/// Every full-tier blob the tag mix reads: the segment's members, then every value of the
/// mix groups. `None` when the day has no members for the segment.
pub fn mix_refs(manifest: &Manifest, segment: &str) -> Option<Vec<BlobRef>> {
    let members = manifest.segment(segment)?.members.full.clone();
    let mut refs = vec![members];
    refs.extend(mix_groups(manifest).flat_map(|g| g.values.iter().map(|v| v.full.clone())));
    Some(refs)
}

/// Each group's members as dense ids: the export lists members in dense-id order, so the
/// `i`-th exported user is the `i`-th id of the segment's bitmap. `None` when the two differ in
/// length (the segment changed between the two reads): then there is no safe pairing.
///
/// ```
/// use engine::IdSet;
/// let members = IdSet::from_sorted(&[3, 8, 9]);
/// let sets = app::split::group_sets(&members, &[1, u8::MAX, 0], 2).unwrap();
/// assert_eq!(sets[0].iter().collect::<Vec<_>>(), [9]);
/// assert_eq!(sets[1].iter().collect::<Vec<_>>(), [3]);
/// assert!(app::split::group_sets(&members, &[0], 2).is_none());
/// ```
pub fn group_sets(members: &IdSet, assignment: &[u8], groups: usize) -> Option<Vec<IdSet>> {
    if members.len() != assignment.len() as u64 {
        return None;
    }
    let mut ids = vec![Vec::new(); groups];
    for (id, &g) in members.iter().zip(assignment) {
        if let Some(list) = ids.get_mut(usize::from(g)) {
            list.push(id);
        }
    }
    Some(ids.iter().map(|list| IdSet::from_sorted(list)).collect())
}

/// z of a two-sided test at p = 0.001, the threshold the tag mix flags differences at (the same
/// level as the sample-ratio check).
pub const Z_FLAG: f64 = 3.290_526_731_491_926;

/// How far apart the shares of a value may fall by chance between the two smallest groups, for
/// a value held by `share` of the users: `z` standard errors of a difference of two proportions.
/// Random splits always differ a little; a spread beyond this is worth a look before launch.
///
/// ```
/// // Half the users hold the value, groups of 1,000: about ±4.4 points at 95%.
/// let band = app::split::chance_band(0.5, &[1_000, 1_000], engine::stats::Z95);
/// assert!((band - 0.0438).abs() < 1e-3);
/// assert_eq!(app::split::chance_band(0.5, &[1_000], 1.96), 0.0);
/// ```
pub fn chance_band(share: f64, sizes: &[u64], z: f64) -> f64 {
    let mut sorted: Vec<u64> = sizes.to_vec();
    sorted.sort_unstable();
    match sorted.as_slice() {
        [a, b, ..] if *a > 0 && *b > 0 => {
            let p = share.clamp(0.0, 1.0);
            z * (p * (1.0 - p) * (1.0 / *a as f64 + 1.0 / *b as f64)).sqrt()
        }
        _ => 0.0,
    }
}

/// Whether a tag-mix row's spread is beyond chance (p < 0.001) for groups of `sizes`.
///
/// ```
/// use app::api::MixRow;
/// let row = |a: f64, b: f64| MixRow { tag: "t".into(), value: "v".into(), shares: vec![a, b], spread: (a - b).abs() };
/// assert!(!app::split::beyond_chance(&row(0.50, 0.52), &[2_000, 2_000]));
/// assert!(app::split::beyond_chance(&row(0.40, 0.50), &[2_000, 2_000]));
/// ```
pub fn beyond_chance(row: &MixRow, sizes: &[u64]) -> bool {
    let total: u64 = sizes.iter().sum();
    if total == 0 || row.shares.len() != sizes.len() {
        return false;
    }
    let pooled = row.shares.iter().zip(sizes).map(|(s, &n)| s * n as f64).sum::<f64>() / total as f64;
    row.spread > chance_band(pooled, sizes, Z_FLAG)
}

/// Whether a group's rate differs from the first group's, by the difference's 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The first group: what the others are compared with.
    Baseline,
    /// The whole interval is above zero.
    Higher,
    /// The whole interval is below zero.
    Lower,
    /// The interval contains zero.
    Unclear,
}

impl Verdict {
    /// The verdict in words.
    pub const fn label(self) -> &'static str {
        match self {
            Verdict::Baseline => "baseline",
            Verdict::Higher => "higher",
            Verdict::Lower => "lower",
            Verdict::Unclear => "no clear difference",
        }
    }
}

/// One group's outcome, formatted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRow {
    /// Group.
    pub name: String,
    /// Members.
    pub members: String,
    /// Members with the metric.
    pub with_metric: String,
    /// The rate.
    pub rate: String,
    /// Its 95% interval.
    pub interval: String,
    /// The difference from the first group (empty for the first).
    pub difference: String,
    /// Its 95% interval (empty for the first).
    pub difference_interval: String,
    /// What the interval says.
    pub verdict: Verdict,
}

/// The outcome as the table shows it.
///
/// ```
/// use app::api::Outcome;
/// let o: Outcome = serde_json::from_str(r#"{"experiment":"e","metric":"paid_7d","ds":"2026-11-21","after_split":true,
///   "groups":[{"name":"control","members":1000,"with_metric":100,"rate":{"rate":0.1,"lo":0.083,"hi":0.12}},
///             {"name":"treatment","members":1000,"with_metric":150,"rate":{"rate":0.15,"lo":0.129,"hi":0.174},
///              "difference":{"rate":0.05,"lo":0.021,"hi":0.079}}]}"#).unwrap();
/// let rows = app::split::outcome_rows(&o);
/// assert_eq!(rows[1].difference, "+5.00 pp");
/// assert_eq!(rows[1].difference_interval, "+2.10 pp to +7.90 pp");
/// assert_eq!(rows[1].verdict, app::split::Verdict::Higher);
/// ```
pub fn outcome_rows(o: &Outcome) -> Vec<OutcomeRow> {
    o.groups
        .iter()
        .map(|g| {
            let (difference, difference_interval, verdict) = match g.difference {
                None => (String::new(), String::new(), Verdict::Baseline),
                Some(d) => {
                    let verdict = if d.lo > 0.0 {
                        Verdict::Higher
                    } else if d.hi < 0.0 {
                        Verdict::Lower
                    } else {
                        Verdict::Unclear
                    };
                    (format::points(d.rate), format!("{} to {}", format::points(d.lo), format::points(d.hi)), verdict)
                }
            };
            OutcomeRow {
                name: g.name.clone(),
                members: format::int(g.members),
                with_metric: format::int(g.with_metric),
                rate: format::percent_exact(g.rate.rate),
                interval: format!("{} – {}", format::percent_exact(g.rate.lo), format::percent_exact(g.rate.hi)),
                difference,
                difference_interval,
                verdict,
            }
        })
        .collect()
}

/// Days an outcome can be read on, latest first: the split's day (a baseline: differences there
/// were there before any treatment) and every published day after it.
///
/// ```
/// let days: Vec<String> = ["2026-11-19", "2026-11-20", "2026-11-21"].map(String::from).to_vec();
/// assert_eq!(app::split::outcome_days(&days, "2026-11-20"), ["2026-11-21", "2026-11-20"]);
/// ```
pub fn outcome_days(days: &[String], split_ds: &str) -> Vec<String> {
    days.iter().rev().filter(|d| d.as_str() >= split_ds).cloned().collect()
}

/// A percentage without trailing zeros: `12.5`, `50`.
///
/// ```
/// assert_eq!(app::split::percent_text(12.5), "12.5");
/// assert_eq!(app::split::percent_text(50.0), "50");
/// assert_eq!(app::split::percent_text(33.333), "33.33");
/// ```
pub fn percent_text(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// What the groups editor says under the groups: how much of the segment is in the experiment
/// (rows whose percent is not a number count as nothing; the form's check says why).
pub fn groups_total(groups: &[GroupDraft]) -> String {
    let total: f64 =
        groups.iter().filter_map(|g| g.percent.trim().trim_end_matches('%').trim().parse::<f64>().ok()).sum();
    if total < 100.0 - 1e-9 {
        format!("{}% in the experiment, {}% not", percent_text(total), percent_text(100.0 - total))
    } else {
        format!("{}% in the experiment", percent_text(total))
    }
}

/// A fresh salt for "New salt": the id and 32 random bits, so it still says what it is for.
///
/// ```
/// assert_eq!(app::split::new_salt("fans-20261120", 0xbeef), "fans-20261120-0000beef");
/// ```
pub fn new_salt(id: &str, random: u32) -> String {
    format!("{id}-{random:08x}")
}

/// The saved groups against the preview just saved: whether they are the same, and what the
/// page says about it.
pub fn compare_with_preview(saved: &[u64], previewed: &[u64]) -> (bool, String) {
    if previewed == saved {
        return (true, "The server froze exactly the groups of the preview.".to_owned());
    }
    let list = |c: &[u64]| c.iter().map(|c| crate::format::int(*c)).collect::<Vec<_>>().join(" / ");
    (
        false,
        format!(
            "The server's groups differ from the preview ({} vs {}): the segment's members changed in between. The groups below are the frozen ones.",
            list(saved),
            list(previewed)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(name: &str, percent: f64) -> Group {
        Group { name: name.into(), percent }
    }

    #[test]
    fn preview_matches_the_engine_for_every_user_and_counts_add_up() {
        let split =
            Split::new("exp-7", vec![g("control", 10.0), g("treatment", 10.0), g("holdout", 5.0)]).expect("valid");
        let users: Vec<String> = (0..20_000).map(|i| format!("u{i:010}")).collect();
        let p = preview(&split, &users);
        assert_eq!(p.audience, 20_000);
        assert_eq!(p.counts.iter().sum::<u64>() + p.unassigned, 20_000);
        for (u, &a) in users.iter().zip(&p.assignment) {
            assert_eq!(split.assign(u), (a != u8::MAX).then_some(usize::from(a)));
        }
        for (k, sample) in p.samples.iter().enumerate() {
            assert_eq!(sample.len(), SAMPLE_USERS);
            assert!(sample.iter().all(|u| split.assign(u) == Some(k)));
        }
        // 25% of 20,000 exposed, give or take 4 standard errors.
        assert!((p.unassigned as i64 - 15_000).abs() < 250, "{}", p.unassigned);
        let check = size_check(&p.counts, &[10.0, 10.0, 5.0]);
        assert!(!check.srm, "a fair hash passes the SRM check: p = {}", check.p_value);
        assert!((check.planned[2] - 0.2).abs() < 1e-12);
    }

    #[test]
    fn the_same_salt_gives_the_same_groups_and_another_salt_others() {
        let users: Vec<String> = (0..5_000).map(|i| format!("user-{i}")).collect();
        let split = |salt: &str| Split::new(salt, vec![g("a", 50.0), g("b", 50.0)]).expect("valid");
        assert_eq!(preview(&split("s1"), &users), preview(&split("s1"), &users));
        let (a, b) = (preview(&split("s1"), &users), preview(&split("s2"), &users));
        let moved = a.assignment.iter().zip(&b.assignment).filter(|(x, y)| x != y).count();
        assert!(moved > 2_000, "about half move with another salt: {moved}");
    }

    #[test]
    fn form_problems_are_specific() {
        let p = check("ok", "salt", &[GroupDraft::new("a b", "50"), GroupDraft::new("b", "x")]).expect_err("refused");
        assert_eq!(p.0.len(), 2);
        assert!(p.0[0].starts_with("Group 1"));
        assert!(p.0[1].starts_with("Group 2"));
        let p = check("ok", "salt", &[GroupDraft::new("a", "50"), GroupDraft::new("a", "50")]).expect_err("refused");
        assert!(p.0[0].contains("appears twice"), "{p:?}");
        let p = check("ok", "salt", &[GroupDraft::new("a", "100")]).expect_err("refused");
        assert!(p.0[0].contains("two groups"));
        assert!(check("ok", &"s".repeat(129), &default_groups()).is_err());
        let split =
            check(" ok ", "s", &[GroupDraft::new(" a ", "12.5%"), GroupDraft::new("b", "12.5")]).expect("valid");
        assert_eq!(split.groups()[0], g("a", 12.5));
    }

    #[test]
    fn csv_edge_cases() {
        assert_eq!(parse_user_csv("user_id\r\nu1\r\nu2\r\n").expect("crlf"), ["u1", "u2"]);
        assert_eq!(parse_user_csv("user_id\n").expect("empty"), Vec::<String>::new());
        assert_eq!(parse_user_csv("user_id").expect("no newline"), Vec::<String>::new());
        assert_eq!(parse_user_csv("user_id\n\"a\nb\"\nc\n").expect("newline in quotes"), ["a\nb", "c"]);
        assert!(parse_user_csv("user_id\n\"open\n").is_err());
    }

    #[test]
    fn server_numbers_are_read_exactly() {
        // serde_json's default float parser may be one unit in the last place off; the app asks
        // for exact parsing, so a share the server computed compares equal to the same division.
        let row: MixRow = serde_json::from_str(
            r#"{"tag":"os","value":"iOS","shares":[0.23900293255131966,0.19875776397515527],"spread":0.1}"#,
        )
        .expect("valid");
        assert_eq!(row.shares, [163.0 / 682.0, 64.0 / 322.0]);
    }

    #[test]
    fn outcome_verdicts() {
        let o: Outcome = serde_json::from_str(
            r#"{"experiment":"e","metric":"m","ds":"d","after_split":false,"groups":[
            {"name":"a","members":10,"with_metric":1,"rate":{"rate":0.1,"lo":0.0,"hi":0.4}},
            {"name":"b","members":10,"with_metric":0,"rate":{"rate":0.0,"lo":0.0,"hi":0.3},"difference":{"rate":-0.1,"lo":-0.4,"hi":-0.01}},
            {"name":"c","members":10,"with_metric":1,"rate":{"rate":0.1,"lo":0.0,"hi":0.4},"difference":{"rate":0.0,"lo":-0.3,"hi":0.3}}]}"#,
        )
        .expect("valid");
        let v: Vec<Verdict> = outcome_rows(&o).iter().map(|r| r.verdict).collect();
        assert_eq!(v, [Verdict::Baseline, Verdict::Lower, Verdict::Unclear]);
        assert_eq!(outcome_rows(&o)[2].difference, "+0.00 pp");
    }

    #[test]
    fn the_groups_total_says_what_is_left_out() {
        assert_eq!(groups_total(&default_groups()), "100% in the experiment");
        let groups = [GroupDraft::new("a", "12.5%"), GroupDraft::new("b", " 25 "), GroupDraft::new("c", "x")];
        assert_eq!(groups_total(&groups), "37.5% in the experiment, 62.5% not");
    }

    #[test]
    fn saved_groups_are_compared_with_the_preview() {
        assert!(compare_with_preview(&[5_000, 5_001], &[5_000, 5_001]).0);
        let (same, text) = compare_with_preview(&[5_000, 5_002], &[5_000, 5_001]);
        assert!(!same);
        assert!(text.contains("(5,000 / 5,002 vs 5,000 / 5,001)"), "{text}");
    }
}
