//! `GET /api/v1/openapi.json`: the API's OpenAPI 3.1 document, generated with utoipa from the
//! route table ([`super::table`]: method and path of every route, each with its operation from
//! [`super::operations`]) and the wire types (crate `wire`, whose `openapi` feature derives every
//! body's schema from the same types the handlers answer and the app decodes).
//!
//! So a route cannot be served without being documented (the table carries its operation), and
//! a field cannot change in an answer without changing in the document. The prose (summaries,
//! parameter and error descriptions) is written in [`super::operations`] for the document's
//! readers, other teams. The tests below still check the document: every route both ways, path
//! parameters declared, operations well formed, every reference resolving; and an end-to-end
//! test calls every documented operation on the real binary (`tests/tests/api.rs`).
//!
//! The document is public (no token), like `/health`: it is the same for everyone and names no
//! tenant data, and tools fetch it before they have a token. It is built once, on first request.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, Parameter};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{Components, Schema};
use utoipa::openapi::{
    Content, Header, Info, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required, Response, Server, Tag,
};
use utoipa::{PartialSchema, ToSchema};

use super::{Method, table};

/// The document as served (built on first use).
pub fn json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        // Serialising plain data structures cannot fail; an empty object would still be JSON.
        document().to_pretty_json().unwrap_or_else(|_| "{}".to_owned())
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], json())
}

/// One operation of the document, with the schemas of the types it names (registered as
/// components when the document is assembled).
pub struct Op {
    builder: OperationBuilder,
    schemas: Vec<(String, RefOr<Schema>)>,
}

