//! The store's contract, written once against the [`Store`] trait and run on every backend:
//! `per_backend!` instantiates each test for each entry of [`Backend`]: SQLite, and
//! PostgreSQL (`REBOUND_TEST_DATABASE_URL`, a database of its own per test). Checks that need SQL —
//! migrations, WAL, group commit, the writer's savepoints — are in the SQLite-only section at
//! the end.

use std::sync::Arc;

use rebound_core::policy::{self, PolicyEvent};
use rebound_core::timestamp::DAY_MS;
use rebound_core::{
    Address, Attribution, BounceClass, ContactState, Event, EventKind, Millis, Policy, Reason,
    Recipient, Status,
};
use rebound_store::outbound::{
    AttemptRecord, NewSubscription, OutboxItem, OutboxNext, Requeue, SubscriptionKind,
};
use rebound_store::postgres::PgStore;
use rebound_store::sqlite::SqliteStore;
use rebound_store::{
    Contact, ContactPatch, DynStore, EventFilter, NewContact, NewInbox, NewLogEntry, Processed,
    Store, StoreError,
};

/// A store on a fresh database, and what keeps that database alive.
struct Backend {
    store: DynStore,
    _keep: Keep,
}

/// What a test's database lives in: a temporary directory (SQLite), or a database of its
/// own on the PostgreSQL server, dropped (best effort) when the test ends.
enum Keep {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Pg {
        admin: Box<::postgres::Config>,
        name: String,
    },
}

impl Drop for Keep {
    fn drop(&mut self) {
        if let Keep::Pg { admin, name } = self {
            if let Err(e) = rebound_store::postgres::drop_database(admin, name) {
                eprintln!("note: could not drop test database {name}: {e}");
            }
        }
    }
}

/// The PostgreSQL server the tests create their databases on.
const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

impl Backend {
    fn sqlite() -> Backend {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(dir.path().join("rebound.db")).expect("open");
        Backend {
            store: Arc::new(store),
            _keep: Keep::Dir(dir),
        }
    }

    /// A store on a new database of its own ([`pg_database`]).
    fn postgres() -> Option<Backend> {
        let (keep, config) = pg_database()?;
        let store = PgStore::open_config(config).expect("open PostgreSQL store");
        Some(Backend {
            store: Arc::new(store),
            _keep: keep,
        })
    }
}

/// A new database `rebound_test_<random>` on the server named by `REBOUND_TEST_DATABASE_URL`
/// (whose own database is the maintenance one), dropped with the `Keep`. Without a server:
/// under `CI=true` the test fails; elsewhere it prints a note and is not run (`None`).
fn pg_database() -> Option<(Keep, ::postgres::Config)> {
    let url = std::env::var("REBOUND_TEST_DATABASE_URL")
        .unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_string());
    let admin: ::postgres::Config = url.parse().expect("REBOUND_TEST_DATABASE_URL");
    let name = format!("rebound_test_{}", hex::encode(rand::random::<[u8; 8]>()));
    if let Err(e) = rebound_store::postgres::create_database(&admin, &name) {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("PostgreSQL at {url} is required under CI=true: {e}");
        }
        eprintln!("note: PostgreSQL at {url} not reachable ({e}): PostgreSQL test not run");
        return None;
    }
    let mut config = admin.clone();
    config.dbname(&name);
    Some((
        Keep::Pg {
            admin: Box::new(admin),
            name,
        },
        config,
    ))
}

/// Runs each named `async fn NAME(b: Backend)` once per backend, as `BACKEND::NAME`.
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::sqlite()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(b) = super::Backend::postgres() {
                        super::$name(b).await
                    }
                }
            )*
        }
    };
}

per_backend!(
    replaying_a_rejected_request_is_refused,
    leases_hold_rows_until_they_expire_and_apply_releases_them,
    a_row_finished_by_another_holder_is_not_applied_twice,
    the_report_lists_every_status_change,
    reports_from_mailboxes_are_attributed_by_their_typed_trust,
    random_sets_in_random_orders_end_in_one_stored_state,
    the_issue_example_ends_in_one_stored_state,
    a_status_set_by_hand_is_the_base_of_re_folds,
    imported_statuses_are_the_base_of_re_folds,
    a_re_fold_reads_at_most_ten_thousand_events,
    sources_and_settings_read_back_as_written,
    contacts_are_upserted_found_listed_patched_and_deleted,
    the_log_and_the_events_are_listed_newest_first,
    mailbox_messages_are_stored_once,
    rejections_and_old_requests_are_pruned,
    named_locks_are_held_renewed_released_and_expire,
    keys_users_and_sessions_read_back_and_end,
    the_oldest_pending_row_is_the_first_in_line,
    contacts_are_counted_per_status_and_events_per_day_and_kind,
    contacts_are_filtered_by_reason_source_and_last_event,
    each_source_counts_its_accepted_and_rejected_requests,
    deliverability_is_counted_per_sending_domain,
    status_changes_write_one_outbox_row_per_matching_subscription_in_their_transaction,
    outbound_messages_delivered_or_given_up_are_pruned_in_batches_pending_ones_never,
    stored_events_write_outbox_rows_for_subscriptions_wanting_their_kind_and_source,
);

/// A source's traffic: requests stored since a time, the last one ever, and rejected
/// requests since that time; another source's rows and rejections count for it only.
async fn each_source_counts_its_accepted_and_rejected_requests(b: Backend) {
    let s = &b.store;
    let a = s.create_source(new_source("A", "key-a")).await.expect("a");
    let other = s.create_source(new_source("B", "key-b")).await.expect("b");
    for (source, at) in [
        (a.id, 1_000),
        (a.id, 70_000),
        (a.id, 90_000),
        (other.id, 95_000),
    ] {
        let (mut i, l) = item(at);
        i.source_id = source;
        s.ingest(i, l).await.expect("ingest");
    }
    // A rejected request kept as a sample row is not an accepted one.
    s.log_request(NewLogEntry {
        received_at: 99_000,
        source_id: Some(a.id),
        method: "POST".into(),
        path: "/p".into(),
        http_status: 401,
        outcome: "rejected".into(),
        ..Default::default()
    })
    .await
    .expect("log");
    let rejected = |minute: Millis, source: i64, n: u64| rebound_store::RejectionCount {
        minute,
        source_id: Some(source),
        provider: Some("generic".into()),
        http_status: 401,
        error: "bad signature".into(),
        count: n,
    };
    s.add_rejections(vec![
        rejected(0, a.id, 7),
        rejected(60_000, a.id, 2),
        rejected(120_000, a.id, 3),
        rejected(120_000, other.id, 1),
    ])
    .await
    .expect("rejections");
    let traffic = s.source_traffic(60_000).await.expect("traffic");
    let got: Vec<(i64, u64, u64, Option<Millis>)> = traffic
        .iter()
        .map(|t| (t.source_id, t.accepted, t.rejected, t.last_received_at))
        .collect();
    assert_eq!(
        got,
        [(a.id, 2, 5, Some(90_000)), (other.id, 1, 1, Some(95_000))]
    );
    let later = s.source_traffic(200_000).await.expect("traffic");
    assert_eq!(later[0].accepted, 0);
    assert_eq!(later[0].rejected, 0);
    assert_eq!(later[0].last_received_at, Some(90_000), "the last one ever");
}

