//! Request hygiene that is not a handler's business: body size limits, load shedding, the
//! pace of request bodies, per-token upload limits, and reading the rest of a refused body.
//!
//! **Body limits.** Every route declares whether it takes JSON or an upload
//! ([`crate::routes::BodyKind`]); [`with_body_limit`] puts [`limit_body`] in front of it with
//! the configured size. A `Content-Length` over the limit is refused before a byte of the body
//! is read; a body without one (chunked) is wrapped in [`http_body_util::Limited`], so a
//! streamed upload that grows past the limit fails on the read that crosses it, and the
//! handler answers 413 through [`crate::ApiError::from_body_error`]. The limit also travels in
//! the request's extensions as [`BodyLimit`] for the extractors in [`crate::extract`].
//!
//! **Load shedding, uploads apart.** Uploads and everything else have separate pools of
//! request slots ([`Slots`]: `--max-uploads`, `--max-inflight`): an upload holds its slot while
//! its body arrives, which a slow client can stretch, so uploads must never take the slots
//! reads need. When a pool is full the request is answered 503 `{"error":"overloaded"}` at
//! once by [`admit`], instead of waiting in an unbounded queue while its client times out. A
//! slot is held until the handler has produced its response head (which includes reading the
//! request body). On top, one token may run only `--max-uploads-per-token` uploads at once
//! ([`per_token`], 429 `too_many_uploads`), so one client cannot take every upload slot.
//!
//! **Pace.** An upload's body must keep arriving ([`Pace`], [`Deadline`]): a pause longer than
//! `--upload-idle-timeout-secs`, or a rate below `--upload-min-rate-bytes` sustained that long,
//! ends it with 408 `upload_too_slow` (see [`crate::ingest::spool`]).
//!
//! **Refusing without a reset.** A client that is still sending when it is refused (a 507
//! after the disk filled, a 400 on its first bad line, a 404 before the body was read) must
//! get the answer: HTTP/1 clients such as ureq read the response only once they have sent the
//! whole body, and closing a socket with unread bytes makes the kernel send a reset, which
//! can reach the client before it reads the answer ("peer disconnected"). hyper reads on only
//! what it already has buffered, then closes. So [`drain_refused`] keeps the body's stream
//! aside, and when the handler has answered, a task reads and drops the rest (at most
//! [`DRAIN_MAX_BYTES`], at the upload pace, within `--upload-idle-timeout-secs`) while hyper
//! writes the answer: hyper keeps reading a request body someone holds, so a client that
//! sends everything first gets the answer after its last byte, and one that waits for the
//! answer gets it at once; the connection then stays usable. A larger rest is not read: that
//! client gets the reset (curl reads early answers and stops sending), and so does a body
//! refused by its declared size before a byte was read (reading it is what the limit refuses).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::state::AppState;

/// The body size limit of the route that is handling a request, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub u64);

/// Wraps a route with [`limit_body`] at `limit_bytes`.
pub fn with_body_limit(route: MethodRouter<AppState>, limit_bytes: u64) -> MethodRouter<AppState> {
    route.layer(axum::middleware::from_fn_with_state(BodyLimit(limit_bytes), limit_body))
}

/// Refuses a declared oversize body with 413; caps the rest as they stream.
pub async fn limit_body(State(limit): State<BodyLimit>, mut req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit.0) {
        return ApiError::PayloadTooLarge { limit_bytes: limit.0 }.into_response();
    }
    let cap = usize::try_from(limit.0).unwrap_or(usize::MAX);
    req.extensions_mut().insert(limit);
    let req = req.map(|body| Body::new(Limited::new(body, cap)));
    next.run(req).await
}

