//! Tests of [`super`].

use super::*;
use crate::api::{HistoryDay, MetricRates};

fn day(ds: &str, size: Option<u64>, flows: Option<(u64, u64)>, rate: Option<(f64, f64)>) -> HistoryDay {
    let mut metrics = std::collections::BTreeMap::new();
    if let Some((s, a)) = rate {
        metrics.insert("paid".to_owned(), MetricRates { segment: Some(s), all: Some(a) });
    }
    HistoryDay {
        ds: ds.into(),
        size,
        entered: flows.map(|f| f.0),
        left: flows.map(|f| f.1),
        error: None,
        universe: 1_000,
        suppressed: false,
        metrics,
    }
}

fn history(id: &str, days: Vec<HistoryDay>) -> (String, String, History) {
    (id.into(), id.to_uppercase(), History { segment: id.into(), days, backfill: None })
}

#[test]
fn histories_with_different_days_share_one_axis() {
    let a = history(
        "a",
        vec![day("2026-11-01", Some(100), None, Some((0.5, 0.2))), day("2026-11-03", Some(90), Some((5, 15)), None)],
    );
    let b = history("b", vec![day("2026-11-02", None, None, Some((0.1, 0.25)))]);
    let t = shape(&[a, b], Some("paid"));
    assert_eq!(t.days, ["2026-11-01", "2026-11-02", "2026-11-03"]);
    assert_eq!(t.lines[0].sizes, [Some(100), None, Some(90)]);
    assert_eq!(t.lines[1].sizes, [None, None, None]);
    assert_eq!(t.all_rates, [Some(0.2), Some(0.25), None]);
    assert_eq!(t.missing_days(), 3);
    assert_eq!(t.default_day(), Some(2));
    let s = summaries(&t);
    assert_eq!((s[0].latest, s[0].change, s[0].entered, s[0].left), (Some(90), Some(-10), 5, 15));
    assert_eq!(s[0].change_share, Some(-0.1));
    assert_eq!((s[0].rate, s[0].all_rate), (Some(0.5), Some(0.2)));
    assert_eq!(s[1].latest, None);
}

#[test]
fn withheld_days_read_less_than_k_and_are_not_missing() {
    let mut low = day("2026-11-02", None, None, None);
    low.suppressed = true;
    let a = history("a", vec![day("2026-11-01", Some(500), None, None), low]);
    let t = Trends { min_audience: 100, ..shape(&[a], Some("paid")) };
    assert_eq!(t.lines[0].suppressed, [false, true]);
    assert_eq!(t.missing_days(), 0, "nothing to backfill");
    assert_eq!(t.default_day(), Some(1));
    assert_eq!(size_readings(&t, 1)[0].value, "< 100");
    assert_eq!(flow_readings(&t, 1)[0].value, "< 100");
    assert_eq!(rate_readings(&t, 1)[0].value, "< 100");
}

#[test]
fn readings_are_exact_and_say_what_is_missing() {
    let a = history(
        "a",
        vec![
            day("2026-11-01", Some(12_506), None, Some((4_812.0 / 12_506.0, 0.301))),
            day("2026-11-02", Some(12_600), Some((1_234, 1_140)), Some((0.4, 0.3))),
        ],
    );
    let t = shape(&[a], Some("paid"));
    let sizes = size_readings(&t, 1);
    assert_eq!((sizes[0].value.as_str(), sizes[0].detail.as_str()), ("12,600", "+94 from the day before"));
    let flows = flow_readings(&t, 1);
    assert_eq!((flows[0].value.as_str(), flows[0].detail.as_str()), ("+1,234 / −1,140", "net +94"));
    assert_eq!(flow_readings(&t, 0)[0].value, "–");
    let rates = rate_readings(&t, 0);
    assert_eq!((rates[0].value.as_str(), rates[0].detail.as_str()), ("38.48%", "4,812 of 12,506"));
    assert_eq!(rates[1].id, None);
    assert_eq!(rates[1].value, "30.10%");
}

#[test]
fn toggling_stops_at_five() {
    let mut s = Selection::default();
    for id in ["a", "b", "c", "d", "e", "f"] {
        s.toggle(id);
    }
    assert_eq!(s.segments, ["a", "b", "c", "d", "e"]);
    assert!(s.is_full());
    s.toggle("c");
    assert_eq!(s.segments, ["a", "b", "d", "e"]);
    let long = Selection::from_query("?segments=a,b,c,d,e,f,g");
    assert_eq!(long.segments.len(), MAX_SEGMENTS);
}

#[test]
fn ranges_snap_to_published_days() {
    let days: Vec<String> = ["2026-11-01", "2026-11-03", "2026-11-05"].map(String::from).to_vec();
    assert_eq!(range(&days, Some("2026-11-02"), Some("2026-11-04")), Some(("2026-11-03".into(), "2026-11-03".into())));
    assert_eq!(range(&days, Some("2030-01-01"), None), Some(("2026-11-05".into(), "2026-11-05".into())));
    assert_eq!(range(&days, None, Some("2020-01-01")), Some(("2026-11-01".into(), "2026-11-01".into())));
    assert_eq!(range(&[], None, None), None);
}

#[test]
fn backfill_notes() {
    let b = |state, done, error: Option<&str>, attempts| Backfill {
        state,
        done,
        total: 3,
        error: error.map(str::to_owned),
        attempts,
        next_attempt_ms: None,
    };
    let failed = b(BackfillState::Failed, 1, Some("disk full"), 8);
    assert!(backfill_note(Some(&failed), 1).is_some_and(|n| n.contains("disk full") && n.contains("1 day is")));
    assert!(!should_poll(Some(&failed), 1), "a failed job waits for a change: no point asking");
    let retrying = b(BackfillState::Retrying, 1, Some("disk full"), 2);
    let note = backfill_note(Some(&retrying), 2).unwrap_or_default();
    assert!(note.contains("retries by itself") && note.contains("attempt 3"), "{note}");
    assert!(should_poll(Some(&retrying), 2));
    let done = b(BackfillState::Done, 3, None, 0);
    assert_eq!(backfill_note(Some(&done), 0), None);
    assert!(backfill_note(Some(&done), 2).is_some());
    assert!(should_poll(Some(&b(BackfillState::Running, 0, None, 0)), 2));
    assert!(!should_poll(Some(&done), 2));
}
