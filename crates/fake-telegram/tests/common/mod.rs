//! Helpers shared by the integration tests: accounts, connected clients and
//! error matching.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use fake_telegram::seed::{FakeSession, TestClient};
use fake_telegram::world::{UserId, UserSpec};
use fake_telegram::FakeTelegram;
use grammers_client::{tl, InvocationError};
use grammers_session::Session;

/// Logs at `RUST_LOG` level when set, quietly otherwise.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A plain account with a phone number.
pub fn user(first_name: &str, phone: &str) -> UserSpec {
    UserSpec {
        first_name: first_name.into(),
        phone: Some(phone.into()),
        ..UserSpec::default()
    }
}

/// Adds a user to the fake's world.
pub fn add_user(fake: &FakeTelegram, spec: UserSpec) -> UserId {
    fake.world().lock().unwrap().add_user(spec)
}

/// A client over `session`, with its sender pool running.
pub fn connect(session: FakeSession) -> TestClient {
    init_tracing();
    TestClient::connect(session)
}

/// A new client (a new connection) over a session another client used.
pub fn resume(session: Arc<FakeSession>) -> TestClient {
    init_tracing();
    TestClient::resume(session)
}

/// Adds `spec` and connects a client already logged into it.
pub async fn logged_in_client(fake: &FakeTelegram, spec: UserSpec) -> (TestClient, UserId) {
    let id = add_user(fake, spec);
    let session = fake.logged_in_session(id).expect("user just added");
    (connect(session), id)
}

/// `(code, name)` of an RPC error, `None` for any other failure.
pub fn rpc_error(err: &InvocationError) -> Option<(i32, String)> {
    match err {
        InvocationError::Rpc(e) => {
            let name = match e.value {
                Some(v) => format!("{}_{v}", e.name),
                None => e.name.clone(),
            };
            Some((e.code, name))
        }
        _ => None,
    }
}

/// The auth key the client's session holds for the home datacenter.
pub fn key_of(client: &TestClient) -> [u8; 256] {
    client
        .session
        .dc_option(2)
        .expect("the session knows the home datacenter")
        .expect("the home datacenter has an option")
        .auth_key
        .expect("the client holds a key")
}

/// `help.getConfig`: the cheapest call that needs a working connection.
pub async fn get_config(client: &TestClient) -> Result<tl::enums::Config, InvocationError> {
    client
        .client
        .invoke(&tl::functions::help::GetConfig {})
        .await
}

/// Whether the client is answered again after the fake dropped its
/// connections. grammers reconnects on demand; it gets a few tries as its
/// first attempt may still use the closed socket.
pub async fn recovers_after_dropped_connections(client: &TestClient) -> bool {
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..5 {
        if get_config(client).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// The error the fake answered the last `method` call with, from its request log.
pub fn logged_error(fake: &FakeTelegram, method: &str) -> Option<String> {
    fake.calls()
        .into_iter()
        .rev()
        .find(|c| c.method == method)
        .and_then(|c| c.error)
}
