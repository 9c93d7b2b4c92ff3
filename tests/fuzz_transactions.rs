//! Property tests of the appservice transaction endpoint
//! (`PUT /_matrix/app/v1/transactions/{txnId}`), driven through the real
//! router and the real bridge core on a real SQLite store in a temporary
//! directory. Bodies are arbitrary bytes, arbitrary JSON values and plausible
//! transactions with missing, ill-typed or huge fields; the token comes in
//! right and wrong header and query forms; transaction ids are arbitrary text.
//! The properties: no panic and no 5xx for the client's fault; a refused
//! request gets a 4xx with a Matrix error body and leaves every table of the
//! database as it was; a well-formed transaction is acknowledged and recorded
//! once. No homeserver runs: the core's client points at a closed loopback
//! port, and none of the generated input needs it.

mod fuzz_support;

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use fuzz_support::snapshot;
use grammers_session::types::PeerId;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};
use tgbridge::bridge::core::{Core, Identities};
use tgbridge::bridge::persistence::StorePersistence;
use tgbridge::matrix::appservice::{self, AppserviceSettings};
use tgbridge::matrix::{ClientSettings, MatrixClient, RetryPolicy};
use tgbridge::store::{Portal, PortalKind, Store};
use tower::ServiceExt;

const TOKEN: &str = "hs-fuzz-token";
const OWNER: &str = "@owner:localhost";
const PORTAL_ROOM: &str = "!portal:localhost";
/// Small enough that generated "huge" bodies also exercise the size limit.
const MAX_BODY: usize = 64 * 1024;
/// Bounded so the whole binary runs in seconds.
const CASES: u32 = 256;

/// The router and core of one bridge on its own database file.
struct Bridge {
    _dir: tempfile::TempDir,
    path: PathBuf,
    router: Router,
    runtime: tokio::runtime::Runtime,
}

impl Bridge {
    fn new() -> Bridge {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tgbridge.db");
        let store = Store::open(&path).expect("store");
        store
            .portals()
            .upsert(&Portal {
                peer: PeerId::user(42).expect("peer"),
                kind: PortalKind::Private,
                room_id: PORTAL_ROOM.try_into().expect("room id"),
                title: Some("portal".into()),
                avatar_photo_id: None,
                avatar_mxc: None,
                encrypted: false,
                in_space: false,
                topic: None,
            })
            .expect("portal");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        // A port that was free a moment ago: nothing answers there, so a call
        // to the homeserver would fail rather than reach another test's server.
        let port = testkit::free_port().expect("free port");
        let client = runtime.block_on(async {
            MatrixClient::new(ClientSettings {
                homeserver_url: format!("http://127.0.0.1:{port}").parse().expect("url"),
                as_token: "as-fuzz-token".into(),
                bot_user_id: "@telegrambot:localhost".try_into().expect("bot id"),
                retry: RetryPolicy::no_retry(),
            })
            .expect("client")
        });
        let core = Arc::new(Core::new(
            client,
            Arc::new(StorePersistence::new(store, None)),
            Identities {
                owner: OWNER.try_into().expect("owner id"),
                ghost_localpart_prefix: "telegram_".into(),
            },
        ));
        let router = appservice::router(
            AppserviceSettings {
                hs_token: TOKEN.into(),
                max_body_bytes: MAX_BODY,
            },
            core,
        );
        Bridge {
            _dir: dir,
            path,
            router,
            runtime,
        }
    }

    /// Sends `request` through the router: status and body bytes.
    fn call(&self, request: Request<Body>) -> (StatusCode, Vec<u8>) {
        self.runtime.block_on(async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("infallible router");
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("response body");
            (status, body.to_vec())
        })
    }

    /// Every row of every table, rendered and sorted, so two snapshots are
    /// equal exactly when the database content is.
    fn snapshot(&self) -> Vec<String> {
        snapshot(&self.path)
    }

    /// The ids of the transactions the bridge recorded as processed. The
    /// log keys each by `<id>#<hash of its events>` (a homeserver may reuse
    /// an id for new events); the hash holds no `#`, so the id is what comes
    /// before the last one.
    fn recorded_transactions(&self) -> Vec<String> {
        let db = rusqlite::Connection::open(&self.path).expect("open db");
        let mut statement = db
            .prepare("SELECT txn_id FROM appservice_txn")
            .expect("select txn ids");
        let keys = statement
            .query_map([], |row| row.get::<_, String>(0))
            .expect("query txn ids")
            .collect::<Result<Vec<_>, _>>()
            .expect("txn ids");
        keys.into_iter()
            .map(|key| match key.rsplit_once('#') {
                Some((id, _hash)) => id.to_owned(),
                None => key,
            })
            .collect()
    }
}

