//! Chat sync: walks the account's dialogs (most recent first) and makes sure
//! every basic group, supergroup and channel that passes the configured
//! filters has a portal, creating at most a configured number of new rooms
//! per sync. Private chats never get a portal here: they appear when a
//! message arrives or through `pm`.
//!
//! Deciding what to bridge ([`chat_info`], [`Admission`]) is pure; the walk
//! itself asks Telegram through [`TelegramApi`] (dialogs, chats, about
//! texts) and Matrix through [`PortalRooms`]. It never sends notices
//! itself: progress goes to a callback.
//!
//! Portals are still keyed by the client's `PeerId` in the store; this module
//! turns the adapter's [`TgChatId`]s into that key until the store takes
//! typed ids itself.

use grammers_session::types::PeerId;
use ruma::RoomId;
use tracing::{debug, info, warn};

use super::avatar;
use super::ghost::Puppets;
use super::portal::{ChatInfo, OwnerRole, PortalError, PortalRooms, CREATION_PAUSE};
use super::space;
use crate::config::{FilterConfig, FilterMode};
use crate::ids::TgChatId;
use crate::store::{Portal, PortalKind, Store, StoreError};
use crate::telegram::chats::{TgChat, TgChatKind};
use crate::telegram::{CallError, TelegramApi};

/// Key of the owner's filter (set with the `filter` command) in the store's
/// key-value table; when present it replaces the config file's filter.
pub const FILTER_KEY: &str = "chat_filter";

/// What a sync may bridge.
#[derive(Debug, Clone, Default)]
pub struct SyncSettings {
    /// New portals per sync; 0 means no limit.
    pub max_new_portals: u32,
    /// Chats with more members are left alone.
    pub max_member_count: Option<u32>,
    /// Whether archived chats are bridged.
    pub sync_archived: bool,
    /// Allow- or deny-list of chat ids.
    pub filter: FilterConfig,
}

/// How many new portals this sync may create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncScope {
    /// Up to [`SyncSettings::max_new_portals`].
    Limited,
    /// Every chat that passes the filters (`sync all`).
    All,
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Portals created.
    pub created: u32,
    /// Existing portals brought up to date.
    pub updated: u32,
    /// Chats that would get a portal but were over this sync's limit.
    pub deferred: u32,
    /// Chats left out by the filters, member limit or archive switch.
    pub skipped: u32,
    /// Chats whose portal could not be set up (logged).
    pub failed: u32,
    /// The chats that got a new portal, in creation order (for history).
    pub new_portals: Vec<PeerId>,
    /// Every listed chat with its newest message id, so the catch-up after
    /// a restart knows which portals missed messages without listing the
    /// dialogs again.
    pub top_messages: Vec<(PeerId, i32)>,
    /// The bridged chats that are forums (their topics get rooms too).
    pub forums: Vec<PeerId>,
}

/// The store's key of a chat.
pub fn peer_key(chat: TgChatId) -> Option<PeerId> {
    PeerId::from_bot_api_dialog_id(chat.dialog_id())
}

/// Why a chat is or is not bridged by a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// It gets a portal.
    Bridge,
    /// A private chat: only on message or `pm`.
    Private,
    /// The filter excludes it.
    Filtered,
    /// Over the member limit.
    TooBig,
    /// Archived, and archived chats are off.
    Archived,
}

/// Whether a sync bridges `info` (found in the archive if `archived`).
pub fn admit(info: &ChatInfo, archived: bool, settings: &SyncSettings) -> Admission {
    if info.kind == PortalKind::Private {
        return Admission::Private;
    }
    let dialog_id = info.peer.bot_api_dialog_id().unwrap_or_default();
    if !settings.filter.allows(dialog_id) {
        return Admission::Filtered;
    }
    if let (Some(max), Some(count)) = (settings.max_member_count, info.member_count) {
        if count > max {
            return Admission::TooBig;
        }
    }
    if archived && !settings.sync_archived {
        return Admission::Archived;
    }
    Admission::Bridge
}

