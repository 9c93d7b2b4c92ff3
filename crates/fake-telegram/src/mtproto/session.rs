//! The MTProto session layer as the server sees it: the plaintext envelope
//! (salt, session id, msg_id, seq_no), containers and `gzip_packed` on the way
//! in, server msg_ids and seq_nos on the way out, and the service messages
//! (`rpc_result`, `pong`, `future_salts`). Pure code over bytes: no sockets, no
//! API semantics.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use grammers_tl_types::{self as tl, Cursor, Deserializable, Identifiable, Serializable};

use crate::RpcError;

/// `msg_container#73f1f8dc messages:vector<%Message> = MessageContainer`.
pub const MSG_CONTAINER: u32 = 0x73f1_f8dc;
/// `gzip_packed#3072cfa1 packed_data:bytes = Object`.
pub const GZIP_PACKED: u32 = 0x3072_cfa1;
/// `rpc_result#f35c6d01 req_msg_id:long result:Object = RpcResult`.
pub const RPC_RESULT: u32 = 0xf35c_6d01;

/// Decompressed objects larger than this are refused.
const MAX_UNPACKED_LEN: u64 = 16 * 1024 * 1024;
/// Containers nest at most this deep (the client never nests them at all).
const MAX_NESTING: usize = 4;

/// Why a decrypted packet could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Too short, misaligned or otherwise not a valid message.
    #[error("truncated or malformed message: {0}")]
    Malformed(String),
    /// A `gzip_packed` whose data is not gzip.
    #[error("gzip_packed payload does not decompress")]
    BadGzip,
}

impl From<tl::deserialize::Error> for SessionError {
    fn from(e: tl::deserialize::Error) -> Self {
        Self::Malformed(e.to_string())
    }
}

/// One message of the session: `msg_id ‖ seq_no ‖ body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The sender's message id; answers refer to it as `req_msg_id`.
    pub msg_id: i64,
    /// Odd for content-related messages.
    pub seq_no: i32,
    /// The serialized object, constructor id first.
    pub body: Vec<u8>,
}

impl Message {
    /// The constructor id at the start of the body.
    pub fn constructor_id(&self) -> Option<u32> {
        constructor_id(&self.body)
    }
}

/// The constructor id at the start of a serialized object.
pub fn constructor_id(body: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(body.get(..4)?.try_into().ok()?))
}

/// A decrypted packet: the envelope plus its (possibly container) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The server salt the client used.
    pub salt: i64,
    /// The client's session, echoed back in every answer.
    pub session_id: i64,
    /// The (possibly container) message.
    pub message: Message,
}

/// Parses a decrypted plaintext (trailing padding is ignored).
pub fn parse_envelope(plaintext: &[u8]) -> Result<Envelope, SessionError> {
    let mut cursor = Cursor::from_slice(plaintext);
    let salt = i64::deserialize(&mut cursor)?;
    let session_id = i64::deserialize(&mut cursor)?;
    let message = read_message(&mut cursor)?;
    Ok(Envelope {
        salt,
        session_id,
        message,
    })
}

fn read_message(cursor: &mut Cursor) -> Result<Message, SessionError> {
    let msg_id = i64::deserialize(cursor)?;
    let seq_no = i32::deserialize(cursor)?;
    let len = i32::deserialize(cursor)?;
    let len = usize::try_from(len).map_err(|_| SessionError::Malformed(format!("length {len}")))?;
    if len % 4 != 0 {
        return Err(SessionError::Malformed(format!("length {len} not aligned")));
    }
    let mut body = vec![0u8; len];
    cursor.read_exact(&mut body)?;
    Ok(Message {
        msg_id,
        seq_no,
        body,
    })
}

/// Expands containers and `gzip_packed` into the plain messages they carry,
/// in order. A gzipped body keeps the msg_id of the message that carried it.
pub fn flatten(message: Message) -> Result<Vec<Message>, SessionError> {
    let mut out = Vec::new();
    flatten_into(message, 0, &mut out)?;
    Ok(out)
}