/// The deliverability counts per sending domain: deliveries, bounces and complaints from
/// `since` on, per domain and kind; events with no domain (and other kinds) left out. The
/// domain is stored with the event and listed with it.
async fn deliverability_is_counted_per_sending_domain(b: Backend) {
    let s = &b.store;
    let hard = Some(BounceClass::Hard);
    let (news, mail) = (Some("news.example.org"), Some("mail.example.net"));
    let events: Vec<Event> = [
        ("a@example.com", "old", EventKind::Bounce, hard, 5, news),
        ("a@example.com", "d1", EventKind::Delivery, None, 100, news),
        ("b@example.com", "d2", EventKind::Delivery, None, 101, news),
        ("b@example.com", "b1", EventKind::Bounce, hard, 102, news),
        ("c@example.com", "c1", EventKind::Complaint, None, 103, mail),
        ("c@example.com", "o1", EventKind::Open, None, 104, mail),
        ("d@example.com", "nd", EventKind::Delivery, None, 105, None),
    ]
    .into_iter()
    .map(|(email, key, kind, class, t, domain)| Event {
        sending_domain: domain.map(str::to_string),
        ..event(email, key, kind, class, t)
    })
    .collect();
    apply_events(s, &events).await;
    let mut got = s
        .kind_counts_by_sending_domain(100)
        .await
        .expect("by domain");
    got.sort_by(|a, b| (&a.domain, &a.kind).cmp(&(&b.domain, &b.kind)));
    let got: Vec<(&str, &str, u64)> = got
        .iter()
        .map(|c| (c.domain.as_str(), c.kind.as_str(), c.count))
        .collect();
    assert_eq!(
        got,
        [
            ("mail.example.net", "complaint", 1),
            ("news.example.org", "bounce", 1),
            ("news.example.org", "delivery", 2),
        ]
    );
    assert!(s
        .kind_counts_by_sending_domain(106)
        .await
        .expect("by domain")
        .is_empty());
    // Read back with the event.
    let listed = s
        .list_events(EventFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("events");
    let domain_of = |key: &str| {
        listed
            .items
            .iter()
            .find(|e| e.occurred_at == key.parse::<i64>().expect("time"))
            .map(|e| e.sending_domain.clone())
    };
    assert_eq!(domain_of("103"), Some(Some("mail.example.net".to_string())));
    assert_eq!(domain_of("105"), Some(None));
}

/// The contact list's filters: reason, a source that sent an event about the contact, and
/// the time of the last event (since inclusive, until exclusive), combined.
async fn contacts_are_filtered_by_reason_source_and_last_event(b: Backend) {
    use rebound_store::ContactFilter;
    let s = &b.store;
    let rows: Vec<Processed> = [
        (
            1,
            event(
                "a@example.com",
                "a",
                EventKind::Bounce,
                Some(BounceClass::Hard),
                1_000,
            ),
        ),
        (
            2,
            event(
                "b@example.com",
                "b",
                EventKind::Bounce,
                Some(BounceClass::Soft),
                2_000,
            ),
        ),
        (
            1,
            event("c@example.com", "c", EventKind::Complaint, None, 3_000),
        ),
    ]
    .into_iter()
    .map(|(source_id, e)| Processed {
        source_id,
        ..processed(0, 1, Ok(vec![e]))
    })
    .collect();
    s.apply(Arc::from(rows), Policy::default(), 1)
        .await
        .expect("apply");
    let emails = |f: ContactFilter| async move {
        s.list_contacts(ContactFilter { limit: 100, ..f })
            .await
            .expect("list")
            .items
            .into_iter()
            .map(|c| c.email)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        emails(ContactFilter {
            reason: Some("feedback".into()),
            ..Default::default()
        })
        .await,
        ["c@example.com"]
    );
    assert_eq!(
        emails(ContactFilter {
            reason: Some("mailboxfull".into()),
            ..Default::default()
        })
        .await,
        ["a@example.com"]
    );
    assert_eq!(
        emails(ContactFilter {
            source_id: Some(2),
            ..Default::default()
        })
        .await,
        ["b@example.com"]
    );
    assert_eq!(
        emails(ContactFilter {
            source_id: Some(1),
            ..Default::default()
        })
        .await,
        ["a@example.com", "c@example.com"]
    );
    assert_eq!(
        emails(ContactFilter {
            since: Some(2_000),
            ..Default::default()
        })
        .await,
        ["b@example.com", "c@example.com"]
    );
    assert_eq!(
        emails(ContactFilter {
            until: Some(2_000),
            ..Default::default()
        })
        .await,
        ["a@example.com"]
    );
    assert_eq!(
        emails(ContactFilter {
            since: Some(1_500),
            until: Some(2_500),
            source_id: Some(2),
            ..Default::default()
        })
        .await,
        ["b@example.com"]
    );
    assert!(emails(ContactFilter {
        source_id: Some(3),
        ..Default::default()
    })
    .await
    .is_empty());
}

/// API keys are found by hash until revoked; users are unique by address; a session opens
/// until it expires or ends, and ends with its user.
async fn keys_users_and_sessions_read_back_and_end(b: Backend) {
    use rebound_store::{NewApiKey, NewSession, NewUser};
    let s = &b.store;
    let key = |name: &str, hash: &str| NewApiKey {
        name: name.into(),
        scope: "check".into(),
        key_hash: hash.into(),
        prefix: "rbk_ab".into(),
        created_at: 1_000,
    };
    let a = s.create_api_key(key("sender", "h1")).await.expect("key");
    let b2 = s.create_api_key(key("other", "h2")).await.expect("key");
    assert!(a.id < b2.id);
    assert!(
        s.create_api_key(key("dup", "h1")).await.is_err(),
        "hash is unique"
    );
    let found = s.api_key_by_hash("h1").await.expect("find").expect("found");
    assert_eq!(
        (found.id, found.name.as_str(), found.scope.as_str()),
        (a.id, "sender", "check")
    );
    assert!(s.api_key_by_hash("nope").await.expect("find").is_none());
    s.touch_api_key(a.id, 5_000).await.expect("touch");
    assert!(s.revoke_api_key(a.id, 6_000).await.expect("revoke"));
    assert!(
        !s.revoke_api_key(a.id, 7_000).await.expect("revoke"),
        "once"
    );
    assert!(
        s.api_key_by_hash("h1").await.expect("find").is_none(),
        "revoked"
    );
    let listed = s.list_api_keys().await.expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!(
        (listed[0].last_used_at, listed[0].revoked_at),
        (Some(5_000), Some(6_000))
    );
    assert_eq!(listed[1].revoked_at, None);

    let user = |email: &str| NewUser {
        email: email.into(),
        email_key: email.to_lowercase(),
        role: "viewer".into(),
        password_hash: "$argon2id$x".into(),
        created_at: 2_000,
    };
    let u = s.create_user(user("Ann@Example.com")).await.expect("user");
    assert!(matches!(
        s.create_user(user("ANN@example.com")).await,
        Err(rebound_store::StoreError::Conflict(_))
    ));
    let got = s
        .user_by_email("ann@example.com")
        .await
        .expect("find")
        .expect("found");
    assert_eq!(
        (got.id, got.email.as_str(), got.password_hash.as_str()),
        (u.id, "Ann@Example.com", "$argon2id$x")
    );
    let session = |id: &str, expires_at: Millis| NewSession {
        id_hash: id.into(),
        user_id: u.id,
        csrf: format!("csrf-{id}"),
        created_at: 3_000,
        expires_at,
    };
    s.create_session(session("s1", 10_000))
        .await
        .expect("session");
    s.create_session(session("s2", 10_000))
        .await
        .expect("session");
    let live = s.session("s1", 9_999).await.expect("read").expect("live");
    assert_eq!((live.csrf.as_str(), live.user.id), ("csrf-s1", u.id));
    assert_eq!(live.user.last_login_at, Some(3_000));
    assert!(
        s.session("s1", 10_000).await.expect("read").is_none(),
        "expired"
    );
    s.delete_session("s1").await.expect("end");
    assert!(
        s.session("s1", 5_000).await.expect("read").is_none(),
        "ended"
    );
    assert!(s.delete_user(u.id).await.expect("delete"));
    assert!(
        s.session("s2", 5_000).await.expect("read").is_none(),
        "ends with its user"
    );
    assert!(s.list_users().await.expect("list").is_empty());
}

/// The lock every node shares: taken once until it expires or is given up; its holder can
/// renew it; expired locks are cleared by later takers.
async fn named_locks_are_held_renewed_released_and_expire(b: Backend) {
    let s = &b.store;
    assert!(s
        .try_lock("mailbox:a", "node-1", 1_000, 0)
        .await
        .expect("lock"));
    assert!(
        !s.try_lock("mailbox:a", "node-2", 2_000, 500)
            .await
            .expect("lock"),
        "held"
    );
    assert!(
        s.try_lock("mailbox:a", "node-1", 3_000, 600)
            .await
            .expect("lock"),
        "renewed"
    );
    assert!(
        !s.try_lock("mailbox:a", "node-2", 4_000, 2_999)
            .await
            .expect("lock"),
        "renewed until 3,000"
    );
    s.unlock("mailbox:a", "node-2").await.expect("unlock");
    assert!(
        !s.try_lock("mailbox:a", "node-2", 4_000, 2_999)
            .await
            .expect("lock"),
        "not node-2's to give up"
    );
    s.unlock("mailbox:a", "node-1").await.expect("unlock");
    assert!(
        s.try_lock("mailbox:a", "node-2", 4_000, 2_999)
            .await
            .expect("lock"),
        "given up"
    );
    assert!(
        s.try_lock("mailbox:a", "node-3", 9_000, 4_000)
            .await
            .expect("lock"),
        "expired"
    );
    // A token seen once is refused within its time, whoever asks.
    assert!(s
        .try_lock("mailgun:1:tok", "req-1", 10_000, 5_000)
        .await
        .expect("lock"));
    assert!(!s
        .try_lock("mailgun:1:tok", "req-2", 10_000, 5_001)
        .await
        .expect("lock"));
    assert!(s
        .try_lock("mailgun:1:other", "req-3", 10_000, 5_002)
        .await
        .expect("lock"));
}

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

async fn replaying_a_rejected_request_is_refused(b: Backend) {
    let s = &b.store;
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

// ---------------------------------------------------------------- leases

/// The received time of the pending row first in line (what `GET /metrics` reports as the
/// inbox's age): none on an empty inbox; rows done or failed for good no longer count;
/// rows waiting for a retry still do.
async fn the_oldest_pending_row_is_the_first_in_line(b: Backend) {
    let s = &b.store;
    assert_eq!(s.oldest_pending_received_at().await.expect("oldest"), None);
    let mut ids = Vec::new();
    for n in [100, 200, 300] {
        let (i, l) = item(n);
        ids.push(s.ingest(i, l).await.expect("ingest"));
    }
    assert_eq!(
        s.oldest_pending_received_at().await.expect("oldest"),
        Some(100)
    );
    let claimed = s.claim(2, 1_000, 2_000).await.expect("claim");
    assert_eq!(claimed.len(), 2);
    // Leased rows are still unprocessed.
    assert_eq!(
        s.oldest_pending_received_at().await.expect("oldest"),
        Some(100)
    );
    let rows = vec![
        processed(ids[0], 1, Ok(vec![])),
        Processed {
            retry_at: 50_000,
            ..processed(ids[1], 1, Err("boom".into()))
        },
    ];
    s.apply(Arc::from(rows), Policy::default(), 1_100)
        .await
        .expect("apply");
    // The first is done; the second waits for its retry and is the oldest now.
    assert_eq!(
        s.oldest_pending_received_at().await.expect("oldest"),
        Some(200)
    );
    let rows = vec![Processed {
        max_attempts: 1,
        ..processed(ids[1], 1, Err("broken".into()))
    }];
    s.claim(1, 50_000, 60_000).await.expect("claim");
    let r = s
        .apply(Arc::from(rows), Policy::default(), 50_100)
        .await
        .expect("apply");
    assert_eq!(r.failed, 1);
    assert_eq!(
        s.oldest_pending_received_at().await.expect("oldest"),
        Some(300)
    );
    let last = s.claim(1, 60_000, 70_000).await.expect("claim");
    assert_eq!(last[0].id, ids[2]);
    s.apply(
        Arc::from(vec![processed(ids[2], 1, Ok(vec![]))]),
        Policy::default(),
        60_100,
    )
    .await
    .expect("apply");
    assert_eq!(s.oldest_pending_received_at().await.expect("oldest"), None);
}

/// The processed form of a claimed row: `events` for it, or a failure.
fn processed(id: i64, attempts: u32, outcome: Result<Vec<Event>, String>) -> Processed {
    Processed {
        inbox_id: id,
        source_id: 1,
        provider: "generic".into(),
        outcome,
        attempts,
        max_attempts: 5,
        retry_at: 0,
    }
}

/// A claim leases rows until the time given; they are claimable again, by anyone, once it
/// has passed, and free once applied (a retry waits for its time, not for a lease).
async fn leases_hold_rows_until_they_expire_and_apply_releases_them(b: Backend) {
    let s = &b.store;
    for n in 0..3 {
        let (i, l) = item(n);
        s.ingest(i, l).await.expect("ingest");
    }
    let first = s.claim(2, 1_000, 2_000).await.expect("claim");
    let ids: Vec<i64> = first.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1], "oldest first: {ids:?}");
    assert!(first.iter().all(|r| r.attempts == 1));
    // Leased: the next claim gets only the third row, then nothing.
    let second = s.claim(10, 1_500, 100_000).await.expect("claim");
    assert_eq!(second.len(), 1);
    assert!(!ids.contains(&second[0].id));
    assert!(s.claim(10, 1_999, 3_000).await.expect("claim").is_empty());
    // The first lease expired (the holder died): both rows are claimable again.
    let again = s.claim(10, 2_000, 60_000).await.expect("claim");
    assert_eq!(again.iter().map(|r| r.id).collect::<Vec<_>>(), ids);
    // Applying releases: a done row is gone, a retried row is due at its retry time.
    let rows = vec![
        processed(ids[0], 1, Ok(vec![])),
        Processed {
            retry_at: 10_000,
            ..processed(ids[1], 1, Err("boom".into()))
        },
    ];
    let r = s
        .apply(Arc::from(rows), Policy::default(), 2_100)
        .await
        .expect("apply");
    assert_eq!((r.done, r.retried, r.stale), (1, 1, 0));
    assert!(s.claim(10, 9_999, 70_000).await.expect("claim").is_empty());
    let retried = s.claim(10, 10_000, 70_000).await.expect("claim");
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].id, retried[0].attempts), (ids[1], 2));
    let counts = s.inbox_counts().await.expect("counts");
    assert_eq!((counts.pending, counts.done), (2, 1));
}

/// A lease that expired while its holder was still busy: the row is claimed and applied by
/// a second worker; the first one's apply then leaves it alone (nothing counted twice).
async fn a_row_finished_by_another_holder_is_not_applied_twice(b: Backend) {
    let s = &b.store;
    let (i, l) = item(1);
    let id = s.ingest(i, l).await.expect("ingest");
    let slow = s.claim(1, 1_000, 2_000).await.expect("claim");
    let fast = s.claim(1, 2_000, 3_000).await.expect("claim");
    assert_eq!((slow[0].id, fast[0].id), (id, id));
    let e = event(
        "twice@example.com",
        "t1",
        EventKind::Bounce,
        Some(BounceClass::Hard),
        5,
    );
    let rows: Arc<[Processed]> = Arc::from(vec![processed(id, 1, Ok(vec![e]))]);
    let first = s
        .apply(rows.clone(), Policy::default(), 2_100)
        .await
        .expect("apply");
    assert_eq!((first.done, first.events, first.changes.len()), (1, 1, 1));
    let second = s
        .apply(rows, Policy::default(), 2_200)
        .await
        .expect("apply");
    assert_eq!(
        (second.done, second.events, second.duplicates, second.stale),
        (0, 0, 0, 1)
    );
    assert!(second.changes.is_empty());
    let log = s
        .list_log(rebound_store::LogFilter::default())
        .await
        .expect("log");
    assert_eq!(
        log.items[0].events,
        Some(1),
        "the first apply's count is kept"
    );
}

// ---------------------------------------------------------------- apply's report and trust

