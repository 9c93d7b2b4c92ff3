//! Telegram service messages and pins → Matrix. Calls, screenshots and
//! other actions become readable notices from the acting user's ghost;
//! pinning and unpinning edits the room's `m.room.pinned_events`. Actions
//! about the chat itself (members, title, photo, migration) are handed to
//! the metadata side through [`Side::on_chat_action`]. It never sends
//! anything to Telegram.

use grammers_tl_types as tl;
use ruma::api::client::state::{get_state_event_for_key, send_state_event};
use ruma::events::room::pinned_events::RoomPinnedEventsEventContent;
use ruma::events::{EmptyStateKey, StateEventType};

use super::inbound::scope_key;
use super::*;

/// What a service message becomes in Matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ServiceOutcome {
    /// A notice from the acting user with this text.
    Notice(String),
    /// A change of the chat itself, for the metadata side.
    ChatAction,
    /// Nothing visible (e.g. the pin notice: the pinned events show it).
    Nothing,
}

/// Decides what a service action becomes. Pure.
pub(super) fn service_outcome(action: &tl::enums::MessageAction) -> ServiceOutcome {
    use tl::enums::MessageAction as A;
    let notice = |text: &str| ServiceOutcome::Notice(text.to_owned());
    match action {
        A::ChatCreate(_)
        | A::ChannelCreate(_)
        | A::ChatEditTitle(_)
        | A::ChatEditPhoto(_)
        | A::ChatDeletePhoto
        | A::ChatAddUser(_)
        | A::ChatDeleteUser(_)
        | A::ChatJoinedByLink(_)
        | A::ChatJoinedByRequest
        | A::ChatMigrateTo(_)
        | A::ChannelMigrateFrom(_) => ServiceOutcome::ChatAction,
        A::Empty | A::PinMessage | A::HistoryClear => ServiceOutcome::Nothing,
        A::PhoneCall(call) => ServiceOutcome::Notice(call_notice(call)),
        A::GroupCall(call) => ServiceOutcome::Notice(match call.duration {
            Some(seconds) => format!("Video chat ended ({})", duration_text(seconds)),
            None => "Started a video chat".to_owned(),
        }),
        A::GroupCallScheduled(_) => notice("Scheduled a video chat"),
        A::InviteToGroupCall(_) => notice("Invited members to the video chat"),
        A::ConferenceCall(_) => notice("Started a group call"),
        A::ScreenshotTaken => notice("Took a screenshot"),
        A::ContactSignUp => notice("Joined Telegram"),
        A::CustomAction(custom) => ServiceOutcome::Notice(custom.message.clone()),
        A::GameScore(score) => ServiceOutcome::Notice(format!("Scored {} in a game", score.score)),
        A::SetMessagesTtl(ttl) => ServiceOutcome::Notice(match ttl.period {
            0 => "Turned off auto-delete for new messages".to_owned(),
            seconds => format!(
                "Set new messages to be deleted automatically after {}",
                duration_text(seconds)
            ),
        }),
        A::SetChatTheme(_) => notice("Changed the chat theme"),
        A::SetChatWallPaper(_) => notice("Changed the chat wallpaper"),
        other => ServiceOutcome::Notice(format!(
            "Did something Telegram shows as a service message ({}) that the bridge cannot show",
            action_name(other)
        )),
    }
}

/// The notice for a private call.
fn call_notice(call: &tl::types::MessageActionPhoneCall) -> String {
    use tl::enums::PhoneCallDiscardReason as R;
    let kind = if call.video { "Video call" } else { "Call" };
    match (&call.reason, call.duration) {
        (Some(R::Missed), _) => format!("Missed {}", kind.to_lowercase()),
        (Some(R::Busy), _) => format!("{kind} declined"),
        (_, Some(seconds)) if seconds > 0 => format!("{kind} ({})", duration_text(seconds)),
        _ => format!("{kind} ended"),
    }
}

