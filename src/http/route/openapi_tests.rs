//! The OpenAPI description (`docs/openapi.json`, served at `/openapi.json`)
//! describes exactly the routing table: the same paths (one per route, by
//! [`Route::template`]), the same methods per path (the route's `Allow`),
//! each documented path routed to the route of its template, and no
//! operation documented as open (`security: []`) that the table guards.

use super::tests::every_route;
use super::*;
use serde_json::Value;
use std::collections::BTreeSet;

const DOC: &str = include_str!("../../../docs/openapi.json");

/// The operations a path item may hold (OpenAPI 3.1 §4.8.9).
const OPERATIONS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn doc() -> Value {
    serde_json::from_str(DOC).expect("docs/openapi.json is JSON")
}

fn paths(doc: &Value) -> &serde_json::Map<String, Value> {
    doc["paths"].as_object().expect("the document has paths")
}

/// The path item of `template`.
fn path_item<'d>(doc: &'d Value, template: &str) -> &'d Value {
    paths(doc)
        .get(template)
        .unwrap_or_else(|| panic!("{template} is not in docs/openapi.json"))
}

/// The methods a path item documents, as `Allow` names them.
fn documented(item: &Value) -> BTreeSet<String> {
    OPERATIONS
        .iter()
        .filter(|op| item.get(**op).is_some())
        .map(|op| op.to_ascii_uppercase())
        .collect()
}

/// The methods the routing table gives a route (its `Allow`, as a set).
fn allowed(allow: &str) -> BTreeSet<String> {
    allow.split(", ").map(str::to_string).collect()
}

/// A request path of `template`: each `{parameter}` replaced by a sample value.
fn sample_path(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        out.push_str(before);
        let (_, after) = after.split_once('}').expect("a closed {parameter}");
        out.push_str("news");
        rest = after;
    }
    out.push_str(rest);
    out
}

#[test]
fn the_document_has_a_path_for_each_route_and_no_other() {
    let doc = doc();
    let documented: BTreeSet<&str> = paths(&doc).keys().map(String::as_str).collect();
    let routed: BTreeSet<&str> = every_route().iter().map(Route::template).collect();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routes missing from docs/openapi.json: {undocumented:?}; \
         documented paths no route has: {unrouted:?}"
    );
}

#[test]
fn each_path_documents_the_methods_of_its_allow() {
    let doc = doc();
    for route in every_route() {
        let template = route.template();
        let item = path_item(&doc, template);
        let allow = route.target(&Method::OPTIONS).0.allow;
        assert_eq!(documented(item), allowed(allow), "{template}");
        // And OPTIONS documents that very `Allow`.
        let header = &item["options"]["responses"]["204"]["headers"]["Allow"];
        assert_eq!(header["schema"]["const"], allow, "{template}: OPTIONS");
    }
}

#[test]
fn each_documented_path_routes_to_its_template() {
    let doc = doc();
    for template in paths(&doc).keys() {
        let path = sample_path(template);
        match parse_route(&path) {
            Ok(route) => assert_eq!(route.template(), template, "{path}"),
            Err(e) => panic!("{path} (of {template}) does not route: {e}"),
        }
    }
    // The suffix forms are the feed's one template (its `feed` parameter
    // may end in `.rss` / `.atom`).
    for path in ["/feeds/news.rss", "/feeds/news.atom"] {
        let route = parse_route(path).map(|r| r.template());
        assert!(matches!(route, Ok("/feeds/{feed}")), "{path}");
    }
}

#[test]
fn no_operation_is_documented_open_that_the_table_guards() {
    let doc = doc();
    for route in every_route() {
        let template = route.template();
        let item = path_item(&doc, template);
        for op in OPERATIONS.iter().filter(|op| item.get(**op).is_some()) {
            let method = Method::from_bytes(op.to_ascii_uppercase().as_bytes()).unwrap();
            let (target, _) = route_of(template).target(&method);
            let open_in_doc = item[*op]["security"].as_array().is_some_and(Vec::is_empty);
            // (The reverse need not hold: the hub's handler checks the
            // topic's `read` itself, once the body names the feed.)
            if open_in_doc {
                assert_eq!(target.access, Access::Open, "{op} {template}");
            }
        }
    }
}

/// The sample route of `template`.
fn route_of(template: &str) -> Route<'static> {
    every_route()
        .into_iter()
        .find(|r| r.template() == template)
        .expect("a sample of every template")
}

#[test]
fn sample_paths() {
    assert_eq!(
        sample_path("/feeds/{feed}/items/{id}"),
        "/feeds/news/items/news"
    );
    assert_eq!(sample_path("/healthz"), "/healthz");
}
