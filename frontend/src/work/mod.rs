//! The work behind the numbers on the dashboard: the most overdue items, the slowest
//! procedures, a list page per kind and state (filters, paging, CSV), an officer's page, and
//! the late officers. Everything re-reads its data when the scope's live snapshot changes, in
//! place (rows keyed by item), so lists follow the figures without a reload, a flicker or a
//! jump of the scroll position.

//!
//! Layout: `panels` (the overview's), `pages` (a list, an officer, the late officers),
//! `trend` (sparklines and the trend chart), `items` (rows and labels), `follow` (data that
//! re-reads with the live figures).

mod follow;
mod items;
mod pages;
mod panels;
mod trend;

pub use follow::{follow, follow_decoded};
pub use items::time_text;
pub use pages::{ListPage, OfficerPage, OfficersPage};
pub use panels::{band_class, MostOverdue, ScoreCard, SlowProcedures};
pub use trend::{sparkline, sparklines, Sparks, Trend};

use crate::route::View;
use ioc_shared::format::Lang;
use ioc_shared::summary::Window;
use leptos::prelude::*;

/// What a page needs from the dashboard, provided as context by the dashboard's workspace.
#[derive(Clone, Copy)]
pub struct Scope {
    pub unit: Signal<String>,
    pub window: Signal<Window>,
    pub lang: Signal<Lang>,
    /// Changes with every new live snapshot of the scope: data is re-read then.
    pub version: Signal<String>,
    /// Opens another page.
    pub open: Callback<View>,
}