/// Every status change is in the report with the stored event that made it: raises, and
/// the lowering a late event's re-fold can cause.
async fn the_report_lists_every_status_change(b: Backend) {
    let s = &b.store;
    let email = "Changes@Example.com";
    let soft = Some(BounceClass::Soft);
    let ev = |k: &str, kind, class, day: i64| event(email, k, kind, class, day * DAY_MS);
    let r = apply_events(
        s,
        &[
            ev("c1", EventKind::Bounce, soft, 1),
            ev("c2", EventKind::Bounce, soft, 2),
            ev("c4", EventKind::Bounce, soft, 4),
        ],
    )
    .await;
    assert_eq!((r.status_changes, r.changes.len()), (1, 1));
    // Counted by kind too (what `GET /metrics` reports): three bounces, nothing else.
    let by_kind: Vec<_> = r.stored_by_kind().filter(|(_, n)| *n > 0).collect();
    assert_eq!(by_kind, [(EventKind::Bounce, 3)]);
    let c = contact(s, email).await;
    let raised = &r.changes[0];
    assert_eq!(
        (
            raised.contact_id,
            raised.uuid.as_str(),
            raised.email.as_str()
        ),
        (c.id, c.uuid.as_str(), email)
    );
    assert_eq!(
        (
            raised.old_status,
            raised.new_status,
            raised.reason.as_deref()
        ),
        (Status::Subscribed, Status::Bounced, Some("mailboxfull"))
    );
    assert_eq!(raised.source_id, 1);
    let timeline = events_of(s, email).await;
    let third = timeline
        .iter()
        .find(|e| e.provider_event_id.is_none() && e.occurred_at == 4 * DAY_MS)
        .expect("third bounce stored");
    assert_eq!(raised.event_id, third.id);
    // A delivery dated between the second and the third bounce, arriving last: in time
    // order only one soft bounce follows it, so the contact is subscribed again.
    let r = apply_events(s, &[ev("c3", EventKind::Delivery, None, 3)]).await;
    assert_eq!(r.changes.len(), 1, "{r:?}");
    let lowered = &r.changes[0];
    assert_eq!(
        (
            lowered.old_status,
            lowered.new_status,
            lowered.reason.as_deref()
        ),
        (Status::Bounced, Status::Subscribed, None)
    );
    assert_eq!(lowered.event_id, events_of(s, email).await[0].id);
    assert_eq!(contact(s, email).await.status, Status::Subscribed);
    // Nothing changes: nothing listed.
    let r = apply_events(s, &[ev("c5", EventKind::Open, None, 5)]).await;
    assert_eq!((r.events, r.changes.len()), (1, 0));
}

fn reported(mut e: Event, known_contacts_only: bool, message_id: Option<&str>) -> Event {
    e.attribution = Attribution::Reported {
        known_contacts_only,
    };
    e.message_id = message_id.map(str::to_string);
    e.details = serde_json::json!({"matched_by": "recipient"});
    e
}

/// A bounce report from a mailbox: its Message-ID matched to an earlier send (of another
/// source) decides the contact; else its named recipient, which must be a known contact
/// when the trust says so. `details` play no part.
async fn reports_from_mailboxes_are_attributed_by_their_typed_trust(b: Backend) {
    let s = &b.store;
    let hard = Some(BounceClass::Hard);
    // The send: a delivery reported by a webhook source, with its Message-ID.
    let mut sent = event("sent-to@example.org", "d1", EventKind::Delivery, None, 1);
    sent.message_id = Some("<msg-1@example.com>".into());
    apply_events(s, &[sent]).await;
    // A report naming a forwarding target, about that Message-ID (without brackets).
    let about_send = reported(
        event(
            "forwarded@elsewhere.example",
            "m1",
            EventKind::Bounce,
            hard,
            2,
        ),
        true,
        Some("msg-1@example.com"),
    );
    let r = apply_events_from(s, "mailbox", &[about_send]).await;
    assert_eq!((r.events, r.unmatched), (1, 0));
    assert_eq!(r.changes[0].email, "sent-to@example.org");
    assert_eq!(
        contact(s, "sent-to@example.org").await.status,
        Status::Bounced
    );
    assert!(find(s, "forwarded@elsewhere.example").await.is_none());
    // Known contacts only: an unknown recipient is left unmatched, a known one applied.
    let unknown = reported(
        event("stranger@example.org", "m2", EventKind::Bounce, hard, 3),
        true,
        Some("<never-sent@example.com>"),
    );
    let r = apply_events_from(s, "mailbox", &[unknown]).await;
    assert_eq!((r.events, r.unmatched, r.done), (0, 1, 1));
    assert!(find(s, "stranger@example.org").await.is_none());
    apply_events(
        s,
        &[event(
            "known@example.org",
            "d2",
            EventKind::Delivery,
            None,
            1,
        )],
    )
    .await;
    let known = reported(
        event("known@example.org", "m3", EventKind::Bounce, hard, 3),
        true,
        None,
    );
    let r = apply_events_from(s, "mailbox", &[known]).await;
    assert_eq!((r.events, r.unmatched), (1, 0));
    assert_eq!(
        contact(s, "known@example.org").await.status,
        Status::Bounced
    );
    // Any recipient: created. The flag in `details` alone changes nothing.
    let any = reported(
        event("new@example.org", "m4", EventKind::Bounce, hard, 3),
        false,
        None,
    );
    let mut flagged = event("flagged@example.org", "m5", EventKind::Bounce, hard, 3);
    flagged.details = serde_json::json!({"known_contacts_only": true, "matched_by": "recipient"});
    let r = apply_events_from(s, "mailbox", &[any, flagged]).await;
    assert_eq!((r.events, r.unmatched), (2, 0));
    assert_eq!(contact(s, "new@example.org").await.status, Status::Bounced);
    assert_eq!(
        contact(s, "flagged@example.org").await.status,
        Status::Bounced
    );
    // A Message-ID known only from the mailbox itself is not a send.
    let mut own = event("x@example.org", "m6", EventKind::Bounce, hard, 4);
    own.message_id = Some("<mailbox-only@example.com>".into());
    apply_events_from(s, "mailbox", &[own]).await;
    let echo = reported(
        event("y@example.org", "m7", EventKind::Bounce, hard, 5),
        true,
        Some("<mailbox-only@example.com>"),
    );
    let r = apply_events_from(s, "mailbox", &[echo]).await;
    assert_eq!(r.unmatched, 1);
}

// ---------------------------------------------------------------- policy, any arrival order

fn event(email: &str, key: &str, kind: EventKind, class: Option<BounceClass>, t: Millis) -> Event {
    Event {
        recipient: Recipient::Email(Address::parse(email).expect("address")),
        attribution: Attribution::Recipient,
        kind,
        class,
        reason: class.map(|_| Reason::MailboxFull),
        status: None,
        diagnostic: None,
        message_id: None,
        sending_domain: None,
        provider_event_id: None,
        occurred_at: t,
        dedup_key: key.to_string(),
        details: serde_json::Value::Null,
    }
}

/// Applies events as one worker batch of one inbox row each.
async fn apply_events(s: &DynStore, events: &[Event]) -> rebound_store::ApplyReport {
    apply_events_from(s, "generic", events).await
}

async fn apply_events_from(
    s: &DynStore,
    provider: &str,
    events: &[Event],
) -> rebound_store::ApplyReport {
    let rows: Vec<Processed> = events
        .iter()
        .map(|e| Processed {
            provider: provider.into(),
            ..processed(0, 1, Ok(vec![e.clone()]))
        })
        .collect();
    s.apply(Arc::from(rows), Policy::default(), 1)
        .await
        .expect("apply")
}

async fn find(s: &DynStore, email: &str) -> Option<Contact> {
    let key = Address::parse(email).expect("address").key().to_string();
    s.get_contacts(vec![key])
        .await
        .expect("get")
        .pop()
        .flatten()
}

async fn contact(s: &DynStore, email: &str) -> Contact {
    find(s, email).await.expect("contact exists")
}

/// The contact's timeline, newest first.
async fn events_of(s: &DynStore, email: &str) -> Vec<rebound_store::StoredEvent> {
    let key = Address::parse(email).expect("address").key().to_string();
    s.list_events(EventFilter {
        email_key: Some(key),
        limit: 1000,
        ..Default::default()
    })
    .await
    .expect("events")
    .items
}

/// The policy state a contact shows. `last_policy_event_at` (when the newest order-sensitive
/// event happened) is the store's own bookkeeping, not shown: it is left out of comparisons.
async fn stored_state(s: &DynStore, email: &str) -> ContactState {
    let c = contact(s, email).await;
    assert_eq!(c.soft_bounce_count as usize, c.soft_bounces.len());
    ContactState {
        status: c.status,
        reason: c.reason,
        soft_bounces: c.soft_bounces,
        last_event_at: c.last_event_at,
        last_delivered_at: c.last_delivered_at,
        last_engaged_at: c.last_engaged_at,
        last_policy_event_at: None,
        manual: None,
    }
}

fn shown(mut state: ContactState) -> ContactState {
    state.last_policy_event_at = None;
    state
}

fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

/// The property of issue #23 end to end: random sets of events for one address (soft and
/// hard bounces, deliveries, complaints, unsubscribes, deferrals, opens; times on a coarse
/// grid, so equal times are common), each arriving in 8 random orders, in batches of 1–3,
/// with a duplicate re-sent now and then. Every order ends in one stored state, the state by
/// definition ([`policy::replay`] over the set). 60 sets, 480 arrival orders.
async fn random_sets_in_random_orders_end_in_one_stored_state(b: Backend) {
    let s = &b.store;
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
    let p = Policy::default();
    let (mut bounced, mut subscribed, mut refolds) = (0, 0, 0u64);
    for set_no in 0..60 {
        let n = 2 + (next() % 8) as usize;
        let mut set: Vec<(EventKind, Option<BounceClass>, Millis, usize)> = (0..n)
            .map(|i| {
                let (kind, class) = match next() % 100 {
                    0..=39 => (EventKind::Bounce, Some(BounceClass::Soft)),
                    40..=66 => (EventKind::Delivery, None),
                    67..=71 => (EventKind::Bounce, Some(BounceClass::Hard)),
                    72..=74 => (EventKind::Complaint, None),
                    75..=78 => (EventKind::Unsubscribe, None),
                    79..=89 => (EventKind::Deferred, None),
                    _ => (EventKind::Open, None),
                };
                let t = (next() % 14) as Millis * 3 * DAY_MS + (next() % 2) as Millis;
                (kind, class, t, i)
            })
            .collect();
        let mut states = Vec::new();
        for order in 0..8 {
            for i in (1..set.len()).rev() {
                let j = (next() % (i as u64 + 1)) as usize;
                set.swap(i, j);
            }
            let email = format!("p{set_no}-{order}@example.com");
            let events: Vec<Event> = set
                .iter()
                .map(|&(kind, class, t, i)| {
                    // Dedup keys are per address (they are unique store-wide) but sort in
                    // the same order for every address, so ties break alike.
                    event(&email, &format!("e{i}-{email}"), kind, class, t)
                })
                .collect();
            let mut sent = 0;
            while sent < events.len() {
                let take = (1 + (next() % 3) as usize).min(events.len() - sent);
                let mut batch = events[sent..sent + take].to_vec();
                if next().is_multiple_of(4) {
                    batch.push(events[(next() as usize) % (sent + take)].clone());
                }
                let report = apply_events(s, &batch).await;
                assert_eq!(report.events, take as u64);
                sent += take;
            }
            let definition = policy::replay(
                &p,
                &ContactState::default(),
                &events.iter().map(PolicyEvent::from).collect::<Vec<_>>(),
            );
            let state = stored_state(s, &email).await;
            assert_eq!(state, shown(definition), "{email}: {set:?}");
            states.push(state);
            refolds += events_of(s, &email)
                .await
                .iter()
                .filter(|e| e.note.as_deref().unwrap_or_default().contains("re-folded"))
                .count() as u64;
        }
        match states[0].status {
            Status::Bounced => bounced += 1,
            Status::Subscribed => subscribed += 1,
            _ => {}
        }
        // Times aside (they are equal anyway), one state in every order.
        states.dedup();
        assert_eq!(states.len(), 1, "{set:?}");
    }
    assert!(bounced >= 5 && subscribed >= 5, "{bounced} {subscribed}");
    assert!(refolds >= 100, "{refolds} late events re-folded");
}