fn flatten_into(
    message: Message,
    depth: usize,
    out: &mut Vec<Message>,
) -> Result<(), SessionError> {
    if depth > MAX_NESTING {
        return Err(SessionError::Malformed("containers nested too deep".into()));
    }
    match message.constructor_id() {
        Some(MSG_CONTAINER) => {
            let mut cursor = Cursor::from_slice(&message.body[4..]);
            let count = i32::deserialize(&mut cursor)?;
            for _ in 0..count.max(0) {
                flatten_into(read_message(&mut cursor)?, depth + 1, out)?;
            }
            Ok(())
        }
        Some(GZIP_PACKED) => {
            let body = gunzip(&message.body[4..])?;
            flatten_into(Message { body, ..message }, depth + 1, out)
        }
        _ => {
            out.push(message);
            Ok(())
        }
    }
}

/// Decompresses the `packed_data:bytes` of a `gzip_packed` (constructor id stripped).
pub fn gunzip(serialized_bytes: &[u8]) -> Result<Vec<u8>, SessionError> {
    let packed = Vec::<u8>::from_bytes(serialized_bytes)?;
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&packed[..])
        .take(MAX_UNPACKED_LEN)
        .read_to_end(&mut unpacked)
        .map_err(|_| SessionError::BadGzip)?;
    Ok(unpacked)
}

/// Strips a leading `gzip_packed` from an RPC request body, if any.
pub fn unpack_request(body: Vec<u8>) -> Result<Vec<u8>, SessionError> {
    match constructor_id(&body) {
        Some(GZIP_PACKED) => gunzip(&body[4..]),
        _ => Ok(body),
    }
}

/// Whether a message needs an acknowledgement (odd seq_no: content-related).
pub fn is_content_related(message: &Message) -> bool {
    message.seq_no % 2 == 1
}

/// What kind of server message a msg_id is generated for; the low two bits
/// of a server msg_id say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgKind {
    /// An answer to a client message (`msg_id % 4 == 1`).
    Response,
    /// Sent on the server's own initiative, e.g. updates (`msg_id % 4 == 3`).
    ServerInitiated,
}

/// The server's half of one session: what it needs to wrap outgoing messages.
#[derive(Debug, Clone)]
pub struct Outbox {
    /// The client's session id, echoed in every packet (a mismatch makes the
    /// client abort).
    pub session_id: i64,
    /// The salt echoed back to the client.
    pub salt: i64,
    last_msg_id: i64,
    content_sent: i32,
}

impl Outbox {
    /// An outbox for the session the client opened.
    pub fn new(session_id: i64, salt: i64) -> Self {
        Self {
            session_id,
            salt,
            last_msg_id: 0,
            content_sent: 0,
        }
    }

    /// A time-based msg_id, strictly increasing within the session.
    pub fn next_msg_id(&mut self, kind: MsgKind) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let low = match kind {
            MsgKind::Response => 1,
            MsgKind::ServerInitiated => 3,
        };
        let time_based = ((now.as_secs() as i64) << 32) | (i64::from(now.subsec_nanos()) & !3);
        let base = if time_based > self.last_msg_id {
            time_based
        } else {
            (self.last_msg_id & !3) + 4
        };
        self.last_msg_id = base | low;
        self.last_msg_id
    }

    /// seq_no: `2n + 1` for the n-th content-related message, `2n` otherwise.
    pub fn next_seq_no(&mut self, content_related: bool) -> i32 {
        if content_related {
            self.content_sent += 1;
            self.content_sent * 2 - 1
        } else {
            self.content_sent * 2
        }
    }

    /// The plaintext (before padding) carrying one message.
    pub fn wrap(&mut self, body: &[u8], kind: MsgKind, content_related: bool) -> Vec<u8> {
        let msg_id = self.next_msg_id(kind);
        let seq_no = self.next_seq_no(content_related);
        let mut out = Vec::with_capacity(32 + body.len());
        self.salt.serialize(&mut out);
        self.session_id.serialize(&mut out);
        msg_id.serialize(&mut out);
        seq_no.serialize(&mut out);
        (body.len() as i32).serialize(&mut out);
        out.extend_from_slice(body);
        out
    }
}

