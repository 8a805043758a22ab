//! The status page's HTML, from a [`Snapshot`]: pure, so it is tested
//! without a server. Every value is escaped; rows carry `data-*` attributes
//! naming what they show, for scripts and tests (the page's own script
//! swaps `<main>` as a whole).

use super::{ConsumerRow, FeedRow, Snapshot, SubscriberRow, UpstreamRow};
use crate::clock::imf_date;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt::Write;
use std::sync::OnceLock;

const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");
/// How often the script fetches the page again.
pub const REFRESH_MS: u64 = 2000;

/// `default-src 'none'`, with the inline style and script allowed by hash
/// and `fetch` to this origin only.
pub fn content_security_policy() -> String {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = |s: &str| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s));
        format!(
            "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; \
             connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
            hash(STYLE),
            hash(SCRIPT)
        )
    })
    .clone()
}

/// The whole document.
pub fn page(s: &Snapshot) -> String {
    let mut o = String::with_capacity(16 * 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <link rel=\"icon\" href=\"data:,\">\n<title>feedgate status</title>\n<style>{STYLE}</style>\n</head>\n\
         <body data-refresh=\"{REFRESH_MS}\">\n<header>\n<h1>feedgate status</h1>\n\
         <p class=\"meta\">feedgate {} · store: {} · <span id=\"live\" aria-live=\"polite\">\
         Reload the page for newer figures.</span></p>\n</header>\n<main>\n\
         <p class=\"meta\">As of <time id=\"as-of\" datetime=\"{}\">{}</time>.</p>\n",
        esc(s.version),
        esc(s.backend),
        crate::clock::rfc3339_ms(s.now_ms),
        imf_date(s.now_ms),
    );
    feeds(&mut o, s);
    consumers(&mut o, s);
    upstreams(&mut o, s);
    content(&mut o, s);
    subscribers(&mut o, s);
    let _ = write!(
        o,
        "</main>\n<footer><p>JSON: <a href=\"/feeds\">/feeds</a>, \
         <code>/feeds/{{feed}}/consumers</code>, <a href=\"/readyz\">/readyz</a>; \
         Prometheus: <a href=\"/metrics\">/metrics</a>; API: \
         <a href=\"/openapi.json\">/openapi.json</a>.</p></footer>\n\
         <script>{SCRIPT}</script>\n</body>\n</html>\n"
    );
    o
}

fn feeds(o: &mut String, s: &Snapshot) {
    o.push_str(
        "<section aria-labelledby=\"feeds\">\n<h2 id=\"feeds\">Feeds</h2>\n<table>\n<thead><tr>\
         <th scope=\"col\">Feed</th><th scope=\"col\">Kind</th><th scope=\"col\">Head</th>\
         <th scope=\"col\">Last write</th><th scope=\"col\" class=\"num\">Transactions, last minute</th>\
         <th scope=\"col\" class=\"num\">Items</th><th scope=\"col\" class=\"num\">Consumers</th></tr></thead>\n<tbody>\n",
    );
    for f in &s.feeds {
        let _ = writeln!(
            o,
            "<tr data-feed=\"{name}\"><th scope=\"row\"><a href=\"/feeds/{name}\">{name}</a>\
             <br><small>{title}</small></th><td data-label=\"Kind\" data-field=\"kind\">{kind}</td>\
             <td data-label=\"Head\" data-field=\"head\"><code>{etag}</code></td>\
             <td data-label=\"Last write\" data-field=\"last-write\">{last}</td>\
             <td data-label=\"Transactions, last minute\" data-field=\"per-minute\" class=\"num\">{pm}</td>\
             <td data-label=\"Items\" data-field=\"items\" class=\"num\">{items}</td>\
             <td data-label=\"Consumers\" data-field=\"consumers\" class=\"num\">{n}</td></tr>",
            name = esc(&f.name),
            title = esc(&f.title),
            kind = if f.upstream { "upstream" } else { "push" },
            etag = esc(&f.etag),
            last = f.last_write_ms.map_or("never".into(), |t| when(s.now_ms, t)),
            pm = f.per_minute,
            items = f.items,
            n = f.consumers.len(),
        );
    }
    o.push_str("</tbody>\n</table>\n</section>\n");
}

fn consumers(o: &mut String, s: &Snapshot) {
    o.push_str("<section aria-labelledby=\"consumers\">\n<h2 id=\"consumers\">Consumers</h2>\n");
    o.push_str(
        "<p class=\"meta\">Consumers named by their credential, <code>?consumer=</code> or \
         the <code>From</code> header; furthest behind first.</p>\n",
    );
    let mut any = false;
    for f in &s.feeds {
        if let Some(e) = &f.consumers_error {
            let _ = writeln!(
                o,
                "<h3>{}</h3>\n<p class=\"error\">The consumers cannot be read: {}</p>",
                esc(&f.name),
                esc(e)
            );
            any = true;
            continue;
        }
        if f.consumers.is_empty() {
            continue;
        }
        any = true;
        consumer_table(o, s.now_ms, f);
    }
    if !any {
        o.push_str("<p class=\"none\">No consumer has named itself yet.</p>\n");
    }
    o.push_str("</section>\n");
}

