//! [`ApplyRows`] on the PostgreSQL writer connection: single-row statements, no decisions.
//!
//! Several nodes may apply at once, each on its own writer connection. Every contact lookup
//! locks the contact row (`FOR UPDATE`) and the inbox row is locked before it is applied, so
//! two nodes working on one contact or one row serialize; dedup is the unique key on
//! `events.dedup_key` (`ON CONFLICT DO NOTHING`), and a contact created by two nodes at once
//! is created once (`ON CONFLICT (email_key) DO NOTHING`, then read and locked).

use rebound_core::policy::PolicyEvent;
use rebound_core::{
    Address, BounceClass, ContactState, EventKind, ManualChange, Millis, Reason, Status,
};

use super::Conn;
use crate::apply::{ApplyRows, ContactRow, NewEvent, RowEnd};
use crate::common::{json_text, CONTACT_STATE_COLS};
use crate::outbound::{
    parse_events, parse_sources, NewOutbox, SubscriptionFilter, SubscriptionKind,
};
use crate::Result;

/// The writer connection, inside the transaction `apply` runs in.
pub(crate) struct PgRows<'c>(pub &'c mut Conn);

fn contact_row(r: &::postgres::Row) -> Result<ContactRow> {
    let status: String = r.try_get(3)?;
    let soft: String = r.try_get(5)?;
    let manual_at: Option<Millis> = r.try_get(10)?;
    let manual_status: Option<String> = r.try_get(11)?;
    let manual_reason: Option<String> = r.try_get(12)?;
    Ok(ContactRow {
        id: r.try_get(0)?,
        uuid: r.try_get(1)?,
        email: r.try_get(2)?,
        state: ContactState {
            status: Status::parse(&status).unwrap_or_default(),
            reason: r.try_get(4)?,
            soft_bounces: serde_json::from_str(&soft).unwrap_or_default(),
            last_event_at: r.try_get(6)?,
            last_delivered_at: r.try_get(7)?,
            last_engaged_at: r.try_get(8)?,
            last_policy_event_at: r.try_get(9)?,
            manual: manual_at.map(|at| ManualChange {
                at,
                status: manual_status
                    .as_deref()
                    .and_then(Status::parse)
                    .unwrap_or_default(),
                reason: manual_reason,
            }),
        },
    })
}

impl PgRows<'_> {
    fn contact_where(
        &mut self,
        column: &str,
        value: &(dyn ::postgres::types::ToSql + Sync),
    ) -> Result<Option<ContactRow>> {
        let sql =
            format!("SELECT {CONTACT_STATE_COLS} FROM contacts WHERE {column} = $1 FOR UPDATE");
        self.0
            .query_opt(&sql, &[value])?
            .map(|r| contact_row(&r))
            .transpose()
    }
}

