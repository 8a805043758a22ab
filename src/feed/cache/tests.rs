//! The ready-made answers' rules: when a cached page may be served, how it
//! follows the head, eviction, and the 304 header set.

use super::*;
use crate::clock::{Clock, SystemClock};
use crate::render::{render, Document, SyncMode};
use crate::store::memory::Memory;
use crate::store::{Backend, Op};
use hyper::header::{HeaderValue, CONTENT_LENGTH, ETAG};
use std::sync::Arc;

const FEED_URL: &str = "http://gw.example/feeds/news";
const T0: u64 = 1_714_564_800_250;

fn document(format: Format, head: u64, entries: &[crate::model::Entry]) -> Vec<u8> {
    render(
        format,
        &Document {
            title: "News",
            link: "",
            description: "",
            feed_url: FEED_URL,
            self_url: FEED_URL,
            next_url: None,
            hub_url: None,
            etag: "ep.3",
            last_modified: Some(T0),
            sync_mode: SyncMode::Immediate,
            head_tick: head + 1,
            head_stamp: Some(T0 + head * 1000),
            entries,
            upstream: None,
        },
    )
}

fn page(body: Vec<u8>) -> Page {
    let mut headers = HeaderMap::new();
    headers.insert(ETAG, HeaderValue::from_static("\"ep.3\""));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    Page {
        headers,
        body: Bytes::from(body),
        gzip: None,
        entries: 0,
        last: 3,
        last_stamp: Some(T0),
        last_modified: T0 / 1000,
        more: true,
    }
}

fn key(after: u64) -> PageKey {
    PageKey {
        format: Format::Rss,
        after,
        limit: 100,
        url: FEED_URL.into(),
        query_form: false,
    }
}

fn head(seq: u64) -> Published {
    Published {
        seq,
        stamp: T0 + seq * 1000,
        live: 1,
    }
}

#[test]
fn a_full_page_follows_the_head_and_equals_a_fresh_rendering() {
    let cache = FeedCache::new(1 << 20);
    for format in [Format::Rss, Format::Atom] {
        let k = PageKey { format, ..key(2) };
        cache.insert(k.clone(), page(document(format, 9, &[])), 0, 9, true);
        let hit = cache.page(&k, 0, head(9)).expect("cached");
        assert_eq!(hit.body, document(format, 9, &[]));
        for seq in [10, 11, 1_000_000] {
            let hit = cache.page(&k, 0, head(seq)).expect("still cached");
            let fresh = document(format, seq, &[]);
            assert_eq!(hit.body, fresh, "{format:?} at head {seq}");
            assert_eq!(
                hit.headers[CONTENT_LENGTH],
                fresh.len().to_string().as_str()
            );
        }
    }
    // The accounting follows the respliced bodies.
    let expected: usize = [Format::Rss, Format::Atom]
        .iter()
        .map(|f| document(*f, 1_000_000, &[]).len())
        .sum();
    assert_eq!(cache.page_bytes(), expected);
}

#[test]
fn a_full_query_form_page_is_served_as_it_is() {
    let cache = FeedCache::new(1 << 20);
    let k = PageKey {
        query_form: true,
        ..key(2)
    };
    // Its digest names its end (3), whatever the head.
    let body = document(Format::Rss, 3, &[]);
    cache.insert(k.clone(), page(body.clone()), 0, 9, true);
    for seq in [9, 10, 1_000_000] {
        assert_eq!(cache.page(&k, 0, head(seq)).expect("cached").body, body);
    }
    assert_eq!(cache.page_bytes(), body.len());
    // Not the header form's page, nor one that reached the head.
    assert!(cache.page(&key(2), 0, head(9)).is_none());
    cache.insert(k.clone(), page(body.clone()), 0, 9, false);
    assert!(cache.page(&k, 0, head(10)).is_none());
    // Compaction still invalidates it.
    cache.insert(k.clone(), page(body), 0, 9, true);
    assert!(cache.page(&k, 1, head(9)).is_none());
}

#[test]
fn a_page_that_reached_the_head_is_served_only_at_that_head() {
    let cache = FeedCache::new(1 << 20);
    cache.insert(key(2), page(document(Format::Rss, 9, &[])), 0, 9, false);
    assert!(cache.page(&key(2), 0, head(9)).is_some());
    assert!(cache.page(&key(2), 0, head(10)).is_none());
}

#[test]
fn compaction_invalidates_pages() {
    let cache = FeedCache::new(1 << 20);
    cache.insert(key(2), page(document(Format::Rss, 9, &[])), 4, 9, true);
    assert!(cache.page(&key(2), 4, head(9)).is_some());
    assert!(cache.page(&key(2), 5, head(9)).is_none());
    assert!(cache.page(&key(2), 6, head(12)).is_none());
}

#[test]
fn pages_are_keyed_by_format_position_limit_and_url() {
    let cache = FeedCache::new(1 << 20);
    cache.insert(key(2), page(document(Format::Rss, 9, &[])), 0, 9, true);
    for other in [
        PageKey {
            format: Format::Atom,
            ..key(2)
        },
        key(3),
        PageKey { limit: 5, ..key(2) },
        PageKey {
            url: "http://other.example/feeds/news".into(),
            ..key(2)
        },
        PageKey {
            query_form: true,
            ..key(2)
        },
    ] {
        assert!(cache.page(&other, 0, head(9)).is_none(), "{other:?}");
    }
}

