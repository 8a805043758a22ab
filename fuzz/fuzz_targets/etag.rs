//! If-None-Match / ETag parsing: `tags`, `parse_tag`, `best_seq`, `resolve`.
//!
//! Properties: the tag iterator ends and yields pieces of its input; a parsed
//! tag formats back to a tag that parses to the same position; a well-formed
//! position put in front of any list is found by `best_seq` (the highest valid
//! one of the epoch wins); `resolve` never returns a position beyond the head
//! or a date after now, and agrees with `best_seq`.
#![no_main]

use feedgate::cursor::{best_seq, parse_tag, resolve, tags, Cursor, Position, Validators};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u64, u64, u64, &str)| {
    // The list comes last so that seed files are 24 bytes of numbers + text.
    let (seq, head, now, list) = input;
    // `tags` terminates and yields substrings of the list.
    let all: Vec<&str> = tags(list).take(list.len() + 2).collect();
    assert!(
        all.len() <= list.len() + 1,
        "tags does not advance: {list:?}"
    );
    for t in &all {
        let range = list.as_ptr() as usize..=list.as_ptr() as usize + list.len();
        assert!(
            range.contains(&(t.as_ptr() as usize)),
            "{t:?} not in {list:?}"
        );
        // parse_tag round-trips through the canonical form.
        if let Some(p) = parse_tag(t) {
            assert!(!p.epoch.is_empty());
            let canonical = format!("{}.{}", p.epoch, p.seq);
            assert_eq!(parse_tag(&canonical), Some(p), "{t:?}");
            assert!(canonical.len() <= t.len());
        }
    }

    // A formatted position round-trips in every accepted form. The epoch is
    // that of the list's first tag, so the list can hold rivals of it.
    let first = all
        .iter()
        .find_map(|t| parse_tag(t))
        .map_or("", |p| p.epoch);
    let epoch: String = first.chars().filter(char::is_ascii_alphanumeric).collect();
    let epoch = if epoch.is_empty() {
        "e".to_string()
    } else {
        epoch
    };
    let want = Position { epoch: &epoch, seq };
    for form in [
        format!("\"{epoch}.{seq}\""),
        format!("W/\"{epoch}.{seq}\""),
        format!("{epoch}.{seq}"),
        format!(" ,\"{epoch}.{seq}\" ,"),
    ] {
        let got: Vec<_> = tags(&form).map(parse_tag).collect();
        assert_eq!(got, [Some(want)], "{form:?}");
    }

    // In front of any list, the highest valid position of the epoch wins.
    let combined = format!("\"{epoch}.{seq}\", {list}");
    let alone = best_seq(list, &epoch, head);
    let ours = (seq <= head).then_some(seq);
    assert_eq!(
        best_seq(&combined, &epoch, head),
        alone.max(ours),
        "{combined:?}"
    );
    if let Some(s) = alone {
        assert!(s <= head);
    }

    // resolve: never beyond the head, never a future date, agrees with best_seq.
    for v in [
        Validators {
            if_none_match: Some(list),
            ..Default::default()
        },
        Validators {
            etag: Some(list),
            ..Default::default()
        },
        Validators {
            if_modified_since: Some(list),
            ..Default::default()
        },
        Validators {
            last_mod: Some(list),
            ..Default::default()
        },
    ] {
        match resolve(&v, &epoch, head, now) {
            Cursor::Seq(s) => assert!(s <= head),
            Cursor::Date(d) => assert!(d <= now),
            Cursor::Star => assert!(v.if_none_match.is_some()),
            Cursor::CatchUp => {}
        }
    }
    let inm = Validators {
        if_none_match: Some(&combined),
        ..Default::default()
    };
    // `combined` is a list with a tag in front: a `*` inside it is no tag
    // (RFC 9110 §13.1.2); only `If-None-Match: *` alone is the probe.
    let expected = best_seq(&combined, &epoch, head).map_or(Cursor::CatchUp, Cursor::Seq);
    assert_eq!(resolve(&inm, &epoch, head, now), expected);
    let star = Validators {
        if_none_match: Some(" * "),
        ..Default::default()
    };
    assert_eq!(resolve(&star, &epoch, head, now), Cursor::Star);
});
