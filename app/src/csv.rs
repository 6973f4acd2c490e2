//! Tables as CSV for the pages' downloads: RFC 4180 quoting, and fields that a spreadsheet would
//! read as a formula (`=`, `+`, `-`, `@` first) defused with a leading `'`, as the server's
//! audit export does.

/// One field, quoted when it must be.
///
/// ```
/// assert_eq!(app::csv::field("plain"), "plain");
/// assert_eq!(app::csv::field("a,b"), "\"a,b\"");
/// assert_eq!(app::csv::field("say \"hi\""), "\"say \"\"hi\"\"\"");
/// assert_eq!(app::csv::field("=1+1"), "'=1+1");
/// assert_eq!(app::csv::field("-3"), "-3");
/// ```
pub fn field(text: &str) -> String {
    let looks_like_formula =
        text.starts_with(['=', '+', '@']) || (text.starts_with('-') && text[1..].parse::<f64>().is_err());
    let text = if looks_like_formula { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// A table (header first) as CSV, lines ending in `\r\n`.
///
/// ```
/// let t = app::csv::table(&[vec!["a".into(), "b".into()], vec!["1".into(), "x,y".into()]]);
/// assert_eq!(t, "a,b\r\n1,\"x,y\"\r\n");
/// ```
pub fn table(rows: &[Vec<String>]) -> String {
    rows.iter().map(|r| r.iter().map(|f| field(f)).collect::<Vec<_>>().join(",") + "\r\n").collect()
}
