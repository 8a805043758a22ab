vcl 4.1;

# feedgate behind Varnish (7.x): header-mode polls go through untouched, full
# backlog pages of the query form (?etag=) are served from the cache, nothing
# else is stored. docs/deploying.md explains each rule; the interop suite
# (tests/interop/test_proxies.py) runs this very file, with only the backend's
# address changed.

backend feedgate {
    .host = "127.0.0.1";
    .port = "8080";
}

sub vcl_recv {
    # A conditional request is a header-mode poll: feedgate must see its
    # validators. On a lookup Varnish would drop If-None-Match and
    # If-Modified-Since from its fetch and answer them itself against
    # whatever it fetched (a catch-up): the poller would stall or loop.
    if (req.http.If-None-Match || req.http.If-Modified-Since) {
        return (pass);
    }
    # Preferences (Prefer: wait=N), event streams and long-polls are the
    # client's business with feedgate.
    if (req.http.Prefer || req.http.Accept ~ "text/event-stream" || req.url ~ "[?&]wait=") {
        return (pass);
    }
    # Only feed documents are ever cacheable. Items, /feeds, /healthz,
    # /readyz, /metrics, consumer reports and errors are always fetched.
    if (req.url !~ "^/feeds/[a-z0-9][a-z0-9_-]*(\.(rss|atom))?(\?.*)?$") {
        return (pass);
    }
    # A format fixed by the URL does not depend on Accept: one copy for all.
    if (req.url ~ "^/feeds/[^/?]*\.(rss|atom)(\?|$)" || req.url ~ "[?&]format=") {
        unset req.http.Accept;
    }
    # On to the built-in vcl_recv: other methods, Authorization and cookies
    # pass; the rest is looked up.
}

sub vcl_backend_fetch {
    # A fetch for the cache may not receive a 304 it did not ask for
    # (Varnish turns one into "503 Backend fetch failed": "304 response but
    # not conditional fetch"), and a query-form poll at the head is answered
    # 304. Asked this way, feedgate answers it with a page without entries
    # (no-store) instead; vcl_deliver turns that back into the 304.
    if (!bereq.uncacheable) {
        set bereq.http.Prefer = "return=representation";
    }
}

sub vcl_backend_response {
    # Store only what feedgate marks public (a full backlog page of the
    # query form: "public, max-age=31536000, immutable"). Everything else,
    # with no-store, private or no Cache-Control at all, is fetched anew
    # every time (hit-for-miss).
    if (beresp.http.Cache-Control !~ "(?i)(^|,)\s*public\s*(,|$)") {
        set beresp.uncacheable = true;
        set beresp.ttl = 120s;
        return (deliver);
    }
}

sub vcl_deliver {
    # The page feedgate made of a 304 for us: the poller gets the 304 it
    # would get from feedgate directly (same ETag, Last-Modified,
    # Cache-Control).
    if (resp.http.Preference-Applied ~ "return=representation" && !req.http.Prefer) {
        set resp.status = 304;
        unset resp.http.Preference-Applied;
        unset resp.http.Content-Type;
        set resp.http.Vary = regsub(resp.http.Vary, ",\s*Prefer$", "");
    }
    if (obj.hits > 0) {
        set resp.http.X-Cache = "hit";
    } else {
        set resp.http.X-Cache = "miss";
    }
}
