//! Parquet uploads on the real binary, with pyarrow writing the files: the same table uploaded
//! as CSV and as Parquet (any row-group size, codec, string or integer ids, string, dictionary,
//! boolean, integer, decimal and float values) publishes the very same bitmaps, for an app of
//! strings and one of `u32` ids; bad files (nulls, missing or mistyped columns, cut files, not
//! Parquet at all) are 400s naming the row or the column, and change nothing.

use serde_json::{Value, json};
use sieve_tests::{Error, Rng, TestServer, pyarrow};

const ADMIN: &str = "parquet-admin";
const DS: &str = "2026-11-20";

struct Case {
    /// Route after `days/{ds}/` (with its query).
    route: &'static str,
    /// The value column's name and pyarrow type.
    value: (&'static str, &'static str),
    /// CSV text of the value from a number drawn for the row.
    text: fn(u64) -> String,
    /// The JSON pyarrow gets for it.
    json: fn(u64) -> Value,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            route: "tags/plan",
            value: ("value", "string"),
            text: |n| format!("p{}", n % 4),
            json: |n| json!(format!("p{}", n % 4)),
        },
        Case {
            route: "tags/city",
            value: ("value", "dictionary"),
            text: |n| format!("c{}", n % 7),
            json: |n| json!(format!("c{}", n % 7)),
        },
        Case {
            route: "tags/vip?kind=boolean",
            value: ("value", "bool"),
            text: |n| (n % 3 == 0).to_string(),
            json: |n| json!(n % 3 == 0),
        },
        Case {
            route: "tags/age?kind=numeric",
            value: ("value", "int64"),
            text: |n| (n % 80).to_string(),
            json: |n| json!(n % 80),
        },
        Case {
            route: "tags/spend?kind=numeric&scale=2",
            value: ("value", "decimal(12,2)"),
            text: |n| format!("{}.{:02}", n % 5000, n % 100),
            json: |n| json!(format!("{}.{:02}", n % 5000, n % 100)),
        },
        Case {
            route: "tags/ratio?kind=numeric&scale=3",
            value: ("value", "float64"),
            text: |n| format!("{}", (n % 1000) as f64 / 8.0),
            json: |n| json!((n % 1000) as f64 / 8.0),
        },
        Case {
            route: "events/visit",
            value: ("count", "int64"),
            text: |n| (1 + n % 9).to_string(),
            json: |n| json!(1 + n % 9),
        },
    ]
}

fn upload(t: &TestServer, token: &str, app: &str, route: &str, format: &str, body: &[u8]) -> Result<Value, Error> {
    let sep = if route.contains('?') { '&' } else { '?' };
    t.ok("PUT", &format!("/api/v1/apps/{app}/days/{DS}/{route}{sep}format={format}"), token, Some(body))
}

#[test]
fn parquet_from_pyarrow_publishes_what_the_same_csv_does() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let dir = tempfile::tempdir()?;
    let mut rng = Rng(11);
    for (ids, user_type) in [("strings", "string"), ("u32", "uint32"), ("strings", "int64")] {
        let (pq_app, csv_app) = (format!("pq-{ids}-{user_type}"), format!("csv-{ids}-{user_type}"));
        let mut tokens = Vec::new();
        for app in [&pq_app, &csv_app] {
            t.ok(
                "POST",
                "/api/v1/apps",
                ADMIN,
                Some(json!({"id": app, "name": app, "ids": ids}).to_string().as_bytes()),
            )?;
            tokens.push(t.token(app, "editor")?);
        }
        let users: Vec<u64> =
            (0..3_000).map(|_| rng.next_u64() >> 33).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        for (c, case) in cases().iter().enumerate() {
            let drawn: Vec<(u64, u64)> = users.iter().map(|&u| (u, rng.next_u64() % 100_000)).collect();
            let user_json = |u: u64| if user_type == "string" { json!(format!("user{u}")) } else { json!(u) };
            let user_text = |u: u64| if user_type == "string" { format!("user{u}") } else { u.to_string() };
            let path = dir.path().join(format!("{pq_app}-{c}.parquet"));
            let compression = ["snappy", "gzip", "zstd", "lz4", "none"][c % 5];
            pyarrow(&json!({"files": [{
                "path": path, "columns": {"user_id": user_type, case.value.0: case.value.1},
                "rows": drawn.iter().map(|&(u, n)| json!([user_json(u), (case.json)(n)])).collect::<Vec<_>>(),
                "row_group_size": 1 + c * 97, "compression": compression,
            }]}))?;
            let mut csv = format!("user_id,{}\n", case.value.0);
            for &(u, n) in &drawn {
                csv.push_str(&format!("{},{}\n", user_text(u), (case.text)(n)));
            }
            let a = upload(&t, &tokens[0], &pq_app, case.route, "parquet", &std::fs::read(&path)?)?;
            let b = upload(&t, &tokens[1], &csv_app, case.route, "csv", csv.as_bytes())?;
            assert_eq!(
                (&a["rows"], &a["users"], &a["values"]),
                (&b["rows"], &b["users"], &b["values"]),
                "{}",
                case.route
            );
        }
        let a = t.ok("GET", &format!("/api/v1/apps/{pq_app}/days/{DS}/manifest"), &tokens[0], None)?;
        let b = t.ok("GET", &format!("/api/v1/apps/{csv_app}/days/{DS}/manifest"), &tokens[1], None)?;
        for key in ["universe", "sample", "groups", "events"] {
            assert_eq!(a[key], b[key], "{ids} app, {user_type} ids: {key}");
        }
    }
    Ok(())
}

