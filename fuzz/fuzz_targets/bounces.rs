//! The bounce-email parser on arbitrary bytes: no panic, bounded output, and the same
//! result when the same input is parsed twice (RELIABILITY.md item 30).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rebound_core::bounces::{self, Limits, MAX_RECORDS};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_input: 1 << 20, ..Limits::default() };
    let a = bounces::parse_with(data, &limits);
    assert!(a.len() <= MAX_RECORDS);
    let b = bounces::parse_with(data, &limits);
    assert_eq!(a, b);
});
