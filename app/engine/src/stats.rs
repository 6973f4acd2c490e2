//! Statistics for estimates and experiments: Wilson intervals for rates, Newcombe's interval for
//! a difference of rates, and the chi-square test behind the sample-ratio-mismatch check.
//! Plain `f64` functions, so the browser and the server compute the same numbers.

/// z for a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// The Wilson score interval (95%) of a proportion `p` observed over `n` trials (`n` may be an
/// effective size, e.g. after a finite-population correction).
///
/// ```
/// let (lo, hi) = engine::stats::wilson(0.5, 100.0);
/// assert!((lo - 0.4038).abs() < 1e-3 && (hi - 0.5962).abs() < 1e-3);
/// ```
pub fn wilson(p: f64, n: f64) -> (f64, f64) {
    if n <= 0.0 {
        return (0.0, 1.0);
    }
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// A rate with its 95% interval (the wire type: outcomes answer it as computed here).
pub use wire::Rate;

/// The rate `k / n` with its Wilson interval.
pub fn rate(k: u64, n: u64) -> Rate {
    let p = if n == 0 { 0.0 } else { k as f64 / n as f64 };
    let (lo, hi) = wilson(p, n as f64);
    Rate { rate: p, lo, hi }
}

/// Newcombe's hybrid score interval (95%) for the difference `a − b` of two rates (better than
/// the Wald interval near 0 and 1, and built from the Wilson intervals of each rate).
///
/// ```
/// let d = engine::stats::difference(engine::stats::rate(60, 100), engine::stats::rate(40, 100));
/// assert!((d.rate - 0.2).abs() < 1e-12);
/// assert!(d.lo > 0.0 && d.hi < 0.4);
/// ```
pub fn difference(a: Rate, b: Rate) -> Rate {
    let d = a.rate - b.rate;
    let lo = d - ((a.rate - a.lo).powi(2) + (b.hi - b.rate).powi(2)).sqrt();
    let hi = d + ((a.hi - a.rate).powi(2) + (b.rate - b.lo).powi(2)).sqrt();
    Rate { rate: d, lo, hi }
}

/// Pearson's chi-square statistic and its p-value for observed counts against expected shares
/// (shares are normalised; degrees of freedom = groups − 1). A small p-value (say < 0.001) means
/// the groups are not the sizes the split planned: a sample-ratio mismatch.
///
/// ```
/// let (_, p) = engine::stats::chi_square(&[5_000, 5_000], &[0.5, 0.5]);
/// assert!(p > 0.99);
/// let (_, p) = engine::stats::chi_square(&[5_300, 4_700], &[0.5, 0.5]);
/// assert!(p < 1e-8);
/// ```
pub fn chi_square(observed: &[u64], shares: &[f64]) -> (f64, f64) {
    let total: f64 = observed.iter().map(|&o| o as f64).sum();
    let share_sum: f64 = shares.iter().sum();
    if observed.len() < 2 || observed.len() != shares.len() || total == 0.0 || share_sum <= 0.0 {
        return (0.0, 1.0);
    }
    let stat: f64 = observed
        .iter()
        .zip(shares)
        .map(|(&o, &s)| {
            let e = total * s / share_sum;
            if e > 0.0 { (o as f64 - e).powi(2) / e } else { 0.0 }
        })
        .sum();
    let df = (observed.len() - 1) as f64;
    (stat, upper_gamma_regularized(df / 2.0, stat / 2.0))
}

/// ln Γ(x) for x > 0 (Lanczos approximation, g = 7, n = 9; about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        return std::f64::consts::PI.ln() - (std::f64::consts::PI * x).sin().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = C[1..].iter().enumerate().fold(C[0], |acc, (i, c)| acc + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// Q(a, x) = Γ(a, x) / Γ(a): series below a + 1, continued fraction above (Numerical Recipes).
fn upper_gamma_regularized(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let ln_prefix = a * x.ln() - x - ln_gamma(a);
    if x < a + 1.0 {
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..500 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        (1.0 - sum * ln_prefix.exp()).clamp(0.0, 1.0)
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..500 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-15 {
                break;
            }
        }
        (ln_prefix.exp() * h).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi_square_matches_tables() {
        // Critical values from standard tables: P(χ²_df > x) = p.
        for (x, df, p) in [
            (3.841_459, 1, 0.05),
            (6.634_897, 1, 0.01),
            (5.991_465, 2, 0.05),
            (10.828_36, 1, 0.001),
            (11.070_5, 5, 0.05),
        ] {
            let got = upper_gamma_regularized(df as f64 / 2.0, x / 2.0);
            assert!((got - p).abs() < 1e-5, "df {df} x {x}: {got} vs {p}");
        }
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn wilson_and_difference_bounds() {
        let r = rate(0, 50);
        assert_eq!(r.lo, 0.0);
        assert!(r.hi > 0.05 && r.hi < 0.1);
        let d = difference(rate(50, 100), rate(50, 100));
        assert!(d.lo < 0.0 && d.hi > 0.0 && (d.lo + d.hi).abs() < 1e-12);
        assert_eq!(wilson(0.3, 0.0), (0.0, 1.0));
    }

    #[test]
    fn srm_detects_skew_and_passes_fair_splits() {
        let (_, p_fair) = chi_square(&[33_400, 33_300, 33_300], &[1.0, 1.0, 1.0]);
        assert!(p_fair > 0.5);
        let (_, p_skew) = chi_square(&[10_000, 9_000], &[0.5, 0.5]);
        assert!(p_skew < 1e-10);
        // Unequal plans: 90/10 observed as planned.
        let (_, p_plan) = chi_square(&[9_010, 990], &[90.0, 10.0]);
        assert!(p_plan > 0.5);
    }
}
