//! Standard RFC 3464 reports from MTAs no vendor engine claims: the generic DSN reader,
//! run last among the vendor engines so that the remote-host codes ([`super::rhost`]) and
//! the reason settling ([`super::common::settle`]) apply to its records too.

use super::super::dsn;
use super::super::mime::{Flat, Headers};
use super::super::Found;

/// Parses a standard delivery status notification.
#[inline(never)]
pub fn parse(flat: &Flat, _original: &Headers) -> Option<Found> {
    dsn::parse(flat)
}
