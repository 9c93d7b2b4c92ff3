//! End to end, a broadcast channel the owner only reads: the bridge binary
//! logged into the fake Telegram datacenter next to a real homeserver.
//! Another user's posts, unsigned and signed, reach the channel's portal as
//! the channel itself (its ghost, with the channel's name and photo), a
//! signed post naming its author; edits, the owner's reaction, a pin and a
//! deletion of posts follow; the owner, who may not post, is refused by the
//! room. The portal is first turned back into one made before channel
//! ghosts could post, so this also proves that existing portals are fixed.

mod appservice_support;

use std::time::Duration;

use appservice_support::telegram::{configure, portal_of, start_logged_in, state, user, PNG};
use appservice_support::{
    expect_event, message_in, shared_homeserver, timeline, BridgeInstance, Bridges,
};
use fake_telegram::world::{Origin, Peer};
use fake_telegram::FakeTelegram;
use grammers_session::types::PeerId;
use serde_json::{json, Value};
use testkit::{HomeserverKind, HomeserverOptions, Method, SharedHomeserver};
use tgbridge::store::Store;

static SERVERS: SharedHomeserver<Bridges> = SharedHomeserver::new();

/// No initial history: only what happens while the test watches reaches
/// the room.
const NO_HISTORY: &str = "  initial_history:\n    private: 0\n    group: 0\n    channel: 0\n";

on_both_servers!(broadcast_channel_posts_reach_the_room);

