//! The policy's dry run (`POST /api/v1/settings/dry-run`, the Settings page's button): what
//! a candidate policy would have made of the contacts that had events in the last N days.
//! Each contact's events are re-folded with [`rebound_core::policy::replay`] onto its last
//! status set by hand (or imported), exactly as the store folds them, and the outcome is
//! compared with its status now. Nothing is written.

use std::collections::{BTreeMap, HashSet};

use rebound_core::policy::{self, PolicyEvent};
use rebound_core::{Address, BounceClass, ContactState, EventKind, Policy, Reason, Status};
use rebound_store::{EventFilter, StoreError, StoredEvent};
use serde::Serialize;

use crate::state::AppState;

/// Contacts examined at most (the newest with events in the window).
pub const MAX_CONTACTS: usize = 10_000;
/// Events read per contact at most (the store's re-fold bound).
const MAX_EVENTS: u32 = 1_000;

/// How many contacts would move from one status to another.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Change {
    /// Their status now.
    pub from: Status,
    /// Their status under the candidate policy.
    pub to: Status,
    /// How many.
    pub count: u64,
}

/// What a candidate policy would have done.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    /// The window, in days.
    pub days: u32,
    /// Contacts with events in the window that were re-folded.
    pub contacts_examined: u64,
    /// Contacts whose status would differ.
    pub would_change: u64,
    /// The changes, by (from, to).
    pub changes: Vec<Change>,
    /// A few addresses that would change, as examples.
    pub examples: Vec<(String, Status, Status)>,
    /// Whether more contacts had events in the window than were examined.
    pub truncated: bool,
}

/// Whether a timeline entry is a status set by hand or by an import (the store writes
/// those as `other` events noting who set the status).
fn manual_status(e: &StoredEvent) -> Option<Status> {
    let set = e.kind == "other"
        && e.note
            .as_deref()
            .is_some_and(|n| n.starts_with("status set by "));
    set.then(|| e.status_after.as_deref().and_then(Status::parse))
        .flatten()
}

/// The state a contact's events fold onto (its last manual change, if any) and the events
/// after it, oldest first as read.
fn base_and_events(timeline: &[StoredEvent]) -> (ContactState, Vec<PolicyEvent>) {
    // Newest first: the events after the last manual change are those before it here.
    let cut = timeline.iter().position(|e| manual_status(e).is_some());
    let mut base = ContactState::default();
    if let Some(m) = cut.map(|i| &timeline[i]) {
        if let Some(status) = manual_status(m) {
            base.set_manually(m.occurred_at, status, m.reason.clone());
        }
    }
    let events = timeline[..cut.unwrap_or(timeline.len())]
        .iter()
        .filter_map(|e| {
            let kind = EventKind::parse(&e.kind)?;
            policy::order_matters(kind).then(|| PolicyEvent {
                kind,
                class: e.class.as_deref().and_then(BounceClass::parse),
                reason: e.reason.as_deref().and_then(Reason::parse),
                occurred_at: e.occurred_at,
                dedup_key: e.id.to_string(),
            })
        })
        .collect();
    (base, events)
}

/// Re-folds the contacts with events in the last `days` days under `candidate`.
pub async fn run(
    state: &AppState,
    candidate: &Policy,
    days: u32,
    now: i64,
) -> Result<DryRun, StoreError> {
    let since = now - i64::from(days) * 86_400_000;
    // The contacts with events in the window, newest events first.
    let mut keys: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    let mut cursor = None;
    let mut truncated = false;
    'pages: loop {
        let page = state
            .store
            .list_events(EventFilter {
                limit: 1000,
                cursor,
                ..Default::default()
            })
            .await?;
        for e in &page.items {
            if e.recorded_at < since {
                break 'pages;
            }
            let Ok(addr) = Address::parse(&e.email) else {
                continue;
            };
            if seen.insert(addr.key().to_string()) {
                if keys.len() == MAX_CONTACTS {
                    truncated = true;
                    break 'pages;
                }
                keys.push(addr.key().to_string());
            }
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut changes: BTreeMap<(Status, Status), u64> = BTreeMap::new();
    let mut examples = Vec::new();
    let mut examined = 0u64;
    for key in keys {
        let Some(contact) = state
            .store
            .get_contacts(vec![key.clone()])
            .await?
            .into_iter()
            .next()
            .flatten()
        else {
            continue;
        };
        let timeline = state
            .store
            .list_events(EventFilter {
                email_key: Some(key),
                limit: MAX_EVENTS,
                ..Default::default()
            })
            .await?;
        examined += 1;
        let (base, events) = base_and_events(&timeline.items);
        let would = policy::replay(candidate, &base, &events).status;
        if would != contact.status {
            *changes.entry((contact.status, would)).or_default() += 1;
            if examples.len() < 20 {
                examples.push((contact.email.clone(), contact.status, would));
            }
        }
    }
    Ok(DryRun {
        days,
        contacts_examined: examined,
        would_change: changes.values().sum(),
        changes: changes
            .into_iter()
            .map(|((from, to), count)| Change { from, to, count })
            .collect(),
        examples,
        truncated,
    })
}
