//! What the store keeps beside the log: item states, an upstream feed's
//! sync state, consumer records, the WebSub hub's records.

use super::{del, feeds, put, Open};
use crate::clock::ManualClock;
use crate::store::ConsumerRecord;
use std::sync::Arc;

pub(super) async fn items_are_the_current_states_in_id_order(open: Open) {
    let store = open(&feeds(), Arc::new(ManualClock::new(5_000))).await;
    let log = store.feed("news").unwrap();
    log.append(&[put("b", "1"), put("a", "1"), put("c", "1")])
        .await
        .unwrap();
    log.append(&[put("a", "2"), del("c")]).await.unwrap();
    let items = log.items().await.unwrap();
    let shown: Vec<_> = items
        .iter()
        .map(|(id, s)| (id.as_str(), s.seq, s.born, s.payload.title.as_deref()))
        .collect();
    assert_eq!(shown, [("a", 4, 2, Some("2")), ("b", 1, 1, Some("1"))]);
    let a = log.item("a").await.unwrap().unwrap();
    assert_eq!((a.seq, a.stamp, a.born), (4, 5_000, 2));
    assert_eq!(log.item("c").await.unwrap(), None);
    assert_eq!(log.published().live, 2);
    assert!(store
        .feed("other")
        .unwrap()
        .items()
        .await
        .unwrap()
        .is_empty());
    assert!(store.feed("missing").is_none());
    let names: Vec<String> = store.feeds().iter().map(|l| l.name().to_string()).collect();
    assert_eq!(names, feeds());
}

pub(super) async fn upstream_state_is_kept_per_feed(open: Open) {
    let store = open(&feeds(), Arc::new(ManualClock::new(5_000))).await;
    let (news, other) = (store.feed("news").unwrap(), store.feed("other").unwrap());
    assert_eq!(news.upstream_state().await.unwrap(), None);
    news.set_upstream_state(b"one").await.unwrap();
    news.set_upstream_state(b"two").await.unwrap();
    assert_eq!(
        news.upstream_state().await.unwrap().as_deref(),
        Some(&b"two"[..])
    );
    assert_eq!(other.upstream_state().await.unwrap(), None);
    // It is no transaction.
    assert_eq!(news.published().seq, 0);
}

fn record(feed: &str, name: &str, position: u64) -> ConsumerRecord {
    ConsumerRecord {
        feed: feed.into(),
        name: name.into(),
        epoch: "e".into(),
        position,
        polled_ms: 1_000 + position,
    }
}

pub(super) async fn consumer_records_are_replaced_and_removed(open: Open) {
    let store = open(&feeds(), Arc::new(ManualClock::new(5_000))).await;
    assert!(store.consumer_records().await.unwrap().is_empty());
    let first = [
        record("news", "a", 1),
        record("news", "b", 2),
        record("other", "a", 3),
    ];
    store.save_consumer_records(&first, &[]).await.unwrap();
    store
        .save_consumer_records(&[record("news", "a", 7)], &[("news".into(), "b".into())])
        .await
        .unwrap();
    let mut got = store.consumer_records().await.unwrap();
    got.sort_by(|x, y| (&x.feed, &x.name).cmp(&(&y.feed, &y.name)));
    assert_eq!(got, [record("news", "a", 7), record("other", "a", 3)]);
    store.flush().await.unwrap();
    store.check_writable().await.unwrap();
}

pub(super) async fn hub_records_are_written_replaced_and_removed(open: Open) {
    let store = open(&feeds(), Arc::new(ManualClock::new(5_000))).await;
    assert!(store.hub_records().await.unwrap().is_empty());
    store
        .save_hub_record("news http://a/cb", Some(b"1"))
        .await
        .unwrap();
    store
        .save_hub_record("news http://b/cb", Some(b"2"))
        .await
        .unwrap();
    store
        .save_hub_record("news http://a/cb", Some(b"3"))
        .await
        .unwrap();
    store
        .save_hub_record("news http://b/cb", None)
        .await
        .unwrap();
    store
        .save_hub_record("news http://never/cb", None)
        .await
        .unwrap();
    store.flush().await.unwrap();
    assert_eq!(
        store.hub_records().await.unwrap(),
        [("news http://a/cb".to_string(), b"3".to_vec())]
    );
    assert!(store.hub_turn().await.unwrap().is_some());
}