/// The filter in force: the one the owner set with `filter`, else `config`.
pub fn current_filter(store: &Store, config: &FilterConfig) -> Result<FilterConfig, StoreError> {
    let stored = store.kv_get(FILTER_KEY)?;
    Ok(stored
        .and_then(|json| serde_json::from_str::<FilterConfig>(&json).ok())
        .unwrap_or_else(|| config.clone()))
}

/// Records the owner's filter.
pub fn store_filter(store: &Store, filter: &FilterConfig) -> Result<(), StoreError> {
    let mode = match filter.mode {
        FilterMode::Allow => "allow",
        FilterMode::Deny => "deny",
    };
    let json = serde_json::json!({ "mode": mode, "chats": filter.chats });
    store.kv_set(FILTER_KEY, &json.to_string())
}

/// Lets `chat` be bridged (`allow`) or keeps it out, whatever the filter's
/// mode: an allow-list gains or loses the chat, a deny-list loses or gains
/// it. Returns whether the filter changed.
pub fn change_filter(filter: &mut FilterConfig, chat: i64, allow: bool) -> bool {
    let listed = filter.mode == FilterMode::Allow;
    let want_listed = allow == listed;
    let present = filter.chats.contains(&chat);
    match (want_listed, present) {
        (true, false) => filter.chats.push(chat),
        (false, true) => filter.chats.retain(|&c| c != chat),
        _ => return false,
    }
    true
}

/// The filter in words, for the `filter` command.
pub fn describe_filter(filter: &FilterConfig) -> String {
    let list = filter
        .chats
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    match (filter.mode, filter.chats.is_empty()) {
        (FilterMode::Deny, true) => {
            "Every chat is bridged: the filter excludes nothing.".to_owned()
        }
        (FilterMode::Deny, false) => format!("Every chat is bridged except: {list}."),
        (FilterMode::Allow, true) => "No chat is bridged: the filter allows none.".to_owned(),
        (FilterMode::Allow, false) => format!("Only these chats are bridged: {list}."),
    }
}

/// Sets the portal's avatar to the chat's current photo (uploaded once per
/// photo), or removes it when the chat has none.
pub async fn mirror_chat_photo(
    rooms: &PortalRooms<'_>,
    telegram: &TelegramApi,
    portal: &mut Portal,
    chat: &TgChat,
) -> Result<(), PortalError> {
    let current = chat.profile.photo_id;
    if current == portal.avatar_photo_id {
        return Ok(());
    }
    let avatar = match current {
        None => None,
        Some(_) => {
            let Some(photo) = telegram.photo_of(&chat.profile).await else {
                debug!("no usable reference for the chat photo");
                return Ok(());
            };
            let mxc = avatar::mxc_for(rooms.client, rooms.store, telegram, &photo).await?;
            Some((photo.id, mxc))
        }
    };
    rooms.set_avatar(portal, avatar).await
}

/// The bridge's view of a chat; `None` when its id has no store key.
pub fn chat_info(chat: &TgChat) -> Option<ChatInfo> {
    Some(ChatInfo {
        peer: peer_key(chat.id)?,
        kind: match chat.kind {
            TgChatKind::Private => PortalKind::Private,
            TgChatKind::Group => PortalKind::Group,
            TgChatKind::Supergroup => PortalKind::Supergroup,
            TgChatKind::Channel => PortalKind::Channel,
        },
        title: chat.title.clone(),
        about: None,
        owner_role: match chat.kind {
            TgChatKind::Private => OwnerRole::Member,
            _ => role(chat.creator, chat.admin),
        },
        member_count: chat.member_count,
    })
}

fn role(creator: bool, admin: bool) -> OwnerRole {
    if creator {
        OwnerRole::Creator
    } else if admin {
        OwnerRole::Admin
    } else {
        OwnerRole::Member
    }
}

/// What a sync works with.
pub struct SyncContext<'a> {
    /// The Telegram client.
    pub telegram: TelegramApi,
    /// Portal rooms.
    pub rooms: &'a PortalRooms<'a>,
    /// Ghosts, for member sync.
    pub puppets: &'a Puppets<'a>,
    /// The space portals are linked into.
    pub space: Option<&'a RoomId>,
    /// The logged-in account's Telegram id (not given a ghost).
    pub self_id: i64,
}