#[test]
fn eviction_is_first_in_first_out_within_the_budget() {
    let body = document(Format::Rss, 9, &[]);
    let size = body.len();
    let cache = FeedCache::new(3 * size);
    for after in 0..3 {
        cache.insert(key(after), page(body.clone()), 0, 9, true);
    }
    assert_eq!(cache.page_bytes(), 3 * size);
    // Re-inserting a key does not count it twice.
    cache.insert(key(1), page(body.clone()), 0, 9, true);
    assert_eq!(cache.page_bytes(), 3 * size);
    cache.insert(key(3), page(body.clone()), 0, 9, true);
    assert_eq!(cache.page_bytes(), 3 * size);
    assert!(cache.page(&key(0), 0, head(9)).is_none(), "oldest evicted");
    for after in 1..4 {
        assert!(cache.page(&key(after), 0, head(9)).is_some(), "{after}");
    }
    // Many replacements leave no garbage behind in the queue.
    for _ in 0..100 {
        cache.insert(key(2), page(body.clone()), 0, 9, true);
    }
    assert!(lock(&cache.pages).order.len() <= 2 * 3 + 16);
    assert_eq!(cache.page_bytes(), 3 * size);
}

#[test]
fn no_budget_no_pages_and_oversized_or_digestless_pages_are_not_kept() {
    let body = document(Format::Rss, 9, &[]);
    let off = FeedCache::new(0);
    off.insert(key(2), page(body.clone()), 0, 9, true);
    assert!(off.page(&key(2), 0, head(9)).is_none());
    let small = FeedCache::new(body.len() - 1);
    small.insert(key(2), page(body.clone()), 0, 9, true);
    assert_eq!(small.page_bytes(), 0);
    let cache = FeedCache::new(1 << 20);
    cache.insert(key(2), page(b"<rss/>".to_vec()), 0, 9, true);
    assert!(cache.page(&key(2), 0, head(9)).is_none());
}

#[tokio::test]
async fn the_304_headers_are_built_once_per_head() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = Memory::new(&["news".to_string()], clock);
    let log = store.feed("news").unwrap();
    let log = log.as_ref();
    let put = |id: &str| Op::Put {
        id: id.to_string(),
        payload: crate::model::Payload::default(),
    };
    log.append(&[put("a")]).await.unwrap();
    let cache = FeedCache::new(0);
    let built = std::cell::Cell::new(0);
    let build = |seq: u64| {
        built.set(built.get() + 1);
        let mut h = HeaderMap::new();
        h.insert(ETAG, HeaderValue::from(seq));
        h
    };
    for _ in 0..3 {
        let h = cache.not_modified(log, 1, 7, false, || build(1));
        assert_eq!(h[ETAG], "1");
    }
    assert_eq!(built.get(), 1);
    // The head moves: the set for 1 is still right for 1.
    log.append(&[put("b")]).await.unwrap();
    assert_eq!(cache.not_modified(log, 1, 7, false, || build(1))[ETAG], "1");
    assert_eq!(built.get(), 1);
    // The new head replaces it.
    for _ in 0..2 {
        assert_eq!(cache.not_modified(log, 2, 7, false, || build(2))[ETAG], "2");
    }
    assert_eq!(built.get(), 2);
    // A position behind the head (a date cursor's): built each time, never kept.
    for _ in 0..2 {
        assert_eq!(cache.not_modified(log, 1, 7, false, || build(1))[ETAG], "1");
    }
    assert_eq!(built.get(), 4);
    assert_eq!(cache.not_modified(log, 2, 7, false, || build(2))[ETAG], "2");
    assert_eq!(built.get(), 4);
    // The head's second closes: its Last-Modified grows, the set is rebuilt once.
    for _ in 0..2 {
        assert_eq!(cache.not_modified(log, 2, 8, false, || build(2))[ETAG], "2");
    }
    assert_eq!(built.get(), 5);
    // The weak set (gzip answers) is kept beside the strong one, each built once.
    let weak = |seq: u64| {
        built.set(built.get() + 1);
        let mut h = HeaderMap::new();
        h.insert(ETAG, HeaderValue::from_str(&format!("W/{seq}")).unwrap());
        h
    };
    for _ in 0..2 {
        assert_eq!(cache.not_modified(log, 2, 8, true, || weak(2))[ETAG], "W/2");
        assert_eq!(cache.not_modified(log, 2, 8, false, || build(2))[ETAG], "2");
    }
    assert_eq!(built.get(), 6);
}

#[test]
fn a_pages_gzip_is_kept_with_it_counted_and_dropped_when_respliced() {
    let cache = FeedCache::new(1 << 20);
    let k = key(1);
    cache.insert(k.clone(), page(document(Format::Rss, 5, &[])), 0, 5, true);
    let at = head(5);
    let p = cache.page(&k, 0, at).unwrap();
    let before = cache.page_bytes();
    // Only for the body it was made from.
    cache.set_gzip(
        &k,
        &Bytes::from(p.body.to_vec()),
        Bytes::from_static(b"other"),
    );
    assert!(cache.page(&k, 0, at).unwrap().gzip.is_none());
    cache.set_gzip(&k, &p.body, Bytes::from_static(b"zz"));
    assert_eq!(
        cache.page(&k, 0, at).unwrap().gzip.as_deref(),
        Some(&b"zz"[..])
    );
    assert_eq!(cache.page_bytes(), before + 2);
    // The head moved: the digest is respliced, and the old gzip goes.
    assert!(cache.page(&k, 0, head(6)).unwrap().gzip.is_none());
    assert_eq!(
        cache.page_bytes(),
        cache.page(&k, 0, head(6)).unwrap().body.len()
    );
}
