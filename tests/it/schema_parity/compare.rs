//! Compares the SQLite and the PostgreSQL [`Schema`]: every difference is one
//! [`Difference`], named by a key such as `agreements.anchor_date type` or
//! `messages unique (in_reply_to, outcome)` that [`super::known`] can list as on purpose.

use std::{collections::BTreeSet, fmt};

use super::{
    known,
    model::{Column, Kind, Schema, Table, column_list},
};

#[derive(Debug, PartialEq)]
pub struct Difference {
    /// What differs: `table`, `table.column`, `table.column type`, `table <fact>`.
    pub key: String,
    pub sqlite: String,
    pub postgres: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: sqlite {} vs postgres {}",
            self.key, self.sqlite, self.postgres
        )
    }
}

const ABSENT: &str = "(absent)";

fn differ(key: String, sqlite: impl Into<String>, postgres: impl Into<String>) -> Difference {
    Difference {
        key,
        sqlite: sqlite.into(),
        postgres: postgres.into(),
    }
}

pub fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<Difference> {
    let mut out = Vec::new();
    for name in sqlite
        .keys()
        .chain(postgres.keys())
        .collect::<BTreeSet<_>>()
    {
        match (sqlite.get(name), postgres.get(name)) {
            (Some(s), Some(p)) if s.kind == p.kind => compare_tables(name, s, p, &mut out),
            (s, p) => out.push(differ(name.clone(), kind(s), kind(p))),
        }
    }
    out
}

fn kind(table: Option<&Table>) -> &'static str {
    match table.map(|t| t.kind) {
        Some(Kind::Table) => "table",
        Some(Kind::View) => "view",
        None => ABSENT,
    }
}

fn compare_tables(name: &str, sqlite: &Table, postgres: &Table, out: &mut Vec<Difference>) {
    let columns: BTreeSet<&String> = sqlite
        .columns
        .keys()
        .chain(postgres.columns.keys())
        .collect();
    for column in columns {
        let key = format!("{name}.{column}");
        match (sqlite.columns.get(column), postgres.columns.get(column)) {
            (Some(s), Some(p)) => compare_columns(&key, s, p, out),
            (s, p) => out.push(differ(key, describe(s), describe(p))),
        }
    }
    if sqlite.primary_key != postgres.primary_key {
        out.push(differ(
            format!("{name} primary key"),
            column_list(&sqlite.primary_key),
            column_list(&postgres.primary_key),
        ));
    }
    for fact in sqlite.facts.symmetric_difference(&postgres.facts) {
        let present = |table: &Table| match table.facts.contains(fact) {
            true => "present",
            false => ABSENT,
        };
        out.push(differ(
            format!("{name} {fact}"),
            present(sqlite),
            present(postgres),
        ));
    }
}

fn describe(column: Option<&Column>) -> String {
    column.map_or(ABSENT.to_owned(), |c| {
        format!("{} {}", c.ty, c.nullability())
    })
}

fn compare_columns(key: &str, sqlite: &Column, postgres: &Column, out: &mut Vec<Difference>) {
    if known::type_pair(&sqlite.ty, &postgres.ty).is_none() {
        out.push(differ(
            format!("{key} type"),
            &sqlite.ty,
            format!("{} (not a pair in known::TYPES)", postgres.ty),
        ));
    }
    if sqlite.not_null != postgres.not_null {
        out.push(differ(
            format!("{key} nullability"),
            sqlite.nullability(),
            postgres.nullability(),
        ));
    }
    if sqlite.default != postgres.default {
        let shown = |d: &Option<String>| d.clone().unwrap_or_else(|| "(no default)".to_owned());
        out.push(differ(
            format!("{key} default"),
            shown(&sqlite.default),
            shown(&postgres.default),
        ));
    }
}

/// SQLite columns whose type is in no row of [`known::TYPES`]: checked on every run, so that
/// a new type is mapped (or refused) before the PostgreSQL run sees it.
pub fn unmapped_sqlite_types(sqlite: &Schema) -> Vec<String> {
    sqlite
        .iter()
        .flat_map(|(table, t)| t.columns.iter().map(move |(column, c)| (table, column, c)))
        .filter(|(_, _, c)| !known::TYPES.iter().any(|pair| pair.sqlite == c.ty))
        .map(|(table, column, c)| {
            format!(
                "{table}.{column}: sqlite type {} has no row in known::TYPES",
                c.ty
            )
        })
        .collect()
}
