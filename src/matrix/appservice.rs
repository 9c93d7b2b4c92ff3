//! The appservice HTTP server: the endpoints the homeserver calls.
//!
//! It owns authentication (the `hs_token`, checked in one place for every
//! Matrix route, in constant time), parsing and HTTP answers. It does not decide
//! what an event means, and it does not remember transactions: it hands each
//! parsed transaction to an [`AppserviceHandler`] (the bridge core) and answers
//! 200 only once the handler has durably accepted it, so a crash before that
//! point makes the homeserver send the transaction again.

use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use ruma::api::appservice::event::push_events::v1::EphemeralData;
use ruma::serde::Raw;
use ruma::{OwnedRoomAliasId, OwnedTransactionId, OwnedUserId};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tracing::{debug, error, warn};

use super::event::TimelineEvent;

/// Largest transaction body accepted. Synapse sends at most 100 events and 100
/// ephemeral events of at most 64 KiB each per transaction.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// What the server needs to know; built by the core from the configuration.
#[derive(Clone)]
pub struct AppserviceSettings {
    /// The registration's `hs_token` (secret: never logged).
    pub hs_token: String,
    /// Largest request body accepted, see [`DEFAULT_MAX_BODY_BYTES`].
    pub max_body_bytes: usize,
}

impl std::fmt::Debug for AppserviceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppserviceSettings")
            .field("hs_token", &"<redacted>")
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

/// A transaction pushed by the homeserver.
///
/// Events stay raw: one event the bridge cannot understand must not make the
/// whole transaction fail, or the homeserver would retry it forever.
#[derive(Debug, Default)]
pub struct Transaction {
    /// Room events (timeline and state).
    pub events: Vec<Raw<TimelineEvent>>,
    /// Typing notifications, receipts and presence, when the registration asks
    /// for them and the homeserver supports it.
    pub ephemeral: Vec<Raw<EphemeralData>>,
}

/// The transaction body as the homeserver sends it. Ephemeral events come under
/// the stable name or the MSC2409 name, or both (Synapse sends both).
#[derive(Deserialize)]
struct TransactionBody {
    events: Vec<Raw<TimelineEvent>>,
    #[serde(default)]
    ephemeral: Option<Vec<Raw<EphemeralData>>>,
    #[serde(default, rename = "de.sorunome.msc2409.ephemeral")]
    ephemeral_msc2409: Option<Vec<Raw<EphemeralData>>>,
}

/// A handler could not accept a request; the homeserver gets a 500 and retries.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    message: String,
}

impl HandlerError {
    /// Wraps anything displayable, typically a store error.
    pub fn new(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
        }
    }
}

/// What the bridge core does with requests from the homeserver.
pub trait AppserviceHandler: Send + Sync + 'static {
    /// Accepts transaction `txn_id`. Returns once the events are durably
    /// accepted (processed, or persisted for processing); the homeserver is
    /// answered 200 only then. A transaction id that was already accepted must
    /// be acknowledged without processing it again.
    fn accept_transaction(
        &self,
        txn_id: OwnedTransactionId,
        transaction: Transaction,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;

    /// Whether `user_id` is one of our users. For a ghost in our namespace the
    /// handler first makes sure it exists, then answers `true`.
    fn query_user(
        &self,
        user_id: OwnedUserId,
    ) -> impl Future<Output = Result<bool, HandlerError>> + Send;

    /// Whether the bridge owns `alias` (and the room exists).
    fn query_room_alias(
        &self,
        alias: OwnedRoomAliasId,
    ) -> impl Future<Output = Result<bool, HandlerError>> + Send;

    /// Whether the bridge has finished starting; reported by the health endpoint.
    fn is_ready(&self) -> bool {
        true
    }
}

struct ServerState<H> {
    handler: Arc<H>,
    hs_token: String,
}

/// Builds the appservice router around `handler`.
///
/// Matrix routes (`/_matrix/app/v1/...` and the legacy unprefixed ones)
/// require the `hs_token`; `/health` does not and reveals nothing secret;
/// anything else is 404 `M_UNRECOGNIZED`.
pub fn router<H: AppserviceHandler>(settings: AppserviceSettings, handler: Arc<H>) -> Router {
    let state = Arc::new(ServerState {
        handler,
        hs_token: settings.hs_token,
    });
    let matrix = Router::new()
        .route(
            "/_matrix/app/v1/transactions/{txn_id}",
            put(put_transaction::<H>),
        )
        .route("/transactions/{txn_id}", put(put_transaction::<H>))
        .route("/_matrix/app/v1/users/{user_id}", get(get_user::<H>))
        .route("/users/{user_id}", get(get_user::<H>))
        .route("/_matrix/app/v1/rooms/{alias}", get(get_room_alias::<H>))
        .route("/rooms/{alias}", get(get_room_alias::<H>))
        .route("/_matrix/app/v1/ping", post(ping))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_hs_token::<H>,
        ));
    Router::new()
        .merge(matrix)
        .route("/health", get(health::<H>))
        .fallback(unrecognized)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets requests
