//! The content store on a temporary directory.

use super::*;

fn store() -> (tempfile::TempDir, ContentStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(&dir.path().join("content")).unwrap();
    (dir, store)
}

fn download(store: &ContentStore, url: &str, bytes: &[u8]) {
    fs::write(store.partial_path(url), bytes).unwrap();
}

const SHA_OF_HELLO: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

#[test]
fn a_committed_download_is_stored_under_its_hash() {
    let (_d, s) = store();
    download(&s, "https://m.example/a.mp3", b"hello");
    let o = s
        .commit("https://m.example/a.mp3", Some(5), "audio/mpeg", "news")
        .unwrap();
    assert_eq!(o.sha256, SHA_OF_HELLO);
    assert_eq!(fs::read(&o.path).unwrap(), b"hello");
    let got = s.get(SHA_OF_HELLO).unwrap();
    assert_eq!(
        got.meta,
        Meta {
            length: 5,
            content_type: "audio/mpeg".into(),
            feeds: vec!["news".into()]
        }
    );
    assert!(!s.partial_path("https://m.example/a.mp3").exists());
    assert_eq!(s.list(), vec![SHA_OF_HELLO.to_string()]);
    assert_eq!(s.total_bytes(), 5);
}

#[test]
fn the_same_bytes_from_two_feeds_are_one_object() {
    let (_d, s) = store();
    download(&s, "https://m.example/a", b"hello");
    s.commit("https://m.example/a", None, "audio/mpeg", "news")
        .unwrap();
    download(&s, "https://other.example/b", b"hello");
    let o = s
        .commit("https://other.example/b", None, "audio/ogg", "podcast")
        .unwrap();
    assert_eq!(
        o.meta.feeds,
        vec!["news".to_string(), "podcast".to_string()]
    );
    assert_eq!(
        o.meta.content_type, "audio/mpeg",
        "the first origin's type stays"
    );
    assert_eq!(s.list().len(), 1);
}

#[test]
fn a_download_of_the_wrong_length_never_counts() {
    let (_d, s) = store();
    download(&s, "u", b"hell");
    let e = s.commit("u", Some(5), "t", "news").unwrap_err();
    assert!(
        matches!(e, ContentError::LengthMismatch { got: 4, want: 5 }),
        "{e}"
    );
    assert!(s.list().is_empty());
    assert!(!s.partial_path("u").exists(), "started over next time");
}

#[test]
fn half_an_object_is_not_an_object() {
    let (_d, s) = store();
    download(&s, "u", b"hello");
    let o = s.commit("u", None, "t", "news").unwrap();
    // As if a crash had cut the bytes short (never by this store: it renames whole files).
    fs::write(&o.path, b"he").unwrap();
    assert!(s.get(SHA_OF_HELLO).is_none());
    assert!(s.get("not-a-hash").is_none());
    assert!(s.get(&SHA_OF_HELLO.to_uppercase()).is_none());
}

#[test]
fn removed_objects_are_gone() {
    let (_d, s) = store();
    download(&s, "u", b"hello");
    s.commit("u", None, "t", "news").unwrap();
    s.remove(SHA_OF_HELLO).unwrap();
    s.remove(SHA_OF_HELLO).unwrap();
    assert!(s.get(SHA_OF_HELLO).is_none());
    assert!(s.list().is_empty());
}
