//! Checking every row of a PostgreSQL store (`sieve check`): each value's seal, day pointers,
//! and that each app's dictionary is dense and agrees both ways, as the embedded store's check
//! does (see `embedded::integrity`).

use std::collections::BTreeMap;

use tokio_postgres::Client;

use crate::store::meta::codec::{DayRecord, name};
use crate::store::meta::{RecordReport, StoreError};
use crate::store::records::{self, KeyPart, RecordId};

const WHERE: &str = "PostgreSQL";

fn damaged(report: &mut RecordReport, id: RecordId) {
    report.problems.push(format!("{WHERE}: {id} failed its checksum"));
    report.damaged.push(id);
}

pub(super) async fn verify(c: &mut Client, both_ways: bool) -> Result<RecordReport, StoreError> {
    let mut report = RecordReport::default();
    // One snapshot for the whole check, so concurrent publishes cannot make it see half of one.
    let t = super::snapshot(c).await?;
    for (sql, table) in
        [("SELECT app, record FROM apps", name::APPS), ("SELECT token, record FROM tokens", name::TOKENS)]
    {
        for r in t.query(sql, &[]).await? {
            let key: &str = r.get(0);
            report.records += 1;
            report.apps += u64::from(table == name::APPS);
            if records::open(table, &[KeyPart::Text(key)], r.get(1)).is_none() {
                damaged(&mut report, RecordId::new(table, &[KeyPart::Text(key)]));
            }
        }
    }
    for (sql, table) in [
        ("SELECT app, ds, record FROM days", name::DAYS),
        ("SELECT app, id, record FROM segments", name::SEGMENTS),
        ("SELECT app, id, record FROM experiments", name::EXPERIMENTS),
        ("SELECT app, id, record FROM idempotency", name::IDEMPOTENCY),
        ("SELECT app, kind, record FROM jobs", name::JOBS),
        ("SELECT app, id, record FROM access", name::ACCESS),
    ] {
        for r in t.query(sql, &[]).await? {
            let (app, id): (&str, &str) = (r.get(0), r.get(1));
            report.records += 1;
            let key = [KeyPart::Text(app), KeyPart::Text(id)];
            match records::open(table, &key, r.get(2)) {
                None => damaged(&mut report, RecordId::new(table, &key)),
                Some(value) if table == name::DAYS => match serde_json::from_slice::<DayRecord>(value) {
                    Ok(day) if engine::blob::is_hash(&day.manifest) => {}
                    _ => report.problems.push(format!("{WHERE}: days record `{app}/{id}` is not a day pointer")),
                },
                Some(_) => {}
            }
        }
    }
    let mut forward: BTreeMap<String, BTreeMap<Vec<u8>, u32>> = BTreeMap::new();
    for r in t.query("SELECT app, external, record FROM dict", &[]).await? {
        let (app, ext): (&str, &[u8]) = (r.get(0), r.get(1));
        report.records += 1;
        let text = String::from_utf8_lossy(ext);
        let key = [KeyPart::Text(app), KeyPart::Text(&text)];
        match records::open(name::DICT, &key, r.get(2)).and_then(|v| <[u8; 4]>::try_from(v).ok()) {
            Some(id) => {
                forward.entry(app.to_owned()).or_default().insert(ext.to_vec(), u32::from_le_bytes(id));
            }
            None => damaged(&mut report, RecordId::new(name::DICT, &key)),
        }
    }
    let mut reverse: BTreeMap<String, u64> = BTreeMap::new();
    for r in t.query("SELECT app, id, record FROM dict_rev ORDER BY app, id", &[]).await? {
        let (app, id): (&str, i64) = (r.get(0), r.get(1));
        let id = u32::try_from(id).unwrap_or(u32::MAX);
        report.records += 1;
        *reverse.entry(app.to_owned()).or_default() += 1;
        let next = report.dict_sizes.entry(app.to_owned()).or_default();
        if id != *next {
            report
                .problems
                .push(format!("{WHERE}: dictionary of app `{app}` skips dense ids {next}..{id} (ids must be dense)"));
        }
        *next = id.saturating_add(1);
        let key = [KeyPart::Text(app), KeyPart::Id(id)];
        let Some(ext) = records::open(name::DICT_REV, &key, r.get(2)) else {
            damaged(&mut report, RecordId::new(name::DICT_REV, &key));
            continue;
        };
        if both_ways {
            let back = forward.get(app).and_then(|m| m.get(ext)).copied();
            if back != Some(id) {
                let ext = String::from_utf8_lossy(ext);
                let back = back.map_or("nothing".to_owned(), |b| b.to_string());
                report.problems.push(format!(
                    "{WHERE}: dictionary of app `{app}`: dense id {id} is `{ext}`, but `{ext}` maps to {back}"
                ));
            }
        }
    }
    for (app, n) in &reverse {
        let f = forward.get(app).map_or(0, |m| m.len() as u64);
        if f != *n {
            report.problems.push(format!("{WHERE}: dictionary of app `{app}` has {f} ids one way and {n} the other"));
        }
    }
    for (app, m) in &forward {
        if !reverse.contains_key(app) {
            report
                .problems
                .push(format!("{WHERE}: dictionary of app `{app}` has {} ids one way and 0 the other", m.len()));
        }
    }
    t.commit().await?;
    Ok(report)
}