/// in flight finish (a transaction being accepted is completed, not cut off).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A Matrix error response: `{"errcode": ..., "error": ...}`.
pub fn matrix_error(status: StatusCode, errcode: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "errcode": errcode, "error": message })),
    )
        .into_response()
}

/// Where the homeserver put its token, if anywhere.
fn presented_token(request: &Request) -> Option<String> {
    if let Some(value) = request.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    let query = request.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "access_token")
        .map(|(_, value)| value.into_owned())
}

/// Constant-time comparison, so response timing does not reveal how much of a
/// guessed token was right.
fn token_matches(presented: &str, expected: &str) -> bool {
    bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

async fn require_hs_token<H: AppserviceHandler>(
    State(state): State<Arc<ServerState<H>>>,
    request: Request,
    next: Next,
) -> Response {
    match presented_token(&request) {
        None => matrix_error(
            StatusCode::UNAUTHORIZED,
            "M_MISSING_TOKEN",
            "Missing homeserver token",
        ),
        Some(token) if token_matches(&token, &state.hs_token) => next.run(request).await,
        Some(_) => {
            warn!(
                path = request.uri().path(),
                "request with a wrong hs_token refused"
            );
            matrix_error(
                StatusCode::FORBIDDEN,
                "M_FORBIDDEN",
                "Invalid homeserver token",
            )
        }
    }
}

/// Why a transaction body was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON at all.
    NotJson(String),
    /// JSON, but not a transaction.
    BadJson(String),
}

/// Parses a transaction body. Pure, so malformed input is tested directly.
pub fn parse_transaction(body: &[u8]) -> Result<Transaction, BodyError> {
    let parsed: TransactionBody = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => BodyError::BadJson(e.to_string()),
        _ => BodyError::NotJson(e.to_string()),
    })?;
    // Serde also reads a struct from a JSON array of its fields in order
    // (`[[]]` would be a transaction without events); the specification's
    // transaction is an object, and anything else is the sender's mistake.
    if body.trim_ascii_start().first() != Some(&b'{') {
        return Err(BodyError::BadJson(
            "a transaction is a JSON object".to_owned(),
        ));
    }
    let ephemeral = match (parsed.ephemeral, parsed.ephemeral_msc2409) {
        (Some(stable), _) if !stable.is_empty() => stable,
        (_, Some(msc2409)) => msc2409,
        (stable, None) => stable.unwrap_or_default(),
    };
    Ok(Transaction {
        events: parsed.events,
        ephemeral,
    })
}

async fn put_transaction<H: AppserviceHandler>(
    State(state): State<Arc<ServerState<H>>>,
    txn_id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Path(txn_id) = match txn_id {
        Ok(txn_id) => txn_id,
        Err(rejection) => return path_rejection(&rejection),
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_rejection(rejection),
    };
    let transaction = match parse_transaction(&body) {
        Ok(transaction) => transaction,
        Err(BodyError::NotJson(reason)) => {
            warn!(%txn_id, %reason, "transaction body is not JSON");
            return matrix_error(StatusCode::BAD_REQUEST, "M_NOT_JSON", "Body is not JSON");
        }
        Err(BodyError::BadJson(reason)) => {
            warn!(%txn_id, %reason, "transaction body is not a transaction");
            return matrix_error(StatusCode::BAD_REQUEST, "M_BAD_JSON", &reason);
        }
    };
    debug!(
        %txn_id,
        events = transaction.events.len(),
        ephemeral = transaction.ephemeral.len(),
        "transaction received"
    );
    match state
        .handler
        .accept_transaction(txn_id.as_str().into(), transaction)
        .await
    {
        Ok(()) => (StatusCode::OK, Json(json!({}))).into_response(),
        Err(error) => {
            error!(%txn_id, %error, "transaction not accepted; the homeserver will retry");
            matrix_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "M_UNKNOWN",
                "The bridge could not store the transaction",
            )
        }
    }
}

