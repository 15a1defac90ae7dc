//! Importing people by the thousand from the province's directory: a CSV file
//! `username,full_name,role,unit,email,phone` (UTF-8 with or without a BOM, comma or
//! semicolon), each row creating or updating one person — never with a password.
//!
//! A row that breaks a rule is refused with its line number and reason and nothing of it is
//! written; the other rows are. A column left out of the header leaves that field as stored;
//! an empty cell clears it. The whole file is planned and written in one transaction (rows
//! locked), so a file of 31,000 people takes seconds, not one round trip per person.

use super::directory::{
    changed_person, check_change, lock_active_admins, removes_an_admin, Change,
};
use super::users::{person_columns, Person};
use super::*;
use std::collections::{HashMap, HashSet};

/// The columns a file may have; `username` and `role` are required.
pub const COLUMNS: [&str; 6] = ["username", "full_name", "role", "unit", "email", "phone"];

/// Most rows in one file (a province of 31,000 people fits six times over).
pub const MAX_ROWS: usize = 200_000;

/// One row of the file, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// The file's line number (1 is the header).
    pub line: u64,
    pub username: String,
    pub role: Role,
    pub change: Change,
}

/// A row not written, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub line: u64,
    /// The row's username as written (empty when there was none).
    pub username: String,
    pub reason: String,
}

/// What an import did (or, dry, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub dry_run: bool,
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    pub refused: Vec<Refusal>,
}

/// Something wrong with the file as a whole (nothing is written).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileError {
    #[error("the file is not UTF-8 (byte {0})")]
    NotUtf8(usize),
    #[error("the file is empty; its first line names the columns: username,full_name,role,unit,email,phone")]
    Empty,
    #[error("unknown column `{0}`; the columns are username, full_name, role, unit, email, phone")]
    UnknownColumn(String),
    #[error("column `{0}` appears twice")]
    RepeatedColumn(String),
    #[error("the header has no `{0}` column")]
    MissingColumn(&'static str),
    #[error("more than {MAX_ROWS} rows; split the file")]
    TooManyRows,
    #[error("line {line}: {message}")]
    Unreadable { line: u64, message: String },
}

/// Reads the file: its rows (each checked on its own) and the rows refused while reading.
/// `known_unit` tells whether a unit code is in the catalog.
pub fn read_file(
    bytes: &[u8],
    known_unit: impl Fn(&str) -> bool,
) -> Result<(Vec<ImportRow>, Vec<Refusal>), FileError> {
    let text = std::str::from_utf8(bytes).map_err(|e| FileError::NotUtf8(e.valid_up_to()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let header_line =
        text.lines().next().filter(|l| !l.trim().is_empty()).ok_or(FileError::Empty)?;
    // The header tells the separator: Excel in a Vietnamese locale writes semicolons.
    let delimiter = if header_line.matches(';').count() > header_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| FileError::Unreadable { line: 1, message: e.to_string() })?
        .clone();
    let mut index: HashMap<&'static str, usize> = HashMap::new();
    for (position, name) in header.iter().enumerate() {
        let name = name.trim().to_lowercase();
        let Some(column) = COLUMNS.iter().find(|c| **c == name) else {
            return Err(FileError::UnknownColumn(name));
        };
        if index.insert(column, position).is_some() {
            return Err(FileError::RepeatedColumn(name));
        }
    }
    for required in ["username", "role"] {
        if !index.contains_key(required) {
            return Err(FileError::MissingColumn(required));
        }
    }
    let mut rows = Vec::new();
    let mut refused = Vec::new();
    let mut first_line_of: HashMap<String, u64> = HashMap::new();
    let mut lines = LineCounter::new(text);
    for record in reader.records() {
        let record = record.map_err(|e| FileError::Unreadable {
            line: lines.line_of(e.position().map_or(0, |p| p.byte())),
            message: e.to_string(),
        })?;
        let line = lines.line_of(record.position().map_or(0, |p| p.byte()));
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        if rows.len() + refused.len() >= MAX_ROWS {
            return Err(FileError::TooManyRows);
        }
        let cell = |name: &str| index.get(name).map(|&i| record.get(i).unwrap_or("").trim());
        let written_name = cell("username").unwrap_or("").to_owned();
        if record.len() != header.len() {
            refused.push(Refusal {
                line,
                username: written_name,
                reason: format!("{} fields where the header has {}", record.len(), header.len()),
            });
            continue;
        }
        match read_row(line, &cell, &known_unit) {
            Ok(row) => {
                if let Some(first) = first_line_of.get(&row.username) {
                    refused.push(Refusal {
                        line,
                        username: written_name,
                        reason: format!("`{}` is already on line {first}", row.username),
                    });
                } else {
                    first_line_of.insert(row.username.clone(), line);
                    rows.push(row);
                }
            }
            Err(reason) => refused.push(Refusal { line, username: written_name, reason }),
        }
    }
    Ok((rows, refused))
}

/// Line numbers of records, counted here: the csv reader's own count lags by one after a CRLF
/// (as Excel writes), whose `\n` it reads with the next record. Records come in order, so the
/// count goes on from the last one (one pass over the file).
struct LineCounter<'a> {
    text: &'a [u8],
    /// A byte offset and the 1-based line it is on.
    at: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> LineCounter<'a> {
        LineCounter { text: text.as_bytes(), at: 0, line: 1 }
    }

    /// The line of the record starting at `byte` (the terminator left before it skipped).
    fn line_of(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte).unwrap_or(usize::MAX).min(self.text.len());
        while self.text.get(start).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
            start += 1;
        }
        if start < self.at {
            // Not in order (an error's position): count from the top.
            self.at = 0;
            self.line = 1;
        }
        self.line += self.text[self.at..start].iter().filter(|&&b| b == b'\n').count() as u64;
        self.at = start;
        self.line
    }
}