/// The issue's example through the store: three soft bounces and a delivery dated after
/// them, the delivery arriving last or first: `bounced` either way, count reset.
async fn the_issue_example_ends_in_one_stored_state(b: Backend) {
    let s = &b.store;
    let soft = Some(BounceClass::Soft);
    for (email, delivery_first) in [("last@example.com", false), ("first@example.com", true)] {
        let mut events = vec![
            event(email, &format!("{email}1"), EventKind::Bounce, soft, DAY_MS),
            event(
                email,
                &format!("{email}2"),
                EventKind::Bounce,
                soft,
                2 * DAY_MS,
            ),
            event(
                email,
                &format!("{email}3"),
                EventKind::Bounce,
                soft,
                3 * DAY_MS,
            ),
        ];
        let d = event(
            email,
            &format!("{email}d"),
            EventKind::Delivery,
            None,
            4 * DAY_MS,
        );
        if delivery_first {
            events.insert(0, d);
        } else {
            events.push(d);
        }
        for e in &events {
            apply_events(s, std::slice::from_ref(e)).await;
        }
        let c = contact(s, email).await;
        assert_eq!(c.status, Status::Bounced, "{email}");
        assert_eq!(c.reason.as_deref(), Some("mailboxfull"));
        assert_eq!(c.soft_bounce_count, 0);
        assert_eq!(c.last_delivered_at, Some(4 * DAY_MS));
    }
    assert_eq!(
        stored_state(s, "last@example.com").await,
        stored_state(s, "first@example.com").await
    );
}

/// A status set by hand at T is the base of later re-folds: events dated before T do not
/// override it, also when they arrive late; events dated after T fold on top of it, in any
/// order. Attributes alone are not a manual status change.
async fn a_status_set_by_hand_is_the_base_of_re_folds(b: Backend) {
    let s = &b.store;
    let email = "m@example.com";
    let key = Address::parse(email).expect("a").key().to_string();
    let soft = Some(BounceClass::Soft);
    let ev = |k: &str, kind, class, day: i64| event(email, k, kind, class, day * DAY_MS);
    apply_events(
        s,
        &[ev("h1", EventKind::Bounce, Some(BounceClass::Hard), 1)],
    )
    .await;
    assert_eq!(contact(s, email).await.status, Status::Bounced);
    let patch = |status: Option<Status>, reason: Option<&str>| ContactPatch {
        status,
        reason: reason.map(str::to_string),
        ..Default::default()
    };
    let c = s
        .patch_contact(
            &key,
            patch(Some(Status::Unsubscribed), Some("asked")),
            10 * DAY_MS,
        )
        .await
        .expect("patch");
    assert_eq!(
        (c.status, c.reason.as_deref()),
        (Status::Unsubscribed, Some("asked"))
    );
    // After T: two soft bounces, then a delivery dated between them arriving late: a
    // re-fold, from the status set by hand (not from the hard bounce before it).
    apply_events(s, &[ev("s12", EventKind::Bounce, soft, 12)]).await;
    apply_events(s, &[ev("s14", EventKind::Bounce, soft, 14)]).await;
    let report = apply_events(s, &[ev("d13", EventKind::Delivery, None, 13)]).await;
    assert_eq!(report.status_changes, 0);
    let c = contact(s, email).await;
    assert_eq!(
        (c.status, c.reason.as_deref()),
        (Status::Unsubscribed, Some("asked"))
    );
    assert_eq!(c.soft_bounces, vec![14 * DAY_MS]);
    // Before T, arriving late: times only.
    apply_events(s, &[ev("c5", EventKind::Complaint, None, 5)]).await;
    let c = contact(s, email).await;
    assert_eq!(c.status, Status::Unsubscribed);
    let (_, timeline) = (
        (),
        s.list_events(rebound_store::EventFilter {
            email_key: Some(key.clone()),
            ..Default::default()
        })
        .await
        .expect("events"),
    );
    let notes: Vec<String> = timeline
        .items
        .iter()
        .filter_map(|e| e.note.clone())
        .collect();
    assert!(
        notes[0].contains("before the status set by hand"),
        "{notes:?}"
    );
    assert!(notes[1].contains("re-folded"), "{notes:?}");
    // Two more soft bounces after T, the older arriving last: the third bounce in time
    // order (after the delivery of day 13: 14, 15, 16) raises to bounced.
    apply_events(s, &[ev("s16", EventKind::Bounce, soft, 16)]).await;
    let report = apply_events(s, &[ev("s15", EventKind::Bounce, soft, 15)]).await;
    assert_eq!(report.status_changes, 1);
    let c = contact(s, email).await;
    assert_eq!(
        (c.status, c.reason.as_deref()),
        (Status::Bounced, Some("mailboxfull"))
    );
    assert_eq!(c.soft_bounce_count, 3);
    // Patching attributes only keeps the base and the count.
    let mut attrs = serde_json::Map::new();
    attrs.insert("plan".into(), serde_json::json!("pro"));
    let c = s
        .patch_contact(
            &key,
            ContactPatch {
                attributes: Some(attrs),
                ..Default::default()
            },
            20 * DAY_MS,
        )
        .await
        .expect("patch");
    assert_eq!(c.soft_bounce_count, 3);
    // Still based on the status set at day 10: a delivery of day 17 folds on top (the
    // count is reset), where a base moved to day 20 would leave it at 3.
    let r = apply_events(s, &[ev("d17", EventKind::Delivery, None, 17)]).await;
    assert_eq!(r.events, 1);
    let c = contact(s, email).await;
    assert_eq!(
        (c.status, c.soft_bounce_count),
        (Status::Bounced, 0),
        "an attributes-only patch moved the base"
    );
    // Resubscribed by hand at day 30 (while an event dated day 40 is known: the change is
    // placed after it); a late soft bounce of day 35 then changes nothing.
    apply_events(s, &[ev("o40", EventKind::Open, None, 40)]).await;
    s.patch_contact(&key, patch(Some(Status::Subscribed), None), 30 * DAY_MS)
        .await
        .expect("patch");
    apply_events(s, &[ev("s35", EventKind::Bounce, soft, 35)]).await;
    let c = contact(s, email).await;
    assert_eq!((c.status, c.soft_bounce_count), (Status::Subscribed, 0));
    assert_eq!(c.last_event_at, Some(40 * DAY_MS));
}

/// Imports are manual changes too: a contact created suppressed keeps that status through
/// a re-fold; `--overwrite` sets a new base.
async fn imported_statuses_are_the_base_of_re_folds(b: Backend) {
    let s = &b.store;
    let new = |email: &str, status: Status, now: Millis| NewContact {
        email: email.into(),
        email_key: Address::parse(email).expect("a").key().to_string(),
        status: Some(status),
        reason: Some("imported".into()),
        uuid: None,
        attributes: serde_json::Value::Null,
        now,
    };
    s.upsert_contacts(vec![new("u@example.com", Status::Unsubscribed, 0)], false)
        .await
        .expect("import");
    let soft = Some(BounceClass::Soft);
    let ev = |k: &str, kind, day: i64| event("u@example.com", k, kind, soft, day * DAY_MS);
    apply_events(s, &[ev("b2", EventKind::Bounce, 2)]).await;
    apply_events(s, &[ev("b1", EventKind::Bounce, 1)]).await;
    let c = contact(s, "u@example.com").await;
    assert_eq!(
        (c.status, c.reason.as_deref()),
        (Status::Unsubscribed, Some("imported"))
    );
    assert_eq!(c.soft_bounce_count, 2);
    // Overwritten as subscribed at day 5: the count starts afresh, the old bounces stay
    // behind it even when a re-fold happens.
    s.upsert_contacts(
        vec![new("u@example.com", Status::Subscribed, 5 * DAY_MS)],
        true,
    )
    .await
    .expect("overwrite");
    apply_events(s, &[ev("b7", EventKind::Bounce, 7)]).await;
    apply_events(s, &[ev("b6", EventKind::Bounce, 6)]).await;
    let c = contact(s, "u@example.com").await;
    assert_eq!((c.status, c.reason), (Status::Subscribed, None));
    assert_eq!(c.soft_bounces, vec![6 * DAY_MS, 7 * DAY_MS]);
}

/// The cost bound: a late event re-reads at most 10,000 order-sensitive events of its
/// contact; with more, it is folded in arrival order (and stored) instead of re-folded.
async fn a_re_fold_reads_at_most_ten_thousand_events(b: Backend) {
    let s = &b.store;
    let soft = Some(BounceClass::Soft);
    for (email, deliveries) in [("under@example.com", 9_999), ("over@example.com", 10_001)] {
        // The history in time order (each event in order: no re-fold while building it),
        // in one inbox row, the newest at day 100.
        let mut history: Vec<Event> = (0..deliveries - 1)
            .map(|i| {
                event(
                    email,
                    &format!("{email}-{i}"),
                    EventKind::Delivery,
                    None,
                    i as Millis,
                )
            })
            .collect();
        history.push(event(
            email,
            &format!("{email}-new"),
            EventKind::Delivery,
            None,
            100 * DAY_MS,
        ));
        let rows = vec![processed(0, 1, Ok(history))];
        let r = s
            .apply(Arc::from(rows), Policy::default(), 1)
            .await
            .expect("history");
        assert_eq!(r.events, deliveries as u64);
    }
    for email in ["under@example.com", "over@example.com"] {
        let late = event(
            email,
            &format!("{email}-late"),
            EventKind::Bounce,
            soft,
            50 * DAY_MS,
        );
        let report = apply_events(s, &[late]).await;
        assert_eq!(report.events, 1);
        let key = Address::parse(email).expect("a").key().to_string();
        let page = s
            .list_events(rebound_store::EventFilter {
                email_key: Some(key),
                limit: 1,
                ..Default::default()
            })
            .await
            .expect("events");
        let note = page.items[0].note.clone().unwrap_or_default();
        if email.starts_with("under") {
            assert!(note.contains("10000 events re-folded"), "{note}");
            // In time order the bounce came after the deliveries before it and before the
            // one of day 100: the count is reset.
            assert_eq!(contact(s, email).await.soft_bounce_count, 0);
        } else {
            assert!(!note.contains("re-folded"), "{note}");
            // Arrival order: counted on top of the state.
            assert_eq!(contact(s, email).await.soft_bounce_count, 1);
        }
    }
}

// ---------------------------------------------------------------- sources, settings, contacts, lists

fn new_source(name: &str, key: &str) -> rebound_store::NewSource {
    rebound_store::NewSource {
        provider: "generic".into(),
        name: name.into(),
        key: key.into(),
        secret: Some(format!("secret-{key}")),
        config: serde_json::json!({"signature_header": "x-sig"}),
        created_at: 1_000,
    }
}

