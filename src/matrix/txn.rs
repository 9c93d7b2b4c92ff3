//! Transaction ids for client-API sends, derived from what is being bridged.
//!
//! The homeserver deduplicates `PUT .../send/{type}/{txnId}` per access token
//! and user, so a send retried after a timeout or a crash with the same id
//! produces one event, not two. The ids are therefore a pure function of the
//! source (a Telegram message, a Matrix event answered by the bot), never
//! random.

use ruma::OwnedTransactionId;

/// Builds a transaction id from a `kind` (e.g. `tg`, `reply`) and the parts that
/// identify the source (e.g. peer scope and message id).
///
/// The encoding is injective: every byte outside `[A-Za-z0-9.-]` is written as
/// `_` followed by two hex digits, and parts are joined with `-`, which the
/// escaping never produces inside a part. Different sources therefore never
/// share an id.
pub fn derived(kind: &str, parts: &[&str]) -> OwnedTransactionId {
    let mut id =
        String::with_capacity(kind.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>());
    escape_into(&mut id, kind);
    for part in parts {
        id.push('-');
        escape_into(&mut id, part);
    }
    id.into()
}

fn escape_into(out: &mut String, part: &str) {
    for byte in part.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'.' {
            out.push(char::from(byte));
        } else if byte == b'-' {
            // `-` separates parts, so it is escaped inside one.
            out.push_str("_2d");
        } else {
            out.push('_');
            out.push(hex_digit(byte >> 4));
            out.push(hex_digit(byte & 0x0f));
        }
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble & 0x0f)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_deterministic_and_readable() {
        let a = derived("tg", &["chan", "1234", "42"]);
        assert_eq!(a.as_str(), "tg-chan-1234-42");
        assert_eq!(a, derived("tg", &["chan", "1234", "42"]));
    }

    #[test]
    fn escapes_event_ids_into_url_safe_text() {
        let id = derived("reply", &["$abc_def:example.org"]);
        assert_eq!(id.as_str(), "reply-_24abc_5fdef_3aexample.org");
    }

    #[test]
    fn different_sources_never_collide() {
        let pairs = [
            (derived("x", &["a-b"]), derived("x", &["a", "b"])),
            (derived("x", &["a_b"]), derived("x", &["a:b"])),
            (derived("x", &["_3a"]), derived("x", &[":"])),
            (derived("x-y", &[]), derived("x", &["y"])),
        ];
        for (a, b) in pairs {
            assert_ne!(a, b);
        }
    }

    #[test]
    fn non_ascii_is_escaped_bytewise() {
        assert_eq!(derived("t", &["é"]).as_str(), "t-_c3_a9");
    }
}
