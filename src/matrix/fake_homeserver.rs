//! A scripted homeserver for unit tests, served over real HTTP on a local
//! port so [`MatrixClient`](super::MatrixClient) is exercised unchanged: it
//! records every request and answers from a script. It owns nothing of the
//! bridge and knows no endpoint by itself; the end-to-end tests use a real
//! Synapse and Conduit instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// One request the fake homeserver received.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// `GET`, `PUT`, …
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The query string, if the request had one.
    pub query: Option<String>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The JSON body (`Null` when there was none or it was not JSON).
    pub body: Value,
}

/// A status and body to answer with.
type Answer = (u16, String);

/// The homeserver stand-in. Exact-path scripts are looked up first (a queue
/// whose last answer repeats), then the first rule whose fragment the path
/// contains; anything else is `404 M_UNRECOGNIZED`.
#[derive(Default)]
pub(crate) struct FakeHomeserver {
    seen: Mutex<Vec<Seen>>,
    script: Mutex<HashMap<String, Vec<Answer>>>,
    rules: Mutex<Vec<(String, Answer)>>,
}

impl FakeHomeserver {
    /// A fake listening on a free local port: the fake and its port.
    pub async fn start() -> (Arc<FakeHomeserver>, u16) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free local port");
        let port = listener.local_addr().expect("a bound listener").port();
        let fake = Arc::new(FakeHomeserver::default());
        tokio::spawn(fake.clone().serve(listener));
        (fake, port)
    }

    /// Serves requests on `listener` until the test ends.
    pub async fn serve(self: Arc<Self>, listener: tokio::net::TcpListener) {
        let app = axum::Router::new().fallback(move |request: Request| {
            let fake = self.clone();
            async move { fake.respond(request).await }
        });
        axum::serve(listener, app).await.expect("the fake serves");
    }

    /// Answers requests to exactly `path` with `answers` in turn; the last
    /// one repeats.
    pub fn answer(&self, path: &str, answers: &[(u16, &str)]) {
        self.script.lock().unwrap().insert(
            path.to_owned(),
            answers.iter().map(|(s, b)| (*s, (*b).to_owned())).collect(),
        );
    }

    /// Answers every request whose path contains `fragment` (and has no
    /// exact-path script) with `status` and `body`, replacing an earlier
    /// rule for the same fragment.
    pub fn answer_containing(&self, fragment: &str, status: u16, body: Value) {
        let mut rules = self.rules.lock().unwrap();
        let answer = (status, body.to_string());
        match rules.iter_mut().find(|(f, _)| f == fragment) {
            Some(rule) => rule.1 = answer,
            None => rules.push((fragment.to_owned(), answer)),
        }
    }

    /// Every request received so far, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests went to exactly `path`.
    pub fn calls(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .count()
    }

    /// The requests with `method` whose path contains `fragment`.
    pub fn requests(&self, method: &str, fragment: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.method == method && s.path.contains(fragment))
            .cloned()
            .collect()
    }

    async fn respond(&self, request: Request) -> Response {
        let method = request.method().to_string();
        let path = request.uri().path().to_owned();
        let query = request.uri().query().map(str::to_owned);
        let authorization = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let answer = self.answer_for(&path);
        self.seen.lock().unwrap().push(Seen {
            method,
            path,
            query,
            authorization,
            body,
        });
        let (status, body) = answer;
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, body).into_response()
    }

    fn answer_for(&self, path: &str) -> Answer {
        let mut script = self.script.lock().unwrap();
        if let Some(queue) = script.get_mut(path) {
            if queue.len() > 1 {
                return queue.remove(0);
            }
            if let Some(last) = queue.first() {
                return last.clone();
            }
        }
        self.rules
            .lock()
            .unwrap()
            .iter()
            .find(|(fragment, _)| path.contains(fragment.as_str()))
            .map(|(_, answer)| answer.clone())
            .unwrap_or((404, r#"{"errcode":"M_UNRECOGNIZED"}"#.to_owned()))
    }
}
