//! Forum topics as the bridge needs them from Telegram: a topic's recent
//! messages (`messages.getReplies`), marking a topic read
//! (`messages.readDiscussion`), whether a topic was deleted
//! (`messages.getForumTopicsByID`) and the picture of a topic's custom emoji
//! icon (`messages.getCustomEmojiDocuments`). Reads Telegram's types into
//! plain values; knows nothing about Matrix or portals.

use grammers_client::message::Message;
use grammers_client::Client;
use grammers_mtsender::InvocationError;
use grammers_session::types::PeerRef;
use grammers_tl_types as tl;

use super::media::TgFileLocation;
use super::peers::TgPhoto;

/// Most messages one `messages.getReplies` page holds.
const PAGE: usize = 100;

/// The newest messages of forum topic `topic` older than `before` (0: the
/// newest of all), at most `limit`, oldest first. Service messages are
/// included (the caller decides what to bridge); the topic's creating
/// message is one of them.
pub async fn topic_history(
    client: &Client,
    chat: PeerRef,
    topic: i32,
    before: i32,
    limit: usize,
) -> Result<Vec<Message>, InvocationError> {
    let mut ids: Vec<i32> = Vec::new();
    let mut offset_id = before;
    while ids.len() < limit {
        let want = (limit - ids.len()).min(PAGE);
        let request = tl::functions::messages::GetReplies {
            peer: chat.into(),
            msg_id: topic,
            offset_id,
            offset_date: 0,
            add_offset: 0,
            // `want` is at most PAGE (100), which fits.
            limit: want as i32,
            max_id: 0,
            min_id: 0,
            hash: 0,
        };
        let page = page_ids(client.invoke(&request).await?);
        let Some(&oldest) = page.iter().min() else {
            break;
        };
        let full = page.len() >= want;
        ids.extend(page.into_iter().filter(|&id| before == 0 || id < before));
        if !full || oldest <= 1 {
            break;
        }
        offset_id = oldest;
    }
    ids.sort_unstable();
    ids.dedup();
    let skip = ids.len().saturating_sub(limit);
    let ids = &ids[skip..];
    let mut messages = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(PAGE) {
        let found = client.get_messages_by_id(chat, chunk).await?;
        messages.extend(found.into_iter().flatten());
    }
    Ok(messages)
}

/// The ids of the messages of one `messages.getReplies` answer.
fn page_ids(answer: tl::enums::messages::Messages) -> Vec<i32> {
    use tl::enums::messages::Messages as M;
    let messages = match answer {
        M::Messages(m) => m.messages,
        M::Slice(m) => m.messages,
        M::ChannelMessages(m) => m.messages,
        M::NotModified(_) => Vec::new(),
    };
    messages
        .iter()
        .filter(|m| !matches!(m, tl::enums::Message::Empty(_)))
        .map(|m| m.id())
        .collect()
}

/// Marks forum topic `topic` read up to message `max_id`, as Telegram's
/// apps do when a topic is read (the chat's own read mark is the General
/// topic's).
pub async fn read_topic(
    client: &Client,
    chat: PeerRef,
    topic: i32,
    max_id: i32,
) -> Result<(), InvocationError> {
    client
        .invoke(&tl::functions::messages::ReadDiscussion {
            peer: chat.into(),
            msg_id: topic,
            read_max_id: max_id,
        })
        .await?;
    Ok(())
}

/// Whether forum topic `topic` of `chat` is gone: deleted
/// (`messages.deleteTopicHistory`), or the chat is no forum any more and
/// never had it.
pub async fn topic_deleted(
    client: &Client,
    chat: PeerRef,
    topic: i32,
) -> Result<bool, InvocationError> {
    let request = tl::functions::messages::GetForumTopicsById {
        peer: chat.into(),
        topics: vec![topic],
    };
    let tl::enums::messages::ForumTopics::Topics(found) = client.invoke(&request).await?;
    Ok(!found.topics.iter().any(|t| match t {
        tl::enums::ForumTopic::Topic(t) => t.id == topic,
        tl::enums::ForumTopic::Deleted(_) => false,
    }))
}

/// A picture Telegram serves for a custom emoji: its id (the emoji's
/// document id, which changes with the picture) and where to download it.
#[derive(Debug, Clone, PartialEq)]
pub struct EmojiPicture {
    /// The emoji's document id.
    pub id: i64,
    location: tl::enums::InputFileLocation,
}

