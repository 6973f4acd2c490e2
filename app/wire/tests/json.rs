//! The JSON contract: each wire type reads and writes exactly the JSON the API documents.

use serde_json::json;

#[test]
fn enums_serialise_as_the_documented_strings() {
    assert_eq!(json!(wire::Role::Service), json!("service"));
    assert_eq!(json!(wire::Tier::Sample), json!("sample"));
    assert_eq!(json!(wire::SegmentKind::Dynamic), json!("dynamic"));
    assert_eq!(json!(wire::WriteOutcome::Stale), json!("stale"));
    assert_eq!(json!(wire::BackfillState::Running), json!("running"));
    assert_eq!(json!(wire::HealthStatus::Degraded), json!("degraded"));
    assert!(serde_json::from_value::<wire::Role>(json!("owner")).is_err(), "an unknown role is refused");
    assert_eq!(json!(wire::AuditAction::ExportSegment), json!("export_segment"));
    // `as_str` is the same name.
    for kind in [wire::SegmentKind::Dynamic, wire::SegmentKind::Static] {
        assert_eq!(json!(kind), json!(kind.as_str()));
    }
    for role in wire::Role::ALL {
        assert_eq!(json!(role), json!(role.as_str()));
    }
    for action in [
        wire::AuditAction::ExportSegment,
        wire::AuditAction::ExportExperimentGroup,
        wire::AuditAction::Freeze,
        wire::AuditAction::Split,
        wire::AuditAction::DeleteSegment,
        wire::AuditAction::DeleteDay,
        wire::AuditAction::CreateToken,
        wire::AuditAction::RotateToken,
        wire::AuditAction::RevokeToken,
        wire::AuditAction::ChangeSettings,
        wire::AuditAction::StartSync,
        wire::AuditAction::ResendSync,
    ] {
        assert_eq!(json!(action), json!(action.as_str()));
    }
    for state in [wire::BackfillState::Running, wire::BackfillState::Done, wire::BackfillState::Failed] {
        assert_eq!(json!(state), json!(state.as_str()));
    }
    for outcome in [
        wire::WriteOutcome::Created,
        wire::WriteOutcome::Updated,
        wire::WriteOutcome::Deleted,
        wire::WriteOutcome::Stale,
    ] {
        assert_eq!(json!(outcome), json!(outcome.as_str()));
    }
    for tier in [wire::Tier::Exact, wire::Tier::Sample] {
        assert_eq!(json!(tier), json!(tier.as_str()));
    }
    for status in [wire::HealthStatus::Ok, wire::HealthStatus::Degraded] {
        assert_eq!(json!(status), json!(status.as_str()));
    }
}

#[test]
fn absent_options_are_left_out_where_the_api_leaves_them_out() {
    let e = wire::ErrorBody {
        error: "not_found".into(),
        message: "no".into(),
        field: None,
        path: None,
        line: None,
        row: None,
        column: None,
        cycle: None,
    };
    assert_eq!(json!(e), json!({"error": "not_found", "message": "no"}));
    let g = wire::GroupOutcome {
        name: "control".into(),
        members: 10,
        with_metric: 5,
        rate: wire::Rate { rate: 0.5, lo: 0.2, hi: 0.8 },
        difference: None,
    };
    assert!(json!(g).get("difference").is_none());
    // A history without a backfill says so with null (clients read the key).
    let h = wire::History { segment: "s".into(), days: vec![], backfill: None };
    assert_eq!(json!(h), json!({"segment": "s", "days": [], "backfill": null}));
}

#[test]
fn an_experiment_view_is_the_experiment_with_its_balance_beside() {
    let view = wire::ExperimentView {
        experiment: wire::Experiment {
            id: "e".into(),
            segment: "s".into(),
            ds: "2026-01-02".into(),
            salt: "e".into(),
            audience: 3,
            groups: vec![wire::ExperimentGroup { name: "a".into(), percent: 50.0, count: 1, blob: "b".into() }],
            created_ms: 7,
        },
        balance: wire::Balance {
            chi_square: 0.0,
            p_value: 1.0,
            srm: false,
            planned: vec![1.0],
            observed: vec![1.0],
            mix: vec![],
        },
    };
    let value = json!(view);
    assert_eq!(value["id"], "e");
    assert_eq!(value["balance"]["p_value"], 1.0);
    let back: wire::ExperimentView = serde_json::from_value(value).expect("round trip");
    assert_eq!(back, view);
}

#[test]
fn requests_refuse_unknown_fields_where_the_server_does() {
    let bad = json!({"rule": {"tag": "a", "in": ["b"]}, "tir": "sample"});
    assert!(serde_json::from_value::<wire::EstimateRequest>(bad).is_err());
    let ok: wire::EstimateRequest = serde_json::from_value(json!({"rule": {"segment": "x"}})).expect("minimal");
    assert_eq!(ok.tier, wire::Tier::Exact);
    assert_eq!(ok.rule.0, json!({"segment": "x"}));
    // Segment bodies ignore unknown fields: a client may send back what it read.
    let seg: wire::SegmentInput =
        serde_json::from_value(json!({"name": "n", "kind": "static", "revision": 3})).expect("lenient");
    assert_eq!(seg.kind, Some(wire::SegmentKind::Static));
}
