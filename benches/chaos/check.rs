//! The soak's verdict: compares what the ledger says happened with what
//! each side shows at the end (the portal room's whole timeline as the
//! owner reads it, the chat's history as the owner's Telegram account sees
//! it) and counts, per direction and kind, what was lost, duplicated or out
//! of order. Pure: it is handed both sides' state and reads nothing itself.

use std::collections::{BTreeMap, HashMap};

use fake_telegram::world::MessageView;
use serde_json::Value;

use super::ledger::{tag_of, version_of, Dir, Item, Kind, Ledger, Reactor};
use super::matrix::is_edit;

/// Lost, duplicated and out-of-order counts of one direction and kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    Lost,
    Duplicated,
    OutOfOrder,
}

/// One thing that went wrong, with what to look for in the bridge log.
#[derive(Debug, Clone)]
pub struct Problem {
    pub dir: Dir,
    pub kind: Kind,
    pub flaw: Flaw,
    pub what: String,
    /// Strings worth grepping the bridge log for (event ids, Telegram ids).
    pub hints: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Verdict {
    pub tally: BTreeMap<(Dir, Kind), Tally>,
    pub problems: Vec<Problem>,
    /// Notices the bridge bot posted in portal rooms (failures it reported).
    pub bot_notices: Vec<String>,
}

impl Verdict {
    pub fn total(&self) -> u64 {
        self.tally
            .values()
            .map(|t| t.lost + t.duplicated + t.out_of_order)
            .sum()
    }

    fn add(&mut self, dir: Dir, kind: Kind, flaw: Flaw, n: u64, what: String, hints: Vec<String>) {
        if n == 0 {
            return;
        }
        let tally = self.tally.entry((dir, kind)).or_default();
        match flaw {
            Flaw::Lost => tally.lost += n,
            Flaw::Duplicated => tally.duplicated += n,
            Flaw::OutOfOrder => tally.out_of_order += n,
        }
        self.problems.push(Problem {
            dir,
            kind,
            flaw,
            what,
            hints,
        });
    }
}

/// One chat's final state on both sides.
pub struct ChatState<'a> {
    /// The portal room's events, oldest first.
    pub timeline: &'a [Value],
    /// The chat as the owner's Telegram account sees it, oldest first.
    pub history: &'a [MessageView],
}

/// Who is who on Matrix.
pub struct Ids<'a> {
    pub owner: &'a str,
    /// The owner's Telegram account.
    pub owner_account: i64,
    pub bot: &'a str,
    /// The ghost of a Telegram user.
    pub ghost: &'a dyn Fn(i64) -> String,
}

/// A message event of the room, as the checker reads it.
struct MxMessage {
    pos: usize,
    event_id: String,
    redacted: bool,
}

