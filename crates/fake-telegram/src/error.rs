//! RPC errors as Telegram reports them: a numeric code and an upper-case name.

/// An `rpc_error` the fake answers a call with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code} {name}")]
pub struct RpcError {
    /// HTTP-like code: 400 bad request, 401 unauthorized, 420 flood, 500 internal.
    pub code: i32,
    /// Telegram's error name, e.g. `PHONE_CODE_INVALID` or `FLOOD_WAIT_30`.
    pub name: String,
}

impl RpcError {
    /// An error with any code and name.
    pub fn new(code: i32, name: impl Into<String>) -> Self {
        Self {
            code,
            name: name.into(),
        }
    }

    /// `400 <name>`.
    pub fn bad_request(name: impl Into<String>) -> Self {
        Self::new(400, name)
    }

    /// `401 <name>`, e.g. `AUTH_KEY_UNREGISTERED` or `SESSION_PASSWORD_NEEDED`.
    pub fn unauthorized(name: impl Into<String>) -> Self {
        Self::new(401, name)
    }

    /// `420 FLOOD_WAIT_<seconds>`.
    pub fn flood_wait(seconds: u32) -> Self {
        Self::new(420, format!("FLOOD_WAIT_{seconds}"))
    }

    /// The loud answer to a method the fake does not implement.
    pub fn not_implemented() -> Self {
        Self::bad_request("FAKE_METHOD_NOT_IMPLEMENTED")
    }

    /// `400 PEER_ID_INVALID`: an input peer that does not exist or whose
    /// access hash is wrong for the caller.
    pub fn peer_id_invalid() -> Self {
        Self::bad_request("PEER_ID_INVALID")
    }
}
