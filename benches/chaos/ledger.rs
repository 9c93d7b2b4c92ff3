//! What the soak did, as the checker needs it: every message sent on either
//! side with its sequence tag, the edits, deletions and reactions applied to
//! it, and the counters of events and faults. Owns no I/O; the traffic and
//! fault tasks write it under one lock, the checker reads it.

use std::collections::{BTreeMap, HashMap};

use fake_telegram::world::{ChatId, Peer, UserId};

/// Where an action started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dir {
    /// A Telegram user acted; the bridge must carry it to Matrix.
    TgToMx,
    /// The owner acted in a portal room; the bridge must carry it to Telegram.
    MxToTg,
}

impl Dir {
    pub fn name(self) -> &'static str {
        match self {
            Dir::TgToMx => "Telegram -> Matrix",
            Dir::MxToTg => "Matrix -> Telegram",
        }
    }
}

/// What kind of action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Message,
    Edit,
    Deletion,
    Reaction,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Message, Kind::Edit, Kind::Deletion, Kind::Reaction];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Message => "message",
            Kind::Edit => "edit",
            Kind::Deletion => "deletion",
            Kind::Reaction => "reaction",
        }
    }
}

/// A fault the soak injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// SIGKILL of the bridge, then a new start.
    BridgeKill,
    /// The homeserver stopped and started again.
    HomeserverOutage,
    /// A SIGKILL of the bridge in the middle of a homeserver outage.
    BridgeKillInOutage,
    /// Every Telegram connection closed.
    TelegramDrop,
    /// A `FLOOD_WAIT_X` answer to the bridge's next call of one method.
    FloodWait,
}

impl Fault {
    pub const ALL: [Fault; 5] = [
        Fault::BridgeKill,
        Fault::HomeserverOutage,
        Fault::BridgeKillInOutage,
        Fault::TelegramDrop,
        Fault::FloodWait,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::BridgeKill => "kill -9 bridge",
            Fault::HomeserverOutage => "homeserver outage",
            Fault::BridgeKillInOutage => "kill -9 during outage",
            Fault::TelegramDrop => "Telegram connection drop",
            Fault::FloodWait => "flood wait",
        }
    }
}

/// Who reacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reactor {
    /// The owner, on Matrix.
    Owner,
    /// A Telegram user, on Telegram.
    Tg(UserId),
}

/// One chat of the soak: a basic group or the private chat with one user.
#[derive(Debug, Clone)]
pub struct ChatInfo {
    pub label: String,
    /// The portal room.
    pub room: String,
    /// The Telegram users who talk in it (not the owner).
    pub members: Vec<UserId>,
    /// The group, or `None` for the private chat with `members[0]`.
    pub group: Option<ChatId>,
}

impl ChatInfo {
    /// The chat as `viewer` (the owner or a member) addresses it.
    pub fn peer_for(&self, viewer: UserId, owner: UserId) -> Peer {
        match self.group {
            Some(chat) => Peer::Chat(chat),
            None if viewer == owner => Peer::User(self.members[0]),
            None => Peer::User(owner),
        }
    }
}

/// One message of the soak and everything later done to it.
#[derive(Debug, Clone)]
pub struct Item {
    /// `T<chat>#<seq>` (Telegram side) or `M<chat>#<seq>` (the owner's).
    pub tag: String,
    pub chat: usize,
    pub seq: u32,
    pub origin: Dir,
    /// The Telegram author (the owner's account for the owner's messages).
    pub author: UserId,
    /// The Telegram id in the author's numbering, once known (for the
    /// owner's messages: once the harness saw it arrive on Telegram).
    pub tg_id: Option<i32>,
    /// The Matrix event id (for Telegram messages: once the harness saw it
    /// arrive in the room).
    pub event_id: Option<String>,
    pub text: String,
    /// Every edit's full text, in order.
    pub edits: Vec<String>,
    pub deleted: bool,
    /// Reactions set on it, with the key.
    pub reactions: Vec<(Reactor, String)>,
    /// What was done to it and when (seconds into the traffic phase).
    pub log: Vec<(f64, String)>,
}

impl Item {
    pub fn final_text(&self) -> &str {
        self.edits.last().unwrap_or(&self.text)
    }
}

/// Everything the soak did, for one server.
#[derive(Debug, Default)]
pub struct Ledger {
    pub chats: Vec<ChatInfo>,
    pub items: Vec<Item>,
    /// Position of each tag in `items`.
    index: HashMap<String, usize>,
    /// Next sequence number per chat and side.
    pub next_seq: BTreeMap<(usize, Dir), u32>,
    pub events: BTreeMap<(Dir, Kind), u64>,
    pub faults: BTreeMap<Fault, u64>,
    /// Owner actions whose request never got an answer within the retry
    /// window: they may or may not exist, so the checker cannot judge them.
    pub uncertain: Vec<String>,
    /// Bridge exits the soak did not cause.
    pub unexpected_exits: u64,
    /// Bridge starts that did not become ready in time.
    pub slow_starts: u64,
    /// When the traffic phase started.
    pub started: Option<std::time::Instant>,
    /// Every fault with its time (seconds into the traffic phase).
    pub fault_log: Vec<(f64, String)>,
}

impl Ledger {
    pub fn new(chats: Vec<ChatInfo>) -> Ledger {
        Ledger {
            chats,
            ..Ledger::default()
        }
    }

    pub fn count(&mut self, dir: Dir, kind: Kind) {
        *self.events.entry((dir, kind)).or_default() += 1;
    }

    /// Seconds into the traffic phase.
    pub fn now(&self) -> f64 {
        self.started.map_or(0.0, |s| s.elapsed().as_secs_f64())
    }

    pub fn fault(&mut self, fault: Fault, what: &str) {
        *self.faults.entry(fault).or_default() += 1;
        let now = self.now();
        self.fault_log.push((now, what.to_owned()));
    }

    /// Notes in item `i`'s log what was done to it now.
    pub fn note(&mut self, i: usize, what: String) {
        let now = self.now();
        self.items[i].log.push((now, what));
    }

    /// The next tag for a message in `chat` from `dir`'s side.
    pub fn next_tag(&mut self, chat: usize, dir: Dir) -> (String, u32) {
        let seq = self.next_seq.entry((chat, dir)).or_insert(0);
        *seq += 1;
        let prefix = match dir {
            Dir::TgToMx => 'T',
            Dir::MxToTg => 'M',
        };
        (format!("{prefix}{chat}#{}", *seq), *seq)
    }

    pub fn push(&mut self, mut item: Item) {
        item.log.push((self.now(), "sent".to_owned()));
        self.index.insert(item.tag.clone(), self.items.len());
        self.items.push(item);
    }

    pub fn by_tag(&self, tag: &str) -> Option<usize> {
        self.index.get(tag).copied()
    }
}

/// The tag of a message text (its first word), if it looks like one.
pub fn tag_of(text: &str) -> Option<&str> {
    let first = text.split_whitespace().next()?;
    let rest = first
        .strip_prefix('T')
        .or_else(|| first.strip_prefix('M'))?;
    rest.contains('#').then_some(first)
}

/// The text of the `n`th version (0 = original) of a message.
pub fn version_text(tag: &str, n: usize, word: &str) -> String {
    if n == 0 {
        format!("{tag} o {word}")
    } else {
        format!("{tag} e{n} {word}")
    }
}

/// Which version (0 = original) a text is, from its second word.
pub fn version_of(text: &str) -> Option<usize> {
    let second = text.split_whitespace().nth(1)?;
    if second == "o" {
        return Some(0);
    }
    second.strip_prefix('e')?.parse().ok()
}
