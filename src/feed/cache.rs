//! Ready-made answers for feed reads, the hot path of `http::read`. Each
//! feed ([`super::Feed`]) keeps two things in memory:
//! - **the 304 at the head**: the header set of a `304 Not Modified` at the
//!   head position (`ETag`, `Last-Modified`, `Cache-Control`, `Vary`), built
//!   once per head instead of once per poll, with the strong ETag and with
//!   the weak one of gzip answers;
//! - **rendered pages** of ETag-selected reads (a consumer at position `p`
//!   asking for what follows), body and headers, keyed by everything that
//!   makes up their bytes: format, `p`, the page limit and the URL the
//!   document names (base URL + path and query, which fix the self, next and
//!   feed links). A page is served from memory only while
//!   - the feed's compaction generation is the one it was read under
//!     ([`Log::compactions`]: compaction can remove transactions a page
//!     shows, which changes its content), and
//!   - it is *full* (it ended at the limit or byte budget, before the head,
//!     so appends cannot change its entries), or the head has not moved
//!     since it was rendered.
//!
//!   The one part of a full page that follows the head, the `sync:digest`
//!   tick and stamp, is replaced in place ([`Digest::respliced`]) when the
//!   head has moved; the respliced page replaces the cached one. A full page
//!   of the query form (no conditional request header) is immutable instead:
//!   its digest names its own end (PROTOCOL §10), so it is served as it is.
//!
//! Pages are evicted first-in first-out beyond a byte budget per feed
//! (`page_cache_bytes`; 0 turns page caching off). Date-selected reads and
//! catch-ups are never cached: their extent depends on the clock.

use crate::render::{Digest, Format};
use crate::store::{Log, Published};
use crate::sync::lock;
use bytes::Bytes;
use hyper::header::HeaderMap;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// What identifies a rendered page's bytes, apart from the head.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub format: Format,
    /// The consumer's position (the page shows what follows it).
    pub after: u64,
    pub limit: usize,
    /// The document's self URL: base URL + path and query.
    pub url: String,
    /// Selected by the `etag` query parameter, without conditional request
    /// headers: a full page is immutable (`read::caching`).
    pub query_form: bool,
}

/// A page as served: what the response and the bookkeeping need.
#[derive(Debug, Clone)]
pub struct Page {
    /// Headers of the plain `200` (no `A-IM`), `Content-Length` included.
    pub headers: HeaderMap,
    pub body: Bytes,
    /// `body` in gzip, once a client took it (`http::read::encoding`).
    pub gzip: Option<Bytes>,
    /// Entries in the page (`feedgate_feed_page_entries`).
    pub entries: usize,
    pub last: u64,
    pub last_stamp: Option<u64>,
    /// Its Last-Modified second.
    pub last_modified: u64,
    pub more: bool,
}

struct Cached {
    page: Page,
    digest: Digest,
    /// The head seq the digest shows.
    head: u64,
    generation: u64,
    /// Ended before the head: appends do not change it.
    full: bool,
    serial: u64,
}

#[derive(Default)]
struct Pages {
    map: HashMap<PageKey, Cached>,
    /// Insertion order, for eviction: (key, serial of that insertion).
    order: VecDeque<(PageKey, u64)>,
    bytes: usize,
    serial: u64,
}

/// One feed's ready-made answers.
pub struct FeedCache {
    /// The 304 headers of (position, Last-Modified second): with the
    /// strong ETag, and with the weak one gzip answers carry.
    not_modified: [Mutex<Option<(u64, u64, HeaderMap)>>; 2],
    pages: Mutex<Pages>,
    budget: usize,
}

impl FeedCache {
    pub(super) fn new(budget: usize) -> FeedCache {
        FeedCache {
            not_modified: [Mutex::new(None), Mutex::new(None)],
            pages: Mutex::new(Pages::default()),
            budget,
        }
    }

