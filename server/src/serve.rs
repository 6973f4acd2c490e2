//! Running the router on a socket: HTTP/1.1 with a header read timeout, graceful shutdown
//! with a deadline.
//!
//! This is our own accept loop over hyper rather than `axum::serve`, because `axum::serve`
//! sets no timer, so hyper's header read timeout is off and a client that opens connections
//! and sends headers slowly (or never) holds them forever (slowloris). Here every connection
//! must deliver a complete request head within [`ServeOptions::header_read_timeout`], also
//! between keep-alive requests, so idle connections are closed after the same time.
//!
//! Only HTTP/1.1 is served: browsers speak HTTP/2 only over TLS, which a proxy in front
//! terminates; cleartext HTTP/2 would need protocol sniffing that no timer covers.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

/// How [`serve`] treats connections.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// After the shutdown signal, how long in-flight requests may run before they are cut off.
    pub grace: Duration,
    /// Longest a client may take to send a request head (and longest a kept-alive connection
    /// may sit idle).
    pub header_read_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self { grace: Duration::from_secs(10), header_read_timeout: Duration::from_secs(10) }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets in-flight
/// requests finish (idle connections close at once), and gives up on them after `grace`.
///
/// Returns `Ok(())` on a clean stop and also when the deadline cut connections off (that is
/// logged as a warning): either way the process should exit. Accept errors (out of file
/// descriptors, a connection reset before it was accepted) are logged and retried, never fatal.
///
/// # Errors
/// None today; the `Result` leaves room for listener setup failures.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(err) => {
                        // EMFILE and friends: back off instead of spinning; the listener stays.
                        tracing::warn!(%err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(err) = conn.await {
                        // Timeouts and clients going away: normal on the internet, not an error here.
                        tracing::debug!(%err, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!(grace_ms = options.grace.as_millis(), "shutting down: draining connections");
    tokio::select! {
        () = graceful.shutdown() => {
            tracing::info!("server stopped");
        }
        () = tokio::time::sleep(options.grace) => {
            tracing::warn!(grace_ms = options.grace.as_millis(), "shutdown deadline passed; closing open connections");
        }
    }
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called,
/// not when the future is first polled: `serve` polls it only when its `select!` gets to that
/// branch, and a signal arriving before would still kill the process with the default action
/// (a SIGTERM right after the first requests once ended the server with status 15 instead of a
/// graceful stop). Call it inside the runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind, name: &'static str| {
            signal(kind).inspect_err(|err| tracing::error!(%err, "cannot listen for {name}")).ok()
        };
        (listen(SignalKind::interrupt(), "SIGINT"), listen(SignalKind::terminate(), "SIGTERM"))
    };
    async move {
        #[cfg(unix)]
        {
            // A handler that could not be installed never fires (the other still may).
            let wait = |sig: Option<tokio::signal::unix::Signal>| async move {
                match sig {
                    Some(mut sig) => {
                        sig.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => tracing::info!("received SIGINT"),
                () = wait(terminate) => tracing::info!("received SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        {
            if let Err(err) = tokio::signal::ctrl_c().await {
                tracing::error!(%err, "cannot listen for SIGINT");
                std::future::pending::<()>().await;
            }
            tracing::info!("received SIGINT");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::sync::oneshot;

    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(60)).await;
        "too late"
    }

    async fn fast() -> &'static str {
        "ok"
    }

    async fn nap() -> &'static str {
        tokio::time::sleep(Duration::from_millis(300)).await;
        "rested"
    }

    async fn start(
        grace: Duration,
    ) -> (std::net::SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>) {
        start_with(ServeOptions { grace, header_read_timeout: Duration::from_secs(5) }).await
    }

    async fn start_with(
        options: ServeOptions,
    ) -> (std::net::SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let app = Router::new().route("/slow", get(slow)).route("/fast", get(fast)).route("/nap", get(nap));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(
            listener,
            app,
            async move {
                let _ = stop_rx.await;
            },
            options,
        ));
        (addr, stop_tx, task)
    }

    async fn request(addr: std::net::SocketAddr, path: &str) -> tokio::net::TcpStream {
        let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let req = format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n");
        conn.write_all(req.as_bytes()).await.expect("write");
        conn
    }

    #[tokio::test]
    async fn idle_connections_do_not_delay_exit() {
        let (addr, stop, task) = start(Duration::from_secs(5)).await;
        let mut conn = request(addr, "/fast").await;
        let mut buf = vec![0u8; 512];
        let n = conn.read(&mut buf).await.expect("read");
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        let _ = stop.send(());
        let res = tokio::time::timeout(Duration::from_secs(3), task).await;
        assert!(matches!(res, Ok(Ok(Ok(())))), "idle keep-alive connections do not hold shutdown: {res:?}");
    }

    #[tokio::test]
    async fn in_flight_request_completes_during_shutdown() {
        let (addr, stop, task) = start(Duration::from_secs(5)).await;
        let mut conn = request(addr, "/nap").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = stop.send(());
        let mut reply = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(3), conn.read_to_end(&mut reply)).await;
        assert!(matches!(read, Ok(Ok(_))), "{read:?}");
        let reply = String::from_utf8_lossy(&reply);
        assert!(reply.starts_with("HTTP/1.1 200") && reply.ends_with("rested"), "{reply}");
        let res = tokio::time::timeout(Duration::from_secs(3), task).await;
        assert!(matches!(res, Ok(Ok(Ok(())))), "{res:?}");
    }

    #[tokio::test]
    async fn deadline_cuts_off_stuck_requests() {
        let grace = Duration::from_millis(300);
        let (addr, stop, task) = start(grace).await;
        let _conn = request(addr, "/slow").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = std::time::Instant::now();
        let _ = stop.send(());
        let res = tokio::time::timeout(Duration::from_secs(5), task).await;
        assert!(matches!(res, Ok(Ok(Ok(())))), "{res:?}");
        let took = started.elapsed();
        assert!(took >= grace && took < Duration::from_secs(3), "stopped after {took:?}");
    }

    #[tokio::test]
    async fn slow_headers_are_cut_off() {
        let options = ServeOptions { grace: Duration::from_secs(1), header_read_timeout: Duration::from_millis(300) };
        let (addr, _stop, _task) = start_with(options).await;
        // Half a request head, then nothing: the server closes the connection.
        let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
        conn.write_all(b"GET /fast HTTP/1.1\r\nhost: te").await.expect("write");
        let started = std::time::Instant::now();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(_))), "closed, not hanging: {read:?}");
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        // A client that sends nothing at all is closed too.
        let mut idle = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let read = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(_))), "idle connection closed: {read:?}");
        // Prompt clients are unaffected.
        let mut ok = request(addr, "/fast").await;
        let mut reply = vec![0u8; 256];
        let n = ok.read(&mut reply).await.expect("read");
        assert!(String::from_utf8_lossy(&reply[..n]).starts_with("HTTP/1.1 200"));
    }
}
