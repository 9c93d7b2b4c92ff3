//! Every login flow and login error, driven by the real grammers client.

mod common;

use std::time::Duration;

use fake_telegram::seed::TestClient;
use fake_telegram::world::{UserId, UserSpec};
use fake_telegram::{FakeTelegram, RpcError};
use grammers_client::client::{LoginToken, PasswordToken};
use grammers_client::session::updates::UpdatesLike;
use grammers_client::{tl, SignInError};

use common::{add_user, connect, get_config, key_of, logged_error, rpc_error, user};

const API_HASH: &str = "0123456789abcdef0123456789abcdef";

fn with_password(mut spec: UserSpec, password: &str, hint: &str) -> UserSpec {
    spec.password = Some(password.into());
    spec.password_hint = Some(hint.into());
    spec
}

/// A new client that asked for a login code for `phone`.
async fn code_requested(fake: &FakeTelegram, phone: &str) -> (TestClient, LoginToken) {
    let client = connect(fake.session());
    let token = client
        .client
        .request_login_code(phone, API_HASH)
        .await
        .unwrap();
    (client, token)
}

/// The RPC error a new request for a code for `phone` fails with.
async fn send_code_error(client: &TestClient, phone: &str) -> Option<(i32, String)> {
    let err = client
        .client
        .request_login_code(phone, API_HASH)
        .await
        .err()
        .expect("the request must fail");
    rpc_error(&err)
}

/// Alice with a 2FA password, past the code step: the password request.
async fn password_requested(fake: &FakeTelegram) -> (TestClient, UserId, PasswordToken) {
    let alice = add_user(
        fake,
        with_password(user("Alice", "15550001"), "correct horse", "horse"),
    );
    fake.set_login_code("15550001", "11111");
    let (client, token) = code_requested(fake, "15550001").await;
    let password_token = match client.client.sign_in(&token, "11111").await {
        Err(SignInError::PasswordRequired(t)) => t,
        other => panic!("expected a password request, got {other:?}"),
    };
    (client, alice, password_token)
}

/// Answers a password request with Alice's password: logs in as `account`.
async fn right_password_logs_in(client: &TestClient, token: PasswordToken, account: UserId) {
    let me = client
        .client
        .check_password(token, "correct horse")
        .await
        .unwrap();
    assert_eq!(me.id().bare_id(), Some(account));
}

/// `auth.exportLoginToken` as a QR login repeats it.
fn export_login_token() -> tl::functions::auth::ExportLoginToken {
    tl::functions::auth::ExportLoginToken {
        api_id: 1,
        api_hash: API_HASH.into(),
        except_ids: vec![],
    }
}

#[tokio::test]
async fn login_by_code() {
    let fake = FakeTelegram::start().await;
    let mut spec = user("Alice", "15550001");
    spec.login_code = Some("24680".into());
    let alice = add_user(&fake, spec);
    let client = connect(fake.session());
    assert!(!client.client.is_authorized().await.unwrap());

    let token = client
        .client
        .request_login_code("+1 555 0001", API_HASH)
        .await
        .unwrap();
    assert_eq!(fake.login_code("15550001").as_deref(), Some("24680"));
    let me = client.client.sign_in(&token, "24680").await.unwrap();

    assert_eq!(me.id().bare_id(), Some(alice));
    assert_eq!(me.first_name(), Some("Alice"));
    assert_eq!(fake.account_of(&key_of(&client)), Some(alice));
}

#[tokio::test]
async fn generated_code_is_readable_by_the_test() {
    let fake = FakeTelegram::start().await;
    let alice = add_user(&fake, user("Alice", "15550001"));
    let (client, token) = code_requested(&fake, "15550001").await;
    let code = fake.login_code("+15550001").expect("a code was sent");
    assert_eq!(code.len(), 5);
    let me = client.client.sign_in(&token, &code).await.unwrap();
    assert_eq!(me.id().bare_id(), Some(alice));
}

#[tokio::test]
async fn two_factor_right_password() {
    let fake = FakeTelegram::start().await;
    let (client, alice, password_token) = password_requested(&fake).await;
    assert_eq!(password_token.hint(), Some("horse"));
    assert_eq!(
        fake.account_of(&key_of(&client)),
        None,
        "not logged in before the password"
    );
    right_password_logs_in(&client, password_token, alice).await;
    assert_eq!(fake.account_of(&key_of(&client)), Some(alice));
}

