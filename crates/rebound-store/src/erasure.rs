//! Erasure (a privacy request): a contact, its events, the raw bodies behind them and its
//! outbound messages (outbox and delivery log) are deleted in one transaction, and only a
//! keyed hash of the address stays, so that the address remains suppressed without being
//! stored. The hash is made by the caller (the key is a setting the
//! store never reads); both backends run this SQL.

/// Bodies and headers of the requests behind a contact's events are emptied (a request that
/// spoke of other contacts too loses its body for them as well: it cannot be kept in part).
pub(crate) const EMPTY_BODIES: &str = "UPDATE inbox SET body = $1, headers = '[]',
     error = COALESCE(error, 'body erased (privacy request)')
     WHERE id IN (SELECT inbox_id FROM events WHERE contact_id = $2 AND inbox_id IS NOT NULL)";
/// The outbound messages about the contact (their payloads hold the address) and the log of
/// their delivery attempts, pending or not: an erased contact is announced no more.
pub(crate) const DELETE_DELIVERIES: &str = "DELETE FROM deliveries
     WHERE outbox_id IN (SELECT id FROM outbox WHERE contact_id = $1)";
pub(crate) const DELETE_OUTBOX: &str = "DELETE FROM outbox WHERE contact_id = $1";
pub(crate) const DELETE_EVENTS: &str = "DELETE FROM events WHERE contact_id = $1";
pub(crate) const DELETE_CONTACT: &str = "DELETE FROM contacts WHERE id = $1";
pub(crate) const RECORD: &str = "INSERT INTO erased (address_hash, erased_at) VALUES ($1, $2)
     ON CONFLICT (address_hash) DO NOTHING";
