use super::*;
use proptest::prelude::*;

fn full() -> Payload {
    Payload {
        title: Some("Tïtle <b>]]></b>".into()),
        link: Some("https://example.org/a?b=c".into()),
        summary: Some(String::new()),
        content: Some("x\u{1}y".into()),
        content_type: Some("html".into()),
        author: Some("A".into()),
        categories: vec!["one".into(), String::new(), "three".into()],
        enclosures: vec![Enclosure {
            url: "https://example.org/m.mp3".into(),
            length: u64::MAX,
            mime: "audio/mpeg".into(),
            via: None,
        }],
        published: Some("2026-11-25T00:00:00Z".into()),
    }
}

fn chunk(txns: &[Txn]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in txns {
        put_entry(
            &mut out,
            t.seq,
            t.stamp,
            t.born,
            t.action,
            &t.id,
            t.payload.as_ref(),
        );
    }
    out
}

fn decode(bytes: &[u8]) -> Result<Vec<Txn>, CodecError> {
    entries(bytes).map(|e| e?.txn()).collect()
}

fn sample() -> Vec<Txn> {
    let txn = |seq, action, payload| Txn {
        seq,
        id: format!("item-{seq}-é"),
        action,
        stamp: 1_700_000_000_000 + seq,
        born: seq - 1,
        payload,
    };
    vec![
        txn(5, Action::Add, Some(full())),
        txn(6, Action::Update, Some(Payload::default())),
        txn(9, Action::Delete, None),
    ]
}

#[test]
fn a_chunk_round_trips_and_headers_need_no_body() {
    let txns = sample();
    let bytes = chunk(&txns);
    assert_eq!(decode(&bytes).unwrap(), txns);
    let heads: Vec<(u64, u64, Action, String)> = entries(&bytes)
        .map(|e| {
            let e = e.unwrap();
            let h = e.head().unwrap();
            (e.seq, e.stamp, h.action, h.id.to_string())
        })
        .collect();
    assert_eq!(
        heads[2],
        (9, 1_700_000_000_009, Action::Delete, "item-9-é".into())
    );
    // Entries copied byte for byte make the same chunk (compaction's rewrite).
    let kept: Vec<u8> = entries(&bytes)
        .filter_map(Result::ok)
        .filter(|e| e.seq != 6)
        .flat_map(|e| e.bytes.to_vec())
        .collect();
    assert_eq!(
        decode(&kept).unwrap(),
        vec![txns[0].clone(), txns[2].clone()]
    );
}

#[test]
fn records_round_trip() {
    let mut live = Vec::new();
    put_live(&mut live, 7, 8, 3, &full());
    assert_eq!(
        record(&live).unwrap(),
        Record::Live(ItemState {
            seq: 7,
            stamp: 8,
            born: 3,
            payload: full()
        })
    );
    assert_eq!(record(&tomb(42)).unwrap(), Record::Tomb(42));
}

#[test]
fn a_payload_without_a_via_keeps_its_bytes_and_one_with_it_round_trips() {
    // The bytes a payload had before `via` existed: no extension.
    let mut old = Vec::new();
    put_live(&mut old, 7, 8, 7, &full());
    assert!(
        old.ends_with(b"2026-11-25T00:00:00Z"),
        "ends with `published`, no extension"
    );
    let mut mirrored = full();
    mirrored.enclosures[0].via = Some("https://media.example.org/m.mp3".into());
    mirrored.enclosures.push(Enclosure {
        url: "v".into(),
        length: 1,
        mime: "m".into(),
        via: None,
    });
    let mut out = Vec::new();
    put_live(&mut out, 7, 8, 7, &mirrored);
    let Record::Live(state) = record(&out).unwrap() else {
        panic!("live")
    };
    assert_eq!(state.payload, mirrored);
    // An unknown extension is an error, never a payload read wrongly.
    let mut future = old.clone();
    future.push(9);
    assert!(matches!(record(&future), Err(CodecError::Tag(9))));
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let bytes = chunk(&sample());
    for n in 0..bytes.len() {
        let cut = &bytes[..n];
        let whole = decode(cut);
        // A cut on an entry boundary decodes the entries before it.
        if let Ok(txns) = whole {
            assert!(txns.len() < 3, "cut at {n}");
            assert_eq!(chunk(&txns), cut);
        }
    }
    let mut live = Vec::new();
    put_live(&mut live, 7, 8, 3, &full());
    for n in 0..live.len() {
        assert!(record(&live[..n]).is_err(), "cut at {n}");
    }
    assert_eq!(record(&[9]), Err(CodecError::Tag(9)));
}

#[test]
fn a_corrupt_count_does_not_allocate_what_it_claims() {
    let mut live = Vec::new();
    put_live(&mut live, 1, 1, 1, &Payload::default());
    // The categories count follows six absent optional fields.
    let at = 1 + 24 + 6;
    live[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(record(&live), Err(CodecError::Truncated));
}

proptest! {
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes);
        let _ = record(&bytes);
    }

    #[test]
    fn payloads_round_trip(
        title in proptest::option::of(".{0,20}"),
        cats in proptest::collection::vec(".{0,8}", 0..4),
        len in any::<u64>(),
        published in proptest::option::of("[0-9TZ:-]{0,20}"),
        via in proptest::option::of(".{0,12}"),
    ) {
        let p = Payload {
            title,
            categories: cats,
            enclosures: vec![
                Enclosure { url: "u".into(), length: len, mime: "m".into(), via },
                Enclosure { url: "w".into(), length: 0, mime: "n".into(), via: None },
            ],
            published,
            ..Payload::default()
        };
        let mut out = Vec::new();
        put_live(&mut out, 1, 2, 1, &p);
        prop_assert_eq!(record(&out).unwrap(), Record::Live(ItemState { seq: 1, stamp: 2, born: 1, payload: p }));
    }
}
