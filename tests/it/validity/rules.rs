//! The rules a strict feed validator enforces as errors, as checks over a
//! parsed document: RFC 4287 (Atom 1.0) and RSS 2.0 with the namespaces
//! feedgate uses (`atom`, `content`, `dc`), in the forms the W3C feed
//! validator (w3c/feedvalidator) applies them: its URI, URN, tag, MIME-type
//! and date grammars, its required elements and its link relations. Each
//! check returns the violations it finds, named like the validator's
//! messages, so a test asserts that there are none (and, on broken input,
//! that there are).
//!
//! Warnings of that validator (unknown namespaces, an empty title, two
//! entries updated in the same millisecond, …) are not checked here; the ones
//! feedgate's documents can show are listed in docs/decisions.md.

use roxmltree::{Document, Node};

use super::grammar::{atom_id, base64, full_uri, http_url, mime, rfc3339, rfc822, uri_ref};

pub const ATOM: &str = "http://www.w3.org/2005/Atom";
const AT: &str = "http://purl.org/atompub/tombstones/1.0";
const DC: &str = "http://purl.org/dc/elements/1.1/";
const CONTENT: &str = "http://purl.org/rss/1.0/modules/content/";

/// Link relations the validator knows (IANA registry as it lists them);
/// any other `rel` must be a full URI.
const RELS: &[&str] = &[
    "alternate",
    "current",
    "describedby",
    "edit",
    "edit-media",
    "enclosure",
    "first",
    "hub",
    "last",
    "license",
    "next",
    "next-archive",
    "payment",
    "prev-archive",
    "previous",
    "related",
    "replies",
    "search",
    "self",
    "service",
    "up",
    "via",
];

fn kids<'a, 'i>(n: Node<'a, 'i>, ns: &str, name: &str) -> Vec<Node<'a, 'i>> {
    n.children()
        .filter(|c| {
            c.is_element()
                && c.tag_name().name() == name
                && c.tag_name().namespace().unwrap_or("") == ns
        })
        .collect()
}

fn text<'a>(n: Node<'a, '_>) -> &'a str {
    n.text().unwrap_or("")
}

/// Violations of the Atom rules in `xml`.
pub fn check_atom(xml: &str) -> Vec<String> {
    let mut v = Vec::new();
    let doc = match Document::parse(xml) {
        Ok(d) => d,
        Err(e) => return vec![format!("not well-formed: {e}")],
    };
    let feed = doc.root_element();
    if !feed.has_tag_name((ATOM, "feed")) {
        return vec!["root is not atom:feed".into()];
    }
    let entries = kids(feed, ATOM, "entry");
    let feed_author = !kids(feed, ATOM, "author").is_empty();
    for name in ["id", "title", "updated"] {
        if kids(feed, ATOM, name).len() != 1 {
            v.push(format!("feed: MissingElement/DuplicateElement {name}"));
        }
    }
    for id in kids(feed, ATOM, "id") {
        if !full_uri(text(id)) {
            v.push(format!("feed: InvalidFullLink id {:?}", text(id)));
        }
    }
    for u in kids(feed, ATOM, "updated") {
        if !rfc3339(text(u)) {
            v.push(format!("feed: InvalidRFC3339Date {:?}", text(u)));
        }
    }
    check_links(feed, "feed", &mut v);
    for a in kids(feed, ATOM, "author") {
        if kids(a, ATOM, "name").len() != 1 {
            v.push("feed author: MissingElement name".into());
        }
    }
    let mut ids = std::collections::HashSet::new();
    for e in &entries {
        let id = kids(*e, ATOM, "id").first().map(|n| text(*n)).unwrap_or("");
        let at = format!("entry {id:?}");
        for name in ["id", "title", "updated"] {
            if kids(*e, ATOM, name).len() != 1 {
                v.push(format!("{at}: MissingElement/DuplicateElement {name}"));
            }
        }
        if !atom_id(id) {
            v.push(format!("{at}: InvalidFullLink/InvalidURN/InvalidTAG id"));
        }
        if !ids.insert(id.to_string()) {
            v.push(format!("{at}: DuplicateEntries"));
        }
        if !feed_author && kids(*e, ATOM, "author").is_empty() {
            v.push(format!("{at}: MissingElement author"));
        }
        for d in kids(*e, ATOM, "updated")
            .into_iter()
            .chain(kids(*e, ATOM, "published"))
        {
            if !rfc3339(text(d)) {
                v.push(format!("{at}: InvalidRFC3339Date {:?}", text(d)));
            }
        }
        for t in ["title", "summary"].iter().flat_map(|n| kids(*e, ATOM, n)) {
            if !["text", "html", "xhtml"].contains(&t.attribute("type").unwrap_or("text")) {
                v.push(format!("{at}: InvalidTextType {:?}", t.attribute("type")));
            }
        }
        let links = check_links(*e, &at, &mut v);
        let content = kids(*e, ATOM, "content");
        if content.len() > 1 {
            v.push(format!("{at}: DuplicateElement content"));
        }
        match content.first() {
            None if !links.contains(&"alternate".to_string()) => {
                v.push(format!("{at}: MissingContentOrAlternate"))
            }
            None => {}
            Some(c) => check_content(*c, !kids(*e, ATOM, "summary").is_empty(), &at, &mut v),
        }
    }
    for t in kids(feed, AT, "deleted-entry") {
        let r = t.attribute("ref").unwrap_or("");
        if !atom_id(r) || !t.attribute("when").is_some_and(rfc3339) {
            v.push(format!("at:deleted-entry {r:?}: invalid ref or when"));
        }
    }
    v
}

