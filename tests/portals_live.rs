//! End to end: portals follow their Telegram chats while the bridge runs,
//! and the owner manages portals from Matrix. Against the fake Telegram
//! datacenter and a real homeserver, Synapse and Conduit each, five tests
//! with a bridge of their own:
//! - chat and profile photos become room and ghost avatars; a new or removed
//!   photo, an
//!   about text, members joining, leaving, kicked or banned, and admins
//!   promoted or demoted show up in the portal;
//! - the owner's topic and avatar reach Telegram, and their echo does not
//!   come back as a second change;
//! - `pm +phone`, `filter`, `unbridge` and `delete-portal` work;
//! - a portal room the store lost (a crash right after creating it) is
//!   adopted at the next start instead of duplicated, and a recorded flood
//!   wait is waited out first.

mod appservice_support;

use std::time::Duration;

use appservice_support::telegram::{
    configure, joined_management_room, room_of, start_logged_in, state, user, wait_for_log,
    NO_HISTORY, PNG,
};
use appservice_support::{
    command, default_homeserver, eventually, is_notice_from, membership, try_state, upload,
    BridgeInstance, Bridges,
};
use fake_telegram::world::chats::{all_admin_rights, no_banned_rights};
use fake_telegram::world::{ChannelId, ChatId, Origin, Peer, UserId};
use fake_telegram::FakeTelegram;
use grammers_session::types::PeerId;
use serde_json::{json, Value};
use testkit::{Homeserver, HomeserverKind, Method, TestUser};
use tgbridge::store::Store;

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    default_homeserver(kind, &["lph", "lmb", "lav", "lcm", "lad"]).await
}

const WAIT: Duration = Duration::from_secs(30);

on_both_servers!(
    photos_about_texts_and_profiles_follow_telegram,
    members_and_admins_follow_telegram,
    the_owners_topic_and_avatar_reach_telegram_without_an_echo,
    the_owner_manages_portals_with_commands,
    a_lost_portal_room_is_adopted_after_a_flood_wait,
);

/// One scenario's world: Alice (the owner), Bob (with a profile photo),
/// Carol and Dave; Hikers, Bob's basic group with a photo (Alice and Carol
/// in it); Super, Alice's supergroup with Bob; News, Bob's public channel
/// `@dailynews` Alice reads. The bridge, prepared with an alias template
/// and no initial history, is logged in as Alice and has made the portals.
struct Live {
    bridge: BridgeInstance,
    fake: FakeTelegram,
    owner: TestUser,
    store: Store,
    alice: UserId,
    bob: UserId,
    carol: UserId,
    dave: UserId,
    hikers: ChatId,
    sup: ChannelId,
    hikers_peer: PeerId,
    sup_peer: PeerId,
    news_peer: PeerId,
    hikers_room: String,
    sup_room: String,
    news_room: String,
}

/// Starts the bridge prepared as `name` on `server` into a fresh [`Live`].
async fn live(server: &Homeserver, bridges: &Bridges, name: &str) -> Live {
    let mut bridge = bridges.take(name);
    configure(
        &bridge,
        &format!(
            "  alias_template: \"{name}tg_{{username}}\"\n  max_new_portals_per_sync: 10\n{NO_HISTORY}"
        ),
    );
    let fake = FakeTelegram::start().await;
    let (alice, bob, carol, dave, hikers, sup, news) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550001"));
        let bob = w.add_user(user("Bob", "15550002"));
        let carol = w.add_user(user("Carol", "15550003"));
        let dave = w.add_user(user("Dave", "15550004"));
        w.set_profile_photo(bob, PNG.to_vec()).unwrap();
        let hikers = w.create_group(bob, "Hikers", &[alice, carol]).unwrap();
        w.set_chat_photo(bob, Peer::Chat(hikers), PNG.to_vec())
            .unwrap();
        let sup = w.create_supergroup(alice, "Super", &[bob]).unwrap();
        let news = w.create_channel(bob, "News", "Daily", true).unwrap();
        w.channel_invite(Origin::control(bob), news, &[alice])
            .unwrap();
        w.set_channel_username(news, Some("dailynews")).unwrap();
        (alice, bob, carol, dave, hikers, sup, news)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let hikers_peer = PeerId::chat(hikers).unwrap();
    let sup_peer = PeerId::channel(sup).unwrap();
    let news_peer = PeerId::channel(news).unwrap();
    Live {
        hikers_room: room_of(&store, hikers_peer),
        sup_room: room_of(&store, sup_peer),
        news_room: room_of(&store, news_peer),
        bridge,
        fake,
        owner,
        store,
        alice,
        bob,
        carol,
        dave,
        hikers,
        sup,
        hikers_peer,
        sup_peer,
        news_peer,
    }
}

