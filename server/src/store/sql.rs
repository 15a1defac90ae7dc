//! The item conditions every figure read from PostgreSQL shares, written once so that the
//! lists, an officer's page, the breakdowns and the Decision 766 score cannot drift apart
//! (the same definitions as the live figures' fold in [`super::item`]).

/// Counts for on time or late: every outcome but a citizen's withdrawal.
pub const RATED: &str = "coalesce(outcome, '') <> 'withdrawn'";

/// Open, running (not paused) and past its extended due time at `at` (a bind parameter such
/// as `$3`).
pub fn overdue_at(at: &str) -> String {
    format!("open AND NOT paused AND due_extended_at < {at}")
}
