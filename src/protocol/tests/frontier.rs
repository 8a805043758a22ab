//! The whole-second rules and `Last-Modified` with transactions that are
//! written but not visible yet, or whose group is still being applied.

use super::*;

const S: u64 = T0 / 1000;

fn lm_of(plan: &Plan) -> (u64, u64) {
    match plan {
        Plan::NotModified {
            position,
            last_modified,
        } => (*position, *last_modified),
        Plan::Page(p) => (p.last, p.last_modified),
    }
}

#[test]
fn date_responses_never_end_inside_a_second_with_unpublished_writes() {
    let mut log = Mem::new();
    log.push("a", Action::Add, T0 + 100); // second S, visible
    log.push("b", Action::Add, T0 + 1100); // second S+1, visible
    log.write("c", Action::Add, T0 + 1900); // second S+1, written, not visible
    let now = T0 + 3000; // S+1 is over on the clock, but not settled
    let p = page_of(plan(&log, Cursor::CatchUp, now, BIG).unwrap());
    assert_eq!((p.last, p.last_modified), (1, S), "b waits for c");
    // A date cursor at S: nothing to give yet, and the 304 names what is held.
    let not_modified = plan(&log, Cursor::Date(S), now, BIG).unwrap();
    assert_eq!(lm_of(&not_modified), (1, S));
    // A claim on S+1 is cut back too: position 1, never 2.
    let not_modified = plan(&log, Cursor::Date(S + 1), now, BIG).unwrap();
    assert_eq!(lm_of(&not_modified), (1, S));
    log.publish();
    let p = page_of(plan(&log, Cursor::Date(S), now, BIG).unwrap());
    assert_eq!((p.after, p.last, p.last_modified), (1, 3, S + 1));
    assert_eq!(shown(&p), [(2, "b", Action::Add), (3, "c", Action::Add)]);
}

#[test]
fn a_group_in_flight_keeps_the_head_second_open() {
    let mut log = Mem::new();
    log.push("a", Action::Add, T0 + 100);
    // A group is being applied: its stamp is not known, only that it is at
    // least the last stamp.
    log.in_flight = Some(T0 + 100);
    let now = T0 + 5000;
    assert_eq!(
        lm_of(&plan(&log, Cursor::Seq(1), now, BIG).unwrap()),
        (1, S - 1)
    );
    let p = page_of(plan(&log, Cursor::CatchUp, now, BIG).unwrap());
    assert_eq!((p.last, p.last_modified), (0, S - 60 - 1));
    log.in_flight = None;
    assert_eq!(
        lm_of(&plan(&log, Cursor::Seq(1), now, BIG).unwrap()),
        (1, S)
    );
}

#[test]
fn last_modified_names_the_latest_whole_second_held() {
    let mut log = Mem::new();
    log.push("a", Action::Add, T0 + 100);
    log.push("b", Action::Add, T0 + 200);
    log.push("c", Action::Add, T0 + 1100);
    let lim = Limits {
        max_entries: 1,
        ..BIG
    };
    let now = T0 + 1500;
    // Position 0: the second before the log was created.
    let p = page_of(plan(&log, Cursor::Seq(0), now, lim).unwrap());
    assert_eq!((p.last, p.last_modified), (1, S - 1), "a page inside S");
    let p = page_of(plan(&log, Cursor::Seq(1), now, lim).unwrap());
    assert_eq!((p.last, p.last_modified), (2, S), "b ends S");
    // The head's second is the current one: not whole yet.
    let p = page_of(plan(&log, Cursor::Seq(2), now, lim).unwrap());
    assert_eq!((p.last, p.last_modified), (3, S));
    assert_eq!(
        lm_of(&plan(&log, Cursor::Seq(3), now, lim).unwrap()),
        (3, S)
    );
    // Once the clock has left it, it is.
    let later = T0 + 2000;
    assert_eq!(
        lm_of(&plan(&log, Cursor::Seq(3), later, lim).unwrap()),
        (3, S + 1)
    );
    // An empty log: 304 at position 0 is dated before its creation.
    let empty = Mem::new();
    assert_eq!(
        lm_of(&plan(&empty, Cursor::Star, now, lim).unwrap()),
        (0, S - 61)
    );
}

