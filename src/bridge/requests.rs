//! The requests the Matrix side (bot commands, the owner's room changes,
//! typing and receipts) makes of the Telegram side. Plain data: the core
//! sends them, the Telegram side's loop answers them; neither needs the
//! other's code for it.

use ruma::{OwnedRoomId, OwnedUserId, RoomId};

use crate::bridge::commands::Command;

/// What the bot commands ask of the Telegram side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TelegramRequest {
    /// `sync [all]`.
    Sync {
        /// Lift the per-sync limit.
        all: bool,
    },
    /// `pm <target>`, answered in `reply_in`.
    Pm {
        /// `@username`, `+phone` or a numeric id.
        target: String,
        /// Where the command was sent.
        reply_in: OwnedRoomId,
    },
    /// `id` in `room_id`.
    Id {
        /// Where the command was sent.
        room_id: OwnedRoomId,
    },
    /// The owner invited a Telegram user's ghost to a room.
    GhostInvited {
        /// The room.
        room_id: OwnedRoomId,
        /// The ghost.
        ghost: OwnedUserId,
    },
    /// Encryption was turned on in a portal room: the bridge cannot read
    /// it any more, so the portal is detached from its chat.
    PortalEncrypted {
        /// The portal room.
        room_id: OwnedRoomId,
    },
    /// The owner renamed a room (a portal, if it is one).
    Rename {
        /// The room.
        room_id: OwnedRoomId,
        /// The new name.
        name: String,
    },
    /// The owner's events in a portal were queued in the outbox.
    OutboxQueued {
        /// The portal room.
        room_id: OwnedRoomId,
    },
    /// The owner read a room up to an event (a portal, if it is one).
    ReadUpTo {
        /// The room.
        room_id: OwnedRoomId,
        /// The newest event read.
        event_id: ruma::OwnedEventId,
    },
    /// The owner started or stopped typing in a room (a portal, if it is one).
    Typing {
        /// The room.
        room_id: OwnedRoomId,
        /// Whether the owner is typing now.
        typing: bool,
    },
    /// The owner changed a room's topic (a portal's, if it is one).
    Topic {
        /// The room.
        room_id: OwnedRoomId,
        /// The new topic.
        topic: String,
    },
    /// The owner changed or removed a room's avatar.
    Avatar {
        /// The room.
        room_id: OwnedRoomId,
        /// The new picture; `None` when removed.
        url: Option<ruma::OwnedMxcUri>,
    },
    /// `unbridge` or `delete-portal` in `room_id`.
    Unbridge {
        /// Where the command was sent.
        room_id: OwnedRoomId,
        /// `delete-portal`: everyone is removed.
        delete: bool,
        /// The owner confirmed.
        confirmed: bool,
        /// A chat id or room id naming the portal, if not `room_id`'s.
        target: Option<String>,
    },
    /// `topics [chat] [open <topic>]`, answered in `room_id`.
    Topics {
        /// Where the command was sent.
        room_id: OwnedRoomId,
        /// The forum named (a chat id), if not `room_id`'s chat.
        chat: Option<String>,
        /// The topic whose room to open; `None` lists the topics.
        open: Option<i32>,
    },
    /// `filter [allow|deny <chat>]`, answered in `room_id`.
    Filter {
        /// Where the command was sent.
        room_id: OwnedRoomId,
        /// The change; `None` shows the filter.
        change: Option<crate::bridge::commands::FilterChange>,
    },
}

impl TelegramRequest {
    /// The request a bot command sent in `room_id` makes of the Telegram
    /// side, for the commands the Telegram side answers; the command
    /// itself back for the others.
    pub fn for_command(command: Command, room_id: &RoomId) -> Result<Self, Command> {
        let room_id = room_id.to_owned();
        Ok(match command {
            Command::Pm { target } => TelegramRequest::Pm {
                target,
                reply_in: room_id,
            },
            Command::Id => TelegramRequest::Id { room_id },
            Command::Unbridge { confirmed, target } => TelegramRequest::Unbridge {
                room_id,
                delete: false,
                confirmed,
                target,
            },
            Command::DeletePortal { confirmed, target } => TelegramRequest::Unbridge {
                room_id,
                delete: true,
                confirmed,
                target,
            },
            Command::Filter { change } => TelegramRequest::Filter { room_id, change },
            Command::Topics { chat, open } => TelegramRequest::Topics {
                room_id,
                chat,
                open,
            },
            other => return Err(other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_commands_become_requests_and_the_rest_stay_commands() {
        let room: OwnedRoomId = "!r:example.org".try_into().unwrap();
        let delete = Command::DeletePortal {
            confirmed: true,
            target: Some("42".into()),
        };
        assert_eq!(
            TelegramRequest::for_command(delete, &room),
            Ok(TelegramRequest::Unbridge {
                room_id: room.clone(),
                delete: true,
                confirmed: true,
                target: Some("42".into()),
            })
        );
        assert_eq!(
            TelegramRequest::for_command(Command::Ping, &room),
            Err(Command::Ping)
        );
    }
}
