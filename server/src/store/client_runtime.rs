//! A small tokio runtime on a thread of its own, for the network clients under the stores
//! (PostgreSQL connections, S3 requests).
//!
//! The stores' interfaces block (the server calls them from the blocking pool, and briefly
//! from request threads), while the maintained clients are async and need a tokio reactor.
//! Blocking on the server's own runtime from inside it would panic or starve it, so each
//! client runs here and a caller waits for the result on its own thread
//! ([`ClientRuntime::run`]), which is safe from any thread.

use std::future::Future;

/// The client runtime stopped (the process is shutting down, or a task panicked).
#[derive(Debug, thiserror::Error)]
#[error("the storage client runtime stopped: {0}")]
pub struct Stopped(pub String);

/// A current-thread runtime running until this is dropped.
#[derive(Debug)]
pub struct ClientRuntime {
    handle: tokio::runtime::Handle,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl ClientRuntime {
    /// Starts the runtime on a new thread named `name`.
    ///
    /// # Errors
    /// The thread or the runtime cannot be created.
    pub fn start(name: &str) -> std::io::Result<ClientRuntime> {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new().name(name.to_owned()).spawn(move || {
            match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => {
                    let _ = handle_tx.send(Ok(rt.handle().clone()));
                    rt.block_on(async {
                        let _ = stopped.await;
                    });
                }
                Err(e) => {
                    let _ = handle_tx.send(Err(e));
                }
            }
        })?;
        let handle = handle_rx.recv().map_err(std::io::Error::other)??;
        Ok(ClientRuntime { handle, _stop: stop })
    }

    /// The runtime, to spawn tasks (a connection's I/O) on.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    /// Runs `work` on the runtime and blocks the calling thread until it finishes.
    ///
    /// # Errors
    /// [`Stopped`] if the runtime is gone or `work` panicked.
    pub fn run<T: Send + 'static>(&self, work: impl Future<Output = T> + Send + 'static) -> Result<T, Stopped> {
        futures_executor::block_on(self.handle.spawn(work)).map_err(|e| Stopped(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_work_from_inside_another_runtime_without_nesting_it() {
        let clients = ClientRuntime::start("test-clients").expect("start");
        let server = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
        let answer = server.block_on(async {
            // As a request thread calling a store would: this must neither panic nor deadlock.
            clients.run(async {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                42
            })
        });
        assert_eq!(answer.expect("ran"), 42);
        let panicked = clients.run(async { panic!("boom") });
        assert!(panicked.is_err());
        assert_eq!(clients.run(async { 1 }).expect("still runs after a task panicked"), 1);
    }
}