/// `!tg unbridge` in Hikers, confirmed: the ghosts and the bot leave, the
/// portal is gone and the room stays for the owner.
async fn unbridge_hikers(t: &Live) {
    let (owner, bridge, store) = (&t.owner, &t.bridge, &t.store);
    let (hikers_room, bot) = (t.hikers_room.as_str(), t.bridge.bot_user_id.as_str());
    command(
        owner,
        hikers_room,
        bot,
        "!tg unbridge",
        "Send `!tg unbridge confirm` to go ahead",
    )
    .await;
    assert!(store.portals().by_peer(t.hikers_peer).unwrap().is_some());
    command(
        owner,
        hikers_room,
        bot,
        "!tg unbridge confirm",
        "no longer bridged",
    )
    .await;
    let bob_ghost = bridge.ghost(t.bob);
    let bob_ghost = bob_ghost.as_str();
    eventually(bridge, "the ghosts and the bot leaving", || async move {
        let bob_gone = membership(owner, hikers_room, bob_ghost).await == "leave";
        let bot_gone = membership(owner, hikers_room, bot).await == "leave";
        (bob_gone && bot_gone).then_some(())
    })
    .await;
    assert!(store.portals().by_peer(t.hikers_peer).unwrap().is_none());
    assert_eq!(
        membership(owner, hikers_room, &owner.user_id).await,
        "join",
        "the room stays for the owner"
    );
}

/// `delete-portal` for News asked from the management room, where the
/// owner can post (a broadcast channel's portal is named from there), then
/// `!tg delete-portal confirm` in Super: Super's portal is deleted and the
/// owner removed from its room.
async fn delete_super(t: &Live, management: &str) {
    let (owner, bridge, store) = (&t.owner, &t.bridge, &t.store);
    let (sup_room, bot) = (t.sup_room.as_str(), t.bridge.bot_user_id.as_str());
    let news_id = t.news_peer.bot_api_dialog_id().unwrap();
    command(
        owner,
        management,
        bot,
        &format!("delete-portal {news_id}"),
        &format!("Send `delete-portal {news_id} confirm` to go ahead"),
    )
    .await;
    assert!(store.portals().by_peer(t.news_peer).unwrap().is_some());
    // The answer comes just before everyone is removed from the room. A
    // /sync may leave it out of the left room's timeline (Conduit does when
    // the removal lands first), so it is read from the room's history, which
    // the owner keeps up to their removal.
    owner
        .send_text(sup_room, "!tg delete-portal confirm")
        .await
        .expect("send command");
    eventually(
        bridge,
        "the answer \"is deleted\" to the confirmation",
        || async move {
            let events = owner.room_messages(sup_room, 50).await.ok()?;
            events
                .iter()
                .any(|e| is_notice_from(e, bot, "is deleted"))
                .then_some(())
        },
    )
    .await;
    eventually(
        bridge,
        "the owner removed from the deleted portal",
        || async move {
            let joined = owner
                .api()
                .ok(Method::GET, "/_matrix/client/v3/joined_rooms", None)
                .await
                .ok()?;
            let rooms = joined["joined_rooms"].as_array()?.clone();
            (!rooms.iter().any(|r| r == sup_room)).then_some(())
        },
    )
    .await;
    assert!(store.portals().by_peer(t.sup_peer).unwrap().is_none());
}

