//! End-to-end test helpers: find the real `sieve` binary, run it, talk HTTP to it.
//!
//! # Layout
//!
//! | item | what it does |
//! |---|---|
//! | [`sieve_bin`] | path of the `sieve` binary (see below), built at most once per test process |
//! | [`sieve`] | a `Command` for that binary with logging kept quiet |
//! | [`Server`] | `sieve serve --addr 127.0.0.1:0` running in the background; reads the printed address, stops it on drop |
//! | [`Http`] / [`Reply`] | a small blocking HTTP client that never turns 4xx/5xx into errors |
//! | [`TestServer`] | a server with an admin token in a fresh directory, with helpers for apps, tokens and calls |
//! | [`raw_exchange`] | raw bytes over TCP, for malformed or deliberately slow requests |
//! | [`FaultControl`] | turns storage faults of a [`TestServer::start_with_faults`] server on and off |
//! | [`files_under`] | every file under a directory (nothing left behind, no new blob) |
//! | [`manifest_blobs`] | every blob a day's manifest names (to damage one, or to check none is lost) |
//! | [`Rng`] | a small seeded generator, so shuffled and random schedules are reproducible |
//! | [`TestServer::segments_job`], [`TestServer::wait_for_segments_job`] | the app's durable segments job, and waiting for it |
//! | [`warehouse`] | the real warehouse tools as oracles: [`chdb`] (ClickHouse's bitmaps) and [`pyarrow`] (Parquet files) |
//! | [`services`] | the real PostgreSQL and Garage (S3) replicas share, started by `.dev/services.sh`; a database and bucket prefix per test |
//!
//! Test binaries live in `tests/tests/` (each spawns the real binary on a real socket):
//!
//! | file | what it exercises |
//! |---|---|
//! | `server.rs` | health, SPA fallback, JSON 404, shutdown |
//! | `api.rs` | tokens and roles, app isolation, path ids, segment CRUD with ETags, sync versions and tombstones, idempotency keys, body limits, load shedding, the OpenAPI document |
//! | `data.rs` | uploads, hot publish, carry-forward and backfill, retention, snapshots and blobs, estimates, membership, static members |
//! | `behaviour.rs` | numeric tags and daily event counts over several days, and the conditions on them |
//! | `analysis.rs` | funnels, overlaps and pivots (issue 16) against naive recomputations from the uploaded rows and the engine on downloaded bitmaps; their 400s; aggregate tokens' noisy, withheld counts |
//! | `history.rs` | a segment's history per day, backfilled by the durable job |
//! | `freeze.rs` | "save as static (frozen now)" against a naive recomputation |
//! | `experiments.rs` | A/B splits against `engine::split`, their balance and outcomes |
//! | `jobs.rs` | durable background jobs across SIGKILL, failures and retries |
//! | `reach.rs` | destinations, syncs and signed deliveries (issue 17) to a flaky receiver of our own across a SIGKILL, against a recount; SSRF refusals; a throughput bench (ignored) |
//! | `chaos.rs` | versioned segment messages delivered in every order and duplicated |
//! | `crash.rs` | SIGKILL during uploads, segment writes and reads; nothing lost or half-written |
//! | `faults.rs` | full and failing disks, damaged blob files |
//! | `integrity.rs` | a damaged metadata store: refusal at start, `sieve check`, backup and restore |
//! | `uploads.rs` | attacks on the upload and export paths (huge lines, slow clients, many uploads) |
//! | `inputs.rs` | inputs the server used to accept and should not, and small newcomer defects |
//! | `demo.rs` | `sieve demo`: determinism and the invariants of its files |
//! | `ids.rs` | the main flows on an app of string ids and one of `u32` ids fed the same files; the block sample scheme |
//! | `warehouse.rs` | bitmaps made by ClickHouse (chDB) against the same rows as CSV; bitmap exports read back by ClickHouse and roaring-rs |
//! | `parquet.rs` | Parquet files written by pyarrow against the same tables as CSV; bad Parquet refused by row or column |
//! | `replicas.rs` | two replicas on PostgreSQL and Garage: read-your-writes across them, concurrent publishes, a killed replica's backfill taken over, an outage of PostgreSQL, bad settings at start-up |
//! | `meta_store.rs` | the metadata store's promises on both backends (redb and PostgreSQL), against each other |
//! | `access.rs` | every route with every role; aggregate tokens' noisy, suppressed counts and no members; the differencing attack; the privacy budget; token rotation, revocation and expiry; the minimum audience and the audit log |
//!
//! `src/bin/sieve-load.rs` is `sieve-load`, an HTTP load generator for the API (loopback only,
//! bounded in time).
//!
//! # Which binary is tested
//!
//! `CARGO_BIN_EXE_sieve` exists only inside the `server` package, so this crate finds the binary
//! itself, in this order:
//! 1. `SIEVE_BIN`, when set: the path of an already built binary (CI can build once, in any
//!    profile, and point every run at it).
//! 2. Otherwise `cargo build -p server --bin sieve` (with `--release` when these tests are built
//!    without debug assertions), run once per test process with the same `cargo` and
//!    `CARGO_TARGET_DIR` as the test run; the binary's path is read from cargo's JSON messages
//!    (`compiler-artifact` → `executable`), so it is right whatever the target directory or
//!    profile. Cargo has released its build lock by the time tests run, so this nested build
//!    does not wait on the outer one; when nothing changed it is a no-op taking well under a second.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub mod services;
pub mod warehouse;
pub use warehouse::{chdb, pyarrow, warehouse_tool};

