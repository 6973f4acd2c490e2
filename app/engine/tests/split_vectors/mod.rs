//! What the A/B golden vectors (`tests/fixtures/split_v1.tsv`) are made of, shared by their
//! generator (`examples/split_vectors.rs`) and their test (`tests/split_golden.rs`).
//!
//! [`hash53`] is the assignment's documented hash written out again, apart from
//! `engine::split`, so the test checks the engine against the documentation and the fixture.

/// The plans pinned: name and (group, percent) list.
pub const PLANS: [(&str, &[(&str, f64)]); 3] = [
    ("half_half", &[("control", 50.0), ("treatment", 50.0)]),
    ("three_tens", &[("a", 10.0), ("b", 10.0), ("c", 10.0)]),
    ("five_fifteen", &[("control", 5.0), ("treatment", 15.0)]),
];

/// Salts: ASCII, a typical experiment id, non-ASCII with a space, one character.
pub const SALTS: [&str; 4] = ["exp-1", "spring-push-20261120", "盐 salt", "s"];

/// 80 user ids: plain, numeric, e-mail, CJK, emoji, punctuation a CSV would quote, spaces,
/// and one of 256 bytes.
pub fn users() -> Vec<String> {
    let mut out: Vec<String> = (0..50).map(|i| format!("u{i}")).collect();
    out.extend((0..10).map(|i| (1_000_000_007u64 * (i + 1)).to_string()));
    out.extend(
        [
            "alice@example.com",
            "用户42",
            "ユーザー",
            "🙂 smile",
            "a,b",
            "say \"hi\"",
            " leading space",
            "trailing space ",
            "ABC",
            "abc",
            "0",
            "-1",
            "550e8400-e29b-41d4-a716-446655440000",
            "device:ab12cd34",
            "x/y?z=1&w",
            "naïve",
            "Ω",
            ".",
            "..",
        ]
        .map(str::to_owned),
    );
    out.push("z".repeat(256));
    out
}

/// The documented hash of the assignment, as a 53-bit integer (the engine divides it by 2^53).
pub fn hash53(salt: &str, purpose: &str, user: &str) -> u64 {
    let mut h = blake3::Hasher::new();
    for part in [salt.as_bytes(), &[0], purpose.as_bytes(), &[0], user.as_bytes()] {
        h.update(part);
    }
    let mut first = [0u8; 8];
    first.copy_from_slice(&h.finalize().as_bytes()[..8]);
    u64::from_le_bytes(first) >> 11
}