pub fn check(ledger: &Ledger, chats: &[ChatState<'_>], ids: &Ids<'_>) -> Verdict {
    let mut verdict = Verdict::default();
    // Every event id the harness knows, with the tag of its message, so a
    // redacted event (whose body is gone) is still recognised.
    let known: HashMap<&str, &str> = ledger
        .items
        .iter()
        .filter_map(|i| Some((i.event_id.as_deref()?, i.tag.as_str())))
        .collect();
    for (chat, state) in chats.iter().enumerate() {
        let items: Vec<&Item> = ledger.items.iter().filter(|i| i.chat == chat).collect();
        check_matrix_side(&mut verdict, &items, state.timeline, &known, ids);
        check_telegram_side(&mut verdict, ids.owner_account, &items, state.history);
        for event in state.timeline {
            if event["sender"] == ids.bot && event["type"] == "m.room.message" {
                verdict.bot_notices.push(format!(
                    "{}: {}",
                    ledger.chats[chat].label,
                    event["content"]["body"].as_str().unwrap_or("(no body)")
                ));
            }
        }
    }
    verdict
}

fn check_matrix_side(
    verdict: &mut Verdict,
    items: &[&Item],
    timeline: &[Value],
    known: &HashMap<&str, &str>,
    ids: &Ids<'_>,
) {
    // Message copies by tag, edits by original event, reactions and
    // redactions by target.
    let mut copies: HashMap<String, Vec<MxMessage>> = HashMap::new();
    let mut edits: HashMap<&str, Vec<(usize, String)>> = HashMap::new();
    let mut reactions: HashMap<(&str, &str, &str), u64> = HashMap::new();
    let mut redactions: HashMap<&str, u64> = HashMap::new();
    for (pos, event) in timeline.iter().enumerate() {
        let event_id = event["event_id"].as_str().unwrap_or_default();
        let sender = event["sender"].as_str().unwrap_or_default();
        match event["type"].as_str() {
            Some("m.room.message") if is_edit(event) => {
                let target = event["content"]["m.relates_to"]["event_id"]
                    .as_str()
                    .unwrap_or_default();
                let body = event["content"]["m.new_content"]["body"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                edits.entry(target).or_default().push((pos, body));
            }
            Some("m.room.message") => {
                let body = event["content"]["body"].as_str();
                let tag = match body {
                    Some(body) => tag_of(body),
                    None => known.get(event_id).copied(),
                };
                if let Some(tag) = tag {
                    copies.entry(tag.to_owned()).or_default().push(MxMessage {
                        pos,
                        event_id: event_id.to_owned(),
                        redacted: body.is_none(),
                    });
                }
            }
            Some("m.reaction") => {
                let relates = &event["content"]["m.relates_to"];
                if let (Some(target), Some(key)) =
                    (relates["event_id"].as_str(), relates["key"].as_str())
                {
                    *reactions.entry((target, sender, key)).or_default() += 1;
                }
            }
            Some("m.room.redaction") => {
                let target = event["redacts"]
                    .as_str()
                    .or_else(|| event["content"]["redacts"].as_str())
                    .unwrap_or_default();
                *redactions.entry(target).or_default() += 1;
            }
            _ => {}
        }
    }

    // Telegram messages: each once, in order, edited, deleted, reacted to.
    let mut last_pos = None;
    for item in items.iter().filter(|i| i.origin == Dir::TgToMx) {
        let dir = Dir::TgToMx;
        let found = copies.get(&item.tag).map(Vec::as_slice).unwrap_or(&[]);
        let mut hints = vec![item.tag.clone()];
        hints.extend(item.event_id.clone());
        let Some(first) = found.first() else {
            verdict.add(
                dir,
                Kind::Message,
                Flaw::Lost,
                1,
                format!("{} {:?} never reached the room", item.tag, item.text),
                hints,
            );
            continue;
        };
        verdict.add(
            dir,
            Kind::Message,
            Flaw::Duplicated,
            found.len() as u64 - 1,
            format!("{} is in the room {} times", item.tag, found.len()),
            hints.clone(),
        );
        if last_pos.is_some_and(|last| first.pos < last) {
            verdict.add(
                dir,
                Kind::Message,
                Flaw::OutOfOrder,
                1,
                format!("{} arrived before an earlier message of its chat", item.tag),
                hints.clone(),
            );
        }
        last_pos = Some(last_pos.map_or(first.pos, |last: usize| last.max(first.pos)));
        if item.deleted {
            let target = item.event_id.as_deref().unwrap_or(&first.event_id);
            let redacted = found.iter().any(|c| c.event_id == target && c.redacted);
            if !redacted {
                verdict.add(
                    dir,
                    Kind::Deletion,
                    Flaw::Lost,
                    1,
                    format!("{} was deleted on Telegram but not redacted", item.tag),
                    hints.clone(),
                );
            }
            let times = redactions.get(target).copied().unwrap_or(0);
            verdict.add(
                dir,
                Kind::Deletion,
                Flaw::Duplicated,
                times.saturating_sub(1),
                format!("{} was redacted {times} times", item.tag),
                hints.clone(),
            );
            continue;
        }
        if first.redacted {
            verdict.add(
                dir,
                Kind::Message,
                Flaw::Lost,
                1,
                format!("{} was redacted though nobody deleted it", item.tag),
                hints.clone(),
            );
        }
        check_edits(
            verdict,
            dir,
            item,
            edits.get(first.event_id.as_str()),
            &hints,
        );
        check_reactions_on_matrix(verdict, item, &first.event_id, &reactions, ids, &hints);
    }

    // The owner's messages: once each in the room (no copy came back from
    // Telegram), reactions from Telegram users arrived, and the owner's own
    // reactions are there once.
    for item in items.iter().filter(|i| i.origin == Dir::MxToTg) {
        let found = copies.get(&item.tag).map(Vec::as_slice).unwrap_or(&[]);
        let hints: Vec<String> = std::iter::once(item.tag.clone())
            .chain(item.event_id.clone())
            .collect();
        verdict.add(
            Dir::MxToTg,
            Kind::Message,
            Flaw::Duplicated,
            (found.len() as u64).saturating_sub(1),
            format!(
                "the owner's {} is in the room {} times (echoed back)",
                item.tag,
                found.len()
            ),
            hints.clone(),
        );
        if let Some(event_id) = &item.event_id {
            if !item.deleted {
                check_reactions_on_matrix(verdict, item, event_id, &reactions, ids, &hints);
            }
        }
    }
}

/// Edits of a Telegram message as the room shows them: the last one wins,
/// none twice, in order.
fn check_edits(
    verdict: &mut Verdict,
    dir: Dir,
    item: &Item,
    applied: Option<&Vec<(usize, String)>>,
    hints: &[String],
) {
    if item.edits.is_empty() {
        return;
    }
    let applied = applied.map(Vec::as_slice).unwrap_or(&[]);
    let versions: Vec<usize> = applied
        .iter()
        .filter_map(|(_, body)| version_of(body))
        .collect();
    let shown = applied.last().map(|(_, body)| body.as_str());
    if shown != Some(item.final_text()) {
        let shown_version = shown.and_then(version_of).unwrap_or(0);
        verdict.add(
            dir,
            Kind::Edit,
            Flaw::Lost,
            (item.edits.len() - shown_version.min(item.edits.len())) as u64,
            format!(
                "{} shows {:?}, the last edit was {:?}",
                item.tag,
                shown.unwrap_or(&item.text),
                item.final_text()
            ),
            hints.to_vec(),
        );
    }
    let mut seen = std::collections::HashSet::new();
    let duplicates = versions.iter().filter(|v| !seen.insert(**v)).count();
    verdict.add(
        dir,
        Kind::Edit,
        Flaw::Duplicated,
        duplicates as u64,
        format!("{}: edits applied as versions {versions:?}", item.tag),
        hints.to_vec(),
    );
    let out_of_order = versions.windows(2).filter(|w| w[1] < w[0]).count();
    verdict.add(
        dir,
        Kind::Edit,
        Flaw::OutOfOrder,
        out_of_order as u64,
        format!("{}: edits applied as versions {versions:?}", item.tag),
        hints.to_vec(),
    );
}

/// Every reaction set on `item` is in the room once: a Telegram user's
/// from their ghost (bridged), the owner's as the owner sent it (and not
/// echoed back a second time).
fn check_reactions_on_matrix(
    verdict: &mut Verdict,
    item: &Item,
    event_id: &str,
    reactions: &HashMap<(&str, &str, &str), u64>,
    ids: &Ids<'_>,
    hints: &[String],
) {
    for (reactor, key) in &item.reactions {
        let (dir, sender) = match reactor {
            Reactor::Owner => (Dir::MxToTg, ids.owner.to_owned()),
            Reactor::Tg(user) => (Dir::TgToMx, (ids.ghost)(*user)),
        };
        let times = reactions
            .get(&(event_id, sender.as_str(), key.as_str()))
            .copied()
            .unwrap_or(0);
        if times == 0 && dir == Dir::TgToMx {
            verdict.add(
                dir,
                Kind::Reaction,
                Flaw::Lost,
                1,
                format!(
                    "{sender}'s {key} on {} never reached the room (all reactions set on it: {})",
                    item.tag,
                    describe_reactions(item)
                ),
                hints.to_vec(),
            );
        }
        verdict.add(
            dir,
            Kind::Reaction,
            Flaw::Duplicated,
            times.saturating_sub(1),
            format!(
                "{sender}'s {key} on {} is in the room {times} times",
                item.tag
            ),
            hints.to_vec(),
        );
    }
}

fn check_telegram_side(
    verdict: &mut Verdict,
    owner_account: i64,
    items: &[&Item],
    history: &[MessageView],
) {
    let mut copies: HashMap<&str, Vec<(usize, &MessageView)>> = HashMap::new();
    for (pos, message) in history.iter().enumerate() {
        if message.service.is_some() {
            continue;
        }
        if let Some(tag) = tag_of(&message.text) {
            copies.entry(tag).or_default().push((pos, message));
        }
    }
    let mut last_pos = None;
    for item in items {
        let found: Vec<&(usize, &MessageView)> = copies
            .get(item.tag.as_str())
            .map(|c| c.iter().collect())
            .unwrap_or_default();
        let mut hints = vec![item.tag.clone()];
        hints.extend(item.event_id.clone());
        if item.origin == Dir::TgToMx {
            // A Telegram user's message is on Telegram by construction; a
            // second copy sent by the owner's account is an echo.
            let echoes = found.iter().filter(|(_, m)| m.out).count();
            verdict.add(
                Dir::TgToMx,
                Kind::Message,
                Flaw::Duplicated,
                echoes as u64,
                format!("{} came back to Telegram {echoes} times", item.tag),
                hints.clone(),
            );
            if let Some((_, message)) = found.iter().find(|(_, m)| !m.out) {
                check_owner_reactions_on_telegram(verdict, owner_account, item, message, &hints);
            }
            continue;
        }
        let dir = Dir::MxToTg;
        if item.deleted {
            // Only messages seen on Telegram are redacted by the soak, so
            // any copy left is a deletion that did not happen.
            if !found.is_empty() {
                verdict.add(
                    dir,
                    Kind::Deletion,
                    Flaw::Lost,
                    found.len() as u64,
                    format!(
                        "{} was redacted but {} copies remain on Telegram",
                        item.tag,
                        found.len()
                    ),
                    hints,
                );
            }
            continue;
        }
        let Some((pos, message)) = found.first() else {
            verdict.add(
                dir,
                Kind::Message,
                Flaw::Lost,
                1,
                format!(
                    "the owner's {} {:?} never reached Telegram",
                    item.tag, item.text
                ),
                hints,
            );
            continue;
        };
        verdict.add(
            dir,
            Kind::Message,
            Flaw::Duplicated,
            found.len() as u64 - 1,
            format!(
                "the owner's {} is on Telegram {} times",
                item.tag,
                found.len()
            ),
            hints.clone(),
        );
        if last_pos.is_some_and(|last| *pos < last) {
            verdict.add(
                dir,
                Kind::Message,
                Flaw::OutOfOrder,
                1,
                format!("{} arrived before an earlier message of its chat", item.tag),
                hints.clone(),
            );
        }
        last_pos = Some(last_pos.map_or(*pos, |last: usize| last.max(*pos)));
        if !item.edits.is_empty() && message.text != item.final_text() {
            let shown = version_of(&message.text).unwrap_or(0);
            verdict.add(
                dir,
                Kind::Edit,
                Flaw::Lost,
                (item.edits.len() - shown.min(item.edits.len())) as u64,
                format!(
                    "{} shows {:?} on Telegram, the last edit was {:?}",
                    item.tag,
                    message.text,
                    item.final_text()
                ),
                hints.clone(),
            );
        }
        check_owner_reactions_on_telegram(verdict, owner_account, item, message, &hints);
    }
}

/// The owner's reactions (set on Matrix) are on the Telegram message.
fn check_owner_reactions_on_telegram(
    verdict: &mut Verdict,
    owner_account: i64,
    item: &Item,
    message: &MessageView,
    hints: &[String],
) {
    for (reactor, key) in &item.reactions {
        if *reactor != Reactor::Owner {
            continue;
        }
        let present = message
            .reactions
            .iter()
            .any(|(user, k)| *user == owner_account && k == key);
        if !present {
            verdict.add(
                Dir::MxToTg,
                Kind::Reaction,
                Flaw::Lost,
                1,
                format!(
                    "the owner's {key} on {} is not on Telegram (it shows {:?})",
                    item.tag, message.reactions
                ),
                hints.to_vec(),
            );
        }
    }
}

/// The reactions set on an item, as `owner 👍, 1000004 😁`.
fn describe_reactions(item: &Item) -> String {
    item.reactions
        .iter()
        .map(|(reactor, key)| match reactor {
            Reactor::Owner => format!("owner {key}"),
            Reactor::Tg(user) => format!("{user} {key}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