/// Walks the dialogs and sets up portals. `progress(created, planned)` is
/// called after each new room when the sync creates many.
pub async fn sync_chats(
    context: &SyncContext<'_>,
    settings: &SyncSettings,
    scope: SyncScope,
    mut progress: impl FnMut(u32, u32),
) -> Result<SyncReport, CallError> {
    let candidates = collect_candidates(&context.telegram, context.rooms, settings).await?;
    let mut report = SyncReport {
        skipped: candidates.skipped,
        top_messages: candidates.top_messages,
        ..SyncReport::default()
    };
    let forum_of = |chat: &TgChat, info: &ChatInfo| chat.forum.then_some(info.peer);
    let limit = match scope {
        SyncScope::All => u32::MAX,
        SyncScope::Limited if settings.max_new_portals == 0 => u32::MAX,
        SyncScope::Limited => settings.max_new_portals,
    };
    let planned = candidates.new_chats.len().min(limit as usize) as u32;
    report.deferred = (candidates.new_chats.len() as u32).saturating_sub(planned);
    for (peer, info) in candidates.existing {
        report.forums.extend(forum_of(&peer, &info));
        match setup(context, &peer, info, false).await {
            Ok(()) => report.updated += 1,
            Err(error) => {
                warn!(%error, "could not update a portal");
                report.failed += 1;
            }
        }
    }
    for (peer, info) in candidates.new_chats.into_iter().take(planned as usize) {
        let chat = info.peer;
        report.forums.extend(forum_of(&peer, &info));
        match setup(context, &peer, info, true).await {
            Ok(()) => {
                report.created += 1;
                report.new_portals.push(chat);
                progress(report.created, planned);
                tokio::time::sleep(CREATION_PAUSE).await;
            }
            Err(error) => {
                warn!(%error, "could not create a portal");
                report.failed += 1;
            }
        }
    }
    info!(
        created = report.created,
        updated = report.updated,
        deferred = report.deferred,
        skipped = report.skipped,
        failed = report.failed,
        "chat sync finished"
    );
    Ok(report)
}

/// Chats found in the dialog list, most recent first.
struct Candidates {
    existing: Vec<(TgChat, ChatInfo)>,
    new_chats: Vec<(TgChat, ChatInfo)>,
    skipped: u32,
    top_messages: Vec<(PeerId, i32)>,
}

async fn collect_candidates(
    telegram: &TelegramApi,
    rooms: &PortalRooms<'_>,
    settings: &SyncSettings,
) -> Result<Candidates, CallError> {
    let mut candidates = Candidates {
        existing: Vec::new(),
        new_chats: Vec::new(),
        skipped: 0,
        top_messages: Vec::new(),
    };
    for dialog in telegram.dialogs().await? {
        if let (Some(peer), Some(top)) = (peer_key(dialog.id), dialog.top_message) {
            candidates.top_messages.push((peer, top));
        }
        let Some(chat) = dialog.chat else {
            continue;
        };
        let Some(info) = chat_info(&chat) else {
            continue;
        };
        let has_portal = matches!(rooms.store.portals().by_peer(info.peer), Ok(Some(_)));
        match admit(&info, dialog.archived, settings) {
            Admission::Bridge if has_portal => candidates.existing.push((chat, info)),
            Admission::Bridge => candidates.new_chats.push((chat, info)),
            Admission::Private => {}
            other => {
                debug!(
                    chat = info.peer.bot_api_dialog_id().unwrap_or_default(),
                    ?other,
                    "chat not bridged"
                );
                candidates.skipped += 1;
            }
        }
    }
    Ok(candidates)
}

