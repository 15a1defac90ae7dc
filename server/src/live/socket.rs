//! The WebSocket protocol of `GET /api/v1/live`: the receive half, parsing client messages and
//! checking each subscription against the caller's scope. The send half belongs to a writer
//! shard ([`super::writer`]).

use super::context::SocketContext;
use super::hub::ScopeKey;
use super::protocol::{
    error_frame, CLIENT_SILENCE_LIMIT, CLOSE_GRACE, CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_TRY_AGAIN,
    SEND_TIMEOUT,
};
use super::writer::{Attached, Request, Writers};
use crate::accounts::access::{self, Caller};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use ioc_shared::live::{ClientMessage, View};
use ioc_shared::summary::Window;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// What a client's message asks for.
enum Command {
    /// A scope, and whether the client takes deltas.
    Subscribe(ScopeKey, bool),
    Unsubscribe(ScopeKey),
    Error(String, Option<String>),
}

/// Inbound messages a client may send per second, sustained…
const MESSAGES_PER_SECOND: f64 = 10.0;
/// …and in one burst. A client beyond this is closed: dashboards send a handful of messages.
const MESSAGE_BURST: f64 = 30.0;

/// Serves one WebSocket connection of an authenticated caller. Its send half goes to a writer
/// shard ([`super::writer`]), which writes snapshots, deltas, heartbeats and pings; this task
/// is the receive half: it parses the client's messages and checks every subscription against
/// the caller's scope. The connection closes when its session or display is revoked, or a
/// recheck finds it no longer valid.
pub async fn serve_socket(
    socket: WebSocket,
    context: SocketContext,
    writers: Writers,
    caller: Caller,
) {
    let _counted = context.hub.connection_opened();
    // Rechecked with every other connection's credential until the connection closes.
    let _registered = context.credentials.register(&caller);
    let (mut sink, mut stream) = socket.split();
    let Some((id, shard)) = writers.assign() else {
        // No writer shard runs (the server has not started them, or is stopping).
        let close = CloseFrame { code: CLOSE_TRY_AGAIN, reason: "try again later".into() };
        let _ = sink.send(Message::Close(Some(close))).await;
        return;
    };
    // Resolves when the shard has let the send half go (after its close frame, if any).
    let (done, mut send_finished) = oneshot::channel();
    if shard
        .send(Request::Attach(Box::new(Attached { id, sink, caller: caller.clone(), done })))
        .await
        .is_err()
    {
        return;
    }
    let mut budget = MessageBudget::new();
    // After asking to close, keep reading (and ignoring) until the client answers the close:
    // closing a socket with unread input resets it, and the client would never see the reason.
    let mut closing = false;
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(CLIENT_SILENCE_LIMIT, stream.next()) => next,
            _ = &mut send_finished => {
                let _ = tokio::time::timeout(CLOSE_GRACE, async { while let Some(Ok(_)) = stream.next().await {} }).await;
                return;
            }
        };
        let message = match next {
            Err(_) | Ok(None) => break,
            Ok(Some(Err(error))) => {
                if is_too_big(&error) && !closing {
                    let _ = shard
                        .send(Request::Close {
                            id,
                            code: CLOSE_TOO_BIG,
                            reason: "message larger than 64 KiB",
                        })
                        .await;
                }
                break;
            }
            Ok(Some(Ok(message))) => message,
        };
        if closing {
            continue;
        }
        if matches!(message, Message::Text(_) | Message::Binary(_)) && !budget.take(Instant::now())
        {
            let _ = shard
                .send(Request::Close { id, code: CLOSE_POLICY, reason: "too many messages" })
                .await;
            closing = true;
            continue;
        }
        let command = match message {
            Message::Text(text) => parse_client_message(&text),
            Message::Binary(_) => {
                Command::Error("send JSON text messages, not binary".into(), None)
            }
            Message::Close(_) => break,
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        let request = match command {
            // Boxed: the check's (database) future is large, and would otherwise be reserved in
            // every idle connection's task.
            Command::Subscribe(key, deltas) => match Box::pin(access::authorize_unit(
                &context.catalog,
                &context.accounts,
                &caller,
                &key.0,
            ))
            .await
            {
                Ok(_) => Request::Subscribe { id, key, deltas },
                Err(refusal) => match error_frame(refusal.message().to_owned(), Some(key.0)) {
                    Some(message) => Request::Send { id, message },
                    None => continue,
                },
            },
            Command::Unsubscribe(key) => Request::Unsubscribe { id, key },
            Command::Error(message, unit) => match error_frame(message, unit) {
                Some(message) => Request::Send { id, message },
                None => continue,
            },
        };
        if shard.send(request).await.is_err() {
            return;
        }
    }
    // The client went away (or its read failed): the shard closes the send half, then lets go.
    let _ = shard.send(Request::Detach { id }).await;
    let _ = tokio::time::timeout(SEND_TIMEOUT, send_finished).await;
}

/// A token bucket of inbound messages: [`MESSAGE_BURST`] at once, refilled at
/// [`MESSAGES_PER_SECOND`].
struct MessageBudget {
    allowance: f64,
    last: Instant,
}

impl MessageBudget {
    fn new() -> MessageBudget {
        MessageBudget { allowance: MESSAGE_BURST, last: Instant::now() }
    }

