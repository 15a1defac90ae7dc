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

/// Reads a calendar file and makes it the one in use. Fails when the file is unreadable or
/// broken, or when another calendar is already in use in this process.
pub fn install(path: &std::path::Path) -> Result<&'static WorkingCalendar, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the calendar file {}: {e}", path.display()))?;
    let calendar =
        WorkingCalendar::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    ACTIVE
        .set(calendar)
        .map_err(|_| "a working calendar is already in use in this process".to_owned())?;
    Ok(active())
}
