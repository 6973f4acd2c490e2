//! `GET /api/v1/openapi.json`: the API's OpenAPI 3.1 document, written by hand
//! (`server/src/openapi.json`) and compiled into the binary.
//!
//! Why by hand rather than generated (utoipa): the document is the contract other teams read,
//! so it is written for them (descriptions, shared error responses) rather than derived from
//! handler signatures; it costs no proc-macro build time and no annotations in every handler.
//! Drift is what generation would prevent, so tests prevent it instead: the tests below check
//! the document against [`super::table`] (the list the router is built from) in both
//! directions, its path parameters and its references, and an end-to-end test calls every
//! documented operation on the real binary and checks none falls through to the 404/405
//! fallbacks.
//!
//! The document is public (no token), like `/health`: it is the same for everyone and names no
//! tenant data, and tools fetch it before they have a token.

use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("../openapi.json");

/// `GET /api/v1/openapi.json`.
pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::DOCUMENT;
    use crate::routes::table;

    fn doc() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    /// (METHOD, full path) of every documented operation.
    fn documented(doc: &Value) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, _) in item.as_object().expect("path item") {
                if METHODS.contains(&method.as_str()) {
                    out.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        out
    }

    fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
        match v["$ref"].as_str() {
            Some(r) => {
                let pointer = r.strip_prefix('#').expect("local ref");
                doc.pointer(pointer).unwrap_or_else(|| panic!("unresolved {r}"))
            }
            None => v,
        }
    }

    #[test]
    fn document_matches_the_route_table() {
        let doc = doc();
        assert_eq!(doc["openapi"], "3.1.0");
        let routed: BTreeSet<(String, String)> =
            table().iter().map(|r| (r.method.as_str().to_owned(), format!("/api{}", r.path))).collect();
        let documented = documented(&doc);
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(undocumented.is_empty(), "routes missing from openapi.json: {undocumented:?}");
        assert!(unrouted.is_empty(), "documented but not routed: {unrouted:?}");
        assert_eq!(routed.len(), table().len(), "no route is listed twice");
    }

    #[test]
    fn path_parameters_are_declared() {
        let doc = doc();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            let in_path: BTreeSet<String> = path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(str::to_owned)
                .collect();
            for (method, op) in item.as_object().expect("item") {
                let declared: BTreeSet<String> = op["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .map(|p| resolve(&doc, p))
                            .filter(|p| p["in"] == "path")
                            .map(|p| {
                                assert_eq!(p["required"], true, "{method} {path}: path parameters are required");
                                p["name"].as_str().expect("name").to_owned()
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                assert_eq!(declared, in_path, "{method} {path}");
            }
        }
    }

    #[test]
    fn operations_are_well_formed() {
        let doc = doc();
        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("item") {
                let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: operationId"));
                assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
                assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path}: responses");
                let public = op.get("security").is_some_and(|s| s.as_array().is_some_and(Vec::is_empty));
                let should_be_public = path == "/api/v1/health" || path == "/api/v1/openapi.json";
                assert_eq!(public, should_be_public, "{method} {path}: only health and openapi.json are public");
                if !public {
                    assert!(op["responses"].get("401").is_some(), "{method} {path}: documents 401");
                }
            }
        }
    }

    #[test]
    fn every_reference_resolves() {
        fn walk(doc: &Value, v: &Value) {
            match v {
                Value::Object(m) => {
                    if m.contains_key("$ref") {
                        let _ = super::tests::resolve(doc, v);
                    }
                    m.values().for_each(|x| walk(doc, x));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(doc, x)),
                _ => {}
            }
        }
        let doc = doc();
        walk(&doc, &doc);
    }
}