async fn broadcast_channel_posts_reach_the_room(kind: HomeserverKind) {
    let (homeserver, bridges) = shared_homeserver(
        &SERVERS,
        kind,
        &["chn"],
        HomeserverOptions::default(),
        |_, _| {},
    )
    .await;
    let _log = homeserver.log_on_panic();
    let mut bridge: BridgeInstance = bridges.take("chn");
    configure(&bridge, NO_HISTORY);
    let fake = FakeTelegram::start().await;
    let tg = |f: &dyn Fn(&mut fake_telegram::world::World) -> i32| {
        let shared = fake.world();
        let mut w = shared.lock().unwrap();
        f(&mut w)
    };
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
    let owner = start_logged_in(homeserver, &mut bridge, &fake, alice).await;
    let owner_id = bridge.owner();
    let store = Store::open(&bridge.database_path).unwrap();
    let room = portal_of(&store, PeerId::channel(news).unwrap(), &bridge)
        .await
        .room_id
        .to_string();
    owner.join(&room).await.unwrap();
    let channel_ghost = format!("@chntg_{news}:localhost");

    // The levels of the new portal are checked at the end, after what
    // matters most to the owner: that posts arrive.
    let new_levels = state(&owner, &room, "m.room.power_levels", "").await;

    // Back to a portal as the bridge made them before: the ghost has no
    // level, reacting needs the posting level. A restart must cope.
    let status = bridge.terminate();
    assert!(status.success(), "{status}");
    let mut old = new_levels.clone();
    old["users"].as_object_mut().unwrap().remove(&channel_ghost);
    for event_type in ["m.reaction", "m.room.redaction"] {
        old["events"].as_object_mut().unwrap().remove(event_type);
    }
    homeserver
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
    appservice_support::telegram::wait_for_log(
        &bridge,
        "chat sync finished",
        2,
        Duration::from_secs(60),
    )
    .await;

    // An unsigned post comes from the channel itself.
    let first = tg(&|w| w.send_text(bob, Peer::Channel(news), "First post").unwrap());
    let event = expect_event(&owner, &bridge, "unsigned post", |e| {
        message_in(e, &room, "First post")
    })
    .await;
    assert_eq!(event["sender"], channel_ghost.as_str(), "{event}");
    assert_eq!(
        event["content"],
        json!({ "msgtype": "m.text", "body": "First post", "m.mentions": {} })
    );
    let first_event = event["event_id"].as_str().unwrap().to_owned();
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
    let room_avatar = state(&owner, &room, "m.room.avatar", "").await;
    assert_eq!(
        profile["avatar_url"], room_avatar["url"],
        "the ghost shows the channel's photo"
    );
    let levels = state(&owner, &room, "m.room.power_levels", "").await;
    assert_eq!(levels["users"][&channel_ghost], 50, "fixed: {levels}");
    assert_eq!(levels["events"]["m.reaction"], 0, "fixed: {levels}");

    // With "sign messages" on, a post names its author under the text.
    tg(&|w| {
        w.set_channel_signatures(news, true).unwrap();
        0
    });
    let signed = tg(&|w| {
        w.send_text(bob, Peer::Channel(news), "Signed post")
            .unwrap()
    });
    let event = expect_event(&owner, &bridge, "signed post", |e| {
        message_in(e, &room, "Signed post\n— Bob")
    })
    .await;
    assert_eq!(event["sender"], channel_ghost.as_str(), "{event}");
    assert_eq!(
        event["content"]["formatted_body"],
        "Signed post<br><em>— Bob</em>"
    );
    let signed_event = event["event_id"].as_str().unwrap().to_owned();

    // An edit keeps the sender and the signature.
    tg(&|w| {
        w.edit_text(bob, Peer::Channel(news), signed, "Signed post, corrected")
            .unwrap();
        0
    });
    let edit = expect_event(&owner, &bridge, "edited post", |e| {
        message_in(e, &room, "* Signed post, corrected\n— Bob")
    })
    .await;
    assert_eq!(edit["sender"], channel_ghost.as_str(), "{edit}");
    assert_eq!(
        edit["content"]["m.relates_to"],
        json!({ "rel_type": "m.replace", "event_id": signed_event })
    );
    assert_eq!(
        edit["content"]["m.new_content"]["body"],
        "Signed post, corrected\n— Bob"
    );

    // The owner reacts from their phone: the reaction is theirs.
    tg(&|w| {
        w.react(alice, Peer::Channel(news), first, Some("👍"))
            .unwrap();
        0
    });
    let reaction = expect_event(&owner, &bridge, "the owner's reaction", |e| {
        e["room_id"] == room.as_str() && e["type"] == "m.reaction"
    })
    .await;
    assert_eq!(reaction["sender"], owner_id.as_str(), "{reaction}");
    assert_eq!(
        reaction["content"]["m.relates_to"],
        json!({ "rel_type": "m.annotation", "event_id": first_event, "key": "👍" })
    );

    // A pin and a deletion of posts.
    tg(&|w| {
        w.pin(bob, Peer::Channel(news), first, true).unwrap();
        0
    });
    expect_event(&owner, &bridge, "pin", |e| {
        e["room_id"] == room.as_str()
            && e["type"] == "m.room.pinned_events"
            && e["content"]["pinned"] == json!([first_event])
    })
    .await;
    tg(&|w| {
        w.delete(bob, Peer::Channel(news), &[first], true).unwrap();
        0
    });
    expect_event(&owner, &bridge, "deletion", |e| {
        e["room_id"] == room.as_str()
            && e["type"] == "m.room.redaction"
            && e["redacts"] == first_event.as_str()
    })
    .await;

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
    assert_eq!(new_levels["users"][&channel_ghost], 50, "{new_levels}");
    assert_eq!(new_levels["events_default"], 50, "{new_levels}");
    assert_eq!(new_levels["events"]["m.reaction"], 0, "{new_levels}");
    assert!(new_levels["users"].get(&owner_id).is_none(), "{new_levels}");

    // Exactly the posts, none of them twice, no failure notice.
    let bodies: Vec<Value> = timeline(&owner, &room)
        .await
        .iter()
        .map(|e| e["content"]["body"].clone())
        .collect();
    assert_eq!(
        bodies,
        vec![
            Value::Null,
            json!("Signed post\n— Bob"),
            json!("* Signed post, corrected\n— Bob"),
        ],
        "{}",
        bridge.log_tail()
    );
    let texts: Vec<String> = {
        let shared = fake.world();
        let w = shared.lock().unwrap();
        w.history(alice, Peer::Channel(news))
            .into_iter()
            .map(|m| m.text)
            .filter(|text| !text.is_empty())
            .collect()
    };
    assert_eq!(texts, ["Signed post, corrected"]);
    let status = bridge.terminate();
    assert!(status.success(), "{status}");
}
