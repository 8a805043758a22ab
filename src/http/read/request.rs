//! A feed read's request, parsed ([`FeedRead`]): the feed, the document
//! format, the page limit, the cursor and the other facts
//! `protocol::outcome` decides by ([`ReadRequest`]), and the in-memory page
//! cache key of an ETag-selected read.

use super::headers::{negotiate, ReadHeaders};
use super::query::Query;
use crate::app::App;
use crate::cursor::{self, Validators};
use crate::error::ApiError;
use crate::feed::cache::{Page as CachedPage, PageKey};
use crate::feed::Feed;
use crate::protocol::{self, Limits, ReadRequest};
use crate::render::{Format, UpstreamNotice};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::Request;

/// One feed read: what answering it needs besides the log's answer.
pub struct FeedRead<'r> {
    pub app: &'r App,
    pub req: &'r Request<Incoming>,
    /// The feed's name, as routed.
    pub name: &'r str,
    pub feed: &'r Feed,
    pub query: &'r Query<'r>,
    pub format: Format,
    pub limit: usize,
    /// Answer with `226 IM Used`: `A-IM: feed` on a feed that opts in
    /// (PROTOCOL §3).
    pub im: bool,
    /// Send the page in gzip (`encoding`).
    pub gzip: bool,
    pub request: ReadRequest<'r>,
    /// Where an ETag-selected page is kept in memory ([`protocol::page_slot`]).
    pub key: Option<PageKey>,
    /// The feed's compaction generation, read before the log is: a page
    /// rendered for this read is exact while it lasts.
    pub generation: u64,
    /// A position of this epoch beyond the head the validators name (the
    /// cursor is then a catch-up): with a store shared by several
    /// processes, another one may have handed it out
    /// ([`crate::store::Log::head_at_least`]).
    pub beyond: Option<u64>,
    /// The feed's upstream cannot be reached: the page says so, is not
    /// kept, and is `no-store` (it must not outlive the failure).
    pub notice: Option<UpstreamNotice>,
}

impl<'r> FeedRead<'r> {
    /// Parse the read of `feed` (`suffix`: the format its path names),
    /// with its query `q` and headers at `now_ms`. A bad `format` or `limit`
    /// is `400 invalid_parameter`; bad validators are a catch-up.
    pub fn new(
        app: &'r App,
        feed: &'r Feed,
        req: &'r Request<Incoming>,
        suffix: Option<Format>,
        q: &'r Query<'r>,
        headers: &'r ReadHeaders<'r>,
        now_ms: u64,
    ) -> Result<FeedRead<'r>, ApiError> {
        let format = format(suffix, q, headers)?;
        let (default, max) = (app.config().default_limit, app.config().max_limit);
        let limit = protocol::page_limit(q.limit.as_deref(), default, max).ok_or_else(|| {
            let l = q.limit.as_deref().unwrap_or("");
            ApiError::InvalidParameter(format!("limit {l:?}: use a whole number from 1 to {max}"))
        })?;
        let validators = Validators {
            if_none_match: headers.if_none_match.as_deref(),
            etag: q.etag.as_deref(),
            if_modified_since: text(headers.if_modified_since),
            last_mod: q.last_mod.as_deref(),
        };
        // Selected by request headers (PROTOCOL §3 Caches).
        let conditional =
            validators.if_none_match.is_some() || validators.if_modified_since.is_some();
        let log = feed.log();
        let head = log.head();
        let cursor = cursor::resolve(&validators, log.epoch(), head, now_ms / 1000);
        let beyond = match cursor {
            cursor::Cursor::CatchUp => {
                match cursor::resolve(&validators, log.epoch(), u64::MAX, now_ms / 1000) {
                    cursor::Cursor::Seq(p) if p > head => Some(p),
                    _ => None,
                }
            }
            _ => None,
        };
        let generation = log.compactions();
        let notice = feed.upstream().and_then(|u| u.notice());
        let slot = protocol::page_slot(cursor, head, log.dropped()).filter(|_| notice.is_none());
        let key = slot.map(|after| PageKey {
            format,
            after,
            limit,
            url: super::self_url(app, req),
            query_form: !conditional,
        });
        let request = ReadRequest {
            cursor,
            conditional,
            representation: headers.representation,
            if_modified_since: validators.if_modified_since,
            slot,
        };
        Ok(FeedRead {
            app,
            req,
            name: feed.name(),
            feed,
            query: q,
            format,
            limit,
            im: headers.im && feed.info().im_feed,
            gzip: headers.gzip,
            request,
            key,
            generation,
            beyond,
            notice,
        })
    }

    /// The page rendered for this read before, if it is still exact.
    pub fn cached(&self) -> Option<CachedPage> {
        let key = self.key.as_ref()?;
        let log = self.feed.log();
        // The generation now: a page read under an older one is not served.
        self.feed
            .cache()
            .page(key, log.compactions(), log.published())
    }

    pub fn limits(&self) -> Limits {
        let config = self.app.config();
        Limits {
            max_entries: self.limit,
            max_bytes: config.max_page_bytes,
            second_entries: config.max_second_entries,
            second_bytes: config.max_second_bytes,
        }
    }
}

/// The document format: a `.atom` / `.rss` path suffix, else the `format`
/// parameter, else `Accept`. A `format` other than `rss` or `atom` is a
/// `400`, suffix or not.
fn format(
    suffix: Option<Format>,
    q: &Query<'_>,
    headers: &ReadHeaders<'_>,
) -> Result<Format, ApiError> {
    let param = match q.format.as_deref() {
        Some("atom") => Some(Format::Atom),
        Some("rss") => Some(Format::Rss),
        Some(other) => {
            return Err(ApiError::InvalidParameter(format!(
                "format {other:?}: use rss or atom"
            )))
        }
        None => None,
    };
    Ok(suffix
        .or(param)
        .unwrap_or_else(|| negotiate(headers.accept)))
}

/// A header's text; text that is not visible ASCII counts as empty.
fn text(v: Option<&HeaderValue>) -> Option<&str> {
    v.map(|v| v.to_str().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_by_suffix_then_parameter_then_accept() {
        let f = |suffix, query| format(suffix, &Query::parse(query), &ReadHeaders::default());
        assert_eq!(f(None, "").unwrap(), Format::Rss);
        assert_eq!(f(None, "format=atom").unwrap(), Format::Atom);
        assert_eq!(f(Some(Format::Rss), "format=atom").unwrap(), Format::Rss);
        assert_eq!(f(Some(Format::Atom), "").unwrap(), Format::Atom);
        // A bad parameter is refused even when the suffix names the format.
        for suffix in [None, Some(Format::Atom)] {
            assert!(matches!(
                f(suffix, "format=json"),
                Err(ApiError::InvalidParameter(_))
            ));
        }
    }
}
