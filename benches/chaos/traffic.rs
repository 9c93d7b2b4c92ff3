//! The soak's traffic: Telegram users and the owner acting at random
//! (seeded) times, each action written to the ledger with the tag of the
//! message it concerns. Telegram users act through the fake datacenter's
//! control API; the owner through the homeserver's client API. Also the
//! observer, which notes when a message has arrived on the other side, so
//! deletions and the owner's reactions only target messages that exist
//! there. Never touches the bridge or the homeserver process.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::json;

use super::ledger::{tag_of, version_text, Dir, Item, Kind, Reactor};
use super::matrix;
use super::Ctx;

const REACTIONS: [&str; 4] = ["👍", "🔥", "🎉", "😁"];
const WORDS: [&str; 8] = [
    "hello",
    "lunch?",
    "on my way",
    "see you",
    "ok",
    "sounds good",
    "later",
    "thanks",
];
/// At most this many edits per message.
const MAX_EDITS: usize = 3;
/// Edits, deletions and reactions pick among this many recent messages.
const RECENT: usize = 40;

/// A pause of exponential length with the given mean.
fn pause(rng: &mut StdRng, mean: Duration) -> Duration {
    let u: f64 = rng.random();
    mean.mul_f64(-(1.0 - u).ln()).min(mean * 8)
}

fn word(rng: &mut StdRng) -> &'static str {
    WORDS[rng.random_range(0..WORDS.len())]
}

/// One of the last `RECENT` positions of `items` that satisfy `pick`.
fn recent(rng: &mut StdRng, items: &[Item], mut pick: impl FnMut(&Item) -> bool) -> Option<usize> {
    let candidates: Vec<usize> = items
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, item)| pick(item))
        .take(RECENT)
        .map(|(i, _)| i)
        .collect();
    (!candidates.is_empty()).then(|| candidates[rng.random_range(0..candidates.len())])
}

