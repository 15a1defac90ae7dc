//! Wall displays: created with a scope and a playlist, paired once with a code, revoked.

use super::*;

/// How long a pairing code stays valid.
pub const PAIRING_VALID_FOR: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Display {
    pub id: i64,
    pub name: String,
    /// The display sees this unit and everything below it.
    pub unit: String,
    pub playlist: Vec<WallView>,
    pub paired: bool,
    pub revoked: bool,
}

/// Checks a display's scope and playlist against the catalog: known units, and every view
/// inside the display's unit (a wall never shows more than it was created for).
pub fn check_display_scope(
    catalog: &crate::catalog::Catalog,
    unit: &str,
    playlist: &[WallView],
) -> Result<(), AccountError> {
    if !catalog.contains(unit) {
        return Err(AccountError::Invalid(format!("unknown unit `{unit}`")));
    }
    for view in playlist {
        if !catalog.contains(&view.unit) {
            return Err(AccountError::Invalid(format!("unknown unit `{}`", view.unit)));
        }
        if !catalog.is_within(&view.unit, unit) {
            return Err(AccountError::Invalid(format!(
                "view `{}` is outside the display's unit `{unit}`",
                view.unit
            )));
        }
        if view.view == ioc_shared::live::View::Score && !view.window.is_calendar() {
            return Err(AccountError::Invalid(format!(
                "the score view of `{}` takes a period: month, quarter or year",
                view.unit
            )));
        }
    }
    Ok(())
}

/// A `displays` row as stored.
struct DisplayRow {
    id: i64,
    name: String,
    unit: String,
    playlist: serde_json::Value,
    paired_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<DisplayRow> for Display {
    type Error = AccountError;

    fn try_from(row: DisplayRow) -> Result<Display, AccountError> {
        Ok(Display {
            id: row.id,
            name: row.name,
            unit: row.unit,
            playlist: decode("display playlist", &row.playlist)?,
            paired: row.paired_at.is_some(),
            revoked: row.revoked_at.is_some(),
        })
    }
}

impl Accounts {
    /// Creates a display; returns it and its one-time pairing code.
    pub async fn create_display(
        &self,
        name: &str,
        unit: &str,
        playlist: &[WallView],
    ) -> Result<(Display, String), AccountError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(AccountError::Invalid("a display needs a name of 1–200 characters".into()));
        }
        if playlist.is_empty() || playlist.len() > 50 {
            return Err(AccountError::Invalid("a playlist needs 1–50 views".into()));
        }
        if let Some(view) = playlist.iter().find(|v| !(5..=3600).contains(&v.seconds)) {
            return Err(AccountError::Invalid(format!(
                "view of `{}` lasts {} s; 5–3600 s allowed",
                view.unit, view.seconds
            )));
        }
        let code = new_pairing_code();
        let row = sqlx::query_as!(
            DisplayRow,
            "INSERT INTO displays (name, unit, playlist, pairing_code_hash, pairing_expires_at, created_at)
             VALUES ($1, $2, $3, $4, $6::timestamptz + make_interval(secs => $5), $6) RETURNING id, name, unit, playlist, paired_at, revoked_at",
            name,
            unit,
            encode("display playlist", &playlist)?,
            secret_hash(&normalize_code(&code)),
            PAIRING_VALID_FOR.as_secs() as f64,
            self.clock.now()
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((Display::try_from(row)?, code))
    }

    /// A new pairing code for a display, which also un-pairs the screen that had it.
    pub async fn new_pairing_code(&self, id: i64) -> Result<(Display, String), AccountError> {
        let code = new_pairing_code();
        let row = sqlx::query_as!(
            DisplayRow,
            "UPDATE displays SET pairing_code_hash = $2, pairing_expires_at = $4::timestamptz + make_interval(secs => $3),
                 credential_hash = NULL, paired_at = NULL, revoked_at = NULL
             WHERE id = $1 RETURNING id, name, unit, playlist, paired_at, revoked_at",
            id,
            secret_hash(&normalize_code(&code)),
            PAIRING_VALID_FOR.as_secs() as f64,
            self.clock.now()
        )
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok((Display::try_from(row)?, code)),
            None => Err(AccountError::NotFound(format!("no display {id}"))),
        }
    }

    /// Pairs the screen holding `code`: the code is used up, the display gets a credential.
    pub async fn pair_display(
        &self,
        code: &str,
    ) -> Result<Option<(Display, String)>, AccountError> {
        let credential = new_secret();
        let row = sqlx::query_as!(
            DisplayRow,
            "UPDATE displays SET credential_hash = $2, paired_at = $3, pairing_code_hash = NULL, pairing_expires_at = NULL
             WHERE pairing_code_hash = $1 AND pairing_expires_at > $3 AND revoked_at IS NULL
             RETURNING id, name, unit, playlist, paired_at, revoked_at",
            secret_hash(&normalize_code(code)),
            secret_hash(&credential),
            self.clock.now()
        )
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some((Display::try_from(row)?, credential))),
            None => Ok(None),
        }
    }

    /// The live (paired, not revoked) display holding `credential`.
    pub async fn display_by_credential(
        &self,
        credential: &str,
    ) -> Result<Option<Display>, AccountError> {
        let row = sqlx::query_as!(
            DisplayRow,
            "SELECT id, name, unit, playlist, paired_at, revoked_at FROM displays WHERE credential_hash = $1 AND revoked_at IS NULL",
            secret_hash(credential)
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(Display::try_from).transpose()
    }

    pub async fn revoke_display(&self, id: i64) -> Result<Display, AccountError> {
        let row = sqlx::query_as!(
            DisplayRow,
            "UPDATE displays SET revoked_at = $2, credential_hash = NULL, pairing_code_hash = NULL
             WHERE id = $1 RETURNING id, name, unit, playlist, paired_at, revoked_at",
            id,
            self.clock.now()
        )
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Display::try_from(row),
            None => Err(AccountError::NotFound(format!("no display {id}"))),
        }
    }

    pub async fn list_displays(&self) -> Result<Vec<Display>, AccountError> {
        let rows = sqlx::query_as!(
            DisplayRow,
            "SELECT id, name, unit, playlist, paired_at, revoked_at FROM displays ORDER BY id"
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Display::try_from).collect()
    }
}