fn consumer_table(o: &mut String, now_ms: u64, f: &FeedRow) {
    let max = f
        .consumers
        .iter()
        .map(|c| c.lag_transactions)
        .max()
        .unwrap_or(0);
    let _ = write!(
        o,
        "<h3 id=\"consumers-{id}\">{name}</h3>\n<table data-feed=\"{name}\" \
         aria-labelledby=\"consumers-{id}\">\n<thead><tr><th scope=\"col\">Consumer</th>\
         <th scope=\"col\">Position</th><th scope=\"col\" class=\"num\">Behind (transactions)</th>\
         <th scope=\"col\" class=\"num\">Behind (time)</th><th scope=\"col\">Lag</th>\
         <th scope=\"col\">Last poll</th></tr></thead>\n<tbody>\n",
        id = esc(&f.name),
        name = esc(&f.name),
    );
    for c in &f.consumers {
        // Every consumer as far behind as the furthest one (when any is behind).
        let furthest = max > 0 && c.lag_transactions == max;
        consumer_row(o, now_ms, c, max, furthest);
    }
    o.push_str("</tbody>\n</table>\n");
}

fn consumer_row(o: &mut String, now_ms: u64, c: &ConsumerRow, max: u64, furthest: bool) {
    let _ = writeln!(
        o,
        "<tr data-consumer=\"{name}\"{class}><th scope=\"row\">{name}{badge}</th>\
         <td data-label=\"Position\" data-field=\"position\"><code>{pos}</code></td>\
         <td data-label=\"Behind (transactions)\" data-field=\"lag-transactions\" class=\"num\">{lt}</td>\
         <td data-label=\"Behind (time)\" data-field=\"lag-seconds\" data-seconds=\"{secs}\" class=\"num\">{lag}</td>\
         <td data-label=\"Lag\"><meter min=\"0\" max=\"{max}\" value=\"{lt}\" low=\"{low}\" \
         high=\"{high}\" optimum=\"0\" aria-label=\"{lt} of {max} transactions behind\"></meter></td>\
         <td data-label=\"Last poll\" data-field=\"last-poll\">{polled}</td></tr>",
        name = esc(&c.name),
        class = if furthest { " class=\"furthest\"" } else { "" },
        badge = if furthest {
            " <span class=\"badge\">furthest behind</span>"
        } else {
            ""
        },
        pos = esc(&c.position),
        lt = c.lag_transactions,
        secs = c.lag_ms as f64 / 1000.0,
        lag = duration(c.lag_ms),
        max = max.max(1),
        low = max.max(1) / 3,
        high = max.max(1) * 2 / 3,
        polled = when(now_ms, c.polled_ms),
    );
}

fn upstreams(o: &mut String, s: &Snapshot) {
    if s.upstreams.is_empty() {
        return;
    }
    o.push_str(
        "<section aria-labelledby=\"upstreams\">\n<h2 id=\"upstreams\">Upstream feeds</h2>\n<table>\n\
         <thead><tr><th scope=\"col\">Feed</th><th scope=\"col\">Origin</th><th scope=\"col\">State</th>\
         <th scope=\"col\">Last sync</th><th scope=\"col\">Last success</th>\
         <th scope=\"col\">Next sync</th><th scope=\"col\">Last error</th></tr></thead>\n<tbody>\n",
    );
    for u in &s.upstreams {
        upstream_row(o, s.now_ms, u);
    }
    o.push_str("</tbody>\n</table>\n</section>\n");
}

fn upstream_row(o: &mut String, now_ms: u64, u: &UpstreamRow) {
    let (class, label) = match u.state {
        "ok" => ("ok", "ok".to_string()),
        "failing" => (
            "bad",
            format!("failing ({} in a row)", u.consecutive_failures),
        ),
        other => ("", other.to_string()),
    };
    let next = match (u.scheduled, u.next_sync_ms <= now_ms) {
        (true, true) => "now".to_string(),
        (true, false) => when(now_ms, u.next_sync_ms),
        (false, true) => "on the next read".to_string(),
        (false, false) => format!("on the first read after {}", when(now_ms, u.next_sync_ms)),
    };
    let _ = writeln!(
        o,
        "<tr data-upstream=\"{feed}\" data-state=\"{state}\"><th scope=\"row\">{feed}</th>\
         <td data-label=\"Origin\"><code>{url}</code> <small>{format}</small></td>\
         <td data-label=\"State\" data-field=\"state\"><span class=\"badge {class}\">{label}</span></td>\
         <td data-label=\"Last sync\">{last}</td><td data-label=\"Last success\">{ok}</td>\
         <td data-label=\"Next sync\" data-field=\"next-sync\">{next}</td>\
         <td data-label=\"Last error\" data-field=\"last-error\" class=\"error\">{error}</td></tr>",
        feed = esc(&u.feed),
        state = esc(u.state),
        url = esc(&u.url),
        format = esc(u.format),
        last = u.last_sync_ms.map_or("never".into(), |t| when(now_ms, t)),
        ok = u.last_success_ms.map_or("never".into(), |t| when(now_ms, t)),
        error = esc(u.last_error.as_deref().unwrap_or("")),
    );
}