    /// The headers of a 304 at `position` with Last-Modified second
    /// `last_modified`, with the `weak` ETag or the strong one: from the
    /// ready-made set when it is for both, else built by `build` (and kept
    /// if `position` is still the head; its second only grows, when it
    /// closes).
    pub fn not_modified(
        &self,
        log: &dyn Log,
        position: u64,
        last_modified: u64,
        weak: bool,
        build: impl FnOnce() -> HeaderMap,
    ) -> HeaderMap {
        let slot = &self.not_modified[usize::from(weak)];
        if let Some((seq, lm, h)) = &*lock(slot) {
            if (*seq, *lm) == (position, last_modified) {
                return h.clone();
            }
        }
        let h = build();
        if position == log.head() {
            let mut slot = lock(slot);
            if slot
                .as_ref()
                .is_none_or(|(seq, lm, _)| (*seq, *lm) < (position, last_modified))
            {
                *slot = Some((position, last_modified, h.clone()));
            }
        }
        h
    }

    /// The cached page for `key`, if it is still exact for the feed's
    /// compaction generation `generation` and head `head` (respliced to
    /// show that head when it has moved).
    pub fn page(&self, key: &PageKey, generation: u64, head: Published) -> Option<Page> {
        if self.budget == 0 {
            return None;
        }
        let mut pages = lock(&self.pages);
        let cached = pages.map.get_mut(key)?;
        if cached.generation != generation || (!cached.full && cached.head != head.seq) {
            return None;
        }
        if cached.head != head.seq && !(cached.full && key.query_form) {
            let (body, digest) = cached
                .digest
                .respliced(&cached.page.body, head.seq, head.stamp);
            let (old_len, new_len) = (cached.page.body.len(), body.len());
            cached.page.headers.insert(
                hyper::header::CONTENT_LENGTH,
                hyper::header::HeaderValue::from(body.len()),
            );
            cached.page.body = Bytes::from(body);
            // The bytes changed: compressed again when asked.
            let dropped = cached.page.gzip.take().map_or(0, |z| z.len());
            cached.digest = digest;
            cached.head = head.seq;
            let page = cached.page.clone();
            pages.bytes = pages.bytes + new_len - old_len - dropped;
            return Some(page);
        }
        Some(cached.page.clone())
    }

    /// Keep `page`, rendered for `key` under compaction generation
    /// `generation` with the digest of head `head`. `full`: the page ended
    /// before the head it was planned at.
    pub fn insert(&self, key: PageKey, page: Page, generation: u64, head: u64, full: bool) {
        if self.budget == 0 || page.body.len() > self.budget {
            return;
        }
        let Some(digest) = Digest::locate(&page.body) else {
            return;
        };
        let size = held(&page);
        let mut pages = lock(&self.pages);
        pages.serial += 1;
        let serial = pages.serial;
        let cached = Cached {
            page,
            digest,
            head,
            generation,
            full,
            serial,
        };
        if let Some(old) = pages.map.insert(key.clone(), cached) {
            pages.bytes -= held(&old.page);
        }
        pages.bytes += size;
        pages.order.push_back((key, serial));
        while pages.bytes > self.budget {
            let Some((key, serial)) = pages.order.pop_front() else {
                break;
            };
            if pages.map.get(&key).is_some_and(|c| c.serial == serial) {
                if let Some(old) = pages.map.remove(&key) {
                    pages.bytes -= held(&old.page);
                }
            }
        }
        // Keys replaced since they were queued leave stale queue entries;
        // drop them when they pile up.
        if pages.order.len() > 2 * pages.map.len() + 16 {
            let Pages { map, order, .. } = &mut *pages;
            order.retain(|(k, s)| map.get(k).is_some_and(|c| c.serial == *s));
        }
    }

    /// Keep `gzip`, the compressed `body` of the page cached for `key`, if
    /// that page still has that body.
    pub fn set_gzip(&self, key: &PageKey, body: &Bytes, gzip: Bytes) {
        let mut pages = lock(&self.pages);
        let Some(cached) = pages.map.get_mut(key) else {
            return;
        };
        if cached.page.body.as_ptr() != body.as_ptr() || cached.page.gzip.is_some() {
            return;
        }
        let len = gzip.len();
        cached.page.gzip = Some(gzip);
        pages.bytes += len;
    }

    /// Bytes of pages held (tests, metrics).
    pub fn page_bytes(&self) -> usize {
        lock(&self.pages).bytes
    }
}

/// Bytes a cached page holds: its body and its gzip coding.
fn held(page: &Page) -> usize {
    page.body.len() + page.gzip.as_ref().map_or(0, Bytes::len)
}

#[cfg(test)]
mod tests;
