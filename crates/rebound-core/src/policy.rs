//! The policy: how one event changes a contact.
//!
//! | event | effect |
//! |---|---|
//! | hard bounce | status → `bounced` |
//! | soft bounce | counted; `threshold` within `window_days` without a delivery after them → `bounced` |
//! | delivery | soft count reset, `last_delivered_at` |
//! | complaint | status → `complained` |
//! | unsubscribe | status → `unsubscribed` |
//! | deferred, auto-reply, other | timeline only |
//! | open / click | `last_engaged_at` only |
//!
//! Events only ever make a status more severe (subscribed < unsubscribed < bounced <
//! complained); lowering one is a deliberate act through the API or an import. The counters
//! and times converge whatever order a provider delivers events in; a status change already
//! made is not undone by an older delivery that arrives late.

use serde::{Deserialize, Serialize};

use crate::timestamp::DAY_MS;
use crate::{BounceClass, ContactState, Event, EventKind, Millis, Reason, Status};

/// The configurable part of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Soft bounces within the window (with no delivery after them) that bounce a contact.
    pub soft_bounce_threshold: u32,
    /// The window, in days, within which soft bounces count together.
    pub soft_bounce_window_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            soft_bounce_threshold: 3,
            soft_bounce_window_days: 30,
        }
    }
}

impl Policy {
    /// Checks the values make sense; the message names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=1000).contains(&self.soft_bounce_threshold) {
            return Err("soft_bounce_threshold must be between 1 and 1000".into());
        }
        if !(1..=3650).contains(&self.soft_bounce_window_days) {
            return Err("soft_bounce_window_days must be between 1 and 3650".into());
        }
        Ok(())
    }

    fn window_ms(&self) -> Millis {
        Millis::from(self.soft_bounce_window_days) * DAY_MS
    }
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The state after the event.
    pub state: ContactState,
    /// `Some((from, to))` when the status changed.
    pub status_change: Option<(Status, Status)>,
    /// A short human-readable account for the timeline, e.g. `soft bounce 2/3`.
    pub note: String,
}

fn raise(state: &mut ContactState, to: Status, reason: String) -> Option<(Status, Status)> {
    if to > state.status {
        let from = state.status;
        state.status = to;
        state.reason = Some(reason);
        Some((from, to))
    } else {
        None
    }
}

fn later(a: Option<Millis>, b: Millis) -> Option<Millis> {
    Some(a.map_or(b, |a| a.max(b)))
}

