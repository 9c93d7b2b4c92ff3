//! `login` in the management room, end to end: the real bridge binary next to
//! a real homeserver (each scenario on Synapse and on Conduit) and the fake
//! Telegram datacenter. Every test reads what the
//! owner sees: the bot's answers, and the room's history in which every
//! message that carried a secret has been redacted.

mod matrix_login_support;

use std::time::Duration;

use matrix_login_support::*;
use testkit::{unique_localpart, Homeserver, HomeserverKind};
use tgbridge::store::Store;

const NAMES: [&str; 5] = ["mphone", "mbot", "mcancel", "merrors", "mshared"];

static SERVERS: Bridges = Bridges::new();

async fn bridge(kind: HomeserverKind, name: &'static str) -> (&'static Homeserver, BridgeInstance) {
    take_bridge(&SERVERS, kind, &NAMES, name, BridgeInstance::prepare).await
}

fn logged_in(bridge: &BridgeInstance) -> bool {
    Store::open(&bridge.database_path)
        .unwrap()
        .has_telegram_login()
        .unwrap()
}

on_both_servers!(
    phone_and_code_log_in_and_the_answers_are_redacted,
    a_bot_token_logs_in_and_is_redacted,
    cancel_aborts_at_the_code_step_and_2fa_points_to_the_terminal,
    every_error_gets_a_specific_answer,
    login_is_refused_in_a_room_with_other_members,
);

