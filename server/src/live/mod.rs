//! Live figures: [`hub`] computes each subscribed scope once and shares the bytes, [`feed`]
//! follows Redis pub/sub (changed units, revoked credentials) on every replica, [`socket`]
//! reads what one client says and [`writer`] shards write to many clients at once, both
//! speaking [`protocol`]; [`credentials`] rechecks the credentials of all live connections
//! together; [`context`] is what all of a replica's connections share; [`public`] is the
//! anonymous public board.

pub mod context;
pub mod credentials;
pub mod feed;
pub mod hub;
pub mod protocol;
pub mod public;
pub mod socket;
pub mod writer;

pub use hub::{Hub, ScopeKey, MIN_INTERVAL, REFRESH_EVERY};
