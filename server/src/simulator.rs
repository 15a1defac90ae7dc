//! The demo feed (stub while the simulator is written).
use crate::app::AppState;
pub fn random_token() -> String { String::from("x") }
pub async fn run(_state: AppState, _rate: f64) {}
