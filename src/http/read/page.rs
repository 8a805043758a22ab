//! A feed read answered with a page: the document rendered (with its self,
//! next, feed and hub links), its `200` headers, and the copy kept in the
//! page cache when the page may be served again.

use super::caching::{self, NO_STORE};
use super::{base_url, dated, page_response, self_url, set_position, FeedRead};
use crate::feed::cache::Page as CachedPage;
use crate::http::Res;
use crate::protocol::{self, Keep, PageOutcome};
use crate::render::{self, Document};
use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use std::borrow::Cow;

impl FeedRead<'_> {
    /// The page `out` describes, rendered, and kept in memory when it may be.
    pub(super) fn page(mut self, out: PageOutcome) -> Res {
        let epoch = self.feed.log().epoch();
        let base = base_url(self.app, self.req.headers());
        let next_url = out
            .next
            .map(|p| self.next_url(&base, &format!("{epoch}.{p}")));
        let mut h = self.page_headers(&out, next_url.as_deref());
        let self_url = match &self.key {
            Some(key) => Cow::Borrowed(key.url.as_str()),
            None => Cow::Owned(self_url(self.app, self.req)),
        };
        // WebSub discovery (PROTOCOL §9): in the document and in `Link`.
        let hub = self.app.hub().enabled().then(|| format!("{base}/websub"));
        if let Some(hub) = &hub {
            let links = format!("<{hub}>; rel=\"hub\", <{self_url}>; rel=\"self\"");
            if let Ok(v) = HeaderValue::from_str(&links) {
                h.append(header::LINK, v);
            }
        }
        let urls = Urls {
            base: &base,
            self_url: &self_url,
            next: next_url.as_deref(),
            hub: hub.as_deref(),
        };
        let mut body = self.render(&out, &urls);
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        let mut kept = false;
        if let Some(keep) = out.keep {
            (body, kept) = self.keep(keep, &out.page, &h, body);
        }
        let mut h = dated(h, out.dated);
        let body = self.encoded(&mut h, body, None, kept);
        page_response(self.req, h, body, self.im)
    }

    /// The document of `out`, with its links `urls`.
    fn render(&self, out: &PageOutcome, urls: &Urls<'_>) -> Bytes {
        let (page, info) = (&out.page, self.feed.info());
        let doc = Document {
            title: &info.title,
            link: &info.link,
            description: &info.description,
            feed_url: &format!("{}/feeds/{}", urls.base, self.name),
            self_url: urls.self_url,
            next_url: urls.next,
            hub_url: urls.hub,
            etag: &format!("{}.{}", self.feed.log().epoch(), page.last),
            last_modified: Some(page.last_modified * 1000),
            sync_mode: out.sync_mode,
            head_tick: out.digest_tick,
            head_stamp: out.digest_stamp,
            entries: &page.entries,
            upstream: self.notice.as_ref(),
        };
        Bytes::from(render::render(self.format, &doc))
    }

    /// Keep the rendered `page` (headers `h`, `body`) under this read's key;
    /// the body to send is the kept copy (and whether it was kept).
    fn keep(
        &mut self,
        keep: Keep,
        page: &protocol::Page,
        h: &HeaderMap,
        body: Bytes,
    ) -> (Bytes, bool) {
        let Some(key) = self.key.clone() else {
            return (body, false);
        };
        // The renderer's buffer is sized ahead (~1.5x the page): keep an
        // exact copy, so the cache holds what its budget counts.
        let body = Bytes::copy_from_slice(&body);
        let cached = CachedPage {
            headers: h.clone(),
            body: body.clone(),
            gzip: None,
            entries: page.entries.len(),
            last: page.last,
            last_stamp: page.last_stamp,
            last_modified: page.last_modified,
            more: page.more,
        };
        let cache = self.feed.cache();
        cache.insert(key, cached, self.generation, keep.head, keep.full);
        (body, true)
    }

    /// The headers of the plain `200` of `out` (no `A-IM`), all but
    /// `Content-Length`; `Last-Modified` included (a cached page is served
    /// to requests that may want it).
    fn page_headers(&self, out: &PageOutcome, next: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::with_capacity(9);
        if out.preferred {
            let vary = if self.feed.info().im_feed {
                caching::VARY_PREFER_IM
            } else {
                caching::VARY_PREFER
            };
            h.insert(header::VARY, vary);
            h.insert(caching::PREFERENCE_APPLIED, caching::RETURN_REPRESENTATION);
        } else {
            h.insert(header::VARY, self.vary());
        }
        let cache_control = if out.immutable && self.notice.is_none() {
            caching::immutable_cache_control(self.app.auth().enabled())
        } else {
            NO_STORE
        };
        h.insert(header::CACHE_CONTROL, cache_control);
        set_position(
            &mut h,
            self.feed.log().epoch(),
            out.page.last,
            out.page.last_modified,
        );
        let content_type = HeaderValue::from_static(self.format.content_type());
        h.insert(header::CONTENT_TYPE, content_type);
        if let Some(next) = next {
            if let Ok(v) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
                h.insert(header::LINK, v);
            }
        }
        h
    }

    /// The `next` link: this feed's URL with `?etag=` of the next position,
    /// and the request's `limit` and `format` when it named them.
    fn next_url(&self, base: &str, etag: &str) -> String {
        let mut url = format!("{base}{}?etag={etag}", self.req.uri().path());
        if self.query.limit.is_some() {
            url.push_str(&format!("&limit={}", self.limit));
        }
        if let Some(f) = &self.query.format {
            url.push_str(if f == "atom" {
                "&format=atom"
            } else {
                "&format=rss"
            });
        }
        url
    }
}

/// The absolute URLs a document links to.
struct Urls<'a> {
    base: &'a str,
    self_url: &'a str,
    next: Option<&'a str>,
    hub: Option<&'a str>,
}
