//! End to end against a real Synapse that starts after the bridge: the bridge
//! waits for it (never exiting because the homeserver is still starting),
//! then becomes ready and greets the owner; SIGTERM while waiting also exits 0.

mod appservice_support;

use std::time::Duration;

use appservice_support::{management_room_of, BridgeInstance};
use testkit::{free_port, Synapse, SynapseOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_started_before_synapse_becomes_ready_once_it_is_up() {
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

    let synapse = Synapse::start(SynapseOptions {
        registrations: vec![early.registration_path.clone()],
        port: Some(port),
        ..SynapseOptions::default()
    })
    .await
    .expect("Synapse starts (run ./test.sh provision if it is not installed)");
    let _log = synapse.log_on_panic();
    let owner = synapse
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