impl std::fmt::Debug for Op {
    // utoipa's model implements Debug only with its `debug` feature; the schema names suffice.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Op")
            .field("schemas", &self.schemas.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Reads a piece of the OpenAPI object model from its JSON form (for the hand-written prose:
/// parameters, headers and shared answers); the JSON is ours and fixed, so a mistake is a
/// panic that every test run (and the first request) shows at once.
fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> T {
    #[expect(clippy::expect_used, reason = "fixed JSON written in this module, checked by every test run")]
    serde_json::from_value(value).expect("valid OpenAPI JSON")
}

impl Op {
    /// An operation: its id, tag and one-line summary.
    pub fn new(id: &str, tag: &str, summary: &str) -> Op {
        let builder = OperationBuilder::new().operation_id(Some(id)).tag(tag).summary(Some(summary));
        Op { builder, schemas: Vec::new() }
    }

    /// A longer description.
    pub fn describe(mut self, text: &str) -> Op {
        self.builder = self.builder.description(Some(text));
        self
    }

    /// No token needed (the document's default is the bearer token).
    pub fn public(mut self) -> Op {
        self.builder = self.builder.securities(Some(Vec::new()));
        self
    }

    /// Shared parameters by their component names (`app`, `ds`, `segment`, `IfMatch`, …).
    pub fn params(mut self, names: &[&str]) -> Op {
        for name in names {
            self.builder = self.builder.parameter_ref(Ref::new(format!("#/components/parameters/{name}")));
        }
        self
    }

    /// A parameter of this operation only, in its JSON form (optional unless it says
    /// `"required": true`).
    pub fn param(mut self, mut parameter: Value) -> Op {
        if parameter.get("required").is_none() {
            parameter["required"] = json!(false);
        }
        self.builder = self.builder.parameter(from_json::<Parameter>(parameter));
        self
    }

    /// A reference to `T`'s schema, registering it (and the schemas it refers to).
    fn schema_of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        self.schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(&mut self.schemas);
        RefOr::Ref(Ref::from_schema_name(T::name()))
    }

    /// A required JSON body of type `T`.
    pub fn body<T: ToSchema>(mut self) -> Op {
        let schema = self.schema_of::<T>();
        let body = RequestBodyBuilder::new()
            .required(Some(Required::True))
            .content("application/json", Content::new(Some(schema)));
        self.builder = self.builder.request_body(Some(body.build()));
        self
    }

    /// A required plain-text body (`text/csv`), described.
    pub fn text_body(mut self, media: &str, description: &str) -> Op {
        let body = from_json(json!({
            "required": true, "description": description, "content": {media: {"schema": {"type": "string"}}}
        }));
        self.builder = self.builder.request_body(Some(body));
        self
    }

    /// A JSON answer of type `T`.
    pub fn answer<T: ToSchema>(self, status: u16, description: &str) -> Op {
        self.answer_of::<T>(status, description, false)
    }

    /// A JSON answer of type `T` with the resource's `ETag`.
    pub fn answer_with_etag<T: ToSchema>(self, status: u16, description: &str) -> Op {
        self.answer_of::<T>(status, description, true)
    }

    fn answer_of<T: ToSchema>(mut self, status: u16, description: &str, etag: bool) -> Op {
        let schema = self.schema_of::<T>();
        let mut response =
            Response::builder().description(description).content("application/json", Content::new(Some(schema)));
        if etag {
            response = response.header_ref("ETag", Ref::new("#/components/headers/ETag"));
        }
        self.builder = self.builder.response(status.to_string(), response.build());
        self
    }

    /// Any other answer, in its JSON form (a CSV, a 304, a byte range).
    pub fn answer_raw(mut self, status: u16, response: Value) -> Op {
        self.builder = self.builder.response(status.to_string(), from_json::<Response>(response));
        self
    }

    /// The shared error answers by status (see [`ERRORS`]).
    pub fn errors(mut self, statuses: &[u16]) -> Op {
        for status in statuses {
            let name = ERRORS.iter().find(|(s, _, _)| s == status).map_or("Unknown", |(_, name, _)| name);
            self.builder = self.builder.response(status.to_string(), Ref::from_response_name(name));
        }
        self
    }
}

/// The shared error answers: status, component name, description. Every error body is an
/// [`wire::ErrorBody`].
pub const ERRORS: [(u16, &str, &str); 12] = [
    (
        400,
        "BadRequest",
        "Invalid input: `bad_request`, `invalid_field` (with `field`), `invalid_rule` (with `path`), `invalid_upload` (with `line`, and `column` when one field is at fault)",
    ),
    (401, "Unauthorized", "Missing or unknown token"),
    (403, "Forbidden", "The token's role may not do this"),
    (404, "NotFound", "No such app (or another app's), or no such resource"),
    (
        409,
        "Conflict",
        "Exists already (`conflict`), or a request with this Idempotency-Key is running (`idempotency_in_progress`)",
    ),
    (
        408,
        "UploadTooSlow",
        "The upload's body stalled (no bytes for the idle timeout) or came slower than the minimum rate (`upload_too_slow`); nothing was changed",
    ),
    (412, "PreconditionFailed", "If-Match does not match the current ETag"),
    (413, "PayloadTooLarge", "Body over the route's limit"),
    (422, "IdempotencyKeyReuse", "The Idempotency-Key was used for a different request"),
    (
        429,
        "TooManyUploads",
        "This token already runs the most uploads one token may run at once (`too_many_uploads`); retry when one ends (Retry-After)",
    ),
    (
        503,
        "Overloaded",
        "Too many requests in flight (`overloaded`), storage failing (`storage_unavailable`), or the data asked for failed its integrity check and is not served (`data_corrupt`); retry (Retry-After) except after `data_corrupt`",
    ),
    (
        507,
        "InsufficientStorage",
        "The server's disk is full (`insufficient_storage`); nothing was changed, and the previous version is still served. Retry once space is freed.",
    ),
];

/// The code of each shared error answer's example.
fn example_code(name: &str) -> &'static str {
    match name {
        "BadRequest" => "bad_request",
        "Unauthorized" => "unauthorized",
        "Forbidden" => "forbidden",
        "NotFound" => "not_found",
        "Conflict" => "conflict",
        "PreconditionFailed" => "precondition_failed",
        "PayloadTooLarge" => "payload_too_large",
        "IdempotencyKeyReuse" => "idempotency_key_reuse",
        "Overloaded" => "overloaded",
        "UploadTooSlow" => "upload_too_slow",
        "TooManyUploads" => "too_many_uploads",
        _ => "insufficient_storage",
    }
}

/// Components shared by operations: parameters, the `ETag` header, error answers, the bearer
/// scheme.
fn shared(components: &mut Components) {
    let id = json!({"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"});
    let path = |name: &str, schema: &Value, description: Option<&str>| {
        let mut p = json!({"name": name, "in": "path", "required": true, "schema": schema});
        if let Some(d) = description {
            p["description"] = json!(d);
        }
        from_json::<Parameter>(p)
    };
    let date = json!({"type": "string", "format": "date"});
    for (key, parameter) in [
        ("app", path("app", &id, None)),
        ("ds", path("ds", &date, Some("Data date YYYY-MM-DD"))),
        ("group", path("group", &id, None)),
        ("event", path("event", &id, None)),
        ("segment", path("id", &id, None)),
        (
            "IfMatch",
            from_json(json!({
                "name": "If-Match", "in": "header", "required": false, "schema": {"type": "string"},
                "description": "ETag(s) the write is based on, or `*`; 412 when stale"
            })),
        ),
        (
            "IdempotencyKey",
            from_json(json!({
                "name": "Idempotency-Key", "in": "header", "required": false,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "A retry with the same key and request gets the first (2xx) response again, with `Idempotent-Replayed: true`; the same key with a different request is 422. Kept 24 h."
            })),
        ),
    ] {
        components.parameters.insert(key.to_owned(), RefOr::T(parameter));
    }
    components.headers.insert(
        "ETag".to_owned(),
        RefOr::T(from_json::<Header>(json!({
            "description": "Strong entity tag of the current revision; send it back in If-Match",
            "schema": {"type": "string"}
        }))),
    );
    for (_, name, description) in ERRORS {
        let response = from_json::<Response>(json!({
            "description": description,
            "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "example": {"error": example_code(name), "message": "…"}
            }}
        }));
        components.responses.insert(name.to_owned(), RefOr::T(response));
    }
    components.schemas.insert(wire::ErrorBody::name().into_owned(), wire::ErrorBody::schema());
    components
        .security_schemes
        .insert("bearer".to_owned(), RefOr::T(from_json(json!({"type": "http", "scheme": "bearer"}))));
}