fn put(uri: &str, authorization: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut builder = Request::put(uri).header("content-type", "application/json");
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    builder.body(Body::from(body)).expect("request")
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// Percent-encodes every byte outside the unreserved set, so any text becomes
/// one path segment.
fn segment(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

/// Whether the server must accept `body` as a transaction: a JSON object with
/// an `events` array, and ephemeral lists that are absent, null or arrays.
/// Individual events may be anything: one the bridge cannot read must not make
/// the homeserver retry the whole transaction forever.
fn is_transaction(body: &[u8]) -> bool {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let list_or_absent =
        |key: &str| matches!(object.get(key), None | Some(Value::Null | Value::Array(_)));
    matches!(object.get("events"), Some(Value::Array(_)))
        && list_or_absent("ephemeral")
        && list_or_absent("de.sorunome.msc2409.ephemeral")
}

/// Checks the answer to a request the server should refuse: a 4xx with a
/// Matrix error body, and not one row of the database changed.
fn assert_refused(
    bridge: &Bridge,
    before: &[String],
    status: StatusCode,
    body: &[u8],
) -> Result<(), TestCaseError> {
    prop_assert!(status.is_client_error(), "status {status}");
    let answer: Value = serde_json::from_slice(body).map_err(|error| {
        TestCaseError::fail(format!(
            "{status} answer is not JSON ({error}): {:?}",
            String::from_utf8_lossy(body)
        ))
    })?;
    prop_assert!(
        answer["errcode"]
            .as_str()
            .is_some_and(|c| c.starts_with("M_")),
        "no errcode in {answer}"
    );
    prop_assert!(answer["error"].is_string(), "no error text in {answer}");
    prop_assert_eq!(
        bridge.snapshot(),
        before.to_vec(),
        "a refused request changed the database"
    );
    Ok(())
}

/// Arbitrary JSON, nested up to a few levels, with long strings now and then.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,24}".prop_map(Value::String),
        (0usize..20_000).prop_map(|n| Value::String("x".repeat(n))),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("events".to_owned()),
                    Just("ephemeral".to_owned()),
                    Just("de.sorunome.msc2409.ephemeral".to_owned()),
                    Just("type".to_owned()),
                    Just("content".to_owned()),
                    ".{0,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A field of an event: right, missing, of the wrong type, or huge.
fn field(right: Value) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        4 => Just(Some(right)),
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        1 => Just(Some(json!(17))),
        1 => Just(Some(json!(["a", {"b": []}]))),
        1 => (1usize..40_000).prop_map(|n| Some(Value::String("é".repeat(n)))),
        1 => ".{0,16}".prop_map(|s| Some(Value::String(s))),
    ]
}

/// An event shaped like the owner's message in a portal room, with each
/// field possibly wrong. Bodies never read as commands, so nothing generated
/// here makes the core answer through the homeserver.
fn plausible_event() -> impl Strategy<Value = Value> {
    let content = (field(json!("m.text")), field(json!("hello")), ".{0,40}").prop_map(
        |(msgtype, body, text)| {
            let mut content = serde_json::Map::new();
            if let Some(msgtype) = msgtype {
                content.insert("msgtype".into(), msgtype);
            }
            if let Some(body) = body {
                let body = match body {
                    Value::String(_) => Value::String(format!("hello {text}")),
                    other => other,
                };
                content.insert("body".into(), body);
            }
            Value::Object(content)
        },
    );
    (
        field(json!("m.room.message")),
        field(json!("$event")),
        field(json!(PORTAL_ROOM)),
        field(json!(OWNER)),
        field(json!(1_700_000_000_000u64)),
        field(Value::Null),
        content,
        0u32..1_000_000,
    )
        .prop_map(|(kind, event_id, room, sender, ts, unsigned, content, n)| {
            let mut event = serde_json::Map::new();
            let mut put = |key: &str, value: Option<Value>| {
                if let Some(value) = value {
                    event.insert(key.into(), value);
                }
            };
            put("type", kind);
            // Distinct ids, so the outbox check below can tell events apart.
            put(
                "event_id",
                event_id.map(|id| match id {
                    Value::String(id) if id == "$event" => Value::String(format!("$event{n}")),
                    other => other,
                }),
            );
            put("room_id", room);
            put("sender", sender);
            put("origin_server_ts", ts);
            put("unsigned", unsigned.map(|_| json!({})));
            put("content", Some(content));
            Value::Object(event)
        })
}

