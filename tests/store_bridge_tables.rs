//! Portals, ghosts, the message map, appservice transaction ids and the
//! key-value table: lookups both ways, constraints, and persistence across
//! reopening the file.

use grammers_session::types::PeerId;
use ruma::{OwnedEventId, OwnedRoomId};
use tgbridge::store::{Ghost, MessageMapping, MessageScope, Portal, PortalKind, Store, StoreError};

const ACCOUNT: i64 = 1000;

fn room(name: &str) -> OwnedRoomId {
    format!("!{name}:example.org").try_into().unwrap()
}

fn event(name: &str) -> OwnedEventId {
    format!("${name}").try_into().unwrap()
}

fn portal(peer: PeerId, kind: PortalKind, room_name: &str) -> Portal {
    Portal {
        peer,
        kind,
        room_id: room(room_name),
        title: Some(format!("title of {room_name}")),
        avatar_photo_id: Some(123),
        avatar_mxc: Some("mxc://example.org/avatar".into()),
        encrypted: false,
        in_space: false,
        topic: None,
    }
}

fn mapping(
    scope: MessageScope,
    id: i32,
    part: u32,
    chat: PeerId,
    room_name: &str,
) -> MessageMapping {
    MessageMapping {
        scope,
        tg_msg_id: id,
        part,
        chat,
        room_id: room(room_name),
        event_id: event(&format!("{room_name}-{id}-{part}")),
        sent_by_bridge: false,
    }
}

#[test]
fn bridge_tables_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tgbridge.db");
    let alice = PeerId::user(42).unwrap();
    let group = PeerId::chat(7).unwrap();
    let channel = PeerId::channel(99).unwrap();
    let portals = [
        portal(alice, PortalKind::Private, "alice"),
        portal(group, PortalKind::Group, "group"),
        portal(channel, PortalKind::Channel, "news"),
    ];
    let mut ghost = Ghost::new(42);
    ghost.registered = true;
    ghost.displayname = Some("Alice (Telegram)".into());
    ghost.avatar_photo_id = Some(-5);
    ghost.avatar_mxc = Some("mxc://example.org/alice".into());
    let in_private = mapping(MessageScope::of_chat(alice, ACCOUNT), 10, 0, alice, "alice");
    let mut in_channel = mapping(
        MessageScope::of_chat(channel, ACCOUNT),
        10,
        0,
        channel,
        "news",
    );
    in_channel.sent_by_bridge = true;
    {
        let store = Store::open(&path).unwrap();
        for p in &portals {
            store.portals().upsert(p).unwrap();
        }
        store.ghosts().upsert(&ghost).unwrap();
        assert!(store.messages().insert(&in_private).unwrap());
        assert!(store.messages().insert(&in_channel).unwrap());
        store.record_transaction("txn-1").unwrap();
        store
            .kv_set("management_room", "!mgmt:example.org")
            .unwrap();
    }

    let store = Store::open(&path).unwrap();
    assert_eq!(store.portals().all().unwrap().len(), 3);
    for p in &portals {
        assert_eq!(store.portals().by_peer(p.peer).unwrap().as_ref(), Some(p));
        assert_eq!(
            store.portals().by_room(&p.room_id).unwrap().as_ref(),
            Some(p)
        );
    }
    assert_eq!(store.ghosts().get(42).unwrap(), Some(ghost));
    assert_eq!(
        store.messages().by_telegram(in_private.scope, 10).unwrap(),
        vec![in_private.clone()]
    );
    assert_eq!(
        store.messages().by_event(&in_channel.event_id).unwrap(),
        vec![in_channel.clone()]
    );
    assert!(store
        .messages()
        .is_sent_by_bridge(in_channel.scope, 10)
        .unwrap());
    assert!(!store
        .messages()
        .is_sent_by_bridge(in_private.scope, 10)
        .unwrap());
    assert!(store.transaction_processed("txn-1").unwrap());
    assert!(!store.transaction_processed("txn-2").unwrap());
    assert_eq!(
        store.kv_get("management_room").unwrap().as_deref(),
        Some("!mgmt:example.org")
    );
}