/// Sources and settings read back as written; an update of a missing source is refused; a
/// URL key is unique.
async fn sources_and_settings_read_back_as_written(b: Backend) {
    let s = &b.store;
    assert_eq!(s.newest_source_id().await.expect("newest"), 0);
    let a = s.create_source(new_source("A", "key-a")).await.expect("a");
    let b2 = s.create_source(new_source("B", "key-b")).await.expect("b");
    assert!(a.id < b2.id);
    assert_eq!(
        (a.name.as_str(), a.key.as_str(), a.secret.as_deref()),
        ("A", "key-a", Some("secret-key-a"))
    );
    assert_eq!(a.config["signature_header"], "x-sig");
    assert_eq!((a.status.as_str(), a.created_at), ("active", 1_000));
    assert!(s.create_source(new_source("C", "key-a")).await.is_err());
    assert_eq!(s.newest_source_id().await.expect("newest"), b2.id);
    let mut changed = a.clone();
    changed.name = "A2".into();
    changed.key = "key-a2".into();
    changed.secret = None;
    s.update_source(changed).await.expect("update");
    s.set_source_config(b2.id, serde_json::json!({"n": 1}))
        .await
        .expect("config");
    s.set_source_status(b2.id, "error", Some("no secret configured"))
        .await
        .expect("status");
    let listed = s.list_sources().await.expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!(
        (
            listed[0].name.as_str(),
            listed[0].key.as_str(),
            listed[0].secret.as_deref()
        ),
        ("A2", "key-a2", None)
    );
    assert_eq!(listed[1].config, serde_json::json!({"n": 1}));
    assert_eq!(
        (
            listed[1].status.as_str(),
            listed[1].status_message.as_deref()
        ),
        ("error", Some("no secret configured"))
    );
    let mut missing = a;
    missing.id = 999;
    assert!(matches!(
        s.update_source(missing).await,
        Err(StoreError::NotFound(_))
    ));

    assert_eq!(s.get_setting("k").await.expect("get"), None);
    assert!(s
        .put_setting_if_absent("k", serde_json::json!({"a": 1}))
        .await
        .expect("put"));
    assert!(!s
        .put_setting_if_absent("k", serde_json::json!(2))
        .await
        .expect("put"));
    assert_eq!(
        s.get_setting("k").await.expect("get"),
        Some(serde_json::json!({"a": 1}))
    );
    s.put_setting("k", serde_json::json!("v"))
        .await
        .expect("put");
    assert_eq!(
        s.get_setting("k").await.expect("get"),
        Some(serde_json::json!("v"))
    );
}

fn new_contact(email: &str, status: Option<Status>, uuid: Option<&str>) -> NewContact {
    NewContact {
        email: email.into(),
        email_key: Address::parse(email).expect("a").key().to_string(),
        status,
        reason: status.map(|_| "imported".to_string()),
        uuid: uuid.map(str::to_string),
        attributes: serde_json::json!({"plan": "free"}),
        now: 5,
    }
}

/// Contacts: created, kept or overwritten; looked up by address (in the order asked) and
/// UUID; listed in id order by status and substring (`_` and `%` taken literally), page by
/// page; patched; deleted with their events.
async fn contacts_are_upserted_found_listed_patched_and_deleted(b: Backend) {
    let s = &b.store;
    let r = s
        .upsert_contacts(
            vec![
                new_contact(
                    "a_1@example.com",
                    None,
                    Some("11111111-1111-4111-8111-111111111111"),
                ),
                new_contact("ab1@example.com", Some(Status::Unsubscribed), None),
                new_contact("c@example.com", None, None),
            ],
            false,
        )
        .await
        .expect("upsert");
    assert_eq!((r.created, r.updated, r.unchanged), (3, 0, 0));
    let r = s
        .upsert_contacts(
            vec![new_contact("c@example.com", Some(Status::Bounced), None)],
            false,
        )
        .await
        .expect("upsert");
    assert_eq!(r.unchanged, 1);
    assert_eq!(contact(s, "c@example.com").await.status, Status::Subscribed);
    let r = s
        .upsert_contacts(
            vec![new_contact("c@example.com", Some(Status::Bounced), None)],
            true,
        )
        .await
        .expect("overwrite");
    assert_eq!(r.updated, 1);
    let c = contact(s, "c@example.com").await;
    assert_eq!(
        (c.status, c.reason.as_deref(), c.suppressed),
        (Status::Bounced, Some("imported"), true)
    );
    assert!(matches!(
        s.upsert_contacts(
            vec![new_contact(
                "d@example.com",
                None,
                Some("11111111-1111-4111-8111-111111111111")
            )],
            false
        )
        .await,
        Err(StoreError::Conflict(_))
    ));
    let got = s
        .get_contacts(vec![
            "c@example.com".into(),
            "nobody@example.com".into(),
            "a_1@example.com".into(),
        ])
        .await
        .expect("get");
    assert_eq!(
        got[0].as_ref().map(|c| c.email.as_str()),
        Some("c@example.com")
    );
    assert!(got[1].is_none());
    assert_eq!(
        got[2].as_ref().map(|c| c.attributes["plan"].clone()),
        Some(serde_json::json!("free"))
    );
    let by_uuid = s
        .contact_by_uuid("11111111-1111-4111-8111-111111111111")
        .await
        .expect("uuid")
        .expect("found");
    assert_eq!(by_uuid.email, "a_1@example.com");

    let list = |status: Option<Status>, q: Option<&str>, limit: u32, cursor: Option<String>| {
        s.list_contacts(rebound_store::ContactFilter {
            status,
            q: q.map(str::to_string),
            limit,
            cursor,
            ..Default::default()
        })
    };
    let all = list(None, None, 0, None).await.expect("list");
    let emails: Vec<&str> = all.items.iter().map(|c| c.email.as_str()).collect();
    assert_eq!(
        emails,
        ["a_1@example.com", "ab1@example.com", "c@example.com"]
    );
    assert!(all.next_cursor.is_none());
    let first = list(None, None, 2, None).await.expect("page 1");
    assert_eq!(first.items.len(), 2);
    let second = list(None, None, 2, first.next_cursor.clone())
        .await
        .expect("page 2");
    assert_eq!(
        (
            second.items.len(),
            second.items[0].email.as_str(),
            second.next_cursor.as_deref()
        ),
        (1, "c@example.com", None)
    );
    let literal = list(None, Some("a_1"), 0, None).await.expect("q");
    assert_eq!(literal.items.len(), 1, "`_` is not a wildcard");
    let unsub = list(Some(Status::Unsubscribed), None, 0, None)
        .await
        .expect("status");
    assert_eq!(unsub.items[0].email, "ab1@example.com");
    assert!(matches!(
        list(None, None, 0, Some("x".into())).await,
        Err(StoreError::Invalid(_))
    ));

    let mut attrs = serde_json::Map::new();
    attrs.insert("plan".into(), serde_json::Value::Null);
    attrs.insert("team".into(), serde_json::json!("b"));
    let c = s
        .patch_contact(
            "a_1@example.com",
            ContactPatch {
                status: Some(Status::Unsubscribed),
                reason: None,
                attributes: Some(attrs),
                by: Some("user ann@example.com".into()),
            },
            50,
        )
        .await
        .expect("patch");
    assert_eq!(
        (c.status, c.reason.as_deref(), c.attributes.clone()),
        (
            Status::Unsubscribed,
            Some("manual"),
            serde_json::json!({"team": "b"})
        )
    );
    assert!(matches!(
        s.patch_contact("nobody@example.com", ContactPatch::default(), 50)
            .await,
        Err(StoreError::NotFound(_))
    ));
    let timeline = events_of(s, "a_1@example.com").await;
    assert_eq!(timeline.len(), 1, "the change is in the timeline");
    assert_eq!(
        timeline[0].note.as_deref(),
        Some("status set by user ann@example.com: subscribed → unsubscribed"),
        "with who did it"
    );
    assert!(s.delete_contact("a_1@example.com").await.expect("delete"));
    assert!(!s.delete_contact("a_1@example.com").await.expect("delete"));
    assert!(find(s, "a_1@example.com").await.is_none());
    let events = s.list_events(EventFilter::default()).await.expect("events");
    assert!(events.items.iter().all(|e| e.email != "a_1@example.com"));
}

/// The request log and the events are listed newest first, page by page, and filtered.
async fn the_log_and_the_events_are_listed_newest_first(b: Backend) {
    let s = &b.store;
    let mut ids = Vec::new();
    for n in 0..4 {
        let (i, l) = item(n);
        ids.push(s.ingest(i, l).await.expect("ingest"));
    }
    let rejected = s
        .log_request(NewLogEntry {
            received_at: 9,
            method: "POST".into(),
            path: "/x".into(),
            http_status: 403,
            outcome: "rejected".into(),
            error: Some("bad signature".into()),
            ..Default::default()
        })
        .await
        .expect("log");
    let page = |outcome: Option<&str>, processing: Option<&str>, limit, cursor| {
        s.list_log(rebound_store::LogFilter {
            outcome: outcome.map(str::to_string),
            processing: processing.map(str::to_string),
            source_id: None,
            limit,
            cursor,
            ..Default::default()
        })
    };
    let first = page(None, None, 2, None).await.expect("log");
    assert_eq!(
        first.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        [rejected, ids[3]]
    );
    assert_eq!(
        (
            first.items[0].http_status,
            first.items[0].processing.as_deref(),
            first.items[0].inbox_id
        ),
        (403, None, None)
    );
    assert_eq!(
        (
            first.items[1].processing.as_deref(),
            first.items[1].inbox_id,
            first.items[1].attempts
        ),
        (Some("pending"), Some(ids[3]), Some(0))
    );
    let rest = page(None, None, 2, first.next_cursor.clone())
        .await
        .expect("log");
    assert_eq!(
        rest.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );
    let only = page(Some("rejected"), None, 0, None).await.expect("log");
    assert_eq!(only.items.len(), 1);
    assert_eq!(only.items[0].error.as_deref(), Some("bad signature"));
    assert_eq!(
        page(None, Some("pending"), 0, None)
            .await
            .expect("log")
            .items
            .len(),
        4
    );
    // By HTTP status (a range) and by time received (since inclusive, until exclusive).
    let ids_of = |f: rebound_store::LogFilter| async move {
        s.list_log(f)
            .await
            .expect("log")
            .items
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>()
    };
    let status = |min, max| rebound_store::LogFilter {
        status_min: Some(min),
        status_max: Some(max),
        ..Default::default()
    };
    assert_eq!(ids_of(status(400, 499)).await, [rejected]);
    assert_eq!(ids_of(status(200, 200)).await.len(), 4);
    assert!(ids_of(status(500, 599)).await.is_empty());
    let received = |since, until| rebound_store::LogFilter {
        since,
        until,
        ..Default::default()
    };
    assert_eq!(ids_of(received(Some(1), Some(3))).await, [ids[2], ids[1]]);
    assert_eq!(ids_of(received(Some(3), None)).await, [rejected, ids[3]]);
    assert_eq!(ids_of(received(None, Some(1))).await, [ids[0]]);

    apply_events(
        s,
        &[
            event("l@example.com", "e1", EventKind::Delivery, None, 1),
            event("l@example.com", "e2", EventKind::Open, None, 2),
            event("m@example.com", "e3", EventKind::Delivery, None, 3),
        ],
    )
    .await;
    let events = s
        .list_events(EventFilter {
            limit: 2,
            ..Default::default()
        })
        .await
        .expect("events");
    assert_eq!(events.items.len(), 2);
    assert_eq!(events.items[0].email, "m@example.com");
    let older = s
        .list_events(EventFilter {
            cursor: events.next_cursor.clone(),
            ..Default::default()
        })
        .await
        .expect("events");
    assert_eq!(older.items.len(), 1);
    assert_eq!(older.items[0].kind, "delivery");
    let deliveries = s
        .list_events(EventFilter {
            kind: Some("delivery".into()),
            email_key: Some("l@example.com".into()),
            ..Default::default()
        })
        .await
        .expect("events");
    assert_eq!(deliveries.items.len(), 1);
    let nobody = s
        .list_events(EventFilter {
            email_key: Some("nobody@example.com".into()),
            ..Default::default()
        })
        .await
        .expect("events");
    assert!(nobody.items.is_empty());
}

/// A message fetched from a mailbox twice is stored once, with the verdict it was stored
/// with; the mailbox's ids are listed by scope.
async fn mailbox_messages_are_stored_once(b: Backend) {
    let s = &b.store;
    let mail = |uid: &str, is_bounce: bool| {
        let (item, log) = item(1);
        rebound_store::MailItem {
            uid: uid.into(),
            is_bounce,
            item,
            log,
        }
    };
    let first = s
        .mailbox_store_batch("source:1", vec![mail("u1", true), mail("u2", false)])
        .await
        .expect("store");
    assert!(first.iter().all(|m| m.new && m.inbox_id.is_some()));
    let again = s
        .mailbox_store_batch("source:1", vec![mail("u1", false), mail("u3", true)])
        .await
        .expect("store");
    assert_eq!(
        (again[0].new, again[0].is_bounce, again[0].inbox_id),
        (false, true, first[0].inbox_id)
    );
    assert!(again[1].new);
    let mut seen: Vec<String> = s
        .mailbox_seen("source:1")
        .await
        .expect("seen")
        .into_iter()
        .collect();
    seen.sort();
    assert_eq!(seen, ["u1", "u2", "u3"]);
    assert!(s.mailbox_seen("source:2").await.expect("seen").is_empty());
    assert_eq!(s.inbox_counts().await.expect("counts").pending, 3);
}

