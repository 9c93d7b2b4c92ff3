//! The owner's portal management commands: `unbridge` (the portal is
//! forgotten, ghosts and the bot leave, the room stays for the owner),
//! `delete-portal` (everyone is removed, so the room is gone) and `filter`
//! (which chats syncs and new portals may bridge). Both removals ask for
//! confirmation first. An unbridged group or channel is added to the filter
//! so the next sync does not bring it back; a private chat is not (the
//! filter does not apply to private chats), so the user's next message opens
//! a new room, as `pm` would. In a forum topic's room both act on that
//! room only (see [`Side::remove_topic_room`]). Nothing here talks to
//! Telegram except to resolve an `@username` given to `filter`.

use ruma::api::client::membership::get_member_events;
use ruma::api::client::state::send_state_event;
use ruma::events::room::member::MembershipState;
use ruma::events::{AnyStateEventContent, StateEventType};

use super::*;
use crate::bridge::commands::FilterChange;

/// What `unbridge` or `delete-portal` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Removal {
    /// `delete-portal`: everyone is removed.
    pub delete: bool,
    /// The owner confirmed; otherwise the bot only explains.
    pub confirmed: bool,
    /// A chat id or room id naming the portal, if not the command room's.
    pub target: Option<String>,
}

impl Side {
    /// `unbridge` or `delete-portal` sent in `reply_in`, for that room's
    /// portal or the one `removal.target` names.
    pub(super) async fn unbridge(
        &self,
        reply_in: &ruma::RoomId,
        removal: Removal,
    ) -> Result<(), PortalError> {
        let Removal {
            delete,
            confirmed,
            target,
        } = removal;
        let command = if delete { "delete-portal" } else { "unbridge" };
        let Some(portal) = self.named_portal(reply_in, target.as_deref())? else {
            let text = match &target {
                Some(target) => format!(
                    "`{target}` names no portal (give a chat id as `id` shows it, or a room id)."
                ),
                None => "This room is not a portal to a Telegram chat.".to_owned(),
            };
            self.notify_in(reply_in, &text).await;
            return Ok(());
        };
        let room_id = portal.room_id.clone();
        let title = portal.title.clone().unwrap_or_default();
        if !confirmed {
            let effect = match (delete, portal.topic) {
                (true, Some(_)) => "forget this topic's room and remove everyone from it, you included (the forum's other rooms stay)",
                (false, Some(_)) => "stop bridging this topic; the room and its history stay with you, the forum's other rooms stay bridged",
                _ if delete => "forget this portal and remove everyone from its room, you included",
                _ => "stop bridging this portal; the room and its history stay with you",
            };
            let again = match &target {
                Some(target) => format!("{command} {target} confirm"),
                None => format!("{command} confirm"),
            };
            let again = if self.management_room.as_deref() == Some(reply_in) {
                again
            } else {
                format!("{} {again}", crate::bridge::commands::PREFIX)
            };
            let what = if portal.is_topic() { "topic" } else { "chat" };
            self.notify_in(
                reply_in,
                &format!(
                    "This will {effect} (Telegram {what} \"{title}\"). Send `{again}` to go ahead."
                ),
            )
            .await;
            return Ok(());
        }
        if portal.is_topic() {
            self.remove_topic_room(&portal, delete).await?;
            if reply_in != room_id {
                self.notify_in(reply_in, "Done: the topic's room is no longer bridged.")
                    .await;
            }
            return Ok(());
        }
        self.store.portals().delete(portal.peer)?;
        let chat_id = portal.peer.bot_api_dialog_id().unwrap_or_default();
        let private = portal.kind == PortalKind::Private;
        if !delete && !private {
            // Without this the next sync would bring the chat straight back.
            let mut filter = self.chat_filter();
            if sync::change_filter(&mut filter, chat_id, false) {
                sync::store_filter(&self.store, &filter)?;
            }
        }
        self.forget_joined(&room_id);
        self.leave_space(&room_id).await;
        let goodbye = if delete {
            format!("The portal to \"{title}\" is deleted: everyone is removed from this room.")
        } else if private {
            format!(
                "This room is no longer bridged to your private chat with {title}. Their next message (or `pm`) opens a new room."
            )
        } else {
            format!(
                "This room is no longer bridged to the Telegram chat \"{title}\". Send `filter allow {chat_id}` in the management room to bridge the chat again (in a new room)."
            )
        };
        self.notify_in(&room_id, &goodbye).await;
        if reply_in != room_id {
            self.notify_in(reply_in, &goodbye).await;
        }
        self.empty_room(&room_id, delete, None).await?;
        info!(%room_id, delete, "portal removed by the owner");
        Ok(())
    }

    /// The portal of `room` or, when given, of `target` (a chat id as `id`
    /// shows it, or a room id).
    fn named_portal(
        &self,
        room: &ruma::RoomId,
        target: Option<&str>,
    ) -> Result<Option<Portal>, PortalError> {
        let portals = self.store.portals();
        Ok(match target {
            None => portals.by_room(room)?,
            Some(target) => match (
                <&ruma::RoomId>::try_from(target),
                target
                    .parse::<i64>()
                    .ok()
                    .and_then(PeerId::from_bot_api_dialog_id),
            ) {
                (Ok(room), _) => portals.by_room(room)?,
                (_, Some(peer)) => portals.by_peer(peer)?,
                _ => None,
            },
        })
    }

