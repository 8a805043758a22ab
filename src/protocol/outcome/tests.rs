//! The read outcome rules, one by one, over plain plans and request facts.

use super::*;

/// A page `after..=last` whose last transaction is stamped `stamp_ms`, with
/// its Last-Modified second.
fn page(after: u64, last: u64, more: bool, stamp_ms: u64, last_modified: u64) -> Page {
    Page {
        after,
        last,
        last_stamp: (last > after).then_some(stamp_ms),
        more,
        last_modified,
        entries: Vec::new(),
    }
}

/// A query-form (`?etag=`) request for what follows `p`, with its cache slot.
fn query_form(p: u64) -> ReadRequest<'static> {
    ReadRequest {
        cursor: Cursor::Seq(p),
        conditional: false,
        representation: false,
        if_modified_since: None,
        slot: Some(p),
    }
}

const NOW: LogNow = LogNow {
    head: 10,
    head_stamp: 9_000,
    dropped: 0,
};

fn page_outcome(plan: Plan, request: &ReadRequest<'_>, now: LogNow) -> PageOutcome {
    match outcome(plan, request, now) {
        Outcome::Page(p) => p,
        other => panic!("expected a page, got {other:?}"),
    }
}

#[test]
fn limit_defaults_clamps_and_refuses_what_is_not_a_whole_number_from_one() {
    assert_eq!(page_limit(None, 50, 500), Some(50));
    assert_eq!(page_limit(Some("7"), 50, 500), Some(7));
    assert_eq!(page_limit(Some("501"), 50, 500), Some(500));
    assert_eq!(
        page_limit(Some("99999999999999999999999"), 50, 500),
        Some(500)
    );
    for bad in ["", "0", "-1", "+1", " 1", "1.5", "ten"] {
        assert_eq!(page_limit(Some(bad), 50, 500), None, "{bad:?}");
    }
}

#[test]
fn only_etag_cursors_before_the_head_and_after_the_dropped_mark_have_a_cache_slot() {
    assert_eq!(page_slot(Cursor::Seq(3), 10, 0), Some(3));
    assert_eq!(page_slot(Cursor::Seq(3), 10, 3), Some(3));
    assert_eq!(page_slot(Cursor::Seq(0), 10, 0), Some(0));
    // At the head (a 304), before a dropped tombstone (a catch-up).
    assert_eq!(page_slot(Cursor::Seq(10), 10, 0), None);
    assert_eq!(page_slot(Cursor::Seq(3), 10, 4), None);
    for cursor in [Cursor::Date(3), Cursor::CatchUp, Cursor::Star] {
        assert_eq!(page_slot(cursor, 10, 0), None, "{cursor:?}");
    }
}

#[test]
fn not_modified_stays_a_304_unless_an_unconditional_request_prefers_a_representation() {
    let plan = Plan::NotModified {
        position: 10,
        last_modified: 8,
    };
    let at_head = ReadRequest {
        slot: None,
        ..query_form(10)
    };
    let expected = Outcome::NotModified {
        position: 10,
        last_modified: 8,
    };
    assert_eq!(outcome(plan.clone(), &at_head, NOW), expected);
    // A conditional request asked for the 304: it gets it, preference or not.
    let conditional = ReadRequest {
        conditional: true,
        representation: true,
        ..at_head
    };
    assert_eq!(outcome(plan.clone(), &conditional, NOW), expected);

    let preferring = ReadRequest {
        representation: true,
        ..at_head
    };
    let p = page_outcome(plan, &preferring, NOW);
    assert!(p.preferred);
    assert_eq!(p.page, page(10, 10, false, 0, 8));
    assert_eq!((p.next, p.immutable, p.keep), (None, false, None));
    assert_eq!(p.sync_mode, SyncMode::Immediate);
    assert!(p.dated);
    assert_eq!((p.digest_tick, p.digest_stamp), (11, Some(9_000)));
}

#[test]
fn the_next_link_continues_from_the_end_of_a_page_with_more() {
    let p = page_outcome(Plan::Page(page(3, 5, true, 5_000, 5)), &query_form(3), NOW);
    assert_eq!(p.next, Some(5));
    let p = page_outcome(
        Plan::Page(page(3, 10, false, 9_000, 9)),
        &query_form(3),
        NOW,
    );
    assert_eq!(p.next, None);
}

#[test]
fn sync_mode_is_catch_up_from_the_start_of_the_log_else_immediate() {
    let catch_up = ReadRequest {
        cursor: Cursor::CatchUp,
        slot: None,
        ..query_form(0)
    };
    let p = page_outcome(Plan::Page(page(0, 10, false, 9_000, 9)), &catch_up, NOW);
    assert_eq!(p.sync_mode, SyncMode::CatchUp);
    let p = page_outcome(
        Plan::Page(page(3, 10, false, 9_000, 9)),
        &query_form(3),
        NOW,
    );
    assert_eq!(p.sync_mode, SyncMode::Immediate);
    // A delta from position 0 starts at the beginning too.
    let p = page_outcome(Plan::Page(page(0, 5, true, 5_000, 5)), &query_form(0), NOW);
    assert_eq!(p.sync_mode, SyncMode::CatchUp);
}

