//! End to end, a broadcast channel the owner only reads: the bridge binary
//! logged into the fake Telegram datacenter next to a real homeserver.
//! Another user's posts, unsigned and signed, reach the channel's portal as
//! the channel itself (its ghost, with the channel's name and photo), a
//! signed post naming its author; edits, the owner's reaction, a pin and a
//! deletion of posts follow; the owner, who may not post, is refused by the
//! room. The portal of the tests of unsigned posts and of the owner's
//! reaction is first turned back into one made before channel ghosts could
//! post, so this also proves that existing portals are fixed.

mod appservice_support;

use std::time::Duration;

use appservice_support::telegram::{
    configure, portal_of, start_logged_in, state, user, wait_for_log, NO_HISTORY, PNG,
};
use appservice_support::{
    default_homeserver, event_id, expect_event, message_in, timeline, BridgeInstance, Bridges,
};
use fake_telegram::world::{ChannelId, Origin, Peer, UserId, World};
use fake_telegram::FakeTelegram;
use grammers_session::types::PeerId;
use serde_json::{json, Value};
use testkit::{Homeserver, HomeserverKind, Method, TestUser};
use tgbridge::store::Store;

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    default_homeserver(kind, &["chn", "chs", "chr"]).await
}

on_both_servers!(
    an_old_portal_is_fixed_and_unsigned_posts_come_from_the_channel,
    signed_posts_and_their_edits_name_the_author,
    the_owners_reaction_a_pin_and_a_deletion_reach_the_room,
);

/// One scenario: Bob's public channel Daily News (with a photo) that Alice,
/// the owner, reads; the bridge logged in as Alice and its portal joined
/// (and, where asked, turned back into one made before channel ghosts could
/// post).
struct Channel {
    bridge: BridgeInstance,
    fake: FakeTelegram,
    owner: TestUser,
    alice: UserId,
    bob: UserId,
    news: ChannelId,
    room: String,
    channel_ghost: String,
    /// The power levels the bridge gave the portal it made.
    new_levels: Value,
}

/// Starts the bridge prepared as `name` on `server` into a fresh
/// [`Channel`]; with `old_portal`, the portal is then reverted to the old
/// levels and the bridge restarted.
async fn channel(server: &Homeserver, bridges: &Bridges, name: &str, old_portal: bool) -> Channel {
    let mut bridge = bridges.take(name);
    configure(&bridge, NO_HISTORY);
    let fake = FakeTelegram::start().await;
    let (alice, bob, news) = {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        let alice = w.add_user(user("Alice", "15550001"));
        let bob = w.add_user(user("Bob", "15550002"));
        let news = w.create_channel(bob, "Daily News", "", true).unwrap();
        w.channel_invite(Origin::control(bob), news, &[alice])
            .unwrap();
        w.set_chat_photo(bob, Peer::Channel(news), PNG.to_vec())
            .unwrap();
        (alice, bob, news)
    };
    let owner = start_logged_in(server, &mut bridge, &fake, alice).await;
    let store = Store::open(&bridge.database_path).unwrap();
    let room = portal_of(&store, PeerId::channel(news).unwrap(), &bridge)
        .await
        .room_id
        .to_string();
    owner.join(&room).await.unwrap();
    let channel_ghost = bridge.ghost(news);

    // The levels of the new portal are checked after what matters most to
    // the owner: that posts arrive.
    let new_levels = state(&owner, &room, "m.room.power_levels", "").await;

    if old_portal {
        to_old_portal(server, &mut bridge, &room, &channel_ghost, &new_levels).await;
    }
    Channel {
        bridge,
        fake,
        owner,
        alice,
        bob,
        news,
        room,
        channel_ghost,
        new_levels,
    }
}

