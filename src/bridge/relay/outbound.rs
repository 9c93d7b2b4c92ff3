//! Matrix → Telegram: the owner's messages, edits, replies, reactions,
//! redactions and pins in portal rooms, plus their typing and read receipts.
//!
//! The core queues the owner's portal events in the store's outbox while it
//! processes a transaction; here one worker per portal room drains that
//! queue in order, each event under the chat's send lock: sent with a
//! `random_id` derived from the event id, then recorded in the message map
//! and removed from the outbox in one database transaction. A crash in
//! between resends the event on start, which Telegram refuses as a
//! duplicate; the bridge then finds the message it already sent. A failure
//! ends in a notice in the room saying what went wrong, never in silence.
//!
//! It never sends Matrix messages other than those notices, and leaves file
//! uploads to [`super::outbound_media`].

use std::collections::HashSet;

use grammers_mtsender::InvocationError;
use grammers_tl_types as tl;
use ruma::events::room::message::{MessageType, Relation, RoomMessageEventContent};
use ruma::events::{MessageLikeEvent, StateEvent};

use crate::matrix::event::TimelineEvent;
use ruma::{EventId, OwnedEventId, RoomId};
use tokio::sync::OwnedMutexGuard;

use super::outbound_plan::{self, AllowedReactions, OutboundError, MAX_PARTS};
use super::*;
use crate::bridge::containment::{contain, test_panic_point, PanicSite};
use crate::convert::{
    matrix_to_telegram, split_for_telegram, strip_reply_fallback, MentionResolver, TelegramMention,
    TELEGRAM_TEXT_LIMIT,
};
use crate::store::{OutboundReaction, OutboxEntry, ReactionMapping, StoreError};

/// What a portal room's outbound worker is asked to do.
#[derive(Debug)]
pub(super) enum OutboundSignal {
    /// New events are in the outbox.
    Drain,
    /// The owner read the room up to this event.
    ReadUpTo(OwnedEventId),
    /// The owner started (`true`) or stopped typing.
    Typing(bool),
}

/// How often a transient failure (network, database) is retried before the
/// owner is told and the event is given up.
const TRANSIENT_TRIES: u32 = 5;

/// The first pause after a transient failure; it grows with each try.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// The longest pause between tries while Telegram is out of reach.
const UNREACHABLE_PAUSE: Duration = Duration::from_secs(10);

/// Key prefix in the key-value table for the pinned events last bridged in a
/// room, used when the homeserver does not include the previous state.
const PINS_KEY_PREFIX: &str = "outbound_pins:";

/// One queued event being delivered, with what every step needs.
pub(super) struct Delivery<'a> {
    /// The queued event.
    pub entry: &'a OutboxEntry,
    /// Its portal.
    pub portal: &'a Portal,
    /// The Telegram chat, with its access hash.
    pub chat: PeerRef,
    /// The Telegram client.
    pub client: &'a grammers_client::Client,
    /// Whose numbering the chat's message ids are in.
    pub scope: MessageScope,
}

impl Side {
    /// Hands the outbound requests (queued events, typing, receipts) to their
    /// portal's worker without waiting; returns any other request.
    pub(super) fn route_outbound(
        self: &Arc<Self>,
        request: TelegramRequest,
    ) -> Option<TelegramRequest> {
        let (room_id, signal) = match request {
            TelegramRequest::OutboxQueued { room_id } => (room_id, OutboundSignal::Drain),
            TelegramRequest::ReadUpTo { room_id, event_id } => {
                (room_id, OutboundSignal::ReadUpTo(event_id))
            }
            TelegramRequest::Typing { room_id, typing } => {
                (room_id, OutboundSignal::Typing(typing))
            }
            other => return Some(other),
        };
        // Typing and receipts arrive for every room the bot is in.
        if matches!(self.store.portals().by_room(&room_id), Ok(Some(_))) {
            // Fails only if the worker ended, which it does only at shutdown.
            let _ = self.outbound_queue(&room_id, None).send(signal);
        }
        None
    }

    /// Starts the workers of rooms with events left in the outbox by the
    /// last run. Each takes its chat's send lock before the update stream is
    /// read, so the echo of a message sent just before a crash is matched to
    /// its event instead of being bridged back.
    pub(super) async fn resume_outbox(self: &Arc<Self>) {
        let rooms = match self.store.outbox().pending_rooms() {
            Ok(rooms) => rooms,
            Err(error) => return warn!(%error, "could not read the outbox"),
        };
        for room_id in rooms {
            let portal = self.store.portals().by_room(&room_id);
            let held = match portal {
                Ok(Some(portal)) => Some(self.send_lock(portal.peer).lock_owned().await),
                _ => None,
            };
            info!(%room_id, "resuming the delivery of queued Matrix events");
            let _ = self
                .outbound_queue(&room_id, held)
                .send(OutboundSignal::Drain);
        }
    }

