//! End to end against a real homeserver, Synapse and Conduit each: the
//! bridge binary starts after the homeserver, registers its bot with a
//! profile, creates the management room and greets the owner, answers
//! commands, refuses strangers, and handles appservice transactions
//! correctly (authentication, deduplication across a restart, malformed
//! bodies) and exits cleanly on SIGTERM.

mod appservice_support;

use std::time::Duration;

use appservice_support::{
    command, default_homeserver, is_notice_from, management_room_of, Bridges, BOT_DISPLAYNAME,
};
use grammers_session::types::PeerInfo;
use grammers_session::Session as _;
use serde_json::json;
use testkit::{Homeserver, HomeserverKind, Method};
use tgbridge::store::Store;

async fn server(kind: HomeserverKind) -> (&'static Homeserver, &'static Bridges) {
    default_homeserver(kind, &["cmd", "str", "txn"]).await
}

on_both_servers!(
    bot_profile_management_room_and_commands,
    strangers_cannot_invite_the_bot_or_run_commands,
    transactions_are_authenticated_deduplicated_and_survive_restarts,
);

async fn bot_profile_management_room_and_commands(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("cmd");
    let owner = server
        .register_user(&bridge.owner_localpart, false)
        .await
        .unwrap();
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    assert!(bridge.log().contains("ready"), "{}", bridge.log_tail());

    // The bot exists, with the configured profile.
    let profile = owner
        .api()
        .ok(
            Method::GET,
            &format!("/_matrix/client/v3/profile/{}", bridge.bot_user_id),
            None,
        )
        .await
        .unwrap();
    assert_eq!(profile["displayname"], BOT_DISPLAYNAME);

    // The management room exists, is named, and greets the owner with the next step.
    let bot = bridge.bot_user_id.clone();
    let room = management_room_of(&owner, &bot).await;
    let name = owner
        .api()
        .ok(
            Method::GET,
            &format!("/_matrix/client/v3/rooms/{room}/state/m.room.name/"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(name["name"], "Telegram bridge");
    let history = owner.room_messages(&room, 20).await.unwrap();
    assert!(
        history
            .iter()
            .any(|e| is_notice_from(e, &bot, "tgbridge login")),
        "the greeting explains how to log in: {history:?}"
    );

    // Commands need no prefix here and answer with formatted notices.
    let help = command(&owner, &room, &bot, "help", "Telegram bridge commands").await;
    assert_eq!(help["content"]["format"], "org.matrix.custom.html");
    for word in [
        "help", "ping", "login", "logout", "cancel", "sync", "version",
    ] {
        assert!(
            help["content"]["body"].as_str().unwrap().contains(word),
            "help lists {word}"
        );
    }
    command(
        &owner,
        &room,
        &bot,
        "version",
        &format!("tgbridge {}", env!("CARGO_PKG_VERSION")),
    )
    .await;
    let ping = command(&owner, &room, &bot, "ping", "Homeserver round trip").await;
    assert!(ping["content"]["body"]
        .as_str()
        .unwrap()
        .contains("Not logged into Telegram"));
    command(&owner, &room, &bot, "hlep", "Did you mean `help`?").await;
    command(&owner, &room, &bot, "!tg version", "tgbridge").await;

    let status = bridge.terminate();
    assert!(
        status.success(),
        "SIGTERM exits 0, got {status}\n{}",
        bridge.log_tail()
    );
}

async fn strangers_cannot_invite_the_bot_or_run_commands(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("str");
    let owner = server
        .register_user(&bridge.owner_localpart, false)
        .await
        .unwrap();
    let stranger = server
        .register_user(&testkit::unique_localpart("stranger"), false)
        .await
        .unwrap();
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    let bot = bridge.bot_user_id.clone();
    management_room_of(&owner, &bot).await;

    // A stranger's invite is turned down with a reason.
    let their_room = stranger
        .create_room(&json!({ "name": "stranger's room", "invite": [bot] }))
        .await
        .unwrap();
    let left = stranger
        .sync_until(
            |e| {
                e["room_id"] == their_room.as_str()
                    && e["type"] == "m.room.member"
                    && e["state_key"] == bot.as_str()
                    && e["content"]["membership"] == "leave"
            },
            Duration::from_secs(30),
        )
        .await
        .expect("the bot declines the stranger's invite");
    assert!(
        left[0]["content"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("owner"),
        "{left:?}"
    );

    // In a room the owner shares with the bot and the stranger, only the
    // owner's commands are answered.
    let shared = owner
        .create_room(&json!({ "name": "shared", "invite": [bot, stranger.user_id] }))
        .await
        .unwrap();
    owner
        .sync_until(
            |e| {
                is_notice_from(e, &bot, "start commands with `!tg`")
                    && e["room_id"] == shared.as_str()
            },
            Duration::from_secs(30),
        )
        .await
        .expect("the bot joins the owner's room and says how to use it");
    stranger.join(&shared).await.unwrap();
    stranger.send_text(&shared, "!tg version").await.unwrap();
    command(&owner, &shared, &bot, "!tg ping", "Homeserver round trip").await;
    let history = owner.room_messages(&shared, 50).await.unwrap();
    let version_answer = format!("tgbridge {}", env!("CARGO_PKG_VERSION"));
    assert!(
        !history
            .iter()
            .any(|e| e["sender"] == bot.as_str() && e["content"]["body"] == version_answer.as_str()),
        "the stranger's command was not answered: {history:?}"
    );
    assert!(bridge.log().contains("only the owner can use the bridge"));

    bridge.stop();
}

/// Seeds a Telegram login (auth key + self user) into the bridge's database,
/// the way a finished `tgbridge login` leaves it.
async fn seed_login(store: &Store) {
    store
        .seed_dc("127.0.0.1:1".parse().unwrap(), [7u8; 256])
        .unwrap();
    store
        .telegram_session()
        .cache_peer(PeerInfo::User {
            id: 4242,
            auth: None,
            bot: Some(false),
            is_self: Some(true),
        })
        .await
        .unwrap();
    assert!(store.has_telegram_login().unwrap());
}

fn logout_transaction(room: &str, owner: &str) -> String {
    json!({
        "events": [{
            "type": "m.room.message",
            "event_id": "$logout-once:localhost",
            "room_id": room,
            "sender": owner,
            "origin_server_ts": 1_700_000_000_000u64,
            "content": { "msgtype": "m.text", "body": "logout" }
        }]
    })
    .to_string()
}

async fn transactions_are_authenticated_deduplicated_and_survive_restarts(kind: HomeserverKind) {
    let (server, bridges) = server(kind).await;
    let _log = server.log_on_panic();
    let mut bridge = bridges.take("txn");
    let owner = server
        .register_user(&bridge.owner_localpart, false)
        .await
        .unwrap();
    let store = Store::open(&bridge.database_path).unwrap();
    seed_login(&store).await;
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    let bot = bridge.bot_user_id.clone();
    let room = management_room_of(&owner, &bot).await;
    command(
        &owner,
        &room,
        &bot,
        "ping",
        "Logged into Telegram as Telegram user 4242",
    )
    .await;

    // The same transaction, delivered by someone without the token: refused,
    // and the logout it carries does not happen.
    let body = logout_transaction(&room, &owner.user_id);
    let (status, answer) = bridge.push_transaction("dup-1", None, &body).await;
    assert_eq!(status, 401);
    assert_eq!(answer["errcode"], "M_MISSING_TOKEN");
    let (status, answer) = bridge
        .push_transaction("dup-1", Some("Bearer wrong-token"), &body)
        .await;
    assert_eq!(status, 403);
    assert_eq!(answer["errcode"], "M_FORBIDDEN");
    assert!(store.has_telegram_login().unwrap(), "no side effects");

    // With the token it is processed: the owner is logged out.
    let auth = format!("Bearer {}", bridge.hs_token);
    let (status, _) = bridge.push_transaction("dup-1", Some(&auth), &body).await;
    assert_eq!(status, 200);
    assert!(!store.has_telegram_login().unwrap(), "the logout ran");
    // Like `tgbridge logout`, it first tried Telegram: the seeded datacenter
    // (127.0.0.1:1) refuses, and the owner is told so.
    let answer = owner
        .sync_until(
            |e| is_notice_from(e, &bot, "Logged out of Telegram"),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    let text = answer[0]["content"]["body"].as_str().unwrap();
    assert!(text.contains("Could not reach Telegram"), "{text}");
    assert!(text.contains("Portal rooms are kept"), "{text}");

    // Delivered again: acknowledged, not processed (the new login survives).
    seed_login(&store).await;
    let (status, _) = bridge.push_transaction("dup-1", Some(&auth), &body).await;
    assert_eq!(status, 200);
    assert!(
        store.has_telegram_login().unwrap(),
        "a repeated transaction is not processed again"
    );

    // Also not after a restart; SIGTERM exits cleanly, and the management
    // room is kept rather than created again.
    let status = bridge.terminate();
    assert!(
        status.success(),
        "SIGTERM exits 0, got {status}\n{}",
        bridge.log_tail()
    );
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    let (status, _) = bridge.push_transaction("dup-1", Some(&auth), &body).await;
    assert_eq!(status, 200);
    assert!(
        store.has_telegram_login().unwrap(),
        "not processed again after a restart"
    );
    assert_eq!(
        bridge.log().matches("management room created").count(),
        1,
        "the management room is reused after a restart"
    );

    // Malformed transactions get 400 and the bridge keeps working.
    for (txn, bad) in [("bad-1", "{not json"), ("bad-2", r#"{"events": "nope"}"#)] {
        let (status, answer) = bridge.push_transaction(txn, Some(&auth), bad).await;
        assert_eq!(status, 400, "{bad}");
        assert!(answer["errcode"] == "M_NOT_JSON" || answer["errcode"] == "M_BAD_JSON");
    }
    // Ephemeral events arrive under either field name and are accepted.
    let typing =
        json!({ "type": "m.typing", "room_id": room, "content": { "user_ids": [owner.user_id] } });
    for (txn, field) in [
        ("eph-1", "ephemeral"),
        ("eph-2", "de.sorunome.msc2409.ephemeral"),
    ] {
        let body = json!({ "events": [], field: [typing] }).to_string();
        let (status, _) = bridge.push_transaction(txn, Some(&auth), &body).await;
        assert_eq!(status, 200, "{field}");
    }
    command(&owner, &room, &bot, "version", "tgbridge").await;
    let (status, body) = bridge.health().await.expect("health answers");
    assert_eq!(status, 200);
    assert!(!body.to_string().contains(&bridge.hs_token));

    bridge.stop();
    let log = bridge.log();
    assert!(
        !log.contains(&bridge.hs_token) && !log.contains(&bridge.as_token),
        "appservice tokens never appear in the log, even at debug level"
    );
}
