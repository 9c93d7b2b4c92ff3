//! The control API over HTTP (JSON, loopback only) for black-box tests and
//! benchmarks driving the `fake-telegram` binary: request log and waits,
//! faults, login codes, the QR scan, and auth keys for seeding a client's
//! session. A thin adapter over [`FakeTelegram`]'s Rust control API; no
//! logic of its own.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::world::UserId;
use crate::{FakeTelegram, RpcError};

/// Longest wait `/calls/wait` accepts, so a typo cannot hang a test run.
const MAX_WAIT: Duration = Duration::from_secs(300);

/// An error answer: `{"error": "..."}` with a status code.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

type Fake = Arc<FakeTelegram>;

/// The control routes; the world's own routes (a user sends, edits, …;
/// see [`crate::world::http`]) are nested under `/world`.
pub fn router(fake: Fake) -> Router {
    let world = crate::world::http::router(fake.world());
    Router::new()
        .route("/health", get(health))
        .route("/calls", get(calls))
        .route("/calls/wait", post(wait_for_calls))
        .route("/faults/fail-next", post(fail_next))
        .route("/faults/delay", post(delay))
        .route("/faults/drop-connections", post(drop_connections))
        .route("/faults/withhold-pushes", post(withhold_pushes))
        .route("/login-codes", post(set_login_code))
        .route("/login-codes/{phone}", get(login_code))
        .route("/login-codes/{phone}/expire", post(expire_login_codes))
        .route("/qr/scan", post(scan_login_token))
        .route("/auth-keys", post(new_auth_key))
        .route("/sessions/revoke", post(revoke_sessions))
        .with_state(fake)
        .nest("/world", world)
}

#[derive(Serialize)]
struct Health {
    mtproto: String,
}

async fn health(State(fake): State<Fake>) -> Json<Health> {
    Json(Health {
        mtproto: fake.addr().to_string(),
    })
}

async fn calls(State(fake): State<Fake>) -> Json<Vec<crate::control::LoggedCall>> {
    Json(fake.calls())
}

#[derive(Deserialize)]
struct WaitRequest {
    method: String,
    count: usize,
    timeout_ms: u64,
}

async fn wait_for_calls(
    State(fake): State<Fake>,
    Json(req): Json<WaitRequest>,
) -> Result<StatusCode, ApiError> {
    let timeout = Duration::from_millis(req.timeout_ms).min(MAX_WAIT);
    fake.wait_for_calls(&req.method, req.count, timeout)
        .await
        .map(|()| StatusCode::NO_CONTENT)
        .map_err(|e| ApiError(StatusCode::REQUEST_TIMEOUT, e.to_string()))
}

#[derive(Deserialize)]
struct FailNext {
    method: String,
    /// e.g. 420.
    code: i32,
    /// e.g. `FLOOD_WAIT_30`.
    name: String,
}

