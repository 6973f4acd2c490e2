//! The cross-tab of two tag groups, optionally within an audience: counts, row and column
//! shares, and TGI against all users.
//!
//! Definitions (cells `[row][column]`): `count = |row value ∩ column value ∩ audience|`;
//! row share = count / the row's total; column share = count / the column's total; TGI =
//! 100 × (count / audience size) / (the cell among all users / all users), `None` where a
//! denominator is 0. Without an audience the audience is every user (TGI 100 wherever defined).

use wire::Pivot;

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

/// A pivot's counts as the caller is given them: exact, or noisy for an `aggregate` token
/// (withheld counts `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given {
    /// `|row ∩ column ∩ audience|`.
    pub cells: Vec<Vec<Option<u64>>>,
    /// `|row ∩ column|`, for TGI.
    pub all: Vec<Vec<Option<u64>>>,
    /// The audience's size (all users without one).
    pub audience: Option<u64>,
    /// All users.
    pub universe: Option<u64>,
    /// Whether the counts carry noise.
    pub noisy: bool,
}

impl Given {
    /// The exact counts of `rows × columns` within `audience` (all of `universe` without one).
    pub fn exact(rows: &[&IdSet], columns: &[&IdSet], audience: Option<&IdSet>, universe: &IdSet) -> Given {
        let c = counts(rows, columns, audience);
        let wrap = |m: Vec<Vec<u64>>| m.into_iter().map(|r| r.into_iter().map(Some).collect()).collect();
        let universe = universe.len();
        Given {
            cells: wrap(c.cells),
            all: wrap(c.all),
            audience: Some(audience.map_or(universe, IdSet::len)),
            universe: Some(universe),
            noisy: false,
        }
    }
}

/// The answer of a pivot on `ds` with the values of its rows and columns: shares and TGI from
/// the given counts. The server and the browser both build their answer here.
///
/// ```
/// use engine::IdSet;
/// use engine::analysis::pivot::{Given, answer};
/// let (m, f) = (IdSet::from_sorted(&[1, 2]), IdSet::from_sorted(&[3]));
/// let all = IdSet::from_sorted(&[1, 2, 3]);
/// let p = answer("d", vec!["m".into(), "f".into()], vec!["m".into(), "f".into()], Given::exact(&[&m, &f], &[&m, &f], None, &all));
/// assert_eq!(p.counts, vec![vec![Some(2), Some(0)], vec![Some(0), Some(1)]]);
/// assert!((p.tgi[0][0].unwrap() - 100.0).abs() < 1e-9); // no audience: everyone
/// ```
pub fn answer(ds: &str, rows: Vec<String>, columns: Vec<String>, given: Given) -> Pivot {
    let s = shares(&given.cells, &given.all, given.audience, given.universe);
    Pivot {
        ds: ds.to_owned(),
        rows,
        columns,
        suppressed: given.cells.iter().flatten().any(Option::is_none),
        counts: given.cells,
        row_shares: s.row,
        column_shares: s.column,
        tgi: s.tgi,
        audience: given.audience,
        universe: given.universe,
        noisy: given.noisy,
    }
}