fn http_method(m: Method) -> HttpMethod {
    match m {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
        Method::Put => HttpMethod::Put,
        Method::Delete => HttpMethod::Delete,
        Method::Patch => HttpMethod::Patch,
    }
}

/// The whole document: every route of the table with its operation, the schemas they name.
pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    let mut components = Components::new();
    shared(&mut components);
    for route in table() {
        let Op { builder, schemas } = (route.doc)();
        let mut operation: Operation = builder.build();
        let roles = route.who.names();
        let line = format!("Who may call it: {}.", roles.join(", "));
        operation.description = Some(match operation.description.take() {
            Some(d) => format!("{d}\n\n{line}"),
            None => line,
        });
        operation.extensions =
            Some(utoipa::openapi::extensions::ExtensionsBuilder::new().add("x-sieve-roles", json!(roles)).build());
        paths.add_path_operation(format!("/api{}", route.path), vec![http_method(route.method)], operation);
        components.schemas.extend(schemas);
    }
    let info: Info = from_json(json!({
        "title": "Sieve API",
        "version": env!("CARGO_PKG_VERSION"),
        "description": "Audience segmentation over roaring bitmaps. Every route except /api/v1/health and /api/v1/openapi.json needs `Authorization: Bearer <token>`: the admin token, or an app token (admin, editor, viewer, service, aggregate; each operation lists the roles it allows in `x-sieve-roles`). A token of another app gets 404, as if the app did not exist. Errors are JSON `{\"error\": code, \"message\": text}`, with `field`, `path` or `line` when the problem is in one place.",
        "license": {"name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0"}
    }));
    OpenApiBuilder::new()
        .info(info)
        .servers(Some([Server::new("/")]))
        .security(Some([from_json(json!({"bearer": []}))]))
        .tags(Some(["meta", "apps", "data", "analysis", "governance", "segments", "reach", "membership"].map(Tag::new)))
        .paths(paths)
        .components(Some(components))
        .build()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use crate::routes::table;

    fn doc() -> Value {
        serde_json::from_str(super::json()).expect("the document is JSON")
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
        assert!(undocumented.is_empty(), "routes missing from the document: {undocumented:?}");
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
                assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{method} {path}: summary");
                let responses = op["responses"].as_object().expect("responses");
                assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path}: a success answer");
                let public = op.get("security").is_some_and(|s| s.as_array().is_some_and(Vec::is_empty));
                let should_be_public = path == "/api/v1/health" || path == "/api/v1/openapi.json";
                assert_eq!(public, should_be_public, "{method} {path}: only health and openapi.json are public");
                if !public {
                    assert!(responses.contains_key("401"), "{method} {path}: documents 401");
                    assert!(responses.contains_key("400"), "{method} {path}: documents 400");
                }
                // Writes with a body say what the body is (a hold's decision and a sync's
                // pause, resume and resend have none).
                let decision =
                    ["/approve", "/reject", "/pause", "/resume", "/resend"].iter().any(|end| path.ends_with(end));
                if (method == "post" || path.ends_with("/members") || path.contains("/days/{ds}/"))
                    && method != "get"
                    && !decision
                {
                    assert!(op["requestBody"]["content"].is_object(), "{method} {path}: request body");
                }
            }
        }
    }

    #[test]
    fn every_reference_resolves_and_every_schema_is_used_or_shared() {
        fn walk(doc: &Value, v: &Value, refs: &mut BTreeSet<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                        let _ = super::tests::resolve(doc, v);
                        refs.insert(r.to_owned());
                    }
                    m.values().for_each(|x| walk(doc, x, refs));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(doc, x, refs)),
                _ => {}
            }
        }
        let doc = doc();
        let mut refs = BTreeSet::new();
        walk(&doc, &doc, &mut refs);
        for name in doc["components"]["schemas"].as_object().expect("schemas").keys() {
            assert!(refs.contains(&format!("#/components/schemas/{name}")), "schema {name} is never used");
        }
    }

    #[test]
    fn answers_and_bodies_name_their_wire_types() {
        let doc = doc();
        let op = |path: &str, method: &str| doc["paths"][path][method].clone();
        let schema_of = |v: &Value| v["content"]["application/json"]["schema"]["$ref"].as_str().map(str::to_owned);
        let create = op("/api/v1/apps/{app}/segments", "post");
        assert_eq!(schema_of(&create["requestBody"]).as_deref(), Some("#/components/schemas/SegmentInput"));
        assert_eq!(schema_of(&create["responses"]["201"]).as_deref(), Some("#/components/schemas/WriteResult"));
        let kinds = &doc["components"]["schemas"]["SegmentKind"]["enum"];
        assert_eq!(kinds, &serde_json::json!(["dynamic", "static"]));
        let view = &doc["components"]["schemas"]["ExperimentView"];
        assert!(view.to_string().contains("Balance"), "the experiment's answer carries its balance: {view}");
        // Fields always sent (as null when empty) are required, so clients can rely on the key.
        let segment: BTreeSet<&str> = doc["components"]["schemas"]["Segment"]["required"]
            .as_array()
            .expect("required")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for field in ["id", "kind", "description", "rule", "members", "version", "revision"] {
            assert!(segment.contains(field), "Segment requires `{field}`: {segment:?}");
        }
        let error = &doc["components"]["schemas"]["Error"];
        let required: BTreeSet<&str> =
            error["required"].as_array().expect("required").iter().filter_map(Value::as_str).collect();
        assert_eq!(required, BTreeSet::from(["error", "message"]));
        for field in ["field", "path", "line"] {
            assert!(error["properties"][field].is_object(), "errors document `{field}`");
        }
    }
}
