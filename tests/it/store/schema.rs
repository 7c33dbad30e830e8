//! Both backends build the same schema: the same tables, columns,
//! nullability, keys and indexes, read back from each database's own
//! catalogue after migrating a fresh one. Types are compared as SQLite
//! stores them (a `TIMESTAMPTZ` is RFC 3339 `TEXT` there, a `BOOLEAN` an
//! `INTEGER`), indexes by their columns rather than their names.

use std::collections::BTreeSet;

use recplan::store::DB_FILE;

use super::Place;
use super::place::Schema;

/// One table as the comparison sees it.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Table {
    name: String,
    /// In order: name, normalised type, nullable.
    columns: Vec<(String, String, bool)>,
    primary_key: Vec<String>,
    /// Every other index, with whether it is unique and partial.
    indexes: BTreeSet<Index>,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Index {
    columns: Vec<String>,
    unique: bool,
    partial: bool,
}

/// What an index on an expression lists for that column.
const EXPRESSION: &str = "(expression)";

#[tokio::test]
#[ignore = "needs RECPLAN_TEST_POSTGRES: a PostgreSQL database to create schemas in (.ci/run starts one)"]
async fn both_backends_migrate_to_the_same_schema() {
    let Place::Postgres(schema) = Place::postgres() else {
        unreachable!("a PostgreSQL place")
    };
    let sqlite = Place::sqlite();
    drop(sqlite.open().await);
    drop(recplan::store::Store::open_url(&schema.url).await.unwrap());
    let Place::Sqlite(dir) = &sqlite else {
        unreachable!("a SQLite place")
    };

    let lite = sqlite_tables(&dir.path().join(DB_FILE));
    let pg = postgres_tables(&schema);
    assert_eq!(
        lite.iter().map(|table| &table.name).collect::<Vec<_>>(),
        pg.iter().map(|table| &table.name).collect::<Vec<_>>(),
        "tables"
    );
    let differences: Vec<String> = lite
        .iter()
        .zip(&pg)
        .filter(|(lite, pg)| lite != pg)
        .map(|(lite, pg)| format!("SQLite:     {lite:?}\nPostgreSQL: {pg:?}"))
        .collect();
    assert!(differences.is_empty(), "{}", differences.join("\n\n"));
}

fn sqlite_tables(path: &std::path::Path) -> Vec<Table> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    names
        .into_iter()
        .filter(|name| !name.starts_with("sqlite_"))
        .map(|name| sqlite_table(&conn, name))
        .collect()
}

fn sqlite_table(conn: &rusqlite::Connection, name: String) -> Table {
    // (name, declared type, not null, position in the primary key)
    let info: Vec<(String, String, bool, u32)> = four_columns(
        conn,
        "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid",
        &name,
    );
    let mut primary_key: Vec<(u32, String)> = info
        .iter()
        .filter(|column| column.3 > 0)
        .map(|column| (column.3, column.0.clone()))
        .collect();
    primary_key.sort();
    let columns = info
        .iter()
        .map(|(column, kind, not_null, pk)| {
            // An INTEGER PRIMARY KEY is the rowid, which is never NULL
            // whatever the pragma says; any other key column may be.
            let rowid = *pk > 0 && kind.eq_ignore_ascii_case("INTEGER");
            (column.clone(), kind.to_lowercase(), !(*not_null || rowid))
        })
        .collect();
    // (index name, unique, origin, partial)
    let listed: Vec<(String, bool, String, bool)> = four_columns(
        conn,
        "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1)",
        &name,
    );
    let indexes = listed
        .into_iter()
        .filter(|(_, _, origin, _)| origin != "pk")
        .map(|(index, unique, _, partial)| {
            let columns = conn
                .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
                .unwrap()
                .query_map([&index], |row| row.get::<_, Option<String>>(0))
                .unwrap()
                .map(|column| column.unwrap().unwrap_or_else(|| EXPRESSION.to_owned()))
                .collect();
            Index {
                columns,
                unique,
                partial,
            }
        })
        .collect();
    Table {
        name,
        columns,
        primary_key: primary_key.into_iter().map(|(_, column)| column).collect(),
        indexes,
    }
}

/// The rows of a pragma about `name` with four columns.
fn four_columns<A, B, C, D>(conn: &rusqlite::Connection, sql: &str, name: &str) -> Vec<(A, B, C, D)>
where
    A: rusqlite::types::FromSql,
    B: rusqlite::types::FromSql,
    C: rusqlite::types::FromSql,
    D: rusqlite::types::FromSql,
{
    conn.prepare(sql)
        .unwrap()
        .query_map([name], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn postgres_tables(schema: &Schema) -> Vec<Table> {
    // recplan_meta holds what SQLite keeps in its header (the schema
    // version and the application's mark).
    let names: Vec<String> = rows(
        schema,
        "SELECT table_name FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_name <> 'recplan_meta'
         ORDER BY table_name",
    );
    names
        .into_iter()
        .map(|name| postgres_table(schema, name))
        .collect()
}

fn postgres_table(schema: &Schema, name: String) -> Table {
    let columns = rows(
        schema,
        &format!(
            "SELECT column_name || '|' || data_type || '|' || is_nullable
             FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = '{name}'
             ORDER BY ordinal_position"
        ),
    )
    .into_iter()
    .map(|row| {
        let [column, kind, nullable] = fields(&row);
        (column, stored_as(&kind).to_owned(), nullable == "YES")
    })
    .collect();
    let primary_key = rows(
        schema,
        &format!(
            "SELECT k.column_name FROM information_schema.table_constraints c
             JOIN information_schema.key_column_usage k
                 ON k.constraint_schema = c.constraint_schema
                 AND k.constraint_name = c.constraint_name
             WHERE c.table_schema = current_schema() AND c.table_name = '{name}'
                 AND c.constraint_type = 'PRIMARY KEY'
             ORDER BY k.ordinal_position"
        ),
    );
    let indexes = rows(
        schema,
        &format!(
            "SELECT i.indisunique || '|' || (i.indpred IS NOT NULL) || '|' || array_to_string(
                 ARRAY(SELECT coalesce(a.attname::text, '{EXPRESSION}')
                       FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k (attnum, n)
                       LEFT JOIN pg_attribute a
                           ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                       ORDER BY k.n),
                 ',')
             FROM pg_index i
             WHERE i.indrelid = '{name}'::regclass AND NOT i.indisprimary"
        ),
    )
    .into_iter()
    .map(|row| {
        let [unique, partial, columns] = fields(&row);
        Index {
            columns: columns.split(',').map(str::to_owned).collect(),
            unique: unique == "true",
            partial: partial == "true",
        }
    })
    .collect();
    Table {
        name,
        columns,
        primary_key,
        indexes,
    }
}

/// How SQLite stores a value of a PostgreSQL type, as recplan writes it.
fn stored_as(kind: &str) -> &str {
    match kind {
        "bigint" | "integer" | "boolean" => "integer",
        "text" | "timestamp with time zone" => "text",
        other => panic!("a PostgreSQL type recplan does not use: {other}"),
    }
}

fn rows(schema: &Schema, sql: &str) -> Vec<String> {
    schema
        .query(sql)
        .unwrap()
        .into_iter()
        .map(|row| row.expect("not NULL"))
        .collect()
}

fn fields<const N: usize>(row: &str) -> [String; N] {
    let fields: Vec<String> = row.split('|').map(str::to_owned).collect();
    fields.try_into().unwrap_or_else(|row| panic!("{row:?}"))
}