impl EmojiPicture {
    /// The picture as a photo to mirror as a room avatar.
    pub fn photo(&self) -> TgPhoto {
        TgPhoto {
            id: self.id,
            location: TgFileLocation::anywhere(self.location.clone()),
        }
    }
}

/// What a custom emoji looks like as a still image.
#[derive(Debug, Clone, PartialEq)]
pub enum EmojiImage {
    /// A picture a Matrix client shows: the emoji itself when it is a static
    /// image, else its thumbnail.
    Picture(EmojiPicture),
    /// An animated emoji (Lottie or video) without a thumbnail, which the
    /// bridge cannot turn into a picture; its MIME type.
    Unrenderable(String),
    /// Telegram does not know the emoji.
    Unknown,
}

/// The picture of custom emoji `emoji`.
pub async fn custom_emoji_image(
    client: &Client,
    emoji: i64,
) -> Result<EmojiImage, InvocationError> {
    let documents = client
        .invoke(&tl::functions::messages::GetCustomEmojiDocuments {
            document_id: vec![emoji],
        })
        .await?;
    let document = documents.into_iter().find_map(|d| match d {
        tl::enums::Document::Document(d) if d.id == emoji => Some(d),
        _ => None,
    });
    Ok(document.map_or(EmojiImage::Unknown, |d| emoji_image(&d)))
}

/// Static stickers (WebP, PNG, JPEG) are pictures as they are; animated
/// ones fall back to their largest thumbnail.
fn emoji_image(document: &tl::types::Document) -> EmojiImage {
    let location = |thumb_size: String| -> tl::enums::InputFileLocation {
        tl::types::InputDocumentFileLocation {
            id: document.id,
            access_hash: document.access_hash,
            file_reference: document.file_reference.clone(),
            thumb_size,
        }
        .into()
    };
    if matches!(
        document.mime_type.as_str(),
        "image/webp" | "image/png" | "image/jpeg"
    ) {
        return EmojiImage::Picture(EmojiPicture {
            id: document.id,
            location: location(String::new()),
        });
    }
    let thumb = document
        .thumbs
        .iter()
        .flatten()
        .filter_map(|t| match t {
            tl::enums::PhotoSize::Size(s) => Some((s.w * s.h, s.r#type.clone())),
            tl::enums::PhotoSize::Progressive(s) => Some((s.w * s.h, s.r#type.clone())),
            _ => None,
        })
        .max();
    match thumb {
        Some((_, kind)) => EmojiImage::Picture(EmojiPicture {
            id: document.id,
            location: location(kind),
        }),
        None => EmojiImage::Unrenderable(document.mime_type.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(mime: &str, thumbs: Option<Vec<tl::enums::PhotoSize>>) -> tl::types::Document {
        tl::types::Document {
            id: 7,
            access_hash: 1,
            file_reference: Vec::new(),
            date: 0,
            mime_type: mime.into(),
            size: 10,
            thumbs,
            video_thumbs: None,
            dc_id: 2,
            attributes: Vec::new(),
        }
    }

    #[test]
    fn static_emoji_are_pictures_animated_ones_need_a_thumbnail() {
        let still = emoji_image(&document("image/webp", None));
        assert!(matches!(still, EmojiImage::Picture(ref p) if p.id == 7));
        let animated = emoji_image(&document("application/x-tgsticker", None));
        assert_eq!(
            animated,
            EmojiImage::Unrenderable("application/x-tgsticker".into())
        );
        let thumbs = vec![
            tl::types::PhotoSize {
                r#type: "s".into(),
                w: 10,
                h: 10,
                size: 5,
            }
            .into(),
            tl::types::PhotoSize {
                r#type: "m".into(),
                w: 100,
                h: 100,
                size: 50,
            }
            .into(),
        ];
        let EmojiImage::Picture(thumb) = emoji_image(&document("video/webm", Some(thumbs))) else {
            panic!("a thumbnail is a picture");
        };
        let tl::enums::InputFileLocation::InputDocumentFileLocation(loc) = &thumb.location else {
            panic!("a document location");
        };
        assert_eq!(loc.thumb_size, "m");
    }
}
