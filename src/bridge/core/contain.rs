//! Containment for the core: each event of an appservice transaction is
//! handled inside [`contain`], so a panic while handling one event gives up
//! that event only. The transaction is still recorded as processed (the
//! homeserver does not resend it and the event is never retried), the event
//! is recorded in the quarantine, and the owner is told.
//!
//! It only wraps [`Core::handle_event`]; routing stays in the parent module.

use std::time::Instant;

use ruma::events::MessageLikeEvent;

use crate::matrix::event::TimelineEvent;
use ruma::{OwnedEventId, OwnedRoomId, UserId};
use tracing::{error, warn};

use super::{Core, CoreError};
use crate::bridge::containment::{contain, test_panic_point, PanicSite, Panicked};
use crate::bridge::notice::Notice;
use crate::bridge::persistence::{BridgePersistence, FailedEvent};
use crate::matrix::txn;

impl<P: BridgePersistence> Core<P> {
    /// [`Core::handle_event`], with a panic giving up this event alone.
    pub(super) async fn handle_event_contained(
        &self,
        event: TimelineEvent,
        received: Instant,
    ) -> Result<(), CoreError> {
        let room_id = event.room_id().to_owned();
        let event_id = event.event_id().to_owned();
        let sender = event.sender().to_owned();
        let handled = contain(async move {
            if let Some(body) = message_body(&event) {
                test_panic_point(PanicSite::Matrix, body);
            }
            self.handle_event(event, received).await
        })
        .await;
        match handled {
            Ok(result) => result,
            Err(panicked) => {
                self.give_up_event(room_id, event_id, &sender, &panicked)
                    .await;
                Ok(())
            }
        }
    }

    async fn give_up_event(
        &self,
        room_id: OwnedRoomId,
        event_id: OwnedEventId,
        sender: &UserId,
        panicked: &Panicked,
    ) {
        error!(%room_id, %event_id, reason = %panicked.reason, "handling a Matrix event panicked; it is skipped");
        let failed = FailedEvent {
            room_id: room_id.clone(),
            event_id: event_id.clone(),
            reason: panicked.reason.clone(),
        };
        if let Err(error) = self.store.quarantine_event(&failed) {
            warn!(%error, "could not record a failed event in the quarantine");
        }
        // The bridge's own events (the bot's notices, ghosts' messages) are
        // given up silently: a notice about one is itself an event of the
        // bot, which could fail the same way and start a loop of notices.
        if self.is_bot(sender) || self.is_ghost(sender) {
            return;
        }
        let whose = if *sender == self.ids.owner {
            "Your event".to_owned()
        } else {
            format!("The event of {sender}")
        };
        let management = self.management_room();
        let in_place = management.as_deref() == Some(&*room_id)
            || self.store.is_portal_room(&room_id).unwrap_or(false);
        let (notify_in, text) = if in_place {
            (
                room_id,
                format!("{whose} {event_id} could not be handled because of an {panicked}. It was skipped and will not be retried."),
            )
        } else {
            let Some(management) = management else {
                return;
            };
            (
                management,
                format!("{whose} {event_id} in {room_id} could not be handled because of an {panicked}. It was skipped and will not be retried."),
            )
        };
        let txn_id = txn::derived("contained", &[event_id.as_str()]);
        if let Err(error) = self
            .send_notice(&notify_in, txn_id, &Notice::text(&text))
            .await
        {
            warn!(%error, "could not tell the owner about a failed event");
        }
    }
}

/// The body of a text message, which the debug-only test hook looks at.
fn message_body(event: &TimelineEvent) -> Option<&str> {
    match event {
        TimelineEvent::RoomMessage(MessageLikeEvent::Original(message)) => {
            Some(message.content.body())
        }
        _ => None,
    }
}
