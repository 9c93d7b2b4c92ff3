//! The kit against a real Synapse: users, rooms, messages and /sync behave
//! as a Matrix client sees them, on one server shared by all tests here.

use std::time::Duration;

use serde_json::json;
use testkit::{unique_localpart, Method, SharedSynapse, Synapse, SynapseOptions};

static SYNAPSE: SharedSynapse = SharedSynapse::new();

async fn synapse() -> &'static Synapse {
    let (synapse, ()) = SYNAPSE
        .get_or_start(|| async { Ok((SynapseOptions::default(), ())) })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    synapse
}

#[tokio::test]
async fn users_talk_in_a_room_and_see_it_through_sync() {
    let synapse = synapse().await;
    let _log = synapse.log_on_panic();
    let alice = synapse
        .register_user(&unique_localpart("alice"), false)
        .await
        .unwrap();
    let bob = synapse
        .register_user(&unique_localpart("bob"), false)
        .await
        .unwrap();
    assert!(alice.user_id.ends_with(":localhost"), "{}", alice.user_id);

    let room = alice
        .create_room(&json!({ "name": "kit test" }))
        .await
        .unwrap();
    alice.invite(&room, &bob.user_id).await.unwrap();
    let invites = bob
        .sync_until(
            |e| {
                e["room_id"] == room.as_str()
                    && e["type"] == "m.room.member"
                    && e["state_key"] == bob.user_id.as_str()
            },
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert_eq!(invites[0]["content"]["membership"], "invite");

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
    assert_eq!(seen[0]["sender"], bob.user_id.as_str());

    let latest = alice.room_messages(&room, 5).await.unwrap();
    assert_eq!(latest[0]["event_id"], event_id.as_str());
    let mut expected = vec![alice.user_id.clone(), bob.user_id.clone()];
    expected.sort();
    assert_eq!(alice.joined_members(&room).await.unwrap(), expected);
}

#[tokio::test]
async fn sync_until_times_out_with_a_count_of_what_it_saw() {
    let synapse = synapse().await;
    let _log = synapse.log_on_panic();
    let carol = synapse
        .register_user(&unique_localpart("carol"), false)
        .await
        .unwrap();
    let err = carol
        .sync_until(|e| e["type"] == "never.sent", Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(err, testkit::Error::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn admin_flag_reaches_synapse_and_bad_tokens_are_refused() {
    let synapse = synapse().await;
    let _log = synapse.log_on_panic();
    let admin = synapse
        .register_user(&unique_localpart("admin"), true)
        .await
        .unwrap();
    let user = synapse
        .register_user(&unique_localpart("user"), false)
        .await
        .unwrap();
    let path = |u: &str| {
        format!(
            "/_synapse/admin/v2/users/{}",
            u.replace('@', "%40").replace(':', "%3A")
        )
    };

    let as_admin = admin
        .api()
        .call(Method::GET, &path(&user.user_id), None)
        .await
        .unwrap();
    assert_eq!(as_admin.status, 200, "{:?}", as_admin.body);
    let as_user = user
        .api()
        .call(Method::GET, &path(&admin.user_id), None)
        .await
        .unwrap();
    assert_eq!(as_user.status, 403, "{:?}", as_user.body);

    let anonymous = synapse.client(Some("not-a-token"));
    let whoami = anonymous
        .call(Method::GET, "/_matrix/client/v3/account/whoami", None)
        .await
        .unwrap();
    assert_eq!(whoami.status, 401);
    assert_eq!(whoami.errcode(), Some("M_UNKNOWN_TOKEN"));
}

#[tokio::test]
async fn a_start_that_fails_reports_synapse_own_words() {
    let dir = tempfile::tempdir().unwrap();
    let registration = dir.path().join("broken.yaml");
    std::fs::write(&registration, "id: broken\n").unwrap();
    let options = SynapseOptions {
        registrations: vec![registration],
        ..Default::default()
    };
    let err = match Synapse::start(options).await {
        Ok(_) => panic!("Synapse accepted a registration without tokens"),
        Err(err) => err,
    };
    let testkit::Error::Startup {
        log_tail, log_path, ..
    } = &err
    else {
        panic!("expected a startup error, got {err}");
    };
    assert!(
        log_tail.contains("broken.yaml") || log_tail.contains("as_token"),
        "{err}"
    );
    assert!(log_path.exists(), "the log of a failed start must be kept");
    std::fs::remove_dir_all(log_path.parent().unwrap()).unwrap();
}

/// A user kept in a static outlives the runtime of the test that made it;
/// the next test, on its own runtime, must still be able to use it.
mod across_runtimes {
    use super::*;
    use testkit::TestUser;
    use tokio::sync::OnceCell;

    static DAVE: OnceCell<TestUser> = OnceCell::const_new();

    async fn dave() -> &'static TestUser {
        DAVE.get_or_init(|| async {
            synapse()
                .await
                .register_user(&unique_localpart("dave"), false)
                .await
                .unwrap()
        })
        .await
    }

    #[test]
    fn a_shared_user_works_from_successive_runtimes() {
        for round in 0..3 {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let dave = dave().await;
                let room = dave
                    .create_room(&json!({ "name": format!("round {round}") }))
                    .await
                    .unwrap();
                dave.send_text(&room, "still here").await.unwrap();
            });
        }
    }
}

/// A stopped server refuses connections; restarted, it answers on the same
/// port with the same users, rooms and messages.
#[tokio::test]
async fn a_stopped_server_comes_back_with_its_data() {
    let mut synapse = Synapse::start(SynapseOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let alice = synapse
        .register_user(&unique_localpart("alice"), false)
        .await
        .unwrap();
    let room = alice
        .create_room(&json!({ "name": "outage" }))
        .await
        .unwrap();
    alice.send_text(&room, "before").await.unwrap();

    synapse.stop().unwrap();
    assert!(!synapse.is_running());
    let refused = alice
        .api()
        .call(Method::GET, "/_matrix/client/versions", None)
        .await;
    assert!(refused.is_err(), "a stopped server answered: {refused:?}");

    synapse.restart().await.unwrap();
    assert!(synapse.is_running());
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