/// `rpc_result` carrying a serialized boxed result.
pub fn rpc_result(req_msg_id: i64, result: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + result.len());
    RPC_RESULT.serialize(&mut out);
    req_msg_id.serialize(&mut out);
    out.extend_from_slice(result);
    out
}

/// `rpc_result` carrying an `rpc_error`.
pub fn rpc_error(req_msg_id: i64, error: &RpcError) -> Vec<u8> {
    let body = tl::enums::RpcError::Error(tl::types::RpcError {
        error_code: error.code,
        error_message: error.name.clone(),
    })
    .to_bytes();
    rpc_result(req_msg_id, &body)
}

/// `pong`, sent top-level as grammers expects (also for `ping_delay_disconnect`).
pub fn pong(req_msg_id: i64, ping_id: i64) -> Vec<u8> {
    tl::enums::Pong::Pong(tl::types::Pong {
        msg_id: req_msg_id,
        ping_id,
    })
    .to_bytes()
}

/// `future_salts` with `num` salts (at least two, or grammers asks again in a
/// loop) that all equal the salt the client already uses, valid for an hour each.
pub fn future_salts(req_msg_id: i64, num: i32, salt: i64) -> Vec<u8> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i32;
    let salts = (0..num.clamp(2, 64))
        .map(|i| tl::types::FutureSalt {
            valid_since: now - 60 + i * 3600,
            valid_until: now - 60 + (i + 1) * 3600,
            salt,
        })
        .collect();
    tl::enums::FutureSalts::Salts(tl::types::FutureSalts {
        req_msg_id,
        now,
        salts: tl::RawVec(salts),
    })
    .to_bytes()
}

/// `new_session_created`, which Telegram sends before anything else in a new
/// session; the client then uses `server_salt` and fetches future salts.
pub fn new_session_created(first_msg_id: i64, unique_id: i64, server_salt: i64) -> Vec<u8> {
    tl::enums::NewSession::Created(tl::types::NewSessionCreated {
        first_msg_id,
        unique_id,
        server_salt,
    })
    .to_bytes()
}

/// `destroy_session_ok` (sessions hold no server state worth destroying).
pub fn destroy_session_ok(session_id: i64) -> Vec<u8> {
    tl::enums::DestroySessionRes::DestroySessionOk(tl::types::DestroySessionOk { session_id })
        .to_bytes()
}

/// Service messages the session layer answers itself, never dispatched as RPCs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Service {
    Ack,
    Ping {
        ping_id: i64,
    },
    PingDelayDisconnect {
        ping_id: i64,
    },
    GetFutureSalts {
        num: i32,
    },
    DestroySession {
        session_id: i64,
    },
    /// Other session-level notices the server may ignore (`msgs_state_req`,
    /// `msg_resend_req`, `http_wait`).
    Ignored,
}

