//! Vendor-specific bounce formats: one module per sending MTA or mailbox provider whose
//! bounces the generic engines ([`super::dsn`], [`super::text`]) misread. Each module has
//! `parse(flat, original) -> Option<Found>` and returns `None` unless it recognises its own
//! format (by sender, subject, headers or wording). They are tried in [`ENGINES`] order,
//! before the generic engines.

pub mod activehunter;
pub mod amazonses;
pub mod aol;
pub mod apachejames;
pub mod common;
pub mod courier;
pub mod domino;
pub mod dragonfly;
pub mod einsundeins;
pub mod exchange2003;
pub mod exim;
pub mod ezweb;
pub mod fml;
pub mod gmail;
pub mod googlegroups;
pub mod googleworkspace;
pub mod gsuite;
pub mod imailserver;
pub mod interscanmss;
pub mod kddi;
pub mod mailfoundry;
pub mod messagelabs;
pub mod notes;
pub mod office365;
pub mod postfix;
pub mod powermta;
pub mod qmail;
pub mod receivingses;
pub mod rfc3464;
pub mod rhost;
pub mod sendmail;
pub mod v5sendmail;
pub mod x1;
pub mod x3;
pub mod x5;
pub mod zoho;

use super::mime::{Flat, Headers};
use super::Found;
use crate::bounces::mime::LinesExt;
use crate::bounces::mime::StrExt;

/// An engine: recognises one format and reads its records.
pub type Engine = fn(&Flat, &Headers) -> Option<Found>;

/// Vendor engines, tried in order.
pub const ENGINES: &[Engine] = &[
    dragonfly::parse,
    v5sendmail::parse,
    googlegroups::parse,
    gmail::parse,
    googleworkspace::parse,
    gsuite::parse,
    receivingses::parse,
    amazonses::parse,
    aol::parse,
    kddi::parse,
    imailserver::parse,
    x3::parse,
    messagelabs::parse,
    activehunter::parse,
    courier::parse,
    notes::parse,
    zoho::parse,
    office365::parse,
    powermta::parse,
    ezweb::parse,
    apachejames::parse,
    einsundeins::parse,
    exchange2003::parse,
    fml::parse,
    interscanmss::parse,
    mailfoundry::parse,
    x1::parse,
    x5::parse,
    postfix::parse,
    sendmail::parse,
    exim::parse,
    qmail::parse,
    domino::parse,
    rfc3464::parse,
];

/// The first vendor engine that recognises the message.
#[inline(never)]
pub fn parse(flat: &Flat, original: &Headers) -> Option<Found> {
    let mut found = ENGINES.iter().find_map(|e| e(flat, original))?;
    let lhost = reporting_mta(flat);
    for r in found.records.iter_mut().take(super::MAX_RECORDS) {
        rhost::apply(r, lhost);
        common::settle(r);
    }
    Some(found)
}

/// The `Reporting-MTA` of the delivery-status blocks (its name only), or `""`.
fn reporting_mta(flat: &Flat) -> &str {
    for block in &flat.status {
        for line in block.lines_fast().take(64) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.trim_fast().eq_ignore_ascii_case("reporting-mta") {
                let v = value.trim_fast();
                let v = v.split_once(';').map_or(v, |(_, h)| h.trim_fast());
                return v.split_whitespace().next().unwrap_or("");
            }
        }
    }
    ""
}
