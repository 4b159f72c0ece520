//! [`ApplyRows`] on the SQLite writer connection: single-row statements, no decisions.
//!
//! `apply` runs in a transaction of its own on the one writer thread (`BEGIN IMMEDIATE`), so
//! every row it reads is already locked against other writers: the lookups need no
//! `FOR UPDATE`, and `create_contact` cannot race another creator.

use rebound_core::policy::PolicyEvent;
use rebound_core::{
    Address, BounceClass, ContactState, EventKind, ManualChange, Millis, Reason, Status,
};
use rusqlite::{params, Connection, OptionalExtension};

use crate::apply::{ApplyRows, ContactRow, NewEvent, RowEnd};
use crate::common::{json_text, CONTACT_STATE_COLS};
use crate::outbound::{
    parse_events, parse_sources, NewOutbox, SubscriptionFilter, SubscriptionKind,
};
use crate::Result;

/// The writer connection, inside the transaction `apply` runs in.
pub(crate) struct SqliteRows<'c>(pub &'c Connection);

fn contact_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ContactRow> {
    let status: String = r.get(3)?;
    let soft: String = r.get(5)?;
    let manual_at: Option<Millis> = r.get(10)?;
    let manual_status: Option<String> = r.get(11)?;
    let manual_reason: Option<String> = r.get(12)?;
    Ok(ContactRow {
        id: r.get(0)?,
        uuid: r.get(1)?,
        email: r.get(2)?,
        state: ContactState {
            status: Status::parse(&status).unwrap_or_default(),
            reason: r.get(4)?,
            soft_bounces: serde_json::from_str(&soft).unwrap_or_default(),
            last_event_at: r.get(6)?,
            last_delivered_at: r.get(7)?,
            last_engaged_at: r.get(8)?,
            last_policy_event_at: r.get(9)?,
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

impl SqliteRows<'_> {
    fn contact_where(
        &self,
        column: &str,
        value: &dyn rusqlite::ToSql,
    ) -> Result<Option<ContactRow>> {
        let sql = format!("SELECT {CONTACT_STATE_COLS} FROM contacts WHERE {column} = ?1");
        Ok(self
            .0
            .prepare_cached(&sql)?
            .query_row([value], contact_row)
            .optional()?)
    }
}

impl ApplyRows for SqliteRows<'_> {
    fn inbox_row_pending(&mut self, id: i64) -> Result<Option<bool>> {
        Ok(self
            .0
            .prepare_cached("SELECT state = 'pending' FROM inbox WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?)
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
        let marks: Vec<String> = (0..message_ids.len())
            .map(|i| format!("?{}", i + 2))
            .collect();
        let sql = format!(
            "SELECT contact_id FROM events WHERE message_id IN ({}) AND provider <> ?1
             ORDER BY id LIMIT 1",
            marks.join(", ")
        );
        let mut values: Vec<&dyn rusqlite::ToSql> = vec![&except_provider];
        values.extend(message_ids.iter().map(|m| m as &dyn rusqlite::ToSql));
        let id: Option<i64> = self
            .0
            .prepare_cached(&sql)?
            .query_row(values.as_slice(), |r| r.get(0))
            .optional()?;
        match id {
            Some(id) => self.contact_where("id", &id),
            None => Ok(None),
        }
    }

    fn create_contact(&mut self, address: &Address, now: Millis) -> Result<ContactRow> {
        let uuid = crate::new_uuid();
        self.0
            .prepare_cached(
                "INSERT INTO contacts (email, email_key, uuid, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'subscribed', ?4, ?4)",
            )?
            .execute(params![address.as_str(), address.key(), uuid, now])?;
        Ok(ContactRow {
            id: self.0.last_insert_rowid(),
            uuid,
            email: address.as_str().to_string(),
            state: ContactState::default(),
        })
    }

    fn event_exists(&mut self, dedup_key: &str) -> Result<bool> {
        Ok(self
            .0
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM events WHERE dedup_key = ?1)")?
            .query_row([dedup_key], |r| r.get(0))?)
    }

    fn policy_history(
        &mut self,
        contact_id: i64,
        after: Option<Millis>,
        limit: usize,
    ) -> Result<Vec<PolicyEvent>> {
        let mut stmt = self.0.prepare_cached(
            "SELECT kind, class, reason, occurred_at, dedup_key FROM events
             WHERE contact_id = ?1 AND kind IN ('bounce', 'delivery', 'complaint', 'unsubscribe')
                   AND occurred_at > ?2
             LIMIT ?3",
        )?;
        let mut rows = stmt.query(params![
            contact_id,
            after.unwrap_or(Millis::MIN),
            limit as i64
        ])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let kind: String = r.get(0)?;
            let Some(kind) = EventKind::parse(&kind) else {
                continue;
            };
            let class: Option<String> = r.get(1)?;
            let reason: Option<String> = r.get(2)?;
            out.push(PolicyEvent {
                kind,
                class: class.as_deref().and_then(BounceClass::parse),
                reason: reason.as_deref().and_then(Reason::parse),
                occurred_at: r.get(3)?,
                dedup_key: r.get(4)?,
            });
        }
        Ok(out)
    }

    fn insert_event(&mut self, n: &NewEvent<'_>) -> Result<Option<i64>> {
        let e = n.event;
        let inserted = self
            .0
            .prepare_cached(
                "INSERT INTO events (dedup_key, contact_id, source_id, inbox_id, provider, kind, class, reason, status_code,
                                     diagnostic, message_id, provider_event_id, occurred_at, recorded_at,
                                     status_before, status_after, note, details, sending_domain)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
                 ON CONFLICT (dedup_key) DO NOTHING",
            )?
            .execute(params![
                e.dedup_key,
                n.contact_id,
                n.source_id,
                n.inbox_id,
                n.provider,
                e.kind.as_str(),
                e.class.map(BounceClass::as_str),
                e.reason.map(|r| r.as_str()),
                e.status,
                e.diagnostic,
                e.message_id,
                e.provider_event_id,
                e.occurred_at,
                n.recorded_at,
                n.status_before.as_str(),
                n.status_after.as_str(),
                n.note,
                json_text(&e.details),
                e.sending_domain,
            ])?;
        Ok((inserted > 0).then(|| self.0.last_insert_rowid()))
    }

    fn update_contact(&mut self, contact_id: i64, s: &ContactState, now: Millis) -> Result<()> {
        self.0
            .prepare_cached(
                "UPDATE contacts SET status = ?1, reason = ?2, soft_bounce_count = ?3, soft_bounces = ?4,
                        last_event_at = ?5, last_delivered_at = ?6, last_engaged_at = ?7, updated_at = ?8,
                        last_policy_event_at = ?10
                 WHERE id = ?9",
            )?
            .execute(params![
                s.status.as_str(),
                s.reason,
                s.soft_bounces.len() as i64,
                serde_json::to_string(&s.soft_bounces).unwrap_or_else(|_| "[]".into()),
                s.last_event_at,
                s.last_delivered_at,
                s.last_engaged_at,
                now,
                contact_id,
                s.last_policy_event_at,
            ])?;
        Ok(())
    }

    fn end_inbox_row(
        &mut self,
        id: i64,
        attempts: u32,
        end: RowEnd<'_>,
        now: Millis,
    ) -> Result<()> {
        match end {
            RowEnd::Done { events, note } => self
                .0
                .prepare_cached(
                    "UPDATE inbox SET state = 'done', processed_at = ?1, events_created = ?2, last_error = NULL,
                            attempts = ?4, locked_until = NULL, locked_by = NULL,
                            error = CASE WHEN ?5 IS NULL THEN error WHEN error IS NULL THEN ?5
                                         ELSE error || '; ' || ?5 END
                     WHERE id = ?3",
                )?
                .execute(params![now, events as i64, id, attempts, note])?,
            RowEnd::Retry { error, at } => self
                .0
                .prepare_cached(
                    "UPDATE inbox SET last_error = ?1, next_attempt_at = ?2, attempts = ?4,
                            locked_until = NULL, locked_by = NULL
                     WHERE id = ?3",
                )?
                .execute(params![error, at, id, attempts])?,
            RowEnd::Failed { error } => self
                .0
                .prepare_cached(
                    "UPDATE inbox SET state = 'failed', last_error = ?1, processed_at = ?2, attempts = ?4,
                            locked_until = NULL, locked_by = NULL
                     WHERE id = ?3",
                )?
                .execute(params![error, now, id, attempts])?,
        };
        Ok(())
    }

    fn outbox_subscriptions(&mut self) -> Result<Vec<SubscriptionFilter>> {
        let mut stmt = self.0.prepare_cached(
            "SELECT id, events, kind, sources FROM subscriptions WHERE enabled ORDER BY id",
        )?;
        let subs = stmt
            .query_map([], |r| {
                Ok(SubscriptionFilter {
                    id: r.get(0)?,
                    events: parse_events(&r.get::<_, String>(1)?),
                    kind: SubscriptionKind::parse(&r.get::<_, String>(2)?)
                        .unwrap_or(SubscriptionKind::Webhook),
                    sources: parse_sources(r.get::<_, Option<String>>(3)?.as_deref()),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(subs)
    }

    fn insert_outbox(&mut self, o: &NewOutbox<'_>) -> Result<()> {
        self.0
            .prepare_cached(
                "INSERT INTO outbox (subscription_id, message_id, event_type, contact_id, payload,
                                     next_attempt_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6)",
            )?
            .execute(params![
                o.subscription_id,
                o.message_id,
                o.event_type,
                o.contact_id,
                o.payload,
                o.now
            ])?;
        Ok(())
    }
}
