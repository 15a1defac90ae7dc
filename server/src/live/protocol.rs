//! The wire protocol of the live sockets, shared by both halves of a connection and by the
//! public board: close codes (RFC 6455), the timings both sides keep, and the error frame.

use axum::extract::ws::Message;
use ioc_shared::live::ServerMessage;
use std::time::Duration;

pub use ioc_shared::live::HEARTBEAT_SECONDS;

/// "Policy violation": the session ended, or the client sent too many messages.
pub const CLOSE_POLICY: u16 = 1008;
/// "Message too big": a client message over the size limit.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// "Service restart": the server is shutting down; clients reconnect (to another replica) at once.
pub const CLOSE_SERVICE_RESTART: u16 = 1012;
/// "Try again later": no writer shard can take the connection now.
pub const CLOSE_TRY_AGAIN: u16 = 1013;

/// How often the server pings each client.
pub const PING_EVERY: Duration = Duration::from_secs(20);
/// A write that makes no progress for this long means the client is not reading: drop it.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// A client that sends nothing (not even a pong) for this long is gone.
pub const CLIENT_SILENCE_LIMIT: Duration = Duration::from_secs(60);
/// How long a closing connection waits for the client's answer to its close frame.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// An error answer to one client.
pub fn error_frame(message: String, unit: Option<String>) -> Option<Message> {
    serde_json::to_string(&ServerMessage::Error { message, unit })
        .ok()
        .map(|t| Message::Text(t.into()))
}
