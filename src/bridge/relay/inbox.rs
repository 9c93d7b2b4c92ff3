//! The Telegram → Matrix inbox at work: the store keeps every lasting
//! Telegram event from the moment the update reader read it until a chat
//! worker applied it to Matrix (see `crate::telegram::journal`). This module
//! records events for the reader, applies each one in its chat's queue
//! through a homeserver outage of any length (the queue waits, in order),
//! removes it once applied or given up, and at start applies what an
//! earlier run left behind before anything newer.
//!
//! It decides nothing about how an event is bridged: that stays with the
//! handlers `on_chat_event` dispatches to.

use crate::store::InboxEntry;
use crate::telegram::journal::{revive, Revived};
use crate::telegram::{DurableEvent, EventJournal, JournalError, JournalId, Received};

use super::*;

/// How often recorded messages are asked for again when Telegram fails
/// while an earlier run's events are read back; after that they wait for
/// the next start.
const REVIVE_TRIES: u32 = 3;

/// The inbox as the update reader's journal.
pub(super) struct StoreJournal(pub(super) Arc<Store>);

impl EventJournal for StoreJournal {
    fn record(&self, event: &DurableEvent) -> Result<JournalId, JournalError> {
        let json = serde_json::to_string(event).map_err(|e| JournalError(e.to_string()))?;
        self.0
            .inbox()
            .push(&json)
            .map_err(|e| JournalError(e.to_string()))
    }
}

impl Side {
    /// Removes an event that was applied (or given up) from the inbox.
    pub(super) fn applied(&self, journal: Option<JournalId>) {
        let Some(seq) = journal else { return };
        if let Err(error) = self.store.inbox().remove(seq) {
            warn!(%error, "could not remove an applied Telegram event from the inbox");
        }
    }

    /// Splits a received event into what each chat queue applies. A
    /// deletion that names no chat is split by the message map; when it
    /// touches several chats each part is recorded on its own, so each is
    /// removed from the inbox when its own chat applied it.
    pub(super) fn route(&self, received: Received) -> Vec<Received> {
        let Received { event, journal } = received;
        let mut parts = self.deletions_by_chat(event);
        match (parts.len(), journal) {
            (1, _) | (_, None) => parts
                .drain(..)
                .map(|event| Received { event, journal })
                .collect(),
            (0, Some(_)) => {
                self.applied(journal);
                Vec::new()
            }
            (_, Some(_)) => {
                let routed = parts
                    .drain(..)
                    .map(|event| {
                        let journal = DurableEvent::of(&event).and_then(|durable| {
                            StoreJournal(Arc::clone(&self.store)).record(&durable).ok()
                        });
                        Received { event, journal }
                    })
                    .collect();
                self.applied(journal);
                routed
            }
        }
    }

    /// Applies one event of a chat's queue. While the homeserver is out,
    /// the queue waits here and tries again, so nothing later in the chat
    /// overtakes it; a shutdown ends the wait with the event still in the
    /// inbox, for the next start.
    pub(super) async fn apply_durably(&self, received: Received) {
        self.apply_durably_from(received, false).await
    }

    /// [`Self::apply_durably`]; `earlier_run` when an earlier run may have
    /// sent part of it already.
    async fn apply_durably_from(&self, received: Received, earlier_run: bool) {
        let Received { event, journal } = received;
        let mut stop = self.stop.clone();
        let mut waited = false;
        loop {
            let attempt = self.on_chat_event_contained(event.clone());
            // After a failed attempt, or left by an earlier run, a send may
            // have reached the homeserver unanswered (see [`super::resend`]).
            let result = match waited || earlier_run {
                true => resend::as_repeat(attempt).await,
                false => attempt.await,
            };
            match result {
                Err(error) if error.is_outage() => {
                    if !waited {
                        warn!(%error, "the homeserver is unavailable; the chat's Telegram events wait until it is back");
                        waited = true;
                    }
                    if *stop.borrow() {
                        return;
                    }
                    tokio::select! {
                        () = tokio::time::sleep(inbound::OUTAGE_PAUSE) => {}
                        _ = stop.wait_for(|stop| *stop) => return,
                    }
                }
                Err(error) => {
                    warn!(%error, "could not bridge a Telegram event");
                    break;
                }
                Ok(()) => break,
            }
        }
        if waited {
            info!("the homeserver is back; the chat's Telegram events flow again");
        }
        self.applied(journal);
    }

    /// Applies an account-wide event and removes it from the inbox.
    pub(super) async fn apply_account_event(&self, received: Received) {
        self.on_account_event_contained(received.event).await;
        self.applied(received.journal);
    }

    /// Applies, one after the other in the order they were read, the
    /// events an earlier run recorded and never applied, up to `seq` (the
    /// newest when this run started). Messages are read again from
    /// Telegram. Later events wait meanwhile, so nothing overtakes them.
    pub(super) async fn apply_unapplied(&self, runtime: &TelegramRuntime, seq: Option<i64>) {
        let Some(seq) = seq else { return };
        let entries = match self.store.inbox().up_to(seq) {
            Ok(entries) => entries,
            Err(error) => return warn!(%error, "could not read the inbox"),
        };
        if entries.is_empty() {
            return;
        }
        info!(
            events = entries.len(),
            "applying Telegram events an earlier run had not applied"
        );
        for entry in entries {
            let Some(received) = self.revive_entry(runtime, entry).await else {
                continue;
            };
            for received in self.route(received) {
                match received.event.chat() {
                    Some(_) => self.apply_durably_from(received, true).await,
                    None => self.apply_account_event(received).await,
                }
            }
        }
    }

    async fn revive_entry(&self, runtime: &TelegramRuntime, entry: InboxEntry) -> Option<Received> {
        let journal = Some(entry.seq);
        let durable: DurableEvent = match serde_json::from_str(&entry.event) {
            Ok(durable) => durable,
            Err(error) => {
                warn!(%error, seq = entry.seq, "an inbox entry could not be read; it is dropped");
                self.applied(journal);
                return None;
            }
        };
        let chat = match durable.message_chat() {
            Some(chat) => self.cached_ref(chat).await,
            None => None,
        };
        let mut tries = 0;
        loop {
            match revive(runtime.client(), durable.clone(), chat).await {
                Ok(Revived::Event(event)) => return Some(Received { event, journal }),
                Ok(Revived::Gone) => {
                    debug!(
                        seq = entry.seq,
                        "a recorded Telegram event has nothing left to apply"
                    );
                    self.applied(journal);
                    return None;
                }
                Err(error) if tries + 1 < REVIVE_TRIES => {
                    tries += 1;
                    debug!(%error, "could not read a recorded message again; trying again");
                    tokio::time::sleep(Duration::from_secs(u64::from(tries))).await;
                }
                Err(error) => {
                    warn!(%error, seq = entry.seq, "could not read a recorded message again; it waits for the next start");
                    return None;
                }
            }
        }
    }
}
