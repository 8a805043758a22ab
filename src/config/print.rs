//! `check-config --print`: the effective configuration (defaults, file,
//! `FEEDGATE_*` variables and flags applied) as TOML that `serve` would
//! read back, every key written out, with each secret replaced by
//! [`REDACTED`]: credentials' `token_sha256` and `password_sha256`, an
//! upstream's header values and the values of its URL's query and
//! password, and the password of the `store` URL (in its user info or a
//! `password` parameter). The WebSub hub keeps no secret in the config (a
//! subscriber's `hub.secret` is stored with its subscription).

use super::{Config, FeedConfig};
use std::time::Duration;
use toml::{Table, Value};

/// What a secret is printed as.
pub const REDACTED: &str = "REDACTED";

/// The configuration as TOML, secrets redacted.
pub fn effective_toml(c: &Config) -> String {
    let mut t = Table::new();
    put(&mut t, "listen", c.listen.to_string());
    put(&mut t, "data_dir", c.data_dir.display().to_string());
    if let Some(url) = &c.store {
        put(&mut t, "store", redact_url(url, |name| name == "password"));
    }
    if let Some(url) = &c.base_url {
        put(&mut t, "base_url", url.clone());
    }
    put(&mut t, "log_format", c.log_format.as_str());
    put(&mut t, "access_log", c.access_log);
    for (key, n) in [
        ("default_limit", c.default_limit),
        ("max_limit", c.max_limit),
        ("max_page_bytes", c.max_page_bytes),
        ("max_second_entries", c.max_second_entries),
        ("max_second_bytes", c.max_second_bytes),
        ("max_body_bytes", c.max_body_bytes),
        ("page_cache_bytes", c.page_cache_bytes),
        ("store_cache_bytes", c.store_cache_bytes),
        ("max_connections", c.max_connections),
        ("ingest_memory_bytes", c.ingest_memory_bytes),
        ("max_waiting", c.max_waiting),
        ("content_downloads", c.content_downloads),
    ] {
        put(&mut t, key, count(n));
    }
    for (key, d) in [
        ("header_read_timeout", c.header_read_timeout),
        ("body_read_timeout", c.body_read_timeout),
        ("shutdown_grace", c.shutdown_grace),
        ("max_wait", c.max_wait),
        ("sse_heartbeat", c.sse_heartbeat),
        ("sse_retry", c.sse_retry),
        ("sse_lifetime", c.sse_lifetime),
    ] {
        put(&mut t, key, duration(d));
    }
    let w = &c.websub;
    let mut websub = Table::new();
    put(&mut websub, "allow", strings(&w.allow));
    for (key, d) in [
        ("lease", w.lease),
        ("max_lease", w.max_lease),
        ("retry_min", w.retry_min),
        ("retry_max", w.retry_max),
        ("timeout", w.timeout),
    ] {
        put(&mut websub, key, duration(d));
    }
    put(&mut websub, "max_subscriptions", count(w.max_subscriptions));
    put(&mut t, "websub", websub);
    let mut creds = Table::new();
    for (name, cred) in &c.credentials {
        let mut ct = Table::new();
        for (key, secret) in [
            ("token_sha256", &cred.token_sha256),
            ("password_sha256", &cred.password_sha256),
        ] {
            if secret.is_some() {
                put(&mut ct, key, REDACTED);
            }
        }
        let roles: Table = cred
            .roles
            .iter()
            .map(|(feed, role)| (feed.clone(), Value::from(role.as_str())))
            .collect();
        put(&mut ct, "roles", roles);
        put(&mut creds, name, ct);
    }
    put(&mut t, "credentials", creds);
    let feeds: Table = c
        .feeds
        .iter()
        .map(|(name, f)| (name.clone(), Value::Table(feed(f))))
        .collect();
    put(&mut t, "feeds", feeds);
    t.to_string()
}

