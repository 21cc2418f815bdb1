//! Reads a migrated PostgreSQL database into a [`Schema`] from `pg_catalog` (columns, keys,
//! indexes, constraints) and `information_schema.triggers`: our tables and views in `public`,
//! and our indexes on apalis's `apalis.jobs`.

use sqlx::PgPool;

use super::{
    model::{self, Kind, Schema, Table},
    sql_text,
};

pub async fn read(pool: &PgPool) -> Schema {
    let objects: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, c.relkind::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("lists PostgreSQL tables");
    let mut schema = Schema::new();
    for (name, kind) in objects {
        if name == model::MIGRATIONS_TABLE {
            continue;
        }
        let table = match kind.as_str() {
            "v" | "m" => Table::new(Kind::View),
            _ => read_table(pool, &name).await,
        };
        schema.insert(name, table);
    }
    let jobs = model::jobs_table(indexes(pool, "apalis.jobs").await);
    schema.insert(model::JOBS_TABLE.to_owned(), jobs);
    schema
}

async fn read_table(pool: &PgPool, name: &str) -> Table {
    let relation = format!("public.{name}");
    let mut table = Table::new(Kind::Table);
    let rows: Vec<(String, String, bool, Option<String>, String)> = sqlx::query_as(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull, \
                pg_get_expr(d.adbin, d.adrelid), a.attidentity::text \
         FROM pg_attribute a \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum",
    )
    .bind(&relation)
    .fetch_all(pool)
    .await
    .expect("reads PostgreSQL columns");
    for (column, ty, not_null, default, identity) in rows {
        let (ty, default) = generated(ty, default, &identity);
        table.add_column(column, ty, not_null, default);
    }
    table.primary_key = sqlx::query_scalar(
        "SELECT a.attname::text FROM pg_index i \
         CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
         WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY k.ord",
    )
    .bind(&relation)
    .fetch_all(pool)
    .await
    .expect("reads a PostgreSQL primary key");
    table
        .facts
        .extend(indexes(pool, &relation).await.into_iter().map(|(_, f)| f));
    table.facts.extend(constraints(pool, &relation).await);
    table.facts.extend(triggers(pool, name).await);
    table
}

/// A column filled from a sequence is `bigserial`/`serial` with no default; an identity column
/// says so in its type.
fn generated(ty: String, default: Option<String>, identity: &str) -> (String, Option<String>) {
    match (default, identity) {
        (Some(d), _) if d.starts_with("nextval(") => {
            let serial = match ty.as_str() {
                "bigint" => "bigserial".to_owned(),
                "integer" => "serial".to_owned(),
                other => format!("{other} from a sequence"),
            };
            (serial, None)
        }
        (default, "a" | "d") => (format!("{ty} generated as identity"), default),
        (default, _) => (ty, default.map(without_casts)),
    }
}

/// `'x'::text` → `'x'`, `0` → `0`: SQLite's defaults carry no casts.
fn without_casts(default: String) -> String {
    match default.find("::") {
        Some(at) if !default[at..].contains(['(', ')', '\'']) => default[..at].to_owned(),
        _ => default,
    }
}

#[derive(sqlx::FromRow)]
struct IndexRow {
    name: String,
    is_unique: bool,
    keys: Vec<String>,
    included: Vec<String>,
    predicate: Option<String>,
}

/// Every index but the primary key's, as (name, fact).
async fn indexes(pool: &PgPool, relation: &str) -> Vec<(String, String)> {
    let columns = column_names(pool, relation).await;
    let rows: Vec<IndexRow> = sqlx::query_as(
        "SELECT ic.relname::text AS name, i.indisunique AS is_unique, \
            ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) \
                      || CASE WHEN i.indoption[k - 1] & 1 = 1 THEN ' DESC' ELSE '' END \
                  FROM generate_series(1, i.indnkeyatts) k ORDER BY k) AS keys, \
            ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) \
                  FROM generate_series(i.indnkeyatts + 1, i.indnatts) k ORDER BY k) AS included, \
            pg_get_expr(i.indpred, i.indrelid) AS predicate \
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid \
         WHERE i.indrelid = $1::regclass AND NOT i.indisprimary",
    )
    .bind(relation)
    .fetch_all(pool)
    .await
    .expect("reads PostgreSQL indexes");
    rows.into_iter()
        .map(|i| {
            let predicate = i
                .predicate
                .map(|p| sql_text::expression_summary(&sql_text::tokens(&p), &columns));
            let fact = model::index_fact(i.is_unique, &i.keys, &i.included, predicate);
            (i.name, fact)
        })
        .collect()
}

async fn column_names(pool: &PgPool, relation: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT attname::text FROM pg_attribute \
         WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    )
    .bind(relation)
    .fetch_all(pool)
    .await
    .expect("reads PostgreSQL column names")
}

/// Foreign keys and CHECK constraints (unique ones are read with the indexes).
async fn constraints(pool: &PgPool, relation: &str) -> Vec<String> {
    let columns = column_names(pool, relation).await;
    let attnames = |key: &str, table: &str| {
        format!(
            "ARRAY(SELECT a.attname::text FROM unnest(c.{key}) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = c.{table} AND a.attnum = k.attnum ORDER BY k.ord)"
        )
    };
    let sql = format!(
        "SELECT c.contype::text, {}, {}, c.confrelid::regclass::text, \
                c.confupdtype::text, c.confdeltype::text, pg_get_constraintdef(c.oid) \
         FROM pg_constraint c WHERE c.conrelid = $1::regclass AND c.contype IN ('f', 'c')",
        attnames("conkey", "conrelid"),
        attnames("confkey", "confrelid"),
    );
    type Row = (
        String,
        Vec<String>,
        Vec<String>,
        String,
        String,
        String,
        String,
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(relation)
        .fetch_all(pool)
        .await
        .expect("reads PostgreSQL constraints");
    rows.into_iter()
        .map(
            |(kind, from, to, target, on_update, on_delete, definition)| match kind.as_str() {
                "f" => model::foreign_key_fact(
                    &from,
                    &target,
                    &to,
                    action(&on_update),
                    action(&on_delete),
                ),
                _ => format!(
                    "check {}",
                    sql_text::expression_summary(&sql_text::tokens(&definition), &columns)
                ),
            },
        )
        .collect()
}

/// `pg_constraint`'s one-letter referential actions in SQLite's words.
fn action(code: &str) -> &'static str {
    match code {
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        _ => "NO ACTION",
    }
}

/// One fact per trigger event (a trigger `AFTER INSERT OR DELETE` gives two).
async fn triggers(pool: &PgPool, table: &str) -> Vec<String> {
    let rows: Vec<(String, String, String, Vec<String>)> = sqlx::query_as(
        "SELECT t.action_timing::text, t.event_manipulation::text, t.action_orientation::text, \
            ARRAY(SELECT u.event_object_column::text \
                  FROM information_schema.triggered_update_columns u \
                  WHERE u.trigger_schema = t.trigger_schema AND u.trigger_name = t.trigger_name \
                    AND u.event_object_table = t.event_object_table) \
         FROM information_schema.triggers t \
         WHERE t.event_object_schema = 'public' AND t.event_object_table = $1",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("reads PostgreSQL triggers");
    rows.into_iter()
        .map(|(timing, event, orientation, columns)| {
            let columns = if event == "UPDATE" {
                columns
            } else {
                Vec::new()
            };
            let fact = model::trigger_fact(&timing, &event, columns);
            // SQLite has row triggers only.
            match orientation.as_str() {
                "STATEMENT" => format!("{fact} per statement"),
                _ => fact,
            }
        })
        .collect()
}
