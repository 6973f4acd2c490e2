//! The real services replicas share, for the tests: PostgreSQL and Garage (S3), started by
//! `.dev/services.sh start DIR` (idempotent) once per test process, never mocked.
//!
//! `DIR` is `SIEVE_SERVICES_DIR` (the test command sets it and stops the services at its end),
//! or `~/.cache/sieve/services` for a plain `cargo test`. Each test takes a [`Store`] of its
//! own: a new database and a new key prefix in the bucket, so tests running at once never see
//! each other's apps. Tests that stop a service start a private pair with [`Services::private`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, workspace_root};

/// Running services and the settings a replica needs for them.
#[derive(Debug)]
pub struct Services {
    /// Their data directory.
    pub dir: PathBuf,
    /// `SIEVE_META_URL`, `SIEVE_BLOB_URL` and the `AWS_*` variables, as `services.sh` printed them.
    pub env: Vec<(String, String)>,
    /// Stops them when dropped (private pairs only).
    stop_on_drop: bool,
}

/// One test's stores on the shared services: a database of its own and a bucket prefix.
#[derive(Debug, Clone)]
pub struct Store {
    /// Every variable a replica is started with.
    pub env: Vec<(String, String)>,
    /// The database's URL.
    pub meta_url: String,
    /// The blobs' URL.
    pub blob_url: String,
}

impl Store {
    /// The variables as `TestServer::start_with_env` takes them.
    pub fn vars(&self) -> Vec<(&str, &std::ffi::OsStr)> {
        self.env.iter().map(|(k, v)| (k.as_str(), std::ffi::OsStr::new(v.as_str()))).collect()
    }
}

static SHARED: OnceLock<Result<Services, String>> = OnceLock::new();
static NEXT: AtomicU64 = AtomicU64::new(0);

/// The services every test in this process shares, started on first use.
///
/// # Errors
/// `services.sh` failed (the message says how, e.g. Garage is not installed yet).
pub fn shared() -> Result<&'static Services, Error> {
    let dir = std::env::var_os("SIEVE_SERVICES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/sieve/services"));
    SHARED
        .get_or_init(|| Services::start(&dir, false).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| e.clone().into())
}

impl Services {
    /// A pair of services of one test's own in a new directory (for tests that stop them);
    /// stopped when dropped.
    ///
    /// # Errors
    /// As [`shared`].
    pub fn private(dir: &Path) -> Result<Services, Error> {
        Services::start(dir, true)
    }

    fn start(dir: &Path, stop_on_drop: bool) -> Result<Services, Error> {
        let out = Command::new("bash").arg(workspace_root().join(".dev/services.sh")).arg("start").arg(dir).output()?;
        if !out.status.success() {
            return Err(format!(
                "bash .dev/services.sh start {} failed ({}): {}{}",
                dir.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        let env = String::from_utf8(out.stdout)?
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<Vec<_>>();
        if !env.iter().any(|(k, _)| k == "SIEVE_META_URL") {
            return Err("services.sh printed no SIEVE_META_URL".into());
        }
        Ok(Services { dir: dir.to_owned(), env, stop_on_drop })
    }

    /// Stops both services (their data stays).
    ///
    /// # Errors
    /// `services.sh stop` failed.
    pub fn stop(&self) -> Result<(), Error> {
        run_script(&["stop"], &self.dir)
    }

    /// Stops one service: `postgres` or `garage`.
    ///
    /// # Errors
    /// `services.sh stop` failed.
    pub fn stop_one(&self, which: &str) -> Result<(), Error> {
        run_script(&["stop", which], &self.dir)
    }

    /// Starts them again after [`Services::stop`] (same ports, same data).
    ///
    /// # Errors
    /// `services.sh start` failed.
    pub fn restart(&self) -> Result<(), Error> {
        run_script(&["start"], &self.dir)
    }

    fn var(&self, name: &str) -> Result<&str, Error> {
        self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).ok_or_else(|| format!("no {name}").into())
    }

    /// A new, empty database and bucket prefix named after `test`.
    ///
    /// # Errors
    /// The database cannot be created.
    pub fn store(&self, test: &str) -> Result<Store, Error> {
        let base = self.var("SIEVE_META_URL")?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("t_{}_{}_{n}", test.replace(|c: char| !c.is_ascii_alphanumeric(), "_"), std::process::id());
        let (server, _) = base.rsplit_once('/').ok_or("a database URL without a database")?;
        psql(&format!("{server}/postgres"), &format!("CREATE DATABASE {name}"))?;
        let meta_url = format!("{server}/{name}");
        let blob_root = self.var("SIEVE_BLOB_URL")?;
        let blob_url = format!("{}/{name}", blob_root.trim_end_matches('/'));
        let mut env: Vec<(String, String)> = self.env.iter().filter(|(k, _)| k.starts_with("AWS_")).cloned().collect();
        env.push(("SIEVE_META_URL".into(), meta_url.clone()));
        env.push(("SIEVE_BLOB_URL".into(), blob_url.clone()));
        Ok(Store { env, meta_url, blob_url })
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        if self.stop_on_drop {
            let _ = self.stop();
        }
    }
}

fn run_script(args: &[&str], dir: &Path) -> Result<(), Error> {
    let out = Command::new("bash")
        .arg(workspace_root().join(".dev/services.sh"))
        .arg(args[0])
        .arg(dir)
        .args(&args[1..])
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("services.sh {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr)).into())
    }
}

/// The `psql` of Debian's newest PostgreSQL (or the one on `PATH`).
fn psql_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path().join("bin/psql"))).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs.pop().unwrap_or_else(|| PathBuf::from("psql"))
}

/// Runs one SQL statement against `url` with `psql` (a second client, not the server's).
///
/// # Errors
/// `psql` fails; the message has its output.
pub fn psql(url: &str, sql: &str) -> Result<String, Error> {
    let out = Command::new(psql_bin()).args(["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", url, "-c", sql]).output()?;
    if !out.status.success() {
        return Err(format!("psql `{sql}`: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}