#[test]
fn only_full_query_form_deltas_are_immutable_and_name_their_own_end_in_the_digest() {
    let immutable = |request: ReadRequest<'_>, page: Page| {
        page_outcome(Plan::Page(page), &request, NOW).immutable
    };
    assert!(immutable(query_form(3), page(3, 5, true, 5_000, 5)));
    assert!(immutable(query_form(0), page(0, 5, true, 5_000, 5)));
    // Selected by a header, reaching the head, a catch-up instead of the
    // delta asked for, a date cursor, no cursor.
    let header = ReadRequest {
        conditional: true,
        ..query_form(3)
    };
    assert!(!immutable(header, page(3, 5, true, 5_000, 5)));
    assert!(!immutable(query_form(3), page(3, 10, false, 9_000, 9)));
    assert!(!immutable(query_form(3), page(0, 5, true, 5_000, 5)));
    for cursor in [Cursor::Date(3), Cursor::CatchUp] {
        let r = ReadRequest {
            cursor,
            slot: None,
            ..query_form(3)
        };
        assert!(!immutable(r, page(3, 5, true, 5_000, 5)), "{cursor:?}");
    }

    let p = page_outcome(Plan::Page(page(3, 5, true, 5_000, 5)), &query_form(3), NOW);
    assert_eq!((p.digest_tick, p.digest_stamp), (6, Some(5_000)));
    let p = page_outcome(
        Plan::Page(page(3, 10, false, 9_000, 9)),
        &query_form(3),
        NOW,
    );
    assert_eq!((p.digest_tick, p.digest_stamp), (11, Some(9_000)));
}

#[test]
fn the_digest_of_an_empty_log_has_no_stamp() {
    let empty = LogNow {
        head: 0,
        head_stamp: 0,
        dropped: 0,
    };
    let catch_up = ReadRequest {
        cursor: Cursor::CatchUp,
        slot: None,
        ..query_form(0)
    };
    let p = page_outcome(Plan::Page(page(0, 0, false, 0, 0)), &catch_up, empty);
    assert_eq!((p.digest_tick, p.digest_stamp), (1, None));
}

#[test]
fn an_etag_selected_page_drops_last_modified_when_not_newer_than_if_modified_since() {
    // Second 1_700_000_000 is Tue, 14 Nov 2023 22:13:20 GMT.
    let ims = Some("Tue, 14 Nov 2023 22:13:20 GMT");
    let header = ReadRequest {
        conditional: true,
        if_modified_since: ims,
        ..query_form(3)
    };
    assert!(!header.dated(1_700_000_000));
    assert!(!header.dated(1_699_999_999));
    assert!(header.dated(1_700_000_001));
    let p = page_outcome(
        Plan::Page(page(3, 5, true, 5_000, 1_700_000_000)),
        &header,
        NOW,
    );
    assert!(!p.dated);
    // A date-selected page keeps its date; so does one without a usable
    // If-Modified-Since.
    let by_date = ReadRequest {
        cursor: Cursor::Date(1_700_000_000),
        ..header
    };
    assert!(by_date.dated(1_700_000_000));
    let unusable = ReadRequest {
        if_modified_since: Some("yesterday"),
        ..header
    };
    assert!(unusable.dated(1_700_000_000));
    assert!(query_form(3).dated(0));
}

#[test]
fn a_page_is_kept_in_memory_when_full_or_at_the_head_with_its_last_second_whole() {
    let keep = |request: ReadRequest<'_>, page: Page, now: LogNow| {
        page_outcome(Plan::Page(page), &request, now).keep
    };
    // Full: kept whatever follows.
    assert_eq!(
        keep(query_form(3), page(3, 5, true, 5_000, 5), NOW),
        Some(Keep {
            full: true,
            head: 10
        })
    );
    // At the head, last second whole (stamp second = Last-Modified second).
    assert_eq!(
        keep(query_form(3), page(3, 10, false, 9_000, 9), NOW),
        Some(Keep {
            full: false,
            head: 10
        })
    );
    // At the head with its last second still open: its date will change.
    assert_eq!(keep(query_form(3), page(3, 10, false, 9_000, 8), NOW), None);
    // Reached the planned head, which has moved since: the digest would lie.
    assert_eq!(keep(query_form(3), page(3, 8, false, 8_000, 8), NOW), None);
    // No slot; a catch-up instead of the delta; a tombstone dropped past the slot.
    let no_slot = ReadRequest {
        slot: None,
        ..query_form(3)
    };
    assert_eq!(keep(no_slot, page(3, 5, true, 5_000, 5), NOW), None);
    assert_eq!(keep(query_form(3), page(0, 5, true, 5_000, 5), NOW), None);
    let dropped = LogNow { dropped: 4, ..NOW };
    assert_eq!(
        keep(query_form(3), page(3, 5, true, 5_000, 5), dropped),
        None
    );
}
