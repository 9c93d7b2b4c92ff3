//! Shared helpers for the in-Matrix and web login tests: a bridge binary whose
//! database points at a fake Telegram datacenter, next to a real homeserver
//! (Synapse or Conduit), and the owner's view of the management room.

#![allow(dead_code)] // Each test binary uses a different subset.

use std::time::Duration;

use fake_telegram::world::{UserId, UserSpec};
use fake_telegram::FakeTelegram;
use serde_json::Value;
use testkit::{Homeserver, HomeserverKind, HomeserverOptions, LogOnPanic, Method, TestUser};
use tgbridge::store::Store;

#[path = "../appservice_support/mod.rs"]
pub mod appservice_support;

pub use appservice_support::{is_notice_from, management_room_of, BridgeInstance};

#[path = "../login_support/accounts.rs"]
mod accounts;

pub use accounts::{ada, bot, BOT_TOKEN, CODE, PASSWORD, PHONE, PHONE_DIGITS};

/// How long one answer of the bot may take (2FA runs SRP in a debug build).
pub const STEP: Duration = Duration::from_secs(60);

/// Charles Babbage, who shares a group with Ada.
pub fn charles() -> UserSpec {
    UserSpec {
        first_name: "Charles".into(),
        last_name: Some("Babbage".into()),
        phone: Some("4915550000002".into()),
        ..UserSpec::default()
    }
}

/// Adds the web-login section to a prepared bridge's config.
pub fn enable_web_login(bridge: &BridgeInstance, link_lifetime_seconds: u64) {
    let mut config = std::fs::read_to_string(&bridge.config_path).expect("read config");
    config.push_str(&format!(
        "web_login:\n  enabled: true\n  public_base_url: {}\n  link_lifetime_seconds: {link_lifetime_seconds}\n",
        bridge.url()
    ));
    std::fs::write(&bridge.config_path, config).expect("write config");
}

/// A fake datacenter with `users`, and the bridge's database seeded to use it.
pub struct Telegram {
    pub fake: FakeTelegram,
    pub users: Vec<UserId>,
    /// The auth key seeded into the database.
    pub key: [u8; 256],
}

impl Telegram {
    /// The account the fake says the bridge's key is logged into.
    pub fn account(&self) -> Option<UserId> {
        self.fake.account_of(&self.key)
    }
}

/// Starts a fake datacenter with `users` and seeds the bridge's database to use it.
pub async fn fake_telegram_for(bridge: &BridgeInstance, users: Vec<UserSpec>) -> Telegram {
    let fake = FakeTelegram::start().await;
    let ids = {
        let world = fake.world();
        let mut world = world.lock().expect("world lock");
        users.into_iter().map(|u| world.add_user(u)).collect()
    };
    let key = fake.new_auth_key();
    Store::open(&bridge.database_path)
        .expect("open the database")
        .seed_dc(fake.addr(), key)
        .expect("seed the datacenter");
    Telegram {
        fake,
        users: ids,
        key,
    }
}

/// Starts the bridge, registers the owner, and returns the owner and the
/// joined management room.
pub async fn start_with_owner(
    server: &Homeserver,
    bridge: &mut BridgeInstance,
) -> (TestUser, String) {
    let owner = server
        .register_user(&bridge.owner_localpart, false)
        .await
        .expect("register the owner");
    bridge.start();
    bridge.wait_ready(Duration::from_secs(60)).await;
    let room = management_room_of(&owner, &bridge.bot_user_id).await;
    (owner, room)
}

/// One login test's setting: the bridge running next to a homeserver, the
/// owner in its management room, and the fake Telegram the bridge is seeded
/// for.
pub struct Scene {
    pub server: &'static Homeserver,
    pub bridge: BridgeInstance,
    pub telegram: Telegram,
    pub owner: TestUser,
    /// The management room.
    pub room: String,
    /// The bridge bot's user ID.
    pub bot: String,
    _log: LogOnPanic<'static>,
}

impl Scene {
    /// Starts `bridge` with its database seeded for `telegram`, and the owner
    /// in the management room; the homeserver's log is printed if the test
    /// fails.
    pub async fn start(
        server: &'static Homeserver,
        mut bridge: BridgeInstance,
        telegram: Telegram,
    ) -> Scene {
        let log = server.log_on_panic();
        let (owner, room) = start_with_owner(server, &mut bridge).await;
        let bot = bridge.bot_user_id.clone();
        Scene {
            server,
            bridge,
            telegram,
            owner,
            room,
            bot,
            _log: log,
        }
    }