/// A failed helper step, with what was being done.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The workspace root (parent of this crate's directory).
///
/// Read at run time first (`cargo test` sets `CARGO_MANIFEST_DIR` for the test process): two
/// checkouts sharing one target directory can reuse each other's test binaries, whose
/// compile-time value names the *other* checkout.
pub fn workspace_root() -> PathBuf {
    let here = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    here.parent().map_or_else(|| here.clone(), Path::to_path_buf)
}

/// Path of the `sieve` binary under test; see the crate docs for how it is found.
///
/// # Panics
/// When the binary cannot be found or built: no test can run without it.
pub fn sieve_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| match locate() {
        Ok(path) => path,
        Err(err) => panic!("cannot find or build the sieve binary: {err}"),
    })
}

fn locate() -> Result<PathBuf, Error> {
    if let Some(bin) = std::env::var_os("SIEVE_BIN").filter(|v| !v.is_empty()) {
        let bin = PathBuf::from(bin);
        if !bin.is_file() {
            return Err(format!("SIEVE_BIN={} is not a file", bin.display()).into());
        }
        return Ok(bin);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args(["build", "-p", "server", "--bin", "sieve", "--message-format=json-render-diagnostics"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let out = cmd.output().map_err(|e| format!("running cargo build: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo build -p server --bin sieve failed: {}", out.status).into());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut found = None;
    for line in stdout.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact"
            && msg["target"]["name"] == "sieve"
            && let Some(exe) = msg["executable"].as_str()
        {
            found = Some(PathBuf::from(exe));
        }
    }
    found.ok_or_else(|| "cargo build reported no executable for target `sieve`".into())
}

/// A `Command` for the binary under test, with `RUST_LOG` set to keep logs short.
pub fn sieve() -> Command {
    let mut cmd = Command::new(sieve_bin());
    cmd.env("RUST_LOG", "warn");
    cmd
}

/// A running `sieve serve`; killed on drop if still running.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// The address it printed (`listening on http://ADDR`).
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<JoinHandle<()>>,
}

impl Server {
    /// Starts `sieve serve --addr 127.0.0.1:0 --dist DIST --data-dir DATA` plus `extra` args,
    /// and waits (up to 60 s) for the address line.
    ///
    /// # Errors
    /// Spawning fails, or the process exits or stays silent instead of printing its address.
    pub fn start(dist: &Path, data: &Path, extra: &[&str]) -> Result<Self, Error> {
        let mut cmd = sieve();
        cmd.arg("serve")
            .args(["--addr", "127.0.0.1:0"])
            .arg("--dist")
            .arg(dist)
            .arg("--data-dir")
            .arg(data)
            .args(extra);
        Self::spawn(cmd)
    }

    /// Starts a prepared `sieve serve` command (for tests of flags and environment).
    ///
    /// # Errors
    /// As [`Server::start`].
    pub fn spawn(mut cmd: Command) -> Result<Self, Error> {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| format!("spawning sieve: {e}"))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_reader = child.stderr.take().map(|pipe| {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Ok(mut s) = sink.lock() {
                        s.push_str(&line);
                        s.push('\n');
                    }
                }
            })
        });
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(addr.trim().to_owned());
                    break;
                }
            }
            // Keep draining so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let mut server = Self { child, addr: SocketAddr::from(([127, 0, 0, 1], 0)), stderr, stderr_reader };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => {
                server.addr = addr.parse().map_err(|e| format!("bad address {addr:?}: {e}"))?;
                Ok(server)
            }
            Err(_) => {
                let _ = server.child.kill();
                let status = server.child.wait().ok();
                server.join_stderr();
                Err(format!("sieve serve printed no address (exit: {status:?}); stderr:\n{}", server.stderr()).into())
            }
        }
    }

    /// The process id (to read its memory from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The peak resident memory so far (`VmHWM` in `/proc/<pid>/status`), in bytes.
    ///
    /// # Errors
    /// The status file cannot be read or has no `VmHWM` line (not Linux).
    pub fn peak_rss_bytes(&self) -> Result<u64, Error> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .ok_or("no VmHWM line")?;
        Ok(kib << 10)
    }

    /// `http://ADDR` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn join_stderr(&mut self) {
        if let Some(reader) = self.stderr_reader.take() {
            let _ = reader.join();
        }
    }

    /// What the server wrote to stderr so far (its logs); complete once it has exited.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// What the server wrote to stderr, once `wanted` holds for it or `limit` has passed (a
    /// thread reads the pipe, and on a loaded machine it can lag the server by a while).
    pub fn stderr_when(&self, limit: Duration, wanted: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let log = self.stderr();
            if wanted(&log) || started.elapsed() >= limit {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and waits up to `limit` for the exit; returns the status and how long it took
    /// (at once, with the status, when it has exited already).
    ///
    /// # Errors
    /// The signal cannot be sent, or the process is still running after `limit` (it is then killed).
    pub fn terminate(&mut self, limit: Duration) -> Result<(ExitStatus, Duration), Error> {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        if let Some(status) = self.child.try_wait()? {
            // Already exited (and reaped): nothing to signal.
            self.join_stderr();
            return Ok((status, Duration::ZERO));
        }
        let pid = i32::try_from(self.child.id()).map_err(|_| "pid out of range")?;
        let started = Instant::now();
        kill(Pid::from_raw(pid), Signal::SIGTERM).map_err(|e| format!("sending SIGTERM: {e}"))?;
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                let took = started.elapsed();
                self.join_stderr();
                return Ok((status, took));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(format!("still running {limit:?} after SIGTERM").into())
    }
}

impl Server {
    /// Kills the process with SIGKILL (no shutdown of any kind) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Response headers (names lower-case).
    pub headers: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced; see `bytes` for binary bodies).
    pub body: String,
    /// The body as received.
    pub bytes: Vec<u8>,
}

