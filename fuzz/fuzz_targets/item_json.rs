//! Push API JSON: `feedgate::ingest::parse_put` and `parse_batch`.
//!
//! Input: the first byte picks PUT or batch; for a PUT, the bytes up to the
//! first NUL are the path id, the rest the body. Properties: a rejection is
//! always `invalid_item`; an accepted item has a valid id and round-trips
//! (its JSON as `GET …/items/{id}` shows it parses back to the same payload);
//! an accepted batch has valid ids and re-encodes to the same operations.
#![no_main]

use feedgate::ingest::{item_json, parse_batch, parse_put};
use feedgate::model::valid_item_id;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let (id, body) = match rest.iter().position(|&b| b == 0) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (&b"item"[..], rest),
        };
        let Ok(id) = std::str::from_utf8(id) else {
            return;
        };
        match parse_put(body, id) {
            Ok(payload) => {
                assert!(valid_item_id(id), "{id:?}");
                let back = item_json(id, &payload).to_string();
                assert_eq!(parse_put(back.as_bytes(), id).ok(), Some(payload), "{back}");
            }
            Err(e) => assert_eq!(e.code(), "invalid_item", "{e}"),
        }
    } else {
        match parse_batch(rest) {
            Ok(ops) => {
                let json: Vec<serde_json::Value> = ops
                    .iter()
                    .map(|op| {
                        assert!(valid_item_id(op.id()), "{:?}", op.id());
                        match op.payload() {
                            Some(payload) => item_json(op.id(), payload),
                            None => serde_json::json!({"id": op.id(), "deleted": true}),
                        }
                    })
                    .collect();
                let back = serde_json::Value::Array(json).to_string();
                assert_eq!(parse_batch(back.as_bytes()).ok(), Some(ops), "{back}");
            }
            Err(e) => assert_eq!(e.code(), "invalid_item", "{e}"),
        }
    }
});