#[tokio::test]
async fn two_factor_wrong_then_right_password() {
    let fake = FakeTelegram::start().await;
    let (client, alice, password_token) = password_requested(&fake).await;
    // grammers hands back the same srp_id and B for the retry.
    let retry = match client
        .client
        .check_password(password_token, "battery staple")
        .await
    {
        Err(SignInError::InvalidPassword(t)) => t,
        other => panic!("expected an invalid password, got {other:?}"),
    };
    assert_eq!(
        logged_error(&fake, "auth.checkPassword").as_deref(),
        Some("400 PASSWORD_HASH_INVALID")
    );
    assert_eq!(fake.account_of(&key_of(&client)), None);
    right_password_logs_in(&client, retry, alice).await;
}

#[tokio::test]
async fn bot_token_login_and_invalid_token() {
    let fake = FakeTelegram::start().await;
    let bot = add_user(
        &fake,
        UserSpec {
            first_name: "Helper".into(),
            username: Some("helper_bot".into()),
            bot: true,
            bot_token: Some("123456:ABCdef".into()),
            ..UserSpec::default()
        },
    );
    let client = connect(fake.session());
    let err = client
        .client
        .bot_sign_in("123456:wrong", API_HASH)
        .await
        .unwrap_err();
    assert_eq!(rpc_error(&err), Some((400, "ACCESS_TOKEN_INVALID".into())));
    let me = client
        .client
        .bot_sign_in("123456:ABCdef", API_HASH)
        .await
        .unwrap();
    assert_eq!(me.id().bare_id(), Some(bot));
    assert!(me.is_bot());
    assert_eq!(fake.account_of(&key_of(&client)), Some(bot));
}

#[tokio::test]
async fn qr_login_token_flow() {
    let fake = FakeTelegram::start().await;
    let alice = add_user(&fake, user("Alice", "15550001"));
    let mut client = connect(fake.session());
    let mut updates = client.take_updates().unwrap();
    let export = export_login_token();

    let tl::enums::auth::LoginToken::Token(token) = client.client.invoke(&export).await.unwrap()
    else {
        panic!("expected a token before the scan");
    };
    assert!(!token.token.is_empty());
    assert!(fake.scan_login_token(alice).is_ok());

    let pushed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(update) = updates.recv().await {
            if let UpdatesLike::Updates(tl::enums::Updates::UpdateShort(short)) = update {
                return Some(short.update);
            }
        }
        None
    })
    .await
    .expect("updateLoginToken within 5 s");
    assert!(matches!(pushed, Some(tl::enums::Update::LoginToken)));

    let tl::enums::auth::LoginToken::Success(success) =
        client.client.invoke(&export).await.unwrap()
    else {
        panic!("expected success after the scan");
    };
    let tl::enums::auth::Authorization::Authorization(authorization) = success.authorization else {
        panic!("expected an authorization");
    };
    assert_eq!(authorization.user.id(), alice);
    assert_eq!(fake.account_of(&key_of(&client)), Some(alice));
}

#[tokio::test]
async fn scanning_without_an_exported_token_fails() {
    let fake = FakeTelegram::start().await;
    let alice = add_user(&fake, user("Alice", "15550001"));
    assert!(fake.scan_login_token(alice).is_err());
    assert!(fake.scan_login_token(alice + 1000).is_err());
}

#[tokio::test]
async fn invalid_phone_number() {
    let fake = FakeTelegram::start().await;
    let client = connect(fake.session());
    assert_eq!(
        send_code_error(&client, "12ab").await,
        Some((400, "PHONE_NUMBER_INVALID".into()))
    );
}

#[tokio::test]
async fn banned_phone_number() {
    let fake = FakeTelegram::start().await;
    let mut spec = user("Mallory", "15550666");
    spec.banned = true;
    add_user(&fake, spec);
    let client = connect(fake.session());
    assert_eq!(
        send_code_error(&client, "15550666").await,
        Some((400, "PHONE_NUMBER_BANNED".into()))
    );
}

