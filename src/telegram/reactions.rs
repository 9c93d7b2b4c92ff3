//! Reading reactions again. Telegram numbers new messages, edits and
//! deletions, so the difference fetched after any absence repeats them;
//! reaction changes (`updateMessageReactions`) carry no number and are in
//! no difference. A reaction set while the bridge was stopped or its
//! connection was down is only learnt by asking for the message's reactions
//! (`messages.getMessagesReactions`), as Telegram's own apps do for the
//! messages on screen. Telegram answers with one reaction update per
//! message, which grammers hands to the update stream, so the answer is
//! bridged like any live reaction change, in its chat's order.
//!
//! It also reads Telegram's reaction summaries into [`ReactionList`]s, so
//! the bridge compares plain lists. It knows nothing about Matrix or which
//! messages are worth asking about.

use grammers_client::message::Message;
use grammers_client::Client;
use grammers_mtsender::InvocationError;
use grammers_session::types::{PeerId, PeerRef};
use grammers_tl_types as tl;

/// The most message ids one request may name.
pub const MAX_IDS_PER_REQUEST: usize = 100;

/// Makes sure the connection gets pushes from now on, before reactions
/// are asked for: Telegram pushes updates to a connection once it asked
/// for the update state, and the client's own request for the difference
/// (which does the same) may still wait out a flood wait after a
/// reconnection. A reaction set after this call is pushed; one set before
/// is in the answer to [`ask_for_reactions`].
pub async fn listen(client: &Client) -> Result<(), InvocationError> {
    client
        .invoke(&tl::functions::updates::GetState {})
        .await
        .map(drop)
}

/// Asks Telegram for the current reactions of messages `ids` of `chat`
/// (at most [`MAX_IDS_PER_REQUEST`] are asked for); they arrive as
/// [`super::TgEvent::Reactions`] events.
pub async fn ask_for_reactions(
    client: &Client,
    chat: PeerRef,
    ids: &[i32],
) -> Result<(), InvocationError> {
    let ids = &ids[..ids.len().min(MAX_IDS_PER_REQUEST)];
    if ids.is_empty() {
        return Ok(());
    }
    let request = tl::functions::messages::GetMessagesReactions {
        peer: chat.into(),
        id: ids.to_vec(),
    };
    client.invoke(&request).await.map(drop)
}

/// One reaction as Telegram lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TgReaction {
    /// Who reacted.
    pub reactor: PeerId,
    /// With what.
    pub emoji: String,
    /// When (Unix seconds; 0 when Telegram does not say).
    pub date: i32,
}

/// What a reaction summary tells about who reacted with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionList {
    /// The reactions Telegram names a reactor for.
    pub reactions: Vec<TgReaction>,
    /// Whether `reactions` lists every reaction (small chats); otherwise
    /// only the account's own reactions are known for sure.
    pub complete: bool,
    /// Whether the account's own reactions are known (`min` summaries
    /// leave them out).
    pub own_known: bool,
}

/// Reads a Telegram reaction summary. Only emoji reactions are bridged:
/// custom emoji and paid reactions have no Matrix annotation key.
pub fn reaction_list(reactions: &tl::enums::MessageReactions, me: PeerId) -> ReactionList {
    let tl::enums::MessageReactions::Reactions(summary) = reactions;
    let mut list: Vec<TgReaction> = Vec::new();
    let recent = summary.recent_reactions.as_deref().unwrap_or_default();
    for tl::enums::MessagePeerReaction::Reaction(reaction) in recent {
        let (Some(reactor), Some(emoji)) = (
            super::updates::peer_id(&reaction.peer_id),
            emoji_of(&reaction.reaction),
        ) else {
            continue;
        };
        let reactor = if reaction.my { me } else { reactor };
        push_unique(&mut list, reactor, emoji, reaction.date);
    }
    let mut emoji_count = 0usize;
    for tl::enums::ReactionCount::Count(count) in &summary.results {
        let Some(emoji) = emoji_of(&count.reaction) else {
            continue;
        };
        emoji_count += usize::try_from(count.count).unwrap_or_default();
        if count.chosen_order.is_some() {
            push_unique(&mut list, me, emoji, 0);
        }
    }
    ReactionList {
        complete: summary.recent_reactions.is_some() && emoji_count == list.len(),
        own_known: !summary.min,
        reactions: list,
    }
}

fn push_unique(list: &mut Vec<TgReaction>, reactor: PeerId, emoji: String, date: i32) {
    if !list
        .iter()
        .any(|r| r.reactor == reactor && r.emoji == emoji)
    {
        list.push(TgReaction {
            reactor,
            emoji,
            date,
        });
    }
}

fn emoji_of(reaction: &tl::enums::Reaction) -> Option<String> {
    match reaction {
        tl::enums::Reaction::Emoji(emoji) => Some(emoji.emoticon.clone()),
        _ => None,
    }
}

/// The reactions a message carries, read as [`reaction_list`] does; `None`
/// when it carries no summary.
pub fn reactions_of(message: &Message, me: PeerId) -> Option<ReactionList> {
    match &message.raw {
        tl::enums::Message::Message(m) => m.reactions.as_ref().map(|r| reaction_list(r, me)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer_reaction(user_id: i64, emoji: &str, my: bool) -> tl::enums::MessagePeerReaction {
        tl::types::MessagePeerReaction {
            big: false,
            unread: false,
            my,
            peer_id: tl::types::PeerUser { user_id }.into(),
            date: 1_700_000_000,
            reaction: tl::types::ReactionEmoji {
                emoticon: emoji.into(),
            }
            .into(),
        }
        .into()
    }

    fn count(emoji: &str, count: i32, mine: bool) -> tl::enums::ReactionCount {
        tl::types::ReactionCount {
            chosen_order: mine.then_some(0),
            reaction: tl::types::ReactionEmoji {
                emoticon: emoji.into(),
            }
            .into(),
            count,
        }
        .into()
    }

    fn summary(
        results: Vec<tl::enums::ReactionCount>,
        recent: Option<Vec<tl::enums::MessagePeerReaction>>,
    ) -> tl::enums::MessageReactions {
        tl::types::MessageReactions {
            min: false,
            can_see_list: recent.is_some(),
            reactions_as_tags: false,
            results,
            recent_reactions: recent,
            top_reactors: None,
        }
        .into()
    }

    #[test]
    fn custom_emoji_and_paid_reactions_are_not_bridged() {
        let me = PeerId::user(1).unwrap();
        let custom = tl::types::ReactionCount {
            chosen_order: None,
            reaction: tl::types::ReactionCustomEmoji { document_id: 9 }.into(),
            count: 1,
        }
        .into();
        let now = reaction_list(&summary(vec![custom], Some(Vec::new())), me);
        assert!(now.reactions.is_empty());
    }

    #[test]
    fn a_full_list_names_every_reactor_and_the_own_reaction() {
        let me = PeerId::user(1).unwrap();
        let list = reaction_list(
            &summary(
                vec![count("👍", 1, false), count("❤", 1, true)],
                Some(vec![
                    peer_reaction(2, "👍", false),
                    peer_reaction(1, "❤", true),
                ]),
            ),
            me,
        );
        assert!(list.complete && list.own_known);
        let who: Vec<_> = list
            .reactions
            .iter()
            .map(|r| (r.reactor, r.emoji.as_str()))
            .collect();
        assert_eq!(who, [(PeerId::user(2).unwrap(), "👍"), (me, "❤")]);
    }
}
