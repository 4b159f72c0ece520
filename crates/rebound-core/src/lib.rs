//! # rebound-core
//!
//! The pure domain logic of rebound: everything that decides what a signal *means*, with no
//! IO, no async runtime and no clock of its own (time is always an argument). The storage,
//! HTTP and CLI shells call into this crate; it never calls out.
//!
//! A provider webhook arrives as a [`webhook::WebhookRequest`] (headers + raw body + the time it
//! was received). Its provider adapter ([`providers`]) first verifies it on the raw bytes, then
//! normalizes it into zero or more [`event::Event`]s: one per affected recipient, each with a
//! dedup key. [`policy::apply`] folds an event into a contact's [`contact::ContactState`] and
//! says what changed; [`policy::replay`] folds a set of events in the order they happened,
//! whatever order they arrived in.
//!
//! # Layout
//! - [`bounces`]: bounce emails (DSN, ARF, auto-replies, vendor formats) → records.
//! - [`address`]: `Address`, an email address trimmed and compared case-insensitively in its
//!   domain part, keeping the original spelling for display.
//! - [`event`]: the normalized `Event`, its `EventKind`, `BounceClass`, dedup key and
//!   `Attribution` (how the store finds its contact and how far it trusts its recipient).
//! - [`reason`]: the bounce-reason taxonomy (Sisimai's names) and a classifier from status
//!   codes, reply codes and diagnostic text.
//! - [`contact`]: contact `Status` and the policy-relevant `ContactState`.
//! - [`policy`]: the configurable policy (`Policy`), `apply` (the state machine) and `replay`
//!   (the same machine over a set of events sorted by their own times).
//! - [`webhook`]: the raw inbound request as providers see it.
//! - [`signature`]: constant-time HMAC and Standard Webhooks verification.
//! - [`providers`]: one module per provider (`verify` + `parse`) and the registry.
//! - [`verp`]: signed VERP return paths (encode, verify).
//! - [`timestamp`]: milliseconds since the epoch and RFC 3339 conversions.
#![deny(missing_docs)]

pub mod address;
pub mod attributes;
pub mod bounces;
pub mod contact;
pub mod event;
pub mod forward;
pub mod policy;
pub mod providers;
pub mod rates;
pub mod reason;
pub mod signature;
pub mod timestamp;
pub mod verp;
pub mod webhook;

pub use address::{Address, AddressError};
pub use contact::{ContactState, ManualChange, Status};
pub use event::{Attribution, BounceClass, Event, EventKind, Recipient};
pub use policy::{Outcome, Policy, PolicyEvent};
pub use providers::Provider;
pub use reason::Reason;
pub use timestamp::Millis;
pub use webhook::WebhookRequest;