    /// [`say`] in the management room.
    pub async fn say(&self, body: &str, expect: &str) -> (String, String) {
        say(&self.owner, &self.room, &self.bot, body, expect).await
    }

    /// [`is_redacted`] in the management room.
    pub async fn is_redacted(&self, event_id: &str) -> bool {
        is_redacted(&self.owner, &self.room, event_id).await
    }

    /// [`history_text`] of the management room.
    pub async fn history(&self) -> String {
        history_text(&self.owner, &self.room).await
    }

    /// Waits for the bot's notice that it is logged into Telegram as `name`.
    pub async fn expect_logged_in_notice(&self, name: &str) {
        let text = format!("Logged into Telegram as {name}");
        self.owner
            .sync_until(|e| is_notice_from(e, &self.bot, &text), STEP)
            .await
            .expect("the bot confirms in the management room");
    }
}

/// Sends `body` and waits for the bot's notice containing `expect`; returns
/// the sent event's id and the notice's body.
pub async fn say(
    owner: &TestUser,
    room: &str,
    bot: &str,
    body: &str,
    expect: &str,
) -> (String, String) {
    let event_id = owner.send_text(room, body).await.expect("send");
    let found = owner
        .sync_until(|e| is_notice_from(e, bot, expect), STEP)
        .await
        .unwrap_or_else(|e| panic!("no answer containing {expect:?} to a message: {e}"));
    let text = found[0]["content"]["body"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (event_id, text)
}

/// Whether the owner sees `event_id` as redacted, with its content gone.
pub async fn is_redacted(owner: &TestUser, room: &str, event_id: &str) -> bool {
    let event = owner
        .api()
        .ok(
            Method::GET,
            &format!("/_matrix/client/v3/rooms/{room}/event/{event_id}"),
            None,
        )
        .await
        .expect("fetch the event");
    event["unsigned"]["redacted_because"].is_object()
        && event["content"].as_object().is_some_and(|c| c.is_empty())
}

/// The room's whole history as the owner sees it, as one JSON text.
pub async fn history_text(owner: &TestUser, room: &str) -> String {
    let events: Vec<Value> = owner.room_messages(room, 500).await.expect("room history");
    // Servers cap a page (Conduit at 100 events): reaching the room's
    // creation proves no older message escaped the caller's checks.
    assert!(
        events.iter().any(|e| e["type"] == "m.room.create"),
        "the history of {room} did not fit one page of {} events",
        events.len()
    );
    serde_json::to_string(&events).expect("serialise history")
}

/// The one-time web-login link in a notice's body.
pub fn link_in(body: &str) -> String {
    body.split_whitespace()
        .find(|word| word.starts_with("http") && word.contains("/login/"))
        .unwrap_or_else(|| panic!("no login link in {body:?}"))
        .trim_end_matches(['.', ')'])
        .to_owned()
}

/// Bridges of one test binary, each with its registration loaded into the
/// binary's homeserver of each kind (Synapse reads registrations only at
/// start; Conduit gets them through its admin room right after).
pub type Bridges = testkit::SharedHomeserver<
    std::sync::Mutex<std::collections::HashMap<&'static str, BridgeInstance>>,
>;

/// Starts the shared homeserver of `kind` with a bridge prepared by
/// `prepare` for every name in `names` (on first use), and hands out the
/// bridge called `name`.
pub async fn take_bridge(
    shared: &'static Bridges,
    kind: HomeserverKind,
    names: &[&'static str],
    name: &'static str,
    prepare: impl Fn(&'static str, u16) -> BridgeInstance,
) -> (&'static Homeserver, BridgeInstance) {
    let (server, bridges) = shared
        .get_or_start(kind, || async {
            let port = testkit::free_port().expect("free port for the homeserver");
            let bridges: std::collections::HashMap<_, _> = names
                .iter()
                .map(|name| (*name, prepare(name, port)))
                .collect();
            let options = HomeserverOptions {
                registrations: bridges
                    .values()
                    .map(|b| b.registration_path.clone())
                    .collect(),
                port: Some(port),
                ..HomeserverOptions::default()
            };
            Ok((options, std::sync::Mutex::new(bridges)))
        })
        .await
        .unwrap_or_else(|e| {
            panic!("{kind} starts (run ./test.sh provision if it is not installed): {e}")
        });
    let bridge = bridges
        .lock()
        .unwrap()
        .remove(name)
        .expect("each bridge is used once");
    (server, bridge)
}
