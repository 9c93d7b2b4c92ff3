//! The real grammers client against the fake over TCP: session layer,
//! dispatch, the authorization registry and the protocol-side faults.

mod common;

use std::time::{Duration, Instant};

use fake_telegram::{FakeTelegram, RpcError};
use grammers_client::tl;
use grammers_client::InvocationError;

use common::{
    connect, get_config, key_of, logged_in_client, recovers_after_dropped_connections, rpc_error,
    user,
};

/// The error the fake answered the first `method` call with, from its request log.
fn first_logged_error(fake: &FakeTelegram, method: &str) -> Option<String> {
    fake.calls()
        .into_iter()
        .find(|c| c.method == method)
        .expect("the method was called")
        .error
}

#[tokio::test]
async fn first_call_gets_a_loopback_config() {
    let fake = FakeTelegram::start().await;
    let client = connect(fake.session());
    let tl::enums::Config::Config(config) = get_config(&client).await.unwrap();
    assert_eq!(config.dc_options.len(), 5);
    for option in &config.dc_options {
        let tl::enums::DcOption::Option(o) = option;
        assert_eq!(o.ip_address, "127.0.0.1");
        assert_eq!(o.port, i32::from(fake.addr().port()));
    }
    // grammers' own first call plus ours.
    assert!(fake.call_count("help.getConfig") >= 2);
}

#[tokio::test]
async fn fresh_key_is_not_authorized() {
    let fake = FakeTelegram::start().await;
    let client = connect(fake.session());
    assert!(!client.client.is_authorized().await.unwrap());
    assert_eq!(
        first_logged_error(&fake, "updates.getState").as_deref(),
        Some("401 AUTH_KEY_UNREGISTERED")
    );
}

#[tokio::test]
async fn unknown_methods_answer_loudly_and_are_logged() {
    let fake = FakeTelegram::start().await;
    let (client, _me) = logged_in_client(&fake, user("Alice", "15550001")).await;
    let err = client
        .client
        .invoke(&tl::functions::help::GetNearestDc {})
        .await
        .unwrap_err();
    assert_eq!(
        rpc_error(&err),
        Some((400, "FAKE_METHOD_NOT_IMPLEMENTED".into()))
    );
    assert_eq!(
        first_logged_error(&fake, "help.getNearestDc").as_deref(),
        Some("400 FAKE_METHOD_NOT_IMPLEMENTED")
    );
}

#[tokio::test]
async fn log_out_unbinds_the_key() {
    let fake = FakeTelegram::start().await;
    let (client, me) = logged_in_client(&fake, user("Alice", "15550001")).await;
    let key = key_of(&client);
    assert_eq!(fake.account_of(&key), Some(me));
    client.client.sign_out().await.unwrap();
    assert_eq!(fake.account_of(&key), None);
    let err = client.client.sign_out().await.unwrap_err();
    assert_eq!(rpc_error(&err), Some((401, "AUTH_KEY_UNREGISTERED".into())));
    assert!(!client.client.is_authorized().await.unwrap());
}

#[tokio::test]
async fn flood_wait_below_the_threshold_is_slept_and_retried() {
    let fake = FakeTelegram::start().await;
    let client = connect(fake.session());
    get_config(&client).await.unwrap();
    fake.fail_next("help.getConfig", RpcError::flood_wait(1));
    let started = Instant::now();
    get_config(&client).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "grammers did not sleep"
    );
    let errors: Vec<_> = fake.calls().into_iter().filter_map(|c| c.error).collect();
    assert_eq!(errors, vec!["420 FLOOD_WAIT_1".to_string()]);
}

#[tokio::test]
async fn flood_wait_above_the_threshold_surfaces() {
    let fake = FakeTelegram::start().await;
    let client = connect(fake.session());
    get_config(&client).await.unwrap();
    fake.fail_next("help.getConfig", RpcError::flood_wait(3600));
    let started = Instant::now();
    let err = get_config(&client).await.unwrap_err();
    assert!(
        matches!(&err, InvocationError::Rpc(e) if e.code == 420 && e.value == Some(3600)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn delayed_method_does_not_hold_up_others() {
    let fake = FakeTelegram::start().await;
    let (client, _me) = logged_in_client(&fake, user("Alice", "15550001")).await;
    fake.delay("help.getNearestDc", Duration::from_millis(800));
    let slow = {
        let client = client.client.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let _ = client.invoke(&tl::functions::help::GetNearestDc {}).await;
            started.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    get_config(&client).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(600));
    assert!(slow.await.unwrap() >= Duration::from_millis(800));
}

#[tokio::test]
async fn dropped_connections_are_reestablished() {
    let fake = FakeTelegram::start().await;
    let client = connect(fake.session());
    get_config(&client).await.unwrap();
    let before = fake.call_count("help.getConfig");
    fake.drop_connections();
    assert!(
        recovers_after_dropped_connections(&client).await,
        "client did not recover from the dropped connection"
    );
    assert!(fake.call_count("help.getConfig") > before);
}

#[tokio::test]
async fn unknown_auth_key_is_refused() {
    let fake = FakeTelegram::start().await;
    let stranger = fake_telegram::seed::session_data(fake.addr(), [7u8; 256]);
    let client = connect(fake_telegram::seed::FakeSession::new(stranger));
    let result = tokio::time::timeout(Duration::from_secs(5), get_config(&client)).await;
    assert!(
        !matches!(result, Ok(Ok(_))),
        "an unknown key must not be served"
    );
    assert!(fake.calls().is_empty());
}
