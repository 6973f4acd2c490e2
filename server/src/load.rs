//! `sieve load`: loads a directory written by `sieve demo` into a running server through the
//! same HTTP routes a user's upload goes through (create the app and its tokens, then upload
//! every tag group and event, day by day), and adds a few example segments.
//!
//! It is the demo's first-run step, and a realistic end-to-end ingest exercise. It ends when the
//! server's background jobs (the example segments' backfill over every loaded day) are done, so
//! a demo install starts with complete history, and fails if a job failed.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// What to load, and where.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Server base URL, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// The server's admin token.
    pub admin_token: String,
    /// App id to create (or reuse).
    pub app: String,
    /// App display name.
    pub name: String,
    /// The `sieve demo` output directory.
    pub dir: PathBuf,
    /// Uploads of one day sent at once (days stay in order), so the server can receive and
    /// parse one while it publishes another (BENCHMARKS.md, Ingest, has what it paid).
    pub parallel: usize,
}

/// Tokens created for the app, written to a file so the run script can print a sign-in link.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppTokens {
    /// The app.
    pub app: String,
    /// An editor token (the demo user's).
    pub editor: String,
    /// A viewer token.
    pub viewer: String,
    /// A service token (for `/user/tags` and sync).
    pub service: String,
}

/// What a load did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadSummary {
    /// Files uploaded.
    pub files: u64,
    /// Data rows uploaded.
    pub rows: u64,
    /// Days published.
    pub days: u64,
    /// Seconds spent.
    pub seconds: f64,
}

/// Why a load failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The server answered with an error.
    #[error("{what}: HTTP {status}: {body}")]
    Http {
        /// The request.
        what: String,
        /// Status code.
        status: u16,
        /// Response body.
        body: String,
    },
    /// The request did not complete.
    #[error("{what}: {source}")]
    Transport {
        /// The request.
        what: String,
        /// The cause.
        source: Box<ureq::Error>,
    },
    /// Reading the demo directory.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `groups.json` is not what `sieve demo` writes.
    #[error("groups.json: {0}")]
    Groups(String),
    /// An upload thread panicked (a bug).
    #[error("an upload thread panicked")]
    Panicked,
    /// A background job failed, or did not finish in time.
    #[error("background job: {0}")]
    Job(String),
}

/// Longest the load waits for the server's background jobs.
const JOBS_DEADLINE: Duration = Duration::from_secs(3600);

#[derive(Debug, Deserialize)]
struct GroupEntry {
    group: String,
    kind: String,
    category: String,
    #[serde(default)]
    scale: u32,
}

struct Client {
    agent: ureq::Agent,
    base: String,
}

impl Client {
    fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<ureq::SendBody<'_>>,
        what: &str,
    ) -> Result<(u16, String), LoadError> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {token}");
        let result = match (method, body) {
            ("PUT", Some(b)) => self.agent.put(&url).header("Authorization", &auth).send(b),
            ("POST", Some(b)) => {
                self.agent.post(&url).header("Authorization", &auth).header("Content-Type", "application/json").send(b)
            }
            _ => self.agent.get(&url).header("Authorization", &auth).call(),
        };
        let mut res = result.map_err(|e| LoadError::Transport { what: what.to_owned(), source: Box::new(e) })?;
        let status = res.status().as_u16();
        let text = res.body_mut().read_to_string().unwrap_or_default();
        Ok((status, text))
    }

    fn expect_ok(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<ureq::SendBody<'_>>,
        what: &str,
    ) -> Result<String, LoadError> {
        let (status, text) = self.call(method, path, token, body, what)?;
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(LoadError::Http { what: what.to_owned(), status, body: text })
        }
    }
}

fn json_body(value: &serde_json::Value) -> ureq::SendBody<'static> {
    ureq::SendBody::from_owned_reader(std::io::Cursor::new(value.to_string().into_bytes()))
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let io = |source| LoadError::Io { path: dir.to_owned(), source };
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir).map_err(io)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    out.sort();
    Ok(out)
}

/// Example segments the demo starts with, so the Segments page is not empty.
fn example_segments() -> Vec<serde_json::Value> {
    vec![
        serde_json::json!({"id": "active-women-south", "name": "Active women in the south",
            "description": "Women active in the last 7 days in Guangdong, Fujian or Hainan",
            "kind": "dynamic", "rule": {"all": [
                {"tag": "gender", "in": ["female"]},
                {"tag": "active_7d", "in": ["true"]},
                {"tag": "province", "in": ["Guangdong", "Fujian", "Hainan"]}]}}),
        serde_json::json!({"id": "lapsed-buyers", "name": "Lapsed buyers",
            "description": "Paid in the last 30 days but not in the last 7",
            "kind": "dynamic", "rule": {"all": [
                {"tag": "paid_30d", "in": ["true"]},
                {"not": {"tag": "paid_7d", "in": ["true"]}}]}}),
        serde_json::json!({"id": "ios-high-value", "name": "High-value iOS members",
            "description": "Gold or diamond members on iOS",
            "kind": "dynamic", "rule": {"all": [
                {"tag": "os", "in": ["iOS"]},
                {"tag": "member_level", "in": ["gold", "diamond"]}]}}),
    ]
}

