//! Reads a migrated SQLite database into a [`Schema`]: columns, keys and indexes from the
//! `pragma_*` table functions; CHECK constraints, partial-index predicates and trigger events
//! from the `CREATE` text in `sqlite_master` (SQLite keeps no catalogue of them).

use sqlx::SqlitePool;

use super::{
    model::{self, Kind, Schema, Table},
    sql_text::{self, Token},
};

/// Tables in the SQLite file that are not ours: apalis's job tables and their migration log.
const APALIS_TABLES: &[&str] = &["Jobs", "Workers", "_sqlx_migrations"];

pub async fn read(pool: &SqlitePool) -> Schema {
    let objects: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT name, type, sql FROM sqlite_master \
         WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .expect("lists SQLite tables");
    let mut schema = Schema::new();
    for (name, kind, sql) in objects {
        if APALIS_TABLES.contains(&name.as_str()) || name == model::MIGRATIONS_TABLE {
            continue;
        }
        let table = if kind == "view" {
            Table::new(Kind::View)
        } else {
            read_table(pool, &name, &sql).await
        };
        schema.insert(name, table);
    }
    let jobs = model::jobs_table(indexes(pool, "Jobs").await);
    schema.insert(model::JOBS_TABLE.to_owned(), jobs);
    schema
}

async fn read_table(pool: &SqlitePool, name: &str, sql: &str) -> Table {
    let mut table = Table::new(Kind::Table);
    let rows: Vec<(String, String, bool, Option<String>, i64)> = sqlx::query_as(
        "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info($1) ORDER BY cid",
    )
    .bind(name)
    .fetch_all(pool)
    .await
    .expect("reads SQLite columns");
    table.primary_key = column_names(pool, name).await.1;
    let create = sql_text::tokens(sql);
    // `INTEGER PRIMARY KEY` alone makes the column the rowid: generated, 64-bit, never NULL.
    let rowid = match table.primary_key.as_slice() {
        [only]
            if rows
                .iter()
                .any(|r| &r.0 == only && r.1.eq_ignore_ascii_case("INTEGER")) =>
        {
            Some(only.clone())
        }
        _ => None,
    };
    for (column, ty, not_null, default, _) in rows {
        let column_is_rowid = rowid.as_ref() == Some(&column);
        let ty = match column_is_rowid {
            true if create.iter().any(|t| t.is_word("AUTOINCREMENT")) => {
                "INTEGER PRIMARY KEY AUTOINCREMENT".to_owned()
            }
            true => "INTEGER PRIMARY KEY".to_owned(),
            false => ty.to_uppercase(),
        };
        let not_null = not_null || column_is_rowid;
        table.add_column(column, ty, not_null, default);
    }
    let columns: Vec<String> = table.columns.keys().cloned().collect();
    table
        .facts
        .extend(indexes(pool, name).await.into_iter().map(|(_, f)| f));
    table.facts.extend(foreign_keys(pool, name).await);
    table.facts.extend(checks(&create, &columns));
    table.facts.extend(triggers(pool, name).await);
    table
}