/// A path parameter that is not text (percent-encoded bytes that are not
/// UTF-8): the sender's mistake, answered in the Matrix error format rather
/// than axum's plain-text rejection.
fn path_rejection(rejection: &PathRejection) -> Response {
    matrix_error(
        StatusCode::BAD_REQUEST,
        "M_INVALID_PARAM",
        &rejection.body_text(),
    )
}

fn body_rejection(rejection: BytesRejection) -> Response {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        matrix_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "M_TOO_LARGE",
            "Request body too large",
        )
    } else {
        matrix_error(
            StatusCode::BAD_REQUEST,
            "M_BAD_JSON",
            "Request body could not be read",
        )
    }
}

async fn get_user<H: AppserviceHandler>(
    State(state): State<Arc<ServerState<H>>>,
    user_id: Result<Path<String>, PathRejection>,
) -> Response {
    let Path(user_id) = match user_id {
        Ok(user_id) => user_id,
        Err(rejection) => return path_rejection(&rejection),
    };
    let Ok(user_id) = OwnedUserId::try_from(user_id) else {
        return not_found("No such user");
    };
    match state.handler.query_user(user_id).await {
        Ok(true) => (StatusCode::OK, Json(json!({}))).into_response(),
        Ok(false) => not_found("No such user"),
        Err(error) => {
            error!(%error, "user query failed");
            matrix_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "M_UNKNOWN",
                "User query failed",
            )
        }
    }
}

async fn get_room_alias<H: AppserviceHandler>(
    State(state): State<Arc<ServerState<H>>>,
    alias: Result<Path<String>, PathRejection>,
) -> Response {
    let Path(alias) = match alias {
        Ok(alias) => alias,
        Err(rejection) => return path_rejection(&rejection),
    };
    let Ok(alias) = OwnedRoomAliasId::try_from(alias) else {
        return not_found("No such room alias");
    };
    match state.handler.query_room_alias(alias).await {
        Ok(true) => (StatusCode::OK, Json(json!({}))).into_response(),
        Ok(false) => not_found("No such room alias"),
        Err(error) => {
            error!(%error, "room alias query failed");
            matrix_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "M_UNKNOWN",
                "Room alias query failed",
            )
        }
    }
}

/// The homeserver checking that it can reach us (`/appservice/{id}/ping`).
async fn ping() -> Response {
    (StatusCode::OK, Json(json!({}))).into_response()
}

async fn health<H: AppserviceHandler>(State(state): State<Arc<ServerState<H>>>) -> Response {
    let ready = state.handler.is_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "starting" },
        "version": env!("CARGO_PKG_VERSION"),
    });
    (status, Json(body)).into_response()
}

fn not_found(message: &str) -> Response {
    matrix_error(StatusCode::NOT_FOUND, "M_NOT_FOUND", message)
}

async fn unrecognized() -> Response {
    matrix_error(
        StatusCode::NOT_FOUND,
        "M_UNRECOGNIZED",
        "Unrecognized request",
    )
}