/// Classifies a flattened message as a service message, or `None` for an RPC call.
pub fn service_message(message: &Message) -> Result<Option<Service>, SessionError> {
    let Some(id) = message.constructor_id() else {
        return Err(SessionError::Malformed("empty body".into()));
    };
    let body = &message.body;
    let service = match id {
        tl::types::MsgsAck::CONSTRUCTOR_ID => Service::Ack,
        tl::functions::Ping::CONSTRUCTOR_ID => Service::Ping {
            ping_id: tl::functions::Ping::from_bytes(&body[4..])?.ping_id,
        },
        tl::functions::PingDelayDisconnect::CONSTRUCTOR_ID => Service::PingDelayDisconnect {
            ping_id: tl::functions::PingDelayDisconnect::from_bytes(&body[4..])?.ping_id,
        },
        tl::functions::GetFutureSalts::CONSTRUCTOR_ID => Service::GetFutureSalts {
            num: tl::functions::GetFutureSalts::from_bytes(&body[4..])?.num,
        },
        tl::functions::DestroySession::CONSTRUCTOR_ID => Service::DestroySession {
            session_id: tl::functions::DestroySession::from_bytes(&body[4..])?.session_id,
        },
        tl::types::MsgsStateReq::CONSTRUCTOR_ID
        | tl::types::MsgResendReq::CONSTRUCTOR_ID
        | tl::types::MsgResendAnsReq::CONSTRUCTOR_ID
        | tl::types::HttpWait::CONSTRUCTOR_ID => Service::Ignored,
        _ => return Ok(None),
    };
    Ok(Some(service))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn message_bytes(msg_id: i64, seq_no: i32, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        msg_id.serialize(&mut out);
        seq_no.serialize(&mut out);
        (body.len() as i32).serialize(&mut out);
        out.extend_from_slice(body);
        out
    }

    fn gzip(body: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(body).unwrap();
        let packed = enc.finish().unwrap();
        let mut out = Vec::new();
        GZIP_PACKED.serialize(&mut out);
        packed.serialize(&mut out);
        out
    }

    #[test]
    fn container_with_gzipped_call_flattens_in_order() {
        let ping = tl::functions::Ping { ping_id: 9 }.to_bytes();
        let call = tl::functions::help::GetConfig {}.to_bytes();
        let mut container = Vec::new();
        MSG_CONTAINER.serialize(&mut container);
        2i32.serialize(&mut container);
        container.extend(message_bytes(100, 1, &ping));
        container.extend(message_bytes(104, 3, &gzip(&call)));
        let flat = flatten(Message {
            msg_id: 108,
            seq_no: 4,
            body: container,
        })
        .unwrap();
        assert_eq!(flat.len(), 2);
        assert_eq!(flat[0].body, ping);
        assert_eq!((flat[1].msg_id, flat[1].body.clone()), (104, call));
        assert_eq!(
            service_message(&flat[0]).unwrap(),
            Some(Service::Ping { ping_id: 9 })
        );
        assert_eq!(service_message(&flat[1]).unwrap(), None);
    }

    #[test]
    fn envelope_round_trips_through_outbox() {
        let mut outbox = Outbox::new(42, 7);
        let plaintext = outbox.wrap(b"abcd", MsgKind::Response, true);
        let env = parse_envelope(&plaintext).unwrap();
        assert_eq!((env.salt, env.session_id), (7, 42));
        assert_eq!(env.message.seq_no, 1);
        assert_eq!(env.message.msg_id % 4, 1);
        assert_eq!(env.message.body, b"abcd");
    }

    #[test]
    fn server_msg_ids_increase_and_carry_their_kind() {
        let mut outbox = Outbox::new(1, 0);
        let mut last = 0;
        for i in 0..1000 {
            let kind = if i % 2 == 0 {
                MsgKind::Response
            } else {
                MsgKind::ServerInitiated
            };
            let id = outbox.next_msg_id(kind);
            assert!(id > last);
            assert_eq!(id % 4, if kind == MsgKind::Response { 1 } else { 3 });
            last = id;
        }
    }

    #[test]
    fn seq_nos_are_odd_for_content_only() {
        let mut outbox = Outbox::new(1, 0);
        assert_eq!(outbox.next_seq_no(true), 1);
        assert_eq!(outbox.next_seq_no(false), 2);
        assert_eq!(outbox.next_seq_no(true), 3);
    }

    #[test]
    fn truncated_message_is_an_error_not_a_panic() {
        let mut bytes = Vec::new();
        0i64.serialize(&mut bytes);
        1i64.serialize(&mut bytes);
        bytes.extend(message_bytes(4, 1, b"abcdefgh"));
        bytes.truncate(bytes.len() - 4);
        assert!(parse_envelope(&bytes).is_err());
    }
}
