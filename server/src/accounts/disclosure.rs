//! Which units are public (on `/cong-khai` and in the open data), and whether their late
//! officers are named there. Off by default; changed only through [`super::manage`], which
//! audits every change.

use super::{AccountError, Accounts};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A unit made public.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicUnit {
    pub unit: String,
    /// Whether the names of its late officers are published.
    pub officers: bool,
    pub updated_at: DateTime<Utc>,
}

impl Accounts {
    pub async fn public_units(&self) -> Result<Vec<PublicUnit>, AccountError> {
        Ok(sqlx::query_as!(
            PublicUnit,
            "SELECT unit, officers, updated_at FROM public_units ORDER BY unit"
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Makes a unit public (or changes whether its officers are named).
    pub async fn set_public_unit(
        &self,
        unit: &str,
        officers: bool,
    ) -> Result<PublicUnit, AccountError> {
        Ok(sqlx::query_as!(
            PublicUnit,
            "INSERT INTO public_units (unit, officers, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (unit) DO UPDATE SET officers = EXCLUDED.officers, updated_at = EXCLUDED.updated_at
             RETURNING unit, officers, updated_at",
            unit,
            officers,
            self.clock.now(),
        )
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn remove_public_unit(&self, unit: &str) -> Result<(), AccountError> {
        let done = sqlx::query!("DELETE FROM public_units WHERE unit = $1", unit)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(AccountError::NotFound(format!("unit `{unit}` is not public")));
        }
        Ok(())
    }
}