/// `1 h 2 min`, `3 min 4 s`, `5 s`.
fn duration_text(seconds: i32) -> String {
    let seconds = seconds.max(0);
    let (hours, minutes, secs) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    match (hours, minutes) {
        (0, 0) => format!("{secs} s"),
        (0, _) => format!("{minutes} min {secs} s"),
        _ => format!("{hours} h {minutes} min"),
    }
}

/// A TL action's name in words: `MessageActionGiftPremium` → `gift premium`.
fn action_name(action: &tl::enums::MessageAction) -> String {
    let debug = format!("{action:?}");
    let name = debug.split(['(', ' ', '{']).next().unwrap_or_default();
    let mut words = String::new();
    for (index, c) in name.chars().enumerate() {
        if c.is_uppercase() && index > 0 {
            words.push(' ');
        }
        words.extend(c.to_lowercase());
    }
    words
}

/// The pinned events after pinning or unpinning `events`; newest pins last,
/// as Matrix clients expect. `None` when nothing changes.
pub(super) fn apply_pins(
    current: &[ruma::OwnedEventId],
    events: &[ruma::OwnedEventId],
    pinned: bool,
) -> Option<Vec<ruma::OwnedEventId>> {
    let mut next: Vec<ruma::OwnedEventId> = current.to_vec();
    if pinned {
        for event in events {
            if !next.contains(event) {
                next.push(event.clone());
            }
        }
    } else {
        next.retain(|event| !events.contains(event));
    }
    (next != current).then_some(next)
}

impl Side {
    /// Bridges a service message of a portal's chat.
    pub(super) async fn on_service_message(
        &self,
        portal: &Portal,
        message: &Message,
    ) -> Result<(), PortalError> {
        let Some(action) = message.action() else {
            return Ok(());
        };
        let scope = self.scope_of(portal.peer);
        if self.already_bridged(scope, message.id())? {
            return Ok(());
        }
        match service_outcome(action) {
            ServiceOutcome::Notice(text) => {
                let sender = self.sender_of(message).await?;
                self.ensure_joined(&portal.room_id, &sender).await?;
                let content = RoomMessageEventContent::notice_plain(text);
                let txn_id = txn::derived("tg", &[&scope_key(scope), &message.id().to_string()]);
                let request =
                    send_message_event::v3::Request::new(portal.room_id.clone(), txn_id, &content)
                        .map_err(|e| PortalError::Build(e.to_string()))?;
                let event_id = self.send_as(&sender, request).await?;
                self.store.messages().insert(&MessageMapping {
                    scope,
                    tg_msg_id: message.id(),
                    part: 0,
                    chat: portal.peer,
                    room_id: portal.room_id.clone(),
                    event_id,
                    sent_by_bridge: false,
                })?;
                return Ok(());
            }
            ServiceOutcome::ChatAction => self.on_chat_action(portal, message).await?,
            ServiceOutcome::Nothing => {}
        }
        self.store
            .messages()
            .mark_handled(portal.peer, message.id())?;
        Ok(())
    }

    /// Mirrors pinned or unpinned Telegram messages into the room's pinned
    /// events (messages never bridged are skipped).
    pub(super) async fn on_pinned(
        &self,
        chat: PeerId,
        ids: &[i32],
        pinned: bool,
    ) -> Result<(), PortalError> {
        if self.store.portals().by_peer(chat)?.is_none() {
            return Ok(());
        }
        let scope = self.scope_of(chat);
        // Each message's pin goes to the room it is in: a forum's messages
        // are spread over its topics' rooms.
        let mut by_room: std::collections::BTreeMap<OwnedRoomId, Vec<ruma::OwnedEventId>> =
            std::collections::BTreeMap::new();
        for &id in ids {
            if let Some(part) = self
                .store
                .messages()
                .by_telegram(scope, id)?
                .into_iter()
                .next()
            {
                by_room.entry(part.room_id).or_default().push(part.event_id);
            }
        }
        for (room_id, events) in by_room {
            let current = self.pinned_events(&room_id).await?;
            let Some(next) = apply_pins(&current, &events, pinned) else {
                continue;
            };
            let content = RoomPinnedEventsEventContent::new(next);
            let request = send_state_event::v3::Request::new(room_id, &EmptyStateKey, &content)
                .map_err(|e| PortalError::Build(e.to_string()))?;
            self.client.as_bot().send(request).await?;
        }
        Ok(())
    }