/// Telegram users send, edit, delete and react until `deadline`.
pub async fn telegram(ctx: Arc<Ctx>, mut rng: StdRng, deadline: Instant, mean: Duration) {
    while Instant::now() < deadline {
        tokio::time::sleep(pause(&mut rng, mean)).await;
        let roll: f64 = rng.random();
        let mut ledger = ctx.ledger.lock().expect("ledger lock");
        let shared = ctx.fake.world();
        let mut world = shared.lock().expect("world lock");
        let owner = ctx.owner_account;
        if roll < 0.15 {
            // Edit one's own earlier message.
            if let Some(i) = recent(&mut rng, &ledger.items, |i| {
                i.origin == Dir::TgToMx && !i.deleted && i.edits.len() < MAX_EDITS
            }) {
                let item = &ledger.items[i];
                let peer = ledger.chats[item.chat].peer_for(item.author, owner);
                let text = version_text(&item.tag, item.edits.len() + 1, word(&mut rng));
                let (author, id) = (item.author, item.tg_id.expect("sent, so it has an id"));
                match world.edit_text(author, peer, id, &text) {
                    Ok(()) => {
                        ledger.items[i].edits.push(text);
                        let n = ledger.items[i].edits.len();
                        ledger.note(i, format!("edit {n}"));
                        ledger.count(Dir::TgToMx, Kind::Edit);
                    }
                    Err(e) => println!("  (edit of {} refused: {e:?})", ledger.items[i].tag),
                }
                continue;
            }
        } else if roll < 0.22 {
            // Delete one's own message that has reached Matrix and carries
            // no reaction (a reaction on a deleted message means nothing).
            if let Some(i) = recent(&mut rng, &ledger.items, |i| {
                i.origin == Dir::TgToMx
                    && !i.deleted
                    && i.reactions.is_empty()
                    && i.event_id.is_some()
            }) {
                let item = &ledger.items[i];
                let peer = ledger.chats[item.chat].peer_for(item.author, owner);
                let (author, id) = (item.author, item.tg_id.expect("sent, so it has an id"));
                match world.delete(author, peer, &[id], true) {
                    Ok(()) => {
                        ledger.items[i].deleted = true;
                        ledger.note(i, "deleted".to_owned());
                        ledger.count(Dir::TgToMx, Kind::Deletion);
                    }
                    Err(e) => println!("  (deletion of {} refused: {e:?})", ledger.items[i].tag),
                }
                continue;
            }
        } else if roll < 0.40 {
            // React to a message of either side that is on Telegram.
            let chats = ledger.chats.clone();
            if let Some(i) = recent(&mut rng, &ledger.items, |i| {
                !i.deleted
                    && i.tg_id.is_some()
                    && chats[i.chat]
                        .members
                        .iter()
                        .any(|m| !i.reactions.contains_reaction_by(*m))
            }) {
                let item = &ledger.items[i];
                let chat = &chats[item.chat];
                let free: Vec<i64> = chat
                    .members
                    .iter()
                    .copied()
                    .filter(|m| !item.reactions.contains_reaction_by(*m))
                    .collect();
                let reactor = free[rng.random_range(0..free.len())];
                let key = REACTIONS[rng.random_range(0..REACTIONS.len())];
                let id = item.tg_id.expect("filtered on tg_id");
                let reactor_id = world
                    .message_key(item.author, chat.peer_for(item.author, owner), id)
                    .and_then(|key| world.message(key))
                    .and_then(|m| m.id_for(reactor));
                if let Some(reactor_id) = reactor_id {
                    match world.react(
                        reactor,
                        chat.peer_for(reactor, owner),
                        reactor_id,
                        Some(key),
                    ) {
                        Ok(()) => {
                            ledger.items[i]
                                .reactions
                                .push((Reactor::Tg(reactor), key.to_owned()));
                            ledger.note(i, format!("{reactor} reacted {key}"));
                            ledger.count(Dir::TgToMx, Kind::Reaction);
                        }
                        Err(e) => {
                            println!("  (reaction on {} refused: {e:?})", ledger.items[i].tag)
                        }
                    }
                }
                continue;
            }
        }
        // Send a new message (also the fallback when nothing fits).
        let chat = rng.random_range(0..ledger.chats.len());
        let members = ledger.chats[chat].members.clone();
        let from = members[rng.random_range(0..members.len())];
        let peer = ledger.chats[chat].peer_for(from, owner);
        let (tag, seq) = ledger.next_tag(chat, Dir::TgToMx);
        let text = version_text(&tag, 0, word(&mut rng));
        match world.send_text(from, peer, &text) {
            Ok(id) => {
                ledger.push(Item {
                    tag,
                    chat,
                    seq,
                    origin: Dir::TgToMx,
                    author: from,
                    tg_id: Some(id),
                    event_id: None,
                    text,
                    edits: Vec::new(),
                    deleted: false,
                    reactions: Vec::new(),
                    log: Vec::new(),
                });
                ledger.count(Dir::TgToMx, Kind::Message);
            }
            Err(e) => println!("  (send of {tag} refused: {e:?})"),
        }
    }
}

trait Reactions {
    fn contains_reaction_by(&self, user: i64) -> bool;
    fn contains_owner(&self) -> bool;
}

impl Reactions for Vec<(Reactor, String)> {
    fn contains_reaction_by(&self, user: i64) -> bool {
        self.iter().any(|(r, _)| *r == Reactor::Tg(user))
    }

    fn contains_owner(&self) -> bool {
        self.iter().any(|(r, _)| *r == Reactor::Owner)
    }
}

/// What the owner does next, decided under the ledger lock and carried out
/// after it is released.
enum OwnerAction {
    Send {
        chat: usize,
        room: String,
        tag: String,
        seq: u32,
        text: String,
    },
    Edit {
        room: String,
        event_id: String,
        tag: String,
        text: String,
    },
    Redact {
        room: String,
        event_id: String,
        tag: String,
    },
    React {
        room: String,
        event_id: String,
        tag: String,
        key: &'static str,
    },
}

