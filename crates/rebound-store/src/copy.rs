//! Moving an installation from one store to another (`rebound store copy`), whatever the
//! backends: every table is read in key order, in batches bounded by rows and bytes, and
//! written to the destination with the same keys (a row already there with the same key is
//! replaced), so a copy that stops half-way is finished by running it again, and a rerun
//! after the source changed brings the destination up to date. At the end each table is
//! counted on both sides.
//!
//! Ids are kept (events keep pointing at their contacts, sources and inbox rows); the
//! destination then hands out new ids after the copied ones ([`crate::Store::copy_done`]).
//! Named locks are not copied: they are leases of running processes, meaningless elsewhere.
//! Outbound webhooks come along (subscriptions with their secrets, the outbox with its
//! pending messages, the delivery log), parents before children; an outbox row leased by a
//! node of the source keeps its lease, which expires by itself (at most a minute).

use crate::{Result, Store, StoreError};

/// A column's type, the same on every backend (booleans are integers on SQLite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Text,
    Bytes,
    Bool,
}

/// One value of a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
    Bool(bool),
}

impl Cell {
    /// About how many bytes the value takes (to bound a batch).
    pub fn size(&self) -> usize {
        match self {
            Cell::Text(s) => s.len(),
            Cell::Bytes(b) => b.len(),
            _ => 8,
        }
    }
}

/// A table as the copy sees it: its columns, the key columns first.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Kind)],
    /// How many of the first columns make the primary key.
    pub key: usize,
    /// Whether the key is an id the database hands out (a sequence to move on after).
    pub serial: bool,
}

impl Table {
    /// The key columns.
    pub fn key_columns(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns[..self.key].iter().map(|(c, _)| *c)
    }

    /// The column names, comma-separated.
    pub fn column_list(&self) -> String {
        let names: Vec<&str> = self.columns.iter().map(|(c, _)| *c).collect();
        names.join(", ")
    }

    /// The key of a row (its first [`Table::key`] cells).
    pub fn key_of(&self, row: &[Cell]) -> Vec<Cell> {
        row[..self.key.min(row.len())].to_vec()
    }

    /// The query of a batch: every column, key order, keys after `marks` (the placeholders
    /// of the previous batch's last key, in the backend's syntax) when given.
    pub fn select(&self, marks: Option<&[String]>, limit: usize) -> String {
        let keys: Vec<&str> = self.key_columns().collect();
        let keys = keys.join(", ");
        let filter = marks.map_or(String::new(), |m| {
            format!("WHERE ({keys}) > ({})", m.join(", "))
        });
        format!(
            "SELECT {} FROM {} {filter} ORDER BY {keys} LIMIT {limit}",
            self.column_list(),
            self.name
        )
    }

    /// `SET c = excluded.c` for every column outside the key (the same on both dialects).
    pub fn update_clause(&self) -> String {
        let sets: Vec<String> = self.columns[self.key..]
            .iter()
            .map(|(c, _)| format!("{c} = excluded.{c}"))
            .collect();
        sets.join(", ")
    }
}

use Kind::*;

/// Every table of an installation, in the order they are copied.
pub const TABLES: &[Table] = &[
    Table {
        name: "settings",
        columns: &[("key", Text), ("value", Text), ("updated_at", Int)],
        key: 1,
        serial: false,
    },
    Table {
        name: "api_keys",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("scope", Text),
            ("key_hash", Text),
            ("prefix", Text),
            ("created_at", Int),
            ("last_used_at", Int),
            ("revoked_at", Int),
        ],
        key: 1,
        serial: true,
    },
    Table {
        name: "erased",
        columns: &[("address_hash", Text), ("erased_at", Int)],
        key: 1,
        serial: false,
    },
    Table {
        name: "users",
        columns: &[
            ("id", Int),
            ("email", Text),
            ("email_key", Text),
            ("role", Text),
            ("password_hash", Text),
            ("created_at", Int),
            ("last_login_at", Int),
        ],
        key: 1,
        serial: true,
    },
    Table {
        name: "sources",
        columns: &[
            ("id", Int),
            ("provider", Text),
            ("name", Text),
            ("url_key", Text),
            ("secret", Text),
            ("config", Text),
            ("status", Text),
            ("status_message", Text),
            ("created_at", Int),
        ],
        key: 1,
        serial: true,
    },
    Table {
        name: "contacts",
        columns: &[
            ("id", Int),
            ("email", Text),
            ("email_key", Text),
            ("uuid", Text),
            ("status", Text),
            ("reason", Text),
            ("soft_bounce_count", Int),
            ("soft_bounces", Text),
            ("last_event_at", Int),
            ("last_delivered_at", Int),
            ("last_engaged_at", Int),
            ("attributes", Text),
            ("created_at", Int),
            ("updated_at", Int),
            ("last_policy_event_at", Int),
            ("manual_at", Int),
            ("manual_status", Text),
            ("manual_reason", Text),
        ],
        key: 1,
        serial: true,
    },
    Table {
        name: "events",
        columns: &[
            ("id", Int),
            ("dedup_key", Text),
            ("contact_id", Int),
            ("source_id", Int),
            ("inbox_id", Int),
            ("provider", Text),
            ("kind", Text),
            ("class", Text),
            ("reason", Text),
            ("status_code", Text),
            ("diagnostic", Text),
            ("message_id", Text),
            ("provider_event_id", Text),
            ("occurred_at", Int),
            ("recorded_at", Int),
            ("status_before", Text),
            ("status_after", Text),
            ("note", Text),
            ("details", Text),
            ("sending_domain", Text),
        ],
        key: 1,
        serial: true,
    },
    Table {
        name: "inbox",
        columns: &[
            ("id", Int),
            ("source_id", Int),
            ("provider", Text),
            ("received_at", Int),
            ("headers", Text),
            ("body", Bytes),
            ("state", Text),
            ("attempts", Int),
            ("next_attempt_at", Int),
            ("last_error", Text),
            ("processed_at", Int),
            ("events_created", Int),
            ("method", Text),
            ("path", Text),
            ("remote_addr", Text),
            ("http_status", Int),
            ("outcome", Text),
            ("error", Text),
            ("locked_until", Int),
            ("locked_by", Text),
        ],
        key: 1,
        serial: true,
    },
    Table {
        name: "mailbox_messages",
        columns: &[
            ("scope", Text),
            ("uid", Text),
            ("inbox_id", Int),
            ("is_bounce", Bool),
            ("fetched_at", Int),
        ],
        key: 2,
        serial: false,
    },
    Table {
        name: "rejection_counts",
        columns: &[
            ("minute", Int),
            ("source_id", Int),
            ("provider", Text),
            ("http_status", Int),
            ("error", Text),
            ("count", Int),
        ],
        key: 5,
        serial: false,
    },
    Table {
        name: "subscriptions",
        columns: &[
            ("id", Int),
            ("url", Text),
            ("kind", Text),
            ("events", Text),
            ("secret", Text),
            ("previous_secret", Text),
            ("previous_until", Int),
            ("enabled", Bool),
            ("description", Text),
            ("created_at", Int),
            ("failing_since", Int),
            ("disabled_reason", Text),
            ("sources", Text),
        ],
        key: 1,
        serial: true,
    },
    Table {
        name: "outbox",
        columns: &[
            ("id", Int),
            ("subscription_id", Int),
            ("message_id", Text),
            ("event_type", Text),
            ("contact_id", Int),
            ("payload", Text),
            ("state", Text),
            ("attempts", Int),
            ("next_attempt_at", Int),
            ("locked_until", Int),
            ("locked_by", Text),
            ("created_at", Int),
            ("updated_at", Int),
        ],
        key: 1,
        serial: true,
    },
    Table {
        name: "deliveries",
        columns: &[
            ("id", Int),
            ("outbox_id", Int),
            ("subscription_id", Int),
            ("attempt", Int),
            ("attempted_at", Int),
            ("http_status", Int),
            ("latency_ms", Int),
            ("response", Text),
            ("error", Text),
            ("ok", Bool),
        ],
        key: 1,
        serial: true,
    },
];