    /// The room's pinned events (none when the state was never set).
    async fn pinned_events(
        &self,
        room_id: &ruma::RoomId,
    ) -> Result<Vec<ruma::OwnedEventId>, PortalError> {
        let request = get_state_event_for_key::v3::Request::new(
            room_id.to_owned(),
            StateEventType::RoomPinnedEvents,
            String::new(),
        );
        match self.client.as_bot().send(request).await {
            Ok(response) => {
                let content: RoomPinnedEventsEventContent =
                    serde_json::from_str(response.event_or_content.get())
                        .map_err(|e| PortalError::Build(e.to_string()))?;
                Ok(content.pinned)
            }
            Err(error) if error.errcode() == Some("M_NOT_FOUND") => Ok(Vec::new()),
            Err(error) => Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u8) -> ruma::OwnedEventId {
        ruma::OwnedEventId::try_from(format!("$e{n}:example.org")).unwrap()
    }

    #[test]
    fn calls_read_like_telegram_shows_them() {
        let call = |video, reason, duration| {
            tl::enums::MessageAction::PhoneCall(tl::types::MessageActionPhoneCall {
                video,
                call_id: 1,
                reason,
                duration,
            })
        };
        use tl::enums::PhoneCallDiscardReason as R;
        let text = |action| match service_outcome(&action) {
            ServiceOutcome::Notice(text) => text,
            other => panic!("{other:?}"),
        };
        assert_eq!(text(call(false, Some(R::Missed), None)), "Missed call");
        assert_eq!(text(call(true, Some(R::Missed), None)), "Missed video call");
        assert_eq!(text(call(false, Some(R::Busy), None)), "Call declined");
        assert_eq!(
            text(call(false, Some(R::Hangup), Some(125))),
            "Call (2 min 5 s)"
        );
        assert_eq!(
            text(call(true, Some(R::Hangup), Some(3700))),
            "Video call (1 h 1 min)"
        );
        assert_eq!(text(call(false, None, None)), "Call ended");
        assert_eq!(
            text(tl::enums::MessageAction::ScreenshotTaken),
            "Took a screenshot"
        );
    }

    #[test]
    fn chat_changes_go_to_the_metadata_side_and_pins_show_as_state() {
        let title =
            tl::enums::MessageAction::ChatEditTitle(tl::types::MessageActionChatEditTitle {
                title: "x".into(),
            });
        assert_eq!(service_outcome(&title), ServiceOutcome::ChatAction);
        assert_eq!(
            service_outcome(&tl::enums::MessageAction::PinMessage),
            ServiceOutcome::Nothing
        );
    }

    #[test]
    fn unknown_actions_are_named_in_words() {
        let outcome = service_outcome(&tl::enums::MessageAction::ChatJoinedByRequest);
        assert_eq!(outcome, ServiceOutcome::ChatAction);
        let boost =
            tl::enums::MessageAction::BoostApply(tl::types::MessageActionBoostApply { boosts: 1 });
        assert_eq!(
            service_outcome(&boost),
            ServiceOutcome::Notice(
                "Did something Telegram shows as a service message (boost apply) that the bridge cannot show".into()
            )
        );
    }

    #[test]
    fn pins_add_once_and_unpins_remove() {
        let pinned = apply_pins(&[event(1)], &[event(2), event(1)], true).unwrap();
        assert_eq!(pinned, vec![event(1), event(2)]);
        assert_eq!(apply_pins(&pinned, &[event(2)], true), None);
        assert_eq!(
            apply_pins(&pinned, &[event(1)], false),
            Some(vec![event(2)])
        );
        assert_eq!(apply_pins(&[], &[event(1)], false), None);
    }
}
