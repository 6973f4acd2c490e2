//! The cross-tab of two tag groups, optionally within an audience: counts, row and column
//! shares, and TGI against all users.
//!
//! Definitions (cells `[row][column]`): `count = |row value ∩ column value ∩ audience|`;
//! row share = count / the row's total; column share = count / the column's total; TGI =
//! 100 × (count / audience size) / (the cell among all users / all users), `None` where a
//! denominator is 0. Without an audience the audience is every user (TGI 100 wherever defined).

use crate::IdSet;
use crate::analysis::ratio;

/// The most values a group may bring to a pivot.
pub const MAX_VALUES: usize = 200;

/// Exact counts of a pivot: within the audience, and among all users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// `|row ∩ column ∩ audience|`.
    pub cells: Vec<Vec<u64>>,
    /// `|row ∩ column|`.
    pub all: Vec<Vec<u64>>,
}

/// The cells of `rows × columns` as sets (within `audience` when given), row by row.
///
/// ```
/// use engine::IdSet;
/// use engine::analysis::pivot::cells;
/// let (m, f) = (IdSet::from_sorted(&[1, 2]), IdSet::from_sorted(&[3]));
/// let (x, y) = (IdSet::from_sorted(&[1, 3]), IdSet::from_sorted(&[2]));
/// let c = cells(&[&m, &f], &[&x, &y], None);
/// assert_eq!(c[0][0].len(), 1);
/// assert_eq!(c[1][1].len(), 0);
/// ```
pub fn cells(rows: &[&IdSet], columns: &[&IdSet], audience: Option<&IdSet>) -> Vec<Vec<IdSet>> {
    rows.iter()
        .map(|r| {
            let r = audience.map_or_else(|| (*r).clone(), |a| r.and(a));
            columns.iter().map(|c| r.and(c)).collect()
        })
        .collect()
}

/// The counts of [`cells`], within the audience and among all users.
pub fn counts(rows: &[&IdSet], columns: &[&IdSet], audience: Option<&IdSet>) -> Counts {
    let all: Vec<Vec<u64>> = rows.iter().map(|r| columns.iter().map(|c| r.intersection_len(c)).collect()).collect();
    let cells = match audience {
        None => all.clone(),
        Some(_) => cells(rows, columns, audience).iter().map(|row| row.iter().map(IdSet::len).collect()).collect(),
    };
    Counts { cells, all }
}

/// Shares and TGI of a pivot from its counts (exact or noisy; `None` counts stay unknown).
#[derive(Debug, Clone, PartialEq)]
pub struct Shares {
    /// `count / row total`.
    pub row: Vec<Vec<Option<f64>>>,
    /// `count / column total`.
    pub column: Vec<Vec<Option<f64>>>,
    /// TGI against all users.
    pub tgi: Vec<Vec<Option<f64>>>,
}

/// Shares and TGI (see the module docs). A row's total is the sum of its known cells.
///
/// ```
/// use engine::analysis::pivot::shares;
/// let s = shares(&[vec![Some(1), Some(3)]], &[vec![Some(2), Some(6)]], Some(4), Some(8));
/// assert_eq!(s.row[0], vec![Some(0.25), Some(0.75)]);
/// assert_eq!(s.tgi[0][0], Some(100.0));
/// ```
pub fn shares(
    cells: &[Vec<Option<u64>>],
    all: &[Vec<Option<u64>>],
    audience: Option<u64>,
    universe: Option<u64>,
) -> Shares {
    let row_totals: Vec<Option<u64>> = cells.iter().map(|r| Some(r.iter().flatten().sum())).collect();
    let width = cells.first().map_or(0, Vec::len);
    let column_totals: Vec<Option<u64>> = (0..width).map(|j| Some(cells.iter().filter_map(|r| r[j]).sum())).collect();
    let map = |f: &dyn Fn(usize, usize, Option<u64>) -> Option<f64>| -> Vec<Vec<Option<f64>>> {
        cells.iter().enumerate().map(|(i, r)| r.iter().enumerate().map(|(j, c)| f(i, j, *c)).collect()).collect()
    };
    Shares {
        row: map(&|i, _, c| ratio(c, row_totals[i])),
        column: map(&|_, j, c| ratio(c, column_totals[j])),
        tgi: map(&|i, j, c| {
            let inside = ratio(c, audience)?;
            let outside = ratio(all[i][j], universe)?;
            (outside > 0.0).then(|| 100.0 * inside / outside)
        }),
    }
}
