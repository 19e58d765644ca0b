//! Conformance cases for the event log.

use lamba_model::{EventLogFilter, EventLogType, Instant, NewEventLog};

use crate::DynStore;

fn entry(at_millis: i64, event_type: EventLogType, message: &str) -> NewEventLog {
    NewEventLog {
        insert_instant: Instant::from_millis(at_millis),
        event_type,
        message: message.to_owned(),
    }
}

fn page(number_of_results: u64) -> EventLogFilter {
    EventLogFilter {
        number_of_results,
        ..EventLogFilter::default()
    }
}

pub async fn event_logs_search_newest_first_filtered_and_paged(store: DynStore) {
    let base = 1_700_000_000_000;
    let first = store
        .add_event_log(&entry(base, EventLogType::Debug, "Lambda one said Hello"))
        .await
        .unwrap();
    let second = store
        .add_event_log(&entry(base + 10, EventLogType::Error, "Lambda two threw"))
        .await
        .unwrap();
    assert!(second > first, "ids grow with insertion");
    // Inserted last but older: newest first goes by the instant.
    store
        .add_event_log(&entry(
            base - 10,
            EventLogType::Information,
            "ünïcödé and 'quotes' % _ hello",
        ))
        .await
        .unwrap();

    let (all, total) = store.search_event_logs(&page(10)).await.unwrap();
    assert_eq!(total, 3);
    let messages: Vec<&str> = all.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "Lambda two threw",
            "Lambda one said Hello",
            "ünïcödé and 'quotes' % _ hello"
        ]
    );
    assert_eq!(all[0].id, second);
    assert_eq!(all[0].event_type, EventLogType::Error);
    assert_eq!(all[0].insert_instant, Instant::from_millis(base + 10));

    // The message filter is a case-insensitive substring, with no wildcards.
    let (hello, total) = store
        .search_event_logs(&EventLogFilter {
            message: Some("HELLO".into()),
            ..page(10)
        })
        .await
        .unwrap();
    assert_eq!(total, 2);
    assert_eq!(hello.len(), 2);
    let (percent, total) = store
        .search_event_logs(&EventLogFilter {
            message: Some("%".into()),
            ..page(10)
        })
        .await
        .unwrap();
    assert_eq!((percent.len(), total), (1, 1));

    let (errors, total) = store
        .search_event_logs(&EventLogFilter {
            event_type: Some(EventLogType::Error),
            ..page(10)
        })
        .await
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(errors[0].message, "Lambda two threw");

    let (both, total) = store
        .search_event_logs(&EventLogFilter {
            event_type: Some(EventLogType::Debug),
            message: Some("threw".into()),
            ..page(10)
        })
        .await
        .unwrap();
    assert_eq!((both.len(), total), (0, 0));

    // Pages: the total is of every match, the page of `numberOfResults`.
    let (one, total) = store
        .search_event_logs(&EventLogFilter {
            start_row: 1,
            ..page(1)
        })
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].message, "Lambda one said Hello");
    let (past, total) = store
        .search_event_logs(&EventLogFilter {
            start_row: 5,
            ..page(10)
        })
        .await
        .unwrap();
    assert_eq!((past.len(), total), (0, 3));
}

pub async fn event_logs_prune_by_age_then_count(store: DynStore) {
    let base = 1_700_000_000_000;
    for i in 0..6 {
        store
            .add_event_log(&entry(base + i, EventLogType::Debug, &format!("entry {i}")))
            .await
            .unwrap();
    }
    // Entries 0 and 1 are too old; of the other four, the newest three stay.
    let pruned = store
        .prune_event_logs(Instant::from_millis(base + 2), 3)
        .await
        .unwrap();
    assert_eq!(pruned, 3);
    let (left, total) = store.search_event_logs(&page(10)).await.unwrap();
    assert_eq!(total, 3);
    let messages: Vec<&str> = left.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, ["entry 5", "entry 4", "entry 3"]);
    assert_eq!(
        store
            .prune_event_logs(Instant::from_millis(base), 10)
            .await
            .unwrap(),
        0
    );
}
