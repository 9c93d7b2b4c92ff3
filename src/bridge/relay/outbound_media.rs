//! Matrix → Telegram files: images, videos, audio, files, stickers and
//! locations the owner sends in a portal. It reads the queued event, hands
//! the transfer to [`crate::bridge::media`] (streamed from the homeserver to
//! Telegram) and records the sent message. The queue, locking, retries and
//! failure notices stay with [`super::outbound`].

use serde_json::Value;

use super::outbound::Delivery;
use super::outbound_plan::{self, OutboundError};
use super::Side;
use crate::bridge::media::{split_caption, MatrixToTelegram, MediaError};
use crate::convert::media::outgoing_media;
use crate::convert::{matrix_to_telegram, TelegramText};
use crate::telegram::media::Destination;
use crate::telegram::CallError;

impl Side {
    /// Sends a Matrix file to Telegram, then the rest of a caption too long
    /// for one as text messages, and records every sent message (the last
    /// record also removes the event from the outbox).
    pub(super) async fn send_media(&self, delivery: &Delivery<'_>) -> Result<(), OutboundError> {
        // The raw event keeps fields ruma does not model (voice messages).
        let event: Value = serde_json::from_str(&delivery.entry.event)
            .map_err(|e| OutboundError::InvalidEvent(e.to_string()))?;
        let event_type = event["type"].as_str().unwrap_or_default();
        let media = outgoing_media(event_type, &event["content"])
            .map_err(|e| OutboundError::Unsupported(e.to_string()))?;
        let mut reply_to = None;
        for event_id in reply_targets(&event) {
            reply_to = self.telegram_id_of(&event_id)?;
            if reply_to.is_some() {
                break;
            }
        }
        let (caption, rest) = match &media.caption {
            Some((body, html)) => {
                let text = matrix_to_telegram(body, html.as_deref(), &self.mentions());
                let (first, rest) = split_caption(text);
                (Some(self.resolved(first).await), rest)
            }
            None => (None, Vec::new()),
        };
        let transfer = MatrixToTelegram {
            telegram: crate::telegram::TelegramApi::new(delivery.client),
            matrix: &self.client,
            store: &self.store,
            limits: &self.media_limits,
        };
        let random_id = outbound_plan::random_id(&delivery.entry.event_id, 0);
        let sent = transfer
            .send(
                Destination::new(
                    delivery.chat,
                    crate::telegram::answer::reply_in(reply_to, delivery.portal.topic),
                ),
                &media,
                caption.as_ref(),
                random_id,
            )
            .await
            .map_err(outbound_error)?;
        self.record_sent(delivery, 0, sent.message_id.get(), rest.is_empty())?;
        let last = rest.len();
        for (index, part) in rest.into_iter().enumerate() {
            let part_no = index + 1;
            let part = self.resolved(part).await;
            let random_id = outbound_plan::random_id(&delivery.entry.event_id, part_no);
            let message_id = self
                .send_text_part(
                    delivery,
                    part.text,
                    crate::telegram::entities::to_tl(&part.entities),
                    None,
                    random_id,
                )
                .await?;
            let part_no = u32::try_from(part_no).unwrap_or(u32::MAX);
            self.record_sent(delivery, part_no, message_id, index + 1 == last)?;
        }
        Ok(())
    }

    /// A caption part with its mentions resolved to Telegram users.
    async fn resolved(&self, text: TelegramText) -> TelegramText {
        TelegramText {
            entities: self.input_entities(text.entities).await,
            text: text.text,
        }
    }
}

/// The events a Matrix message answers, best first: the one it replies to
/// (in a thread: the thread's latest message), then a thread's root.
fn reply_targets(event: &Value) -> Vec<ruma::OwnedEventId> {
    let relates_to = &event["content"]["m.relates_to"];
    let reply = relates_to["m.in_reply_to"]["event_id"].as_str();
    let root = (relates_to["rel_type"] == "m.thread")
        .then(|| relates_to["event_id"].as_str())
        .flatten();
    reply
        .into_iter()
        .chain(root)
        .filter_map(|id| ruma::OwnedEventId::try_from(id).ok())
        .collect()
}

/// How a failed transfer is reported and whether it is retried: Telegram's
/// errors are classified like those of text messages, a broken transfer is
/// retried, a file that cannot be sent is reported at once.
fn outbound_error(error: MediaError) -> OutboundError {
    match error {
        MediaError::Telegram(CallError::Invocation(error)) => error.into(),
        MediaError::Telegram(error @ CallError::TimedOut(_)) => {
            OutboundError::Network(error.to_string())
        }
        MediaError::Matrix(error) => OutboundError::Network(error.to_string()),
        MediaError::Transfer(error) => OutboundError::Network(error),
        MediaError::Store(error) => error.into(),
        other @ (MediaError::TooLarge { .. }
        | MediaError::Content(_)
        | MediaError::NotConfirmed) => OutboundError::Unsupported(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_answer_their_latest_message_then_their_root() {
        let ids = |event: Value| -> Vec<String> {
            reply_targets(&event)
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        let thread = serde_json::json!({ "content": { "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": "$root:x",
            "is_falling_back": true,
            "m.in_reply_to": { "event_id": "$latest:x" },
        }}});
        assert_eq!(ids(thread), ["$latest:x", "$root:x"]);
        let reply = serde_json::json!({ "content": { "m.relates_to": {
            "m.in_reply_to": { "event_id": "$target:x" },
        }}});
        assert_eq!(ids(reply), ["$target:x"]);
        assert!(ids(serde_json::json!({ "content": {} })).is_empty());
    }
}