/// Back to a portal as the bridge made them before: the ghost has no
/// level, reacting needs the posting level. A restart must cope.
async fn to_old_portal(
    server: &Homeserver,
    bridge: &mut BridgeInstance,
    room: &str,
    channel_ghost: &str,
    new_levels: &Value,
) {
    bridge.stop();
    let mut old = new_levels.clone();
    old["users"].as_object_mut().unwrap().remove(channel_ghost);
    for event_type in ["m.reaction", "m.room.redaction"] {
        old["events"].as_object_mut().unwrap().remove(event_type);
    }
    server
        .client(Some(&bridge.as_token))
        .ok(
            Method::PUT,
            &format!("/_matrix/client/v3/rooms/{room}/state/m.room.power_levels/"),
            Some(&old),
        )
        .await
        .unwrap();
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    wait_for_log(bridge, "chat sync finished", 2, Duration::from_secs(60)).await;
}

impl Channel {
    /// Acts on Telegram; returns what `f` returns (a message id, or 0).
    fn tg(&self, f: impl FnOnce(&mut World) -> i32) -> i32 {
        let shared = self.fake.world();
        let mut w = shared.lock().unwrap();
        f(&mut w)
    }

    /// Bob's unsigned post; checks that it comes from the channel itself and
    /// returns its Telegram id and event id.
    async fn first_post(&self) -> (i32, String) {
        let first = self.tg(|w| {
            w.send_text(self.bob, Peer::Channel(self.news), "First post")
                .unwrap()
        });
        let event = expect_event(&self.owner, &self.bridge, "unsigned post", |e| {
            message_in(e, &self.room, "First post")
        })
        .await;
        assert_eq!(event["sender"], self.channel_ghost.as_str(), "{event}");
        assert_eq!(
            event["content"],
            json!({ "msgtype": "m.text", "body": "First post", "m.mentions": {} })
        );
        (first, event_id(&event))
    }

    /// Exactly the posts `bodies` (null for a redacted one) are in the
    /// room, none of them twice and no failure notice; Telegram shows the
    /// channel's texts `texts`.
    async fn finish(mut self, bodies: Vec<Value>, texts: &[&str]) {
        let seen: Vec<Value> = timeline(&self.owner, &self.room)
            .await
            .iter()
            .map(|e| e["content"]["body"].clone())
            .collect();
        assert_eq!(seen, bodies, "{}", self.bridge.log_tail());
        let shown: Vec<String> = {
            let shared = self.fake.world();
            let w = shared.lock().unwrap();
            w.history(self.alice, Peer::Channel(self.news))
                .into_iter()
                .map(|m| m.text)
                .filter(|text| !text.is_empty())
                .collect()
        };
        assert_eq!(shown, texts);
        self.bridge.stop();
    }
}