async fn photos_about_texts_and_profiles_follow_telegram(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = live(server, bridges, "lph").await;
    let (owner, fake, store, bridge) = (&t.owner, &t.fake, &t.store, &t.bridge);
    let (bob, hikers, hikers_room) = (t.bob, t.hikers, t.hikers_room.as_str());

    // Photos became avatars, uploaded once and remembered by photo id.
    let first_avatar = state(owner, hikers_room, "m.room.avatar", "").await["url"]
        .as_str()
        .expect("the portal has the chat photo as avatar")
        .to_owned();
    assert!(first_avatar.starts_with("mxc://"), "{first_avatar}");
    let first_avatar = first_avatar.as_str();
    let portal = store.portals().by_peer(t.hikers_peer).unwrap().unwrap();
    let photo_id = portal.avatar_photo_id.expect("the photo id is recorded");
    assert_eq!(
        store.kv_get(&format!("avatar_mxc:{photo_id}")).unwrap(),
        Some(first_avatar.to_owned())
    );
    let profile_of = |user: String| async move {
        owner
            .api()
            .ok(
                Method::GET,
                &format!("/_matrix/client/v3/profile/{user}"),
                None,
            )
            .await
            .unwrap_or(Value::Null)
    };
    let profile = owner
        .api()
        .ok(
            Method::GET,
            &format!("/_matrix/client/v3/profile/{}", bridge.ghost(bob)),
            None,
        )
        .await
        .unwrap();
    assert!(
        profile["avatar_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("mxc://")),
        "Bob's ghost has his profile photo: {profile}"
    );

    // The public channel's portal has its alias.
    let alias = owner
        .api()
        .ok(
            Method::GET,
            "/_matrix/client/v3/directory/room/%23lphtg_dailynews%3Alocalhost",
            None,
        )
        .await
        .expect("the alias resolves");
    assert_eq!(alias["room_id"], t.news_room.as_str());
    assert_eq!(
        state(owner, &t.news_room, "m.room.canonical_alias", "").await["alias"],
        "#lphtg_dailynews:localhost"
    );

    // A new chat photo and an about text on Telegram.
    fake.world()
        .lock()
        .unwrap()
        .set_chat_photo(bob, Peer::Chat(hikers), PNG.to_vec())
        .unwrap();
    eventually(bridge, "the new chat photo", || async move {
        let url = try_state(owner, hikers_room, "m.room.avatar", "").await["url"].clone();
        (url.is_string() && url != first_avatar).then_some(())
    })
    .await;
    fake.world()
        .lock()
        .unwrap()
        .edit_photo(Origin::control(bob), Peer::Chat(hikers), None)
        .unwrap();
    eventually(bridge, "the chat photo removed", || async move {
        let avatar = try_state(owner, hikers_room, "m.room.avatar", "").await;
        (avatar.is_object() && avatar.get("url").is_none()).then_some(())
    })
    .await;
    assert_eq!(
        store
            .portals()
            .by_peer(t.hikers_peer)
            .unwrap()
            .unwrap()
            .avatar_photo_id,
        None
    );
    fake.world()
        .lock()
        .unwrap()
        .edit_about(Origin::control(bob), Peer::Chat(hikers), "Weekend walks")
        .unwrap();
    eventually(bridge, "the about text as topic", || async move {
        (try_state(owner, hikers_room, "m.room.topic", "").await["topic"] == "Weekend walks")
            .then_some(())
    })
    .await;

    // Bob changes his profile photo and name: his ghost follows.
    let bob_ghost = bridge.ghost(bob);
    let old_avatar = profile_of(bob_ghost.clone()).await["avatar_url"].clone();
    let (old_avatar, bob_ghost) = (&old_avatar, &bob_ghost);
    fake.world()
        .lock()
        .unwrap()
        .set_profile_photo(bob, PNG.to_vec())
        .unwrap();
    fake.world()
        .lock()
        .unwrap()
        .rename_user(bob, "Robert", None)
        .unwrap();
    eventually(bridge, "Bob's ghost following his profile", || async move {
        let profile = profile_of(bob_ghost.clone()).await;
        (profile["displayname"] == "Robert (Telegram)"
            && profile["avatar_url"].is_string()
            && profile["avatar_url"] != *old_avatar)
            .then_some(())
    })
    .await;
    t.bridge.stop();
}

async fn members_and_admins_follow_telegram(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = live(server, bridges, "lmb").await;
    let (owner, fake, bridge) = (&t.owner, &t.fake, &t.bridge);
    let (alice, bob, carol, dave, hikers, sup) = (t.alice, t.bob, t.carol, t.dave, t.hikers, t.sup);
    let (hikers_room, sup_room) = (t.hikers_room.as_str(), t.sup_room.as_str());
    let ghost = |id: i64| bridge.ghost(id);

    // Members: Dave is added and promoted, then demoted; Carol leaves; Bob
    // kicks Dave; in the supergroup the owner bans Bob.
    fake.world()
        .lock()
        .unwrap()
        .add_chat_members(Origin::control(bob), hikers, &[dave])
        .unwrap();
    eventually(bridge, "Dave's ghost joining", || async move {
        (membership(owner, hikers_room, &ghost(dave)).await == "join").then_some(())
    })
    .await;
    fake.world()
        .lock()
        .unwrap()
        .set_chat_admin_announced(hikers, dave, true)
        .unwrap();
    eventually(bridge, "Dave's admin level", || async move {
        let levels = try_state(owner, hikers_room, "m.room.power_levels", "").await;
        (levels["users"][ghost(dave)] == 50).then_some(())
    })
    .await;
    fake.world()
        .lock()
        .unwrap()
        .set_chat_admin_announced(hikers, dave, false)
        .unwrap();
    eventually(bridge, "Dave's demotion", || async move {
        let levels = try_state(owner, hikers_room, "m.room.power_levels", "").await;
        (levels["users"].get(ghost(dave)).is_none() && levels["users"][ghost(bob)] == 95)
            .then_some(())
    })
    .await;
    fake.world()
        .lock()
        .unwrap()
        .remove_chat_member(Origin::control(carol), hikers, carol)
        .unwrap();
    fake.world()
        .lock()
        .unwrap()
        .remove_chat_member(Origin::control(bob), hikers, dave)
        .unwrap();
    // The owner makes Bob an admin of Super; Telegram tells the members'
    // clients to refetch the supergroup.
    {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        w.promote(Origin::control(alice), sup, bob, all_admin_rights(), None)
            .unwrap();
        w.announce_chat_change(Peer::Channel(sup), Origin::control(alice));
    }
    eventually(
        bridge,
        "Bob's admin level in the supergroup",
        || async move {
            let levels = try_state(owner, sup_room, "m.room.power_levels", "").await;
            (levels["users"][ghost(bob)] == 50).then_some(())
        },
    )
    .await;
    let mut ban = no_banned_rights();
    ban.view_messages = true;
    fake.world()
        .lock()
        .unwrap()
        .channel_ban(Origin::control(alice), sup, bob, ban)
        .unwrap();
    eventually(
        bridge,
        "Carol leaving, Dave kicked, Bob banned",
        || async move {
            let carol_left = try_state(owner, hikers_room, "m.room.member", &ghost(carol)).await;
            let dave_kicked = try_state(owner, hikers_room, "m.room.member", &ghost(dave)).await;
            let bob_banned = membership(owner, sup_room, &ghost(bob)).await;
            (carol_left["membership"] == "leave"
                && dave_kicked["membership"] == "leave"
                && bob_banned == "ban")
                .then_some(())
        },
    )
    .await;
    t.bridge.stop();
}

async fn the_owners_topic_and_avatar_reach_telegram_without_an_echo(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = live(server, bridges, "lav").await;
    let (owner, fake, store, bridge) = (&t.owner, &t.fake, &t.store, &t.bridge);
    let (sup, sup_peer, sup_room) = (t.sup, t.sup_peer, t.sup_room.as_str());

    // The owner (creator of Super) changes its topic and avatar in Matrix.
    owner
        .api()
        .ok(
            Method::PUT,
            &format!("/_matrix/client/v3/rooms/{sup_room}/state/m.room.topic/"),
            Some(&json!({ "topic": "Our supergroup" })),
        )
        .await
        .unwrap();
    eventually(bridge, "the about text on Telegram", || async move {
        let about = fake
            .world()
            .lock()
            .unwrap()
            .channel(sup)
            .unwrap()
            .about
            .clone();
        (about == "Our supergroup").then_some(())
    })
    .await;
    let picture = upload(owner, PNG.to_vec(), "image/png").await;
    owner
        .api()
        .ok(
            Method::PUT,
            &format!("/_matrix/client/v3/rooms/{sup_room}/state/m.room.avatar/"),
            Some(&json!({ "url": picture })),
        )
        .await
        .unwrap();
    let telegram_photo = eventually(bridge, "the chat photo on Telegram", || async move {
        fake.world().lock().unwrap().channel(sup).unwrap().photo
    })
    .await;
    let recorded = eventually(bridge, "the echo recognised", || async move {
        store
            .portals()
            .by_peer(sup_peer)
            .unwrap()
            .filter(|p| p.avatar_photo_id == Some(telegram_photo))
    })
    .await;
    assert_eq!(
        recorded.avatar_mxc.as_ref().map(|m| m.as_str()),
        Some(picture.as_str())
    );
    // The echo (a service message) has been handled once the next message
    // of the chat arrives; the room keeps the owner's picture.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        state(owner, sup_room, "m.room.avatar", "").await["url"],
        picture.as_str()
    );
    t.bridge.stop();
}

