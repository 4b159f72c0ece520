//! The SQLite side of [`crate::copy`]: a table's rows read in key order and written back
//! with their keys.

use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, ToSql};

use crate::copy::{Batch, Cell, Kind, Table};
use crate::Result;

impl ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Cell::Null => ToSqlOutput::Owned(Value::Null),
            Cell::Int(i) => ToSqlOutput::Owned(Value::Integer(*i)),
            Cell::Bool(b) => ToSqlOutput::Owned(Value::Integer(i64::from(*b))),
            Cell::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Cell::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn read_cell(row: &rusqlite::Row<'_>, i: usize, kind: Kind) -> rusqlite::Result<Cell> {
    Ok(match row.get_ref(i)? {
        ValueRef::Null => Cell::Null,
        v => match kind {
            Kind::Int => Cell::Int(v.as_i64()?),
            Kind::Bool => Cell::Bool(v.as_i64()? != 0),
            Kind::Text => Cell::Text(String::from_utf8_lossy(v.as_bytes()?).into_owned()),
            Kind::Bytes => Cell::Bytes(v.as_bytes()?.to_vec()),
        },
    })
}

/// Rows after `after` in key order, at most `limit` and about [`crate::copy::BATCH_BYTES`].
pub(crate) fn rows(
    c: &Connection,
    table: &Table,
    after: Option<&[Cell]>,
    limit: usize,
) -> Result<Vec<Vec<Cell>>> {
    let marks = after.map(|a| vec!["?".to_string(); a.len()]);
    let sql = table.select(marks.as_deref(), limit);
    let mut stmt = c.prepare_cached(&sql)?;
    let params: Vec<&dyn ToSql> = after
        .unwrap_or_default()
        .iter()
        .map(|c| c as &dyn ToSql)
        .collect();
    let mut found = stmt.query(params.as_slice())?;
    let mut batch = Batch::default();
    while let Some(row) = found.next()? {
        let cells = (table.columns.iter().enumerate())
            .map(|(i, (_, kind))| read_cell(row, i, *kind))
            .collect::<rusqlite::Result<Vec<Cell>>>()?;
        if batch.push(cells) {
            break;
        }
    }
    Ok(batch.rows)
}

/// Writes rows with their keys, replacing rows with the same key.
pub(crate) fn put(c: &Connection, table: &Table, rows: &[Vec<Cell>]) -> Result<()> {
    let marks = vec!["?"; table.columns.len()].join(", ");
    let keys: Vec<&str> = table.key_columns().collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES ({marks}) ON CONFLICT ({}) DO UPDATE SET {}",
        table.name,
        table.column_list(),
        keys.join(", "),
        table.update_clause()
    );
    let mut stmt = c.prepare_cached(&sql)?;
    for row in rows {
        let params: Vec<&dyn ToSql> = row.iter().map(|c| c as &dyn ToSql).collect();
        stmt.execute(params.as_slice())?;
    }
    Ok(())
}

/// How many rows `table` holds.
pub(crate) fn count(c: &Connection, table: &Table) -> Result<u64> {
    let n: i64 = c.query_row(&format!("SELECT COUNT(*) FROM {}", table.name), [], |r| {
        r.get(0)
    })?;
    Ok(n.max(0) as u64)
}