/// The owner sends, edits, redacts and reacts in the portal rooms until
/// `deadline`, pausing while the homeserver is down.
pub async fn owner(ctx: Arc<Ctx>, mut rng: StdRng, deadline: Instant, mean: Duration) {
    let api = ctx.owner.api();
    while Instant::now() < deadline {
        tokio::time::sleep(pause(&mut rng, mean)).await;
        if ctx.hs_down.load(Ordering::SeqCst) {
            continue;
        }
        let action = {
            let mut ledger = ctx.ledger.lock().expect("ledger lock");
            decide(&mut rng, &mut ledger)
        };
        match action {
            OwnerAction::Send {
                chat,
                room,
                tag,
                seq,
                text,
            } => {
                let content = json!({ "msgtype": "m.text", "body": text });
                let sent =
                    matrix::send(api, &room, "m.room.message", &format!("s-{tag}"), &content).await;
                let mut ledger = ctx.ledger.lock().expect("ledger lock");
                match sent {
                    Some(event_id) => {
                        ledger.push(Item {
                            tag,
                            chat,
                            seq,
                            origin: Dir::MxToTg,
                            author: ctx.owner_account,
                            tg_id: None,
                            event_id: Some(event_id),
                            text,
                            edits: Vec::new(),
                            deleted: false,
                            reactions: Vec::new(),
                            log: Vec::new(),
                        });
                        ledger.count(Dir::MxToTg, Kind::Message);
                    }
                    None => ledger.uncertain.push(format!("send of {tag}")),
                }
            }
            OwnerAction::Edit {
                room,
                event_id,
                tag,
                text,
            } => {
                let content = json!({
                    "msgtype": "m.text",
                    "body": format!("* {text}"),
                    "m.new_content": { "msgtype": "m.text", "body": text },
                    "m.relates_to": { "rel_type": "m.replace", "event_id": event_id },
                });
                let txn = format!("e-{tag}-{}", rng.random::<u32>());
                let sent = matrix::send(api, &room, "m.room.message", &txn, &content).await;
                let mut ledger = ctx.ledger.lock().expect("ledger lock");
                match sent {
                    Some(_) => ledger.count(Dir::MxToTg, Kind::Edit),
                    None => ledger.uncertain.push(format!("edit {text:?}")),
                }
            }
            OwnerAction::Redact {
                room,
                event_id,
                tag,
            } => {
                let done = matrix::redact(api, &room, &event_id, &format!("r-{tag}")).await;
                let mut ledger = ctx.ledger.lock().expect("ledger lock");
                if done {
                    ledger.count(Dir::MxToTg, Kind::Deletion);
                } else {
                    ledger.uncertain.push(format!("redaction of {tag}"));
                }
            }
            OwnerAction::React {
                room,
                event_id,
                tag,
                key,
            } => {
                let content = json!({ "m.relates_to": {
                    "rel_type": "m.annotation", "event_id": event_id, "key": key } });
                let sent =
                    matrix::send(api, &room, "m.reaction", &format!("x-{tag}"), &content).await;
                let mut ledger = ctx.ledger.lock().expect("ledger lock");
                match sent {
                    Some(_) => ledger.count(Dir::MxToTg, Kind::Reaction),
                    None => ledger.uncertain.push(format!("reaction on {tag}")),
                }
            }
        }
    }
}

