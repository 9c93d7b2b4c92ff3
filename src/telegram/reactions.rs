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
//! It knows nothing about Matrix or which messages are worth asking about.

use grammers_client::Client;
use grammers_mtsender::InvocationError;
use grammers_session::types::PeerRef;
use grammers_tl_types as tl;

/// The most message ids one request may name.
pub const MAX_IDS_PER_REQUEST: usize = 100;

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