#[tokio::test]
async fn wrong_code_then_right_code() {
    let fake = FakeTelegram::start().await;
    let alice = add_user(&fake, user("Alice", "15550001"));
    fake.set_login_code("15550001", "13579");
    let (client, token) = code_requested(&fake, "15550001").await;
    assert!(matches!(
        client.client.sign_in(&token, "00000").await,
        Err(SignInError::InvalidCode)
    ));
    assert_eq!(
        logged_error(&fake, "auth.signIn").as_deref(),
        Some("400 PHONE_CODE_INVALID")
    );
    let me = client.client.sign_in(&token, "13579").await.unwrap();
    assert_eq!(me.id().bare_id(), Some(alice));
}

#[tokio::test]
async fn expired_code() {
    let fake = FakeTelegram::start().await;
    add_user(&fake, user("Alice", "15550001"));
    fake.set_login_code("15550001", "13579");
    let (client, token) = code_requested(&fake, "15550001").await;
    fake.expire_login_codes("15550001");
    assert!(matches!(
        client.client.sign_in(&token, "13579").await,
        Err(SignInError::InvalidCode)
    ));
    assert_eq!(
        logged_error(&fake, "auth.signIn").as_deref(),
        Some("400 PHONE_CODE_EXPIRED")
    );
}

#[tokio::test]
async fn unregistered_number_needs_a_sign_up_that_is_refused() {
    let fake = FakeTelegram::start().await;
    fake.set_login_code("15550999", "11111");
    let (client, token) = code_requested(&fake, "15550999").await;
    assert!(matches!(
        client.client.sign_in(&token, "11111").await,
        Err(SignInError::SignUpRequired)
    ));
    let sign_up = tl::functions::auth::SignUp {
        no_joined_notifications: false,
        phone_number: "15550999".into(),
        phone_code_hash: "whatever".into(),
        first_name: "New".into(),
        last_name: String::new(),
    };
    let err = client.client.invoke(&sign_up).await.unwrap_err();
    assert_eq!(
        rpc_error(&err),
        Some((400, "PHONE_NUMBER_UNOCCUPIED".into()))
    );
}

#[tokio::test]
async fn flood_wait_on_send_code_surfaces() {
    let fake = FakeTelegram::start().await;
    add_user(&fake, user("Alice", "15550001"));
    let client = connect(fake.session());
    get_config(&client).await.unwrap();
    fake.fail_next("auth.sendCode", RpcError::flood_wait(86_400));
    assert_eq!(
        send_code_error(&client, "15550001").await,
        Some((420, "FLOOD_WAIT_86400".into()))
    );
}

#[tokio::test]
async fn qr_login_with_two_factor() {
    let fake = FakeTelegram::start().await;
    let alice = add_user(
        &fake,
        with_password(user("Alice", "15550001"), "correct horse", "horse"),
    );
    let client = connect(fake.session());
    let export = export_login_token();
    client.client.invoke(&export).await.unwrap();
    fake.scan_login_token(alice).unwrap();
    // After the scan, Telegram asks for the 2FA password before logging in.
    let err = client.client.invoke(&export).await.unwrap_err();
    assert_eq!(
        rpc_error(&err),
        Some((401, "SESSION_PASSWORD_NEEDED".into()))
    );
    assert_eq!(fake.account_of(&key_of(&client)), None);
    let tl::enums::account::Password::Password(password) = client
        .client
        .invoke(&tl::functions::account::GetPassword {})
        .await
        .unwrap();
    assert_eq!(password.hint.as_deref(), Some("horse"));
    let token = PasswordToken::new(password);
    right_password_logs_in(&client, token, alice).await;
}

#[tokio::test]
async fn revoked_session_answers_session_revoked() {
    let fake = FakeTelegram::start().await;
    let (client, alice) = common::logged_in_client(&fake, user("Alice", "15550001")).await;
    assert!(client.client.is_authorized().await.unwrap());
    assert_eq!(fake.revoke_sessions(alice), 1);
    let err = client.client.get_me().await.unwrap_err();
    assert_eq!(rpc_error(&err), Some((401, "SESSION_REVOKED".into())));
    assert!(!client.client.is_authorized().await.unwrap());
}
