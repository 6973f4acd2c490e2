//! Router tests without a socket: `tower::ServiceExt::oneshot` on [`crate::router`].

use std::path::Path;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use crate::{AppState, Config, REQUEST_ID_HEADER, router};

const INDEX: &str = "<!doctype html><html><head><title>Sieve test index</title></head><body>app</body></html>\n";

fn dist() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, bytes).expect("write fixture");
    };
    write("index.html", INDEX.as_bytes());
    write("assets/app.js", b"console.log('plain');\n");
    write("assets/app.js.br", b"not really brotli, but served as the br variant");
    dir
}

fn app(dist: &Path) -> axum::Router {
    router(AppState::open(Config::new(dist.join("data"), dist)).expect("open state"))
}

async fn send(dist: &Path, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let res = app(dist).oneshot(req).await.expect("router is infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.expect("body").to_bytes().to_vec();
    (status, headers, body)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("JSON body")
}

#[tokio::test]
async fn health_reports_ok_and_version() {
    let d = dist();
    let (status, headers, body) = send(d.path(), get("/api/v1/health")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(
        json(&body),
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
    assert!(headers.contains_key(REQUEST_ID_HEADER), "every response has a request id");
}

#[tokio::test]
async fn incoming_request_id_is_echoed() {
    let d = dist();
    let req = Request::get("/api/v1/health").header(REQUEST_ID_HEADER, "abc-123").body(Body::empty()).expect("request");
    let (_, headers, _) = send(d.path(), req).await;
    assert_eq!(headers[REQUEST_ID_HEADER], "abc-123");
}

#[tokio::test]
async fn unknown_api_paths_are_json_404() {
    let d = dist();
    for uri in ["/api/v1/nope", "/api/nope", "/api", "/api/v1/health/extra"] {
        let (status, headers, body) = send(d.path(), get(uri)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{uri}");
        let v = json(&body);
        assert_eq!(v["error"], "not_found", "{uri}");
        assert!(v["message"].as_str().is_some_and(|m| m.contains(uri)), "{uri}: {v}");
    }
}

#[tokio::test]
async fn wrong_method_is_json_405() {
    let d = dist();
    let req = Request::builder().method(Method::POST).uri("/api/v1/health").body(Body::empty()).expect("request");
    let (status, _, body) = send(d.path(), req).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(json(&body)["error"], "method_not_allowed");
}

#[tokio::test]
async fn spa_routes_get_index_html() {
    let d = dist();
    for uri in ["/", "/segments/x", "/segments/x/trend?ds=2026-11-20", "/apix"] {
        let (status, headers, body) = send(d.path(), get(uri)).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(headers[header::CONTENT_TYPE].to_str().is_ok_and(|t| t.starts_with("text/html")), "{uri}");
        assert_eq!(body, INDEX.as_bytes(), "{uri}");
    }
}

#[tokio::test]
async fn assets_are_served_and_precompressed_variants_preferred() {
    let d = dist();
    let (status, _, body) = send(d.path(), get("/assets/app.js")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"console.log('plain');\n");

    let req =
        Request::get("/assets/app.js").header(header::ACCEPT_ENCODING, "br").body(Body::empty()).expect("request");
    let (status, headers, body) = send(d.path(), req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_ENCODING], "br");
    assert_eq!(body, b"not really brotli, but served as the br variant");
}

#[tokio::test]
async fn responses_are_compressed_when_asked() {
    let d = dist();
    let req = Request::get("/segments/x").header(header::ACCEPT_ENCODING, "gzip").body(Body::empty()).expect("request");
    let (status, headers, _) = send(d.path(), req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
}

/// Every route but the two public ones takes a token: a route added without the `Auth`
/// extractor fails here (without a token it would not answer 401).
#[tokio::test]
async fn every_api_route_but_health_and_openapi_needs_a_token() {
    let d = dist();
    let app = app(d.path());
    for route in crate::routes::table() {
        let path = format!("/api{}", route.path)
            .replace("{app}", "a")
            .replace("{ds}", "2026-11-20")
            .replace("{hash}", &"0".repeat(64))
            .replace("{user_id}", "u")
            .replace(['{', '}'], "");
        let req = Request::builder().method(route.method.as_str()).uri(&path).body(Body::empty()).expect("request");
        let res = app.clone().oneshot(req).await.expect("router is infallible");
        let public = matches!(route.path, "/v1/health" | "/v1/openapi.json");
        let expected = if public { StatusCode::OK } else { StatusCode::UNAUTHORIZED };
        assert_eq!(res.status(), expected, "{} {}", route.method.as_str(), route.path);
    }
}

#[tokio::test]
async fn oversized_json_is_413_before_reading() {
    let d = dist();
    let mut config = Config::new(d.path().join("data"), d.path());
    config.json_limit_bytes = 16;
    let app = router(AppState::open(config).expect("open state"));
    let req = Request::post("/api/v1/apps")
        .header(header::CONTENT_LENGTH, "17")
        .body(Body::from("x".repeat(17)))
        .expect("request");
    let res = app.oneshot(req).await.expect("router is infallible");
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body = res.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(json(&body)["error"], "payload_too_large");
}
