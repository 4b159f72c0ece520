//! The WAL stays small under a long stream of writes (an import of many contacts), instead
//! of growing by every write until the next start.

use std::sync::Arc;

use rebound_store::sqlite::SqliteStore;
use rebound_store::{NewContact, Store};

/// Writes `batches` batches of 2,000 contacts and returns the largest WAL file seen.
async fn largest_wal(limit: u64, batches: usize) -> u64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rebound.db");
    let store = Arc::new(SqliteStore::open(&path).expect("open"));
    store.set_wal_limit(limit);
    let wal = dir.path().join("rebound.db-wal");
    // A reader that keeps asking, as the API does while an import runs.
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                let _ = store.inbox_counts().await;
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        })
    };
    let mut largest = 0;
    for b in 0..batches {
        let contacts = (0..2000)
            .map(|i| {
                let email = format!("user{b}-{i}@example.com");
                NewContact {
                    email_key: email.clone(),
                    email,
                    status: None,
                    reason: None,
                    uuid: None,
                    attributes: serde_json::json!({"plan": "pro", "n": i}),
                    now: 1,
                }
            })
            .collect();
        store
            .upsert_contacts(contacts, false)
            .await
            .expect("upsert");
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    reader.abort();
    largest
}

#[tokio::test]
async fn the_wal_stays_small_during_long_writes() {
    let limit = 1024 * 1024;
    let bounded = largest_wal(limit, 60).await;
    let unguarded = largest_wal(u64::MAX, 60).await;
    println!("largest WAL: {bounded} bytes with a 1 MiB limit, {unguarded} without");
    // The writer's own checkpoints restart the WAL: without them it grew by every write
    // (195 MB for these 120,000 contacts).
    assert!(unguarded < 32 << 20, "WAL grew to {unguarded} bytes");
    // The guard looks at the WAL after each transaction: one batch's pages come on top of
    // the limit before it is cut back.
    assert!(bounded < 16 * limit, "WAL grew to {bounded} bytes");
}
