//! What the property tests compare before and after a refused request: the
//! whole SQLite file as text, so "nothing stored" means every row of every
//! table, not the tables a test happens to know.

use std::path::Path;

/// Every row of every table of the database at `path`, one line each
/// (`table: col col …`), sorted within each table.
pub fn snapshot(path: &Path) -> Vec<String> {
    let db = rusqlite::Connection::open(path).expect("open db");
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .expect("list tables")
        .query_map([], |row| row.get(0))
        .expect("query tables")
        .collect::<Result<_, _>>()
        .expect("table names");
    let mut rows = Vec::new();
    for table in tables {
        let mut statement = db
            .prepare(&format!("SELECT * FROM \"{table}\""))
            .expect("select table");
        let columns = statement.column_count();
        let mut table_rows: Vec<String> = statement
            .query_map([], |row| {
                let mut line = format!("{table}:");
                for column in 0..columns {
                    line.push(' ');
                    line.push_str(&render(row.get_ref(column)?));
                }
                Ok(line)
            })
            .expect("query rows")
            .collect::<Result<_, _>>()
            .expect("rows");
        table_rows.sort();
        rows.extend(table_rows);
    }
    rows
}

/// A column value as text; strings as they are, so tests can look for an id.
pub fn render(value: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(text) => String::from_utf8_lossy(text).into_owned(),
        ValueRef::Blob(blob) => blob.iter().map(|b| format!("{b:02x}")).collect(),
    }
}