impl Reply {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    ///
    /// # Errors
    /// The body is not JSON.
    pub fn json(&self) -> Result<serde_json::Value, Error> {
        serde_json::from_str(&self.body).map_err(|e| format!("body is not JSON ({e}): {}", self.body).into())
    }
}

/// A blocking HTTP client that reports every status as a [`Reply`] (no error for 404).
#[derive(Debug)]
pub struct Http {
    agent: ureq::Agent,
}

impl Default for Http {
    fn default() -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build();
        Self { agent: ureq::Agent::new_with_config(config) }
    }
}

impl Http {
    /// `GET url`.
    ///
    /// # Errors
    /// Connection or protocol failure.
    pub fn get(&self, url: &str) -> Result<Reply, Error> {
        self.send("GET", url, &[], None)
    }

    /// Any request: method, URL, headers, and a body (`None`: no body at all).
    ///
    /// # Errors
    /// Connection or protocol failure.
    pub fn send(&self, method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Result<Reply, Error> {
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = match body {
            Some(bytes) => self.agent.run(req.body(bytes)?),
            None => self.agent.run(req.body(())?),
        };
        let mut res = res?;
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let bytes = res.body_mut().with_config().limit(1 << 30).read_to_vec()?;
        let body = String::from_utf8_lossy(&bytes).into_owned();
        Ok(Reply { status, headers, body, bytes })
    }
}

/// Sends raw bytes on a new connection and returns everything the server answers until it
/// closes the connection or `limit` passes (for requests no well-behaved client would send).
///
/// # Errors
/// Connecting or writing fails.
pub fn raw_exchange(addr: SocketAddr, request: &[u8], limit: Duration) -> Result<String, Error> {
    use std::io::{Read as _, Write as _};
    let mut conn = std::net::TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(limit))?;
    conn.write_all(request)?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    while started.elapsed() < limit {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Every file under `dir`, recursively (for "nothing left behind" and "no new file").
pub fn files_under(dir: &Path) -> std::collections::BTreeSet<PathBuf> {
    let mut out = std::collections::BTreeSet::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.insert(path);
        }
    }
    out
}