fn read_row<'a>(
    line: u64,
    cell: &impl Fn(&str) -> Option<&'a str>,
    known_unit: &impl Fn(&str) -> bool,
) -> Result<ImportRow, String> {
    let username = cell("username").unwrap_or("").to_lowercase();
    super::users::check_username(&username).map_err(|e| e.to_string())?;
    let role_text = cell("role").unwrap_or("");
    let role = Role::parse(&role_text.to_lowercase())
        .ok_or_else(|| format!("unknown role `{role_text}`; expected admin, leader or chief"))?;
    let unit = cell("unit").map(str::to_owned).filter(|u| !u.is_empty());
    match (role, &unit) {
        (Role::Chief, None) => return Err("a chief needs a unit".into()),
        (Role::Chief, Some(code)) if !known_unit(code) => {
            return Err(format!("unknown unit `{code}`"))
        }
        (Role::Admin | Role::Leader, Some(_)) => {
            return Err("only a chief has a unit; admins and leaders see every unit".into())
        }
        _ => {}
    }
    let change = Change {
        role: Some(role),
        unit: Some(unit),
        full_name: cell("full_name").map(str::to_owned),
        email: cell("email").map(str::to_owned),
        phone: cell("phone").map(str::to_owned),
        break_glass: None,
    };
    check_change(&change).map_err(|e| e.to_string())?;
    Ok(ImportRow { line, username, role, change })
}

/// A person the import writes.
struct Planned {
    row: ImportRow,
    /// The stored person and their id; `None` for a new one.
    before: Option<(i64, Person)>,
    after: Person,
}