    /// Ghosts leave; with `everyone`, the owner and any other member are
    /// kicked (and invites withdrawn) too. The bot leaves last, giving
    /// `reason` when there is one.
    pub(super) async fn empty_room(
        &self,
        room_id: &ruma::RoomId,
        everyone: bool,
        reason: Option<&str>,
    ) -> Result<(), PortalError> {
        let request = get_member_events::v3::Request::new(room_id.to_owned());
        let members = self.client.as_bot().send(request).await?.chunk;
        let bot = self.client.bot_user_id();
        let puppets = self.puppets();
        for raw in members {
            let Ok(event) = raw.deserialize() else {
                continue;
            };
            let user = event.state_key().to_owned();
            let membership = event.membership().clone();
            if user == bot || !matches!(membership, MembershipState::Join | MembershipState::Invite)
            {
                continue;
            }
            let result = if self.is_ghost(&user) && membership == MembershipState::Join {
                puppets.leave(room_id, &user).await
            } else if self.is_ghost(&user) || everyone {
                puppets
                    .remove(room_id, &user, false, "The portal was deleted.")
                    .await
            } else {
                Ok(())
            };
            if let Err(error) = result {
                warn!(%room_id, %user, %error, "could not remove a member from the old portal");
            }
        }
        let mut leave =
            ruma::api::client::membership::leave_room::v3::Request::new(room_id.to_owned());
        leave.reason = reason.map(str::to_owned);
        self.client.as_bot().send(leave).await?;
        Ok(())
    }

    /// Whether `user` is one of this bridge's ghosts.
    fn is_ghost(&self, user: &ruma::UserId) -> bool {
        user.server_name() == self.client.bot_user_id().server_name()
            && user
                .localpart()
                .starts_with(&self.settings.bridge.ghost_prefix)
    }

    /// Takes `room_id` out of the Telegram space (an empty `m.space.child`).
    pub(super) async fn leave_space(&self, room_id: &ruma::RoomId) {
        let space = self
            .store
            .kv_get(space::SPACE_KEY)
            .ok()
            .flatten()
            .and_then(|s| OwnedRoomId::try_from(s).ok());
        let Some(space) = space else {
            return;
        };
        let empty = ruma::serde::Raw::<AnyStateEventContent>::from_json(
            serde_json::value::to_raw_value(&serde_json::json!({}))
                .unwrap_or_else(|_| Box::<serde_json::value::RawValue>::default()),
        );
        let request = send_state_event::v3::Request::new_raw(
            space,
            StateEventType::SpaceChild,
            room_id.to_string(),
            empty,
        );
        if let Err(error) = self.client.as_bot().send(request).await {
            warn!(%room_id, %error, "could not take the room out of the Telegram space");
        }
    }

    /// Forgets which ghosts this run saw joined to `room_id`.
    pub(super) fn forget_joined(&self, room_id: &ruma::RoomId) {
        self.joined
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|(room, _)| room != room_id);
    }

    /// The chat filter in force (the owner's, else the configured one).
    pub(super) fn chat_filter(&self) -> crate::config::FilterConfig {
        let configured = &self.settings.bridge.filter;
        sync::current_filter(&self.store, configured).unwrap_or_else(|error| {
            warn!(%error, "could not read the chat filter; using the configured one");
            configured.clone()
        })
    }

    /// `filter [allow|deny <chat>]` in `room_id`; returns the answer.
    pub(super) async fn filter(
        &self,
        runtime: &TelegramRuntime,
        room_id: &ruma::RoomId,
        change: Option<FilterChange>,
    ) -> Result<String, PortalError> {
        let mut filter = self.chat_filter();
        let Some(change) = change else {
            return Ok(sync::describe_filter(&filter));
        };
        let chat_id = match &change.target {
            None => match self.store.portals().by_room(room_id)? {
                Some(portal) => portal.peer.bot_api_dialog_id().unwrap_or_default(),
                None => {
                    return Ok(
                        "Say which chat: `filter allow|deny <chat id or @username>` (outside a portal room).".to_owned(),
                    )
                }
            },
            Some(target) => match target.strip_prefix('@') {
                Some(username) => match runtime.client().resolve_username(username).await? {
                    Some(peer) => peer.id().bot_api_dialog_id().unwrap_or_default(),
                    None => return Ok(format!("No Telegram chat {target} was found.")),
                },
                None => match target.parse::<i64>() {
                    Ok(id) => id,
                    Err(_) => {
                        return Ok(format!(
                            "`{target}` is neither a chat id (as `id` shows it) nor an @username."
                        ))
                    }
                },
            },
        };
        let verb = if change.allow { "allowed" } else { "denied" };
        if !sync::change_filter(&mut filter, chat_id, change.allow) {
            return Ok(format!(
                "Chat {chat_id} was already {verb}. {}",
                sync::describe_filter(&filter)
            ));
        }
        sync::store_filter(&self.store, &filter)?;
        let next = if change.allow {
            " It gets a room at its next message or `sync`."
        } else {
            " Existing rooms stay until you `unbridge` them."
        };
        Ok(format!(
            "Chat {chat_id} is now {verb}.{next} {}",
            sync::describe_filter(&filter)
        ))
    }
}
