//! Answers rewritten for `aggregate` tokens: counts noisy (seeded by the set each counts) or
//! withheld, and nothing that measures a full-tier bitmap (its size in bytes says roughly how
//! many users it holds).

use engine::manifest::{BlobRef, BsiEntry, Manifest};

use super::Noise;

/// A day's manifest as an `aggregate` token sees it. Its counts are numbers in this format, so
/// a withheld count is `0` (the app shows any count below `min_audience` as "< k"); sample-tier
/// refs stay as they are (the sample blobs themselves are served to the token).
pub fn manifest(m: &Manifest, noise: &Noise) -> Manifest {
    let mut out = m.clone();
    let protect = |r: &mut BlobRef| {
        r.count = noise.protect_or_zero(r.count, &noise.seed_of_set("users", &[&r.blob]));
        r.bytes = 0;
    };
    let protect_bsi = |b: &mut BsiEntry| {
        protect(&mut b.exists.full);
        for s in &mut b.slices {
            protect(&mut s.full);
        }
    };
    protect(&mut out.universe);
    for g in &mut out.groups {
        for v in &mut g.values {
            protect(&mut v.full);
            v.count = v.full.count;
        }
        if let Some(n) = &mut g.numeric {
            protect_bsi(&mut n.bsi);
        }
    }
    for e in &mut out.events {
        let exists = e.bsi.exists.full.blob.clone();
        e.total = noise.protect_or_zero(e.total, &noise.seed_of_set("total", &[&exists]));
        protect_bsi(&mut e.bsi);
        e.users = e.bsi.exists.full.count;
    }
    for s in &mut out.segments {
        protect(&mut s.members.full);
    }
    out
}

/// A segment as an `aggregate` token sees it: the size of an uploaded member list noisy.
pub fn segment(s: &mut wire::Segment, noise: &Noise) {
    if let Some(m) = &mut s.members {
        m.count = noise.protect_or_zero(m.count, &noise.seed_of_set("users", &[&m.blob]));
        m.uploaded_rows = noise.protect_or_zero(m.uploaded_rows, &noise.seed_of_set("rows", &[&m.blob]));
    }
}

/// An experiment's record as an `aggregate` token sees it: its sizes noisy.
pub fn experiment(e: &mut wire::Experiment, noise: &Noise) {
    let blobs: Vec<&str> = e.groups.iter().map(|g| g.blob.as_str()).collect();
    e.audience = noise.protect_or_zero(e.audience, &noise.seed_of_set("audience", &blobs));
    for g in &mut e.groups {
        g.count = noise.protect_or_zero(g.count, &noise.seed_of_set("users", &[&g.blob]));
    }
}