impl Accounts {
    /// Plans and (unless `dry_run`) writes the rows, in one transaction. Returns the report and
    /// the ids of the people whose role or unit changed (their live connections must close).
    pub async fn import_people(
        &self,
        rows: Vec<ImportRow>,
        mut refused: Vec<Refusal>,
        dry_run: bool,
        actor: &str,
        address: Option<&str>,
    ) -> Result<(ImportReport, Vec<i64>), AccountError> {
        let mut tx = crate::store::begin(&self.pool).await?;
        let active_admins = lock_active_admins(&mut tx).await?;
        let usernames: Vec<String> = rows.iter().map(|r| r.username.clone()).collect();
        let stored: Vec<super::directory::LockedPerson> = sqlx::query_as(concat!(
            "SELECT id, ",
            person_columns!(),
            " FROM users WHERE username = ANY($1) FOR UPDATE"
        ))
        .bind(&usernames)
        .fetch_all(&mut *tx)
        .await?;
        let mut stored: HashMap<String, (i64, Person)> =
            stored.into_iter().map(|l| (l.person.username.clone(), (l.id, l.person))).collect();
        let mut report = ImportReport { dry_run, ..ImportReport::default() };
        let mut planned = Vec::new();
        for row in rows {
            let before = stored.remove(&row.username);
            let base = before.as_ref().map(|(_, p)| p.clone()).unwrap_or_else(|| Person {
                username: row.username.clone(),
                full_name: None,
                role: row.role.as_str().to_owned(),
                unit: None,
                disabled: false,
                email: None,
                phone: None,
                origin: "import".to_owned(),
                break_glass: false,
            });
            match changed_person(&base, &row.change) {
                Ok(after) if before.as_ref().is_some_and(|(_, p)| *p == after) => {
                    report.unchanged.push(row.username.clone());
                }
                Ok(after) => planned.push(Planned { row, before, after }),
                Err(error) => refused.push(Refusal {
                    line: row.line,
                    username: row.username.clone(),
                    reason: error.to_string(),
                }),
            }
        }
        // The last active admin stays: when the file would demote every one of them, none of
        // those rows is written.
        let demoted = planned
            .iter()
            .filter(|p| p.before.as_ref().is_some_and(|(_, b)| removes_an_admin(b, &p.after)))
            .count();
        if demoted > 0 && demoted >= active_admins {
            planned.retain(|p| {
                let demotes = p.before.as_ref().is_some_and(|(_, b)| removes_an_admin(b, &p.after));
                if demotes {
                    refused.push(Refusal {
                        line: p.row.line,
                        username: p.row.username.clone(),
                        reason: "the file would leave no active admin; this admin stays".into(),
                    });
                }
                !demotes
            });
        }
        let (new, changed): (Vec<Planned>, Vec<Planned>) =
            planned.into_iter().partition(|p| p.before.is_none());
        let created = self.insert_imported(&mut tx, &new).await?;
        for person in &new {
            if !created.contains(&person.after.username) {
                refused.push(Refusal {
                    line: person.row.line,
                    username: person.row.username.clone(),
                    reason: "added by someone else during the import; import again".into(),
                });
            }
        }
        self.update_imported(&mut tx, &changed).await?;
        let mut cut = Vec::new();
        let mut audit = AuditBatch::default();
        for person in new.iter().filter(|p| created.contains(&p.after.username)) {
            report.created.push(person.after.username.clone());
            let unit =
                person.after.unit.as_deref().map(|u| format!(", unit {u}")).unwrap_or_default();
            audit.push(
                "user_imported",
                &person.after.username,
                format!("role {}{unit}", person.after.role),
            );
        }
        for person in &changed {
            let Some((id, before)) = &person.before else { continue };
            report.updated.push(person.after.username.clone());
            let detail = super::directory::describe_change(before, &person.after);
            audit.push("user_changed", &person.after.username, detail);
            if before.role != person.after.role || before.unit != person.after.unit {
                cut.push(*id);
            }
        }
        sqlx::query!("DELETE FROM sessions WHERE user_id = ANY($1)", &cut)
            .execute(&mut *tx)
            .await?;
        refused.sort_by_key(|r| r.line);
        report.refused = refused;
        if dry_run {
            tx.rollback().await?;
            return Ok((report, Vec::new()));
        }
        let summary = format!(
            "created {}, updated {}, unchanged {}, refused {}",
            report.created.len(),
            report.updated.len(),
            report.unchanged.len(),
            report.refused.len()
        );
        audit.push("users_imported", "users", summary);
        audit.write(&mut tx, actor, address, self.clock.now()).await?;
        tx.commit().await?;
        Ok((report, cut))
    }

    /// Inserts the new people; the usernames actually inserted.
    async fn insert_imported(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        new: &[Planned],
    ) -> Result<HashSet<String>, AccountError> {
        let query = sqlx::query_scalar(
            "INSERT INTO users (username, role, unit, full_name, email, phone, origin, created_at)
             SELECT n.username, n.role, n.unit, n.full_name, n.email, n.phone, 'import', $7
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                  AS n(username, role, unit, full_name, email, phone)
             ON CONFLICT (username) DO NOTHING
             RETURNING username",
        );
        let inserted: Vec<String> =
            bind_people(query, new).bind(self.clock.now()).fetch_all(&mut **tx).await?;
        Ok(inserted.into_iter().collect())
    }

    async fn update_imported(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        changed: &[Planned],
    ) -> Result<(), AccountError> {
        let query = sqlx::query_scalar::<_, i64>(
            "WITH changed AS (
               UPDATE users u SET role = n.role, unit = n.unit, full_name = n.full_name,
                                  email = n.email, phone = n.phone
               FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                    AS n(username, role, unit, full_name, email, phone)
               WHERE u.username = n.username
               RETURNING 1)
             SELECT count(*) FROM changed",
        );
        bind_people(query, changed).fetch_one(&mut **tx).await?;
        Ok(())
    }
}

