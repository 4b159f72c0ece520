//! Time as rebound stores it: milliseconds since the Unix epoch, UTC.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

/// Milliseconds in one day.
pub const DAY_MS: Millis = 86_400_000;

/// Parses an RFC 3339 timestamp (`2026-05-13T10:24:31Z`), or the `YYYY-MM-DD HH:MM:SS`
/// form some providers send (read as UTC), into milliseconds.
pub fn parse(s: &str) -> Option<Millis> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(to_millis(t));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s, &fmt)
        .ok()
        .map(|t| to_millis(t.assume_utc()))
}

fn to_millis(t: OffsetDateTime) -> Millis {
    (t.unix_timestamp_nanos() / 1_000_000) as Millis
}

/// Formats milliseconds as RFC 3339 in UTC with millisecond precision.
pub fn format(ms: Millis) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => {
            let fmt = time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            );
            t.format(&fmt).unwrap_or_else(|_| ms.to_string())
        }
        Err(_) => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rfc3339() {
        let ms = parse("2026-05-13T10:24:31Z").unwrap();
        assert_eq!(ms, 1_778_667_871_000);
        assert_eq!(format(ms), "2026-05-13T10:24:31.000Z");
        assert_eq!(parse("2025-01-15 10:30:00"), parse("2025-01-15T10:30:00Z"));
        assert_eq!(parse("yesterday"), None);
    }
}

/// Serde helpers that write milliseconds as RFC 3339 strings in API output.
pub mod serde_rfc3339 {
    use super::{format, Millis};
    use serde::Serializer;

    /// Serializes a timestamp.
    pub fn serialize<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*ms))
    }

    /// Serializes an optional timestamp (`null` when absent).
    pub fn option<S: Serializer>(ms: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
        match ms {
            Some(ms) => s.serialize_str(&format(*ms)),
            None => s.serialize_none(),
        }
    }
}
