//! A deterministic generator of hostile documents for `tests_equal.rs`
//! (xorshift64, no crates): deletes (with and without payloads), adds
//! without payloads, missing and empty fields, forbidden controls,
//! U+FFFE/U+FFFF, `]]>` (also one that only cleaning makes), `&<>"'`,
//! TAB/CR/LF in attribute values, non-ASCII and IRIs in links, enclosures
//! (http and not, good and bad media types, several), categories, authors,
//! published values (parsable or not), every content type class, next and
//! hub links present and absent, stamps beyond the year 9999.

use super::test_support::{FEED_URL, NASTY};
use super::{Document, SyncMode};
use crate::model::{Action, Enclosure, Entry, Payload};

/// xorshift64: small, deterministic, good enough to pick cases.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, one_in: u64) -> bool {
        self.next() % one_in == 0
    }
    pub fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
    /// 0 to 4 pieces of `from`, concatenated.
    pub fn text(&mut self, from: &[&str]) -> String {
        (0..self.below(5)).map(|_| self.pick(from)).collect()
    }
    pub fn maybe(&mut self, from: &[&str]) -> Option<String> {
        (!self.chance(4)).then(|| self.text(from))
    }
    pub fn stamp(&mut self) -> u64 {
        match self.below(12) {
            0 => 0,
            1 => (self.next() % 4_000_000_000) * 1000,
            2 => 253_402_300_800_000 + self.next() % 2_000,
            3 => u64::MAX - self.next() % 2,
            _ => self.next() % 4_102_444_800_000,
        }
    }
}

const TEXT: &[&str] = &[
    "plain",
    " ",
    "]]>",
    "]]",
    ">",
    "]",
    "&",
    "<",
    "\"",
    "'",
    "&amp;",
    "\t",
    "\n",
    "\r\n",
    "\r",
    "\u{0}",
    "\u{1}",
    "\u{b}",
    "\u{1f}",
    "\u{7f}",
    "\u{85}",
    "\u{fffe}",
    "\u{ffff}",
    "\u{fffd}",
    "\u{efbf}",
    "Grüße",
    "日本語",
    "🎉",
    NASTY,
    "<b>bold</b>",
    "x",
];
const LINKS: &[&str] = &[
    "http://example.org/a?b=1&c='2'#f",
    "https://x.example/%E2%9C%93?q=%20",
    "http://例え.jp/パス",
    "http://x/a b\"c<d>{e}|f\\g^h`i",
    "http://x/100%",
    "http://x/%zz%4",
    "http://[::1]/a[1]",
    "/a[1]",
    "mailto:x@example.org",
    "HTTPS://X.example/",
    "ftp://x/y",
    "http://",
    "http:/x",
    "\t",
    "\u{1}",
    "\n",
    " ",
    "é",
    "'",
    "&",
    "x",
];
const MIMES: &[&str] = &[
    "audio/mpeg",
    "video/mp4",
    "",
    "html",
    "text/plain; charset=utf-8",
    "text/plain;charset=\"a b\"",
    "text/plain; junk",
    "text/plain;",
    " audio/mpeg ",
    "a/b/c",
    "<x>/y",
    "image/svg+xml",
    "text/plain; a=\"\t\u{1}<&>\"",
    "application/x&y'z",
    "a b/c",
];
const TYPES: &[&str] = &[
    "text",
    " TEXT ",
    "html",
    "xhtml",
    "Text/HTML; charset=utf-8",
    "application/xhtml+xml",
    "text/plain",
    "text/csv; junk",
    "text/plain; q=\"<'&>\"",
    "application/xml",
    "image/svg+xml",
    "application/json",
    "application/octet-stream",
    "application/x&y'z",
    "bogus",
    "a/b/c",
    "",
];
const PUBLISHED: &[&str] = &[
    "2024-04-30T08:00:00Z",
    "2024-04-30T08:00:00.5Z",
    "2024-04-30T08:00:00.123456789Z",
    "2024-04-30T08:00:00.1234567891Z",
    "2024-04-30T08:00:00+02:00",
    "2024-04-30t08:00:00z",
    "2024-04-30 08:00:00-00:00",
    "2016-12-31T23:59:60Z",
    "2024-02-30T00:00:00Z",
    "yesterday",
    "",
    "\u{1}2024-04-30T08:00:00Z",
    "2024-04-30T08:00:00Z\u{fffe}",
    "0000-01-01T00:00:00Z",
    "<&>'\"",
];
const IDS: &[&str] = &[
    "item-1",
    "http://example.org/x?a=1&b='2'",
    "urn:feedgate:42",
    "URN:FeedGate:x",
    ".",
    "..",
    "a\"<b>&'c",
    "tag:example.org,2024:x",
    "Grüße 🎉",
    "urn:uuid:0a1b2c3d-0000-4000-8000-00112233aabb",
    "a b/c?d#e%f",
    "mailto:x@example.org",
    "x+y.z-w:a%20b",
    "-._~",
];
const FEED_URLS: &[&str] = &[
    FEED_URL,
    "http://gw.example/feeds/a'b&c\"d",
    "http://gw.example/feeds/\u{1}x]]>",
    "http://例え.jp/f",
];

