//! End to end against a real homeserver, Synapse and Conduit each, that
//! starts after the bridge: the bridge waits for it (never exiting because
//! the homeserver is still starting), then becomes ready and greets the
//! owner; SIGTERM while waiting also exits 0. Synapse reads the registration
//! at start; Conduit gets it through its admin room once it runs, as its
//! operators do (until then Conduit refuses the bridge's token, which the
//! bridge waits out like an unreachable server).

mod appservice_support;

use std::time::Duration;

use appservice_support::{management_room_of, BridgeInstance};
use testkit::{free_port, Homeserver, HomeserverKind, HomeserverOptions};

on_both_servers!(bridge_started_before_the_homeserver_becomes_ready_once_it_is_up);

async fn bridge_started_before_the_homeserver_becomes_ready_once_it_is_up(kind: HomeserverKind) {
    let port = free_port().unwrap();
    let mut early = BridgeInstance::prepare("early", port);
    let mut quitter = BridgeInstance::prepare("quit", port);

    early.start();
    quitter.start();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        early.is_running(),
        "the bridge waits for the homeserver\n{}",
        early.log_tail()
    );
    let (status, body) = early
        .health()
        .await
        .expect("the appservice listens while waiting");
    assert_eq!(status, 503);
    assert_eq!(body["status"], "starting");

    // Stopping while the homeserver is still away is a clean exit too.
    let status = quitter.terminate();
    assert!(
        status.success(),
        "SIGTERM while waiting exits 0, got {status}\n{}",
        quitter.log_tail()
    );

    let server = Homeserver::start(
        kind,
        HomeserverOptions {
            registrations: vec![early.registration_path.clone()],
            port: Some(port),
            ..HomeserverOptions::default()
        },
    )
    .await
    .unwrap_or_else(|e| {
        panic!("{kind} starts (run ./test.sh provision if it is not installed): {e}")
    });
    let _log = server.log_on_panic();
    let owner = server
        .register_user(&early.owner_localpart, false)
        .await
        .unwrap();
    early.wait_ready(Duration::from_secs(60)).await;
    let bot = early.bot_user_id.clone();
    management_room_of(&owner, &bot).await;
    assert!(early.log().contains("homeserver not reachable yet"));

    let status = early.terminate();
    assert!(status.success(), "{status}\n{}", early.log_tail());
}
