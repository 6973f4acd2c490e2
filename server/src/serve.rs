//! Running the router on a socket: graceful shutdown with a deadline.

use std::future::{Future, IntoFuture};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets in-flight
/// requests finish, and gives up on them after `grace`.
///
/// Returns `Ok(())` on a clean stop and also when the deadline cut connections off (that is
/// logged as a warning): either way the process should exit.
///
/// # Errors
/// The accept loop's I/O error.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (started_tx, started_rx) = oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!(grace_ms = grace.as_millis(), "shutting down: draining connections");
        // The receiver only disappears when serving is over; nothing to tell then.
        let _ = started_tx.send(());
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(signal).into_future();
    let deadline = async move {
        match started_rx.await {
            Ok(()) => tokio::time::sleep(grace).await,
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        res = server => {
            tracing::info!("server stopped");
            res
        }
        () = deadline => {
            tracing::warn!(grace_ms = grace.as_millis(), "shutdown deadline passed; closing open connections");
            Ok(())
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received SIGINT"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

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
            grace,
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
}