/// Whether a body read failed because [`limit_body`]'s cap was crossed (anywhere in the chain
/// of causes: axum wraps body errors).
pub fn is_length_limit(err: &(dyn std::error::Error + 'static)) -> bool {
    crate::error::causes(err).any(|e| e.is::<LengthLimitError>())
}

/// The request slots, per-token counts and body pace of one server, shared by its routes.
#[derive(Debug, Clone)]
pub struct Gates {
    /// Slots of every request but uploads (`--max-inflight`).
    pub reads: Slots,
    /// Slots of uploads (`--max-uploads`).
    pub uploads: Slots,
    /// Uploads per token (`--max-uploads-per-token`).
    pub per_token: PerToken,
    /// How fast bodies must arrive.
    pub pace: Pace,
}

impl Gates {
    /// The gates `config` asks for.
    pub fn new(config: &crate::state::Config) -> Gates {
        Gates {
            reads: Slots::new(config.max_inflight),
            uploads: Slots::new(config.max_uploads),
            per_token: PerToken::new(config.max_uploads_per_token),
            pace: config.upload_pace(),
        }
    }
}

/// A pool of request slots, shared by the routes of one kind.
#[derive(Debug, Clone)]
pub struct Slots {
    semaphore: Arc<Semaphore>,
}

impl Slots {
    /// A pool of `n` slots (at least one).
    pub fn new(n: usize) -> Slots {
        Slots { semaphore: Arc::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS))) }
    }
}

/// Runs the request in a free slot of the pool, or answers 503 `overloaded` at once.
pub async fn admit(State(slots): State<Slots>, req: Request, next: Next) -> Response {
    let Ok(_slot) = slots.semaphore.try_acquire_owned() else {
        // Not a warning per request: under overload that would add log I/O to an overloaded
        // server; the trace layer already logs each response with its 503.
        tracing::debug!("load shedding: every request slot of this kind is busy");
        return ApiError::Overloaded.into_response();
    };
    next.run(req).await
}

/// Uploads running per token, each token at most `limit`.
#[derive(Debug, Clone)]
pub struct PerToken {
    limit: usize,
    running: Arc<Mutex<HashMap<[u8; 32], usize>>>,
}

impl PerToken {
    /// At most `limit` (at least one) uploads at once per token.
    pub fn new(limit: usize) -> PerToken {
        PerToken { limit: limit.max(1), running: Arc::default() }
    }

    fn enter(&self, key: [u8; 32]) -> Option<TokenSlot> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let n = running.entry(key).or_insert(0);
        if *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(TokenSlot { key, running: self.running.clone() })
    }
}

/// One running upload of a token; counted down when dropped.
struct TokenSlot {
    key: [u8; 32],
    running: Arc<Mutex<HashMap<[u8; 32], usize>>>,
}

impl Drop for TokenSlot {
    fn drop(&mut self) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = running.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                running.remove(&self.key);
            }
        }
    }
}

/// Refuses an upload with 429 `too_many_uploads` when its token has `limit` running. Keyed by
/// the hash of the bearer token as [`crate::auth`] reads it (so `bearer` or extra spaces do not
/// make a second count); checking it stays the handler's job: a wrong token gets its 401 before
/// any body is read, so it holds its count only for a moment.
pub async fn per_token(State(per): State<PerToken>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let key = crate::auth::bearer(&parts).map(|token| *blake3::hash(token.as_bytes()).as_bytes());
    let req = Request::from_parts(parts, body);
    let Some(key) = key else { return next.run(req).await };
    let Some(_slot) = per.enter(key) else {
        return ApiError::TooManyUploads { limit: per.limit }.into_response();
    };
    next.run(req).await
}

/// How fast a request body must arrive: nothing for longer than `idle` is a stall, and so is
/// a rate below `min_bytes_per_sec` sustained for longer than `idle`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// The longest pause between two pieces of the body (and before the first).
    pub idle: Duration,
    /// The slowest average rate kept up with (0: only the pause counts).
    pub min_bytes_per_sec: u64,
}

