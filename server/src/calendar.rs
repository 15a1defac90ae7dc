//! The working calendar this server counts working-time deadlines on: the one shipped in
//! `assets/calendar/` unless `IOC_CALENDAR_FILE` names another (see [`ioc_shared::calendar`]).
//!
//! One calendar per process, set at start-up before any event is read: the event parser, the
//! item fold (pauses extend working-time deadlines by working time) and the HTTP API all use
//! it, and none of them can be handed a different one by mistake.

use ioc_shared::calendar::WorkingCalendar;
use std::sync::OnceLock;

static ACTIVE: OnceLock<WorkingCalendar> = OnceLock::new();

/// The calendar in use (the built-in one unless [`install`] set another first).
pub fn active() -> &'static WorkingCalendar {
    ACTIVE.get_or_init(WorkingCalendar::builtin)
}

/// Why a calendar file was not installed.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("cannot read the calendar file {path}: {source}")]
    Read { path: std::path::PathBuf, source: std::io::Error },
    /// The file's own problem, as the calendar reader words it for whoever edits the file.
    #[error("{path}: {reason}")]
    Invalid { path: std::path::PathBuf, reason: ioc_shared::invalid::Invalid },
    #[error("a working calendar is already in use in this process")]
    AlreadyInUse,
}

/// Reads a calendar file and makes it the one in use. Fails when the file is unreadable or
/// broken, or when another calendar is already in use in this process.
pub fn install(path: &std::path::Path) -> Result<&'static WorkingCalendar, CalendarError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| CalendarError::Read { path: path.to_owned(), source })?;
    let calendar = WorkingCalendar::from_json(&text)
        .map_err(|reason| CalendarError::Invalid { path: path.to_owned(), reason })?;
    ACTIVE.set(calendar).map_err(|_| CalendarError::AlreadyInUse)?;
    Ok(active())
}