/// Rejection counts are summed per minute and key, listed newest first, and pruned with
/// old processed and rejected requests; pending and failed requests are kept.
async fn rejections_and_old_requests_are_pruned(b: Backend) {
    let s = &b.store;
    let count = |minute: Millis, n: u64| rebound_store::RejectionCount {
        minute,
        source_id: None,
        provider: Some("generic".into()),
        http_status: 403,
        error: "bad signature".into(),
        count: n,
    };
    s.add_rejections(vec![count(60_000, 2), count(120_000, 1)])
        .await
        .expect("add");
    s.add_rejections(vec![count(60_000, 3)]).await.expect("add");
    let listed = s.list_rejections(0, 10).await.expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|r| (r.minute, r.count))
            .collect::<Vec<_>>(),
        [(120_000, 1), (60_000, 5)]
    );
    assert_eq!(listed[0].source_id, None);
    assert_eq!(s.list_rejections(100_000, 10).await.expect("list").len(), 1);

    // Old rows: one done, one failed, one pending, one rejected; and a new rejected one.
    let mut ids = Vec::new();
    for n in 0..3 {
        let (i, l) = item(n);
        ids.push(s.ingest(i, l).await.expect("ingest"));
    }
    let claimed = s.claim(2, 10, 1_000).await.expect("claim");
    assert_eq!(claimed.len(), 2);
    let rows = vec![
        processed(ids[0], 1, Ok(vec![])),
        Processed {
            max_attempts: 1,
            ..processed(ids[1], 1, Err("broken".into()))
        },
    ];
    let r = s
        .apply(Arc::from(rows), Policy::default(), 20)
        .await
        .expect("apply");
    assert_eq!((r.done, r.failed), (1, 1));
    let log = |received_at| NewLogEntry {
        received_at,
        method: "POST".into(),
        path: "/x".into(),
        http_status: 403,
        outcome: "rejected".into(),
        ..Default::default()
    };
    s.log_request(log(5)).await.expect("log");
    s.log_request(log(500_000)).await.expect("log");
    let pruned = s.prune(100_000, 1_000).await.expect("prune");
    assert_eq!((pruned.requests, pruned.rejection_counts), (2, 1));
    let left = s
        .list_log(rebound_store::LogFilter::default())
        .await
        .expect("log");
    assert_eq!(left.items.len(), 3, "pending, failed and the new rejection");
    assert_eq!(s.list_rejections(0, 10).await.expect("list").len(), 1);
    let counts = s.inbox_counts().await.expect("counts");
    assert_eq!((counts.pending, counts.done, counts.failed), (1, 0, 1));
    // Failed rows go back in the queue.
    assert_eq!(s.replay_failed().await.expect("replay"), 1);
    let counts = s.inbox_counts().await.expect("counts");
    assert_eq!((counts.pending, counts.failed), (2, 0));
}

// ---------------------------------------------------------------- SQLite only
//
// What only the SQLite backend has: its migrations and files, group commit on its one
// writer, savepoints, and the lease columns as the file holds them.

/// The counts per sending domain read a range of the `events_occurred` index and no table
/// rows (the query is the one the store runs: `common::KIND_COUNTS_BY_SENDING_DOMAIN_SQL`).
#[tokio::test]
async fn counts_per_sending_domain_read_only_the_time_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = SqliteStore::open(dir.path().join("rebound.db")).expect("open");
    let plan: Vec<String> = s
        .read(|c| {
            let mut st = c.prepare(
                "EXPLAIN QUERY PLAN SELECT sending_domain, kind, COUNT(*) FROM events
                 WHERE occurred_at >= ?1 AND kind IN ('delivery', 'bounce', 'complaint')
                   AND sending_domain IS NOT NULL
                 GROUP BY sending_domain, kind",
            )?;
            let rows = st.query_map([0i64], |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
        .expect("plan");
    let plan = plan.join("; ");
    assert!(
        plan.contains("USING COVERING INDEX events_occurred (occurred_at>?)"),
        "{plan}"
    );
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
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .expect("migrations")
        .filter(|f| {
            f.as_ref()
                .is_ok_and(|f| f.file_name().to_string_lossy().ends_with(".sql"))
        })
        .count();
    assert_eq!(
        versions, files as i64,
        "one row per migration, applied once"
    );
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

/// Migration 3 on a database written before it: the newest order-sensitive event time and
/// the last manual change are filled in from the events table.
#[tokio::test]
async fn migration_3_fills_in_existing_contacts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    {
        let c = rusqlite::Connection::open(&path).expect("open");
        c.execute_batch(include_str!("../migrations/sqlite/0001_init.sql"))
            .expect("v1");
        c.execute_batch(include_str!("../migrations/sqlite/0002_mailbox.sql"))
            .expect("v2");
        c.execute_batch(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL);
             INSERT INTO schema_migrations VALUES (1, 0), (2, 0);
             INSERT INTO contacts (id, email, email_key, uuid, status, reason, created_at, updated_at)
               VALUES (1, 'a@example.com', 'a@example.com', 'u1', 'subscribed', NULL, 0, 0),
                      (2, 'b@example.com', 'b@example.com', 'u2', 'bounced', 'userunknown', 0, 0);
             INSERT INTO events (dedup_key, contact_id, provider, kind, class, occurred_at, recorded_at, status_after, reason)
               VALUES ('k1', 1, 'ses', 'bounce', 'hard', 100, 100, 'bounced', 'userunknown'),
                      ('k2', 1, 'ses', 'open', NULL, 900, 900, 'bounced', NULL),
                      ('api:manual:x', 1, 'api', 'other', NULL, 500, 500, 'unsubscribed', 'asked'),
                      ('api:manual:y', 1, 'api', 'other', NULL, 700, 700, 'subscribed', NULL),
                      ('k3', 2, 'ses', 'delivery', NULL, 300, 300, 'subscribed', NULL),
                      ('k4', 2, 'ses', 'bounce', 'hard', 200, 200, 'bounced', 'userunknown');",
        )
        .expect("old data");
    }
    let s = SqliteStore::open(&path).expect("migrate");
    type Row = (
        i64,
        Option<Millis>,
        Option<Millis>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = s
        .read(|c| {
            let mut st = c.prepare(
                "SELECT id, last_policy_event_at, manual_at, manual_status, manual_reason FROM contacts ORDER BY id",
            )?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })
        .await
        .expect("read");
    assert_eq!(
        rows,
        vec![
            (1, Some(100), Some(700), Some("subscribed".into()), None),
            (2, Some(300), None, None, None),
        ]
    );
}

async fn lease_of(s: &SqliteStore, id: i64) -> (Option<String>, Option<Millis>) {
    s.read(move |c| {
        Ok(c.query_row(
            "SELECT locked_by, locked_until FROM inbox WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    })
    .await
    .expect("read")
}

/// A lease is two columns of the inbox row: which store instance holds it and until when.
/// Two opens of one file (two processes) are two holders; an expired lease is taken over;
/// applying clears both columns.
#[tokio::test]
async fn leases_are_columns_of_the_inbox_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("r.db");
    let a = SqliteStore::open(&path).expect("open");
    let b = SqliteStore::open(&path).expect("open");
    assert_ne!(a.node_id(), b.node_id());
    let (i, l) = item(1);
    let id = a.ingest(i, l).await.expect("ingest");
    assert_eq!(lease_of(&a, id).await, (None, None));
    assert_eq!(b.claim(1, 10, 20).await.expect("claim").len(), 1);
    assert_eq!(
        lease_of(&a, id).await,
        (Some(b.node_id().to_string()), Some(20))
    );
    assert!(a.claim(1, 19, 40).await.expect("claim").is_empty());
    assert_eq!(a.claim(1, 20, 40).await.expect("claim").len(), 1);
    assert_eq!(
        lease_of(&a, id).await,
        (Some(a.node_id().to_string()), Some(40))
    );
    let r = a
        .apply(
            Arc::from(vec![processed(id, 1, Ok(vec![]))]),
            Policy::default(),
            30,
        )
        .await
        .expect("apply");
    assert_eq!(r.done, 1);
    assert_eq!(lease_of(&a, id).await, (None, None));
}

// ---------------------------------------------------------------- PostgreSQL only
//
// What only the PostgreSQL backend has: several store instances (nodes) on one database,
// migrations under an advisory lock, claims that skip rows another node holds, and ingest
// batched into one statement per group.

/// Many concurrent ingests: each answered with the id of its own row, in fewer commits than
/// requests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_ingests_share_commits_and_get_their_own_ids() {
    let Some((_keep, config)) = pg_database() else {
        return;
    };
    let s = Arc::new(PgStore::open_config(config).expect("open"));
    let commits_before = s.commits();
    let barrier = Arc::new(tokio::sync::Barrier::new(500));
    let mut tasks = Vec::new();
    for n in 0..500 {
        let (s, barrier) = (s.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let (i, l) = item(n);
            barrier.wait().await;
            (n, s.ingest(i, l).await)
        }));
    }
    let mut ids = std::collections::HashMap::new();
    for t in tasks {
        let (n, id) = t.await.expect("join");
        ids.insert(id.expect("ingest"), n);
    }
    assert_eq!(ids.len(), 500, "500 distinct ids");
    let log = s
        .list_log(rebound_store::LogFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("log");
    assert_eq!(log.items.len(), 500);
    for e in &log.items {
        assert_eq!(
            ids[&e.id], e.received_at,
            "row {} answered to another caller",
            e.id
        );
    }
    let commits = s.commits() - commits_before;
    assert!(
        commits <= 250,
        "500 concurrent writes took {commits} commits: no group commit"
    );
}

/// Three nodes opening one database at once apply the migrations once; claiming from all
/// three at once, no row is leased twice and every row is leased.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nodes_share_one_database_and_never_claim_a_row_twice() {
    let Some((_keep, config)) = pg_database() else {
        return;
    };
    let opens: Vec<_> = (0..3)
        .map(|_| {
            let config = config.clone();
            std::thread::spawn(move || PgStore::open_config(config).expect("open"))
        })
        .collect();
    let nodes: Vec<Arc<PgStore>> = opens
        .into_iter()
        .map(|t| Arc::new(t.join().expect("join")))
        .collect();
    let versions: i64 = nodes[0]
        .read(|c| {
            Ok(c.query_one("SELECT COUNT(*) FROM schema_migrations", &[])?
                .get(0))
        })
        .await
        .expect("read");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .expect("migrations")
        .count();
    assert_eq!(versions, files as i64, "each migration applied once");
    for n in 0..300 {
        let (i, l) = item(n);
        nodes[(n % 3) as usize].ingest(i, l).await.expect("ingest");
    }
    let mut tasks = Vec::new();
    for node in &nodes {
        let node = node.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let rows = node.claim(7, 1_000, 60_000).await.expect("claim");
                if rows.is_empty() {
                    return mine;
                }
                mine.extend(rows.into_iter().map(|r| r.id));
            }
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("join"));
    }
    let total = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        (total, all.len()),
        (300, 300),
        "every row leased exactly once"
    );
}

