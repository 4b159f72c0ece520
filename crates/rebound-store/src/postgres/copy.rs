//! The PostgreSQL side of [`crate::copy`]: a table's rows read in key order, written back
//! with their keys in one `INSERT … SELECT … FROM unnest(…)` per batch.

use ::postgres::types::ToSql;
use ::postgres::Row;

use super::Conn;
use crate::copy::{Batch, Cell, Kind, Table};
use crate::{Result, StoreError};

fn sql_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Int => "bigint",
        Kind::Text => "text",
        Kind::Bytes => "bytea",
        Kind::Bool => "boolean",
    }
}

fn read_cell(row: &Row, i: usize, kind: Kind) -> Result<Cell> {
    Ok(match kind {
        Kind::Int => row
            .try_get::<_, Option<i64>>(i)?
            .map_or(Cell::Null, Cell::Int),
        Kind::Text => row
            .try_get::<_, Option<String>>(i)?
            .map_or(Cell::Null, Cell::Text),
        Kind::Bytes => row
            .try_get::<_, Option<Vec<u8>>>(i)?
            .map_or(Cell::Null, Cell::Bytes),
        Kind::Bool => row
            .try_get::<_, Option<bool>>(i)?
            .map_or(Cell::Null, Cell::Bool),
    })
}

/// A cell as a parameter of its column's type.
fn param(cell: &Cell, kind: Kind, column: &str) -> Result<Box<dyn ToSql + Sync + Send>> {
    Ok(match (cell, kind) {
        (Cell::Int(i), Kind::Int) => Box::new(*i),
        (Cell::Text(s), Kind::Text) => Box::new(s.clone()),
        (Cell::Bytes(b), Kind::Bytes) => Box::new(b.clone()),
        (Cell::Bool(b), Kind::Bool) => Box::new(*b),
        (Cell::Null, Kind::Int) => Box::new(None::<i64>),
        (Cell::Null, Kind::Text) => Box::new(None::<String>),
        (Cell::Null, Kind::Bytes) => Box::new(None::<Vec<u8>>),
        (Cell::Null, Kind::Bool) => Box::new(None::<bool>),
        (c, k) => return Err(mismatch(column, c, k)),
    })
}

fn mismatch(column: &str, cell: &Cell, kind: Kind) -> StoreError {
    StoreError::Invalid(format!(
        "column {column}: expected {}, got {cell:?}",
        sql_type(kind)
    ))
}

/// Rows after `after` in key order, at most `limit` and about [`crate::copy::BATCH_BYTES`].
pub(crate) fn rows(
    c: &mut Conn,
    table: &Table,
    after: Option<&[Cell]>,
    limit: usize,
) -> Result<Vec<Vec<Cell>>> {
    let mut params = Vec::new();
    let mut marks = None;
    if let Some(after) = after {
        let mut m = Vec::new();
        for (i, (cell, (column, kind))) in after.iter().zip(table.columns).enumerate() {
            params.push(param(cell, *kind, column)?);
            m.push(format!("${}", i + 1));
        }
        marks = Some(m);
    }
    let sql = table.select(marks.as_deref(), limit);
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let mut batch = Batch::default();
    for row in c.query(&sql, &refs)? {
        let cells = (table.columns.iter().enumerate())
            .map(|(i, (_, kind))| read_cell(&row, i, *kind))
            .collect::<Result<Vec<Cell>>>()?;
        if batch.push(cells) {
            break;
        }
    }
    Ok(batch.rows)
}

/// One column of a batch, as the array `unnest` takes.
enum Array {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
    Bytes(Vec<Option<Vec<u8>>>),
    Bool(Vec<Option<bool>>),
}

impl Array {
    fn new(kind: Kind, len: usize) -> Array {
        match kind {
            Kind::Int => Array::Int(Vec::with_capacity(len)),
            Kind::Text => Array::Text(Vec::with_capacity(len)),
            Kind::Bytes => Array::Bytes(Vec::with_capacity(len)),
            Kind::Bool => Array::Bool(Vec::with_capacity(len)),
        }
    }

    fn push(&mut self, cell: Cell, kind: Kind, column: &str) -> Result<()> {
        match (self, cell) {
            (Array::Int(v), Cell::Int(i)) => v.push(Some(i)),
            (Array::Text(v), Cell::Text(s)) => v.push(Some(s)),
            (Array::Bytes(v), Cell::Bytes(b)) => v.push(Some(b)),
            (Array::Bool(v), Cell::Bool(b)) => v.push(Some(b)),
            (Array::Int(v), Cell::Null) => v.push(None),
            (Array::Text(v), Cell::Null) => v.push(None),
            (Array::Bytes(v), Cell::Null) => v.push(None),
            (Array::Bool(v), Cell::Null) => v.push(None),
            (_, cell) => return Err(mismatch(column, &cell, kind)),
        }
        Ok(())
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Array::Int(v) => v,
            Array::Text(v) => v,
            Array::Bytes(v) => v,
            Array::Bool(v) => v,
        }
    }
}

/// Writes rows with their keys, replacing rows with the same key: one statement.
pub(crate) fn put(c: &mut Conn, table: &Table, rows: Vec<Vec<Cell>>) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut arrays: Vec<Array> = table
        .columns
        .iter()
        .map(|(_, kind)| Array::new(*kind, rows.len()))
        .collect();
    for row in rows {
        if row.len() != table.columns.len() {
            return Err(StoreError::Invalid(format!(
                "{}: a row of {} values for {} columns",
                table.name,
                row.len(),
                table.columns.len()
            )));
        }
        for ((cell, array), (column, kind)) in row.into_iter().zip(&mut arrays).zip(table.columns) {
            array.push(cell, *kind, column)?;
        }
    }
    let casts: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| format!("${}::{}[]", i + 1, sql_type(*kind)))
        .collect();
    let keys: Vec<&str> = table.key_columns().collect();
    let sql = format!(
        "INSERT INTO {name} ({cols}) SELECT * FROM unnest({casts})
         ON CONFLICT ({keys}) DO UPDATE SET {updates}",
        name = table.name,
        cols = table.column_list(),
        casts = casts.join(", "),
        keys = keys.join(", "),
        updates = table.update_clause()
    );
    let params: Vec<&(dyn ToSql + Sync)> = arrays.iter().map(Array::param).collect();
    c.execute(&sql, &params)?;
    Ok(())
}

/// How many rows `table` holds.
pub(crate) fn count(c: &mut Conn, table: &Table) -> Result<u64> {
    let n: i64 = c
        .query_one(&format!("SELECT COUNT(*) FROM {}", table.name), &[])?
        .try_get(0)?;
    Ok(n.max(0) as u64)
}

/// Moves each id sequence past the largest id copied.
pub(crate) fn done(c: &mut Conn, tables: &[Table]) -> Result<()> {
    for t in tables.iter().filter(|t| t.serial) {
        c.query_one(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'),
                               COALESCE((SELECT MAX(id) FROM {0}), 0) + 1, false)",
                t.name
            ),
            &[],
        )?;
    }
    Ok(())
}