/// A transaction of plausible events, with its top level possibly wrong.
fn plausible_transaction() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(plausible_event(), 0..5),
        field(json!([])),
        any::<bool>(),
    )
        .prop_map(|(events, ephemeral, events_as_object)| {
            let mut txn = serde_json::Map::new();
            txn.insert(
                "events".into(),
                if events_as_object {
                    json!({ "0": events })
                } else {
                    Value::Array(events)
                },
            );
            if let Some(ephemeral) = ephemeral {
                txn.insert("ephemeral".into(), ephemeral);
            }
            Value::Object(txn)
        })
}

/// Sends `body` as transaction `txn_id` with the right token and checks the
/// answer against [`is_transaction`].
fn check_body(bridge: &Bridge, txn_id: &str, body: Vec<u8>) -> Result<(), TestCaseError> {
    check_body_with(bridge, txn_id, body, false)
}

/// `body` as a stream of `chunk`-byte pieces without a known length, as a
/// chunked upload arrives: the size limit must hold without a
/// `Content-Length` to check up front.
fn streamed(body: Vec<u8>, chunk: usize) -> Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(chunk.max(1)).map(|c| Ok(c.to_vec())).collect();
    Body::from_stream(futures_util::stream::iter(chunks))
}

/// Like [`check_body`]; with `parser_may_refuse`, a transaction the JSON
/// parser cannot take (nesting past its recursion limit) may also be refused
/// with a 400, as long as the refusal is clean.
fn check_body_with(
    bridge: &Bridge,
    txn_id: &str,
    body: Vec<u8>,
    parser_may_refuse: bool,
) -> Result<(), TestCaseError> {
    let before = bridge.snapshot();
    let uri = format!("/_matrix/app/v1/transactions/{}", segment(txn_id));
    let too_large = body.len() > MAX_BODY;
    let (status, answer) = bridge.call(put(&uri, Some(&bearer()), body.clone()));
    let well_formed = if parser_may_refuse && !too_large {
        status == StatusCode::OK
    } else {
        !too_large && is_transaction(&body)
    };
    if well_formed {
        prop_assert_eq!(
            status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&answer)
        );
        prop_assert_eq!(
            serde_json::from_slice::<Value>(&answer).ok(),
            Some(json!({}))
        );
        prop_assert!(bridge.recorded_transactions().contains(&txn_id.to_owned()));
        // Whatever reached the outbox came from this transaction.
        // (Null where the test's own parser stops at its depth limit: then
        // no row may be new.)
        let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let after = bridge.snapshot();
        for row in after.iter().filter(|row| row.starts_with("outbox:")) {
            if !before.contains(row) {
                prop_assert!(
                    sent["events"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|event| event["event_id"]
                            .as_str()
                            .is_some_and(|id| row.contains(id))),
                    "unexpected outbox row {row}"
                );
            }
        }
        // The same transaction again is acknowledged and changes nothing.
        let (status, _) = bridge.call(put(&uri, Some(&bearer()), body));
        prop_assert_eq!(status, StatusCode::OK);
        prop_assert_eq!(bridge.snapshot(), after);
    } else {
        assert_refused(bridge, &before, status, &answer)?;
        if too_large {
            prop_assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        } else {
            prop_assert_eq!(status, StatusCode::BAD_REQUEST);
        }
    }
    Ok(())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        // Shrinking reruns the case many times; a few hundred steps find a
        // small example without making a failing run take minutes.
        max_shrink_iters: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn txn_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._-]{1,32}",
        ".{1,40}",
        (1usize..5_000).prop_map(|n| "t".repeat(n)),
    ]
}