    /// The room's worker queue, starting the worker on first use; `held` is
    /// a send lock the worker keeps until its first drain is done.
    fn outbound_queue(
        self: &Arc<Self>,
        room_id: &RoomId,
        held: Option<OwnedMutexGuard<()>>,
    ) -> mpsc::UnboundedSender<OutboundSignal> {
        let mut workers = self
            .outbound
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(queue) = workers.get(room_id).filter(|q| !q.is_closed()) {
            return queue.clone();
        }
        let (queue, signals) = mpsc::unbounded_channel();
        let side = Arc::clone(self);
        tokio::spawn(side.outbound_worker(room_id.to_owned(), signals, held));
        workers.insert(room_id.to_owned(), queue.clone());
        queue
    }

    async fn outbound_worker(
        self: Arc<Self>,
        room_id: OwnedRoomId,
        mut signals: mpsc::UnboundedReceiver<OutboundSignal>,
        mut held: Option<OwnedMutexGuard<()>>,
    ) {
        // Typing notifications list everyone typing in the room; only a
        // change of the owner's own state is worth a call.
        let mut owner_typing = false;
        // The same receipt can arrive twice: pushed by the homeserver and
        // read from the bot's sync while the bridge finds out which it gets.
        let mut last_read: Option<OwnedEventId> = None;
        while let Some(signal) = signals.recv().await {
            match signal {
                OutboundSignal::Drain => self.drain_outbox(&room_id, &mut held).await,
                OutboundSignal::ReadUpTo(event_id) if last_read.as_ref() == Some(&event_id) => {}
                OutboundSignal::ReadUpTo(event_id) => {
                    last_read = Some(event_id.clone());
                    // Events before the receipt first, so it can point at them.
                    self.drain_outbox(&room_id, &mut held).await;
                    match contain(self.mark_read(&room_id, &event_id)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(error)) => {
                            debug!(%room_id, %error, "could not mark the Telegram chat read")
                        }
                        Err(panicked) => {
                            warn!(%room_id, reason = %panicked.reason, "marking the Telegram chat read panicked")
                        }
                    }
                }
                OutboundSignal::Typing(typing) if typing == owner_typing && !typing => {}
                OutboundSignal::Typing(typing) => {
                    owner_typing = typing;
                    match contain(self.send_typing(&room_id, typing)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(error)) => {
                            debug!(%room_id, %error, "could not send typing to Telegram")
                        }
                        Err(panicked) => {
                            warn!(%room_id, reason = %panicked.reason, "sending typing to Telegram panicked")
                        }
                    }
                }
            }
        }
    }

    /// Delivers the room's queued events in order until none is left.
    async fn drain_outbox(&self, room_id: &RoomId, held: &mut Option<OwnedMutexGuard<()>>) {
        let mut tries = 0;
        let mut unreachable: u32 = 0;
        loop {
            let entry = match self.store.outbox().next_in_room(room_id) {
                Ok(Some(entry)) => entry,
                Ok(None) => break,
                Err(error) => {
                    warn!(%room_id, %error, "could not read the outbox");
                    break;
                }
            };
            let delivered = match contain(self.deliver(&entry, held.is_some())).await {
                Ok(delivered) => delivered,
                Err(panicked) => {
                    tries = 0;
                    if self.give_up_outbox_entry(&entry, &panicked).await {
                        continue;
                    }
                    break;
                }
            };
            match delivered {
                Ok(()) => {
                    tries = 0;
                    unreachable = 0;
                }
                Err(error) if error.waits_for_telegram() => {
                    unreachable += 1;
                    if unreachable == 1 {
                        info!(%room_id, %error, "Telegram is out of reach; the room's events wait until it is back");
                    }
                    tokio::time::sleep((RETRY_PAUSE * unreachable).min(UNREACHABLE_PAUSE)).await;
                }
                Err(error) if error.is_transient() && tries < TRANSIENT_TRIES => {
                    tries += 1;
                    debug!(%room_id, %error, tries, "delivery to Telegram failed; retrying");
                    tokio::time::sleep(RETRY_PAUSE * tries).await;
                }
                Err(error) => {
                    tries = 0;
                    warn!(%room_id, event_id = %entry.event_id, %error, "could not deliver an event to Telegram");
                    let what = outbound_plan::describe_event(&entry.event);
                    self.notify_in(
                        room_id,
                        &format!("Your {what} could not be delivered to Telegram: {error}."),
                    )
                    .await;
                    if let Err(error) = self.store.outbox().remove(entry.seq) {
                        warn!(%error, "could not remove an undeliverable event from the outbox");
                        break;
                    }
                }
            }
        }
        *held = None;
    }

    /// Delivers one queued event; on success it is no longer queued.
    async fn deliver(&self, entry: &OutboxEntry, locked: bool) -> Result<(), OutboundError> {
        let Some(portal) = self.store.portals().by_room(&entry.room_id)? else {
            return Err(OutboundError::Unsupported(
                "the room is no longer bridged to a Telegram chat".to_owned(),
            ));
        };
        let lock = self.send_lock(portal.peer);
        let _sending = match locked {
            true => None,
            false => Some(lock.lock().await),
        };
        let event: TimelineEvent = serde_json::from_str(&entry.event)
            .map_err(|e| OutboundError::InvalidEvent(e.to_string()))?;
        let client = self.telegram.get().ok_or(OutboundError::NotConnected)?;
        let chat = self
            .cached_ref(portal.peer)
            .await
            .ok_or(OutboundError::UnknownChat)?;
        let self_id = self.self_id.load(std::sync::atomic::Ordering::Acquire);
        let delivery = Delivery {
            entry,
            portal: &portal,
            chat,
            client,
            scope: MessageScope::of_chat(portal.peer, self_id),
        };
        match event {
            TimelineEvent::RoomMessage(MessageLikeEvent::Original(message)) => {
                self.deliver_message(&delivery, message.content).await
            }
            TimelineEvent::Sticker(MessageLikeEvent::Original(_)) => {
                self.send_media(&delivery).await
            }
            TimelineEvent::Reaction(MessageLikeEvent::Original(reaction)) => {
                let annotation = reaction.content.relates_to;
                self.deliver_reaction(&delivery, &annotation.event_id, &annotation.key)
                    .await
            }
            TimelineEvent::RoomRedaction(_) => match outbound_plan::redacted_event(&entry.event) {
                Some(redacts) => self.deliver_redaction(&delivery, &redacts).await,
                None => self.done(&delivery),
            },
            TimelineEvent::RoomPinnedEvents(StateEvent::Original(pins)) => {
                self.deliver_pins(&delivery, &pins.content.pinned).await
            }
            TimelineEvent::RoomName(StateEvent::Original(name)) => {
                let changed = self
                    .rename_on_telegram(client, &entry.room_id, &name.content.name)
                    .await;
                self.chat_info_changed(&delivery, changed)
            }
            TimelineEvent::RoomTopic(StateEvent::Original(topic)) => {
                let changed = self
                    .topic_on_telegram(client, &entry.room_id, &topic.content.topic)
                    .await;
                self.chat_info_changed(&delivery, changed)
            }
            TimelineEvent::RoomAvatar(StateEvent::Original(avatar)) => {
                let changed = self
                    .avatar_on_telegram(client, &entry.room_id, avatar.content.url)
                    .await;
                self.chat_info_changed(&delivery, changed)
            }
            _ => self.done(&delivery),
        }
    }

    /// Removes a handled event from the outbox.
    /// The outcome of a change of the chat's title, description or photo:
    /// done when applied or refused (the owner was told), kept queued
    /// while Telegram is out of reach.
    fn chat_info_changed(
        &self,
        delivery: &Delivery<'_>,
        changed: Result<(), PortalError>,
    ) -> Result<(), OutboundError> {
        match changed {
            Ok(()) => self.done(delivery),
            Err(PortalError::Telegram(crate::telegram::CallError::Invocation(error))) => {
                Err(error.into())
            }
            Err(PortalError::Telegram(error @ crate::telegram::CallError::TimedOut(_))) => {
                Err(OutboundError::Network(error.to_string()))
            }
            Err(PortalError::Store(error)) => Err(error.into()),
            Err(other) => Err(OutboundError::Refused(other.to_string())),
        }
    }

    fn done(&self, delivery: &Delivery<'_>) -> Result<(), OutboundError> {
        self.store.outbox().remove(delivery.entry.seq)?;
        Ok(())
    }

    async fn deliver_message(
        &self,
        delivery: &Delivery<'_>,
        content: RoomMessageEventContent,
    ) -> Result<(), OutboundError> {
        let reply_to = match &content.relates_to {
            Some(Relation::Replacement(replacement)) => {
                return self
                    .deliver_edit(
                        delivery,
                        &replacement.event_id,
                        &replacement.new_content.msgtype,
                    )
                    .await;
            }
            Some(Relation::Reply(reply)) => vec![&*reply.in_reply_to.event_id],
            // A message in a thread answers the thread's latest message
            // (what `m.in_reply_to` names), or its root when that one never
            // reached Telegram.
            Some(Relation::Thread(thread)) => thread
                .in_reply_to
                .iter()
                .map(|reply| &*reply.event_id)
                .chain([&*thread.event_id])
                .collect(),
            _ => Vec::new(),
        };
        if outbound_plan::is_media(&content.msgtype) {
            return self.send_media(delivery).await;
        }
        let Some((body, html)) = outbound_plan::text_of(&content.msgtype) else {
            return Err(OutboundError::Unsupported(format!(
                "{} messages have no Telegram counterpart",
                content.msgtype.msgtype()
            )));
        };
        test_panic_point(PanicSite::Outbox, &body);
        let mut reply_to_id = None;
        for event_id in &reply_to {
            reply_to_id = self.telegram_id_of(event_id)?;
            if reply_to_id.is_some() {
                break;
            }
        }
        let body = match reply_to.is_empty() {
            false => strip_reply_fallback(&body),
            true => &body,
        };
        let text = matrix_to_telegram(body, html.as_deref(), &self.mentions());
        let parts = split_for_telegram(text, TELEGRAM_TEXT_LIMIT);
        if parts.iter().all(|part| part.text.trim().is_empty()) {
            return Err(OutboundError::Unsupported(
                "Telegram does not accept empty messages".to_owned(),
            ));
        }
        if parts.len() > MAX_PARTS {
            return Err(OutboundError::TooLong { parts: parts.len() });
        }
        let sent: HashSet<u32> = self
            .store
            .messages()
            .by_event(&delivery.entry.event_id)?
            .iter()
            .map(|m| m.part)
            .collect();
        let last = parts.len() - 1;
        for (index, part) in parts.into_iter().enumerate() {
            let part_no = u32::try_from(index).unwrap_or(u32::MAX);
            if sent.contains(&part_no) {
                // Sent before a restart, or this is the echo of a message
                // that came from Telegram as the double-puppeted owner.
                if index == last {
                    self.done(delivery)?;
                }
                continue;
            }
            let entities =
                crate::telegram::entities::to_tl(&self.input_entities(part.entities).await);
            let random_id = outbound_plan::random_id(&delivery.entry.event_id, index);
            let message_id = self
                .send_text_part(delivery, part.text, entities, reply_to_id, random_id)
                .await?;
            self.record_sent(delivery, part_no, message_id, index == last)?;
        }
        Ok(())
    }

    /// Records that part `part` of the queued event became Telegram message
    /// `message_id`; with `last`, the event leaves the outbox in the same
    /// database transaction.
    pub(super) fn record_sent(
        &self,
        delivery: &Delivery<'_>,
        part: u32,
        message_id: i32,
        last: bool,
    ) -> Result<(), OutboundError> {
        let mapping = MessageMapping {
            scope: delivery.scope,
            tg_msg_id: message_id,
            part,
            chat: delivery.portal.peer,
            room_id: delivery.portal.room_id.clone(),
            event_id: delivery.entry.event_id.clone(),
            sent_by_bridge: true,
        };
        self.store.transaction(|tx| {
            tx.messages().insert(&mapping)?;
            if last {
                tx.outbox().remove(delivery.entry.seq)?;
            }
            Ok::<_, StoreError>(())
        })?;
        Ok(())
    }

    pub(super) async fn send_text_part(
        &self,
        delivery: &Delivery<'_>,
        text: String,
        entities: Vec<tl::enums::MessageEntity>,
        reply_to: Option<i32>,
        random_id: i64,
    ) -> Result<i32, OutboundError> {
        let request = tl::functions::messages::SendMessage {
            no_webpage: false,
            silent: false,
            background: false,
            clear_draft: false,
            noforwards: false,
            update_stickersets_order: false,
            invert_media: false,
            allow_paid_floodskip: false,
            peer: (&delivery.chat).into(),
            // In a forum topic's room every message goes to that topic.
            reply_to: crate::telegram::answer::reply_in(reply_to, delivery.portal.topic),
            message: text.clone(),
            random_id,
            reply_markup: None,
            entities: (!entities.is_empty()).then_some(entities),
            schedule_date: None,
            schedule_repeat_period: None,
            send_as: None,
            quick_reply_shortcut: None,
            effect: None,
            allow_paid_stars: None,
            suggested_post: None,
            rich_message: None,
        };
        match delivery.client.invoke(&request).await {
            Ok(updates) => outbound_plan::sent_message_id(&updates, random_id).ok_or_else(|| {
                OutboundError::Refused("Telegram's answer named no message".to_owned())
            }),
            Err(InvocationError::Rpc(rpc)) if rpc.is("RANDOM_ID_DUPLICATE") => {
                self.find_already_sent(delivery, &text).await
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The message a send before a crash already created: the oldest recent
    /// outgoing message with this text that the message map does not know.
    async fn find_already_sent(
        &self,
        delivery: &Delivery<'_>,
        text: &str,
    ) -> Result<i32, OutboundError> {
        let mut history = delivery.client.iter_messages(delivery.chat).limit(100);
        let mut found = None;
        while let Some(message) = history.next().await? {
            if message.outgoing()
                && message.text() == text
                && self
                    .store
                    .messages()
                    .by_telegram(delivery.scope, message.id())?
                    .is_empty()
            {
                found = Some(message.id());
            }
        }
        info!(
            found = found.is_some(),
            "Telegram already had a resent message"
        );
        found.ok_or_else(|| OutboundError::Refused("RANDOM_ID_DUPLICATE".to_owned()))
    }

    async fn deliver_edit(
        &self,
        delivery: &Delivery<'_>,
        target: &EventId,
        new: &MessageType,
    ) -> Result<(), OutboundError> {
        let target_id = self
            .telegram_id_of(target)?
            .ok_or(OutboundError::UnknownTarget)?;
        let Some((body, html)) = outbound_plan::text_of(new) else {
            return Err(OutboundError::Unsupported(
                "only the text of a message can be edited on Telegram".to_owned(),
            ));
        };
        let text = matrix_to_telegram(&body, html.as_deref(), &self.mentions());
        let mut parts = split_for_telegram(text, TELEGRAM_TEXT_LIMIT);
        if parts.len() != 1 {
            return Err(OutboundError::TooLong { parts: parts.len() });
        }
        let part = parts.remove(0);
        let entities = crate::telegram::entities::to_tl(&self.input_entities(part.entities).await);
        let request = tl::functions::messages::EditMessage {
            no_webpage: false,
            invert_media: false,
            peer: (&delivery.chat).into(),
            id: target_id,
            message: Some(part.text),
            media: None,
            reply_markup: None,
            entities: Some(entities),
            schedule_date: None,
            schedule_repeat_period: None,
            quick_reply_shortcut_id: None,
            rich_message: None,
        };
        let answer = match delivery.client.invoke(&request).await {
            Ok(updates) => Some(updates),
            Err(InvocationError::Rpc(rpc)) if rpc.is("MESSAGE_NOT_MODIFIED") => None,
            Err(error) => return Err(error.into()),
        };
        // Under the chat's send lock: the echo of this edit finds it recorded.
        if let Some(stamp) = answer
            .as_ref()
            .and_then(|updates| crate::telegram::answer::edit_stamp_of(updates, target_id))
        {
            self.store
                .messages()
                .record_edit(delivery.scope, target_id, &stamp)?;
        }
        self.done(delivery)
    }

    async fn deliver_reaction(
        &self,
        delivery: &Delivery<'_>,
        target: &EventId,
        key: &str,
    ) -> Result<(), OutboundError> {
        let target_id = self
            .telegram_id_of(target)?
            .ok_or(OutboundError::UnknownTarget)?;
        let allowed = self.allowed_reactions(delivery).await;
        let emoji = outbound_plan::pick_reaction(key, &allowed)
            .ok_or_else(|| OutboundError::ReactionNotAllowed(key.to_owned()))?;
        let mut emojis: Vec<String> = self
            .store
            .outbox()
            .reactions_on(target)?
            .into_iter()
            .map(|r| r.emoji)
            .collect();
        if !emojis.contains(&emoji) {
            emojis.push(emoji.clone());
        }
        self.set_reactions(delivery, target_id, emojis).await?;
        let reaction = OutboundReaction {
            event_id: delivery.entry.event_id.clone(),
            room_id: delivery.portal.room_id.clone(),
            target_event_id: target.to_owned(),
            emoji,
        };
        // Also in the Telegram → Matrix reaction map, so the echo of this
        // reaction in Telegram's reaction list is known as already bridged.
        let mapping = self.own_reaction(delivery, target_id, &reaction);
        self.store.transaction(|tx| {
            tx.outbox().insert_reaction(&reaction)?;
            if let Some(mapping) = &mapping {
                tx.reactions().insert(mapping)?;
            }
            tx.outbox().remove(delivery.entry.seq)
        })?;
        Ok(())
    }

    /// The owner's reaction as the Telegram → Matrix direction records it.
    fn own_reaction(
        &self,
        delivery: &Delivery<'_>,
        message_id: i32,
        reaction: &OutboundReaction,
    ) -> Option<ReactionMapping> {
        let self_id = self.self_id.load(std::sync::atomic::Ordering::Acquire);
        Some(ReactionMapping {
            scope: delivery.scope,
            tg_msg_id: message_id,
            reactor: PeerId::user(self_id)?,
            emoji: reaction.emoji.clone(),
            chat: delivery.portal.peer,
            room_id: reaction.room_id.clone(),
            event_id: reaction.event_id.clone(),
        })
    }

    /// Replaces the account's reactions on a message.
    async fn set_reactions(
        &self,
        delivery: &Delivery<'_>,
        message_id: i32,
        emojis: Vec<String>,
    ) -> Result<(), OutboundError> {
        let request = tl::functions::messages::SendReaction {
            big: false,
            add_to_recent: true,
            peer: (&delivery.chat).into(),
            msg_id: message_id,
            reaction: Some(
                emojis
                    .into_iter()
                    .map(|emoticon| tl::types::ReactionEmoji { emoticon }.into())
                    .collect(),
            ),
        };
        ignore_not_modified(delivery.client.invoke(&request).await)
    }

    /// The reactions the chat allows; when Telegram cannot be asked, all
    /// (Telegram then refuses what it does not allow, with a notice).
    async fn allowed_reactions(&self, delivery: &Delivery<'_>) -> AllowedReactions {
        let full = match delivery.portal.peer.kind() {
            PeerKind::Chat => {
                let chat_id = delivery.portal.peer.bare_id().unwrap_or_default();
                delivery
                    .client
                    .invoke(&tl::functions::messages::GetFullChat { chat_id })
                    .await
            }
            PeerKind::Channel => {
                delivery
                    .client
                    .invoke(&tl::functions::channels::GetFullChannel {
                        channel: (&delivery.chat).into(),
                    })
                    .await
            }
            _ => return AllowedReactions::All,
        };
        match full {
            Ok(tl::enums::messages::ChatFull::Full(full)) => match full.full_chat {
                tl::enums::ChatFull::Full(chat) => {
                    AllowedReactions::from_tl(chat.available_reactions.as_ref())
                }
                tl::enums::ChatFull::ChannelFull(channel) => {
                    AllowedReactions::from_tl(channel.available_reactions.as_ref())
                }
                _ => AllowedReactions::All,
            },
            Err(error) => {
                debug!(%error, "could not read the chat's allowed reactions");
                AllowedReactions::All
            }
        }
    }

    async fn deliver_redaction(
        &self,
        delivery: &Delivery<'_>,
        redacts: &EventId,
    ) -> Result<(), OutboundError> {
        let reaction = self.store.outbox().reaction(redacts)?;
        if let Some(reaction) = reaction {
            let remaining: Vec<String> = self
                .store
                .outbox()
                .reactions_on(&reaction.target_event_id)?
                .into_iter()
                .filter(|r| r.event_id != reaction.event_id)
                .map(|r| r.emoji)
                .collect();
            let target_id = self.telegram_id_of(&reaction.target_event_id)?;
            if let Some(target_id) = target_id {
                self.set_reactions(delivery, target_id, remaining).await?;
            }
            let mapping = target_id.and_then(|id| self.own_reaction(delivery, id, &reaction));
            self.store.transaction(|tx| {
                tx.outbox().delete_reaction(redacts)?;
                if let Some(mapping) = &mapping {
                    tx.reactions().delete(
                        mapping.scope,
                        mapping.tg_msg_id,
                        mapping.reactor,
                        &mapping.emoji,
                    )?;
                }
                tx.outbox().remove(delivery.entry.seq)
            })?;
            return Ok(());
        }
        let ids: Vec<i32> = self
            .store
            .messages()
            .by_event(redacts)?
            .iter()
            .map(|m| m.tg_msg_id)
            .collect();
        if ids.is_empty() {
            // A command, a notice or something never bridged.
            return self.done(delivery);
        }
        let deleted = match delivery.portal.peer.kind() {
            PeerKind::Channel => {
                delivery
                    .client
                    .invoke(&tl::functions::channels::DeleteMessages {
                        channel: (&delivery.chat).into(),
                        id: ids,
                    })
                    .await
            }
            _ => {
                delivery
                    .client
                    .invoke(&tl::functions::messages::DeleteMessages {
                        revoke: true,
                        id: ids,
                    })
                    .await
            }
        };
        deleted?;
        self.store.transaction(|tx| {
            // The deletion's echo from Telegram then finds nothing to redact.
            tx.messages().delete_event(redacts)?;
            tx.outbox().remove(delivery.entry.seq)
        })?;
        Ok(())
    }

    async fn deliver_pins(
        &self,
        delivery: &Delivery<'_>,
        pinned: &[OwnedEventId],
    ) -> Result<(), OutboundError> {
        let key = format!("{PINS_KEY_PREFIX}{}", delivery.portal.room_id);
        let before = match outbound_plan::previous_pins(&delivery.entry.event) {
            Some(before) => before,
            None => self
                .store
                .kv_get(&key)?
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default(),
        };
        let (pin, unpin) = outbound_plan::pin_changes(&before, pinned);
        let changes = pin
            .iter()
            .map(|e| (e, false))
            .chain(unpin.iter().map(|e| (e, true)));
        for (event_id, unpin) in changes {
            // Pinning something that is not on Telegram has no counterpart.
            let Some(id) = self.telegram_id_of(event_id)? else {
                continue;
            };
            let request = tl::functions::messages::UpdatePinnedMessage {
                silent: true,
                unpin,
                pm_oneside: false,
                peer: (&delivery.chat).into(),
                id,
            };
            ignore_not_modified(delivery.client.invoke(&request).await)?;
        }
        let json = serde_json::to_string(pinned).unwrap_or_else(|_| "[]".to_owned());
        self.store.kv_set(&key, &json)?;
        self.done(delivery)
    }

    /// Marks the chat read on Telegram up to the message of `event_id` (or,
    /// for an event that is not on Telegram, up to the newest bridged one).
    /// A forum topic's room marks only that topic read, as Telegram's apps
    /// do (`messages.readDiscussion`); General's room is the chat's own
    /// read mark.
    async fn mark_read(&self, room_id: &RoomId, event_id: &EventId) -> Result<(), OutboundError> {
        let Some(portal) = self.store.portals().by_room(room_id)? else {
            return Ok(());
        };
        let max_id = match self.telegram_id_of(event_id)? {
            Some(id) => id,
            None => {
                // A forum's rooms each have their own newest message.
                let forum =
                    portal.topic.is_some() || !self.store.portals().topics(portal.peer)?.is_empty();
                let newest = match forum {
                    true => self.store.messages().newest_in_room(portal.peer, room_id)?,
                    false => self.store.messages().newest_in_chat(portal.peer)?,
                };
                match newest {
                    Some(id) => id,
                    None => return Ok(()),
                }
            }
        };
        let client = self.telegram.get().ok_or(OutboundError::NotConnected)?;
        let chat = self
            .cached_ref(portal.peer)
            .await
            .ok_or(OutboundError::UnknownChat)?;
        if let Some(topic) = portal.topic {
            crate::telegram::forum::read_topic(client, chat, topic, max_id).await?;
            return Ok(());
        }
        match portal.peer.kind() {
            PeerKind::Channel => {
                client
                    .invoke(&tl::functions::channels::ReadHistory {
                        channel: (&chat).into(),
                        max_id,
                    })
                    .await?;
            }
            _ => {
                client
                    .invoke(&tl::functions::messages::ReadHistory {
                        peer: (&chat).into(),
                        max_id,
                    })
                    .await?;
            }
        }
        Ok(())
    }

    async fn send_typing(&self, room_id: &RoomId, typing: bool) -> Result<(), OutboundError> {
        let Some(portal) = self.store.portals().by_room(room_id)? else {
            return Ok(());
        };
        let client = self.telegram.get().ok_or(OutboundError::NotConnected)?;
        let chat = self
            .cached_ref(portal.peer)
            .await
            .ok_or(OutboundError::UnknownChat)?;
        let action = match typing {
            true => tl::enums::SendMessageAction::SendMessageTypingAction,
            false => tl::enums::SendMessageAction::SendMessageCancelAction,
        };
        client
            .invoke(&tl::functions::messages::SetTyping {
                peer: (&chat).into(),
                // A topic room's typing shows in that topic.
                top_msg_id: portal.topic,
                action,
            })
            .await?;
        Ok(())
    }

    /// The Telegram message (first part) a Matrix event became.
    pub(super) fn telegram_id_of(&self, event_id: &EventId) -> Result<Option<i32>, StoreError> {
        Ok(self
            .store
            .messages()
            .by_event(event_id)?
            .first()
            .map(|m| m.tg_msg_id))
    }

    /// Who Matrix pills point at, from the ghost namespace and the store.
    pub(super) fn mentions(&self) -> StoreMentions<'_> {
        StoreMentions { side: self }
    }

    /// Turns name mentions into the input form Telegram accepts when
    /// sending, which needs the user's access hash; a mention of a user the
    /// session does not know stays plain text.
    pub(super) async fn input_entities(
        &self,
        entities: Vec<crate::convert::Entity>,
    ) -> Vec<crate::convert::Entity> {
        use crate::convert::EntityKind;
        let mut input = Vec::with_capacity(entities.len());
        for entity in entities {
            match entity.kind {
                EntityKind::MentionName(user_id) => {
                    let user = match PeerId::user(user_id) {
                        Some(user) => self.cached_ref(user).await,
                        None => None,
                    };
                    let Some(user) = user else {
                        continue;
                    };
                    let kind = EntityKind::MentionUser {
                        user_id,
                        access_hash: user.auth.hash(),
                    };
                    input.push(crate::convert::Entity { kind, ..entity });
                }
                _ => input.push(entity),
            }
        }
        input
    }
}

/// `MESSAGE_NOT_MODIFIED` means Telegram already shows what was asked (a
/// resend after a restart, or the echo of a change made on Telegram).
fn ignore_not_modified<T>(result: Result<T, InvocationError>) -> Result<(), OutboundError> {
    match result {
        Ok(_) => Ok(()),
        Err(InvocationError::Rpc(rpc)) if rpc.is("MESSAGE_NOT_MODIFIED") => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// [`MentionResolver`] over the ghost namespace and the store: a ghost's
/// pill names its Telegram user, the owner's pill the logged-in account.
pub(super) struct StoreMentions<'a> {
    side: &'a Side,
}

impl MentionResolver for StoreMentions<'_> {
    fn matrix_user(&self, telegram_user_id: i64) -> Option<OwnedUserId> {
        Some(self.side.puppets().user_id(telegram_user_id))
    }

    fn telegram_user_by_username(&self, _username: &str) -> Option<i64> {
        None
    }

    fn telegram_user(&self, matrix_user: &ruma::UserId) -> Option<TelegramMention> {
        let self_id = self.side.self_id.load(std::sync::atomic::Ordering::Acquire);
        let user_id = if matrix_user == self.side.settings.owner {
            self_id
        } else {
            ghost_telegram_id(
                matrix_user,
                &self.side.settings.bridge.ghost_prefix,
                self.side.client.bot_user_id().server_name(),
            )?
        };
        let display_name = self
            .side
            .store
            .ghosts()
            .get(user_id)
            .ok()
            .flatten()
            .and_then(|ghost| ghost.displayname)
            .unwrap_or_else(|| matrix_user.localpart().to_owned());
        Some(TelegramMention {
            user_id,
            display_name,
        })
    }
}

/// The Telegram user id behind a ghost's Matrix id.
fn ghost_telegram_id(user: &ruma::UserId, prefix: &str, server: &ruma::ServerName) -> Option<i64> {
    if user.server_name() != server {
        return None;
    }
    user.localpart().strip_prefix(prefix)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ghosts_name_their_telegram_user() {
        let server: &ruma::ServerName = "localhost".try_into().unwrap();
        let ghost: &ruma::UserId = "@telegram_42:localhost".try_into().unwrap();
        assert_eq!(ghost_telegram_id(ghost, "telegram_", server), Some(42));
        let elsewhere: &ruma::UserId = "@telegram_42:other".try_into().unwrap();
        assert_eq!(ghost_telegram_id(elsewhere, "telegram_", server), None);
        let human: &ruma::UserId = "@alice:localhost".try_into().unwrap();
        assert_eq!(ghost_telegram_id(human, "telegram_", server), None);
    }
}