fn feed(f: &FeedConfig) -> Table {
    let mut t = Table::new();
    for (key, v) in [
        ("title", &f.title),
        ("link", &f.link),
        ("description", &f.description),
    ] {
        if let Some(v) = v {
            put(&mut t, key, v.clone());
        }
    }
    if let Some(seed) = &f.seed {
        put(&mut t, "seed", seed.display().to_string());
    }
    put(&mut t, "im_feed", f.im_feed);
    let r = &f.retention;
    let mut rt = Table::new();
    if let Some(d) = r.compact_after {
        put(&mut rt, "compact_after", duration(d));
    }
    if let Some(n) = r.keep_latest {
        put(&mut rt, "keep_latest", count(n));
    }
    if let Some(d) = r.tombstones {
        put(&mut rt, "tombstones", duration(d));
    }
    put(&mut rt, "interval", duration(r.interval));
    put(&mut t, "retention", rt);
    let m = &f.content;
    let mut ct = Table::new();
    put(&mut ct, "mirror", m.mirror);
    put(&mut ct, "allow", strings(&m.allow));
    put(&mut ct, "max_bytes", count(m.max_bytes));
    put(&mut ct, "max_total_bytes", count(m.max_total_bytes));
    put(&mut ct, "concurrency", count(m.concurrency));
    put(&mut ct, "timeout", duration(m.timeout));
    put(&mut ct, "retry_min", duration(m.retry_min));
    put(&mut ct, "retry_max", duration(m.retry_max));
    put(&mut ct, "attempts", i64::from(m.attempts));
    put(&mut t, "content", ct);
    if let Some(u) = &f.upstream {
        let mut ut = Table::new();
        put(&mut ut, "url", redact_url(&u.url, |_| true));
        put(&mut ut, "format", u.format.as_str());
        put(&mut ut, "refresh", duration(u.refresh));
        put(&mut ut, "wait", duration(u.wait));
        if let Some(d) = u.interval {
            put(&mut ut, "interval", duration(d));
        }
        put(&mut ut, "timeout", duration(u.timeout));
        put(&mut ut, "connect_timeout", duration(u.connect_timeout));
        put(&mut ut, "max_bytes", count(u.max_bytes));
        put(&mut ut, "max_redirects", count(u.max_redirects));
        put(&mut ut, "max_delete_ratio", u.max_delete_ratio);
        put(&mut ut, "max_pages", count(u.max_pages));
        let headers: Table = u
            .headers
            .0
            .keys()
            .map(|name| (name.clone(), Value::from(REDACTED)))
            .collect();
        put(&mut ut, "headers", headers);
        for (key, v) in [("items_key", &u.items_key), ("id_field", &u.id_field)] {
            if let Some(v) = v {
                put(&mut ut, key, v.clone());
            }
        }
        let fields: Table = u
            .fields
            .pairs()
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::from(v)))
            .collect();
        put(&mut ut, "fields", fields);
        put(&mut t, "upstream", ut);
    }
    t
}

fn put(t: &mut Table, key: &str, value: impl Into<Value>) {
    t.insert(key.to_string(), value.into());
}

/// A count as TOML has them (64-bit signed; larger is clamped).
fn count<N: TryInto<i64>>(n: N) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

fn strings(list: &[String]) -> Value {
    Value::Array(list.iter().map(|s| Value::from(s.as_str())).collect())
}

/// A duration as the config writes it, in the largest whole unit.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 != 0 {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    match s {
        0 => "0s".to_string(),
        _ if s % 86_400 == 0 => format!("{}d", s / 86_400),
        _ if s % 3600 == 0 => format!("{}h", s / 3600),
        _ if s % 60 == 0 => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