    /// Spends one message; false when the budget is exhausted.
    fn take(&mut self, now: Instant) -> bool {
        let refill = now.duration_since(self.last).as_secs_f64() * MESSAGES_PER_SECOND;
        self.allowance = (self.allowance + refill).min(MESSAGE_BURST);
        self.last = now;
        if self.allowance < 1.0 {
            return false;
        }
        self.allowance -= 1.0;
        true
    }
}

/// Whether a read failed because the client sent more than the size limit: the WebSocket
/// library's own error kind, under axum's wrapper.
fn is_too_big(error: &axum::Error) -> bool {
    let cause =
        std::error::Error::source(error).and_then(|e| e.downcast_ref::<tungstenite::Error>());
    matches!(
        cause,
        Some(tungstenite::Error::Capacity(
            tungstenite::error::CapacityError::MessageTooLong { .. }
        ))
    )
}

/// The scope a subscription names: the alerts view has no window (its key uses `today`).
fn scope_of(unit: String, window: Option<Window>, view: View) -> Result<ScopeKey, Command> {
    match (view, window) {
        (View::Alerts, _) => Ok((unit, Window::Today, View::Alerts)),
        (View::Score, Some(window)) if !window.is_calendar() => Err(Command::Error(
            "the score view takes the period as its window: month, quarter or year".into(),
            None,
        )),
        (_, Some(window)) => Ok((unit, window, view)),
        (_, None) => Err(Command::Error(
            format!("`window` is required for the {} view; expected {EXPECTED}", view.as_str()),
            None,
        )),
    }
}

const EXPECTED: &str = "{\"type\":\"subscribe\"|\"unsubscribe\",\"unit\":\"<code>\",\"window\":\"today\"|\"24h\"|\"7d\"|\"30d\"|\"month\"|\"quarter\"|\"year\",\"view\"?:\"summary\"|\"score\"|\"alerts\",\"deltas\"?:true|false} (no window for the alerts view)";

fn parse_client_message(text: &str) -> Command {
    match serde_json::from_str::<ClientMessage>(text) {
        Ok(ClientMessage::Subscribe { unit, window, view, deltas }) => scope_of(unit, window, view)
            .map_or_else(|error| error, |key| Command::Subscribe(key, deltas)),
        Ok(ClientMessage::Unsubscribe { unit, window, view }) => {
            scope_of(unit, window, view).map_or_else(|error| error, Command::Unsubscribe)
        }
        Err(error) => {
            Command::Error(format!("cannot read message ({error}); expected {EXPECTED}"), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Deterministic time: the budget allows a burst, refuses beyond it, and refills with time.
    #[tokio::test(start_paused = true)]
    async fn the_message_budget_allows_a_burst_then_refills_at_the_sustained_rate() {
        let mut budget = MessageBudget::new();
        let burst = MESSAGE_BURST as usize;
        assert!((0..burst).all(|_| budget.take(Instant::now())));
        assert!(!budget.take(Instant::now()), "one past the burst is refused");
        tokio::time::advance(Duration::from_secs(1)).await;
        let refilled = (0..burst).take_while(|_| budget.take(Instant::now())).count();
        assert_eq!(refilled, MESSAGES_PER_SECOND as usize);
        tokio::time::advance(Duration::from_secs(60)).await;
        let after_a_pause = (0..2 * burst).take_while(|_| budget.take(Instant::now())).count();
        assert_eq!(after_a_pause, burst, "never more than the burst, however long the pause");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

        /// Fuzzing the client message parser: any text gets an answer, never a panic, and
        /// only well-formed subscribe/unsubscribe messages become subscriptions.
        #[test]
        fn any_client_text_is_answered(text in proptest::prelude::any::<String>()) {
            match parse_client_message(&text) {
                Command::Subscribe(key, _) | Command::Unsubscribe(key) => {
                    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
                    proptest::prop_assert_eq!(value["unit"].as_str(), Some(key.0.as_str()));
                }
                Command::Error(message, _) => proptest::prop_assert!(message.contains("expected")),
            }
        }

        #[test]
        fn json_shaped_client_messages_are_answered(
            kind in proptest::prop_oneof!["subscribe", "unsubscribe", "ping", ".*"],
            unit in ".*",
            window in proptest::prop_oneof!["today", "24h", "7d", "30d", ".*"],
        ) {
            let text = serde_json::json!({"type": kind, "unit": unit, "window": window}).to_string();
            let known = matches!(kind.as_str(), "subscribe" | "unsubscribe") && ioc_shared::summary::Window::parse(&window).is_some();
            match parse_client_message(&text) {
                Command::Subscribe(key, _) | Command::Unsubscribe(key) => {
                    proptest::prop_assert!(known);
                    proptest::prop_assert_eq!(key.0, unit);
                }
                Command::Error(..) => proptest::prop_assert!(!known),
            }
        }
    }

    #[test]
    fn a_bad_window_is_explained() {
        let Command::Error(message, _) =
            parse_client_message(r#"{"type":"subscribe","unit":"001","window":"1y"}"#)
        else {
            panic!("expected an error");
        };
        assert!(message.contains("unknown variant `1y`"), "{message}");
    }
}
