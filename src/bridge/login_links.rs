//! One-time web-login links and the browser sessions they open. Pure
//! bookkeeping with the clock passed in, so expiry is testable without
//! waiting: it never does I/O, never logs, and knows nothing of Telegram.
//!
//! A link is only *opened* by a GET (link previews and prefetchers must not
//! burn it); the "Continue" POST *redeems* it once and turns it into a browser
//! session identified by a cookie, with its own CSRF token for every form.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::RngCore as _;

/// How long a link works after it was handed out, by default.
pub const DEFAULT_LINK_TTL: Duration = Duration::from_secs(15 * 60);

/// Form submissions one browser session may make before it is refused.
pub const MAX_SUBMISSIONS: u32 = 12;

/// Why a link or a session cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Never issued (or forgotten after a restart or a cancel).
    #[error("This login link is not valid. Send `login` to the bridge bot for a new one.")]
    Unknown,
    /// Issued, but older than its lifetime.
    #[error("This login link has expired. Send `login` to the bridge bot for a new one.")]
    Expired,
    /// Already redeemed once.
    #[error("This login link was already used. Each link works once; send `login` to the bridge bot for a new one.")]
    Used,
    /// The form did not carry the token this page was rendered with.
    #[error("The form was not accepted (its security token does not match). Reload the page and try again.")]
    BadCsrf,
    /// Too many form submissions in this session.
    #[error("Too many attempts from this page. Send `login` to the bridge bot to start again.")]
    TooManyAttempts,
}

struct Link {
    expires: Instant,
    used: bool,
    /// The token the "Continue" form of this link must carry.
    csrf: String,
}

struct Session {
    expires: Instant,
    csrf: String,
    submissions: u32,
}

/// The links handed out and the sessions opened from them.
pub struct WebLinks {
    ttl: Duration,
    links: HashMap<String, Link>,
    sessions: HashMap<String, Session>,
}

/// A redeemed link: the cookie value and the CSRF token of its forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedSession {
    /// Goes into the session cookie.
    pub id: String,
    /// Goes into every form of the session.
    pub csrf: String,
}

impl WebLinks {
    /// An empty registry whose links live for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            links: HashMap::new(),
            sessions: HashMap::new(),
        }
    }

    /// Hands out a new link token.
    pub fn issue(&mut self, now: Instant) -> String {
        self.forget_stale(now);
        let token = random_token();
        self.links.insert(
            token.clone(),
            Link {
                expires: now + self.ttl,
                used: false,
                csrf: random_token(),
            },
        );
        token
    }

    /// Checks a link before showing its "Continue" page; returns the CSRF
    /// token that page's form must carry. Does not use the link up.
    pub fn open(&self, token: &str, now: Instant) -> Result<String, Refusal> {
        let link = self.usable_link(token, now)?;
        Ok(link.csrf.clone())
    }

    /// Uses the link up and opens a browser session for it.
    pub fn redeem(
        &mut self,
        token: &str,
        csrf: &str,
        now: Instant,
    ) -> Result<OpenedSession, Refusal> {
        let link = self.usable_link(token, now)?;
        if !same(&link.csrf, csrf) {
            return Err(Refusal::BadCsrf);
        }
        if let Some(link) = self.links.get_mut(token) {
            link.used = true;
        }
        let opened = OpenedSession {
            id: random_token(),
            csrf: random_token(),
        };
        self.sessions.insert(
            opened.id.clone(),
            Session {
                expires: now + self.ttl,
                csrf: opened.csrf.clone(),
                submissions: 0,
            },
        );
        Ok(opened)
    }

    /// The CSRF token of a live session, for rendering its forms.
    pub fn session_csrf(&self, id: &str, now: Instant) -> Result<String, Refusal> {
        let session = self.sessions.get(id).ok_or(Refusal::Unknown)?;
        if now >= session.expires {
            return Err(Refusal::Expired);
        }
        Ok(session.csrf.clone())
    }

    /// Accounts one form submission of a session; refuses a wrong CSRF token,
    /// an expired session and too many submissions.
    pub fn submit(&mut self, id: &str, csrf: &str, now: Instant) -> Result<(), Refusal> {
        let session = self.sessions.get_mut(id).ok_or(Refusal::Unknown)?;
        if now >= session.expires {
            return Err(Refusal::Expired);
        }
        if !same(&session.csrf, csrf) {
            return Err(Refusal::BadCsrf);
        }
        if session.submissions >= MAX_SUBMISSIONS {
            return Err(Refusal::TooManyAttempts);
        }
        session.submissions += 1;
        Ok(())
    }

    /// Ends every session and unused link (the login they belonged to
    /// ended); used links are kept so reopening one still says why it fails.
    pub fn revoke_all(&mut self) {
        self.links.retain(|_, link| link.used);
        self.sessions.clear();
    }

    fn usable_link(&self, token: &str, now: Instant) -> Result<&Link, Refusal> {
        let link = self.links.get(token).ok_or(Refusal::Unknown)?;
        if link.used {
            Err(Refusal::Used)
        } else if now >= link.expires {
            Err(Refusal::Expired)
        } else {
            Ok(link)
        }
    }

    /// Drops entries long past their expiry; used and expired links are kept
    /// for one more lifetime so their pages can still say why they fail.
    fn forget_stale(&mut self, now: Instant) {
        let ttl = self.ttl;
        self.links.retain(|_, link| link.expires + ttl > now);
        self.sessions.retain(|_, session| session.expires > now);
    }
}

