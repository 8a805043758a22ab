//! Unit tests of validator parsing and cursor precedence.

use super::*;

const E: &str = "ab12cd34ef56ab78";
const NOW: u64 = 1_700_000_000;

fn v<'a>() -> Validators<'a> {
    Validators::default()
}

#[test]
fn tag_lists() {
    let got: Vec<_> = tags(r#""a.1", W/"b.2",c.3 ,, "d,4""#).collect();
    assert_eq!(got, ["a.1", "b.2", "c.3", "d,4"]);
    assert_eq!(tags("").count(), 0);
    assert_eq!(
        tags(r#""unterminated"#).collect::<Vec<_>>(),
        ["unterminated"]
    );
    assert_eq!(tags("W/").count(), 0);
}

#[test]
fn tag_parsing() {
    assert_eq!(parse_tag("e.5"), Some(Position { epoch: "e", seq: 5 }));
    assert_eq!(parse_tag("e.0"), Some(Position { epoch: "e", seq: 0 }));
    for bad in [
        "e",
        ".5",
        "e.",
        "e.-1",
        "e.+1",
        "e.1x",
        "e.99999999999999999999",
    ] {
        assert_eq!(parse_tag(bad), None, "{bad}");
    }
}

#[test]
fn the_one_tag_fast_path_agrees_with_the_list_path() {
    let inputs = [
        format!("\"{E}.4\""),
        format!("\"{E}.9\""),
        format!("\"{E}.10\""),
        format!("\"{E}.0\""),
        format!("\"{E}.\""),
        format!("\"{E}.+4\""),
        format!("\"{E}.4\"x\""),
        format!("\"{E}.4\", \"{E}.6\""),
        format!("\"{E}.99999999999999999999\""),
        format!("\"{E}x.4\""),
        format!("\"{E}\""),
        "\"\"".to_string(),
        "\"".to_string(),
    ];
    for inm in &inputs {
        let general = if is_star(inm) {
            Cursor::Star
        } else {
            best_seq(inm, E, 9).map_or(Cursor::CatchUp, Cursor::Seq)
        };
        let v = Validators {
            if_none_match: Some(inm),
            ..v()
        };
        assert_eq!(resolve(&v, E, 9, NOW), general, "{inm}");
    }
    assert_eq!(one_tag_of(&inputs[0], E), Some(4));
    assert_eq!(one_tag_of(&inputs[7], E), None);
}

#[test]
fn highest_valid_position_of_this_epoch_wins() {
    let list = format!(r#""{E}.3", "other.9", W/"{E}.7", "{E}.50", garbage"#);
    assert_eq!(best_seq(&list, E, 10), Some(7));
    assert_eq!(best_seq(&list, E, 50), Some(50));
    assert_eq!(best_seq(r#""other.1""#, E, 10), None);
}

#[test]
fn if_none_match_rules() {
    let inm = format!(r#"W/"{E}.4""#);
    let c = resolve(
        &Validators {
            if_none_match: Some(&inm),
            ..v()
        },
        E,
        9,
        NOW,
    );
    assert_eq!(c, Cursor::Seq(4));
    // A `*` inside a list is no tag: the list's positions count, and a list
    // with none is a catch-up (RFC 9110 §13.1.2).
    let c = resolve(
        &Validators {
            if_none_match: Some(r#""x", *"#),
            ..v()
        },
        E,
        9,
        NOW,
    );
    assert_eq!(c, Cursor::CatchUp);
    let held = format!("\"{E}.1\", *");
    let c = resolve(
        &Validators {
            if_none_match: Some(&held),
            ..v()
        },
        E,
        9,
        NOW,
    );
    assert_eq!(c, Cursor::Seq(1));
    let c = resolve(
        &Validators {
            if_none_match: Some(" * "),
            ..v()
        },
        E,
        9,
        NOW,
    );
    assert_eq!(c, Cursor::Star);
    // A seq beyond the head, a foreign epoch, garbage: catch-up.
    for bad in [format!("\"{E}.10\""), "\"zz.3\"".into(), "%%%".into()] {
        let c = resolve(
            &Validators {
                if_none_match: Some(&bad),
                ..v()
            },
            E,
            9,
            NOW,
        );
        assert_eq!(c, Cursor::CatchUp, "{bad}");
    }
}

#[test]
fn if_none_match_beats_everything_and_ignores_dates() {
    let inm = format!("\"{E}.2\"");
    let etag = format!("{E}.5");
    let all = Validators {
        if_none_match: Some(&inm),
        etag: Some(&etag),
        if_modified_since: Some("Sun, 06 Nov 1994 08:49:37 GMT"),
        last_mod: Some("1994-11-06T08:49:37Z"),
    };
    assert_eq!(resolve(&all, E, 9, NOW), Cursor::Seq(2));
    // Invalid If-None-Match still wins over a valid date: catch-up.
    let bad = Validators {
        if_none_match: Some("\"nope\""),
        ..all
    };
    assert_eq!(resolve(&bad, E, 9, NOW), Cursor::CatchUp);
}

#[test]
fn etag_parameter_beats_dates() {
    let etag = format!("{E}.5");
    let q = Validators {
        etag: Some(&etag),
        last_mod: Some("1994-11-06T08:49:37Z"),
        if_modified_since: Some("Sun, 06 Nov 1994 08:49:37 GMT"),
        ..v()
    };
    assert_eq!(resolve(&q, E, 9, NOW), Cursor::Seq(5));
    let quoted = format!("\"{E}.6\"");
    assert_eq!(
        resolve(
            &Validators {
                etag: Some(&quoted),
                ..v()
            },
            E,
            9,
            NOW
        ),
        Cursor::Seq(6)
    );
    let bad = Validators {
        etag: Some("zz.1"),
        last_mod: Some("1994-11-06T08:49:37Z"),
        ..v()
    };
    assert_eq!(resolve(&bad, E, 9, NOW), Cursor::CatchUp);
    // An empty parameter counts as absent.
    let empty = Validators {
        etag: Some(""),
        last_mod: Some("1994-11-06T08:49:37Z"),
        ..v()
    };
    assert_eq!(resolve(&empty, E, 9, NOW), Cursor::Date(784_111_777));
}

#[test]
fn http_dates_in_all_three_forms() {
    for s in [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    ] {
        assert_eq!(parse_http_date(s), Some(784_111_777), "{s}");
        let c = resolve(
            &Validators {
                if_modified_since: Some(s),
                ..v()
            },
            E,
            9,
            NOW,
        );
        assert_eq!(c, Cursor::Date(784_111_777));
    }
    assert_eq!(parse_http_date("yesterday"), None);
}

#[test]
fn last_mod_forms() {
    for s in [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 +0000",
        "1994-11-06T08:49:37Z",
        "1994-11-06T08:49:37.999Z",
        "1994-11-06T09:49:37+01:00",
        "1994-11-06T09:49:37 01:00",
    ] {
        assert_eq!(parse_last_mod(s), Some(784_111_777), "{s}");
    }
    assert_eq!(parse_last_mod("1994-13-06T08:49:37Z"), None);
}

#[test]
fn if_modified_since_beats_last_mod_and_bad_dates_catch_up() {
    let both = Validators {
        if_modified_since: Some("Sun, 06 Nov 1994 08:49:37 GMT"),
        last_mod: Some("2000-01-01T00:00:00Z"),
        ..v()
    };
    assert_eq!(resolve(&both, E, 9, NOW), Cursor::Date(784_111_777));
    let lm = Validators {
        last_mod: Some("2000-01-01T00:00:00Z"),
        ..v()
    };
    assert_eq!(resolve(&lm, E, 9, NOW), Cursor::Date(946_684_800));
    let bad = Validators {
        if_modified_since: Some("garbage"),
        ..v()
    };
    assert_eq!(resolve(&bad, E, 9, NOW), Cursor::CatchUp);
    let future = Validators {
        last_mod: Some("2100-01-01T00:00:00Z"),
        ..v()
    };
    assert_eq!(resolve(&future, E, 9, NOW), Cursor::CatchUp);
    assert_eq!(resolve(&v(), E, 9, NOW), Cursor::CatchUp);
}
