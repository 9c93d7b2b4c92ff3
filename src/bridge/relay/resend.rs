//! Sending again what may already have been sent. A homeserver that stops
//! while a send is in flight may have stored the event without answering;
//! the bridge then sends it again with the same transaction id. Conduit
//! keeps transaction ids in its database and answers with the first event,
//! but Synapse forgets the transaction ids of appservice users when it
//! restarts, and stores the event a second time. So an event applied again
//! after an outage, or left in the inbox by an earlier run, first looks for
//! its earlier attempt in the room: the newest events, from the same
//! sender, with the same content, and not already in the message map (the
//! same ghost may well say "ok" twice). If it is there, that event is the
//! send's result.
//!
//! Only the decision and the lookup live here; what is sent is the
//! handlers' business.

use ruma::api::client::message::get_message_events;
use ruma::api::Direction;
use ruma::{OwnedEventId, RoomId, UInt, UserId};
use serde_json::Value;

use super::*;

/// How far back the room is searched: the chat's queue waited during the
/// outage, so an earlier attempt is among the newest events.
const LOOKBACK: u32 = 50;

tokio::task_local! {
    /// Set while an event is applied again after an attempt that may have
    /// reached the homeserver.
    static MAY_BE_SENT: ();
}

/// Runs `work` as a repeated attempt: its sends look for an earlier one.
/// The work is boxed: a handler's future is large, and moving it into the
/// scope by value would put it on the stack.
pub(super) async fn as_repeat<F: std::future::Future>(work: F) -> F::Output {
    MAY_BE_SENT.scope((), Box::pin(work)).await
}

/// Whether the current task is applying an event again.
fn is_repeat() -> bool {
    MAY_BE_SENT.try_with(|()| ()).is_ok()
}

/// Whether `event` (a timeline event as JSON) is `sender`'s event of
/// `event_type` with exactly `content`.
fn is_same_event(event: &Value, sender: &UserId, event_type: &str, content: &Value) -> bool {
    event["sender"] == sender.as_str()
        && event["type"] == event_type
        && event["content"] == *content
}

impl Side {
    /// The earlier attempt of this send, when the current task applies an
    /// event again and the room holds it.
    pub(super) async fn earlier_attempt(
        &self,
        room_id: &RoomId,
        sender: &UserId,
        event_type: &str,
        content: &str,
    ) -> Option<OwnedEventId> {
        if !is_repeat() {
            return None;
        }
        let content: Value = serde_json::from_str(content).ok()?;
        let mut request =
            get_message_events::v3::Request::new(room_id.to_owned(), Direction::Backward);
        request.limit = UInt::from(LOOKBACK);
        let page = match self.client.as_bot_device().send(request).await {
            Ok(page) => page,
            Err(error) => {
                debug!(%error, "could not look for an earlier attempt of a send");
                return None;
            }
        };
        for raw in &page.chunk {
            let Ok(event) = raw.deserialize_as::<Value>() else {
                continue;
            };
            if !is_same_event(&event, sender, event_type, &content) {
                continue;
            }
            let Some(event_id) = event["event_id"]
                .as_str()
                .and_then(|id| OwnedEventId::try_from(id).ok())
            else {
                continue;
            };
            match self.store.messages().by_event(&event_id) {
                Ok(mapped) if mapped.is_empty() => {
                    info!(%event_id, "an event sent before the outage was found; it is not sent again");
                    return Some(event_id);
                }
                _ => continue,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn only_repeated_attempts_look_for_earlier_ones() {
        assert!(!is_repeat());
        assert!(as_repeat(async { is_repeat() }).await);
        assert!(!is_repeat());
    }

    #[test]
    fn the_earlier_attempt_has_the_same_sender_type_and_content() {
        let ghost = ruma::user_id!("@tg_1:example.org");
        let content = json!({ "msgtype": "m.text", "body": "ok" });
        let event = json!({
            "event_id": "$a:example.org",
            "sender": "@tg_1:example.org",
            "type": "m.room.message",
            "content": { "body": "ok", "msgtype": "m.text" },
        });
        assert!(is_same_event(&event, ghost, "m.room.message", &content));
        let other = ruma::user_id!("@tg_2:example.org");
        assert!(!is_same_event(&event, other, "m.room.message", &content));
        assert!(!is_same_event(&event, ghost, "m.reaction", &content));
        let edited = json!({ "msgtype": "m.text", "body": "ok!" });
        assert!(!is_same_event(&event, ghost, "m.room.message", &edited));
    }
}
