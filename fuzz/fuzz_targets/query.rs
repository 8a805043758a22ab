//! The feed query parser (`feedgate::http::FeedQuery`).
//!
//! Properties: any query string parses; each known parameter holds the last
//! value the form-urlencoded pairs give it, unknown ones are ignored; the
//! decoded pairs, encoded again by a form serializer (whatever characters
//! they hold), come back exactly.
#![no_main]

use feedgate::http::FeedQuery;
use libfuzzer_sys::fuzz_target;

fn last<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn check(q: &FeedQuery<'_>, pairs: &[(String, String)], what: &str) {
    assert_eq!(q.etag.as_deref(), last(pairs, "etag"), "{what}");
    assert_eq!(q.last_mod.as_deref(), last(pairs, "lastMod"), "{what}");
    assert_eq!(q.limit.as_deref(), last(pairs, "limit"), "{what}");
    assert_eq!(q.format.as_deref(), last(pairs, "format"), "{what}");
}

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);

    // Any raw query: the decoded pairs, last one wins.
    let decoded: Vec<(String, String)> = form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    check(&FeedQuery::parse(&raw), &decoded, &raw);

    // Decoded values hold any character ('&', '=', '+', '%', non-ASCII…):
    // encoded again by a form serializer, they come back exactly.
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&decoded)
        .finish();
    check(&FeedQuery::parse(&encoded), &decoded, &encoded);
});