/// The control file of a server started by [`TestServer::start_with_faults`] (its format is in
/// `server/src/store/faults.rs`: lines such as `upload enospc`).
#[derive(Debug)]
pub struct FaultControl {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl FaultControl {
    /// From now on, inject what `lines` say.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn inject(&self, lines: &str) -> Result<(), Error> {
        Ok(std::fs::write(&self.path, lines)?)
    }

    /// No more faults.
    ///
    /// # Errors
    /// The file cannot be removed.
    pub fn clear(&self) -> Result<(), Error> {
        Ok(std::fs::remove_file(&self.path)?)
    }
}

/// A `sieve serve` with an admin token, a fresh data directory and a stub `dist/`, plus the
/// calls most tests make. The directory is removed when it is dropped.
#[derive(Debug)]
pub struct TestServer {
    /// The running server.
    pub server: Server,
    /// A client for it.
    pub http: Http,
    /// The admin token it was started with.
    pub admin: String,
    dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, std::ffi::OsString)>,
}

impl TestServer {
    /// Starts a server with `--admin-token admin` and `extra` flags.
    ///
    /// # Errors
    /// The directory or the server cannot be set up.
    pub fn start(admin: &str, extra: &[&str]) -> Result<TestServer, Error> {
        TestServer::start_with_env(admin, extra, &[])
    }

    /// Starts a server with `--admin-token admin`, `extra` flags and extra environment variables.
    ///
    /// # Errors
    /// The directory or the server cannot be set up.
    pub fn start_with_env(admin: &str, extra: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Result<TestServer, Error> {
        let dir = tempfile::tempdir()?;
        let dist = dir.path().join("dist");
        std::fs::create_dir_all(&dist)?;
        std::fs::write(dist.join("index.html"), "<!doctype html><title>test</title>")?;
        let mut args = vec!["--admin-token".to_owned(), admin.to_owned()];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let env: Vec<(String, std::ffi::OsString)> =
            env.iter().map(|(k, v)| ((*k).to_owned(), v.to_os_string())).collect();
        let server = Self::spawn(&dir, &args, &env)?;
        Ok(TestServer { server, http: Http::default(), admin: admin.to_owned(), dir, args, env })
    }

    /// Starts a server whose storage faults a [`FaultControl`] turns on and off (`SIEVE_FAULTS`).
    ///
    /// # Errors
    /// As [`TestServer::start`].
    pub fn start_with_faults(admin: &str, extra: &[&str]) -> Result<(TestServer, FaultControl), Error> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("faults");
        let t = TestServer::start_with_env(admin, extra, &[("SIEVE_FAULTS", path.as_os_str())])?;
        Ok((t, FaultControl { _dir: dir, path }))
    }