#[test]
fn same_message_id_in_account_and_channel_scopes_are_distinct() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tgbridge.db")).unwrap();
    let alice = PeerId::user(42).unwrap();
    let group = PeerId::chat(7).unwrap();
    let channel = PeerId::channel(42).unwrap();
    store
        .portals()
        .upsert(&portal(alice, PortalKind::Private, "alice"))
        .unwrap();
    store
        .portals()
        .upsert(&portal(group, PortalKind::Group, "group"))
        .unwrap();
    store
        .portals()
        .upsert(&portal(channel, PortalKind::Supergroup, "super"))
        .unwrap();

    // Private chat and basic group share the account's numbering: id 5 exists once.
    let private = mapping(MessageScope::of_chat(alice, ACCOUNT), 5, 0, alice, "alice");
    let group_dup = mapping(MessageScope::of_chat(group, ACCOUNT), 5, 0, group, "group");
    let in_channel = mapping(
        MessageScope::of_chat(channel, ACCOUNT),
        5,
        0,
        channel,
        "super",
    );
    assert!(store.messages().insert(&private).unwrap());
    assert!(
        !store.messages().insert(&group_dup).unwrap(),
        "account scope must be shared"
    );
    assert!(store.messages().insert(&in_channel).unwrap());
    assert_eq!(
        store
            .messages()
            .by_telegram(MessageScope::Account(ACCOUNT), 5)
            .unwrap(),
        vec![private]
    );
    assert_eq!(
        store
            .messages()
            .by_telegram(MessageScope::Channel(42), 5)
            .unwrap(),
        vec![in_channel]
    );
    // Another account's numbering is separate again.
    assert!(store
        .messages()
        .by_telegram(MessageScope::Account(2000), 5)
        .unwrap()
        .is_empty());
}

#[test]
fn split_messages_map_to_several_parts_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tgbridge.db")).unwrap();
    let channel = PeerId::channel(1).unwrap();
    store
        .portals()
        .upsert(&portal(channel, PortalKind::Supergroup, "super"))
        .unwrap();
    let scope = MessageScope::Channel(1);
    // One Telegram message (an album item with a caption) became two events.
    let parts: Vec<_> = (0..2)
        .rev()
        .map(|p| mapping(scope, 30, p, channel, "super"))
        .collect();
    for part in &parts {
        assert!(store.messages().insert(part).unwrap());
    }
    let found = store.messages().by_telegram(scope, 30).unwrap();
    assert_eq!(found.iter().map(|m| m.part).collect::<Vec<_>>(), vec![0, 1]);
    // One Matrix event became two Telegram messages.
    let event_id = event("long-text");
    for (part, id) in [(0, 31), (1, 32)] {
        let mut m = mapping(scope, id, part, channel, "super");
        m.event_id = event_id.clone();
        m.sent_by_bridge = true;
        assert!(store.messages().insert(&m).unwrap());
    }
    let found = store.messages().by_event(&event_id).unwrap();
    assert_eq!(
        found.iter().map(|m| m.tg_msg_id).collect::<Vec<_>>(),
        vec![31, 32]
    );
    assert_eq!(store.messages().newest_in_chat(channel).unwrap(), Some(32));
    assert_eq!(store.messages().delete_event(&event_id).unwrap(), 2);
    assert_eq!(store.messages().delete_telegram(scope, 30).unwrap(), 2);
    assert_eq!(store.messages().newest_in_chat(channel).unwrap(), None);
}

#[test]
fn message_map_requires_a_portal_and_follows_its_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tgbridge.db")).unwrap();
    let alice = PeerId::user(42).unwrap();
    let orphan = mapping(MessageScope::Account(ACCOUNT), 1, 0, alice, "alice");
    let err = store.messages().insert(&orphan).unwrap_err();
    assert!(matches!(err, StoreError::Sqlite(_)), "{err:?}");

    store
        .portals()
        .upsert(&portal(alice, PortalKind::Private, "alice"))
        .unwrap();
    assert!(store.messages().insert(&orphan).unwrap());
    assert!(store.portals().delete(alice).unwrap());
    assert!(!store.portals().delete(alice).unwrap());
    assert!(store
        .messages()
        .by_telegram(orphan.scope, 1)
        .unwrap()
        .is_empty());
}

