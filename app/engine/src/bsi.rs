//! Bit-sliced indexes: a number per user (age, spend, a day's purchase count) stored as one
//! bitmap per bit plus an existence bitmap, so numbers stay bitmaps, compress like tags, and
//! can be compared and summed without decoding values one by one.
//!
//! Values are unsigned integers. Decimals and negatives are mapped by the caller:
//! `stored = round(value × 10^scale) − offset`, with `offset` the smallest value of the column
//! (see [`NumericColumn`]).

use crate::idset::IdSet;

/// A column of unsigned integers, one per user that has a value.
///
/// ```
/// use engine::bsi::Bsi;
/// let b = Bsi::from_pairs(vec![(3, 5), (1, 2), (9, 0)]);
/// assert_eq!(b.value(3), Some(5));
/// assert_eq!(b.value(9), Some(0));
/// assert_eq!(b.value(4), None);
/// assert_eq!(b.exists().len(), 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bsi {
    exists: IdSet,
    /// `slices[i]` holds the users whose value has bit `i` set.
    slices: Vec<IdSet>,
}

impl Bsi {
    /// Builds a column from (user, value) pairs; for a user listed twice the last value wins.
    pub fn from_pairs(mut pairs: Vec<(u32, u64)>) -> Bsi {
        // Stable sort keeps upload order among equal ids, so "last wins" is well defined.
        pairs.sort_by_key(|p| p.0);
        let mut deduped: Vec<(u32, u64)> = Vec::with_capacity(pairs.len());
        for p in pairs {
            match deduped.last_mut() {
                Some(last) if last.0 == p.0 => *last = p,
                _ => deduped.push(p),
            }
        }
        let max = deduped.iter().map(|p| p.1).max().unwrap_or(0);
        let bits = (u64::BITS - max.leading_zeros()) as usize;
        let exists = IdSet::from_sorted_iter(deduped.iter().map(|p| p.0));
        let slices = (0..bits)
            .map(|b| IdSet::from_sorted_iter(deduped.iter().filter(|p| p.1 >> b & 1 == 1).map(|p| p.0)))
            .collect();
        Bsi { exists, slices }
    }

    /// Builds a column from (value, users holding it) pairs, the warehouse's form (one bitmap
    /// per value): each slice is the union of the sets whose value has that bit, so a large
    /// column is built from bitmap unions instead of per-user pairs. The sets must not
    /// overlap (a user has one value); zero values are kept (a user with 0 exists).
    ///
    /// ```
    /// use engine::{IdSet, bsi::Bsi};
    /// let b = Bsi::from_value_sets(vec![(3, IdSet::from_sorted(&[1, 2])), (4, IdSet::from_sorted(&[7]))]);
    /// assert_eq!(b, Bsi::from_pairs(vec![(1, 3), (2, 3), (7, 4)]));
    /// ```
    pub fn from_value_sets(mut values: Vec<(u64, IdSet)>) -> Bsi {
        values.retain(|v| !v.1.is_empty());
        let max = values.iter().map(|v| v.0).max().unwrap_or(0);
        let bits = (u64::BITS - max.leading_zeros()) as usize;
        // Unions accumulate in place: a new set per value made this quadratic in the number of
        // distinct values (a column of 1,000 numbers took seconds).
        let mut exists = roaring::RoaringBitmap::new();
        let mut slices = vec![roaring::RoaringBitmap::new(); bits];
        for (value, set) in &values {
            let set = set.to_roaring();
            for (b, slice) in slices.iter_mut().enumerate() {
                if value >> b & 1 == 1 {
                    *slice |= &set;
                }
            }
            exists |= set;
        }
        Bsi { exists: IdSet::from_roaring(&exists), slices: slices.iter().map(IdSet::from_roaring).collect() }
    }

    /// Assembles a column from decoded bitmaps (slices must be subsets of `exists`).
    pub fn from_parts(exists: IdSet, slices: Vec<IdSet>) -> Bsi {
        Bsi { exists, slices }
    }

    /// Users that have a value.
    pub fn exists(&self) -> &IdSet {
        &self.exists
    }

    /// The bit slices, lowest bit first.
    pub fn slices(&self) -> &[IdSet] {
        &self.slices
    }

    /// One user's value.
    pub fn value(&self, id: u32) -> Option<u64> {
        self.exists.contains(id).then(|| {
            self.slices.iter().enumerate().filter(|(_, s)| s.contains(id)).fold(0u64, |acc, (b, _)| acc | 1 << b)
        })
    }

