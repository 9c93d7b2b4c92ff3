//! The optional web-login page served by the bridge itself (server-rendered,
//! works without JavaScript). It drives the shared login flow through the
//! [`LoginHub`] and never echoes a secret back into a page or a URL, never
//! logs a request path (the one-time token is in it), and never touches the
//! store or the homeserver itself.
//!
//! `GET /login/{token}` shows a "Continue" button; its POST uses the link up
//! and opens a browser session (an `HttpOnly`, `SameSite=Strict` cookie).
//! `GET /login` shows the step the login waits for; its forms POST there.

pub mod page;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};

use crate::bridge::login::{Awaiting, LoginHub, Outcome, WebInput};
use crate::bridge::login_links::Refusal;
use page::Page;

/// Name of the browser-session cookie.
const COOKIE: &str = "tgbridge_login";

struct WebState {
    hub: Arc<LoginHub>,
    /// Whether the page is served over HTTPS (cookie gets `Secure`).
    secure: bool,
}

/// The web-login routes, to merge into the appservice server's router.
pub fn router(hub: Arc<LoginHub>, secure_cookie: bool) -> Router {
    let state = Arc::new(WebState {
        hub,
        secure: secure_cookie,
    });
    Router::new()
        .route("/login/{token}", get(open_link).post(redeem_link))
        .route("/login", get(show_step).post(submit_step))
        .with_state(state)
}

async fn open_link(
    State(web): State<Arc<WebState>>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let Path(token) = match token {
        Ok(token) => token,
        Err(rejection) => return not_understood(rejection.status()),
    };
    match web.hub.web_open(&token) {
        Ok(csrf) => html(StatusCode::OK, &Page::Continue { csrf: &csrf }),
        Err(refusal) => refused(refusal),
    }
}

async fn redeem_link(
    State(web): State<Arc<WebState>>,
    token: Result<Path<String>, PathRejection>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let (Path(token), Form(form)) = match (token, form) {
        (Ok(token), Ok(form)) => (token, form),
        (Err(rejection), _) => return not_understood(rejection.status()),
        (_, Err(rejection)) => return not_understood(rejection.status()),
    };
    let csrf = form.get("csrf").map(String::as_str).unwrap_or_default();
    match web.hub.web_redeem(&token, csrf) {
        Ok(session) => {
            let secure = if web.secure { "; Secure" } else { "" };
            let cookie = format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
                session.id,
                web.hub.link_ttl().as_secs()
            );
            let mut response = (StatusCode::SEE_OTHER, "").into_response();
            let headers = response.headers_mut();
            // Relative, so the page also works behind a path prefix.
            headers.insert(header::LOCATION, HeaderValue::from_static("../login"));
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                headers.insert(header::SET_COOKIE, value);
            }
            protect(headers);
            response
        }
        Err(refusal) => refused(refusal),
    }
}

async fn show_step(State(web): State<Arc<WebState>>, headers: HeaderMap) -> Response {
    let Some(session) = session_cookie(&headers) else {
        return refused(Refusal::Unknown);
    };
    let csrf = match web.hub.web_session(&session) {
        Ok(csrf) => csrf,
        Err(refusal) => return refused(refusal),
    };
    match web.hub.web_waiting().await {
        Some(awaiting) => step_page(&awaiting, &csrf, None),
        None => no_login(),
    }
}

async fn submit_step(
    State(web): State<Arc<WebState>>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let Form(form) = match form {
        Ok(form) => form,
        Err(rejection) => return not_understood(rejection.status()),
    };
    let Some(session) = session_cookie(&headers) else {
        return refused(Refusal::Unknown);
    };
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    let input = match field("step").as_str() {
        "phone" => WebInput::Phone(field("value")),
        "bot_token" => WebInput::BotToken(field("value")),
        "code" => WebInput::Code(field("value")),
        "password" => WebInput::Password(field("value")),
        _ => return not_understood(StatusCode::BAD_REQUEST),
    };
    let outcome = match web.hub.web_submit(&session, &field("csrf"), input).await {
        Ok(Some(outcome)) => outcome,
        Ok(None) => return no_login(),
        Err(refusal) => return refused(refusal),
    };
    let csrf = web.hub.web_session(&session).unwrap_or_default();
    match outcome {
        Outcome::Waiting(awaiting) => step_page(&awaiting, &csrf, None),
        Outcome::Retry(error, awaiting) => step_page(&awaiting, &csrf, Some(&error.to_string())),
        Outcome::Ended(error) => message(
            StatusCode::OK,
            "Login stopped",
            &format!("{error} Nothing was saved; send `login` to the bridge bot to start again."),
        ),
        Outcome::LoggedIn(account) => message(
            StatusCode::OK,
            "Logged in",
            &format!(
                "The bridge is now logged into Telegram as {account}. You can close this page."
            ),
        ),
    }
}

fn step_page(awaiting: &Awaiting, csrf: &str, error: Option<&str>) -> Response {
    html(
        StatusCode::OK,
        &Page::Step {
            awaiting,
            csrf,
            error,
        },
    )
}

/// A request the page never sends (a path that is not text, a body that is
/// not a form, a form without a known step): answered with the page's own
/// 4xx page and headers, under the status the refusal carries.
fn not_understood(status: StatusCode) -> Response {
    message(
        status,
        "Not understood",
        "The form was not understood. Reload the page.",
    )
}

fn no_login() -> Response {
    message(
        StatusCode::GONE,
        "No login in progress",
        "There is no login in progress any more (it was cancelled or finished). Send `login` to the bridge bot to start again.",
    )
}

fn refused(refusal: Refusal) -> Response {
    let (status, title) = match refusal {
        Refusal::Unknown => (StatusCode::NOT_FOUND, "Link not valid"),
        Refusal::Expired => (StatusCode::GONE, "Link expired"),
        Refusal::Used => (StatusCode::GONE, "Link already used"),
        Refusal::BadCsrf => (StatusCode::FORBIDDEN, "Form refused"),
        Refusal::TooManyAttempts => (StatusCode::TOO_MANY_REQUESTS, "Too many attempts"),
    };
    message(status, title, &refusal.to_string())
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
    html(status, &Page::Message { title, text })
}

fn html(status: StatusCode, page: &Page<'_>) -> Response {
    let mut response = (status, page::render(page)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    protect(headers);
    response
}

/// Headers that keep the page out of caches, frames and other sites' reach,
/// and the token-bearing URL out of `Referer` headers.
fn protect(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
}

/// The browser session from the `Cookie` header.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then(|| value.to_owned())
        })
}