async fn the_owner_manages_portals_with_commands(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = live(server, bridges, "lcm").await;
    let owner = &t.owner;
    let bot = t.bridge.bot_user_id.clone();
    let bot = bot.as_str();

    // Commands: pm by phone, the filter, unbridge and delete-portal.
    let management = joined_management_room(&t.owner, &t.store).await;
    command(
        owner,
        &management,
        bot,
        "pm +1 555 0004",
        "Created the private chat with Dave",
    )
    .await;
    command(owner, &management, bot, "filter", "Every chat is bridged").await;
    let news_id = t.news_peer.bot_api_dialog_id().unwrap();
    command(
        owner,
        &management,
        bot,
        "filter deny @dailynews",
        &format!("Chat {news_id} is now denied"),
    )
    .await;
    command(
        owner,
        &management,
        bot,
        "filter allow @dailynews",
        &format!("Chat {news_id} is now allowed"),
    )
    .await;
    unbridge_hikers(&t).await;
    command(
        owner,
        &management,
        bot,
        "filter",
        &format!(
            "Every chat is bridged except: {}.",
            t.hikers_peer.bot_api_dialog_id().unwrap()
        ),
    )
    .await;
    delete_super(&t, &management).await;
    t.bridge.stop();
}

async fn a_lost_portal_room_is_adopted_after_a_flood_wait(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut t = live(server, bridges, "lad").await;
    // Hikers unbridged (so filtered), Super's portal deleted (not filtered).
    let management = joined_management_room(&t.owner, &t.store).await;
    unbridge_hikers(&t).await;
    delete_super(&t, &management).await;

    // A crash right after creating News's room would have left it
    // unrecorded: the restart adopts it (after waiting out a recorded flood
    // wait) instead of creating another room. Super, deleted but not
    // filtered, gets a fresh room; Hikers stays out.
    let (store, news_peer, sup_peer) = (&t.store, t.news_peer, t.sup_peer);
    t.bridge.stop();
    assert!(store.portals().delete(news_peer).unwrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    store
        .kv_set("telegram_flood_wait_until", &(now + 2).to_string())
        .unwrap();
    let portals_before = store.portals().all().unwrap().len();
    t.bridge.start();
    t.bridge.wait_ready(Duration::from_secs(60)).await;
    wait_for_log(&t.bridge, "waiting out the flood wait", 1, WAIT).await;
    wait_for_log(&t.bridge, "chat sync finished", 2, Duration::from_secs(60)).await;
    assert!(t.bridge.log().contains("adopted a portal room"));
    assert_eq!(
        room_of(store, news_peer),
        t.news_room,
        "the old room is adopted"
    );
    assert_ne!(
        room_of(store, sup_peer),
        t.sup_room,
        "a deleted portal gets a new room"
    );
    assert!(store.portals().by_peer(t.hikers_peer).unwrap().is_none());
    let after = store.portals().all().unwrap();
    assert_eq!(
        after.len(),
        portals_before + 2,
        "News adopted, Super new, the unbridged chat stays out: {after:?}"
    );
    t.bridge.stop();
}