async fn fail_next(State(fake): State<Fake>, Json(req): Json<FailNext>) -> StatusCode {
    fake.fail_next(&req.method, RpcError::new(req.code, req.name));
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Delay {
    method: String,
    ms: u64,
}

async fn delay(State(fake): State<Fake>, Json(req): Json<Delay>) -> StatusCode {
    fake.delay(&req.method, Duration::from_millis(req.ms));
    StatusCode::NO_CONTENT
}

async fn drop_connections(State(fake): State<Fake>) -> StatusCode {
    fake.drop_connections();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Withhold {
    withhold: bool,
}

async fn withhold_pushes(State(fake): State<Fake>, Json(req): Json<Withhold>) -> StatusCode {
    fake.withhold_pushes(req.withhold);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct LoginCode {
    phone: String,
    code: String,
}

async fn set_login_code(State(fake): State<Fake>, Json(req): Json<LoginCode>) -> StatusCode {
    fake.set_login_code(&req.phone, &req.code);
    StatusCode::NO_CONTENT
}

#[derive(Serialize)]
struct SentCode {
    code: String,
}

async fn login_code(
    State(fake): State<Fake>,
    Path(phone): Path<String>,
) -> Result<Json<SentCode>, ApiError> {
    fake.login_code(&phone)
        .map(|code| Json(SentCode { code }))
        .ok_or_else(|| {
            ApiError(
                StatusCode::NOT_FOUND,
                "no code was sent to this phone".into(),
            )
        })
}

async fn expire_login_codes(State(fake): State<Fake>, Path(phone): Path<String>) -> StatusCode {
    fake.expire_login_codes(&phone);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Scan {
    user_id: UserId,
}

async fn scan_login_token(
    State(fake): State<Fake>,
    Json(req): Json<Scan>,
) -> Result<StatusCode, ApiError> {
    fake.scan_login_token(req.user_id)
        .map(|()| StatusCode::NO_CONTENT)
        .map_err(|e| ApiError(StatusCode::CONFLICT, e.to_string()))
}

#[derive(Deserialize)]
struct Revoke {
    user_id: UserId,
}

#[derive(Serialize)]
struct Revoked {
    revoked: usize,
}

async fn revoke_sessions(State(fake): State<Fake>, Json(req): Json<Revoke>) -> Json<Revoked> {
    Json(Revoked {
        revoked: fake.revoke_sessions(req.user_id),
    })
}

/// Which account a new auth key is logged into; no field: not logged in.
#[derive(Deserialize, Default)]
struct NewKey {
    /// The account's key in the world file, e.g. `me`.
    key: Option<String>,
    user_id: Option<UserId>,
    /// Digits with or without `+`.
    phone: Option<String>,
}

#[derive(Serialize)]
struct NewKeyAnswer {
    /// 256 bytes, hex: what a client session stores for every DC option.
    auth_key: String,
    user_id: Option<UserId>,
    /// Where every DC option must point.
    mtproto: String,
}

async fn new_auth_key(
    State(fake): State<Fake>,
    body: Option<Json<NewKey>>,
) -> Result<Json<NewKeyAnswer>, ApiError> {
    let req = body.map(|Json(b)| b).unwrap_or_default();
    let account = match (req.key, req.user_id, req.phone) {
        (Some(key), _, _) => Some(account_by_key(&fake, &key)?),
        (None, Some(id), _) => Some(account_by_id(&fake, id)?),
        (None, None, Some(phone)) => Some(account_by_phone(&fake, &phone)?),
        (None, None, None) => None,
    };
    let key = match account {
        Some(id) => fake.logged_in_auth_key(id),
        None => fake.new_auth_key(),
    };
    Ok(Json(NewKeyAnswer {
        auth_key: hex::encode(key),
        user_id: account,
        mtproto: fake.addr().to_string(),
    }))
}

fn account_by_key(fake: &FakeTelegram, key: &str) -> Result<UserId, ApiError> {
    let world = fake.world();
    let world = world.lock().unwrap_or_else(|e| e.into_inner());
    match world.peer_by_name(key) {
        Some(crate::world::Peer::User(id)) => Ok(id),
        _ => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no account `{key}` in the world file"),
        )),
    }
}

fn account_by_id(fake: &FakeTelegram, id: UserId) -> Result<UserId, ApiError> {
    let world = fake.world();
    let world = world.lock().unwrap_or_else(|e| e.into_inner());
    world
        .user(id)
        .map(|u| u.id)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no user {id}")))
}

fn account_by_phone(fake: &FakeTelegram, phone: &str) -> Result<UserId, ApiError> {
    let digits = crate::auth::normalize_phone(phone)
        .ok_or_else(|| ApiError(StatusCode::BAD_REQUEST, "not a phone number".into()))?;
    let world = fake.world();
    let world = world.lock().unwrap_or_else(|e| e.into_inner());
    world
        .user_by_phone(&digits)
        .map(|u| u.id)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, "no account with this phone".into()))
}