    /// The column as borrowed bitmaps (what evaluation reads).
    pub fn view(&self) -> BsiView<'_> {
        BsiView { exists: &self.exists, slices: self.slices.iter().collect() }
    }

    /// The users whose value compares with `c` as asked (see [`BsiView::compare`]).
    ///
    /// ```
    /// use engine::bsi::{Bsi, Cmp};
    /// let b = Bsi::from_pairs(vec![(1, 3), (2, 5), (3, 7), (4, 0)]);
    /// assert_eq!(b.compare(Cmp::Ge, 5).iter().collect::<Vec<_>>(), vec![2, 3]);
    /// assert_eq!(b.compare(Cmp::Lt, 5).iter().collect::<Vec<_>>(), vec![1, 4]);
    /// assert_eq!(b.compare(Cmp::Eq, 9).len(), 0);
    /// ```
    pub fn compare(&self, cmp: Cmp, c: u64) -> IdSet {
        self.view().compare(cmp, c)
    }

    /// Users whose value lies in `lo..=hi`.
    pub fn between(&self, lo: u64, hi: u64) -> IdSet {
        self.view().between(lo, hi)
    }

    /// The per-user sum of two columns, by bit-sliced ripple-carry addition (a user missing
    /// from one side counts as 0 there); used to sum daily event counts over a window.
    ///
    /// ```
    /// use engine::bsi::Bsi;
    /// let a = Bsi::from_pairs(vec![(1, 3), (2, 1)]);
    /// let b = Bsi::from_pairs(vec![(1, 6), (3, 2)]);
    /// let s = a.add(&b);
    /// assert_eq!((s.value(1), s.value(2), s.value(3), s.value(4)), (Some(9), Some(1), Some(2), None));
    /// ```
    pub fn add(&self, other: &Bsi) -> Bsi {
        self.view().add(&other.view())
    }

    /// A 0/1 column from a set: 1 for its members (to count active days by addition).
    pub fn indicator(set: &IdSet) -> Bsi {
        Bsi { exists: set.clone(), slices: if set.is_empty() { Vec::new() } else { vec![set.clone()] } }
    }

    /// Maps every bitmap through `f` (used to project a column onto the sample tier).
    pub fn map_sets(&self, f: impl Fn(&IdSet) -> IdSet) -> Bsi {
        Bsi { exists: f(&self.exists), slices: self.slices.iter().map(f).collect() }
    }
}

/// A bit-sliced column as borrowed bitmaps: what a [`crate::eval::Source`] hands out, so
/// columns held in caches (the server's `Arc`ed sets, the browser's loaded blobs) are read
/// without copies.
#[derive(Debug, Clone)]
pub struct BsiView<'a> {
    /// Users that have a value.
    pub exists: &'a IdSet,
    /// Bit slices, lowest bit first.
    pub slices: Vec<&'a IdSet>,
}

impl BsiView<'_> {
    /// The users whose value compares with `c` as asked, by O'Neil's bit-sliced algorithm: one
    /// pass from the highest slice down, keeping the users still equal to `c`'s prefix and those
    /// already greater; no value is decoded.
    pub fn compare(&self, cmp: Cmp, c: u64) -> IdSet {
        let bits = self.slices.len() as u32;
        let (greater, equal) = if bits < 64 && c >> bits != 0 {
            // `c` needs more bits than any stored value has: everyone is smaller.
            (IdSet::new(), IdSet::new())
        } else {
            let mut greater = IdSet::new();
            let mut equal = self.exists.clone();
            for (i, slice) in self.slices.iter().enumerate().rev() {
                // A slice past bit 63 (a sum that outgrew 64 bits) is above any `c`.
                if i < 64 && c >> i & 1 == 1 {
                    equal = equal.and(slice);
                } else {
                    greater = greater.or(&equal.and(slice));
                    equal = equal.and_not(slice);
                }
            }
            (greater, equal)
        };
        match cmp {
            Cmp::Gt => greater,
            Cmp::Ge => greater.or(&equal),
            Cmp::Eq => equal,
            Cmp::Ne => self.exists.and_not(&equal),
            Cmp::Lt => self.exists.and_not(&greater.or(&equal)),
            Cmp::Le => self.exists.and_not(&greater),
        }
    }

    /// Users whose value lies in `lo..=hi`.
    pub fn between(&self, lo: u64, hi: u64) -> IdSet {
        if lo > hi {
            return IdSet::new();
        }
        if lo == 0 {
            return self.compare(Cmp::Le, hi);
        }
        self.compare(Cmp::Ge, lo).and(&self.compare(Cmp::Le, hi))
    }

    /// The per-user sum of two columns (see [`Bsi::add`]).
    pub fn add(&self, other: &BsiView<'_>) -> Bsi {
        let n = self.slices.len().max(other.slices.len());
        let empty = IdSet::new();
        let mut carry = IdSet::new();
        let mut slices = Vec::with_capacity(n + 1);
        for i in 0..n {
            let a = self.slices.get(i).copied().unwrap_or(&empty);
            let b = other.slices.get(i).copied().unwrap_or(&empty);
            let ab = a.xor(b);
            slices.push(ab.xor(&carry));
            // carry' = majority(a, b, carry) = (a ∧ b) ∨ (carry ∧ (a ⊕ b))
            carry = a.and(b).or(&carry.and(&ab));
        }
        if !carry.is_empty() {
            slices.push(carry);
        }
        while slices.last().is_some_and(IdSet::is_empty) {
            slices.pop();
        }
        Bsi::from_parts(self.exists.or(other.exists), slices)
    }

    /// The largest value any user can have: all slices set.
    pub fn max_storable(&self) -> u64 {
        match self.slices.len() {
            0 => 0,
            n if n >= 64 => u64::MAX,
            n => (1u64 << n) - 1,
        }
    }
}