/// Creates the app and its tokens (the app may exist already; new tokens are made either way).
pub fn create_app(opts: &LoadOptions) -> Result<AppTokens, LoadError> {
    let client = client(&opts.url);
    let body = serde_json::json!({"id": opts.app, "name": opts.name});
    let (status, text) =
        client.call("POST", "/api/v1/apps", &opts.admin_token, Some(json_body(&body)), "create app")?;
    if !(200..300).contains(&status) && status != 409 {
        return Err(LoadError::Http { what: "create app".into(), status, body: text });
    }
    let token = |role: &str| -> Result<String, LoadError> {
        let path = format!("/api/v1/apps/{}/tokens", opts.app);
        let text = client.expect_ok(
            "POST",
            &path,
            &opts.admin_token,
            Some(json_body(&serde_json::json!({"role": role}))),
            &format!("create {role} token"),
        )?;
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        v["token"].as_str().map(str::to_owned).ok_or_else(|| LoadError::Http {
            what: format!("create {role} token"),
            status: 200,
            body: text.clone(),
        })
    };
    Ok(AppTokens {
        app: opts.app.clone(),
        editor: token("editor")?,
        viewer: token("viewer")?,
        service: token("service")?,
    })
}

fn client(url: &str) -> Client {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(600)))
        .build();
    Client { agent: ureq::Agent::new_with_config(config), base: url.trim_end_matches('/').to_owned() }
}

/// Uploads every day of a `sieve demo` directory with an editor token, then adds the example
/// segments. `progress` is called after each day.
pub fn load(
    opts: &LoadOptions,
    editor: &str,
    mut progress: impl FnMut(&str, &LoadSummary),
) -> Result<LoadSummary, LoadError> {
    let started = Instant::now();
    let client = client(&opts.url);
    let groups_path = opts.dir.join("groups.json");
    let groups: Vec<GroupEntry> = serde_json::from_slice(
        &std::fs::read(&groups_path).map_err(|source| LoadError::Io { path: groups_path.clone(), source })?,
    )
    .map_err(|e| LoadError::Groups(e.to_string()))?;
    let mut summary = LoadSummary::default();
    for day_dir in read_dir_sorted(&opts.dir)?.into_iter().filter(|p| p.is_dir()) {
        let ds = day_dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let mut uploads = Vec::new();
        for (sub, is_event) in [("tags", false), ("events", true)] {
            let dir = day_dir.join(sub);
            if !dir.is_dir() {
                continue;
            }
            for file in read_dir_sorted(&dir)? {
                let Some(name) = file.file_stem().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
                let path = if is_event {
                    format!("/api/v1/apps/{}/days/{ds}/events/{name}", opts.app)
                } else {
                    let g = groups
                        .iter()
                        .find(|g| g.group == name)
                        .ok_or_else(|| LoadError::Groups(format!("{name}.csv is not listed")))?;
                    let scale = if g.kind == "numeric" { format!("&scale={}", g.scale) } else { String::new() };
                    format!(
                        "/api/v1/apps/{}/days/{ds}/tags/{name}?kind={}&category={}{scale}",
                        opts.app,
                        g.kind,
                        g.category.replace(' ', "%20")
                    )
                };
                uploads.push(Upload { path, file, what: format!("upload {ds}/{sub}/{name}") });
            }
        }
        summary.rows += upload_all(&client, editor, &uploads, opts.parallel)?;
        summary.files += uploads.len() as u64;
        summary.days += 1;
        summary.seconds = started.elapsed().as_secs_f64();
        progress(&ds, &summary);
    }
    for seg in example_segments() {
        let path = format!("/api/v1/apps/{}/segments", opts.app);
        let (status, text) = client.call("POST", &path, editor, Some(json_body(&seg)), "create example segment")?;
        if !(200..300).contains(&status) && status != 409 {
            return Err(LoadError::Http { what: "create example segment".into(), status, body: text });
        }
    }
    wait_for_jobs(&client, opts, editor)?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// One file to upload.
struct Upload {
    path: String,
    file: PathBuf,
    what: String,
}

/// Sends `uploads` on `parallel` connections at once and returns the rows the server counted;
/// the first failure stops the others from starting more.
fn upload_all(client: &Client, editor: &str, uploads: &[Upload], parallel: usize) -> Result<u64, LoadError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let send = || -> Result<u64, LoadError> {
        let mut rows = 0;
        while !failed.load(Ordering::Relaxed) {
            let Some(u) = uploads.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
            let f = File::open(&u.file).map_err(|source| LoadError::Io { path: u.file.clone(), source })?;
            let sent = client.expect_ok("PUT", &u.path, editor, Some(ureq::SendBody::from_owned_reader(f)), &u.what);
            let text = sent.inspect_err(|_| failed.store(true, Ordering::Relaxed))?;
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            rows += v["rows"].as_u64().unwrap_or(0);
        }
        Ok(rows)
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..parallel.max(1)).map(|_| scope.spawn(send)).collect();
        let mut rows = 0;
        for w in workers {
            rows += w.join().map_err(|_| LoadError::Panicked)??;
        }
        Ok(rows)
    })
}

/// Waits until every background job of the app is done (a `failed` job is an error, with its
/// last error; a retrying one is waited for).
fn wait_for_jobs(client: &Client, opts: &LoadOptions, token: &str) -> Result<(), LoadError> {
    let deadline = Instant::now() + JOBS_DEADLINE;
    let path = format!("/api/v1/apps/{}/jobs", opts.app);
    loop {
        let text = client.expect_ok("GET", &path, token, None, "read background jobs")?;
        let jobs: Vec<serde_json::Value> = serde_json::from_str(&text).map_err(|e| LoadError::Job(e.to_string()))?;
        if let Some(failed) = jobs.iter().find(|j| j["state"] == "failed") {
            return Err(LoadError::Job(format!("{} failed: {}", failed["kind"], failed["last_error"])));
        }
        if jobs.iter().all(|j| j["state"] == "done") {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(LoadError::Job(format!("not done after {} s: {text}", JOBS_DEADLINE.as_secs())));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
