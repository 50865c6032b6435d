//! Backups: a consistent copy of every table, taken while the platform runs, into a SQLite file with
//! the platform's own schema (readable with any SQLite tool); and the restore of such a file into an
//! empty database of either engine. A city can so also move from SQLite to PostgreSQL and back.

use std::path::{Path, PathBuf};

use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{Backend, DbOptions, Result, Store, StoreError};

/// Rows of one table copied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableCopy {
    pub table: String,
    pub rows: u64,
}

/// What a backup or a restore copied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    /// The newest migration of the schema the rows belong to.
    pub schema_version: i64,
    pub tables: Vec<TableCopy>,
    /// NUL characters left out of texts on the way into PostgreSQL, which cannot hold them.
    pub nul_characters_dropped: u64,
}

impl CopyReport {
    /// Rows copied in all.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// One stored value, as both engines hold it.
#[derive(Debug, Clone)]
enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// Placeholders per statement, under both engines' limits.
const PARAMETERS_PER_STATEMENT: usize = 30_000;

impl Store {
    /// Writes a consistent copy of every table to a new SQLite file at `path` (never over an existing
    /// file): what the database held at one moment, while writes go on.
    pub async fn backup_to(&self, path: &Path) -> Result<CopyReport> {
        if path.exists() {
            return Err(StoreError::Corrupt(format!("{} already exists: a backup never overwrites", path.display())));
        }
        // Written under another name and renamed when complete, so that a file by that name is whole.
        let partial = PathBuf::from(format!("{}.partial", path.display()));
        let _ = std::fs::remove_file(&partial);
        let file = match Store::open(&backup_file_options(&partial)).await {
            Ok(file) => file,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        let copied = copy_tables(self, &file).await;
        // One self-contained file: everything in the write-ahead log folded into it.
        let folded = sqlx::query("pragma wal_checkpoint(truncate)").execute(file.writer()).await;
        file.close().await;
        let copied = copied.and_then(|report| folded.map(|_| report).map_err(StoreError::from));
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
        }
        match copied {
            Ok(report) => {
                // A link fails when a file of that name appeared meanwhile: it is never replaced.
                let linked = std::fs::hard_link(&partial, path);
                let _ = std::fs::remove_file(&partial);
                linked.map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
                Ok(report)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    }

    /// Loads the backup at `path` into this database, which must hold no cases and no users (the
    /// schema is brought up to date when it is opened); all or nothing.
    pub async fn restore_from(&self, path: &Path) -> Result<CopyReport> {
        if !path.is_file() {
            return Err(StoreError::Corrupt(format!("{}: no such backup file", path.display())));
        }
        for table in ["cases", "users"] {
            let rows: i64 =
                sqlx::query(&format!("select count(*) from {table}")).fetch_one(self.reader()).await?.try_get(0)?;
            if rows > 0 {
                return Err(StoreError::Corrupt(format!(
                    "this database holds {rows} {table}: restore into a new, empty database"
                )));
            }
        }
        let file = Store::connect(&backup_file_options(path)).await?;
        let copied = copy_tables(&file, self).await;
        file.close().await;
        copied
    }
}

fn backup_file_options(path: &Path) -> DbOptions {
    let mut options = DbOptions::new(format!("sqlite://{}", path.display()));
    options.max_connections = 1;
    options
}

/// Copies every table of `from` into `to` (emptied first, in one transaction): tables in the order
/// they were created, which no foreign key runs against, and within a table by their first column.
async fn copy_tables(from: &Store, to: &Store) -> Result<CopyReport> {
    let version = schema_version(from).await?;
    if version != schema_version(to).await? {
        return Err(StoreError::Corrupt(format!(
            "the source's schema is at migration {version}, the target's at {}: bring both to this version of cityloop",
            schema_version(to).await?
        )));
    }
    // The SQLite side knows the order its tables were created in.
    let file = if from.backend() == Backend::Sqlite { from } else { to };
    let tables = tables_in_creation_order(file).await?;
    let mut references = Vec::new();
    for table in &tables {
        references.push(self_references(file, table).await?);
    }
    let mut source = from.reader().begin().await?;
    if from.backend() == Backend::Postgres {
        // One snapshot for every table.
        sqlx::query("set transaction isolation level repeatable read, read only").execute(&mut *source).await?;
    }
    let mut target = to.writer().begin().await?;
    for table in tables.iter().rev() {
        sqlx::query(&format!("delete from {table}")).execute(&mut *target).await?;
    }
    let mut report = CopyReport { schema_version: version, tables: Vec::new(), nul_characters_dropped: 0 };
    // SQLite holds NUL characters that older versions let through; PostgreSQL cannot.
    let drop_nul = to.backend() == Backend::Postgres;
    for (table, self_references) in tables.iter().zip(&references) {
        let (rows, dropped) =
            copy_table(&mut source, &mut target, to.backend(), table, self_references, drop_nul).await?;
        report.nul_characters_dropped += dropped;
        report.tables.push(TableCopy { table: table.clone(), rows });
    }
    if to.backend() == Backend::Postgres {
        // Identity columns go on from the highest id restored.
        for table in &tables {
            let has_id = sqlx::query(
                "select count(*) from information_schema.columns where table_schema = current_schema() \
                 and table_name = $1 and column_name = 'id' and is_identity = 'YES'",
            )
            .bind(table.clone())
            .fetch_one(&mut *target)
            .await?
            .try_get::<i64, _>(0)?;
            if has_id > 0 {
                sqlx::query(&format!(
                    "select setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) from {table}"
                ))
                .execute(&mut *target)
                .await?;
            }
        }
    }
    target.commit().await?;
    source.rollback().await?;
    Ok(report)
}

/// Copies one table; a column that refers to the table's own rows (a parent, a master case) is
/// filled in after every row is there.
async fn copy_table(
    source: &mut Transaction<'_, Any>,
    target: &mut Transaction<'_, Any>,
    backend: Backend,
    table: &str,
    self_references: &[String],
    drop_nul: bool,
) -> Result<(u64, u64)> {
    let select = format!("select * from {table} order by 1");
    let mut rows = sqlx::query(&select).fetch(&mut **source);
    let mut batch: Vec<Vec<Value>> = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    let mut deferred: Vec<(String, Value, Value)> = Vec::new();
    let (mut copied, mut dropped) = (0, 0);
    while let Some(row) = rows.try_next().await? {
        if columns.is_empty() {
            columns = row.columns().iter().map(|c| sqlx::Column::name(c).to_string()).collect();
        }
        let mut values = read_row(&row)?;
        if drop_nul {
            for value in &mut values {
                if let Value::Text(text) = value {
                    let before = text.len();
                    text.retain(|c| c != '\0');
                    dropped += (before - text.len()) as u64;
                }
            }
        }
        for column in self_references {
            let (Some(at), Some(id_at)) =
                (columns.iter().position(|c| c == column), columns.iter().position(|c| c == "id"))
            else {
                continue;
            };
            let value = std::mem::replace(&mut values[at], Value::Null);
            if !matches!(value, Value::Null) {
                deferred.push((column.clone(), value, values[id_at].clone()));
            }
        }
        batch.push(values);
        copied += 1;
        if batch.len() * columns.len() >= PARAMETERS_PER_STATEMENT {
            insert_rows(target, backend, table, &columns, std::mem::take(&mut batch)).await?;
        }
    }
    drop(rows);
    if !batch.is_empty() {
        insert_rows(target, backend, table, &columns, batch).await?;
    }
    for (column, value, id) in deferred {
        let statement = format!("update {table} set {column} = $1 where id = $2");
        bind(bind(sqlx::query(&statement), value), id).execute(&mut **target).await?;
    }
    Ok((copied, dropped))
}

/// One multi-row insert; nulls are written as such, so that no engine has to guess their type.
async fn insert_rows(
    target: &mut Transaction<'_, Any>,
    backend: Backend,
    table: &str,
    columns: &[String],
    rows: Vec<Vec<Value>>,
) -> Result<()> {
    let mut text = format!("insert into {table} ({}) values ", columns.join(", "));
    let mut n = 0;
    for (i, row) in rows.iter().enumerate() {
        text.push_str(if i == 0 { "(" } else { ", (" });
        for (j, value) in row.iter().enumerate() {
            if j > 0 {
                text.push_str(", ");
            }
            if matches!(value, Value::Null) {
                text.push_str("null");
            } else {
                n += 1;
                // SQLite looks numbered placeholders up by name, at a cost that grows with the square
                // of their number; anonymous ones, each used once in order, bind by position.
                match backend {
                    Backend::Sqlite => text.push('?'),
                    Backend::Postgres => text.push_str(&format!("${n}")),
                }
            }
        }
        text.push(')');
    }
    let mut query = sqlx::query(&text);
    for value in rows.into_iter().flatten().filter(|v| !matches!(v, Value::Null)) {
        query = bind(query, value);
    }
    query.execute(&mut **target).await?;
    Ok(())
}

fn bind<'q>(query: AnyQuery<'q>, value: Value) -> AnyQuery<'q> {
    match value {
        Value::Null => query.bind(Option::<i64>::None),
        Value::Int(v) => query.bind(v),
        Value::Real(v) => query.bind(v),
        Value::Text(v) => query.bind(v),
        Value::Blob(v) => query.bind(v),
    }
}

/// The values of a row, whatever their types.
fn read_row(row: &AnyRow) -> Result<Vec<Value>> {
    (0..row.columns().len())
        .map(|i| {
            if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                return Ok(v.map_or(Value::Null, Value::Int));
            }
            if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
                return Ok(v.map_or(Value::Null, Value::Real));
            }
            if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                return Ok(v.map_or(Value::Null, Value::Text));
            }
            Ok(row.try_get::<Option<Vec<u8>>, _>(i)?.map_or(Value::Null, Value::Blob))
        })
        .collect()
}

/// The newest migration applied.
async fn schema_version(store: &Store) -> Result<i64> {
    Ok(sqlx::query("select coalesce(max(version), 0) from _sqlx_migrations where success")
        .fetch_one(store.reader())
        .await?
        .try_get(0)?)
}

/// The platform's tables of a SQLite database, in the order they were created.
async fn tables_in_creation_order(file: &Store) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' \
         and name not like '_sqlx%' order by rowid",
    )
    .fetch_all(file.reader())
    .await?;
    rows.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect()
}

/// The columns of `table` that refer to the table itself, from the SQLite side's declarations.
async fn self_references(file: &Store, table: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(&format!("select \"table\", \"from\" from pragma_foreign_key_list('{table}')"))
        .fetch_all(file.reader())
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            let (to, from): (String, String) = (r.try_get(0).ok()?, r.try_get(1).ok()?);
            (to == table).then_some(from)
        })
        .collect())
}