async fn phone_and_code_log_in_and_the_answers_are_redacted(kind: HomeserverKind) {
    let (server, bridge) = bridge(kind, "mphone").await;
    let telegram = fake_telegram_for(&bridge, vec![ada(None), charles()]).await;
    {
        let world = telegram.fake.world();
        let mut world = world.lock().unwrap();
        world
            .create_group(telegram.users[1], "Analytical Engine", &[telegram.users[0]])
            .unwrap();
    }
    let scene = Scene::start(server, bridge, telegram).await;

    let (_, intro) = scene.say("login", "Log into Telegram").await;
    assert!(
        intro.contains("full access to your Telegram account"),
        "{intro}"
    );
    assert!(intro.contains("cannot be registered"), "{intro}");
    assert!(intro.contains("tgbridge login"), "{intro}");
    assert!(!intro.contains("/login/"), "web login is off: {intro}");

    let (again, busy) = scene.say("login", "already in progress").await;
    assert!(busy.contains("cancel"), "{busy}");
    assert!(!scene.is_redacted(&again).await, "commands stay");

    let (phone_event, sent) = scene.say(PHONE, "Telegram sent a login code").await;
    assert!(sent.contains("(8 digits) for +49"), "{sent}");
    assert!(!sent.contains(PHONE_DIGITS), "{sent}");
    let (code_event, done) = scene.say(CODE, "Logged into Telegram as").await;
    assert!(done.contains("Ada Lovelace (@ada, +49"), "{done}");

    assert!(scene.is_redacted(&code_event).await, "the code is redacted");
    assert!(
        scene.is_redacted(&phone_event).await,
        "the phone number is redacted"
    );
    let history = scene.history().await;
    assert!(!history.contains(CODE), "the code is gone from the history");
    assert!(!history.contains(PHONE_DIGITS));
    assert!(logged_in(&scene.bridge), "the session is stored");
    assert_eq!(
        scene.telegram.account(),
        Some(scene.telegram.users[0]),
        "Telegram agrees"
    );

    // The running bridge starts its Telegram side at once: Ada's group gets
    // a portal and the owner an invite, without a restart.
    let invited = scene
        .owner
        .sync_until(
            |e| e["type"] == "m.room.name" && e["content"]["name"] == "Analytical Engine",
            Duration::from_secs(60),
        )
        .await
        .expect("a portal for Ada's group after the login");
    assert!(
        invited[0]["room_id"].as_str().is_some(),
        "the portal invite names its room: {invited:?}"
    );
    // The portal is stored, so a restart finds it instead of creating another.
    let portal_room = invited[0]["room_id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let portals = Store::open(&scene.bridge.database_path)
            .unwrap()
            .portals()
            .all()
            .unwrap();
        if portals.iter().any(|p| p.room_id.as_str() == portal_room) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the portal {portal_room} is not stored: {portals:?}\n{}",
            scene.bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The bridge keeps answering, and knows whom it is logged in as.
    scene.say("ping", "Logged into Telegram as").await;
    scene.say("login", "already logged into Telegram").await;
    let log = scene.bridge.log();
    for secret in [CODE, PHONE_DIGITS] {
        assert!(!log.contains(secret), "{secret} appears in the bridge log");
    }
}

async fn a_bot_token_logs_in_and_is_redacted(kind: HomeserverKind) {
    let (server, bridge) = bridge(kind, "mbot").await;
    let telegram = fake_telegram_for(&bridge, vec![bot()]).await;
    let scene = Scene::start(server, bridge, telegram).await;

    scene.say("login", "Log into Telegram").await;
    let (bad, answer) = scene.say("123:short", "not a bot token").await;
    assert!(answer.contains("Try again"), "{answer}");
    assert!(scene.is_redacted(&bad).await);
    let (token_event, done) = scene.say(BOT_TOKEN, "Logged into Telegram as").await;
    assert!(done.contains("Relay Bot (@relay_bot, bot)"), "{done}");
    assert!(scene.is_redacted(&token_event).await);
    assert!(!scene.history().await.contains(BOT_TOKEN));
    assert!(!scene.bridge.log().contains(BOT_TOKEN));
    assert!(logged_in(&scene.bridge));
}

async fn cancel_aborts_at_the_code_step_and_2fa_points_to_the_terminal(kind: HomeserverKind) {
    let (server, bridge) = bridge(kind, "mcancel").await;
    let telegram = fake_telegram_for(&bridge, vec![ada(Some(PASSWORD))]).await;
    let scene = Scene::start(server, bridge, telegram).await;

    scene.say("cancel", "Nothing to cancel").await;
    scene.say("login", "Log into Telegram").await;
    scene.say(PHONE, "Telegram sent a login code").await;
    scene.say("cancel", "Login cancelled").await;
    // After cancelling, a code is just an unknown command.
    scene.say(CODE, "Unknown command").await;
    assert!(!logged_in(&scene.bridge));

    // 2FA without web login: the password is never asked for here.
    scene.say("login", "Log into Telegram").await;
    scene.say(PHONE, "Telegram sent a login code").await;
    let (_, handover) = scene.say(CODE, "two-step verification password").await;
    assert!(handover.contains("the horse one"), "{handover}");
    assert!(handover.contains("tgbridge login"), "{handover}");
    assert!(
        !handover.contains("/login/"),
        "web login is off: {handover}"
    );
    let (sent, refused) = scene
        .say(PASSWORD, "without reading it as a password")
        .await;
    assert!(refused.contains("tgbridge login"), "{refused}");
    assert!(scene.is_redacted(&sent).await);
    assert!(!scene.history().await.contains(PASSWORD));
    scene.say("cancel", "Login cancelled").await;
    assert!(!logged_in(&scene.bridge));
    assert!(!scene.bridge.log().contains(PASSWORD));
}

async fn every_error_gets_a_specific_answer(kind: HomeserverKind) {
    let (server, bridge) = bridge(kind, "merrors").await;
    let telegram = fake_telegram_for(&bridge, vec![ada(None)]).await;
    let scene = Scene::start(server, bridge, telegram).await;
    let fake = &scene.telegram.fake;

    scene.say("login", "Log into Telegram").await;
    scene.say("0151 2345", "not a valid phone number").await;
    // Telegram sends codes to unknown numbers too; signing in is refused.
    fake.set_login_code("447700900123", "24681357");
    scene
        .say("+44 7700 900123", "Telegram sent a login code")
        .await;
    scene
        .say("24681357", "no Telegram account for this phone number")
        .await;
    // That ended the login; start again.
    scene.say("login", "Log into Telegram").await;
    scene.say(PHONE, "Telegram sent a login code").await;
    scene.say("12a45", "type only those").await;
    scene.say("13579", "not correct (2 attempts left)").await;
    fake.expire_login_codes(PHONE_DIGITS);
    scene.say(CODE, "asked Telegram for a new one").await;
    let fresh = fake.login_code(PHONE_DIGITS).expect("a new code was sent");
    fake.fail_next("auth.signIn", fake_telegram::RpcError::flood_wait(7500));
    scene.say(&fresh, "wait 2 hours 5 minutes").await;
    assert!(!logged_in(&scene.bridge));
}

async fn login_is_refused_in_a_room_with_other_members(kind: HomeserverKind) {
    let (server, bridge) = bridge(kind, "mshared").await;
    let telegram = fake_telegram_for(&bridge, vec![ada(None)]).await;
    let scene = Scene::start(server, bridge, telegram).await;
    let friend = server
        .register_user(&unique_localpart("friend"), false)
        .await
        .unwrap();
    let shared = scene
        .owner
        .create_room(&serde_json::json!({ "invite": [scene.bot, friend.user_id] }))
        .await
        .unwrap();
    friend.join(&shared).await.unwrap();
    scene
        .owner
        .sync_until(
            |e| is_notice_from(e, &scene.bot, "start commands with `!tg`"),
            STEP,
        )
        .await
        .expect("the bot joins the shared room");
    let (_, refusal) = say(
        &scene.owner,
        &shared,
        &scene.bot,
        "!tg login",
        "will not start a login here",
    )
    .await;
    assert!(refusal.contains("1 other member"), "{refusal}");
    assert!(refusal.contains("management room"), "{refusal}");
    // Nothing was started: a phone number here is not taken as an answer.
    scene.owner.send_text(&shared, PHONE).await.unwrap();
    say(
        &scene.owner,
        &shared,
        &scene.bot,
        "!tg ping",
        "Not logged into Telegram",
    )
    .await;
}