/// Folds one event into a contact's state. Pure and total.
pub fn apply(policy: &Policy, before: &ContactState, event: &Event) -> Outcome {
    let mut s = before.clone();
    let t = event.occurred_at;
    s.last_event_at = later(s.last_event_at, t);
    let reason_name = event
        .reason
        .unwrap_or(Reason::Undefined)
        .as_str()
        .to_string();
    let (status_change, note) = match (event.kind, event.class) {
        (EventKind::Bounce, Some(BounceClass::Hard)) => {
            let ch = raise(&mut s, Status::Bounced, reason_name.clone());
            (ch, format!("hard bounce ({reason_name})"))
        }
        (EventKind::Bounce, _) => {
            let window = policy.window_ms();
            if s.last_delivered_at.is_some_and(|d| d >= t) {
                (
                    None,
                    "soft bounce before a later delivery: not counted".into(),
                )
            } else {
                if !s.soft_bounces.contains(&t) {
                    s.soft_bounces.push(t);
                    s.soft_bounces.sort_unstable();
                }
                // Count the bounces that fall in the window ending at the newest one.
                let newest = s.soft_bounces.last().copied().unwrap_or(t);
                s.soft_bounces.retain(|b| newest - b < window);
                let limit = policy.soft_bounce_threshold as usize;
                if s.soft_bounces.len() > limit {
                    let excess = s.soft_bounces.len() - limit;
                    s.soft_bounces.drain(..excess);
                }
                let n = s.soft_bounces.len();
                let ch = if n >= limit {
                    raise(&mut s, Status::Bounced, reason_name.clone())
                } else {
                    None
                };
                (ch, format!("soft bounce {n}/{limit} ({reason_name})"))
            }
        }
        (EventKind::Delivery, _) => {
            s.last_delivered_at = later(s.last_delivered_at, t);
            s.soft_bounces.retain(|b| *b > t);
            (None, "delivered: soft-bounce count reset".into())
        }
        (EventKind::Complaint, _) => (
            raise(&mut s, Status::Complained, Reason::Feedback.as_str().into()),
            "complaint".into(),
        ),
        (EventKind::Unsubscribe, _) => (
            raise(&mut s, Status::Unsubscribed, "unsubscribe".into()),
            "unsubscribed".into(),
        ),
        (EventKind::Open | EventKind::Click, _) => {
            s.last_engaged_at = later(s.last_engaged_at, t);
            (
                None,
                format!("{}: engagement recorded", event.kind.as_str()),
            )
        }
        (EventKind::Deferred | EventKind::AutoReply | EventKind::Other, _) => {
            (None, format!("{}: timeline only", event.kind.as_str()))
        }
    };
    let note = match status_change {
        Some((from, to)) => format!("{note}; {} → {}", from.as_str(), to.as_str()),
        None => note,
    };
    Outcome {
        state: s,
        status_change,
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Address, Recipient};

    fn ev(kind: EventKind, class: Option<BounceClass>, day: i64) -> Event {
        Event {
            recipient: Recipient::Email(Address::parse("a@example.com").unwrap()),
            kind,
            class,
            reason: class.map(|_| Reason::MailboxFull),
            status: None,
            diagnostic: None,
            message_id: None,
            provider_event_id: None,
            occurred_at: day * DAY_MS,
            dedup_key: format!("k{day}"),
            details: serde_json::Value::Null,
        }
    }
    const SOFT: Option<BounceClass> = Some(BounceClass::Soft);
    const HARD: Option<BounceClass> = Some(BounceClass::Hard);

    fn run(events: &[Event]) -> ContactState {
        let p = Policy::default();
        events
            .iter()
            .fold(ContactState::default(), |s, e| apply(&p, &s, e).state)
    }

    #[test]
    fn hard_bounce_bounces_at_once() {
        let s = run(&[ev(EventKind::Bounce, HARD, 1)]);
        assert_eq!(s.status, Status::Bounced);
        assert_eq!(s.reason.as_deref(), Some("mailboxfull"));
    }

    #[test]
    fn three_soft_bounces_within_the_window_bounce() {
        let b = |d| ev(EventKind::Bounce, SOFT, d);
        assert_eq!(run(&[b(1), b(2)]).status, Status::Subscribed);
        assert_eq!(run(&[b(1), b(2), b(3)]).status, Status::Bounced);
        // Spread over more than 30 days: never three inside one window.
        assert_eq!(run(&[b(1), b(20), b(40)]).status, Status::Subscribed);
        assert_eq!(run(&[b(1), b(20), b(40)]).soft_bounces.len(), 2);
    }

    #[test]
    fn a_delivery_in_between_resets_the_count() {
        let b = |d| ev(EventKind::Bounce, SOFT, d);
        let d = |d| ev(EventKind::Delivery, None, d);
        let s = run(&[b(1), d(2), b(3), b(4)]);
        assert_eq!(s.status, Status::Subscribed);
        assert_eq!(s.soft_bounces.len(), 2);
        // The same events delivered out of order converge on the counter.
        let s2 = run(&[b(3), d(2), b(1), b(4)]);
        assert_eq!(s2.status, Status::Subscribed);
        assert_eq!(s2.soft_bounces, s.soft_bounces);
    }

    #[test]
    fn complaint_unsubscribe_and_engagement() {
        assert_eq!(
            run(&[ev(EventKind::Complaint, None, 1)]).status,
            Status::Complained
        );
        assert_eq!(
            run(&[ev(EventKind::Unsubscribe, None, 1)]).status,
            Status::Unsubscribed
        );
        let s = run(&[ev(EventKind::Open, None, 5), ev(EventKind::Click, None, 3)]);
        assert_eq!(s.status, Status::Subscribed);
        assert_eq!(s.last_engaged_at, Some(5 * DAY_MS));
        let s = run(&[
            ev(EventKind::Deferred, None, 1),
            ev(EventKind::Deferred, None, 2),
        ]);
        assert_eq!(s.status, Status::Subscribed);
        assert!(s.soft_bounces.is_empty());
    }

    #[test]
    fn events_only_raise_severity() {
        let s = run(&[
            ev(EventKind::Complaint, None, 1),
            ev(EventKind::Bounce, HARD, 2),
            ev(EventKind::Unsubscribe, None, 3),
        ]);
        assert_eq!(s.status, Status::Complained);
        assert_eq!(s.reason.as_deref(), Some("feedback"));
    }

    #[test]
    fn every_order_of_a_sequence_converges() {
        let events = [
            ev(EventKind::Bounce, SOFT, 1),
            ev(EventKind::Delivery, None, 2),
            ev(EventKind::Bounce, SOFT, 3),
            ev(EventKind::Unsubscribe, None, 4),
            ev(EventKind::Bounce, SOFT, 5),
        ];
        let reference = run(&events);
        // Heap's algorithm over all 120 permutations.
        let mut a: Vec<Event> = events.to_vec();
        let mut c = vec![0usize; a.len()];
        let mut i = 0;
        while i < a.len() {
            if c[i] < i {
                if i % 2 == 0 {
                    a.swap(0, i)
                } else {
                    a.swap(c[i], i)
                }
                let s = run(&a);
                assert!(s.status >= Status::Unsubscribed, "{a:?}");
                assert_eq!(s.soft_bounces, reference.soft_bounces);
                assert_eq!(s.last_event_at, reference.last_event_at);
                assert_eq!(s.last_delivered_at, reference.last_delivered_at);
                c[i] += 1;
                i = 0;
            } else {
                c[i] = 0;
                i += 1;
            }
        }
    }

    #[test]
    fn policy_validation_names_the_field() {
        let p = Policy {
            soft_bounce_threshold: 0,
            ..Policy::default()
        };
        assert!(p.validate().unwrap_err().contains("soft_bounce_threshold"));
        assert!(Policy::default().validate().is_ok());
    }
}