#[test]
fn a_second_beyond_the_hard_cap_ends_inside_it_with_a_next_link() {
    let mut log = Mem::new();
    log.push("a", Action::Add, T0 + 100);
    for i in 0..10 {
        log.push(&format!("s{i}"), Action::Add, T0 + 1000 + i);
    }
    log.push("z", Action::Add, T0 + 2000);
    let now = T0 + 10_000;
    let lim = Limits {
        max_entries: 2,
        max_bytes: usize::MAX,
        second_entries: 5,
        second_bytes: usize::MAX,
    };
    let p = page_of(plan(&log, Cursor::Date(S), now, lim).unwrap());
    // Five of the second's ten, then `next` (by ETag); Last-Modified stays
    // at the second before, so a date-only consumer repeats, never skips.
    assert_eq!((p.after, p.last, p.more, p.last_modified), (1, 6, true, S));
    let p = page_of(plan(&log, Cursor::Seq(6), now, lim).unwrap());
    assert_eq!((p.last, p.last_modified), (8, S));
    // The byte cap bounds it too (each entry here is ~100 bytes).
    let lim = Limits {
        second_entries: usize::MAX,
        second_bytes: 1,
        ..lim
    };
    let p = page_of(plan(&log, Cursor::Date(S), now, lim).unwrap());
    assert!(p.last < 11 && p.more, "{p:?}");
}

/// A tiny deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What the consumers of the lossless-cursor rule keep between polls.
#[derive(Clone, Copy, Debug)]
enum Keeps {
    /// Only `Last-Modified` (curl -R -z, wget -N, `?lastMod=`).
    Date,
    /// `Last-Modified`, but follows `next` links (by ETag) while there are.
    DateAndNext,
    /// The ETag.
    Etag,
}

/// Writers whose groups become visible 0-400 ms after their stamp (and out
/// of order), four transactions per 50 ms tick, while consumers poll every
/// tick: each ends up having seen every seq.
#[test]
fn every_follower_sees_every_seq_while_visibility_lags_the_stamps() {
    for seed in 1..=20u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut log = Mem::new();
        // (last seq of a group, when it becomes visible)
        let mut groups: Vec<(u64, u64)> = vec![];
        let kinds = [Keeps::Date, Keeps::DateAndNext, Keeps::Etag];
        let mut cursors = [Cursor::CatchUp; 3];
        let mut seen = [vec![], vec![], vec![]];
        let lim = Limits {
            max_entries: 3,
            max_bytes: usize::MAX,
            second_entries: 1000,
            second_bytes: usize::MAX,
        };
        let mut now = T0;
        for tick in 0..600u64 {
            now += 50;
            if tick < 400 {
                for _ in 0..rng.below(5) {
                    let n = log.txns.len();
                    let seq = log.write(&format!("i{n}"), Action::Add, now);
                    groups.push((seq, now + rng.below(400)));
                }
            }
            // Publishing a group makes every earlier one visible too.
            let visible = groups.iter().filter(|g| g.1 <= now).map(|g| g.0).max();
            log.head = log.head.max(visible.unwrap_or(0));
            for (i, kind) in kinds.iter().enumerate() {
                let cursor = cursors[i];
                let Plan::Page(p) = plan(&log, cursor, now, lim).unwrap() else {
                    continue;
                };
                seen[i].extend(p.after + 1..=p.last);
                cursors[i] = match kind {
                    Keeps::Date => Cursor::Date(p.last_modified),
                    Keeps::DateAndNext if p.more => Cursor::Seq(p.last),
                    Keeps::DateAndNext => Cursor::Date(p.last_modified),
                    Keeps::Etag => Cursor::Seq(p.last),
                };
            }
        }
        let all = log.txns.len() as u64;
        assert_eq!(log.head, all, "seed {seed}: everything published");
        for (i, kind) in kinds.iter().enumerate() {
            let mut got = seen[i].clone();
            got.sort_unstable();
            let missed: Vec<u64> = (1..=all)
                .filter(|s| got.binary_search(s).is_err())
                .collect();
            assert!(missed.is_empty(), "seed {seed}: {kind:?} missed {missed:?}");
        }
        // ETag followers never repeat.
        assert_eq!(seen[2].len() as u64, all, "seed {seed}");
    }
}