#[test]
fn arbitrary_bytes_are_refused_without_storing_anything() {
    let bridge = Bridge::new();
    proptest!(config(), |(body in prop::collection::vec(any::<u8>(), 0..2_048), id in txn_id())| {
        check_body(&bridge, &id, body)?;
    });
}

#[test]
fn arbitrary_json_is_acknowledged_only_when_it_is_a_transaction() {
    let bridge = Bridge::new();
    // Half the values are objects with an `events` array of arbitrary JSON,
    // so acknowledged transactions get exercised as much as refused ones.
    let value = prop_oneof![
        json_value(),
        (
            prop::collection::vec(json_value(), 0..4),
            prop::collection::btree_map(".{0,12}", json_value(), 0..3),
        )
            .prop_map(|(events, extra)| {
                let mut object: serde_json::Map<String, Value> = extra.into_iter().collect();
                object.insert("events".into(), Value::Array(events));
                Value::Object(object)
            }),
    ];
    proptest!(config(), |(value in value, id in txn_id())| {
        check_body(&bridge, &id, serde_json::to_vec(&value).expect("serialize"))?;
    });
}

#[test]
fn plausible_but_wrong_transactions_never_fail_the_server() {
    let bridge = Bridge::new();
    proptest!(config(), |(value in plausible_transaction(), id in txn_id())| {
        check_body(&bridge, &id, serde_json::to_vec(&value).expect("serialize"))?;
    });
}

#[test]
fn streamed_bodies_are_judged_like_whole_ones() {
    let bridge = Bridge::new();
    let body = prop_oneof![
        plausible_transaction().prop_map(|v| serde_json::to_vec(&v).expect("serialize")),
        prop::collection::vec(any::<u8>(), 0..512),
    ];
    proptest!(config(), |(body in body, chunk in 1usize..70_000, id in "[a-z0-9]{1,24}")| {
        let before = bridge.snapshot();
        let uri = format!("/_matrix/app/v1/transactions/s{id}");
        let request = Request::put(&uri)
            .header("authorization", bearer())
            .body(streamed(body.clone(), chunk))
            .expect("request");
        let (status, answer) = bridge.call(request);
        if body.len() > MAX_BODY {
            assert_refused(&bridge, &before, status, &answer)?;
            prop_assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        } else if is_transaction(&body) {
            prop_assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&answer));
            let txn_id = format!("s{id}");
            prop_assert!(bridge.recorded_transactions().contains(&txn_id));
        } else {
            assert_refused(&bridge, &before, status, &answer)?;
            prop_assert_eq!(status, StatusCode::BAD_REQUEST);
        }
    });
}

