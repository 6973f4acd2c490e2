//! Blocking work (the metadata store, blob files, decoding) run off the async threads.
//!
//! redb and the blob store block; calling them on a runtime thread would stall every request
//! that thread serves. [`run`] moves the work to tokio's blocking pool and turns a panic in it
//! into the caller's own error type (through [`Panicked`]), so a bug in one request is an
//! error for that request, not a crash. The HTTP layer's wrapper is
//! [`crate::routes::blocking`], which answers the error as an [`crate::ApiError`]. [`every`]
//! runs blocking work on a period for the life of the server (the counters that are written
//! every few seconds rather than on every request).

/// Blocking work panicked (or its task was cancelled at shutdown); the message is the panic's.
#[derive(Debug, thiserror::Error)]
#[error("blocking task failed: {0}")]
pub struct Panicked(pub String);

/// Runs `work` on the blocking pool and returns its result.
///
/// ```
/// # tokio_test_block_on(async {
/// let n: Result<u32, server::blocking::Panicked> = server::blocking::run(|| Ok(2 + 2)).await;
/// assert_eq!(n.unwrap(), 4);
/// # });
/// # fn tokio_test_block_on(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
///
/// # Errors
/// `work`'s own error, or `E::from(Panicked)` when it panicked.
pub async fn run<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
where
    T: Send + 'static,
    E: From<Panicked> + Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|e| E::from(Panicked(e.to_string())))?
}

/// Runs `work` on the blocking pool every `period`, for the life of the server. A failure (or a
/// panic) is logged naming `what`, and the next tick tries again: the counters written this way
/// keep what they could not write.
pub async fn every<E: std::fmt::Display + Send + 'static>(
    period: std::time::Duration,
    what: &'static str,
    state: crate::state::AppState,
    work: fn(&crate::state::AppState) -> Result<(), E>,
) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let st = state.clone();
        match tokio::task::spawn_blocking(move || work(&st)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not write {what}; kept for the next try"),
            Err(e) => tracing::error!(error = %e, "writing {what} panicked"),
        }
    }
}
