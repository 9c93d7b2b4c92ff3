//! Helpers shared by the integration tests: accounts, connected clients and
//! error matching.

#![allow(dead_code)]

use std::sync::Arc;

use fake_telegram::seed::{FakeSession, TestClient};
use fake_telegram::world::{UserId, UserSpec};
use fake_telegram::FakeTelegram;
use grammers_client::InvocationError;

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