#[test]
fn portal_upsert_replaces_fields_and_room_ids_are_unique() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tgbridge.db")).unwrap();
    let chat = PeerId::chat(3).unwrap();
    let mut p = portal(chat, PortalKind::Group, "g");
    store.portals().upsert(&p).unwrap();
    p.title = None;
    p.in_space = true;
    p.kind = PortalKind::Supergroup;
    store.portals().upsert(&p).unwrap();
    assert_eq!(store.portals().by_peer(chat).unwrap(), Some(p.clone()));

    let other = portal(PeerId::chat(4).unwrap(), PortalKind::Group, "g");
    assert!(
        store.portals().upsert(&other).is_err(),
        "two portals in one room"
    );
    assert!(store
        .portals()
        .upsert(&portal(PeerId::self_user(), PortalKind::Private, "me"))
        .is_err());
    assert_eq!(store.portals().by_room(&room("nowhere")).unwrap(), None);
}

#[test]
fn ghosts_and_kv_update_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tgbridge.db")).unwrap();
    assert_eq!(store.ghosts().get(5).unwrap(), None);
    let mut ghost = Ghost::new(5);
    store.ghosts().upsert(&ghost).unwrap();
    ghost.displayname = Some("Bob".into());
    store.ghosts().upsert(&ghost).unwrap();
    assert_eq!(store.ghosts().get(5).unwrap(), Some(ghost));
    assert!(store.ghosts().delete(5).unwrap());
    assert_eq!(store.ghosts().get(5).unwrap(), None);

    store.kv_set("k", "one").unwrap();
    store.kv_set("k", "two").unwrap();
    assert_eq!(store.kv_get("k").unwrap().as_deref(), Some("two"));
    store.kv_delete("k").unwrap();
    store.kv_delete("k").unwrap();
    assert_eq!(store.kv_get("k").unwrap(), None);
}

#[test]
fn transaction_ids_are_deduplicated_and_prunable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tgbridge.db");
    {
        let store = Store::open(&path).unwrap();
        store.record_transaction("1").unwrap();
        store.record_transaction("1").unwrap();
        store.record_transaction("2").unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert!(store.transaction_processed("1").unwrap());
    assert!(store.transaction_processed("2").unwrap());
    assert_eq!(store.prune_transactions(0).unwrap(), 0);
    assert_eq!(store.prune_transactions(i64::MAX).unwrap(), 2);
    assert!(!store.transaction_processed("1").unwrap());
}

#[test]
fn bridged_message_and_its_bookkeeping_commit_together() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("tgbridge.db")).unwrap();
    let alice = PeerId::user(42).unwrap();
    let m = mapping(MessageScope::Account(ACCOUNT), 8, 0, alice, "alice");
    let outcome: Result<(), StoreError> = store.transaction(|tx| {
        tx.portals()
            .upsert(&portal(alice, PortalKind::Private, "alice"))?;
        tx.messages().insert(&m)?;
        tx.kv_set("last", "8")?;
        Err(StoreError::InvalidInput("simulated crash before delivery"))
    });
    assert!(outcome.is_err());
    assert_eq!(store.portals().by_peer(alice).unwrap(), None);
    assert!(store.messages().by_telegram(m.scope, 8).unwrap().is_empty());

    store
        .transaction(|tx| {
            tx.portals()
                .upsert(&portal(alice, PortalKind::Private, "alice"))?;
            tx.messages().insert(&m)?;
            tx.kv_set("last", "8")
        })
        .unwrap();
    assert_eq!(store.messages().by_telegram(m.scope, 8).unwrap(), vec![m]);
}
