//! Turning an origin's current item set into store operations: new → put
//! (add), changed → put (update), missing → delete, unchanged → nothing, and
//! the mass-delete guard. Pure: plain data in, plain data out.
//!
//! Items compare by id and by a 128-bit hash (SHA-256, truncated) of the
//! payload's canonical JSON (the `Payload` serialisation has a fixed field
//! order), so the feed's current state is held as `id → hash`, not as payloads.

use crate::model::Payload;
use crate::store::Op;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

/// An origin's current items, as parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Valid items, each id once, in the order their transactions should take.
    pub items: Vec<(String, Payload)>,
    /// Ids whose item the origin still lists but in a form that could not be
    /// used: left as they are (neither updated nor deleted).
    pub kept: HashSet<String>,
    /// Items left out: no usable id, or an id seen before.
    pub skipped: usize,
}

/// What a sync would do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    /// Puts in snapshot order, then deletes in id order.
    pub ops: Vec<Op>,
    pub adds: usize,
    pub updates: usize,
    pub deletes: usize,
    pub unchanged: usize,
}

/// The guard's refusal.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("mass-delete guard: the sync would delete {deletes} of {items} items, more than max_delete_ratio = {ratio}; nothing was changed")]
pub struct Refused {
    pub deletes: usize,
    pub items: usize,
    pub ratio: f64,
}

/// The ops that turn `current` (id → payload hash) into `snapshot`.
pub fn diff(current: &HashMap<String, u128>, snapshot: &Snapshot) -> Diff {
    let mut d = Diff::default();
    let mut seen: HashSet<&str> = HashSet::with_capacity(snapshot.items.len());
    for (id, payload) in &snapshot.items {
        if !seen.insert(id) {
            continue;
        }
        match current.get(id) {
            Some(h) if *h == payload_hash(payload) => {
                d.unchanged += 1;
                continue;
            }
            Some(_) => d.updates += 1,
            None => d.adds += 1,
        }
        d.ops.push(Op::Put {
            id: id.clone(),
            payload: payload.clone(),
        });
    }
    let mut gone: Vec<&String> = current
        .keys()
        .filter(|id| !seen.contains(id.as_str()) && !snapshot.kept.contains(*id))
        .collect();
    gone.sort();
    d.deletes = gone.len();
    d.ops
        .extend(gone.into_iter().map(|id| Op::Delete { id: id.clone() }));
    d
}

/// Refuse a diff that deletes more than `ratio` of the `items` the feed holds.
pub fn guard(d: &Diff, items: usize, ratio: f64) -> Result<(), Refused> {
    // usize → f64 is exact far beyond any feed's size.
    if d.deletes > 0 && d.deletes as f64 > ratio * items as f64 {
        return Err(Refused {
            deletes: d.deletes,
            items,
            ratio,
        });
    }
    Ok(())
}

/// [`content_hash`] of the payload's canonical JSON.
pub fn payload_hash(p: &Payload) -> u128 {
    // Serialising plain strings and numbers cannot fail.
    content_hash(&serde_json::to_vec(p).unwrap_or_default())
}

/// The first 128 bits of the SHA-256 of `bytes`: stable across builds and
/// platforms (unlike std's hasher), so hashes may be stored (an origin's last
/// body, `sync::State`).
pub fn content_hash(bytes: &[u8]) -> u128 {
    let digest = Sha256::digest(bytes);
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(title: &str) -> Payload {
        Payload {
            title: Some(title.into()),
            ..Payload::default()
        }
    }

    fn current(items: &[(&str, &str)]) -> HashMap<String, u128> {
        items
            .iter()
            .map(|(id, t)| (id.to_string(), payload_hash(&p(t))))
            .collect()
    }

    fn snap(items: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            items: items.iter().map(|(id, t)| (id.to_string(), p(t))).collect(),
            ..Snapshot::default()
        }
    }

    fn shown(d: &Diff) -> Vec<String> {
        d.ops
            .iter()
            .map(|op| match op {
                Op::Put { id, payload } | Op::Replace { id, payload, .. } => {
                    format!("put {id} {}", payload.title.as_deref().unwrap_or(""))
                }
                Op::Delete { id } => format!("delete {id}"),
            })
            .collect()
    }

    #[test]
    fn new_changed_missing_unchanged() {
        let cur = current(&[("a", "A"), ("b", "B"), ("c", "C"), ("z", "Z")]);
        let d = diff(&cur, &snap(&[("d", "D"), ("b", "B2"), ("a", "A")]));
        assert_eq!(shown(&d), ["put d D", "put b B2", "delete c", "delete z"]);
        assert_eq!((d.adds, d.updates, d.deletes, d.unchanged), (1, 1, 2, 1));
    }

    #[test]
    fn identical_state_is_no_op() {
        let cur = current(&[("a", "A"), ("b", "B")]);
        let d = diff(&cur, &snap(&[("b", "B"), ("a", "A")]));
        assert!(d.ops.is_empty());
        assert_eq!(d.unchanged, 2);
    }

    #[test]
    fn kept_items_are_neither_updated_nor_deleted() {
        let cur = current(&[("a", "A"), ("b", "B")]);
        let mut s = snap(&[("a", "A")]);
        s.kept.insert("b".into());
        assert!(diff(&cur, &s).ops.is_empty());
    }

    #[test]
    fn duplicates_count_once() {
        let d = diff(&HashMap::new(), &snap(&[("a", "first"), ("a", "second")]));
        assert_eq!(shown(&d), ["put a first"]);
    }

    #[test]
    fn the_guard() {
        let cur = current(&[("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")]);
        let empty = diff(&cur, &Snapshot::default());
        assert_eq!(
            guard(&empty, 4, 0.5),
            Err(Refused {
                deletes: 4,
                items: 4,
                ratio: 0.5
            })
        );
        assert!(guard(&empty, 4, 1.0).is_ok());
        let half = diff(&cur, &snap(&[("a", "A"), ("b", "B")]));
        assert!(guard(&half, 4, 0.5).is_ok(), "exactly the ratio is allowed");
        assert!(guard(&half, 4, 0.25).is_err());
        assert!(guard(&diff(&cur, &snap(&[("a", "A")])), 4, 0.5).is_err());
        assert!(guard(&diff(&HashMap::new(), &Snapshot::default()), 0, 0.0).is_ok());
        let msg = guard(&empty, 4, 0.5).unwrap_err().to_string();
        assert!(msg.contains("4 of 4") && msg.contains("0.5"), "{msg}");
    }

    #[test]
    fn hashes_are_stable_and_canonical() {
        assert_eq!(content_hash(b""), 0xe3b0c44298fc1c149afbf4c8996fb924);
        assert_eq!(content_hash(b"abc"), 0xba7816bf8f01cfea414140de5dae2223);
        let a: Payload = serde_json::from_str(r#"{"summary":"s","title":"t"}"#).unwrap();
        let b: Payload = serde_json::from_str(r#"{"title":"t","summary":"s"}"#).unwrap();
        assert_eq!(payload_hash(&a), payload_hash(&b));
        assert_ne!(payload_hash(&a), payload_hash(&p("t")));
    }
}
