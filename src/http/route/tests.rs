//! The path shapes and the routing table.

use super::*;

const METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::OPTIONS,
];

/// One route of each variant, in declaration order
/// (`every_variant_has_a_sample` keeps it so).
pub(super) fn every_route() -> Vec<Route<'static>> {
    vec![
        Route::Status,
        Route::OpenApi,
        Route::Healthz,
        Route::Readyz,
        Route::Metrics,
        Route::Feeds,
        Route::Feed("news", None),
        Route::Items("news"),
        Route::Item("news", Cow::Borrowed("a")),
        Route::Consumers("news"),
        Route::Hub,
        Route::Content("ab"),
    ]
}

#[test]
fn every_variant_has_a_sample() {
    // Exhaustive on purpose (no `_` arm): a new variant does not compile
    // here until it gets the next place, and `LAST` with it; then this
    // fails until `every_route` has a sample of it.
    const LAST: usize = 11;
    let place = |route: &Route<'_>| match route {
        Route::Status => 0,
        Route::OpenApi => 1,
        Route::Healthz => 2,
        Route::Readyz => 3,
        Route::Metrics => 4,
        Route::Feeds => 5,
        Route::Feed(..) => 6,
        Route::Items(_) => 7,
        Route::Item(..) => 8,
        Route::Consumers(_) => 9,
        Route::Hub => 10,
        Route::Content(_) => 11,
    };
    let places: Vec<usize> = every_route().iter().map(place).collect();
    assert_eq!(places, (0..=LAST).collect::<Vec<_>>());
}

fn route(i: usize) -> Route<'static> {
    every_route().swap_remove(i)
}

#[test]
fn allow_lists_exactly_the_methods_with_a_handler() {
    for i in 0..every_route().len() {
        for method in &METHODS {
            let (target, handler) = route(i).target(method);
            let handled = !matches!(handler, Handler::Now(Now::NotAllowed));
            let listed = target.allow.split(", ").any(|m| m == method.as_str());
            assert_eq!(handled, listed, "{} {method}", target.label);
            assert_eq!(
                matches!(handler, Handler::Now(Now::Options)),
                method == Method::OPTIONS
            );
        }
    }
}

#[test]
fn whatever_touches_the_store_waits() {
    let waits = |route: Route<'static>, method: &Method| {
        matches!(route.target(method).1, Handler::Later(_))
    };
    let item = || Route::Item("news", Cow::Borrowed("a"));
    assert!(waits(Route::Items("news"), &Method::POST));
    for method in [Method::GET, Method::HEAD, Method::PUT, Method::DELETE] {
        assert!(waits(item(), &method));
    }
    for method in [Method::GET, Method::HEAD] {
        assert!(waits(Route::Feed("news", None), &method));
        assert!(waits(Route::Readyz, &method));
        assert!(waits(Route::Metrics, &method));
        assert!(waits(Route::Consumers("news"), &method));
        // The feed list and the liveness probe read no store.
        assert!(!waits(Route::Feeds, &method));
        assert!(!waits(Route::Healthz, &method));
    }
    // Refusals and OPTIONS are answered at once, whatever the route.
    assert!(!waits(Route::Items("news"), &Method::GET));
    assert!(!waits(item(), &Method::OPTIONS));
    assert!(!waits(item(), &Method::PATCH));
    for i in 0..every_route().len() {
        for method in [Method::OPTIONS, Method::PATCH] {
            assert!(!waits(route(i), &method), "{} {method}", route(i).label());
        }
    }
}

#[test]
fn access_by_route_and_method() {
    let access = |route: Route<'static>, method: Method| route.target(&method).0.access;
    let item = || Route::Item("news", Cow::Borrowed("a"));
    let news = Some("news");
    assert_eq!(access(Route::Healthz, Method::POST), Access::Open);
    assert_eq!(access(Route::Metrics, Method::GET), Access::AdminOfAll);
    assert_eq!(
        access(Route::Feeds, Method::GET),
        Access::Needs(None, Role::Read)
    );
    assert_eq!(
        access(Route::Feed("news", None), Method::POST),
        Access::Needs(news, Role::Read)
    );
    assert_eq!(
        access(Route::Consumers("news"), Method::GET),
        Access::Needs(news, Role::Admin)
    );
    assert_eq!(
        access(item(), Method::HEAD),
        Access::Needs(news, Role::Read)
    );
    assert_eq!(
        access(item(), Method::DELETE),
        Access::Needs(news, Role::Write)
    );
    // A method the route does not take needs its highest role first.
    assert_eq!(
        access(item(), Method::PATCH),
        Access::Needs(news, Role::Write)
    );
    assert_eq!(
        access(Route::Items("news"), Method::GET),
        Access::Needs(news, Role::Write)
    );
    for i in 0..every_route().len() {
        assert_eq!(access(route(i), Method::OPTIONS), Access::Open);
    }
}

#[test]
fn routes() {
    assert!(matches!(
        parse_route("/feeds/news"),
        Ok(Route::Feed("news", None))
    ));
    assert!(matches!(
        parse_route("/feeds/news.atom"),
        Ok(Route::Feed("news", Some(Format::Atom)))
    ));
    assert!(matches!(
        parse_route("/feeds/news.rss"),
        Ok(Route::Feed("news", Some(Format::Rss)))
    ));
    assert!(matches!(
        parse_route("/feeds/news/items"),
        Ok(Route::Items("news"))
    ));
    assert!(matches!(
        parse_route("/feeds/a.b.atom"),
        Ok(Route::Feed("a.b", Some(Format::Atom)))
    ));
    assert!(matches!(
        parse_route("/feeds/.atom"),
        Ok(Route::Feed("", Some(Format::Atom)))
    ));
    assert!(matches!(parse_route("/feeds"), Ok(Route::Feeds)));
    assert!(matches!(parse_route("/"), Ok(Route::Status)));
    assert!(matches!(parse_route("/openapi.json"), Ok(Route::OpenApi)));
    assert!(matches!(parse_route("/websub"), Ok(Route::Hub)));
    assert!(matches!(parse_route("/metrics"), Ok(Route::Metrics)));
    assert!(matches!(
        parse_route("/feeds/news/consumers"),
        Ok(Route::Consumers("news"))
    ));
    match parse_route("/feeds/news/items/a%2Fb%20c") {
        Ok(Route::Item("news", id)) => assert_eq!(id, "a/b c"),
        _ => panic!("item route"),
    }
    assert!(matches!(
        parse_route("/feeds/news/items/%FF"),
        Err(ApiError::InvalidParameter(_))
    ));
    assert!(matches!(parse_route("/"), Ok(Route::Status)));
    assert!(matches!(parse_route("/openapi.json"), Ok(Route::OpenApi)));
    assert!(matches!(
        parse_route("/content/ab"),
        Ok(Route::Content("ab"))
    ));
    for none in [
        "//",
        "/content/",
        "/content/ab/c",
        "/feeds/",
        "/feeds/news/",
        "/feeds/news/items/a/b",
        "/feeds/news/consumers/x",
        "/metrics/x",
        "/other",
    ] {
        assert!(
            matches!(parse_route(none), Err(ApiError::NotFound)),
            "{none}"
        );
    }
}