/// Check the `atom:link`s of `parent`; returns their `rel` values.
fn check_links(parent: Node<'_, '_>, at: &str, v: &mut Vec<String>) -> Vec<String> {
    let mut rels = Vec::new();
    let mut alternates = std::collections::HashSet::new();
    for l in kids(parent, ATOM, "link") {
        let rel = l.attribute("rel").unwrap_or("alternate");
        let href = l.attribute("href").unwrap_or("");
        if href.is_empty() || !uri_ref(href) {
            v.push(format!("{at}: InvalidIRI link href {href:?}"));
        }
        if !RELS.contains(&rel) && !full_uri(rel) {
            v.push(format!("{at}: UnregisteredAtomLinkRel {rel:?}"));
        }
        if let Some(t) = l.attribute("type") {
            if !mime(t) {
                v.push(format!("{at}: InvalidMIMEType link {t:?}"));
            }
        }
        if rel == "self"
            && !l.attribute("type").is_some_and(|t| {
                t.starts_with("application/atom+xml") || t.starts_with("application/rss+xml")
            })
        {
            v.push(format!("{at}: SelfNotAtom"));
        }
        if l.attribute("length")
            .is_some_and(|n| n.parse::<u64>().is_err())
        {
            v.push(format!("{at}: InvalidNonNegativeInteger length"));
        }
        if rel == "alternate" && !alternates.insert((l.attribute("type"), l.attribute("hreflang")))
        {
            v.push(format!("{at}: DuplicateAtomLink"));
        }
        rels.push(rel.to_string());
    }
    rels
}

fn check_content(c: Node<'_, '_>, summary: bool, at: &str, v: &mut Vec<String>) {
    let ty = c.attribute("type").unwrap_or("text");
    if c.attribute("src").is_some() {
        v.push(format!(
            "{at}: content src (feedgate never links content out)"
        ));
    }
    if ty == "xhtml" {
        let divs: Vec<_> = c.children().filter(|n| n.is_element()).collect();
        if divs.len() != 1 || !divs[0].has_tag_name(("http://www.w3.org/1999/xhtml", "div")) {
            v.push(format!("{at}: MissingXhtmlDiv"));
        }
        return;
    }
    if !["text", "html"].contains(&ty) && !mime(ty) {
        v.push(format!("{at}: InvalidMIMEType content {ty:?}"));
        return;
    }
    let xml_type = ty.ends_with("+xml")
        || ty.ends_with("/xml")
        || ty
            .split(';')
            .next()
            .is_some_and(|e| e.ends_with("+xml") || e.ends_with("/xml"));
    if c.children().any(|n| n.is_element()) && !xml_type {
        v.push(format!(
            "{at}: UndefinedElement inside content of type {ty:?}"
        ));
    }
    let binary = ty.contains('/') && !xml_type && !ty.starts_with("text/");
    if binary {
        if !summary {
            v.push(format!("{at}: MissingSummary (Base64 content)"));
        }
        if !base64(text(c)) {
            v.push(format!("{at}: NotBase64"));
        }
    }
}