    fn spawn(dir: &tempfile::TempDir, args: &[String], env: &[(String, std::ffi::OsString)]) -> Result<Server, Error> {
        let mut cmd = sieve();
        cmd.arg("serve")
            .args(["--addr", "127.0.0.1:0"])
            .arg("--dist")
            .arg(dir.path().join("dist"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)));
        Server::spawn(cmd)
    }

    /// Stops the server (SIGTERM, waiting up to 10 s) and starts it again on the same data
    /// directory with the same flags; returns how long the new one took to answer health.
    ///
    /// # Errors
    /// The old server does not stop, or the new one does not start or answer.
    pub fn restart(&mut self) -> Result<Duration, Error> {
        self.server.terminate(Duration::from_secs(10))?;
        let started = Instant::now();
        self.server = Self::spawn(&self.dir, &self.args, &self.env)?;
        let health = self.http.get(&self.server.url("/api/v1/health"))?;
        if health.status != 200 {
            return Err(format!("health after restart: {} {}", health.status, health.body).into());
        }
        Ok(started.elapsed())
    }

    /// Kills the server with SIGKILL (no shutdown of any kind) and starts it again on the same
    /// data directory, with `extra` in place of the extra flags it was started with.
    ///
    /// # Errors
    /// The new server does not start.
    pub fn kill_and_restart(&mut self, extra: &[&str]) -> Result<(), Error> {
        self.server.kill();
        self.args.truncate(2); // --admin-token <admin>
        self.args.extend(extra.iter().map(|a| (*a).to_owned()));
        self.server = Self::spawn(&self.dir, &self.args, &self.env)?;
        Ok(())
    }

    /// The data directory (to restart a server on it).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The stub `dist/` directory.
    pub fn dist_dir(&self) -> PathBuf {
        self.dir.path().join("dist")
    }

    /// Any request with a bearer token.
    ///
    /// # Errors
    /// Connection or protocol failure (HTTP errors are a [`Reply`]).
    pub fn call(&self, method: &str, path: &str, token: &str, body: Option<&[u8]>) -> Result<Reply, Error> {
        let auth = format!("Bearer {token}");
        self.http.send(method, &self.server.url(path), &[("authorization", auth.as_str())], body)
    }

    /// A request that must succeed (2xx); its body as JSON.
    ///
    /// # Errors
    /// Any other status (with the body), or a body that is not JSON.
    pub fn ok(&self, method: &str, path: &str, token: &str, body: Option<&[u8]>) -> Result<serde_json::Value, Error> {
        let r = self.call(method, path, token, body)?;
        if !(200..300).contains(&r.status) {
            return Err(format!("{method} {path}: {} {}", r.status, r.body).into());
        }
        r.json()
    }

    /// Creates an app (admin) and returns a new token of `role` for it.
    ///
    /// # Errors
    /// The app or the token cannot be created.
    pub fn app_with_token(&self, app: &str, role: &str) -> Result<String, Error> {
        let body = serde_json::json!({"id": app, "name": app}).to_string();
        let r = self.call("POST", "/api/v1/apps", &self.admin, Some(body.as_bytes()))?;
        if r.status != 201 && r.status != 409 {
            return Err(format!("create app {app}: {} {}", r.status, r.body).into());
        }
        self.token(app, role)
    }

    /// A new token of `role` for an existing app.
    ///
    /// # Errors
    /// The token cannot be created.
    pub fn token(&self, app: &str, role: &str) -> Result<String, Error> {
        let body = serde_json::json!({"role": role}).to_string();
        let v = self.ok("POST", &format!("/api/v1/apps/{app}/tokens"), &self.admin, Some(body.as_bytes()))?;
        Ok(v["token"].as_str().ok_or("no token in the answer")?.to_owned())
    }

    /// The app's segments job (the backfill after a segment change), as the API shows it.
    ///
    /// # Errors
    /// The call fails or is not a 200.
    pub fn segments_job(&self, token: &str, app: &str) -> Result<serde_json::Value, Error> {
        self.ok("GET", &format!("/api/v1/apps/{app}/jobs/segments"), token, None)
    }

    /// Polls the app's segments job every 50 ms until `done(job)` holds (at most 60 s), and
    /// returns the job.
    ///
    /// # Errors
    /// A call fails, or 60 s pass; the error names `what` and the job's last state.
    pub fn wait_for_segments_job(
        &self,
        token: &str,
        app: &str,
        what: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> Result<serde_json::Value, Error> {
        self.wait_for_segments_job_within(token, app, what, Duration::from_secs(60), done)
    }

    /// [`TestServer::wait_for_segments_job`] with another limit.
    ///
    /// # Errors
    /// A call fails, or `limit` passes.
    pub fn wait_for_segments_job_within(
        &self,
        token: &str,
        app: &str,
        what: &str,
        limit: Duration,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> Result<serde_json::Value, Error> {
        let started = Instant::now();
        loop {
            let job = self.segments_job(token, app)?;
            if done(&job) {
                return Ok(job);
            }
            if started.elapsed() > limit {
                return Err(format!("{what}: job still {job}").into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Every blob a day's manifest names: the universe, the sample's universe, and each tag
/// value's full and sample sets.
pub fn manifest_blobs(manifest: &serde_json::Value) -> Vec<String> {
    let mut out = vec![];
    let mut push = |r: &serde_json::Value| {
        if let Some(h) = r["blob"].as_str() {
            out.push(h.to_owned());
        }
    };
    push(&manifest["universe"]);
    push(&manifest["sample"]["universe"]);
    for g in manifest["groups"].as_array().into_iter().flatten() {
        for v in g["values"].as_array().into_iter().flatten() {
            push(&v["full"]);
            push(&v["sample"]);
        }
    }
    out
}

/// A small deterministic generator (xorshift), so a shuffle or a random schedule, and so a
/// failure, is reproducible from its seed (which must not be 0).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
