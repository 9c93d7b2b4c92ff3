//! The kit against a real Conduit: users, rooms, messages and /sync behave
//! as a Matrix client sees them, appservices are registered through the
//! admin room, and the neutral `Homeserver` layer reads the same on both
//! servers (a burst longer than Conduit's 10-event /sync window included).

use std::time::Duration;

use serde_json::json;
use testkit::{
    unique_localpart, Conduit, ConduitOptions, Error, Homeserver, HomeserverKind,
    HomeserverOptions, Method, SharedHomeserver,
};

static SERVERS: SharedHomeserver = SharedHomeserver::new();

async fn homeserver(kind: HomeserverKind) -> &'static Homeserver {
    let (server, ()) = SERVERS
        .get_or_start(kind, || async { Ok((HomeserverOptions::default(), ())) })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    server
}

async fn conduit() -> &'static Conduit {
    homeserver(HomeserverKind::Conduit)
        .await
        .as_conduit()
        .expect("the Conduit slot holds a Conduit")
}

#[tokio::test]
async fn users_talk_in_a_room_and_see_it_through_sync() {
    let conduit = conduit().await;
    let _log = conduit.log_on_panic();
    let alice = conduit
        .register_user(&unique_localpart("alice"))
        .await
        .unwrap();
    let bob = conduit
        .register_user(&unique_localpart("bob"))
        .await
        .unwrap();
    assert!(alice.user_id.ends_with(":localhost"), "{}", alice.user_id);

    let room = alice
        .create_room(&json!({ "name": "kit test" }))
        .await
        .unwrap();
    alice.invite(&room, &bob.user_id).await.unwrap();
    bob.sync_until(
        |e| {
            e["room_id"] == room.as_str()
                && e["type"] == "m.room.member"
                && e["state_key"] == bob.user_id.as_str()
        },
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(bob.join(&room).await.unwrap(), room);
    let event_id = bob.send_text(&room, "hello from bob").await.unwrap();
    let seen = alice
        .sync_until(
            |e| e["event_id"] == event_id.as_str(),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(seen[0]["content"]["body"], "hello from bob");
    let mut expected = vec![alice.user_id.clone(), bob.user_id.clone()];
    expected.sort();
    assert_eq!(alice.joined_members(&room).await.unwrap(), expected);
}

/// Conduit's /sync shows only the last 10 events of a timeline; the kit
/// pages back through /messages so a burst arrives whole, on both servers.
async fn a_burst_arrives_whole_through_sync(kind: HomeserverKind) {
    let server = homeserver(kind).await;
    let _log = server.log_on_panic();
    let alice = server
        .register_user(&unique_localpart("burst"), false)
        .await
        .unwrap();
    let room = alice
        .create_room(&json!({ "name": "burst" }))
        .await
        .unwrap();
    let first = alice.send_text(&room, "start").await.unwrap();
    alice
        .sync_until(|e| e["event_id"] == first.as_str(), Duration::from_secs(30))
        .await
        .unwrap();

    for n in 0..35 {
        alice.send_text(&room, &format!("burst {n}")).await.unwrap();
    }
    let seen = alice
        .sync_until(
            |e| {
                e["content"]["body"]
                    .as_str()
                    .is_some_and(|b| b.starts_with("burst "))
            },
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    let bodies: Vec<&str> = seen
        .iter()
        .filter_map(|e| e["content"]["body"].as_str())
        .collect();
    let expected: Vec<String> = (0..35).map(|n| format!("burst {n}")).collect();
    assert_eq!(bodies, expected, "on {kind}");
}

#[tokio::test]
async fn a_burst_arrives_whole_through_sync_on_synapse() {
    a_burst_arrives_whole_through_sync(HomeserverKind::Synapse).await;
}

#[tokio::test]
async fn a_burst_arrives_whole_through_sync_on_conduit() {
    a_burst_arrives_whole_through_sync(HomeserverKind::Conduit).await;
}

/// The admin room registers an appservice as Conduit's operators do it; its
/// `as_token` then registers the bot. A broken registration is refused with
/// the admin bot's own words.
#[tokio::test]
async fn appservices_are_registered_through_the_admin_room() {
    let conduit = conduit().await;
    let _log = conduit.log_on_panic();
    let dir = tempfile::tempdir().unwrap();
    let id = unique_localpart("kitas");
    let as_token = unique_localpart("as");
    let registration = dir.path().join("registration.yaml");
    std::fs::write(
        &registration,
        format!(
            "id: {id}\nurl: http://127.0.0.1:9\nas_token: {as_token}\nhs_token: {hs}\n\
             sender_localpart: {id}bot\nrate_limited: false\nnamespaces:\n  users:\n    \
             - exclusive: true\n      regex: \"@{id}_.*:localhost\"\n  aliases: []\n  rooms: []\n",
            hs = unique_localpart("hs"),
        ),
    )
    .unwrap();
    conduit.register_appservice(&registration).await.unwrap();

    let appservice = conduit.client(Some(&as_token));
    let bot = appservice
        .ok(
            Method::POST,
            "/_matrix/client/v3/register",
            Some(&json!({ "type": "m.login.application_service", "username": format!("{id}bot") })),
        )
        .await
        .unwrap();
    assert_eq!(bot["user_id"], format!("@{id}bot:localhost"));

    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "id: [not, a, registration\n").unwrap();
    let err = conduit.register_appservice(&broken).await.unwrap_err();
    assert!(matches!(err, Error::AppserviceRefused { .. }), "{err}");
}

/// A stopped Conduit refuses connections; restarted, it answers on the same
/// port with the same users, rooms, messages and appservices.
#[tokio::test]
async fn a_stopped_server_comes_back_with_its_data() {
    let mut server = Homeserver::start(HomeserverKind::Conduit, HomeserverOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let alice = server
        .register_user(&unique_localpart("alice"), false)
        .await
        .unwrap();
    let room = alice
        .create_room(&json!({ "name": "outage" }))
        .await
        .unwrap();
    alice.send_text(&room, "before").await.unwrap();

    server.stop().unwrap();
    assert!(!server.is_running());
    let refused = alice
        .api()
        .call(Method::GET, "/_matrix/client/versions", None)
        .await;
    assert!(refused.is_err(), "a stopped server answered: {refused:?}");

    server.restart().await.unwrap();
    assert!(server.is_running());
    alice.send_text(&room, "after").await.unwrap();
    let mut bodies: Vec<String> = alice
        .room_messages(&room, 50)
        .await
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .filter_map(|e| e["content"]["body"].as_str().map(str::to_owned))
        .collect();
    bodies.reverse();
    assert_eq!(bodies, ["before", "after"]);
}

/// Synapse reads registrations only at start, and only Synapse makes
/// admins on request: both are errors that say so, not silent no-ops.
#[tokio::test]
async fn what_a_server_cannot_do_is_an_error() {
    let synapse = homeserver(HomeserverKind::Synapse).await;
    let err = synapse
        .register_appservice(std::path::Path::new("/tmp/registration.yaml"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RegistrationOnlyAtStart { .. }),
        "{err}"
    );
    let conduit = homeserver(HomeserverKind::Conduit).await;
    let err = conduit
        .register_user(&unique_localpart("boss"), true)
        .await
        .err()
        .expect("Conduit made a second admin");
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
}

#[tokio::test]
async fn a_custom_upload_limit_reaches_conduit() {
    let conduit = Conduit::start(ConduitOptions {
        max_request_size: Some(1_000_000),
        ..ConduitOptions::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let config = conduit
        .admin()
        .api()
        .ok(Method::GET, "/_matrix/media/v3/config", None)
        .await
        .unwrap();
    assert_eq!(config["m.upload.size"], 1_000_000);
}