async fn method_not_allowed() -> Response {
    matrix_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "M_UNRECOGNIZED",
        "Method not allowed",
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    use axum::body::Body;
    use tower::ServiceExt;

    use super::*;

    const TOKEN: &str = "hs-secret-token";

    #[derive(Default)]
    struct RecordingHandler {
        accepted: Mutex<Vec<(String, usize, usize)>>,
        queries: Mutex<Vec<String>>,
        fail: AtomicBool,
    }

    impl AppserviceHandler for RecordingHandler {
        async fn accept_transaction(
            &self,
            txn_id: OwnedTransactionId,
            transaction: Transaction,
        ) -> Result<(), HandlerError> {
            if self.fail.load(Ordering::SeqCst) {
                return Err(HandlerError::new("disk full"));
            }
            self.accepted.lock().unwrap().push((
                txn_id.to_string(),
                transaction.events.len(),
                transaction.ephemeral.len(),
            ));
            Ok(())
        }

        async fn query_user(&self, user_id: OwnedUserId) -> Result<bool, HandlerError> {
            self.queries.lock().unwrap().push(user_id.to_string());
            Ok(user_id.localpart().starts_with("telegram_"))
        }

        async fn query_room_alias(&self, alias: OwnedRoomAliasId) -> Result<bool, HandlerError> {
            self.queries.lock().unwrap().push(alias.to_string());
            Ok(false)
        }

        fn is_ready(&self) -> bool {
            false
        }
    }

    fn app(handler: &Arc<RecordingHandler>) -> Router {
        router(
            AppserviceSettings {
                hs_token: TOKEN.into(),
                max_body_bytes: 4096,
            },
            handler.clone(),
        )
    }

    const TXN: &str = r#"{"events":[{"type":"m.room.message","event_id":"$e","room_id":"!r:localhost","sender":"@owner:localhost","origin_server_ts":1,"content":{"msgtype":"m.text","body":"help"}}]}"#;

    async fn call(
        app: Router,
        request: axum::http::Request<Body>,
    ) -> (StatusCode, serde_json::Value) {
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    fn put_txn(uri: &str, auth: Option<&str>, body: &str) -> axum::http::Request<Body> {
        let mut builder = axum::http::Request::put(uri).header("content-type", "application/json");
        if let Some(token) = auth {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        builder.body(Body::from(body.to_owned())).unwrap()
    }

    #[tokio::test]
    async fn accepts_a_transaction_with_the_bearer_token() {
        let handler = Arc::new(RecordingHandler::default());
        let (status, body) = call(
            app(&handler),
            put_txn("/_matrix/app/v1/transactions/t1", Some(TOKEN), TXN),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({}));
        assert_eq!(*handler.accepted.lock().unwrap(), vec![("t1".into(), 1, 0)]);
    }

    #[tokio::test]
    async fn accepts_the_legacy_path_with_the_query_token() {
        let handler = Arc::new(RecordingHandler::default());
        let uri = format!("/transactions/t%2F2?access_token={TOKEN}");
        let (status, _) = call(app(&handler), put_txn(&uri, None, TXN)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            *handler.accepted.lock().unwrap(),
            vec![("t/2".into(), 1, 0)]
        );
    }

    #[tokio::test]
    async fn missing_token_is_401_without_side_effects() {
        let handler = Arc::new(RecordingHandler::default());
        let (status, body) = call(
            app(&handler),
            put_txn("/_matrix/app/v1/transactions/t1", None, TXN),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["errcode"], "M_MISSING_TOKEN");
        assert!(handler.accepted.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn wrong_token_is_403_without_side_effects_on_every_route() {
        let handler = Arc::new(RecordingHandler::default());
        let requests = [
            put_txn("/_matrix/app/v1/transactions/t1", Some("wrong"), TXN),
            put_txn("/transactions/t1?access_token=hs-secret-tokeN", None, TXN),
            axum::http::Request::get("/_matrix/app/v1/users/@telegram_1:localhost")
                .header("authorization", "Bearer nope")
                .body(Body::empty())
                .unwrap(),
            axum::http::Request::get("/_matrix/app/v1/rooms/%23a:localhost?access_token=x")
                .body(Body::empty())
                .unwrap(),
            axum::http::Request::post("/_matrix/app/v1/ping")
                .header("authorization", "Bearer hs-secret-token-but-longer")
                .body(Body::from("{}"))
                .unwrap(),
        ];
        for request in requests {
            let uri = request.uri().to_string();
            let (status, body) = call(app(&handler), request).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
            assert_eq!(body["errcode"], "M_FORBIDDEN", "{uri}");
        }
        assert!(handler.accepted.lock().unwrap().is_empty());
        assert!(handler.queries.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn malformed_bodies_are_400_and_not_handed_on() {
        let handler = Arc::new(RecordingHandler::default());
        let cases = [
            ("{not json", "M_NOT_JSON"),
            ("", "M_NOT_JSON"),
            (r#"{"events": 5}"#, "M_BAD_JSON"),
            (r#"{"ephemeral": []}"#, "M_BAD_JSON"),
            (r#"[1,2]"#, "M_BAD_JSON"),
            // Found by tests/fuzz_transactions.rs: serde reads a struct from
            // an array of its fields, which made this a transaction.
            (r#" [[]]"#, "M_BAD_JSON"),
        ];
        for (body, errcode) in cases {
            let (status, answer) = call(
                app(&handler),
                put_txn("/_matrix/app/v1/transactions/bad", Some(TOKEN), body),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(answer["errcode"], errcode, "{body}");
        }
        assert!(handler.accepted.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn path_parameters_that_are_not_utf8_are_400_in_the_matrix_format() {
        let handler = Arc::new(RecordingHandler::default());
        let get = |uri: &str| {
            axum::http::Request::get(uri)
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap()
        };
        let requests = [
            put_txn("/_matrix/app/v1/transactions/%80", Some(TOKEN), TXN),
            get("/_matrix/app/v1/users/%FF"),
            get("/_matrix/app/v1/rooms/%C3"),
        ];
        for request in requests {
            let uri = request.uri().to_string();
            let (status, body) = call(app(&handler), request).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(body["errcode"], "M_INVALID_PARAM", "{uri}");
        }
        assert!(handler.accepted.lock().unwrap().is_empty());
        assert!(handler.queries.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn oversized_bodies_are_413() {
        let handler = Arc::new(RecordingHandler::default());
        let body = format!(r#"{{"events":[],"pad":"{}"}}"#, "x".repeat(8192));
        let (status, answer) = call(
            app(&handler),
            put_txn("/_matrix/app/v1/transactions/big", Some(TOKEN), &body),
        )
        .await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(answer["errcode"], "M_TOO_LARGE");
        assert!(handler.accepted.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn handler_failure_is_500_so_the_homeserver_retries() {
        let handler = Arc::new(RecordingHandler::default());
        handler.fail.store(true, Ordering::SeqCst);
        let (status, body) = call(
            app(&handler),
            put_txn("/_matrix/app/v1/transactions/t1", Some(TOKEN), TXN),
        )
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["errcode"], "M_UNKNOWN");
    }

    #[test]
    fn ephemeral_events_arrive_under_either_name() {
        let typing = r#"{"type":"m.typing","room_id":"!r:localhost","content":{"user_ids":[]}}"#;
        let stable = format!(r#"{{"events":[],"ephemeral":[{typing}]}}"#);
        let msc2409 = format!(r#"{{"events":[],"de.sorunome.msc2409.ephemeral":[{typing}]}}"#);
        let both = format!(
            r#"{{"events":[],"ephemeral":[{typing}],"de.sorunome.msc2409.ephemeral":[{typing}]}}"#
        );
        for body in [stable, msc2409, both] {
            let txn = parse_transaction(body.as_bytes()).unwrap();
            assert_eq!(txn.ephemeral.len(), 1, "{body}");
        }
        let none = parse_transaction(br#"{"events":[]}"#).unwrap();
        assert!(none.ephemeral.is_empty());
    }

    #[tokio::test]
    async fn user_query_answers_200_for_ghosts_and_404_otherwise() {
        let handler = Arc::new(RecordingHandler::default());
        let get = |uri: &str| {
            axum::http::Request::get(uri)
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap()
        };
        let (status, _) = call(
            app(&handler),
            get("/_matrix/app/v1/users/@telegram_42:localhost"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) =
            call(app(&handler), get("/_matrix/app/v1/users/@alice:localhost")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["errcode"], "M_NOT_FOUND");
        let (status, _) = call(app(&handler), get("/_matrix/app/v1/users/not-a-user-id")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = call(
            app(&handler),
            get("/_matrix/app/v1/rooms/%23telegram_1:localhost"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            *handler.queries.lock().unwrap(),
            vec![
                "@telegram_42:localhost",
                "@alice:localhost",
                "#telegram_1:localhost"
            ]
        );
    }

    #[tokio::test]
    async fn ping_answers_empty_object() {
        let handler = Arc::new(RecordingHandler::default());
        let request = axum::http::Request::post("/_matrix/app/v1/ping")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::from(r#"{"transaction_id":"p1"}"#))
            .unwrap();
        let (status, body) = call(app(&handler), request).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({}));
    }

    #[tokio::test]
    async fn unknown_routes_are_404_unrecognized_and_wrong_methods_405() {
        let handler = Arc::new(RecordingHandler::default());
        let request = axum::http::Request::get("/_matrix/app/v1/thirdparty/protocol/telegram")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        let (status, body) = call(app(&handler), request).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["errcode"], "M_UNRECOGNIZED");
        let request = axum::http::Request::get("/_matrix/app/v1/transactions/t1")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        let (status, body) = call(app(&handler), request).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["errcode"], "M_UNRECOGNIZED");
    }

    #[tokio::test]
    async fn health_needs_no_token_and_reveals_no_secret() {
        let handler = Arc::new(RecordingHandler::default());
        let request = axum::http::Request::get("/health")
            .body(Body::empty())
            .unwrap();
        let (status, body) = call(app(&handler), request).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "starting");
        assert!(!body.to_string().contains(TOKEN));
    }

    #[test]
    fn token_comparison_is_exact() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abc", "abd"));
        assert!(!token_matches("ab", "abc"));
        assert!(!token_matches("", "abc"));
    }
}