/// Every index but the primary key's, as (name, fact).
async fn indexes(pool: &SqlitePool, table: &str) -> Vec<(String, String)> {
    let (columns, _) = column_names(pool, table).await;
    let list: Vec<(String, bool, String, bool)> = sqlx::query_as(
        "SELECT name, \"unique\", origin, partial FROM pragma_index_list($1) WHERE origin != 'pk'",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("lists SQLite indexes");
    let mut out = Vec::new();
    for (name, unique, _origin, partial) in list {
        let keys: Vec<(Option<String>, bool)> = sqlx::query_as(
            "SELECT name, \"desc\" FROM pragma_index_xinfo($1) WHERE key ORDER BY seqno",
        )
        .bind(&name)
        .fetch_all(pool)
        .await
        .expect("reads SQLite index columns");
        let keys: Vec<String> = keys
            .into_iter()
            .map(|(column, desc)| {
                let column = column.unwrap_or_else(|| "<expression>".to_owned());
                if desc {
                    format!("{column} DESC")
                } else {
                    column
                }
            })
            .collect();
        let predicate = match partial {
            true => Some(index_predicate(pool, &name, &columns).await),
            false => None,
        };
        out.push((name, model::index_fact(unique, &keys, &[], predicate)));
    }
    out
}

/// A partial index's WHERE clause, summarised as [`sql_text::expression_summary`] does.
async fn index_predicate(pool: &SqlitePool, index: &str, columns: &[String]) -> String {
    let sql: String = sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = $1")
        .bind(index)
        .fetch_one(pool)
        .await
        .expect("reads the index's CREATE statement");
    let tokens = sql_text::tokens(&sql);
    let mut depth = 0;
    let start = tokens.iter().position(|t| {
        match t {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => depth -= 1,
            _ => {}
        }
        depth == 0 && t.is_word("WHERE")
    });
    let predicate = start.map_or(&[][..], |at| &tokens[at + 1..]);
    sql_text::expression_summary(predicate, columns)
}

async fn foreign_keys(pool: &SqlitePool, table: &str) -> Vec<String> {
    let rows: Vec<(i64, String, String, Option<String>, String, String)> = sqlx::query_as(
        "SELECT id, \"table\", \"from\", \"to\", on_update, on_delete \
         FROM pragma_foreign_key_list($1) ORDER BY id, seq",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("reads SQLite foreign keys");
    let mut out = Vec::new();
    for id in rows
        .iter()
        .map(|r| r.0)
        .collect::<std::collections::BTreeSet<_>>()
    {
        let key: Vec<_> = rows.iter().filter(|r| r.0 == id).collect();
        let (_, target, _, _, on_update, on_delete) = key[0];
        let from: Vec<String> = key.iter().map(|r| r.2.clone()).collect();
        let mut to: Vec<String> = key.iter().filter_map(|r| r.3.clone()).collect();
        if to.is_empty() {
            // `REFERENCES t` without columns means t's primary key.
            to = column_names(pool, target).await.1;
        }
        out.push(model::foreign_key_fact(
            &from, target, &to, on_update, on_delete,
        ));
    }
    out
}

/// The table's column names in order, and its primary key's columns in key order.
async fn column_names(pool: &SqlitePool, table: &str) -> (Vec<String>, Vec<String>) {
    let mut rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, pk FROM pragma_table_info($1) ORDER BY cid")
            .bind(table)
            .fetch_all(pool)
            .await
            .expect("reads SQLite column names");
    let names = rows.iter().map(|(name, _)| name.clone()).collect();
    rows.retain(|(_, pk)| *pk > 0);
    rows.sort_by_key(|(_, pk)| *pk);
    (names, rows.into_iter().map(|(name, _)| name).collect())
}

/// The CHECK constraints in a `CREATE TABLE` statement (column or table constraints alike).
fn checks(create: &[Token], columns: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (at, token) in create.iter().enumerate() {
        if token.is_word("CHECK") && create.get(at + 1) == Some(&Token::Punct('(')) {
            let (expression, _) = sql_text::parenthesised(create, at + 1);
            out.push(format!(
                "check {}",
                sql_text::expression_summary(expression, columns)
            ));
        }
    }
    out
}

/// One fact per trigger on the table: `CREATE TRIGGER name [BEFORE|AFTER|INSTEAD OF]
/// (INSERT|DELETE|UPDATE [OF a, b]) ON table …`.
async fn triggers(pool: &SqlitePool, table: &str) -> Vec<String> {
    let sqls: Vec<String> = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = $1",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("lists SQLite triggers");
    sqls.iter()
        .map(|sql| trigger_event(&sql_text::tokens(sql)))
        .collect()
}

fn trigger_event(create: &[Token]) -> String {
    let on = create
        .iter()
        .position(|t| t.is_word("ON"))
        .expect("a trigger names its table");
    let header = &create[..on];
    let timing = if header.iter().any(|t| t.is_word("INSTEAD")) {
        "INSTEAD OF"
    } else if header.iter().any(|t| t.is_word("AFTER")) {
        "AFTER"
    } else {
        "BEFORE"
    };
    let (at, event) = header
        .iter()
        .enumerate()
        .find_map(|(at, t)| {
            ["INSERT", "DELETE", "UPDATE"]
                .into_iter()
                .find(|event| t.is_word(event))
                .map(|event| (at, event))
        })
        .expect("a trigger names its event");
    let columns = header[at + 1..]
        .iter()
        .skip_while(|t| t.is_word("OF"))
        .filter_map(|t| match t {
            Token::Word(w) => Some(w.clone()),
            _ => None,
        })
        .collect();
    model::trigger_fact(timing, event, columns)
}

#[test]
fn a_trigger_header_gives_its_timing_event_and_columns() {
    let sql = "CREATE TRIGGER t_upd AFTER UPDATE OF b, a ON t WHEN OLD.a IS NOT NEW.a BEGIN END";
    assert_eq!(
        trigger_event(&sql_text::tokens(sql)),
        "trigger AFTER UPDATE OF (a, b)"
    );
    let sql = "CREATE TRIGGER t_ins INSERT ON t BEGIN SELECT 1; END";
    assert_eq!(
        trigger_event(&sql_text::tokens(sql)),
        "trigger BEFORE INSERT"
    );
}
