//! Matrix → Telegram files: images, videos, audio, files and stickers the
//! owner sends in a portal. Downloading from the homeserver and uploading to
//! Telegram are not implemented yet, so every file is answered with a clear
//! notice instead of being dropped. It only decides what happens to a file
//! event; the queue, locking and notices stay with [`super::outbound`].

use ruma::events::room::message::RoomMessageEventContent;
use ruma::events::sticker::StickerEventContent;

use super::outbound::Delivery;
use super::outbound_plan::OutboundError;
use super::Side;

/// A file the owner sent.
#[derive(Debug)]
pub(super) enum MediaContent {
    /// `m.image`, `m.video`, `m.audio` or `m.file`.
    Message(RoomMessageEventContent),
    /// `m.sticker`.
    Sticker(StickerEventContent),
}

impl Side {
    /// Sends a Matrix file to Telegram. On success the implementation
    /// records the sent message with [`Side::record_sent`] (which also
    /// removes the event from the outbox).
    pub(super) async fn send_media(
        &self,
        delivery: &Delivery<'_>,
        content: MediaContent,
    ) -> Result<(), OutboundError> {
        let _ = delivery;
        Err(OutboundError::Unsupported(format!(
            "{} are not bridged to Telegram yet",
            content.kind_in_words()
        )))
    }
}

impl MediaContent {
    /// What kind of file this is, in the plural, for notices.
    fn kind_in_words(&self) -> String {
        use ruma::events::room::message::MessageType;
        match self {
            MediaContent::Message(content) => match content.msgtype {
                MessageType::Image(_) => "images",
                MessageType::Video(_) => "videos",
                MessageType::Audio(_) => "audio messages",
                _ => "files",
            }
            .to_owned(),
            MediaContent::Sticker(sticker) => format!("stickers (“{}”)", sticker.body),
        }
    }
}
