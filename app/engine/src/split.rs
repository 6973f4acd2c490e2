//! A/B splits (拆包) that stay put: which group an external user id falls in, from a salt.
//!
//! # The assignment
//! Two independent salted hashes of the user's external id (BLAKE3 of
//! `salt ‖ 0x00 ‖ purpose ‖ 0x00 ‖ user_id`, first 8 bytes little-endian, as a fraction of 2^64):
//! - `exposure(user)` ∈ [0, 1): the user is in the experiment when it is below the total
//!   percentage / 100;
//! - `pick(user)` ∈ [0, 1): the group, by the groups' shares of the total (cumulative, in order).
//!
//! So the same user and salt land in the same group everywhere (browser and server run this
//! code), and raising every group's percentage by the same factor (10/10 → 20/20) never moves a
//! user already assigned: they stay exposed, and their group depends only on the ratios. A
//! cumulative-range scheme (control = [0, 10%), treatment = [10%, 20%)) would move users when
//! the percentages grow.
//!
//! Other services assign users with the same hashes, so the assignment never changes: golden
//! vectors (`tests/fixtures/split_v1.tsv`, checked by `tests/split_golden.rs`) pin it for 320
//! (salt, user id) pairs.

/// One group of a split: name and percent (the wire type a new experiment sends).
pub use wire::SplitGroup as Group;

/// Why a split's groups are unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SplitError {
    /// No groups.
    #[error("a split needs at least one group")]
    NoGroups,
    /// A percentage is not positive, or the total is over 100.
    #[error("group percentages must be positive and total at most 100 (total {total})")]
    BadPercent {
        /// The total given.
        total: f64,
    },
    /// Two groups share a name.
    #[error("group `{0}` appears twice")]
    DuplicateName(String),
    /// A group name is not an id (group names are path segments of the group's export).
    #[error("group name `{name}`: {reason}")]
    BadName {
        /// The name given.
        name: String,
        /// Why it is not an id.
        reason: crate::id::IdError,
    },
}

/// A checked split: salt and groups.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    salt: String,
    groups: Vec<Group>,
    total: f64,
}

fn unit_hash(salt: &str, purpose: &str, user: &str) -> f64 {
    let mut h = blake3::Hasher::new();
    h.update(salt.as_bytes());
    h.update(&[0]);
    h.update(purpose.as_bytes());
    h.update(&[0]);
    h.update(user.as_bytes());
    let bytes = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes.as_bytes()[..8]);
    // 53 bits give every f64 in [0, 1) the same spacing.
    (u64::from_le_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

impl Split {
    /// Checks the groups: at least one, positive percentages totalling at most 100, names that
    /// are distinct ids ([`crate::id::check_id`]).
    pub fn new(salt: &str, groups: Vec<Group>) -> Result<Split, SplitError> {
        if groups.is_empty() {
            return Err(SplitError::NoGroups);
        }
        if let Some((g, reason)) = groups.iter().find_map(|g| crate::id::check_id(&g.name).err().map(|e| (g, e))) {
            return Err(SplitError::BadName { name: g.name.clone(), reason });
        }
        let total: f64 = groups.iter().map(|g| g.percent).sum();
        if groups.iter().any(|g| !(g.percent > 0.0 && g.percent.is_finite())) || total > 100.0 + 1e-9 {
            return Err(SplitError::BadPercent { total });
        }
        let mut names = std::collections::BTreeSet::new();
        if let Some(dup) = groups.iter().find(|g| !names.insert(g.name.as_str())) {
            return Err(SplitError::DuplicateName(dup.name.clone()));
        }
        Ok(Split { salt: salt.to_owned(), groups, total })
    }

    /// The groups.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The group index of a user, or `None` when the user is not exposed.
    ///
    /// ```
    /// use engine::split::{Group, Split};
    /// let g = |n: &str, p| Group { name: n.into(), percent: p };
    /// let small = Split::new("exp-1", vec![g("control", 10.0), g("treatment", 10.0)]).unwrap();
    /// let big = Split::new("exp-1", vec![g("control", 20.0), g("treatment", 20.0)]).unwrap();
    /// for user in ["u1", "u2", "u3", "u42", "alice"] {
    ///     if let Some(group) = small.assign(user) {
    ///         assert_eq!(big.assign(user), Some(group), "growing never moves {user}");
    ///     }
    /// }
    /// ```
    pub fn assign(&self, user: &str) -> Option<usize> {
        if unit_hash(&self.salt, "exposure", user) * 100.0 >= self.total {
            return None;
        }
        let pick = unit_hash(&self.salt, "group", user) * self.total;
        let mut acc = 0.0;
        for (i, g) in self.groups.iter().enumerate() {
            acc += g.percent;
            if pick < acc {
                return Some(i);
            }
        }
        Some(self.groups.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(n: &str, p: f64) -> Group {
        Group { name: n.into(), percent: p }
    }

    #[test]
    fn shares_follow_percentages() {
        let s = Split::new("salt", vec![g("a", 30.0), g("b", 10.0)]).expect("valid");
        let n = 200_000;
        let mut counts = [0u32; 3];
        for i in 0..n {
            match s.assign(&format!("user{i}")) {
                Some(k) => counts[k] += 1,
                None => counts[2] += 1,
            }
        }
        let share = |c: u32| f64::from(c) / f64::from(n);
        // 4 standard errors at n = 200k is about 0.004.
        assert!((share(counts[0]) - 0.30).abs() < 0.005, "{counts:?}");
        assert!((share(counts[1]) - 0.10).abs() < 0.005, "{counts:?}");
        assert!((share(counts[2]) - 0.60).abs() < 0.005, "{counts:?}");
    }

    #[test]
    fn growing_keeps_everyone_and_salts_differ() {
        let small = Split::new("s", vec![g("c", 5.0), g("t", 5.0)]).expect("valid");
        let big = Split::new("s", vec![g("c", 45.0), g("t", 45.0)]).expect("valid");
        let other = Split::new("s2", vec![g("c", 5.0), g("t", 5.0)]).expect("valid");
        let mut moved_by_salt = 0;
        for i in 0..50_000 {
            let u = format!("u{i}");
            if let Some(k) = small.assign(&u) {
                assert_eq!(big.assign(&u), Some(k));
                if other.assign(&u) != Some(k) {
                    moved_by_salt += 1;
                }
            }
        }
        assert!(moved_by_salt > 1000, "another salt gives another split ({moved_by_salt})");
    }

    #[test]
    fn bad_groups_are_refused() {
        assert_eq!(Split::new("s", vec![]), Err(SplitError::NoGroups));
        assert!(matches!(Split::new("s", vec![g("a", 60.0), g("b", 50.0)]), Err(SplitError::BadPercent { .. })));
        assert!(matches!(Split::new("s", vec![g("a", 0.0)]), Err(SplitError::BadPercent { .. })));
        assert!(matches!(Split::new("s", vec![g("a", f64::NAN)]), Err(SplitError::BadPercent { .. })));
        assert_eq!(Split::new("s", vec![g("a", 1.0), g("a", 1.0)]), Err(SplitError::DuplicateName("a".into())));
    }
}