/// Rows read in one batch at most.
pub const BATCH_ROWS: usize = 2000;
/// About how many bytes one batch holds at most (inbox rows carry request bodies): a
/// backend stops reading a batch after the row that passes this.
pub const BATCH_BYTES: usize = 8 << 20;

/// The rows of a batch being read: full at [`BATCH_BYTES`].
#[derive(Default)]
pub(crate) struct Batch {
    pub rows: Vec<Vec<Cell>>,
    bytes: usize,
}

impl Batch {
    /// Adds a row; whether the batch is now full.
    pub fn push(&mut self, row: Vec<Cell>) -> bool {
        self.bytes += row.iter().map(Cell::size).sum::<usize>();
        self.rows.push(row);
        self.bytes >= BATCH_BYTES
    }
}

/// How far the copy is, after each batch.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub table: &'static str,
    /// Rows of this table copied so far.
    pub done: u64,
    /// Rows of this table in the source when it started.
    pub total: u64,
}

/// One table's counts once copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub table: &'static str,
    /// Rows written this run.
    pub copied: u64,
    /// Rows in the source and in the destination at the end.
    pub source: u64,
    pub destination: u64,
}

/// Copies every table of `from` into `to` (see the module's documentation); `progress` is
/// called after each batch. Returns each table's counts; errors if any differ.
pub async fn copy(
    from: &dyn Store,
    to: &dyn Store,
    mut progress: impl FnMut(Progress),
) -> Result<Vec<Counted>> {
    let mut counted = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let total = from.count_rows(table).await?;
        let mut done = 0u64;
        progress(Progress {
            table: table.name,
            done,
            total,
        });
        let mut after: Option<Vec<Cell>> = None;
        loop {
            let rows = from.copy_rows(table, after.clone(), BATCH_ROWS).await?;
            let Some(last) = rows.last() else { break };
            after = Some(table.key_of(last));
            done += rows.len() as u64;
            to.put_rows(table, rows).await?;
            progress(Progress {
                table: table.name,
                done,
                total: total.max(done),
            });
        }
        counted.push(Counted {
            table: table.name,
            copied: done,
            source: from.count_rows(table).await?,
            destination: to.count_rows(table).await?,
        });
    }
    to.copy_done().await?;
    let differ: Vec<String> = counted
        .iter()
        .filter(|c| c.source != c.destination)
        .map(|c| {
            format!(
                "{}: {} in the source, {} in the destination",
                c.table, c.source, c.destination
            )
        })
        .collect();
    if !differ.is_empty() {
        return Err(StoreError::Invalid(format!(
            "row counts differ after the copy: {}. Either the source changed during the copy \
             (stop every node writing to it and run the copy again) or the destination held \
             other rows before (copy into an empty database)",
            differ.join(", ")
        )));
    }
    Ok(counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_first_and_updates_leave_them_alone() {
        for t in TABLES {
            assert!(t.key >= 1 && t.key < t.columns.len(), "{}", t.name);
            let update = t.update_clause();
            for k in t.key_columns() {
                let set = format!("{k} = excluded.{k}");
                assert!(
                    !update.split(", ").any(|s| s == set),
                    "{}: {update}",
                    t.name
                );
            }
            assert_eq!(t.serial, t.key == 1 && t.columns[0] == ("id", Int));
        }
        let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        assert!(!names.contains(&"named_locks"));
    }
}