/// The server closes the store's connections (a restart): the write that meets the closed
/// connection fails, never a false success; the next ones reconnect.
#[tokio::test]
async fn postgres_a_lost_connection_is_reopened() {
    let Some((_keep, config)) = pg_database() else {
        return;
    };
    let s = PgStore::open_config(config.clone()).expect("open");
    let (i, l) = item(1);
    s.ingest(i, l).await.expect("ingest");
    let killer = PgStore::open_config(config).expect("open");
    let killed: i64 = killer
        .read(|c| {
            Ok(c.query_one(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )?
            .get(0))
        })
        .await
        .expect("terminate");
    assert!(killed >= 1, "{killed}");
    let mut stored = 0;
    for n in 2..6 {
        let (i, l) = item(n);
        if s.ingest(i, l).await.is_ok() {
            stored += 1;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        stored >= 3,
        "only {stored} of 4 writes after the loss were stored"
    );
    // Reads too: a closed reader is not put back in the pool.
    let mut pending = None;
    for _ in 0..3 {
        if let Ok(c) = s.inbox_counts().await {
            pending = Some(c.pending);
            break;
        }
    }
    assert_eq!(pending, Some(1 + stored));
}

/// Four nodes apply the events of two contacts at once, every event sent to two of them
/// at the same moment (a provider's retry reaching another node): each event is stored once,
/// and every contact ends in the state of a serial replay of its events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_nodes_applying_one_contact_at_once_serialize() {
    let Some((_keep, config)) = pg_database() else {
        return;
    };
    let nodes: Vec<DynStore> = (0..4)
        .map(|_| Arc::new(PgStore::open_config(config.clone()).expect("open")) as DynStore)
        .collect();
    let mut next = xorshift(0x2545_f491_4f6c_dd1d);
    let emails: Vec<String> = (0..2).map(|i| format!("shared{i}@example.com")).collect();
    let mut sets: Vec<Vec<Event>> = vec![Vec::new(); emails.len()];
    let mut queues: Vec<Vec<Event>> = vec![Vec::new(); nodes.len()];
    for i in 0..400usize {
        let c = (next() % emails.len() as u64) as usize;
        let (kind, class) = match next() % 10 {
            0..=4 => (EventKind::Bounce, Some(BounceClass::Soft)),
            5..=7 => (EventKind::Delivery, None),
            8 => (EventKind::Bounce, Some(BounceClass::Hard)),
            _ => (EventKind::Open, None),
        };
        let t = (next() % 40) as Millis * DAY_MS;
        let e = event(&emails[c], &format!("n{i}"), kind, class, t);
        sets[c].push(e.clone());
        queues[i % 4].push(e.clone());
        queues[(i + 1) % 4].push(e);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(nodes.len()));
    let mut tasks = Vec::new();
    for (node, queue) in nodes.iter().cloned().zip(queues) {
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut stored = 0;
            for e in queue {
                stored += apply_events(&node, &[e]).await.events;
            }
            stored
        }));
    }
    let mut stored = 0;
    for t in tasks {
        stored += t.await.expect("join");
    }
    assert_eq!(stored, 400, "each event stored once");
    let p = Policy::default();
    for (email, set) in emails.iter().zip(&sets) {
        let definition = policy::replay(
            &p,
            &ContactState::default(),
            &set.iter().map(PolicyEvent::from).collect::<Vec<_>>(),
        );
        assert_eq!(
            stored_state(&nodes[0], email).await,
            shown(definition),
            "{email}"
        );
    }
}

/// `apply` locks the contact it changes: while another transaction holds the contact's row
/// (another node applying an event of it), an apply of an event of that contact waits, and
/// then folds onto what that transaction committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_apply_waits_for_a_contact_another_node_holds() {
    let Some((_keep, config)) = pg_database() else {
        return;
    };
    let s: DynStore = Arc::new(PgStore::open_config(config.clone()).expect("open"));
    let email = "held@example.com";
    apply_events(&s, &[event(email, "h0", EventKind::Delivery, None, 1)]).await;
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let mut client = config.connect(::postgres::NoTls).expect("connect");
        let mut tx = client.transaction().expect("begin");
        tx.query(
            "SELECT id FROM contacts WHERE email_key = $1 FOR UPDATE",
            &[&email],
        )
        .expect("lock");
        locked_tx.send(()).expect("locked");
        release_rx.recv().expect("release");
        tx.execute(
            "UPDATE contacts SET soft_bounces = '[5]', soft_bounce_count = 1 WHERE email_key = $1",
            &[&email],
        )
        .expect("update");
        tx.commit().expect("commit");
    });
    locked_rx.recv().expect("locked");
    let applying = {
        let s = s.clone();
        tokio::spawn(async move {
            apply_events(
                &s,
                &[event(
                    email,
                    "h1",
                    EventKind::Bounce,
                    Some(BounceClass::Soft),
                    10,
                )],
            )
            .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(
        !applying.is_finished(),
        "apply did not wait for the contact's lock"
    );
    release_tx.send(()).expect("release");
    let report = applying.await.expect("join");
    assert_eq!(report.events, 1);
    holder.join().expect("holder");
    let c = contact(&s, email).await;
    assert_eq!(
        c.soft_bounces,
        vec![5, 10],
        "folded onto the committed state"
    );
}

/// A write whose statement fails inside a group transaction undoes only itself (its
/// savepoint), on PostgreSQL where a failed statement aborts the whole transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_failing_write_does_not_undo_its_neighbours() {
    let Some((_keep, config)) = pg_database() else {
        return;
    };
    let s = Arc::new(PgStore::open_config(config).expect("open"));
    let mut tasks = Vec::new();
    for n in 0..200i64 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            if n % 2 == 0 {
                let (i, l) = item(n);
                s.ingest(i, l).await.map(|_| ())
            } else {
                s.write(move |c| {
                    c.execute("INSERT INTO inbox (received_at) VALUES ($1)", &[&n])?;
                    c.execute("SELECT 1 / 0", &[])?;
                    Ok(())
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

/// A node opens a bounded number of connections however many reads and worker transactions
/// are asked of it at once: 48 concurrent reads, each holding its connection for 200 ms,
/// see at most 16 pooled connections and the writer's on the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_node_opens_a_bounded_number_of_connections() {
    let Some((_keep, config)) = pg_database() else {
        return;
    };
    let s = Arc::new(PgStore::open_config(config).expect("open"));
    let mut tasks = Vec::new();
    for _ in 0..48 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.read(|c| {
                c.batch("SELECT pg_sleep(0.2)")?;
                let n: i64 = c
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()",
                        &[],
                    )?
                    .try_get(0)
                    .map_err(|e| rebound_store::StoreError::Db(e.to_string()))?;
                Ok(n)
            })
            .await
        }));
    }
    let mut most = 0;
    for t in tasks {
        most = most.max(t.await.expect("join").expect("read"));
    }
    // Sixteen pooled connections and the writer's.
    assert!(most <= 17, "{most} connections open at once");
    assert!(
        most >= 8,
        "the reads did not run concurrently ({most} connections)"
    );
}

/// The dashboard's numbers: contacts per status, and events per UTC day and kind from a
/// given time on (older events left out, days in order).
async fn contacts_are_counted_per_status_and_events_per_day_and_kind(b: Backend) {
    use rebound_store::{StatusCounts, DAY_MS};
    let s = &b.store;
    assert_eq!(
        s.status_counts().await.expect("counts"),
        StatusCounts::default()
    );
    s.upsert_contacts(
        vec![
            new_contact("a@example.com", None, None),
            new_contact("b@example.com", None, None),
            new_contact("c@example.com", Some(Status::Bounced), None),
            new_contact("d@example.com", Some(Status::Unsubscribed), None),
            new_contact("e@example.com", Some(Status::Unsubscribed), None),
        ],
        false,
    )
    .await
    .expect("upsert");
    let counts = s.status_counts().await.expect("counts");
    assert_eq!(
        counts,
        StatusCounts {
            subscribed: 2,
            unsubscribed: 2,
            bounced: 1,
            complained: 0
        }
    );
    assert_eq!(counts.total(), 5);

    let day = |n: i64| 20_000 * DAY_MS + n * DAY_MS;
    apply_events(
        s,
        &[
            event(
                "a@example.com",
                "old",
                EventKind::Delivery,
                None,
                day(0) + 5,
            ),
            event("a@example.com", "d1", EventKind::Delivery, None, day(1) + 1),
            event(
                "b@example.com",
                "d2",
                EventKind::Delivery,
                None,
                day(1) + 3_600_000,
            ),
            event(
                "b@example.com",
                "o1",
                EventKind::Open,
                None,
                day(1) + 7_200_000,
            ),
            event(
                "a@example.com",
                "c1",
                EventKind::Complaint,
                None,
                day(3) + DAY_MS - 1,
            ),
        ],
    )
    .await;
    // Per hour, source and kind: all of them, then only those after an id.
    let hourly = s.hourly_event_counts(day(1), 0).await.expect("hourly");
    let mut got: Vec<(i64, String, u64)> = hourly
        .rows
        .iter()
        .map(|c| (c.hour, c.kind.clone(), c.count))
        .collect();
    got.sort();
    let h = |d: i64, hour: i64, kind: &str, n: u64| (day(d) + hour * 3_600_000, kind.into(), n);
    assert_eq!(
        got,
        [
            h(1, 0, "delivery", 1),
            h(1, 1, "delivery", 1),
            h(1, 2, "open", 1),
            h(3, 23, "complaint", 1)
        ]
    );
    assert_eq!(s.status_counts().await.expect("counts").complained, 1);
    let upto = hourly.upto_id;
    assert!(upto > 0);
    let none_new = s.hourly_event_counts(day(1), upto).await.expect("hourly");
    assert!(none_new.rows.is_empty(), "{none_new:?}");
    assert_eq!(none_new.upto_id, upto);
    apply_events(
        s,
        &[event(
            "b@example.com",
            "b1",
            EventKind::Bounce,
            None,
            day(3) + 7,
        )],
    )
    .await;
    let later = s.hourly_event_counts(day(1), upto).await.expect("hourly");
    assert!(later.upto_id > upto);
    let later: Vec<(i64, &str, u64)> = later
        .rows
        .iter()
        .map(|c| (c.hour, c.kind.as_str(), c.count))
        .collect();
    assert_eq!(later, [(day(3), "bounce", 1)]);
    assert!(s
        .hourly_event_counts(day(4), 0)
        .await
        .expect("hourly")
        .rows
        .is_empty());
    // The deliverability counts: deliveries, bounces and complaints only, per source.
    let mut by_source = s.kind_counts_by_source(day(1)).await.expect("by source");
    by_source.sort_by(|a, b| a.kind.cmp(&b.kind));
    let kinds: Vec<(&str, u64)> = by_source
        .iter()
        .map(|c| (c.kind.as_str(), c.count))
        .collect();
    assert_eq!(kinds, [("bounce", 1), ("complaint", 1), ("delivery", 2)]);
    let sources: Vec<Option<i64>> = by_source.iter().map(|c| c.source_id).collect();
    assert!(sources.iter().all(|id| *id == sources[0]), "{sources:?}");
    assert!(s
        .kind_counts_by_source(day(4))
        .await
        .expect("by source")
        .is_empty());
}

fn new_subscription(url: &str, events: &[&str]) -> NewSubscription {
    NewSubscription {
        url: url.to_string(),
        kind: SubscriptionKind::Webhook,
        events: events.iter().map(|e| e.to_string()).collect(),
        sources: None,
        secret: "whsec_dGVzdA==".into(),
        description: String::new(),
        created_at: 1,
    }
}

fn attempt(o: &OutboxItem, next: OutboxNext, at: Millis) -> AttemptRecord {
    AttemptRecord {
        outbox_id: o.id,
        subscription_id: o.subscription.id,
        attempt: o.attempt,
        at,
        http_status: Some(if next == OutboxNext::Delivered {
            200
        } else {
            500
        }),
        latency_ms: 3,
        response: Some("ok".into()),
        error: None,
        next,
        disable: None,
    }
}

