use super::*;
use crate::model::{Action, Entry};
use crate::protocol::{Page, Plan};
use crate::render::Format;

fn line<'a>(text: &'a str, series: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .map(|l| &l[series.len() + 1..])
}

#[test]
fn reads_count_by_format_and_outcome_with_page_sizes() {
    let m = Metrics::new(["news", "other"]);
    let entry = |seq| Entry {
        seq,
        id: format!("i{seq}"),
        action: Action::Add,
        stamp: 1000,
        payload: None,
    };
    let page = Plan::Page(Page {
        after: 0,
        last: 3,
        last_stamp: Some(1000),
        last_modified: 1,
        more: false,
        entries: vec![entry(1), entry(2), entry(3)],
    });
    let Some(news) = m.feed_reads("news") else {
        panic!("news has read series")
    };
    news.plan(Format::Atom, &page);
    news.plan(
        Format::Rss,
        &Plan::NotModified {
            position: 3,
            last_modified: 0,
        },
    );
    // A clone counts into the same series.
    news.clone().plan(
        Format::Rss,
        &Plan::NotModified {
            position: 3,
            last_modified: 0,
        },
    );
    assert!(m.feed_reads("nope").is_none());
    // Detached series count nowhere /metrics shows.
    FeedReads::detached().plan(
        Format::Rss,
        &Plan::NotModified {
            position: 3,
            last_modified: 0,
        },
    );
    m.request("feed", 304);
    m.request("feed", 304);
    m.request("unknown", 404);
    let text = m.render(Some(4096), []);
    let r = |f: &str, o: &str| {
        line(
            &text,
            &format!("feedgate_feed_reads_total{{feed=\"news\",format=\"{f}\",outcome=\"{o}\"}}"),
        )
    };
    assert_eq!(r("rss", "not_modified"), Some("2"));
    assert_eq!(r("atom", "page"), Some("1"));
    assert_eq!(r("rss", "page"), Some("0"));
    assert_eq!(
        line(
            &text,
            "feedgate_feed_page_entries_bucket{feed=\"news\",le=\"2\"}"
        ),
        Some("0")
    );
    assert_eq!(
        line(
            &text,
            "feedgate_feed_page_entries_bucket{feed=\"news\",le=\"5\"}"
        ),
        Some("1")
    );
    assert_eq!(
        line(&text, "feedgate_feed_page_entries_sum{feed=\"news\"}"),
        Some("3.0")
    );
    assert_eq!(
        line(
            &text,
            "feedgate_http_requests_total{route=\"feed\",status=\"304\"}"
        ),
        Some("2")
    );
    assert_eq!(
        line(
            &text,
            "feedgate_http_requests_total{route=\"unknown\",status=\"404\"}"
        ),
        Some("1")
    );
    assert_eq!(line(&text, "feedgate_store_size_bytes"), Some("4096"));
    assert!(!text.contains("nope"), "{text}");
}

#[test]
fn scrape_time_series_are_replaced_at_each_scrape() {
    let m = Metrics::new(["news"]);
    let lag = |consumer, transactions, seconds| ConsumerLag {
        feed: "news",
        consumer,
        transactions,
        seconds,
    };
    let text = m.render(None, [lag("a", 3, 1.5), lag("b", 0, 0.0)]);
    assert_eq!(
        line(
            &text,
            "feedgate_consumer_lag_transactions{feed=\"news\",consumer=\"a\"}"
        ),
        Some("3")
    );
    assert_eq!(
        line(
            &text,
            "feedgate_consumer_lag_seconds{feed=\"news\",consumer=\"a\"}"
        ),
        Some("1.5")
    );
    assert_eq!(line(&text, "feedgate_consumers{feed=\"news\"}"), Some("2"));
    // Client-chosen names are escaped as label values.
    let text = m.render(None, [lag("b", 7, 2.0), lag("q\"\\", 1, 0.5)]);
    assert!(!text.contains("consumer=\"a\""), "{text}");
    assert_eq!(line(&text, "feedgate_consumers{feed=\"news\"}"), Some("2"));
    assert_eq!(
        line(
            &text,
            r#"feedgate_consumer_lag_transactions{feed="news",consumer="q\"\\"}"#
        ),
        Some("1")
    );
    m.record_sync("news", "updated");
    m.record_sync("news", "updated");
    let text = m.render(None, []);
    assert_eq!(line(&text, "feedgate_consumers{feed=\"news\"}"), Some("0"));
    assert_eq!(
        line(
            &text,
            "feedgate_upstream_syncs_total{feed=\"news\",outcome=\"updated\"}"
        ),
        Some("2")
    );
}
