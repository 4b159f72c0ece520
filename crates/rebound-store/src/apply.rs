//! Applying processed inbox rows, once for every backend.
//!
//! [`apply`] holds the decisions of [`crate::Store::apply`]: which contact an event is about
//! (its recipient, or for a bounce report read from a mailbox the contact of the send its
//! Message-ID names, and whether an unknown recipient may be created: the event's typed
//! [`Attribution`], never its `details`), duplicates, in-order folding or the re-fold of a
//! late event ([`rebound_core::policy`]), and what becomes of each inbox row (done, retried,
//! failed). A backend only implements [`ApplyRows`]: reads and writes of single rows inside
//! the transaction it has opened, and commits once `apply` returns `Ok` (rolls back on `Err`).
//!
//! The trait is synchronous on purpose. The SQLite store runs `apply` on its one writer
//! thread, inside a transaction of its own. A PostgreSQL store can do the same with a blocking
//! client (`postgres`, or `tokio-postgres` driven from a dedicated thread): one writer thread
//! per node applying batches, while ingest keeps its own group commit. Nothing here awaits,
//! so the logic cannot interleave with another batch of the same node; nodes serialize on the
//! row locks the contact lookups take (see [`ApplyRows::contact_by_key`]).

use rebound_core::policy::{self, PolicyEvent};
use rebound_core::{Address, Attribution, ContactState, Event, Millis, Policy, Recipient, Status};

use crate::{ApplyReport, ContactChange, Processed, Result, StoreError};

/// Most order-sensitive events of one contact that a late event re-folds. A contact with
/// more (since its last manual change) gets a late event folded in arrival order, as before
/// #23, and a warning in the log: the cost of one late event stays bounded (one indexed scan
/// of the contact's events, at most this many rows decoded and sorted).
pub const REPLAY_LIMIT: usize = 10_000;

/// The provider name of events read from bounce mailboxes: a bounce report's Message-ID is
/// matched against the sends of every *other* source.
pub const MAILBOX_PROVIDER: &str = "mailbox";

/// A contact as `apply` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRow {
    /// Id.
    pub id: i64,
    /// UUID.
    pub uuid: String,
    /// The address as first spelled.
    pub email: String,
    /// What the policy folds events into.
    pub state: ContactState,
}

/// An event row to insert.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    /// The event as normalized.
    pub event: &'a Event,
    /// The contact it is about.
    pub contact_id: i64,
    /// The source it came through.
    pub source_id: i64,
    /// The inbox row it came from.
    pub inbox_id: i64,
    /// The provider name.
    pub provider: &'a str,
    /// When rebound recorded it.
    pub recorded_at: Millis,
    /// The contact's status before.
    pub status_before: Status,
    /// The contact's status after.
    pub status_after: Status,
    /// What the policy did, for the timeline.
    pub note: &'a str,
}

/// How an inbox row ends this attempt. Every end releases the row's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowEnd<'a> {
    /// Processed: `done`, with the number of events stored and a note to append to the
    /// row's error text (recipients left unmatched).
    Done {
        /// Events stored.
        events: u64,
        /// Appended to the row's `error` (after `; ` when there is one already).
        note: Option<&'a str>,
    },
    /// Failed this time: still `pending`, due again at `at`.
    Retry {
        /// Why.
        error: &'a str,
        /// When it is due again.
        at: Millis,
    },
    /// Failed for good: `failed`.
    Failed {
        /// Why.
        error: &'a str,
    },
}

