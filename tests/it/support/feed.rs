//! Feed documents as a consumer reads them, RSS or Atom, parsed with a
//! strict XML parser (anything that is not well-formed XML 1.0 fails the
//! test), and the namespaces feedgate's documents use.

const NS_IBMFS: &str = "http://purl.org/net/ibmfeedsvc/feedsvc/1.0";
const NS_WCM: &str = "http://purl.org/net/ibmfeedsvc/wcm/1.0";
pub const NS_SYNC: &str = "http://schemas.sage.com/sdata/sync/2008/1";
pub const NS_ATOM: &str = "http://www.w3.org/2005/Atom";
const NS_AT: &str = "http://purl.org/atompub/tombstones/1.0";

/// What a consumer reads from a feed document, RSS or Atom.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    pub atom: bool,
    pub etag: String,
    /// `lastBuildDate` (RSS) or `updated` (Atom).
    pub date: Option<String>,
    pub sync_mode: String,
    pub next: Option<String>,
    pub tick: u64,
    pub entries: Vec<FeedEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    pub id: String,
    pub action: String,
    pub tick: u64,
    pub title: Option<String>,
}

fn child<'a, 'i>(
    n: roxmltree::Node<'a, 'i>,
    ns: &str,
    name: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    n.children()
        .find(|c| c.tag_name().namespace() == Some(ns) && c.tag_name().name() == name)
}

fn plain<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children().find(|c| {
        c.is_element() && c.tag_name().namespace().is_none() && c.tag_name().name() == name
    })
}

fn text(n: Option<roxmltree::Node<'_, '_>>) -> Option<String> {
    n.map(|n| n.text().unwrap_or("").to_string())
}

impl Feed {
    /// Parse strictly (roxmltree rejects anything that is not well-formed XML 1.0).
    pub fn parse(body: &[u8]) -> Feed {
        let s = std::str::from_utf8(body).expect("UTF-8 XML");
        let doc =
            roxmltree::Document::parse(s).unwrap_or_else(|e| panic!("not well-formed: {e}\n{s}"));
        let root = doc.root_element();
        let atom = root.tag_name().namespace() == Some(NS_ATOM);
        let feed = if atom {
            root
        } else {
            plain(root, "channel").expect("channel")
        };
        let link_ns = NS_ATOM;
        let next = feed
            .children()
            .find(|c| {
                c.tag_name().namespace() == Some(link_ns)
                    && c.tag_name().name() == "link"
                    && c.attribute("rel") == Some("next")
            })
            .and_then(|c| c.attribute("href").map(String::from));
        let digest = child(feed, NS_SYNC, "digest").expect("sync:digest");
        let tick = text(child(
            child(digest, NS_SYNC, "digestEntry").unwrap(),
            NS_SYNC,
            "tick",
        ))
        .unwrap()
        .parse()
        .unwrap();
        let entry_of = |n: roxmltree::Node<'_, '_>, id: String, title: Option<String>| FeedEntry {
            id,
            action: text(child(n, NS_WCM, "action")).expect("ibmwcm:action"),
            tick: text(child(
                child(n, NS_SYNC, "syncState").expect("syncState"),
                NS_SYNC,
                "tick",
            ))
            .unwrap()
            .parse()
            .unwrap(),
            title,
        };
        let mut entries = vec![];
        for n in feed.children().filter(|n| n.is_element()) {
            if atom && n.tag_name().namespace() == Some(NS_ATOM) && n.tag_name().name() == "entry" {
                let id = text(child(n, NS_ATOM, "id")).unwrap();
                let id = feedgate::render::item_id_from_atom(&id).unwrap_or(id);
                entries.push(entry_of(n, id, text(child(n, NS_ATOM, "title"))));
            } else if atom
                && n.tag_name().namespace() == Some(NS_AT)
                && n.tag_name().name() == "deleted-entry"
            {
                let r = n.attribute("ref").unwrap().to_string();
                let id = feedgate::render::item_id_from_atom(&r).unwrap_or(r);
                entries.push(entry_of(n, id, None));
            } else if !atom && n.tag_name().name() == "item" {
                let id = text(plain(n, "guid")).expect("guid");
                entries.push(entry_of(n, id, text(plain(n, "title"))));
            }
        }
        Feed {
            atom,
            etag: text(child(feed, NS_IBMFS, "etag")).expect("ibmfs:etag"),
            date: if atom {
                text(child(feed, NS_ATOM, "updated"))
            } else {
                text(plain(feed, "lastBuildDate"))
            },
            sync_mode: text(child(feed, NS_SYNC, "syncMode")).expect("syncMode"),
            next,
            tick,
            entries,
        }
    }

    pub fn ids(&self) -> Vec<(&str, &str)> {
        self.entries
            .iter()
            .map(|e| (e.id.as_str(), e.action.as_str()))
            .collect()
    }
}
