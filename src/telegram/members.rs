//! Chat membership as the bridge needs it: what a service message says
//! about members, and whether a supergroup or channel lists a user as
//! banned. Reads Telegram's types into plain values; knows nothing about
//! Matrix or portals.

use grammers_client::message::Message;
use grammers_client::Client;
use grammers_mtsender::InvocationError;
use grammers_session::types::PeerRef;
use grammers_tl_types as tl;

/// What a service message says about a chat's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberChange {
    /// These users were added.
    Added(Vec<i64>),
    /// The sender joined (by link or accepted request).
    SenderJoined,
    /// This user left or was removed (by the sender, if not themselves).
    Removed(i64),
}

/// The member change a service message announces, if any.
pub fn member_change(message: &Message) -> Option<MemberChange> {
    use tl::enums::MessageAction as A;
    match message.action()? {
        A::ChatAddUser(added) => Some(MemberChange::Added(added.users.clone())),
        A::ChatJoinedByLink(_) | A::ChatJoinedByRequest => Some(MemberChange::SenderJoined),
        A::ChatDeleteUser(removed) => Some(MemberChange::Removed(removed.user_id)),
        _ => None,
    }
}

/// Whether the supergroup or channel `channel` lists `user` as banned
/// (kept from reading it, not only restricted).
pub async fn is_banned(
    client: &Client,
    channel: PeerRef,
    user: PeerRef,
) -> Result<bool, InvocationError> {
    let request = tl::functions::channels::GetParticipant {
        channel: tl::enums::InputChannel::from(&channel),
        participant: user.into(),
    };
    let tl::enums::channels::ChannelParticipant::Participant(found) =
        client.invoke(&request).await?;
    Ok(matches!(
        found.participant,
        tl::enums::ChannelParticipant::Banned(ref banned)
            if matches!(&banned.banned_rights, tl::enums::ChatBannedRights::Rights(r) if r.view_messages)
    ))
}