/// 256 random bits, base64url: unguessable and safe in a path or a cookie.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Constant-time comparison, so timing does not reveal a partial match.
fn same(expected: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(900);

    #[test]
    fn a_link_opens_many_times_but_redeems_once() {
        let mut links = WebLinks::new(TTL);
        let now = Instant::now();
        let token = links.issue(now);
        let csrf = links.open(&token, now).unwrap();
        assert_eq!(
            links.open(&token, now).unwrap(),
            csrf,
            "opening is harmless"
        );
        let session = links.redeem(&token, &csrf, now).unwrap();
        assert_ne!(session.id, token);
        assert_eq!(links.open(&token, now), Err(Refusal::Used));
        assert_eq!(links.redeem(&token, &csrf, now), Err(Refusal::Used));
        assert_eq!(links.session_csrf(&session.id, now).unwrap(), session.csrf);
    }

    #[test]
    fn links_expire_after_their_lifetime() {
        let mut links = WebLinks::new(TTL);
        let now = Instant::now();
        let token = links.issue(now);
        let csrf = links
            .open(&token, now + TTL - Duration::from_secs(1))
            .unwrap();
        assert_eq!(links.open(&token, now + TTL), Err(Refusal::Expired));
        assert_eq!(
            links.redeem(&token, &csrf, now + TTL),
            Err(Refusal::Expired)
        );
        assert_eq!(links.open("made-up", now), Err(Refusal::Unknown));
    }

    #[test]
    fn forms_need_the_sessions_csrf_token_and_are_limited() {
        let mut links = WebLinks::new(TTL);
        let now = Instant::now();
        let token = links.issue(now);
        let csrf = links.open(&token, now).unwrap();
        assert_eq!(links.redeem(&token, "wrong", now), Err(Refusal::BadCsrf));
        let session = links.redeem(&token, &csrf, now).unwrap();
        assert_eq!(
            links.submit(&session.id, &csrf, now),
            Err(Refusal::BadCsrf),
            "the link's token is not the session's"
        );
        for _ in 0..MAX_SUBMISSIONS {
            links.submit(&session.id, &session.csrf, now).unwrap();
        }
        assert_eq!(
            links.submit(&session.id, &session.csrf, now),
            Err(Refusal::TooManyAttempts)
        );
        assert_eq!(
            links.submit(&session.id, &session.csrf, now + TTL),
            Err(Refusal::Expired)
        );
        let unused = links.issue(now);
        links.revoke_all();
        assert_eq!(links.session_csrf(&session.id, now), Err(Refusal::Unknown));
        assert_eq!(links.open(&token, now), Err(Refusal::Used));
        assert_eq!(links.open(&unused, now), Err(Refusal::Unknown));
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let mut links = WebLinks::new(TTL);
        let now = Instant::now();
        let a = links.issue(now);
        let b = links.issue(now);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}
