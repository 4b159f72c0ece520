//! The contacts CSV: the columns `rebound export` writes and `rebound import` reads back,
//! and a filtered set of contacts streamed page by page (the CLI and
//! `GET /api/v1/contacts/export` both use it), so that a million contacts never sit in
//! memory at once.

use axum::body::Bytes;
use futures_util::Stream;
use rebound_store::{Contact, ContactFilter, DynStore, StoreError};

/// Columns written by an export that an import reads back; the rest are ignored on import.
pub const COLUMNS: [&str; 8] = [
    "email",
    "status",
    "reason",
    "uuid",
    "attributes",
    "soft_bounce_count",
    "last_event_at",
    "created_at",
];

/// Contacts per page read from the store.
const PAGE: u32 = 1000;

/// A contact's CSV fields, in [`COLUMNS`] order.
pub fn record(c: &Contact) -> [String; 8] {
    let fmt = |t: Option<i64>| t.map(rebound_core::timestamp::format).unwrap_or_default();
    [
        c.email.clone(),
        c.status.as_str().into(),
        c.reason.clone().unwrap_or_default(),
        c.uuid.clone(),
        c.attributes.to_string(),
        c.soft_bounce_count.to_string(),
        fmt(c.last_event_at),
        fmt(Some(c.created_at)),
    ]
}

/// CSV text of rows (quoted where needed).
fn csv_bytes<'a>(rows: impl IntoIterator<Item = &'a [String; 8]>, header: bool) -> Bytes {
    let mut w = csv::Writer::from_writer(Vec::new());
    let write = || -> csv::Result<()> {
        if header {
            w.write_record(COLUMNS)?;
        }
        for r in rows {
            w.write_record(r)?;
        }
        w.flush()?;
        Ok(())
    };
    // Writing to memory fails only on a bug; an empty chunk is the harmless answer then.
    if write().is_err() {
        return Bytes::new();
    }
    Bytes::from(w.into_inner().unwrap_or_default())
}

/// The header, then every contact the filter selects (its `limit` and `cursor` ignored), a
/// page per chunk. A store error ends the stream with that error (the answer is cut short,
/// which a client sees as an incomplete transfer).
pub fn stream(
    store: DynStore,
    filter: ContactFilter,
) -> impl Stream<Item = Result<Bytes, StoreError>> + Send {
    let first = ContactFilter {
        limit: PAGE,
        cursor: None,
        ..filter
    };
    futures_util::stream::unfold(
        (store, Some(first), true),
        |(store, next, header)| async move {
            let filter = next?;
            match store.list_contacts(filter.clone()).await {
                Ok(page) => {
                    let rows: Vec<[String; 8]> = page.items.iter().map(record).collect();
                    let chunk = csv_bytes(&rows, header);
                    let next = page.next_cursor.map(|c| ContactFilter {
                        cursor: Some(c),
                        ..filter
                    });
                    Some((Ok(chunk), (store, next, false)))
                }
                Err(e) => Some((Err(e), (store, None, false))),
            }
        },
    )
}
