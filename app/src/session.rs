//! Who is signed in: the app id and its token, kept in the browser's local storage.
//!
//! The sign-in link printed by `.dev/run.sh` carries both in the URL *fragment*
//! (`/signin#app=demo&token=sv_…`), which browsers never send to a server. Parsing
//! and URL encoding are plain functions, tested natively; only [`load`], [`store`]
//! and [`forget`] touch the browser.

/// Local-storage key of the session.
const STORAGE_KEY: &str = "sieve.session";

/// An app id and a token for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Session {
    /// The app (tenant) id, e.g. `demo`.
    pub app: String,
    /// The app-scoped bearer token.
    pub token: String,
}

/// Reads `app` and `token` from a URL fragment (`#app=demo&token=sv_x`, with or without `#`).
///
/// ```
/// use app::session::{from_fragment, Session};
/// let s = from_fragment("#app=demo&token=sv_abc").unwrap();
/// assert_eq!(s, Session { app: "demo".into(), token: "sv_abc".into() });
/// assert!(from_fragment("#app=demo").is_none());
/// ```
pub fn from_fragment(fragment: &str) -> Option<Session> {
    let pairs = parse_query(fragment.trim_start_matches('#'));
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim().to_owned());
    let app = get("app").filter(|a| !a.is_empty())?;
    let token = get("token").filter(|t| !t.is_empty())?;
    Some(Session { app, token })
}

/// Splits `a=1&b=x%20y` into decoded pairs (`+` is a space).
///
/// ```
/// let pairs = app::session::parse_query("?rule=%7B%7D&ds=2026-11-20");
/// assert_eq!(pairs[0], ("rule".to_owned(), "{}".to_owned()));
/// assert_eq!(pairs[1].1, "2026-11-20");
/// ```
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            (decode_component(k), decode_component(v))
        })
        .collect()
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
///
/// ```
/// assert_eq!(app::session::encode_component(r#"{"a":[1]}"#), "%7B%22a%22%3A%5B1%5D%7D");
/// ```
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes and `+`; invalid escapes are kept as they are, and invalid
/// UTF-8 is replaced, so a hand-edited URL never panics.
pub fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The stored session, if any.
pub fn load() -> Option<Session> {
    let raw = storage()?.get_item(STORAGE_KEY).ok()??;
    serde_json::from_str(&raw).ok()
}

/// Remembers a session.
pub fn store(session: &Session) {
    if let (Some(storage), Ok(raw)) = (storage(), serde_json::to_string(session)) {
        let _ = storage.set_item(STORAGE_KEY, &raw);
    }
}

/// Forgets the session (sign out).
pub fn forget() {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(STORAGE_KEY);
    }
}

/// Reads a small setting from local storage.
pub fn setting(key: &str) -> Option<String> {
    storage()?.get_item(key).ok()?
}

/// Writes a small setting to local storage.
pub fn set_setting(key: &str, value: &str) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(key, value);
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_any_text() {
        for s in ["", "a b", "上海", "%", "100%", "x&y=z", r#"{"all":[]}"#] {
            assert_eq!(decode_component(&encode_component(s)), s);
        }
    }

    #[test]
    fn bad_escapes_survive() {
        assert_eq!(decode_component("%zz%"), "%zz%");
        assert_eq!(decode_component("a%2"), "a%2");
        assert_eq!(decode_component("%41"), "A");
    }

    #[test]
    fn fragment_values_are_decoded() {
        let s = from_fragment("app=my%20app&token=sv_1&extra=1").expect("parses");
        assert_eq!(s.app, "my app");
    }
}