/// A comparison of a column with a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cmp {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

impl Cmp {
    /// Every comparison.
    pub const ALL: [Cmp; 6] = [Cmp::Gt, Cmp::Ge, Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le];

    /// The operator as written in rules (`>=`).
    pub const fn symbol(self) -> &'static str {
        match self {
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
        }
    }

    /// The comparison written as `symbol`.
    ///
    /// ```
    /// use engine::bsi::Cmp;
    /// assert!(Cmp::ALL.iter().all(|c| Cmp::from_symbol(c.symbol()) == Some(*c)));
    /// assert_eq!(Cmp::from_symbol("=>"), None);
    /// ```
    pub fn from_symbol(symbol: &str) -> Option<Cmp> {
        Cmp::ALL.into_iter().find(|c| c.symbol() == symbol)
    }

    /// Whether `a` compares with `b` this way (the plain definition, for tests and oracles).
    pub fn holds<T: Ord>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
        }
    }
}

/// A numeric tag as uploaded: decimal text with up to `scale` fractional digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumericColumn {
    /// Fractional digits kept: a value `v` is stored as `round(v × 10^scale) − offset`.
    pub scale: u32,
    /// The smallest scaled value, so stored values start at 0.
    pub offset: i64,
    /// The largest scaled value.
    pub max: i64,
    /// The stored values.
    pub bsi: Bsi,
}

/// Why a number could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Not a decimal number.
    #[error("`{0}` is not a number")]
    NotANumber(String),
    /// More fractional digits than the column keeps.
    #[error("`{text}` has more than {scale} decimal places")]
    TooPrecise {
        /// The text.
        text: String,
        /// Digits allowed.
        scale: u32,
    },
    /// Too large to store.
    #[error("`{0}` is out of range")]
    OutOfRange(String),
}

/// Parses decimal text into an integer scaled by `10^scale`, exactly (no floating point).
///
/// ```
/// use engine::bsi::parse_scaled;
/// assert_eq!(parse_scaled("129.50", 2), Ok(12950));
/// assert_eq!(parse_scaled("-3", 2), Ok(-300));
/// assert_eq!(parse_scaled("-9223372036854775808", 0), Ok(i64::MIN));
/// assert_eq!(parse_scaled("7.5", 0).is_err(), true);
/// assert!(parse_scaled("12a", 0).is_err());
/// ```
pub fn parse_scaled(text: &str, scale: u32) -> Result<i64, NumberError> {
    let wide = parse_scaled_wide(text, scale)?;
    i64::try_from(wide).map_err(|_| NumberError::OutOfRange(text.to_owned()))
}

