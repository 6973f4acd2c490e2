//! Number formats used everywhere in the app: `12,345`, `1.2M`, `38.5%`, `3.4 MB`.
//! Plain functions, tested natively.

/// An integer with thousands separators.
///
/// ```
/// assert_eq!(app::format::int(12_345), "12,345");
/// assert_eq!(app::format::int(7), "7");
/// ```
pub fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A signed integer with thousands separators (`−1,234` with a real minus sign).
///
/// ```
/// assert_eq!(app::format::signed(-1_234), "−1,234");
/// assert_eq!(app::format::signed(5), "5");
/// ```
pub fn signed(n: i64) -> String {
    if n < 0 { format!("−{}", int(n.unsigned_abs())) } else { int(n.unsigned_abs()) }
}

/// A count in at most four significant characters: `987`, `12.3K`, `1.2M`, `3.4B`.
///
/// ```
/// assert_eq!(app::format::compact(1_234_567.0), "1.2M");
/// assert_eq!(app::format::compact(12_345.0), "12.3K");
/// assert_eq!(app::format::compact(999.0), "999");
/// ```
pub fn compact(n: f64) -> String {
    let a = n.abs();
    let sign = if n < 0.0 { "−" } else { "" };
    let (value, unit) = if a >= 1e9 {
        (a / 1e9, "B")
    } else if a >= 1e6 {
        (a / 1e6, "M")
    } else if a >= 1e3 {
        (a / 1e3, "K")
    } else {
        return format!("{sign}{}", a.round() as u64);
    };
    if value >= 100.0 { format!("{sign}{value:.0}{unit}") } else { format!("{sign}{value:.1}{unit}") }
}

/// A share in `0.0..=1.0` as a percentage with one decimal; tiny non-zero shares say `<0.1%`.
///
/// ```
/// assert_eq!(app::format::percent(0.385), "38.5%");
/// assert_eq!(app::format::percent(0.0002), "<0.1%");
/// assert_eq!(app::format::percent(0.0), "0%");
/// ```
pub fn percent(share: f64) -> String {
    if !share.is_finite() {
        return "–".to_owned();
    }
    if share == 0.0 {
        return "0%".to_owned();
    }
    if share > 0.0 && share < 0.0005 {
        return "<0.1%".to_owned();
    }
    format!("{:.1}%", share * 100.0)
}

/// A share with two decimals, for places that promise exact values (hover readouts, tables of
/// rates): `38.48%`; `<0.01%` for tiny non-zero shares.
///
/// ```
/// assert_eq!(app::format::percent_exact(4_812.0 / 12_506.0), "38.48%");
/// assert_eq!(app::format::percent_exact(0.0), "0.00%");
/// assert_eq!(app::format::percent_exact(0.00001), "<0.01%");
/// ```
pub fn percent_exact(share: f64) -> String {
    if !share.is_finite() {
        return "–".to_owned();
    }
    if share > 0.0 && share < 0.00005 {
        return "<0.01%".to_owned();
    }
    format!("{:.2}%", share * 100.0)
}

/// A difference of two shares in percentage points with a sign: `+1.23 pp`, `−0.40 pp`.
///
/// ```
/// assert_eq!(app::format::points(0.0123), "+1.23 pp");
/// assert_eq!(app::format::points(-0.004), "−0.40 pp");
/// ```
pub fn points(diff: f64) -> String {
    if !diff.is_finite() {
        return "–".to_owned();
    }
    let pp = diff * 100.0;
    if pp < 0.0 && format!("{:.2}", -pp) != "0.00" {
        format!("−{:.2} pp", -pp)
    } else {
        format!("+{:.2} pp", pp.abs())
    }
}

/// Bytes in binary-free decimal units: `512 B`, `12.3 KB`, `4.5 MB`.
///
/// ```
/// assert_eq!(app::format::bytes(4_500_000), "4.5 MB");
/// assert_eq!(app::format::bytes(512), "512 B");
/// ```
pub fn bytes(n: u64) -> String {
    let f = n as f64;
    if f >= 1e9 {
        format!("{:.1} GB", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.1} MB", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.1} KB", f / 1e3)
    } else {
        format!("{n} B")
    }
}

/// A TGI as a whole number (`142`), or `–` when it is undefined.
///
/// ```
/// assert_eq!(app::format::tgi(Some(141.6)), "142");
/// assert_eq!(app::format::tgi(None), "–");
/// ```
pub fn tgi(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{:.0}", v),
        _ => "–".to_owned(),
    }
}

/// A UTC date and time from milliseconds since the epoch: `2026-11-21 14:03 UTC`.
///
/// ```
/// assert_eq!(app::format::utc_ms(0), "1970-01-01 00:00 UTC");
/// assert_eq!(app::format::utc_ms(1_763_733_780_000), "2025-11-21 14:03 UTC");
/// ```
pub fn utc_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let (h, m) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{d:02} {h:02}:{m:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_group_by_three() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1_000), "1,000");
        assert_eq!(int(1_234_567_890), "1,234,567,890");
    }

    #[test]
    fn compact_switches_units() {
        assert_eq!(compact(1_000.0), "1.0K");
        assert_eq!(compact(999_499.0), "999K");
        assert_eq!(compact(2_500_000_000.0), "2.5B");
        assert_eq!(compact(-12_345.0), "−12.3K");
    }

    #[test]
    fn percents_and_bytes() {
        assert_eq!(percent(1.0), "100.0%");
        assert_eq!(percent(f64::NAN), "–");
        assert_eq!(bytes(1_234), "1.2 KB");
        assert_eq!(bytes(3_000_000_000), "3.0 GB");
    }
}