/// The moment a body read gives up, moved by what arrives. It starts `idle` ahead; each byte
/// buys `1 / min_bytes_per_sec` seconds, but never more than `idle` ahead of now. A client at
/// or above the rate stays `idle` ahead; a slower one loses ground and is cut off once its
/// deficit reaches `idle` (one byte a second against 1 KiB/s is cut off after about `idle`).
/// Apache's `mod_reqtimeout` (`body=…,MinRate=…`) works the same way, without the cap, which
/// lets a fast start buy a long trickle.
///
/// ```
/// use std::time::Duration;
/// use server::limits::{Deadline, Pace};
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let pace = Pace { idle: Duration::from_secs(10), min_bytes_per_sec: 1000 };
/// let mut d = Deadline::start(pace);
/// let first = d.at();
/// d.received(1); // one byte buys a millisecond, not a fresh ten seconds
/// assert!(d.at() <= first + Duration::from_millis(2));
/// d.received(1_000_000); // a burst buys at most `idle` from now
/// assert!(d.at() <= tokio::time::Instant::now() + Duration::from_secs(10));
/// # });
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    pace: Pace,
}

impl Deadline {
    /// Starts the clock now.
    pub fn start(pace: Pace) -> Deadline {
        Deadline { at: Instant::now() + pace.idle, pace }
    }

    /// When the next piece must have arrived.
    pub fn at(&self) -> Instant {
        self.at
    }

    /// `bytes` arrived now.
    pub fn received(&mut self, bytes: usize) {
        let now = Instant::now();
        let cap = now + self.pace.idle;
        self.at = if self.pace.min_bytes_per_sec == 0 {
            cap
        } else {
            let credit = Duration::from_secs_f64(bytes as f64 / self.pace.min_bytes_per_sec as f64);
            (self.at.max(now) + credit).min(cap)
        };
    }
}

/// Most bytes of a refused request's body read (and dropped) so that its client gets the answer.
pub const DRAIN_MAX_BYTES: u64 = 16 << 20;

/// A request body whose stream stays with [`drain_refused`] when the handler drops it.
struct Kept(Arc<Mutex<KeptState>>);

#[derive(Default)]
struct KeptState {
    body: Option<Body>,
    read_bytes: u64,
    polled: bool,
}

impl KeptState {
    fn lock(state: &Mutex<KeptState>) -> std::sync::MutexGuard<'_, KeptState> {
        state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl http_body::Body for Kept {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let mut state = KeptState::lock(&self.0);
        state.polled = true;
        let Some(body) = state.body.as_mut() else { return Poll::Ready(None) };
        let polled = Pin::new(body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            state.read_bytes += data.len() as u64;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        KeptState::lock(&self.0).body.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        KeptState::lock(&self.0).body.as_ref().map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

/// After the handler answers, reads the rest of a body it left unread (see the module docs),
/// at `pace`, beside the answer, so the client gets the answer instead of a reset.
pub async fn drain_refused(State(pace): State<Pace>, req: Request, next: Next) -> Response {
    let expects_continue =
        req.headers().get(header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let kept = Arc::new(Mutex::new(KeptState::default()));
    let req = req.map(|body| {
        KeptState::lock(&kept).body = Some(body);
        Body::new(Kept(kept.clone()))
    });
    let res = next.run(req).await;
    let (rest, read_bytes, polled) = {
        let mut state = KeptState::lock(&kept);
        (state.body.take(), state.read_bytes, state.polled)
    };
    let Some(rest) = rest.filter(|b| !b.is_end_stream()) else { return res };
    // A client waiting for `100 Continue` has not sent its body: asking for it now would only
    // make it send what nobody reads. A body refused for its declared size is not read either:
    // reading it is what the limit refuses.
    let waiting = !polled && (expects_continue || res.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE);
    let left = declared.map(|d| d.saturating_sub(read_bytes));
    if !waiting && left.is_none_or(|left| left <= DRAIN_MAX_BYTES) {
        tokio::spawn(drain(rest, pace));
    }
    res
}

/// Reads and drops a body: at most [`DRAIN_MAX_BYTES`], at `pace`, for at most `pace.idle`.
async fn drain(mut body: Body, pace: Pace) {
    let give_up = Instant::now() + pace.idle;
    let mut deadline = Deadline::start(pace);
    let mut read = 0u64;
    while read <= DRAIN_MAX_BYTES {
        match tokio::time::timeout_at(deadline.at().min(give_up), body.frame()).await {
            Ok(Some(Ok(frame))) => {
                let n = frame.data_ref().map_or(0, Bytes::len);
                read += n as u64;
                deadline.received(n);
            }
            _ => break,
        }
    }
}