/// Picks the owner's next action and records in the ledger what it will
/// change (an edit's text, a deletion, a reaction) before it is sent, so
/// the Telegram side never picks a message about to be deleted.
fn decide(rng: &mut StdRng, ledger: &mut super::ledger::Ledger) -> OwnerAction {
    let roll: f64 = rng.random();
    if roll < 0.2 {
        if let Some(i) = recent(rng, &ledger.items, |i| {
            i.origin == Dir::MxToTg && !i.deleted && i.edits.len() < MAX_EDITS
        }) {
            let item = &mut ledger.items[i];
            let text = version_text(&item.tag, item.edits.len() + 1, word(rng));
            item.edits.push(text.clone());
            let n = item.edits.len();
            ledger.note(i, format!("owner edit {n}"));
            return OwnerAction::Edit {
                room: ledger.chats[ledger.items[i].chat].room.clone(),
                event_id: ledger.items[i].event_id.clone().expect("sent"),
                tag: ledger.items[i].tag.clone(),
                text,
            };
        }
    } else if roll < 0.3 {
        if let Some(i) = recent(rng, &ledger.items, |i| {
            i.origin == Dir::MxToTg && !i.deleted && i.reactions.is_empty() && i.tg_id.is_some()
        }) {
            ledger.items[i].deleted = true;
            ledger.note(i, "owner redacted".to_owned());
            let item = &ledger.items[i];
            return OwnerAction::Redact {
                room: ledger.chats[item.chat].room.clone(),
                event_id: item.event_id.clone().expect("sent"),
                tag: item.tag.clone(),
            };
        }
    } else if roll < 0.5 {
        if let Some(i) = recent(rng, &ledger.items, |i| {
            !i.deleted && i.event_id.is_some() && i.tg_id.is_some() && !i.reactions.contains_owner()
        }) {
            let key = REACTIONS[rng.random_range(0..REACTIONS.len())];
            ledger.items[i]
                .reactions
                .push((Reactor::Owner, key.to_owned()));
            ledger.note(i, format!("owner reacted {key}"));
            let item = &ledger.items[i];
            return OwnerAction::React {
                room: ledger.chats[item.chat].room.clone(),
                event_id: item.event_id.clone().expect("filtered"),
                tag: item.tag.clone(),
                key,
            };
        }
    }
    let chat = rng.random_range(0..ledger.chats.len());
    let (tag, seq) = ledger.next_tag(chat, Dir::MxToTg);
    let text = version_text(&tag, 0, word(rng));
    OwnerAction::Send {
        chat,
        room: ledger.chats[chat].room.clone(),
        tag,
        seq,
        text,
    }
}

/// Notes, about once a second until `done`, which Telegram messages have
/// reached their room (their event id) and which of the owner's messages
/// have reached Telegram (their id).
pub async fn observe(ctx: Arc<Ctx>) {
    let api = ctx.owner.api();
    while !ctx.done.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rooms: Vec<String> = {
            let ledger = ctx.ledger.lock().expect("ledger lock");
            ledger.chats.iter().map(|c| c.room.clone()).collect()
        };
        let mut seen = Vec::new();
        if !ctx.hs_down.load(Ordering::SeqCst) {
            for room in &rooms {
                for event in matrix::newest(api, room, 100).await.unwrap_or_default() {
                    if event["type"] != "m.room.message" || matrix::is_edit(&event) {
                        continue;
                    }
                    if let (Some(tag), Some(id)) = (
                        event["content"]["body"].as_str().and_then(tag_of),
                        event["event_id"].as_str(),
                    ) {
                        if tag.starts_with('T') {
                            seen.push((tag.to_owned(), id.to_owned()));
                        }
                    }
                }
            }
        }
        let mut ledger = ctx.ledger.lock().expect("ledger lock");
        for (tag, event_id) in seen {
            if let Some(i) = ledger.by_tag(&tag) {
                ledger.items[i].event_id.get_or_insert(event_id);
            }
        }
        let shared = ctx.fake.world();
        let world = shared.lock().expect("world lock");
        let owner = ctx.owner_account;
        for chat in ledger.chats.clone() {
            for message in world.history(owner, chat.peer_for(owner, owner)) {
                if !message.out {
                    continue;
                }
                if let Some(i) = tag_of(&message.text).and_then(|tag| ledger.by_tag(tag)) {
                    ledger.items[i].tg_id.get_or_insert(message.id);
                }
            }
        }
    }
}