fn content(o: &mut String, s: &Snapshot) {
    if s.content.is_empty() {
        return;
    }
    o.push_str(
        "<section aria-labelledby=\"content\">\n<h2 id=\"content\">Mirrored content</h2>\n<table>\n\
         <thead><tr><th scope=\"col\">Feed</th><th scope=\"col\" class=\"num\">Files</th>\
         <th scope=\"col\" class=\"num\">Bytes</th><th scope=\"col\" class=\"num\">Pending</th>\
         <th scope=\"col\">Failed</th></tr></thead>\n<tbody>\n",
    );
    for (feed, st) in &s.content {
        let mut failed = String::new();
        for (url, why) in &st.failed {
            let _ = write!(failed, "<code>{}</code>: {}<br>", esc(url), esc(why));
        }
        let _ = writeln!(
            o,
            "<tr data-content=\"{feed}\" data-state=\"{state}\"><th scope=\"row\">{feed}</th>\
             <td data-label=\"Files\" data-field=\"files\" class=\"num\">{files}</td>\
             <td data-label=\"Bytes\" data-field=\"bytes\" class=\"num\">{bytes}</td>\
             <td data-label=\"Pending\" data-field=\"pending\" class=\"num\">{pending}</td>\
             <td data-label=\"Failed\" data-field=\"failed\" class=\"error\">{failed}</td></tr>",
            feed = esc(feed),
            state = if st.failed.is_empty() {
                "ok"
            } else {
                "failing"
            },
            files = st.stored_files,
            bytes = st.stored_bytes,
            pending = st.pending.len(),
        );
    }
    o.push_str("</tbody>\n</table>\n</section>\n");
}

fn subscribers(o: &mut String, s: &Snapshot) {
    if s.subscribers.is_empty() {
        return;
    }
    o.push_str(
        "<section aria-labelledby=\"subscribers\">\n<h2 id=\"subscribers\">WebSub subscribers</h2>\n\
         <table>\n<thead><tr><th scope=\"col\">Callback</th><th scope=\"col\">Feed</th>\
         <th scope=\"col\">State</th><th scope=\"col\" class=\"num\">Behind (transactions)</th>\
         <th scope=\"col\">Last delivery</th><th scope=\"col\">Lease ends</th>\
         <th scope=\"col\">Last error</th></tr></thead>\n<tbody>\n",
    );
    for sub in &s.subscribers {
        subscriber_row(o, s.now_ms, sub);
    }
    o.push_str("</tbody>\n</table>\n</section>\n");
}

fn subscriber_row(o: &mut String, now_ms: u64, s: &SubscriberRow) {
    let (class, label) = match s.state {
        "failing" => ("bad", format!("failing ({} attempts)", s.failures)),
        "delivering" => ("warn", "delivering".to_string()),
        "up_to_date" => ("ok", "up to date".to_string()),
        _ => ("", "delivered by another process".to_string()),
    };
    let _ = writeln!(
        o,
        "<tr data-subscriber=\"{cb}\" data-state=\"{state}\"><th scope=\"row\"><code>{cb}</code></th>\
         <td data-label=\"Feed\">{feed}</td>\
         <td data-label=\"State\" data-field=\"state\"><span class=\"badge {class}\">{label}</span></td>\
         <td data-label=\"Behind (transactions)\" data-field=\"lag-transactions\" class=\"num\">{lag}</td>\
         <td data-label=\"Last delivery\">{last}</td><td data-label=\"Lease ends\">{lease}</td>\
         <td data-label=\"Last error\" data-field=\"last-error\" class=\"error\">{error}</td></tr>",
        cb = esc(&s.callback),
        state = esc(s.state),
        feed = esc(&s.feed),
        lag = s.lag_transactions,
        last = s.last_delivery_ms.map_or("never".into(), |t| when(now_ms, t)),
        lease = when(now_ms, s.lease_until_ms),
        error = esc(s.last_error.as_deref().unwrap_or("")),
    );
}

/// `<time>` for `t`, with how long before or after `now` it is.
fn when(now: u64, t: u64) -> String {
    let rel = if t <= now {
        format!("{} ago", duration(now - t))
    } else {
        format!("in {}", duration(t - now))
    };
    format!(
        "<time datetime=\"{}\" title=\"{}\">{rel}</time>",
        crate::clock::rfc3339_ms(t),
        imf_date(t)
    )
}

/// A duration for people: `850 ms`, `42 s`, `3 min 5 s`, `2 h 10 min`, `3 d 4 h`.
pub fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0 => format!("{ms} ms"),
        1..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// `s` with `& < > " '` escaped: safe in text and in quoted attributes.
fn esc(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains(['&', '<', '>', '"', '\'']) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out.into()
}

#[cfg(test)]
mod tests;
