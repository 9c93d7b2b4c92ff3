//! Small pieces of Telegram's request and answer shapes that several parts
//! of the bridge need: the reply header of a send, the updates an answer
//! to a send or edit carries, and which edit an edited message is. Pure; no
//! network.

use grammers_client::message::Message;
use grammers_tl_types as tl;

use crate::store::EditStamp;

/// A reply header pointing at message `id` of the same chat.
pub fn reply_to(id: i32) -> tl::enums::InputReplyTo {
    tl::types::InputReplyToMessage {
        reply_to_msg_id: id,
        top_msg_id: None,
        reply_to_peer_id: None,
        quote_text: None,
        quote_entities: None,
        quote_offset: None,
        monoforum_peer_id: None,
        todo_item_id: None,
        poll_option: None,
    }
    .into()
}

/// The reply header of a send into a chat that may be a forum: a reply to
/// `reply_to`, placed in forum topic `topic` (`top_msg_id`); a message with
/// a topic and nothing to answer names the topic's first message, as
/// Telegram's forum documentation asks. `None` when there is neither.
pub fn reply_in(reply_to: Option<i32>, topic: Option<i32>) -> Option<tl::enums::InputReplyTo> {
    let Some(topic) = topic else {
        return reply_to.map(self::reply_to);
    };
    Some(
        tl::types::InputReplyToMessage {
            reply_to_msg_id: reply_to.unwrap_or(topic),
            top_msg_id: Some(topic),
            reply_to_peer_id: None,
            quote_text: None,
            quote_entities: None,
            quote_offset: None,
            monoforum_peer_id: None,
            todo_item_id: None,
            poll_option: None,
        }
        .into(),
    )
}

/// The updates an answer carries; empty for the short forms that carry
/// none (e.g. `updateShortSentMessage`, which callers read themselves).
pub fn updates_in(answer: &tl::enums::Updates) -> &[tl::enums::Update] {
    match answer {
        tl::enums::Updates::Updates(u) => &u.updates,
        tl::enums::Updates::Combined(u) => &u.updates,
        tl::enums::Updates::UpdateShort(u) => std::slice::from_ref(&u.update),
        _ => &[],
    }
}

/// The new messages (of any chat kind, service messages included) an
/// answer carries.
pub fn new_messages(answer: &tl::enums::Updates) -> impl Iterator<Item = &tl::enums::Message> {
    updates_in(answer).iter().filter_map(|update| match update {
        tl::enums::Update::NewMessage(u) => Some(&u.message),
        tl::enums::Update::NewChannelMessage(u) => Some(&u.message),
        _ => None,
    })
}

/// The edit Telegram recorded for message `id` in the answer to an edit,
/// so the echo of that edit is recognised as already bridged.
pub fn edit_stamp_of(updates: &tl::enums::Updates, id: i32) -> Option<EditStamp> {
    updates_in(updates).iter().find_map(|update| {
        let message = match update {
            tl::enums::Update::EditMessage(u) => &u.message,
            tl::enums::Update::EditChannelMessage(u) => &u.message,
            _ => return None,
        };
        match message {
            tl::enums::Message::Message(m) if m.id == id => stamp_of(m),
            _ => None,
        }
    })
}

/// Which edit an edited message carries: its edit date and text, both as
/// Telegram holds them, so the owner's edit and its echo stamp alike. Read
/// from the raw message (grammers' date accessor panics on dates out of
/// range); `None` for a message never edited.
pub fn edit_stamp(message: &Message) -> Option<EditStamp> {
    match &message.raw {
        tl::enums::Message::Message(m) => stamp_of(m),
        _ => None,
    }
}

fn stamp_of(message: &tl::types::Message) -> Option<EditStamp> {
    let date = message.edit_date?;
    Some(EditStamp::new(i64::from(date), &message.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_headers_point_at_the_message() {
        let tl::enums::InputReplyTo::Message(header) = reply_to(7) else {
            panic!("a message reply header");
        };
        assert_eq!(header.reply_to_msg_id, 7);
        assert_eq!(header.top_msg_id, None);
        let Some(tl::enums::InputReplyTo::Message(in_topic)) = reply_in(None, Some(40)) else {
            panic!("a message reply header")
        };
        assert_eq!(
            (in_topic.reply_to_msg_id, in_topic.top_msg_id),
            (40, Some(40))
        );
        let Some(tl::enums::InputReplyTo::Message(answer)) = reply_in(Some(45), Some(40)) else {
            panic!("a message reply header")
        };
        assert_eq!((answer.reply_to_msg_id, answer.top_msg_id), (45, Some(40)));
        assert!(reply_in(None, None).is_none());
    }
}