/// Creates or updates one portal, links it into the space and, for a new
/// group portal, syncs its members (broadcast channel members stay off).
async fn setup(
    context: &SyncContext<'_>,
    chat: &TgChat,
    mut info: ChatInfo,
    new: bool,
) -> Result<(), PortalError> {
    let (rooms, space) = (context.rooms, context.space);
    if new {
        info.about = match context.telegram.about(chat).await {
            Ok(about) => about,
            Err(error) => {
                debug!(%error, "could not read the chat's about text");
                None
            }
        };
    }
    let (mut portal, created) = rooms.ensure(&info, space).await?;
    if let (true, Some(username)) = (created, chat.username.as_deref()) {
        if let Err(error) = rooms.claim_alias(&portal.room_id, username).await {
            warn!(%error, "could not give the portal its alias");
        }
    }
    if let Err(error) = mirror_chat_photo(rooms, &context.telegram, &mut portal, chat).await {
        warn!(%error, "could not mirror the chat photo");
    }
    if let Some(space_id) = space {
        if !portal.in_space {
            space::add_child(rooms.client, space_id, &portal.room_id, rooms.settings).await?;
            portal.in_space = true;
            rooms.store.portals().upsert(&portal)?;
        }
    }
    if new && info.kind != PortalKind::Channel {
        match context.telegram.chat_ref(chat).await {
            Some(chat) => {
                let joined = context
                    .puppets
                    .sync_members(&context.telegram, chat, &portal.room_id, context.self_id)
                    .await?;
                debug!(joined, "members synced");
            }
            None => debug!("no usable reference for member sync"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FilterMode;

    fn group(id: i64, members: u32) -> ChatInfo {
        ChatInfo {
            peer: PeerId::chat(id).unwrap(),
            kind: PortalKind::Group,
            title: "g".into(),
            about: None,
            owner_role: OwnerRole::Member,
            member_count: Some(members),
        }
    }

    #[test]
    fn filter_changes_respect_the_mode() {
        let mut deny = FilterConfig {
            mode: FilterMode::Deny,
            chats: vec![-5],
        };
        assert!(change_filter(&mut deny, -7, false));
        assert!(!change_filter(&mut deny, -7, false), "already denied");
        assert!(!deny.allows(-7));
        assert!(change_filter(&mut deny, -5, true));
        assert!(deny.allows(-5));
        assert_eq!(deny.chats, vec![-7]);
        assert_eq!(describe_filter(&deny), "Every chat is bridged except: -7.");

        let mut allow = FilterConfig {
            mode: FilterMode::Allow,
            chats: vec![],
        };
        assert_eq!(
            describe_filter(&allow),
            "No chat is bridged: the filter allows none."
        );
        assert!(change_filter(&mut allow, -9, true));
        assert!(allow.allows(-9));
        assert!(change_filter(&mut allow, -9, false));
        assert!(!allow.allows(-9));
    }

    #[test]
    fn the_owners_filter_replaces_the_configured_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let config = FilterConfig {
            mode: FilterMode::Deny,
            chats: vec![-1],
        };
        assert_eq!(current_filter(&store, &config).unwrap().chats, vec![-1]);
        let mut mine = config.clone();
        change_filter(&mut mine, -2, false);
        store_filter(&store, &mine).unwrap();
        let read = current_filter(&store, &config).unwrap();
        assert_eq!(read.mode, FilterMode::Deny);
        assert_eq!(read.chats, vec![-1, -2]);
    }

    #[test]
    fn private_chats_are_never_bridged_by_a_sync() {
        let mut info = group(1, 2);
        info.kind = PortalKind::Private;
        assert_eq!(
            admit(&info, false, &SyncSettings::default()),
            Admission::Private
        );
    }

    #[test]
    fn filters_member_limit_and_archive_apply() {
        let mut settings = SyncSettings {
            max_member_count: Some(10),
            ..SyncSettings::default()
        };
        assert_eq!(admit(&group(1, 5), false, &settings), Admission::Bridge);
        assert_eq!(admit(&group(1, 50), false, &settings), Admission::TooBig);
        assert_eq!(admit(&group(1, 5), true, &settings), Admission::Archived);
        settings.sync_archived = true;
        assert_eq!(admit(&group(1, 5), true, &settings), Admission::Bridge);
        settings.filter = FilterConfig {
            mode: FilterMode::Deny,
            chats: vec![-1],
        };
        assert_eq!(admit(&group(1, 5), false, &settings), Admission::Filtered);
        settings.filter.mode = FilterMode::Allow;
        assert_eq!(admit(&group(1, 5), false, &settings), Admission::Bridge);
        assert_eq!(admit(&group(2, 5), false, &settings), Admission::Filtered);
    }
}