fn gen_payload(r: &mut Rng) -> Payload {
    let enclosures = (0..r.below(4))
        .map(|_| Enclosure {
            url: r.text(LINKS),
            length: [0, 1, 1234, u64::MAX][r.below(4)],
            mime: r.pick(MIMES).to_owned(),
            via: None,
        })
        .collect();
    Payload {
        title: r.maybe(TEXT),
        link: r.maybe(LINKS),
        summary: r.maybe(TEXT),
        content: r.maybe(TEXT),
        content_type: (!r.chance(3)).then(|| r.pick(TYPES).to_owned()),
        author: r.maybe(TEXT),
        categories: (0..r.below(4)).map(|_| r.text(TEXT)).collect(),
        enclosures,
        published: (!r.chance(3)).then(|| r.pick(PUBLISHED).to_owned()),
    }
}

fn gen_entries(r: &mut Rng) -> Vec<Entry> {
    (0..r.below(9))
        .map(|_| {
            let action = [Action::Add, Action::Update, Action::Delete][r.below(3)];
            // The model gives a payload exactly to adds and updates; the
            // renderers must cope with the other cases too.
            let odd = r.chance(10);
            let payload = if (action == Action::Delete) != odd {
                None
            } else {
                Some(gen_payload(r))
            };
            let id = if r.chance(4) {
                r.text(TEXT) + "id"
            } else {
                r.pick(IDS).to_owned()
            };
            Entry {
                seq: if r.chance(2) {
                    r.next()
                } else {
                    r.next() % 10_000
                },
                id,
                action,
                stamp: r.stamp(),
                payload,
            }
        })
        .collect()
}

/// A generated document: everything a [`Document`] borrows, owned.
pub struct Generated {
    entries: Vec<Entry>,
    text: [String; 3],
    feed_url: &'static str,
    self_url: String,
    next_url: Option<String>,
    hub_url: Option<String>,
    etag: String,
    last_modified: Option<u64>,
    sync_mode: SyncMode,
    head_tick: u64,
    head_stamp: Option<u64>,
}

impl Generated {
    pub fn new(r: &mut Rng) -> Generated {
        Generated {
            entries: gen_entries(r),
            text: [r.text(TEXT), r.text(LINKS), r.text(TEXT)],
            feed_url: r.pick(FEED_URLS),
            self_url: format!("{FEED_URL}?etag={}", r.text(LINKS)),
            next_url: r.chance(2).then(|| r.text(LINKS)),
            hub_url: r.chance(3).then(|| r.text(LINKS)),
            etag: r.text(TEXT),
            last_modified: (!r.chance(4)).then(|| r.stamp()),
            sync_mode: if r.chance(2) {
                SyncMode::CatchUp
            } else {
                SyncMode::Immediate
            },
            head_tick: r.next() % 100_000,
            head_stamp: (!r.chance(4)).then(|| r.next() % 4_102_444_800_000),
        }
    }

    pub fn document(&self) -> Document<'_> {
        Document {
            title: &self.text[0],
            link: &self.text[1],
            description: &self.text[2],
            feed_url: self.feed_url,
            self_url: &self.self_url,
            next_url: self.next_url.as_deref(),
            hub_url: self.hub_url.as_deref(),
            etag: &self.etag,
            last_modified: self.last_modified,
            sync_mode: self.sync_mode,
            head_tick: self.head_tick,
            head_stamp: self.head_stamp,
            entries: &self.entries,
            upstream: None,
        }
    }
}
