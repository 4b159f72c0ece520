//! The SQLite store on real files: migrations, group commit, isolation of failing writes.

use std::sync::Arc;

use rebound_store::sqlite::SqliteStore;
use rebound_store::{NewInbox, NewLogEntry, Store, StoreError};

fn item(n: i64) -> (NewInbox, NewLogEntry) {
    (
        NewInbox {
            source_id: 1,
            provider: "tosend".into(),
            received_at: n,
            headers: vec![("x".into(), "y".into())],
            body: vec![b'{', b'}'],
        },
        NewLogEntry {
            received_at: n,
            method: "POST".into(),
            path: "/p".into(),
            http_status: 200,
            outcome: "accepted".into(),
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn reopening_applies_migrations_once_and_keeps_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sub/dir/rebound.db");
    {
        let s = SqliteStore::open(&path).expect("open");
        let (i, l) = item(1);
        s.ingest(i, l).await.expect("ingest");
    }
    let s = SqliteStore::open(&path).expect("reopen");
    assert_eq!(s.inbox_counts().await.expect("counts").pending, 1);
    let versions: i64 = s
        .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))?))
        .await
        .expect("read");
    assert_eq!(versions, 2, "one row per migration, applied once");
    let mode: String = s
        .read(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?))
        .await
        .expect("read");
    assert_eq!(mode, "wal");
}

/// Many concurrent writers: every one is answered, each with its own row, and they share
/// far fewer commits than requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ingests_share_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(SqliteStore::open(dir.path().join("r.db")).expect("open"));
    let commits_before = s.commits();
    let barrier = Arc::new(tokio::sync::Barrier::new(500));
    let mut tasks = Vec::new();
    for n in 0..500 {
        let (s, barrier) = (s.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let (i, l) = item(n);
            barrier.wait().await;
            s.ingest(i, l).await
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.expect("join").expect("ingest"));
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 500);
    assert_eq!(s.inbox_counts().await.expect("counts").pending, 500);
    let commits = s.commits() - commits_before;
    assert!(
        commits <= 250,
        "500 concurrent writes took {commits} commits: no group commit"
    );
}

/// A write that fails inside a group transaction undoes only itself.
#[tokio::test]
async fn a_failing_write_does_not_undo_its_neighbours() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Arc::new(SqliteStore::open(dir.path().join("r.db")).expect("open"));
    let mut tasks = Vec::new();
    for n in 0..200i64 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            if n % 2 == 0 {
                let (i, l) = item(n);
                s.ingest(i, l).await.map(|_| ())
            } else {
                s.write(move |c| {
                    let (i, l) = item(n);
                    c.execute("INSERT INTO inbox (source_id, provider, received_at, headers, body) VALUES (1, 'x', ?1, '[]', x'00')", [i.received_at])?;
                    let _ = l;
                    Err::<(), _>(StoreError::Invalid("boom".into()))
                })
                .await
            }
        }));
    }
    let mut failed = 0;
    for t in tasks {
        if t.await.expect("join").is_err() {
            failed += 1;
        }
    }
    assert_eq!(failed, 100);
    let counts = s.inbox_counts().await.expect("counts");
    assert_eq!(counts.pending, 100, "only the successful writes are kept");
}

#[tokio::test]
async fn replaying_a_rejected_request_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = SqliteStore::open(dir.path().join("r.db")).expect("open");
    let id = s
        .log_request(NewLogEntry {
            method: "POST".into(),
            path: "/p".into(),
            http_status: 403,
            outcome: "rejected".into(),
            ..Default::default()
        })
        .await
        .expect("log");
    match s.replay(id).await {
        Err(StoreError::Invalid(m)) => assert!(m.contains("rejected"), "{m}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(matches!(
        s.replay(id + 1).await,
        Err(StoreError::NotFound(_))
    ));
}