async fn an_old_portal_is_fixed_and_unsigned_posts_come_from_the_channel(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let t = channel(server, bridges, "chn", true).await;
    let (owner, room, channel_ghost) = (&t.owner, t.room.as_str(), t.channel_ghost.as_str());

    // An unsigned post comes from the channel itself.
    t.first_post().await;
    let profile = owner
        .api()
        .ok(
            Method::GET,
            &format!("/_matrix/client/v3/profile/{channel_ghost}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(profile["displayname"], "Daily News", "{profile}");
    let room_avatar = state(owner, room, "m.room.avatar", "").await;
    assert_eq!(
        profile["avatar_url"], room_avatar["url"],
        "the ghost shows the channel's photo"
    );
    let levels = state(owner, room, "m.room.power_levels", "").await;
    assert_eq!(levels["users"][channel_ghost], 50, "fixed: {levels}");
    assert_eq!(levels["events"]["m.reaction"], 0, "fixed: {levels}");

    // The owner may not post in the channel: the room refuses at once,
    // and nothing reaches Telegram.
    let refused = owner
        .api()
        .call(
            Method::PUT,
            &format!("/_matrix/client/v3/rooms/{room}/send/m.room.message/owner-try"),
            Some(&json!({ "msgtype": "m.text", "body": "may I?" })),
        )
        .await
        .unwrap();
    assert_eq!(refused.errcode(), Some("M_FORBIDDEN"), "{}", refused.body);

    // A new portal lets the channel's ghost post, and its subscribers
    // react, but not write.
    let new_levels = &t.new_levels;
    assert_eq!(new_levels["users"][channel_ghost], 50, "{new_levels}");
    assert_eq!(new_levels["events_default"], 50, "{new_levels}");
    assert_eq!(new_levels["events"]["m.reaction"], 0, "{new_levels}");
    assert!(
        new_levels["users"].get(t.bridge.owner()).is_none(),
        "{new_levels}"
    );
    t.finish(vec![json!("First post")], &["First post"]).await;
}

async fn signed_posts_and_their_edits_name_the_author(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let t = channel(server, bridges, "chs", false).await;
    let (owner, bridge, room) = (&t.owner, &t.bridge, t.room.as_str());
    let (bob, news) = (t.bob, Peer::Channel(t.news));

    // With "sign messages" on, a post names its author under the text.
    t.tg(|w| w.set_channel_signatures(t.news, true).map(|_| 0).unwrap());
    let signed = t.tg(|w| w.send_text(bob, news, "Signed post").unwrap());
    let event = expect_event(owner, bridge, "signed post", |e| {
        message_in(e, room, "Signed post\n— Bob")
    })
    .await;
    assert_eq!(event["sender"], t.channel_ghost.as_str(), "{event}");
    assert_eq!(
        event["content"]["formatted_body"],
        "Signed post<br><em>— Bob</em>"
    );
    let signed_event = event_id(&event);

    // An edit keeps the sender and the signature.
    t.tg(|w| {
        w.edit_text(bob, news, signed, "Signed post, corrected")
            .map(|_| 0)
            .unwrap()
    });
    let edit = expect_event(owner, bridge, "edited post", |e| {
        message_in(e, room, "* Signed post, corrected\n— Bob")
    })
    .await;
    assert_eq!(edit["sender"], t.channel_ghost.as_str(), "{edit}");
    assert_eq!(
        edit["content"]["m.relates_to"],
        json!({ "rel_type": "m.replace", "event_id": signed_event })
    );
    assert_eq!(
        edit["content"]["m.new_content"]["body"],
        "Signed post, corrected\n— Bob"
    );
    let bodies = vec![
        json!("Signed post\n— Bob"),
        json!("* Signed post, corrected\n— Bob"),
    ];
    t.finish(bodies, &["Signed post, corrected"]).await;
}

async fn the_owners_reaction_a_pin_and_a_deletion_reach_the_room(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let t = channel(server, bridges, "chr", true).await;
    let (owner, bridge, room) = (&t.owner, &t.bridge, t.room.as_str());
    let (alice, bob, news) = (t.alice, t.bob, Peer::Channel(t.news));
    let (first, first_event) = t.first_post().await;

    // The owner reacts from their phone: the reaction is theirs.
    t.tg(|w| w.react(alice, news, first, Some("👍")).map(|_| 0).unwrap());
    let reaction = expect_event(owner, bridge, "the owner's reaction", |e| {
        e["room_id"] == room && e["type"] == "m.reaction"
    })
    .await;
    assert_eq!(reaction["sender"], bridge.owner().as_str(), "{reaction}");
    assert_eq!(
        reaction["content"]["m.relates_to"],
        json!({ "rel_type": "m.annotation", "event_id": first_event, "key": "👍" })
    );

    // A pin and a deletion of posts.
    t.tg(|w| w.pin(bob, news, first, true).map(|_| 0).unwrap());
    expect_event(owner, bridge, "pin", |e| {
        e["room_id"] == room
            && e["type"] == "m.room.pinned_events"
            && e["content"]["pinned"] == json!([first_event])
    })
    .await;
    t.tg(|w| w.delete(bob, news, &[first], true).map(|_| 0).unwrap());
    expect_event(owner, bridge, "deletion", |e| {
        e["room_id"] == room
            && e["type"] == "m.room.redaction"
            && e["redacts"] == first_event.as_str()
    })
    .await;
    t.finish(vec![Value::Null], &[]).await;
}