/// Violations of the RSS 2.0 rules in `xml`.
pub fn check_rss(xml: &str) -> Vec<String> {
    let mut v = Vec::new();
    let doc = match Document::parse(xml) {
        Ok(d) => d,
        Err(e) => return vec![format!("not well-formed: {e}")],
    };
    let rss = doc.root_element();
    if rss.tag_name().name() != "rss" || rss.attribute("version") != Some("2.0") {
        return vec!["root is not rss version 2.0".into()];
    }
    let channels = kids(rss, "", "channel");
    let [ch] = channels[..] else {
        return vec!["not exactly one channel".into()];
    };
    for name in ["title", "link", "description"] {
        if kids(ch, "", name).len() != 1 {
            v.push(format!("channel: MissingElement/DuplicateElement {name}"));
        }
    }
    for l in kids(ch, "", "link") {
        if !full_uri(text(l)) {
            v.push(format!("channel: InvalidFullLink link {:?}", text(l)));
        }
    }
    for d in kids(ch, "", "lastBuildDate")
        .into_iter()
        .chain(kids(ch, "", "pubDate"))
    {
        if !rfc822(text(d)) {
            v.push(format!("channel: InvalidRFC2822Date {:?}", text(d)));
        }
    }
    let rels = check_links(ch, "channel", &mut v);
    if !rels.contains(&"self".to_string()) {
        v.push("channel: MissingAtomSelfLink".into());
    }
    for item in kids(ch, "", "item") {
        let guid = kids(item, "", "guid")
            .first()
            .map(|g| text(*g))
            .unwrap_or("");
        let at = format!("item {guid:?}");
        if kids(item, "", "title").is_empty() && kids(item, "", "description").is_empty() {
            v.push(format!("{at}: ItemMustContainTitleOrDescription"));
        }
        for g in kids(item, "", "guid") {
            let permalink = g.attribute("isPermaLink").unwrap_or("true");
            if !["true", "false"].contains(&permalink)
                || (permalink == "true" && !full_uri(text(g)))
            {
                v.push(format!("{at}: InvalidPermalink / InvalidBooleanAttribute"));
            }
        }
        for name in [
            "title",
            "link",
            "description",
            "guid",
            "pubDate",
            "enclosure",
        ] {
            if kids(item, "", name).len() > 1 {
                v.push(format!("{at}: DuplicateElement {name}"));
            }
        }
        for l in kids(item, "", "link") {
            if !full_uri(text(l)) {
                v.push(format!("{at}: InvalidFullLink {:?}", text(l)));
            }
        }
        for d in kids(item, "", "pubDate") {
            if !rfc822(text(d)) {
                v.push(format!("{at}: InvalidRFC2822Date {:?}", text(d)));
            }
        }
        for d in kids(item, DC, "date") {
            if !rfc3339(text(d)) {
                v.push(format!("{at}: InvalidW3CDTFDate {:?}", text(d)));
            }
        }
        for e in kids(item, "", "enclosure") {
            let ok = e.attribute("url").is_some_and(http_url)
                && e.attribute("length")
                    .is_some_and(|n| n.parse::<u64>().is_ok())
                && e.attribute("type").is_some_and(mime);
            if !ok {
                v.push(format!("{at}: InvalidURLAttribute/InvalidIntegerAttribute/InvalidMIMEAttribute enclosure"));
            }
        }
        if kids(item, CONTENT, "encoded").len() > 1 {
            v.push(format!("{at}: DuplicateElement content:encoded"));
        }
        check_links(item, &at, &mut v);
    }
    v
}