impl ApplyRows for PgRows<'_> {
    fn lock_contacts(&mut self, email_keys: &[String]) -> Result<()> {
        if !email_keys.is_empty() {
            // Every address of the batch, whether its contact exists yet or not, is locked
            // in one order on every node (a transaction-level advisory lock per address
            // hash, sorted by hash): two batches sharing addresses, including contacts both
            // are about to create, wait for each other instead of deadlocking. The
            // sub-query's sort fixes the order the locks are taken in.
            self.0.execute(
                "SELECT pg_advisory_xact_lock(h)
                 FROM (SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest($1::text[]) AS k
                       ORDER BY h OFFSET 0) AS sorted",
                &[&email_keys],
            )?;
            // Rows are locked as the sort returns them: in key order on every node.
            self.0.execute(
                "SELECT 1 FROM contacts WHERE email_key = ANY($1) ORDER BY email_key FOR UPDATE",
                &[&email_keys],
            )?;
        }
        Ok(())
    }

    fn inbox_row_pending(&mut self, id: i64) -> Result<Option<bool>> {
        self.0
            .query_opt(
                "SELECT state = 'pending' FROM inbox WHERE id = $1 FOR UPDATE",
                &[&id],
            )?
            .map(|r| Ok(r.try_get(0)?))
            .transpose()
    }

    fn contact_by_key(&mut self, email_key: &str) -> Result<Option<ContactRow>> {
        self.contact_where("email_key", &email_key)
    }

    fn contact_by_uuid(&mut self, uuid: &str) -> Result<Option<ContactRow>> {
        self.contact_where("uuid", &uuid)
    }

    fn contact_of_send(
        &mut self,
        message_ids: &[String],
        except_provider: &str,
    ) -> Result<Option<ContactRow>> {
        if message_ids.is_empty() {
            return Ok(None);
        }
        let id: Option<i64> = self
            .0
            .query_opt(
                "SELECT contact_id FROM events WHERE message_id = ANY($1) AND provider <> $2
                 ORDER BY id LIMIT 1",
                &[&message_ids, &except_provider],
            )?
            .map(|r| r.try_get(0))
            .transpose()?;
        match id {
            Some(id) => self.contact_where("id", &id),
            None => Ok(None),
        }
    }

    fn create_contact(&mut self, address: &Address, now: Millis) -> Result<ContactRow> {
        let uuid = crate::new_uuid();
        let created = self.0.query_opt(
            "INSERT INTO contacts (email, email_key, uuid, status, created_at, updated_at)
             VALUES ($1, $2, $3, 'subscribed', $4, $4)
             ON CONFLICT (email_key) DO NOTHING RETURNING id",
            &[&address.as_str(), &address.key(), &uuid, &now],
        )?;
        match created {
            Some(r) => Ok(ContactRow {
                id: r.try_get(0)?,
                uuid,
                email: address.as_str().to_string(),
                state: ContactState::default(),
            }),
            // Another node created it meanwhile (and has committed: the insert waited).
            None => self
                .contact_where("email_key", &address.key())?
                .ok_or_else(|| {
                    crate::StoreError::Db(format!("contact {} vanished", address.key()))
                }),
        }
    }

    fn event_exists(&mut self, dedup_key: &str) -> Result<bool> {
        Ok(self
            .0
            .query_one(
                "SELECT EXISTS(SELECT 1 FROM events WHERE dedup_key = $1)",
                &[&dedup_key],
            )?
            .try_get(0)?)
    }

    fn policy_history(
        &mut self,
        contact_id: i64,
        after: Option<Millis>,
        limit: usize,
    ) -> Result<Vec<PolicyEvent>> {
        let rows = self.0.query(
            "SELECT kind, class, reason, occurred_at, dedup_key FROM events
             WHERE contact_id = $1 AND kind IN ('bounce', 'delivery', 'complaint', 'unsubscribe')
                   AND occurred_at > $2
             ORDER BY id
             LIMIT $3",
            &[
                &contact_id,
                &after.unwrap_or(Millis::MIN),
                &i64::try_from(limit).unwrap_or(i64::MAX),
            ],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let kind: String = r.try_get(0)?;
            let Some(kind) = EventKind::parse(&kind) else {
                continue;
            };
            let class: Option<String> = r.try_get(1)?;
            let reason: Option<String> = r.try_get(2)?;
            out.push(PolicyEvent {
                kind,
                class: class.as_deref().and_then(BounceClass::parse),
                reason: reason.as_deref().and_then(Reason::parse),
                occurred_at: r.try_get(3)?,
                dedup_key: r.try_get(4)?,
            });
        }
        Ok(out)
    }

    fn insert_event(&mut self, n: &NewEvent<'_>) -> Result<Option<i64>> {
        let e = n.event;
        self.0
            .query_opt(
                "INSERT INTO events (dedup_key, contact_id, source_id, inbox_id, provider, kind, class, reason, status_code,
                                     diagnostic, message_id, provider_event_id, occurred_at, recorded_at,
                                     status_before, status_after, note, details, sending_domain)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
                 ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
                &[
                    &e.dedup_key,
                    &n.contact_id,
                    &n.source_id,
                    &n.inbox_id,
                    &n.provider,
                    &e.kind.as_str(),
                    &e.class.map(BounceClass::as_str),
                    &e.reason.map(|r| r.as_str()),
                    &e.status,
                    &e.diagnostic,
                    &e.message_id,
                    &e.provider_event_id,
                    &e.occurred_at,
                    &n.recorded_at,
                    &n.status_before.as_str(),
                    &n.status_after.as_str(),
                    &n.note,
                    &json_text(&e.details),
                    &e.sending_domain,
                ],
            )?
            .map(|r| Ok(r.try_get(0)?))
            .transpose()
    }

    fn update_contact(&mut self, contact_id: i64, s: &ContactState, now: Millis) -> Result<()> {
        self.0.execute(
            "UPDATE contacts SET status = $1, reason = $2, soft_bounce_count = $3, soft_bounces = $4,
                    last_event_at = $5, last_delivered_at = $6, last_engaged_at = $7, updated_at = $8,
                    last_policy_event_at = $10
             WHERE id = $9",
            &[
                &s.status.as_str(),
                &s.reason,
                &(s.soft_bounces.len() as i64),
                &serde_json::to_string(&s.soft_bounces).unwrap_or_else(|_| "[]".into()),
                &s.last_event_at,
                &s.last_delivered_at,
                &s.last_engaged_at,
                &now,
                &contact_id,
                &s.last_policy_event_at,
            ],
        )?;
        Ok(())
    }

    fn end_inbox_row(
        &mut self,
        id: i64,
        attempts: u32,
        end: RowEnd<'_>,
        now: Millis,
    ) -> Result<()> {
        let attempts = i64::from(attempts);
        match end {
            RowEnd::Done { events, note } => self.0.execute(
                "UPDATE inbox SET state = 'done', processed_at = $1, events_created = $2, last_error = NULL,
                        attempts = $4, locked_until = NULL, locked_by = NULL,
                        error = CASE WHEN $5::text IS NULL THEN error WHEN error IS NULL THEN $5
                                     ELSE error || '; ' || $5 END
                 WHERE id = $3",
                &[
                    &now,
                    &i64::try_from(events).unwrap_or(i64::MAX),
                    &id,
                    &attempts,
                    &note,
                ],
            )?,
            RowEnd::Retry { error, at } => self.0.execute(
                "UPDATE inbox SET last_error = $1, next_attempt_at = $2, attempts = $4,
                        locked_until = NULL, locked_by = NULL
                 WHERE id = $3",
                &[&error, &at, &id, &attempts],
            )?,
            RowEnd::Failed { error } => self.0.execute(
                "UPDATE inbox SET state = 'failed', last_error = $1, processed_at = $2, attempts = $4,
                        locked_until = NULL, locked_by = NULL
                 WHERE id = $3",
                &[&error, &now, &id, &attempts],
            )?,
        };
        Ok(())
    }

    fn outbox_subscriptions(&mut self) -> Result<Vec<SubscriptionFilter>> {
        self.0
            .query(
                "SELECT id, events, kind, sources FROM subscriptions WHERE enabled ORDER BY id",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(SubscriptionFilter {
                    id: r.try_get(0)?,
                    events: parse_events(r.try_get(1)?),
                    kind: SubscriptionKind::parse(&r.try_get::<_, String>(2)?)
                        .unwrap_or(SubscriptionKind::Webhook),
                    sources: parse_sources(r.try_get::<_, Option<String>>(3)?.as_deref()),
                })
            })
            .collect()
    }

    fn insert_outbox(&mut self, o: &NewOutbox<'_>) -> Result<()> {
        self.0.execute(
            "INSERT INTO outbox (subscription_id, message_id, event_type, contact_id, payload,
                                 next_attempt_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $6)",
            &[
                &o.subscription_id,
                &o.message_id,
                &o.event_type,
                &o.contact_id,
                &o.payload,
                &o.now,
            ],
        )?;
        Ok(())
    }
}