/// `url` with the password of its user info and the value of each query
/// parameter `secret` names replaced by [`REDACTED`].
pub fn redact_url(url: &str, secret: impl Fn(&str) -> bool) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(end);
            let authority = match authority.rsplit_once('@') {
                Some((user, host)) => match user.split_once(':') {
                    Some((name, _)) => format!("{name}:{REDACTED}@{host}"),
                    None => format!("{user}@{host}"),
                },
                None => authority.to_string(),
            };
            format!("{scheme}://{authority}{path}")
        }
        None => head.to_string(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((name, _)) if secret(name) => format!("{name}={REDACTED}"),
                _ => kv.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_secrets() {
        let pg = |name: &str| name == "password";
        assert_eq!(
            redact_url("postgres://feedgate:s3cret@db:5432/feeds", pg),
            "postgres://feedgate:REDACTED@db:5432/feeds"
        );
        assert_eq!(
            redact_url(
                "postgres://db/feeds?user=f&password=s3cret&sslmode=require",
                pg
            ),
            "postgres://db/feeds?user=f&password=REDACTED&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://u@h1:5432,h2:5433/feeds", pg),
            "postgres://u@h1:5432,h2:5433/feeds"
        );
        assert_eq!(
            redact_url("https://u:pw@example.org/i.json?key=abc&page", |_| true),
            "https://u:REDACTED@example.org/i.json?key=REDACTED&page"
        );
    }

    #[test]
    fn durations_in_the_largest_whole_unit() {
        for (d, s) in [
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_secs(0), "0s"),
            (Duration::from_secs(45), "45s"),
            (Duration::from_secs(120), "2m"),
            (Duration::from_secs(7200), "2h"),
            (Duration::from_secs(864_000), "10d"),
        ] {
            assert_eq!(duration(d), s);
            assert_eq!(crate::setting::parse_duration(s), Some(d));
        }
    }

    /// Every secret is redacted, and what is printed reads back as the
    /// same configuration (printed again, it is the same text).
    #[test]
    fn the_print_reads_back_and_holds_no_secret() {
        let toml = r#"
            store = "postgres://feedgate:pg-secret@db.example/feeds"
            base_url = "https://feeds.example.org"
            sse_retry = "1500ms"
            [websub]
            allow = ["https://hooks.example.org"]
            [credentials.ci]
            token_sha256 = "1111111111111111111111111111111111111111111111111111111111111111"
            roles = { "*" = "admin" }
            [credentials.reader]
            password_sha256 = "2222222222222222222222222222222222222222222222222222222222222222"
            roles = { news = "read" }
            [feeds.news]
            title = "News"
            [feeds.news.retention]
            compact_after = "7d"
            keep_latest = 10
            [feeds.mirror.upstream]
            url = "https://bot:up-secret@origin.example/items.json?api_key=key-secret"
            format = "json"
            headers = { Authorization = "Bearer header-secret" }
            interval = "5m"
        "#;
        let config = Config::from_toml(toml).unwrap();
        let printed = effective_toml(&config);
        for secret in [
            "pg-secret",
            "1111",
            "2222",
            "up-secret",
            "key-secret",
            "header-secret",
        ] {
            assert!(!printed.contains(secret), "{secret} in:\n{printed}");
        }
        for shown in [
            "store = \"postgres://feedgate:REDACTED@db.example/feeds\"",
            "token_sha256 = \"REDACTED\"",
            "password_sha256 = \"REDACTED\"",
            "Authorization = \"REDACTED\"",
            "url = \"https://bot:REDACTED@origin.example/items.json?api_key=REDACTED\"",
            "sse_retry = \"1500ms\"",
            "compact_after = \"7d\"",
            "interval = \"5m\"",
            "[feeds.news]",
        ] {
            assert!(printed.contains(shown), "{shown} not in:\n{printed}");
        }
        let again = Config::from_toml(&printed).unwrap_or_else(|e| panic!("{e}:\n{printed}"));
        assert_eq!(effective_toml(&again), printed);
    }

    /// Every key a file may hold at the top is printed (serde lists them
    /// when it meets an unknown one).
    #[test]
    fn every_top_level_key_is_printed() {
        let e = Config::from_toml("no_such_key = 1").unwrap_err();
        let expected = e.split("expected one of").nth(1).unwrap_or_default();
        let keys: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let printed = effective_toml(&Config {
            store: Some("postgres://db/x".into()),
            base_url: Some("http://x".into()),
            ..Config::default()
        });
        let table: Table = printed.parse().unwrap();
        for k in keys {
            assert!(table.contains_key(k), "{k} not printed:\n{printed}");
        }
    }
}
