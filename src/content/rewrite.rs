//! How mirroring rewrites an item: an enclosure pointed at feedgate's copy
//! (the original kept as `via`) and back; which URLs name another
//! feedgate's copy. Pure.

use crate::model::Payload;
use std::borrow::Cow;

/// `payload` with its enclosures at `url` pointing at `copy`, the original
/// kept as `via` and nothing else changed (so [`unmirrored`] gives the
/// item back as its origin had it); `None` if it has none at `url`.
pub fn pointed(payload: &Payload, url: &str, copy: &str) -> Option<Payload> {
    let mut p = payload.clone();
    let mut any = false;
    for e in p.enclosures.iter_mut().filter(|e| e.url == url) {
        e.via = Some(std::mem::replace(&mut e.url, copy.to_string()));
        any = true;
    }
    any.then_some(p)
}

/// The hash a `…/content/{sha256}` URL (another feedgate's copy) names.
pub fn content_sha(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next()?;
    let (before, sha) = path.rsplit_once('/')?;
    (before.ends_with("/content") && super::is_sha256(sha)).then_some(sha)
}

/// `payload` as its origin gave it: each mirrored enclosure back at its
/// `via` (what an upstream sync compares with the origin's items).
pub fn unmirrored(payload: &Payload) -> Cow<'_, Payload> {
    if payload.enclosures.iter().all(|e| e.via.is_none()) {
        return Cow::Borrowed(payload);
    }
    let mut p = payload.clone();
    for e in &mut p.enclosures {
        if let Some(via) = e.via.take() {
            e.url = via;
        }
    }
    Cow::Owned(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Enclosure;

    #[test]
    fn an_enclosure_points_at_its_copy_and_keeps_where_it_came_from() {
        let enc = |url: &str, length| Enclosure {
            url: url.into(),
            length,
            mime: "audio/mpeg".into(),
            via: None,
        };
        let p = Payload {
            enclosures: vec![enc("https://m/a", 0), enc("https://m/b", 7)],
            ..Payload::default()
        };
        let q = pointed(&p, "https://m/a", "https://gw/content/ab").unwrap();
        assert_eq!(q.enclosures[0].url, "https://gw/content/ab");
        assert_eq!(q.enclosures[0].via.as_deref(), Some("https://m/a"));
        assert_eq!(q.enclosures[1], p.enclosures[1]);
        assert!(pointed(&p, "https://m/c", "x").is_none());
        assert_eq!(unmirrored(&q).into_owned(), p, "the origin's item again");
        assert_eq!(
            content_sha(&format!("http://up:8080/content/{}", "a".repeat(64))),
            Some("a".repeat(64).as_str())
        );
        assert_eq!(content_sha("http://up/media/aaaa"), None);
        assert_eq!(
            content_sha(&format!("http://up/x/{}", "a".repeat(64))),
            None
        );
    }
}
