//! The wall clock, read in one place.
//!
//! Records carry milliseconds since the Unix epoch (`created_ms`, `updated_ms`, tombstone and
//! idempotency expiry). The domain logic that uses them takes `now_ms` as an argument (see
//! [`crate::segments::sync`]), so it is tested without a clock; only the edges call [`now_ms`].

/// Milliseconds since the Unix epoch; 0 if the system clock is set before 1970 (records then
/// look old, which expires them early rather than never).
///
/// ```
/// assert!(server::clock::now_ms() > 1_600_000_000_000);
/// ```
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