/// Binds `$1`–`$6` of an UNNEST over the people's new states: username, role, unit, full name,
/// email, phone (one array each, so thousands of people are one statement).
fn bind_people<'q, O>(
    query: sqlx::query::QueryScalar<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    people: &[Planned],
) -> sqlx::query::QueryScalar<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    let column =
        |f: fn(&Person) -> Option<String>| people.iter().map(|p| f(&p.after)).collect::<Vec<_>>();
    query
        .bind(column(|p| Some(p.username.clone())))
        .bind(column(|p| Some(p.role.clone())))
        .bind(column(|p| p.unit.clone()))
        .bind(column(|p| p.full_name.clone()))
        .bind(column(|p| p.email.clone()))
        .bind(column(|p| p.phone.clone()))
}

/// Audit entries written together (one statement for thousands).
#[derive(Default)]
struct AuditBatch {
    actions: Vec<&'static str>,
    targets: Vec<String>,
    details: Vec<String>,
}

impl AuditBatch {
    fn push(&mut self, action: &'static str, target: &str, detail: String) {
        self.actions.push(action);
        self.targets.push(target.to_owned());
        self.details.push(detail);
    }

    async fn write(
        self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        actor: &str,
        address: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), AccountError> {
        sqlx::query(
            "INSERT INTO audit_log (actor, action, target, detail, address, at)
             SELECT $1, n.action, n.target, n.detail, $5, $6
             FROM UNNEST($2::text[], $3::text[], $4::text[]) AS n(action, target, detail)",
        )
        .bind(actor)
        .bind(&self.actions)
        .bind(&self.targets)
        .bind(&self.details)
        .bind(address)
        .bind(at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(code: &str) -> bool {
        code == "00001"
    }

    #[test]
    fn a_bom_and_semicolons_are_read_and_each_bad_row_is_named() {
        let file = "\u{feff}username;full_name;role;unit;email;phone\n\
                    cb.a;Nguyễn Văn A;chief;00001;a@hanoi.gov.vn;0912345678\n\
                    cb.b;Trần B;chief;99999;;\n\
                    cb.c;;boss;;;\n\
                    CB.A;again;leader;;;\n\
                    ld.d;Lê D;leader;;not-an-email;\n\
                    \n\
                    ld.e;Phạm E;Leader;;;\n";
        let (rows, refused) = read_file(file.as_bytes(), known).expect("test");
        let names: Vec<&str> = rows.iter().map(|r| r.username.as_str()).collect();
        assert_eq!(names, ["cb.a", "ld.e"]);
        assert_eq!(rows[0].change.full_name.as_deref(), Some("Nguyễn Văn A"));
        let lines: Vec<u64> = refused.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 4, 5, 6]);
        assert!(refused[0].reason.contains("unknown unit `99999`"), "{:?}", refused[0]);
        assert!(refused[1].reason.contains("unknown role `boss`"), "{:?}", refused[1]);
        assert!(refused[2].reason.contains("already on line 2"), "{:?}", refused[2]);
        assert!(refused[3].reason.contains("not an email"), "{:?}", refused[3]);
    }

    #[test]
    fn a_column_left_out_leaves_the_field_and_a_bad_header_refuses_the_file() {
        let (rows, _) = read_file(b"username,role\nld.a,leader\n", known).expect("test");
        assert_eq!(rows[0].change.email, None);
        assert_eq!(
            read_file(b"username,role,age\n", known),
            Err(FileError::UnknownColumn("age".into()))
        );
        assert_eq!(read_file(b"username,unit\n", known), Err(FileError::MissingColumn("role")));
        assert_eq!(read_file(b"", known), Err(FileError::Empty));
        assert_eq!(read_file(b"username,role\n\xff\n", known), Err(FileError::NotUtf8(14)));
    }

    #[test]
    fn a_row_with_a_wrong_number_of_fields_is_refused_alone() {
        let (rows, refused) =
            read_file(b"username,role,unit\nld.a,leader\ncb.b,chief,00001\n", known).expect("test");
        assert_eq!(rows.len(), 1);
        assert_eq!(refused[0].line, 2);
        assert!(refused[0].reason.contains("2 fields where the header has 3"));
    }
}