/// A stored event is announced (`event.<kind>`) in apply's transaction to the enabled
/// webhook subscriptions wanting its kind (or `event.*`) and its source, before the status
/// change it caused; a source filter holds back the change too.
async fn stored_events_write_outbox_rows_for_subscriptions_wanting_their_kind_and_source(
    b: Backend,
) {
    let s = &b.store;
    let sub = |url: &str, events: &[&str], sources: Option<Vec<i64>>| {
        let mut n = new_subscription(url, events);
        n.sources = sources;
        n
    };
    let bounce = s
        .create_subscription(sub("http://a.example/", &["event.bounce"], None))
        .await
        .expect("a");
    let every = s
        .create_subscription(sub(
            "http://b.example/",
            &["event.*", "contact.status_changed"],
            Some(vec![1]),
        ))
        .await
        .expect("b");
    s.create_subscription(sub("http://c.example/", &["event.delivery"], None))
        .await
        .expect("c");
    s.create_subscription(sub("http://d.example/", &["*"], Some(vec![99])))
        .await
        .expect("d");
    let listed = s.list_subscriptions().await.expect("list");
    assert_eq!(listed[1].sources, Some(vec![1]));
    assert_eq!(listed[0].sources, None);
    let mut e = event(
        "x@example.org",
        "e1",
        EventKind::Bounce,
        Some(BounceClass::Hard),
        5,
    );
    e.status = Some("5.1.1".into());
    e.diagnostic = Some("550 5.1.1 no such user".into());
    e.message_id = Some("<m1@example.org>".into());
    let r = apply_events(s, &[e]).await;
    assert_eq!(r.changes.len(), 1);
    let far = 10 * DAY_MS;
    let claimed = s.claim_outbox(100, far, far + 1).await.expect("claim");
    let got: Vec<(i64, String)> = claimed
        .iter()
        .map(|o| {
            let body: serde_json::Value = serde_json::from_str(&o.payload).expect("json");
            (
                o.subscription.id,
                body["type"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (bounce.id, "event.bounce".to_string()),
            (every.id, "event.bounce".to_string())
        ],
        "the change waits behind the event of the same contact"
    );
    assert_eq!(claimed[0].message_id, claimed[1].message_id);
    let body: serde_json::Value = serde_json::from_str(&claimed[0].payload).expect("json");
    assert_eq!(body["id"], claimed[0].message_id.as_str());
    let data = &body["data"];
    assert_eq!(data["event_id"], r.changes[0].event_id);
    assert_eq!(data["email"], "x@example.org");
    assert_eq!(data["kind"], "bounce");
    assert_eq!(data["class"], "hard");
    assert_eq!(data["reason"], "mailboxfull");
    assert_eq!(data["status"], "5.1.1");
    assert_eq!(data["diagnostic"], "550 5.1.1 no such user");
    assert_eq!(data["message_id"], "<m1@example.org>");
    assert_eq!(data["provider"], "generic");
    assert_eq!(data["source"], 1);
    assert_eq!(data["occurred_at"], "1970-01-01T00:00:00.005Z");
    // Once the event is delivered, the status change it caused comes next.
    s.record_attempts(
        claimed
            .iter()
            .map(|o| attempt(o, OutboxNext::Delivered, far))
            .collect(),
    )
    .await
    .expect("record");
    let next = s.claim_outbox(100, far, far + 1).await.expect("claim");
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(next[0].subscription.id, every.id);
    let body: serde_json::Value = serde_json::from_str(&next[0].payload).expect("json");
    assert_eq!(body["type"], "contact.status_changed");
    // A source filter is kept and cleared like any other field.
    let mut all = listed[1].clone();
    all.sources = None;
    s.update_subscription(all).await.expect("update");
    assert_eq!(s.list_subscriptions().await.expect("list")[1].sources, None);
}

/// The outbox is written in the transaction of the status change: one row per enabled
/// subscription whose filter matches, none when the apply fails; the API's changes by hand
/// too. A contact's next message waits for its previous one.
async fn status_changes_write_one_outbox_row_per_matching_subscription_in_their_transaction(
    b: Backend,
) {
    let s = &b.store;
    let all = s
        .create_subscription(new_subscription(
            "http://a.example/",
            &["contact.status_changed"],
        ))
        .await
        .expect("a");
    let star = s
        .create_subscription(new_subscription(
            "http://b.example/",
            &["event.delivery", "contact.status_changed"],
        ))
        .await
        .expect("b");
    let mut off = s
        .create_subscription(new_subscription("http://c.example/", &["*"]))
        .await
        .expect("c");
    off.enabled = false;
    s.update_subscription(off.clone()).await.expect("disable");
    s.create_subscription(new_subscription("http://d.example/", &["other.event"]))
        .await
        .expect("d");
    assert_eq!(s.list_subscriptions().await.expect("list").len(), 4);
    let hard = Some(BounceClass::Hard);
    let far = 10 * DAY_MS;
    // A failed apply (its second row names an unknown contact UUID) writes nothing.
    let mut unknown = event("y@example.org", "o0", EventKind::Bounce, hard, 1);
    unknown.recipient = Recipient::ContactUuid("no-such-uuid".into());
    let failed = s
        .apply(
            Arc::from(vec![
                processed(
                    0,
                    1,
                    Ok(vec![event(
                        "y@example.org",
                        "o1",
                        EventKind::Bounce,
                        hard,
                        1,
                    )]),
                ),
                processed(0, 1, Ok(vec![unknown])),
            ]),
            Policy::default(),
            1,
        )
        .await;
    assert!(failed.is_err(), "{failed:?}");
    assert!(s
        .claim_outbox(100, far, far + 1)
        .await
        .expect("claim")
        .is_empty());
    // A status change: one row for each of the two matching, enabled subscriptions.
    let r = apply_events(
        s,
        &[event("x@example.org", "o2", EventKind::Bounce, hard, 1)],
    )
    .await;
    assert_eq!(r.changes.len(), 1);
    let claimed = s.claim_outbox(100, far, far + 1).await.expect("claim");
    let subs: Vec<i64> = claimed.iter().map(|o| o.subscription.id).collect();
    assert_eq!(subs, [all.id, star.id]);
    assert_eq!(claimed[0].message_id, claimed[1].message_id);
    assert_eq!(claimed[0].attempt, 1);
    let body: serde_json::Value = serde_json::from_str(&claimed[0].payload).expect("json");
    assert_eq!(body["type"], "contact.status_changed");
    assert_eq!(body["id"], claimed[0].message_id.as_str());
    assert_eq!(body["data"]["email"], "x@example.org");
    assert_eq!(body["data"]["old_status"], "subscribed");
    assert_eq!(body["data"]["new_status"], "bounced");
    assert_eq!(body["data"]["source"], "generic");
    assert_eq!(body["data"]["event_id"], r.changes[0].event_id);
    // A change by hand through the API is announced too, after the first one.
    let key = Address::parse("x@example.org")
        .expect("address")
        .key()
        .to_string();
    s.patch_contact(
        &key,
        ContactPatch {
            status: Some(Status::Subscribed),
            ..Default::default()
        },
        2,
    )
    .await
    .expect("patch");
    // Per contact, in order: the second messages wait while the first are pending.
    assert!(s
        .claim_outbox(100, far, far + 1)
        .await
        .expect("claim")
        .is_empty());
    s.record_attempts(vec![
        attempt(&claimed[0], OutboxNext::Delivered, far),
        attempt(&claimed[1], OutboxNext::Retry(far * 2), far),
    ])
    .await
    .expect("record");
    let next = s.claim_outbox(100, far, far * 5).await.expect("claim");
    assert_eq!(next.len(), 1, "{next:?}");
    assert_eq!(next[0].subscription.id, all.id);
    let body: serde_json::Value = serde_json::from_str(&next[0].payload).expect("json");
    assert_eq!(
        (&body["data"]["new_status"], &body["data"]["source"]),
        (&serde_json::json!("subscribed"), &serde_json::json!("api"))
    );
    // The retry is due later; then the failing subscription's rows come in order.
    let later = s
        .claim_outbox(100, far * 2, far * 2 + 1)
        .await
        .expect("claim");
    assert_eq!(later.len(), 1);
    assert_eq!((later[0].id, later[0].attempt), (claimed[1].id, 2));
    let failing = s.list_subscriptions().await.expect("list");
    assert_eq!(failing[1].failing_since, Some(far));
    assert_eq!(failing[0].failing_since, None);
    s.record_attempts(vec![AttemptRecord {
        disable: Some("410 Gone".into()),
        ..attempt(&later[0], OutboxNext::GaveUp, far * 2)
    }])
    .await
    .expect("record");
    let gone = &s.list_subscriptions().await.expect("list")[1];
    assert!(!gone.enabled);
    assert_eq!(gone.disabled_reason.as_deref(), Some("410 Gone"));
    // Attempts are listed newest first; a given-up message is put back in the queue.
    let log = s
        .list_deliveries(star.id, None, 10)
        .await
        .expect("deliveries");
    assert_eq!(log.len(), 2);
    assert_eq!((log[0].ok, log[0].state.as_str()), (false, "failed"));
    assert_eq!(log[1].http_status, Some(500));
    assert_eq!(
        s.requeue(star.id, Requeue::FailedSince(far), far * 3)
            .await
            .expect("requeue"),
        1
    );
    assert_eq!(
        s.requeue(all.id, Requeue::Delivery(log[0].id), far * 3)
            .await
            .expect("requeue"),
        0,
        "another subscription's attempt"
    );
    assert_eq!(
        s.next_outbox_due().await.expect("due"),
        Some(far * 5),
        "the change by hand, leased"
    );
}

/// Retention of the outbox: a delivered and a given-up message with their attempts go once
/// older than the cut-off, a batch at a time; a pending message and its failed attempts stay.
async fn outbound_messages_delivered_or_given_up_are_pruned_in_batches_pending_ones_never(
    b: Backend,
) {
    let s = &b.store;
    let sub = s
        .create_subscription(new_subscription(
            "http://a.example/",
            &["contact.status_changed"],
        ))
        .await
        .expect("subscription");
    let hard = Some(BounceClass::Hard);
    apply_events(
        s,
        &[
            event("p1@example.org", "p1", EventKind::Bounce, hard, 1),
            event("p2@example.org", "p2", EventKind::Bounce, hard, 1),
            event("p3@example.org", "p3", EventKind::Bounce, hard, 1),
        ],
    )
    .await;
    let far = 10 * DAY_MS;
    let claimed = s.claim_outbox(100, far, far + 1).await.expect("claim");
    assert_eq!(claimed.len(), 3);
    let at = 2 * DAY_MS;
    s.record_attempts(vec![
        attempt(&claimed[0], OutboxNext::Delivered, at),
        attempt(&claimed[1], OutboxNext::GaveUp, at),
        attempt(&claimed[2], OutboxNext::Retry(far * 2), at),
    ])
    .await
    .expect("record");
    let listed = |s: &DynStore| {
        let s = s.clone();
        async move {
            s.list_deliveries(sub.id, None, 100)
                .await
                .expect("deliveries")
        }
    };
    assert_eq!(listed(s).await.len(), 3);
    // Not old enough yet: nothing goes.
    let none = s.prune(at, 10).await.expect("prune");
    assert_eq!((none.outbox, none.deliveries), (0, 0));
    // One row of each a batch: two passes, then nothing.
    let before = at + 1;
    let mut passes = Vec::new();
    loop {
        let r = s.prune(before, 1).await.expect("prune");
        if r.total() == 0 {
            break;
        }
        assert!(r.outbox <= 1 && r.deliveries <= 1, "{r:?}");
        passes.push((r.outbox, r.deliveries));
        assert!(passes.len() < 10, "{passes:?}");
    }
    assert_eq!(passes, [(1, 1), (1, 1)]);
    let left = listed(s).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        (left[0].outbox_id, left[0].state.as_str()),
        (claimed[2].id, "pending")
    );
    // The pending message is still delivered later, however old.
    let later = s
        .claim_outbox(100, far * 2, far * 2 + 1)
        .await
        .expect("claim");
    assert_eq!(
        later.iter().map(|o| o.id).collect::<Vec<_>>(),
        [claimed[2].id]
    );
    assert_eq!(
        s.prune(far * 100, 10).await.expect("prune").outbox,
        0,
        "pending: never pruned"
    );
}
