//! Contact status and the state the policy works on.

use serde::{Deserialize, Serialize};

use crate::Millis;

/// A contact's status. An address is *suppressed* when its status is not `subscribed`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// May be mailed.
    #[default]
    Subscribed,
    /// Asked not to be mailed.
    Unsubscribed,
    /// The address does not accept mail.
    Bounced,
    /// The recipient reported mail as spam; never mailed again unless reset by hand.
    Complained,
}

impl Status {
    /// Every status, from least to most severe.
    pub const ALL: [Status; 4] = [
        Status::Subscribed,
        Status::Unsubscribed,
        Status::Bounced,
        Status::Complained,
    ];

    /// The status name as used in the API, CSV and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Subscribed => "subscribed",
            Status::Unsubscribed => "unsubscribed",
            Status::Bounced => "bounced",
            Status::Complained => "complained",
        }
    }

    /// Parses a status name (case-insensitive, trimmed).
    pub fn parse(s: &str) -> Option<Status> {
        let s = s.trim();
        Status::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether the sending side must not mail this contact.
    pub fn is_suppressed(self) -> bool {
        self != Status::Subscribed
    }
}

/// A status set by hand (`PATCH /api/v1/contacts`, an import): where the policy's sequence
/// of events starts again. Events dated at or before `at` no longer change the status, the
/// reason or the soft-bounce count; events dated after it fold on top of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualChange {
    /// When the status was set.
    pub at: Millis,
    /// The status set.
    pub status: Status,
    /// The reason given with it (only for a suppressed status).
    pub reason: Option<String>,
}

/// What the policy needs to know about a contact, and what it changes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContactState {
    /// Current status.
    pub status: Status,
    /// Why the contact is suppressed (a reason name, `feedback`, `unsubscribe`, `manual`).
    pub reason: Option<String>,
    /// Soft bounces counted toward the threshold, oldest first: those within the window,
    /// after the last delivery. Its length is the soft-bounce count.
    pub soft_bounces: Vec<Millis>,
    /// When the last event of any kind happened.
    pub last_event_at: Option<Millis>,
    /// When the last delivery happened.
    pub last_delivered_at: Option<Millis>,
    /// When the contact last opened or clicked.
    pub last_engaged_at: Option<Millis>,
    /// When the newest event whose order matters (bounce, delivery, complaint, unsubscribe:
    /// see [`crate::policy::order_matters`]) happened: an event of those kinds dated after it
    /// folds on top of the state; one dated at or before it is re-folded with the others.
    pub last_policy_event_at: Option<Millis>,
    /// The last status set by hand, if any: the base the policy folds events onto.
    pub manual: Option<ManualChange>,
}

impl ContactState {
    /// Sets the status by hand at `now`: status and reason as given (a reason only for a
    /// suppressed status), the soft-bounce count starts again from zero, and events dated
    /// at or before the change no longer count. The change is placed at `now`, or at the
    /// newest event already folded if that is later (a provider clock ahead of ours), so
    /// that it overrides every event known when it was made. The times (`last_*_at`) are
    /// kept.
    pub fn set_manually(&mut self, now: Millis, status: Status, reason: Option<String>) {
        let at = self.last_event_at.map_or(now, |t| t.max(now));
        let reason = reason.filter(|_| status.is_suppressed());
        self.status = status;
        self.reason = reason.clone();
        self.soft_bounces.clear();
        self.manual = Some(ManualChange { at, status, reason });
    }
}
