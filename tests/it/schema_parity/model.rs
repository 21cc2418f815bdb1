//! One engine's schema as the comparison sees it: per table its columns (in that engine's own
//! type names), its primary key, and every other property as one line of text ("unique (a, b)",
//! "foreign key (a) references t (id)", "check on (a) values (100)", "trigger AFTER DELETE").
//! Each engine's reader (`sqlite.rs`, `postgres.rs`) fills it; `compare.rs` compares two.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Table,
    View,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// The engine's own spelling: SQLite's declared type in capitals (`BIGINT`), or
    /// PostgreSQL's `format_type` (`bigint`, `character varying(20)`). A generated id is
    /// `INTEGER PRIMARY KEY AUTOINCREMENT` / `bigserial`.
    pub ty: String,
    pub not_null: bool,
    /// The default as the engine prints it, without PostgreSQL's `::type` casts.
    pub default: Option<String>,
}

impl Column {
    pub fn nullability(&self) -> &'static str {
        if self.not_null { "not null" } else { "null" }
    }
}

#[derive(Clone, Debug)]
pub struct Table {
    pub kind: Kind,
    pub columns: BTreeMap<String, Column>,
    pub primary_key: Vec<String>,
    /// Unique and other indexes, foreign keys, checks and triggers, one line each.
    pub facts: BTreeSet<String>,
}

impl Table {
    pub fn new(kind: Kind) -> Self {
        Table {
            kind,
            columns: BTreeMap::new(),
            primary_key: Vec::new(),
            facts: BTreeSet::new(),
        }
    }

    pub fn add_column(
        &mut self,
        name: String,
        ty: String,
        not_null: bool,
        default: Option<String>,
    ) {
        let column = Column {
            ty,
            not_null,
            default,
        };
        self.columns.insert(name, column);
    }
}

/// Tables and views by name, and apalis's job table as [`JOBS_TABLE`].
pub type Schema = BTreeMap<String, Table>;

/// Our migration log, not part of the schema it records.
pub const MIGRATIONS_TABLE: &str = "_dialogpay_migrations";
/// apalis's job table (SQLite `Jobs`) under one name for both engines.
pub const JOBS_TABLE: &str = "apalis.jobs";

/// apalis's job table as far as it is ours: our `dialogpay_*` indexes on it, from (name, fact).
pub fn jobs_table(indexes: Vec<(String, String)>) -> Table {
    let mut jobs = Table::new(Kind::Table);
    jobs.facts = indexes
        .into_iter()
        .filter(|(name, _)| name.starts_with("dialogpay_"))
        .map(|(_, fact)| fact)
        .collect();
    jobs
}

pub fn column_list(columns: &[String]) -> String {
    format!("({})", columns.join(", "))
}

/// The schema as lines, one property each, by table: the snapshot's format, so that a change
/// shows as the lines it adds and removes.
pub fn lines(schema: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    for (name, table) in schema {
        let kind = match table.kind {
            Kind::Table => "table",
            Kind::View => "view",
        };
        out.push(format!("{name}: {kind}"));
        for (column, c) in &table.columns {
            let default = c.default.as_ref().map(|d| format!(" default {d}"));
            out.push(format!(
                "{name}.{column}: {} {}{}",
                c.ty,
                c.nullability(),
                default.unwrap_or_default()
            ));
        }
        if !table.primary_key.is_empty() {
            out.push(format!(
                "{name} primary key {}",
                column_list(&table.primary_key)
            ));
        }
        out.extend(table.facts.iter().map(|fact| format!("{name} {fact}")));
    }
    out
}

/// An index as a fact line: `unique (a, b)` or `index (a) where on (b) values ('x')`.
pub fn index_fact(
    unique: bool,
    keys: &[String],
    included: &[String],
    predicate: Option<String>,
) -> String {
    let mut fact = format!(
        "{} {}",
        if unique { "unique" } else { "index" },
        column_list(keys)
    );
    if !included.is_empty() {
        fact += &format!(" include {}", column_list(included));
    }
    if let Some(predicate) = predicate {
        fact += &format!(" where {predicate}");
    }
    fact
}

/// A foreign key as a fact line; the actions are named only when they are not NO ACTION.
pub fn foreign_key_fact(
    columns: &[String],
    target: &str,
    target_columns: &[String],
    on_update: &str,
    on_delete: &str,
) -> String {
    let mut fact = format!(
        "foreign key {} references {target} {}",
        column_list(columns),
        column_list(target_columns)
    );
    for (event, action) in [("update", on_update), ("delete", on_delete)] {
        if action != "NO ACTION" {
            fact += &format!(" on {event} {action}");
        }
    }
    fact
}

/// A trigger event as a fact line: `trigger AFTER UPDATE OF (a, b)`; one line per event, so
/// that one PostgreSQL trigger `AFTER INSERT OR DELETE` equals two SQLite triggers.
pub fn trigger_fact(timing: &str, event: &str, mut update_columns: Vec<String>) -> String {
    let mut fact = format!("trigger {} {}", timing.to_uppercase(), event.to_uppercase());
    if !update_columns.is_empty() {
        update_columns.sort();
        fact += &format!(" OF {}", column_list(&update_columns));
    }
    fact
}