/// [`parse_scaled`] into an `i128`: rule constants beyond what a column can store (`age <
/// 18446744073709551615`) still compare exactly.
///
/// ```
/// use engine::bsi::parse_scaled_wide;
/// assert_eq!(parse_scaled_wide("18446744073709551615.5", 1), Ok(184467440737095516155));
/// assert!(parse_scaled_wide(&"9".repeat(40), 0).is_err());
/// ```
pub fn parse_scaled_wide(text: &str, scale: u32) -> Result<i128, NumberError> {
    let bad = || NumberError::NotANumber(text.to_owned());
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let frac_trimmed = frac.trim_end_matches('0');
    if frac_trimmed.len() > scale as usize {
        return Err(NumberError::TooPrecise { text: text.to_owned(), scale });
    }
    let out_of_range = || NumberError::OutOfRange(text.to_owned());
    // Accumulated on the value's own side of zero, so the most negative value fits too.
    let sign: i128 = if negative { -1 } else { 1 };
    let mut value: i128 = 0;
    for b in int.bytes().chain(frac_trimmed.bytes()) {
        value =
            value.checked_mul(10).and_then(|v| v.checked_add(sign * i128::from(b - b'0'))).ok_or_else(out_of_range)?;
    }
    for _ in frac_trimmed.len()..scale as usize {
        value = value.checked_mul(10).ok_or_else(out_of_range)?;
    }
    Ok(value)
}

impl NumericColumn {
    /// Builds a column from (user, scaled value) pairs.
    pub fn from_scaled(scale: u32, pairs: Vec<(u32, i64)>) -> NumericColumn {
        let offset = pairs.iter().map(|p| p.1).min().unwrap_or(0);
        let max = pairs.iter().map(|p| p.1).max().unwrap_or(0);
        // value - offset >= 0 and fits u64 for any two i64s.
        let bsi = Bsi::from_pairs(pairs.into_iter().map(|(id, v)| (id, v.abs_diff(offset))).collect());
        NumericColumn { scale, offset, max, bsi }
    }

    /// Builds a column from (scaled value, users holding it) pairs (see
    /// [`Bsi::from_value_sets`]); the sets must not overlap.
    ///
    /// ```
    /// use engine::{IdSet, bsi::NumericColumn};
    /// let c = NumericColumn::from_value_sets(2, vec![(-150, IdSet::from_sorted(&[4])), (1250, IdSet::from_sorted(&[1, 9]))]);
    /// assert_eq!(c, NumericColumn::from_scaled(2, vec![(4, -150), (1, 1250), (9, 1250)]));
    /// ```
    pub fn from_value_sets(scale: u32, values: Vec<(i64, IdSet)>) -> NumericColumn {
        let present = || values.iter().filter(|v| !v.1.is_empty()).map(|v| v.0);
        let offset = present().min().unwrap_or(0);
        let max = present().max().unwrap_or(0);
        let bsi = Bsi::from_value_sets(values.into_iter().map(|(v, set)| (v.abs_diff(offset), set)).collect());
        NumericColumn { scale, offset, max, bsi }
    }

    /// One user's scaled value.
    pub fn scaled_value(&self, id: u32) -> Option<i64> {
        self.bsi.value(id).map(|v| self.offset.saturating_add_unsigned(v))
    }

    /// One user's value as decimal text (`129.50` at scale 2).
    pub fn display_value(&self, id: u32) -> Option<String> {
        self.scaled_value(id).map(|v| format_scaled(v, self.scale))
    }
}

/// Formats a scaled integer as decimal text.
///
/// ```
/// assert_eq!(engine::bsi::format_scaled(12950, 2), "129.50");
/// assert_eq!(engine::bsi::format_scaled(-5, 2), "-0.05");
/// assert_eq!(engine::bsi::format_scaled(42, 0), "42");
/// ```
pub fn format_scaled(v: i64, scale: u32) -> String {
    if scale == 0 {
        return v.to_string();
    }
    let p = 10u64.pow(scale);
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:0width$}", a / p, a % p, width = scale as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A column built from one bitmap per value equals the one built from per-user pairs.
        #[test]
        fn value_sets_build_the_pairs_column(users in proptest::collection::btree_map(0u32..5_000, -50i64..50, 0..300), scale in 0u32..3) {
            let pairs: Vec<(u32, i64)> = users.iter().map(|(&u, &v)| (u, v)).collect();
            let mut by_value: std::collections::BTreeMap<i64, Vec<u32>> = std::collections::BTreeMap::new();
            for (u, v) in &pairs {
                by_value.entry(*v).or_default().push(*u);
            }
            let mut sets: Vec<(i64, IdSet)> = by_value.into_iter().map(|(v, ids)| (v, IdSet::from_unsorted(ids))).collect();
            sets.push((1_000, IdSet::new())); // an empty row changes nothing
            prop_assert_eq!(NumericColumn::from_value_sets(scale, sets), NumericColumn::from_scaled(scale, pairs));
        }
    }
}