/// The row-level reads and writes [`apply`] needs, inside one transaction that the backend
/// opened and commits. Implementations decide nothing: each method is one statement (or
/// two) on the rows named.
pub trait ApplyRows {
    /// Locks the existing contacts among `email_keys` (sorted, no repeats) in that order,
    /// before a batch touches any of them: two nodes whose batches share contacts then wait
    /// for each other instead of locking them in opposite orders (a deadlock, which
    /// PostgreSQL breaks only after `deadlock_timeout`). SQLite's one writer holds the whole
    /// database already: nothing to do.
    fn lock_contacts(&mut self, email_keys: &[String]) -> Result<()> {
        let _ = email_keys;
        Ok(())
    }
    /// Whether inbox row `id` is still `pending` (`None`: no such row), locking it for the
    /// rest of the transaction (PostgreSQL: `SELECT … FOR UPDATE`), so that two workers that
    /// hold it (a lease expired while its first holder was still busy) apply it once.
    fn inbox_row_pending(&mut self, id: i64) -> Result<Option<bool>>;
    /// The contact with this normalized address, locked for the rest of the transaction:
    /// two nodes applying events of one contact at once serialize here (PostgreSQL:
    /// `SELECT … FOR UPDATE`; SQLite's one writer already holds the whole database).
    fn contact_by_key(&mut self, email_key: &str) -> Result<Option<ContactRow>>;
    /// The contact with this UUID, locked like [`ApplyRows::contact_by_key`].
    fn contact_by_uuid(&mut self, uuid: &str) -> Result<Option<ContactRow>>;
    /// The contact of the earliest stored event (lowest id) whose `message_id` is one of
    /// `message_ids` and whose provider is not `except_provider`, locked like
    /// [`ApplyRows::contact_by_key`].
    fn contact_of_send(
        &mut self,
        message_ids: &[String],
        except_provider: &str,
    ) -> Result<Option<ContactRow>>;
    /// Creates a `subscribed` contact with the default state and a new UUID, unless one
    /// with that address exists (another node may have created it meanwhile); returns it,
    /// locked like [`ApplyRows::contact_by_key`].
    fn create_contact(&mut self, address: &Address, now: Millis) -> Result<ContactRow>;
    /// Whether an event with this dedup key is stored.
    fn event_exists(&mut self, dedup_key: &str) -> Result<bool>;
    /// Up to `limit` of the contact's order-sensitive events (see
    /// [`policy::order_matters`]) dated after `after` (all when `None`), in any order.
    fn policy_history(
        &mut self,
        contact_id: i64,
        after: Option<Millis>,
        limit: usize,
    ) -> Result<Vec<PolicyEvent>>;
    /// Inserts an event; returns its id, or `None` when its dedup key is already stored
    /// (nothing written).
    fn insert_event(&mut self, event: &NewEvent<'_>) -> Result<Option<i64>>;
    /// Writes a contact's state (status, reason, soft bounces and their count, times) and
    /// `updated_at = now`.
    fn update_contact(&mut self, contact_id: i64, state: &ContactState, now: Millis) -> Result<()>;
    /// Ends this attempt at inbox row `id`: records `attempts`, the outcome and `now` as
    /// the processing time where it is final, and clears the lease.
    fn end_inbox_row(&mut self, id: i64, attempts: u32, end: RowEnd<'_>, now: Millis)
        -> Result<()>;
    /// The enabled subscriptions (id and event filter), for [`crate::outbound::enqueue`].
    fn outbox_subscriptions(&mut self) -> Result<Vec<crate::outbound::SubscriptionFilter>>;
    /// Inserts an outbox row, `pending` and due at once.
    fn insert_outbox(&mut self, row: &crate::outbound::NewOutbox<'_>) -> Result<()>;
}

/// The Message-IDs (with and without angle brackets) of the send a bounce report may be
/// about: only for reports ([`Attribution::Reported`]) that name one.
pub fn send_message_ids(e: &Event) -> Option<Vec<String>> {
    if !matches!(e.attribution, Attribution::Reported { .. }) {
        return None;
    }
    let bare = e
        .message_id
        .as_deref()?
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    (!bare.is_empty()).then(|| vec![bare.to_string(), format!("<{bare}>")])
}

/// Which contact an event is about, or `None` when it must be left unmatched.
fn resolve(rows: &mut impl ApplyRows, e: &Event, now: Millis) -> Result<Option<ContactRow>> {
    // A bounce email names its recipient; when its returned message is a send rebound has
    // seen (an event of another source with the same Message-ID), that send's contact is
    // the one it is about, whatever address the report names.
    if let Some(ids) = send_message_ids(e) {
        if let Some(row) = rows.contact_of_send(&ids, MAILBOX_PROVIDER)? {
            return Ok(Some(row));
        }
    }
    let known_only = matches!(
        e.attribution,
        Attribution::Reported {
            known_contacts_only: true
        }
    );
    match &e.recipient {
        Recipient::Email(addr) => match rows.contact_by_key(addr.key())? {
            Some(row) => Ok(Some(row)),
            None if known_only => Ok(None),
            None => rows.create_contact(addr, now).map(Some),
        },
        Recipient::ContactUuid(u) => rows
            .contact_by_uuid(u)?
            .map(Some)
            .ok_or_else(|| StoreError::Invalid(format!("unknown subscriber_uuid '{u}'"))),
    }
}

/// What applying one event did.
// Returned and taken apart at once, never stored: its size costs nothing.
#[allow(clippy::large_enum_variant)]
enum Applied<'a> {
    /// Stored, with the status change it caused, if any.
    Stored(Option<ContactChange>, crate::outbound::EventNotice<'a>),
    /// Already stored: nothing changed.
    Duplicate,
    /// The recipient had to be a known contact and was not: nothing changed.
    Unmatched,
}

fn apply_event<'a>(
    rows: &mut impl ApplyRows,
    p: &'a Processed,
    e: &'a Event,
    policy_: &Policy,
    now: Millis,
) -> Result<Applied<'a>> {
    let Some(contact) = resolve(rows, e, now)? else {
        return Ok(Applied::Unmatched);
    };
    let outcome = if policy::in_order(&contact.state, e) {
        policy::apply(policy_, &contact.state, e)
    } else {
        // Dated before the newest order-sensitive event: re-fold the contact's events in
        // time order (a duplicate is found first, so it costs no re-read).
        if rows.event_exists(&e.dedup_key)? {
            return Ok(Applied::Duplicate);
        }
        let after = contact.state.manual.as_ref().map(|m| m.at);
        let history = rows.policy_history(contact.id, after, REPLAY_LIMIT + 1)?;
        if history.len() > REPLAY_LIMIT {
            tracing::warn!(
                contact = contact.id,
                limit = REPLAY_LIMIT,
                "too many events to re-fold: a late event is folded in arrival order"
            );
            policy::apply(policy_, &contact.state, e)
        } else {
            policy::apply_late(policy_, &contact.state, e, &history)
        }
    };
    let inserted = rows.insert_event(&NewEvent {
        event: e,
        contact_id: contact.id,
        source_id: p.source_id,
        inbox_id: p.inbox_id,
        provider: &p.provider,
        recorded_at: now,
        status_before: contact.state.status,
        status_after: outcome.state.status,
        note: &outcome.note,
    })?;
    let Some(event_id) = inserted else {
        return Ok(Applied::Duplicate);
    };
    if outcome.state != contact.state {
        rows.update_contact(contact.id, &outcome.state, now)?;
    }
    let notice = crate::outbound::EventNotice {
        event: e,
        event_id,
        contact_id: contact.id,
        email: contact.email.clone(),
        provider: &p.provider,
        source_id: p.source_id,
    };
    let change = outcome.status_change.map(|(old, new)| ContactChange {
        contact_id: contact.id,
        uuid: contact.uuid,
        email: contact.email,
        old_status: old,
        new_status: new,
        reason: outcome.state.reason.clone(),
        event_id,
        source_id: p.source_id,
        inbox_id: p.inbox_id,
        provider: p.provider.clone(),
        cause: Some(Box::new(crate::types::ChangeCause::of(e))),
    });
    Ok(Applied::Stored(change, notice))
}

/// Applies processed inbox rows inside the caller's transaction: events (deduplicated),
/// contact changes, timeline; each row marked done, or scheduled for a retry, or failed.
/// An `Err` means the transaction must be rolled back: no row savepoints (they would copy
/// every touched page into a journal); the worker re-applies the rows one by one to find
/// the one that fails.
pub fn apply(
    rows: &mut impl ApplyRows,
    batch: &[Processed],
    policy_: &Policy,
    now: Millis,
) -> Result<ApplyReport> {
    let mut report = ApplyReport::default();
    let mut notices = Vec::new();
    let mut keys: Vec<String> = batch
        .iter()
        .filter_map(|p| p.outcome.as_ref().ok())
        .flatten()
        .filter_map(|e| match &e.recipient {
            Recipient::Email(addr) => Some(addr.key().to_string()),
            Recipient::ContactUuid(_) => None,
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    rows.lock_contacts(&keys)?;
    for p in batch {
        if rows.inbox_row_pending(p.inbox_id)? == Some(false) {
            // Finished by another worker that took the row over when this one's lease
            // expired: its events are stored already.
            report.stale += 1;
            continue;
        }
        let events = match &p.outcome {
            Ok(ev) => ev,
            Err(error) => {
                let end = if p.attempts >= p.max_attempts {
                    report.failed += 1;
                    RowEnd::Failed { error }
                } else {
                    report.retried += 1;
                    RowEnd::Retry {
                        error,
                        at: p.retry_at,
                    }
                };
                rows.end_inbox_row(p.inbox_id, p.attempts, end, now)?;
                continue;
            }
        };
        let mut stored = 0u64;
        let mut unmatched: Vec<&str> = Vec::new();
        for e in events {
            match apply_event(rows, p, e, policy_, now)? {
                Applied::Stored(change, notice) => {
                    notices.push(notice);
                    report.count_stored(e.kind);
                    stored += 1;
                    if let Some(change) = change {
                        report.status_changes += 1;
                        report.changes.push(change);
                    }
                }
                Applied::Duplicate => report.duplicates += 1,
                Applied::Unmatched => {
                    report.unmatched += 1;
                    unmatched.push(e.recipient.display());
                }
            }
        }
        // Recipients left alone because they are not contacts stay visible in the log.
        let note = (!unmatched.is_empty())
            .then(|| format!("unmatched (not a known contact): {}", unmatched.join(", ")));
        rows.end_inbox_row(
            p.inbox_id,
            p.attempts,
            RowEnd::Done {
                events: stored,
                note: note.as_deref(),
            },
            now,
        )?;
        report.done += 1;
    }
    crate::outbound::enqueue(rows, &notices, &report.changes, now)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    //! `apply` over an in-memory [`ApplyRows`]: the trait's contract without SQL, and the
    //! decisions checked without a database.

    use std::collections::HashMap;

    use rebound_core::{BounceClass, EventKind, Reason};

    use super::*;

    /// Plain maps. Contact ids are positions + 1; event ids likewise.
    #[derive(Default)]
    struct Mem {
        pending: HashMap<i64, bool>,
        contacts: Vec<ContactRow>,
        keys: Vec<String>,
        /// (contact id, provider, event)
        events: Vec<(i64, String, Event)>,
        ends: Vec<(i64, String)>,
    }

    impl ApplyRows for Mem {
        fn inbox_row_pending(&mut self, id: i64) -> Result<Option<bool>> {
            Ok(self.pending.get(&id).copied())
        }
        fn contact_by_key(&mut self, key: &str) -> Result<Option<ContactRow>> {
            let i = self.keys.iter().position(|k| k == key);
            Ok(i.map(|i| self.contacts[i].clone()))
        }
        fn contact_by_uuid(&mut self, uuid: &str) -> Result<Option<ContactRow>> {
            Ok(self.contacts.iter().find(|c| c.uuid == uuid).cloned())
        }
        fn contact_of_send(&mut self, ids: &[String], except: &str) -> Result<Option<ContactRow>> {
            let hit = self.events.iter().find(|(_, p, e)| {
                p != except && e.message_id.as_ref().is_some_and(|m| ids.contains(m))
            });
            Ok(hit.map(|(c, _, _)| self.contacts[*c as usize - 1].clone()))
        }
        fn create_contact(&mut self, a: &Address, _now: Millis) -> Result<ContactRow> {
            let row = ContactRow {
                id: self.contacts.len() as i64 + 1,
                uuid: format!("u{}", self.contacts.len() + 1),
                email: a.as_str().to_string(),
                state: ContactState::default(),
            };
            self.contacts.push(row.clone());
            self.keys.push(a.key().to_string());
            Ok(row)
        }
        fn event_exists(&mut self, key: &str) -> Result<bool> {
            Ok(self.events.iter().any(|(_, _, e)| e.dedup_key == key))
        }
        fn policy_history(
            &mut self,
            contact: i64,
            after: Option<Millis>,
            limit: usize,
        ) -> Result<Vec<PolicyEvent>> {
            Ok(self
                .events
                .iter()
                .filter(|(c, _, e)| {
                    *c == contact
                        && policy::order_matters(e.kind)
                        && after.is_none_or(|t| e.occurred_at > t)
                })
                .map(|(_, _, e)| PolicyEvent::from(e))
                .take(limit)
                .collect())
        }
        fn insert_event(&mut self, n: &NewEvent<'_>) -> Result<Option<i64>> {
            if self.event_exists(&n.event.dedup_key)? {
                return Ok(None);
            }
            self.events
                .push((n.contact_id, n.provider.to_string(), n.event.clone()));
            Ok(Some(self.events.len() as i64))
        }
        fn update_contact(&mut self, id: i64, s: &ContactState, _now: Millis) -> Result<()> {
            self.contacts[id as usize - 1].state = s.clone();
            Ok(())
        }
        fn end_inbox_row(&mut self, id: i64, _a: u32, end: RowEnd<'_>, _now: Millis) -> Result<()> {
            self.pending.insert(id, matches!(end, RowEnd::Retry { .. }));
            self.ends.push((id, format!("{end:?}")));
            Ok(())
        }
        fn outbox_subscriptions(&mut self) -> Result<Vec<crate::outbound::SubscriptionFilter>> {
            Ok(Vec::new())
        }
        fn insert_outbox(&mut self, _row: &crate::outbound::NewOutbox<'_>) -> Result<()> {
            Ok(())
        }
    }

    fn ev(email: &str, key: &str, attribution: Attribution, mid: Option<&str>) -> Event {
        Event {
            recipient: Recipient::Email(Address::parse(email).expect("address")),
            attribution,
            kind: EventKind::Bounce,
            class: Some(BounceClass::Hard),
            reason: Some(Reason::UserUnknown),
            status: None,
            diagnostic: None,
            message_id: mid.map(str::to_string),
            sending_domain: None,
            provider_event_id: None,
            occurred_at: 10,
            dedup_key: key.into(),
            details: serde_json::Value::Null,
        }
    }

    fn row(id: i64, provider: &str, outcome: Result<Vec<Event>, String>) -> Processed {
        Processed {
            inbox_id: id,
            source_id: 7,
            provider: provider.into(),
            outcome,
            attempts: 1,
            max_attempts: 2,
            retry_at: 99,
        }
    }

    const KNOWN_ONLY: Attribution = Attribution::Reported {
        known_contacts_only: true,
    };

    #[test]
    fn contacts_are_found_as_the_attribution_says_and_rows_end_as_they_should() {
        let mut m = Mem::default();
        for id in 1..=5 {
            m.pending.insert(id, true);
        }
        m.pending.insert(6, false);
        let mut send = ev("sent@example.org", "w1", Attribution::Recipient, None);
        (send.kind, send.class, send.reason) = (EventKind::Delivery, None, None);
        send.message_id = Some("<m1@x>".into());
        let batch = [
            // A webhook's recipient: created.
            row(1, "generic", Ok(vec![send])),
            // A report about that send (bare Message-ID), naming another address.
            row(
                2,
                "mailbox",
                Ok(vec![ev("fwd@example.org", "r1", KNOWN_ONLY, Some("m1@x"))]),
            ),
            // Unknown, known contacts only: unmatched (and noted on the row).
            row(
                3,
                "mailbox",
                Ok(vec![ev("who@example.org", "r2", KNOWN_ONLY, None)]),
            ),
            // A duplicate of the report; a failure with attempts left.
            row(
                4,
                "mailbox",
                Ok(vec![ev("fwd@example.org", "r1", KNOWN_ONLY, Some("m1@x"))]),
            ),
            row(5, "generic", Err("bad".into())),
            // Finished by another holder meanwhile.
            row(
                6,
                "generic",
                Ok(vec![ev(
                    "late@example.org",
                    "x",
                    Attribution::Recipient,
                    None,
                )]),
            ),
        ];
        let r = apply(&mut m, &batch, &Policy::default(), 50).expect("apply");
        assert_eq!(
            (
                r.done,
                r.retried,
                r.failed,
                r.events,
                r.duplicates,
                r.unmatched,
                r.stale
            ),
            (4, 1, 0, 2, 1, 1, 1)
        );
        assert_eq!(m.contacts.len(), 1, "only the send's contact exists");
        let change = &r.changes[..];
        assert_eq!(change.len(), 1);
        assert_eq!(
            (
                change[0].email.as_str(),
                change[0].new_status,
                change[0].event_id
            ),
            ("sent@example.org", Status::Bounced, 2)
        );
        assert_eq!((change[0].source_id, change[0].inbox_id), (7, 2));
        assert!(m.ends[2]
            .1
            .contains("unmatched (not a known contact): who@example.org"));
        assert!(m.ends[4].1.starts_with("Retry"), "{:?}", m.ends[4]);
        let last = Processed {
            attempts: 2,
            ..row(5, "generic", Err("bad".into()))
        };
        let r = apply(&mut m, &[last], &Policy::default(), 60).expect("apply");
        assert_eq!(r.failed, 1);
        assert!(m.ends[5].1.starts_with("Failed"), "{:?}", m.ends[5]);
    }

    #[test]
    fn only_reports_are_matched_by_message_id() {
        let plain = ev("a@example.org", "k", Attribution::Recipient, Some("<m@x>"));
        assert_eq!(send_message_ids(&plain), None);
        let report = ev("a@example.org", "k", KNOWN_ONLY, Some(" <m@x> "));
        assert_eq!(
            send_message_ids(&report),
            Some(vec!["m@x".to_string(), "<m@x>".to_string()])
        );
        assert_eq!(
            send_message_ids(&ev("a@example.org", "k", KNOWN_ONLY, Some("<>"))),
            None
        );
    }
}
