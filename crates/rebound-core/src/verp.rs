//! VERP return paths signed by rebound: `bounces+TOKEN@domain`, where TOKEN encodes the
//! recipient and an HMAC over it. A bounce delivered to such an address names its recipient
//! with certainty — a forged one cannot — so it is always trusted.
//!
//! TOKEN is `base32(address)-tag`: lower-case RFC 4648 base32 without padding (mail systems
//! may change the case of a local part; base32 survives it), and `tag` the first 8 bytes of
//! HMAC-SHA256(secret, lower-cased address) in hex.

use crate::signature::{ct_eq, hmac_sha256};
use crate::Address;

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn base32(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 8 / 5 + 1);
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in data {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buf >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buf << (5 - bits)) & 31) as usize]));
    }
    out
}

fn unbase32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut buf, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c.to_ascii_lowercase())? as u32;
        buf = ((buf << 5) | v) & 0xffff;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buf >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

fn tag(secret: &[u8], address: &str) -> String {
    let mac = hmac_sha256(
        secret,
        &[b"rebound-verp-v1\0", address.to_lowercase().as_bytes()],
    );
    hex::encode(&mac[..8])
}

/// The signed return path for `address`, built on `return_path` (`bounces@example.com`).
pub fn encode(secret: &[u8], return_path: &Address, address: &Address) -> String {
    let rp = return_path.as_str();
    let (local, domain) = rp.rsplit_once('@').unwrap_or((rp, ""));
    let a = address.as_str();
    format!(
        "{local}+{}-{}@{domain}",
        base32(a.as_bytes()),
        tag(secret, a)
    )
}

/// The recipient a signed return path names, if `candidate` is one and its tag verifies.
pub fn decode(secret: &[u8], candidate: &str) -> Option<Address> {
    if secret.is_empty() {
        return None;
    }
    let candidate = candidate
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let (local, _domain) = candidate.rsplit_once('@')?;
    let (_, token) = local.split_once('+')?;
    let (payload, given) = token.rsplit_once('-')?;
    let bytes = unbase32(payload)?;
    let address = String::from_utf8(bytes).ok()?;
    let expected = tag(secret, &address);
    if !ct_eq(expected.as_bytes(), given.to_ascii_lowercase().as_bytes()) {
        return None;
    }
    Address::parse(&address).ok()
}

/// The first signed return path among some header values (`To`, `Delivered-To`…).
pub fn find<'a>(secret: &[u8], values: impl IntoIterator<Item = &'a str>) -> Option<Address> {
    values.into_iter().find_map(|v| {
        crate::bounces::text::addresses(v)
            .into_iter()
            .find_map(|(_, a)| decode(secret, &a))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        Address::parse(s).expect("address")
    }

    #[test]
    fn round_trip_and_case() {
        let rp = addr("bounces@mail.example.com");
        let a = addr("Jane.Doe+news@Example.ORG");
        let v = encode(b"k", &rp, &a);
        assert!(
            v.starts_with("bounces+") && v.ends_with("@mail.example.com"),
            "{v}"
        );
        assert_eq!(
            decode(b"k", &v).map(|x| x.as_str().to_string()),
            Some(a.as_str().to_string())
        );
        assert_eq!(
            decode(b"k", &v.to_uppercase()).map(|x| x.key().to_string()),
            Some(a.key().to_string())
        );
        assert_eq!(
            find(b"k", ["Someone <x@y.org>", &format!("<{v}>")]).map(|x| x.key().to_string()),
            Some(a.key().to_string())
        );
    }

    #[test]
    fn forgeries_fail() {
        let rp = addr("bounces@example.com");
        let v = encode(b"k", &rp, &addr("a@example.org"));
        assert!(decode(b"other", &v).is_none());
        assert!(decode(b"", &v).is_none());
        // The payload changed to another address, the tag kept.
        let forged = encode(b"k", &rp, &addr("b@example.org"));
        let (p1, t1) = v.split_once('-').unwrap_or_default();
        let (_, t2) = forged.split_once('-').unwrap_or_default();
        assert_ne!(t1, t2);
        let mixed = format!("{}-{}", forged.split_once('-').unwrap_or_default().0, t1);
        assert!(decode(b"k", &mixed).is_none());
        assert!(decode(b"k", p1).is_none());
        assert!(decode(b"k", "bounces@example.com").is_none());
        assert!(decode(b"k", "bounces+!!-00@example.com").is_none());
    }
}