#[test]
fn bad_parquet_is_refused_naming_the_row_or_column_and_changes_nothing() -> Result<(), Error> {
    let t = TestServer::start(ADMIN, &[])?;
    let token = t.app_with_token("p", "editor")?;
    t.ok("PUT", &format!("/api/v1/apps/p/days/{DS}/tags/plan"), &token, Some(b"user_id,value\nu1,a\n"))?;
    let before = t.ok("GET", &format!("/api/v1/apps/p/days/{DS}/manifest"), &token, None)?;
    let dir = tempfile::tempdir()?;
    let file = |name: &str, columns: Value, rows: Value| -> Result<Vec<u8>, Error> {
        let path = dir.path().join(name);
        pyarrow(&json!({"files": [{"path": path, "columns": columns, "rows": rows, "row_group_size": 2}]}))?;
        Ok(std::fs::read(path)?)
    };
    let good =
        file("good.parquet", json!({"user_id": "string", "value": "string"}), json!([["u1", "a"], ["u2", "b"]]))?;
    // (what, the body, the row and column the error names, what its message says)
    type Bad<'a> = (&'a str, Vec<u8>, Option<u64>, Option<u64>, &'a str);
    let cases: Vec<Bad> = vec![
        (
            "a null value",
            file(
                "null.parquet",
                json!({"user_id": "string", "value": "string"}),
                json!([["u1", "a"], ["u2", "b"], ["u3", null]]),
            )?,
            Some(3),
            Some(2),
            "null",
        ),
        (
            "an empty id",
            file("empty.parquet", json!({"user_id": "string", "value": "string"}), json!([["u1", "a"], ["  ", "b"]]))?,
            Some(2),
            Some(1),
            "empty",
        ),
        (
            "no value column",
            file("missing.parquet", json!({"user_id": "string", "v": "string"}), json!([["u1", "a"]]))?,
            None,
            Some(2),
            "missing",
        ),
        (
            "ids as floats",
            file("float.parquet", json!({"user_id": "float64", "value": "string"}), json!([[1.5, "a"]]))?,
            None,
            Some(1),
            "strings or integers",
        ),
        (
            "values as lists",
            file("list.parquet", json!({"user_id": "string", "value": "list"}), json!([["u1", [1]]]))?,
            None,
            Some(2),
            "values are",
        ),
        ("cut short", good[..good.len() - 9].to_vec(), None, None, "Parquet"),
        ("not Parquet", b"user_id,value\nu1,a\n".to_vec(), None, None, "PAR1"),
        ("only the magic", b"PAR1PAR1".to_vec(), None, None, "Parquet"),
    ];
    for (what, body, row, column, says) in cases {
        let r = t.call("PUT", &format!("/api/v1/apps/p/days/{DS}/tags/plan?format=parquet"), &token, Some(&body))?;
        assert_eq!(r.status, 400, "{what}: {}", r.body);
        let e = r.json()?;
        assert_eq!(
            (e["error"].as_str(), e["row"].as_u64(), e["column"].as_u64()),
            (Some("invalid_upload"), row, column),
            "{what}: {e}"
        );
        assert!(e["message"].as_str().unwrap_or_default().contains(says), "{what}: {e} should say {says}");
    }
    // A numeric group refuses a value it cannot hold, naming the row.
    let spend = file(
        "spend.parquet",
        json!({"user_id": "string", "value": "decimal(10,3)"}),
        json!([["u1", "1.500"], ["u2", "2.125"]]),
    )?;
    let r = t.call(
        "PUT",
        &format!("/api/v1/apps/p/days/{DS}/tags/spend?kind=numeric&scale=2&format=parquet"),
        &token,
        Some(&spend),
    )?;
    assert_eq!((r.status, r.json()?["row"].as_u64()), (400, Some(2)), "{}", r.body);
    let after = t.ok("GET", &format!("/api/v1/apps/p/days/{DS}/manifest"), &token, None)?;
    assert_eq!(before, after, "refused uploads change nothing");
    Ok(())
}
