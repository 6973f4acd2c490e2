//! The real `sieve serve` on a real socket: health, SPA fallback, JSON 404, shutdown.

use std::path::Path;
use std::time::Duration;

use sieve_tests::{Error, Http, Server, sieve, sieve_bin};

const INDEX: &str =
    "<!doctype html><html><head><title>Sieve e2e index</title></head><body><div id=app></div></body></html>\n";

/// A temporary dist directory with a known `index.html` and one asset.
fn dist() -> Result<tempfile::TempDir, Error> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("index.html"), INDEX)?;
    std::fs::create_dir_all(dir.path().join("assets"))?;
    std::fs::write(dir.path().join("assets/app.css"), "body { margin: 0 }\n")?;
    Ok(dir)
}

fn start(dist: &Path) -> Result<Server, Error> {
    Server::start(dist, &dist.join("data"), &[])
}

#[test]
fn health_is_ok_with_version() -> Result<(), Error> {
    let d = dist()?;
    let server = start(d.path())?;
    assert_ne!(server.addr.port(), 0, "the real port is printed, not 0");
    let reply = Http::default().get(&server.url("/api/v1/health"))?;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(reply.header("x-request-id").is_some_and(|id| !id.is_empty()));
    assert_eq!(
        reply.json()?,
        serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "storage": {
                "status": "ok",
                "corrupt_blob_count": 0,
                "corrupt_blobs": [],
                "damaged_record_count": 0,
                "damaged_records": [],
                "rolled_back_at_start": false
            },
            "governance": {"held_uploads": 0, "flagged_groups": 0}
        })
    );
    Ok(())
}

#[test]
fn spa_routes_serve_index_html() -> Result<(), Error> {
    let d = dist()?;
    let server = start(d.path())?;
    let http = Http::default();
    for path in ["/", "/segments/x", "/segments/x/trend?ds=2026-11-20"] {
        let reply = http.get(&server.url(path))?;
        assert_eq!(reply.status, 200, "{path}");
        assert!(reply.header("content-type").is_some_and(|t| t.starts_with("text/html")), "{path}");
        assert_eq!(reply.body, INDEX, "{path}");
    }
    let css = http.get(&server.url("/assets/app.css"))?;
    assert_eq!(css.status, 200);
    assert_eq!(css.body, "body { margin: 0 }\n");
    Ok(())
}

#[test]
fn unknown_api_path_is_json_404() -> Result<(), Error> {
    let d = dist()?;
    let server = start(d.path())?;
    let reply = Http::default().get(&server.url("/api/v1/nope"))?;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json()?;
    assert_eq!(body["error"], "not_found");
    assert!(body["message"].as_str().is_some_and(|m| m.contains("/api/v1/nope")), "{body}");
    Ok(())
}

#[test]
fn sigterm_shuts_down_gracefully_and_quickly() -> Result<(), Error> {
    let d = dist()?;
    let mut server = start(d.path())?;
    // One request first, so there is a kept-alive connection to drain.
    assert_eq!(Http::default().get(&server.url("/api/v1/health"))?.status, 200);
    let (status, took) = server.terminate(Duration::from_secs(10))?;
    assert!(status.success(), "exit status {status:?}; stderr:\n{}", server.stderr());
    assert!(took < Duration::from_secs(5), "took {took:?} to stop");
    Ok(())
}

#[test]
fn environment_configures_serve() -> Result<(), Error> {
    let d = dist()?;
    let mut cmd = sieve();
    cmd.arg("serve")
        .env("SIEVE_ADDR", "127.0.0.1:0")
        .env("SIEVE_DIST", d.path())
        .env("SIEVE_DATA_DIR", d.path().join("data"))
        .env("SIEVE_ADMIN_TOKEN", "s3cret-token")
        .env("RUST_LOG", "info");
    let mut server = Server::spawn(cmd)?;
    let reply = Http::default().get(&server.url("/segments/abc"))?;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, INDEX);
    let (status, _) = server.terminate(Duration::from_secs(10))?;
    assert!(status.success());
    let logs = server.stderr();
    assert!(logs.contains("admin_token: Some(\"<set>\")"), "token is taken from the environment:\n{logs}");
    assert!(!logs.contains("s3cret-token"), "the admin token is never logged:\n{logs}");
    assert!(logs.contains("request_id"), "requests are logged with their id:\n{logs}");
    Ok(())
}

#[test]
fn every_subcommand_has_help() -> Result<(), Error> {
    for (args, needle) in
        [(&["--help"][..], "serve"), (&["serve", "--help"][..], "SIEVE_ADDR"), (&["demo", "--help"][..], "--end-ds")]
    {
        let out = std::process::Command::new(sieve_bin()).args(args).output()?;
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(needle), "{args:?} help lacks {needle}:\n{text}");
    }
    Ok(())
}