#[test]
fn deep_nesting_is_refused_or_accepted_without_overflowing_the_stack() {
    let bridge = Bridge::new();
    proptest!(config(), |(depth in 1usize..40_000, inside_event in any::<bool>(), id in txn_id())| {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        if inside_event {
            // Valid JSON and a transaction; only its one event is unreadable.
            let body = format!(r#"{{"events":[{{"type":"m.room.message","content":{nested}}}]}}"#);
            check_body_with(&bridge, &id, body.into_bytes(), depth > 100)?;
        } else {
            check_body(&bridge, &id, nested.into_bytes())?;
        }
    });
}

/// How a client may present the token, and whether the server must take it.
fn authorization() -> impl Strategy<Value = (Option<String>, Option<String>, bool)> {
    let scheme = prop_oneof![
        Just("Bearer"),
        Just("bearer"),
        Just("BEARER"),
        Just("Basic"),
        Just("Token"),
        Just(""),
    ];
    let separator = prop_oneof![Just(" "), Just("  "), Just("")];
    let token = prop_oneof![
        Just(TOKEN.to_owned()),
        Just(format!("{TOKEN}x")),
        Just(TOKEN[..TOKEN.len() - 1].to_owned()),
        Just(TOKEN.to_uppercase()),
        Just(String::new()),
        "[ -~]{0,40}",
    ];
    let query = prop_oneof![
        Just(None),
        Just(Some(TOKEN.to_owned())),
        "[ -~]{0,20}".prop_map(Some),
    ];
    (prop::option::of((scheme, separator, token)), query).prop_map(|(header, query)| {
        let header = header.map(|(scheme, separator, token)| format!("{scheme}{separator}{token}"));
        // The header wins when present: "Bearer" in any case, a space, the
        // token (surrounding spaces aside).
        let accepted = match &header {
            Some(value) => {
                value
                    .get(..7)
                    .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "))
                    && value[7..].trim() == TOKEN
            }
            None => query.as_deref() == Some(TOKEN),
        };
        (header, query, accepted)
    })
}

#[test]
fn only_the_right_token_in_a_right_form_is_let_in() {
    let bridge = Bridge::new();
    let body = br#"{"events":[]}"#.to_vec();
    proptest!(config(), |((header, query, accepted) in authorization(), id in "[a-z0-9]{1,16}")| {
        let before = bridge.snapshot();
        let mut uri = format!("/_matrix/app/v1/transactions/{id}");
        if let Some(query) = &query {
            uri.push_str(&format!("?access_token={}", segment(query)));
        }
        let (status, answer) = bridge.call(put(&uri, header.as_deref(), body.clone()));
        if accepted {
            prop_assert_eq!(status, StatusCode::OK);
        } else {
            assert_refused(&bridge, &before, status, &answer)?;
            prop_assert!(
                status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN,
                "status {status}"
            );
        }
    });
}

#[test]
fn header_bytes_outside_ascii_are_refused() {
    let bridge = Bridge::new();
    proptest!(config(), |(bytes in prop::collection::vec(any::<u8>(), 0..64))| {
        let before = bridge.snapshot();
        let Ok(value) = axum::http::HeaderValue::from_bytes(&bytes) else {
            return Ok(());
        };
        let request = Request::put("/_matrix/app/v1/transactions/h")
            .header("authorization", value)
            .body(Body::from(r#"{"events":[]}"#))
            .expect("request");
        let (status, answer) = bridge.call(request);
        let right = std::str::from_utf8(&bytes).is_ok_and(|value| {
            value.get(..7).is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer "))
                && value[7..].trim() == TOKEN
        });
        if right {
            prop_assert_eq!(status, StatusCode::OK);
        } else {
            assert_refused(&bridge, &before, status, &answer)?;
        }
    });
}

#[test]
fn odd_transaction_ids_are_recorded_as_sent_or_refused_cleanly() {
    let bridge = Bridge::new();
    proptest!(config(), |(raw in prop::collection::vec(any::<u8>(), 1..64))| {
        // Arbitrary bytes, percent-encoded: not every id is UTF-8.
        let encoded: String = raw.iter().map(|b| format!("%{b:02X}")).collect();
        let uri = format!("/_matrix/app/v1/transactions/{encoded}");
        let before = bridge.snapshot();
        let (status, answer) = bridge.call(put(&uri, Some(&bearer()), br#"{"events":[]}"#.to_vec()));
        match String::from_utf8(raw) {
            Ok(id) => {
                prop_assert_eq!(status, StatusCode::OK);
                prop_assert!(bridge.recorded_transactions().contains(&id));
            }
            Err(_) => {
                assert_refused(&bridge, &before, status, &answer)?;
                prop_assert_eq!(status, StatusCode::BAD_REQUEST);
            }
        }
    });
}

#[test]
fn a_well_formed_transaction_queues_the_owners_portal_message() {
    let bridge = Bridge::new();
    let body = json!({"events": [{
        "type": "m.room.message",
        "event_id": "$queued",
        "room_id": PORTAL_ROOM,
        "sender": OWNER,
        "origin_server_ts": 1_700_000_000_000u64,
        "content": {"msgtype": "m.text", "body": "hello"},
    }]});
    let (status, _) = bridge.call(put(
        "/_matrix/app/v1/transactions/ok1",
        Some(&bearer()),
        serde_json::to_vec(&body).expect("serialize"),
    ));
    assert_eq!(status, StatusCode::OK);
    let snapshot = bridge.snapshot();
    assert!(
        snapshot
            .iter()
            .any(|row| row.starts_with("outbox:") && row.contains("$queued")),
        "{snapshot:#?}"
    );
    assert_eq!(bridge.recorded_transactions(), vec!["ok1".to_owned()]);
}
