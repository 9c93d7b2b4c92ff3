//! `login` in the management room, end to end: the real bridge binary next to
//! a real Synapse and the fake Telegram datacenter. Every test reads what the
//! owner sees: the bot's answers, and the room's history in which every
//! message that carried a secret has been redacted.

mod matrix_login_support;

use std::time::Duration;

use matrix_login_support::*;
use testkit::unique_localpart;
use tgbridge::store::Store;

const NAMES: [&str; 5] = ["mphone", "mbot", "mcancel", "merrors", "mshared"];

static SYNAPSE: Bridges = Bridges::new();

async fn bridge(name: &'static str) -> (&'static testkit::Synapse, BridgeInstance) {
    take_bridge(&SYNAPSE, &NAMES, name, BridgeInstance::prepare).await
}

fn logged_in(bridge: &BridgeInstance) -> bool {
    Store::open(&bridge.database_path)
        .unwrap()
        .has_telegram_login()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_and_code_log_in_and_the_answers_are_redacted() {
    let (synapse, mut bridge) = bridge("mphone").await;
    let _log = synapse.log_on_panic();
    let telegram = fake_telegram_for(&bridge, vec![ada(None), charles()]).await;
    {
        let world = telegram.fake.world();
        let mut world = world.lock().unwrap();
        world
            .create_group(telegram.users[1], "Analytical Engine", &[telegram.users[0]])
            .unwrap();
    }
    let (owner, room) = start_with_owner(synapse, &mut bridge).await;
    let bot = bridge.bot_user_id.clone();

    let (_, intro) = say(&owner, &room, &bot, "login", "Log into Telegram").await;
    assert!(
        intro.contains("full access to your Telegram account"),
        "{intro}"
    );
    assert!(intro.contains("cannot be registered"), "{intro}");
    assert!(intro.contains("tgbridge login"), "{intro}");
    assert!(!intro.contains("/login/"), "web login is off: {intro}");

    let (again, busy) = say(&owner, &room, &bot, "login", "already in progress").await;
    assert!(busy.contains("cancel"), "{busy}");
    assert!(!is_redacted(&owner, &room, &again).await, "commands stay");

    let (phone_event, sent) = say(&owner, &room, &bot, PHONE, "Telegram sent a login code").await;
    assert!(sent.contains("(8 digits) for +49"), "{sent}");
    assert!(!sent.contains(PHONE_DIGITS), "{sent}");
    let (code_event, done) = say(&owner, &room, &bot, CODE, "Logged into Telegram as").await;
    assert!(done.contains("Ada Lovelace (@ada, +49"), "{done}");

    assert!(
        is_redacted(&owner, &room, &code_event).await,
        "the code is redacted"
    );
    assert!(
        is_redacted(&owner, &room, &phone_event).await,
        "the phone number is redacted"
    );
    let history = history_text(&owner, &room).await;
    assert!(!history.contains(CODE), "the code is gone from the history");
    assert!(!history.contains(PHONE_DIGITS));
    assert!(logged_in(&bridge), "the session is stored");
    assert_eq!(
        telegram.account(),
        Some(telegram.users[0]),
        "Telegram agrees"
    );

    // The running bridge starts its Telegram side at once: Ada's group gets
    // a portal and the owner an invite, without a restart.
    let invited = owner
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
        let portals = Store::open(&bridge.database_path)
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
            bridge.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The bridge keeps answering, and knows whom it is logged in as.
    say(&owner, &room, &bot, "ping", "Logged into Telegram as").await;
    say(&owner, &room, &bot, "login", "already logged into Telegram").await;
    let log = bridge.log();
    for secret in [CODE, PHONE_DIGITS] {
        assert!(!log.contains(secret), "{secret} appears in the bridge log");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_token_logs_in_and_is_redacted() {
    let (synapse, mut bridge) = bridge("mbot").await;
    let _log = synapse.log_on_panic();
    let _telegram = fake_telegram_for(&bridge, vec![bot()]).await;
    let (owner, room) = start_with_owner(synapse, &mut bridge).await;
    let bot_user = bridge.bot_user_id.clone();

    say(&owner, &room, &bot_user, "login", "Log into Telegram").await;
    let (bad, answer) = say(&owner, &room, &bot_user, "123:short", "not a bot token").await;
    assert!(answer.contains("Try again"), "{answer}");
    assert!(is_redacted(&owner, &room, &bad).await);
    let (token_event, done) = say(
        &owner,
        &room,
        &bot_user,
        BOT_TOKEN,
        "Logged into Telegram as",
    )
    .await;
    assert!(done.contains("Relay Bot (@relay_bot, bot)"), "{done}");
    assert!(is_redacted(&owner, &room, &token_event).await);
    assert!(!history_text(&owner, &room).await.contains(BOT_TOKEN));
    assert!(!bridge.log().contains(BOT_TOKEN));
    assert!(logged_in(&bridge));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_aborts_at_the_code_step_and_2fa_points_to_the_terminal() {
    let (synapse, mut bridge) = bridge("mcancel").await;
    let _log = synapse.log_on_panic();
    let _telegram = fake_telegram_for(&bridge, vec![ada(Some(PASSWORD))]).await;
    let (owner, room) = start_with_owner(synapse, &mut bridge).await;
    let bot = bridge.bot_user_id.clone();

    say(&owner, &room, &bot, "cancel", "Nothing to cancel").await;
    say(&owner, &room, &bot, "login", "Log into Telegram").await;
    say(&owner, &room, &bot, PHONE, "Telegram sent a login code").await;
    say(&owner, &room, &bot, "cancel", "Login cancelled").await;
    // After cancelling, a code is just an unknown command.
    say(&owner, &room, &bot, CODE, "Unknown command").await;
    assert!(!logged_in(&bridge));

    // 2FA without web login: the password is never asked for here.
    say(&owner, &room, &bot, "login", "Log into Telegram").await;
    say(&owner, &room, &bot, PHONE, "Telegram sent a login code").await;
    let (_, handover) = say(&owner, &room, &bot, CODE, "two-step verification password").await;
    assert!(handover.contains("the horse one"), "{handover}");
    assert!(handover.contains("tgbridge login"), "{handover}");
    assert!(
        !handover.contains("/login/"),
        "web login is off: {handover}"
    );
    let (sent, refused) = say(
        &owner,
        &room,
        &bot,
        PASSWORD,
        "without reading it as a password",
    )
    .await;
    assert!(refused.contains("tgbridge login"), "{refused}");
    assert!(is_redacted(&owner, &room, &sent).await);
    assert!(!history_text(&owner, &room).await.contains(PASSWORD));
    say(&owner, &room, &bot, "cancel", "Login cancelled").await;
    assert!(!logged_in(&bridge));
    assert!(!bridge.log().contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_gets_a_specific_answer() {
    let (synapse, mut bridge) = bridge("merrors").await;
    let _log = synapse.log_on_panic();
    let telegram = fake_telegram_for(&bridge, vec![ada(None)]).await;
    let fake = &telegram.fake;
    let (owner, room) = start_with_owner(synapse, &mut bridge).await;
    let bot = bridge.bot_user_id.clone();

    say(&owner, &room, &bot, "login", "Log into Telegram").await;
    say(&owner, &room, &bot, "0151 2345", "not a valid phone number").await;
    // Telegram sends codes to unknown numbers too; signing in is refused.
    fake.set_login_code("447700900123", "24681357");
    say(
        &owner,
        &room,
        &bot,
        "+44 7700 900123",
        "Telegram sent a login code",
    )
    .await;
    say(
        &owner,
        &room,
        &bot,
        "24681357",
        "no Telegram account for this phone number",
    )
    .await;
    // That ended the login; start again.
    say(&owner, &room, &bot, "login", "Log into Telegram").await;
    say(&owner, &room, &bot, PHONE, "Telegram sent a login code").await;
    say(&owner, &room, &bot, "12a45", "type only those").await;
    say(
        &owner,
        &room,
        &bot,
        "13579",
        "not correct (2 attempts left)",
    )
    .await;
    fake.expire_login_codes(PHONE_DIGITS);
    say(&owner, &room, &bot, CODE, "asked Telegram for a new one").await;
    let fresh = fake.login_code(PHONE_DIGITS).expect("a new code was sent");
    fake.fail_next("auth.signIn", fake_telegram::RpcError::flood_wait(7500));
    say(&owner, &room, &bot, &fresh, "wait 2 hours 5 minutes").await;
    assert!(!logged_in(&bridge));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_refused_in_a_room_with_other_members() {
    let (synapse, mut bridge) = bridge("mshared").await;
    let _log = synapse.log_on_panic();
    let _telegram = fake_telegram_for(&bridge, vec![ada(None)]).await;
    let (owner, _room) = start_with_owner(synapse, &mut bridge).await;
    let bot = bridge.bot_user_id.clone();
    let friend = synapse
        .register_user(&unique_localpart("friend"), false)
        .await
        .unwrap();
    let shared = owner
        .create_room(&serde_json::json!({ "invite": [bot, friend.user_id] }))
        .await
        .unwrap();
    friend.join(&shared).await.unwrap();
    owner
        .sync_until(
            |e| is_notice_from(e, &bot, "start commands with `!tg`"),
            STEP,
        )
        .await
        .expect("the bot joins the shared room");
    let (_, refusal) = say(
        &owner,
        &shared,
        &bot,
        "!tg login",
        "will not start a login here",
    )
    .await;
    assert!(refusal.contains("1 other member"), "{refusal}");
    assert!(refusal.contains("management room"), "{refusal}");
    // Nothing was started: a phone number here is not taken as an answer.
    owner.send_text(&shared, PHONE).await.unwrap();
    say(
        &owner,
        &shared,
        &bot,
        "!tg ping",
        "Not logged into Telegram",
    )
    .await;
}
