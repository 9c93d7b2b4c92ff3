//! Deserializers for single config values that need more than their Rust
//! type says (a port is not 0, a URL is http(s), an API ID is not the example's
//! placeholder). Checking here, while serde still knows where the value is,
//! lets the error name the line. Cross-key rules live in the loader.

use ruma::{OwnedUserId, ServerName, UserId};
use serde::de::{Deserialize, Deserializer, Error};
use serde_yaml::Value;

/// The api_id printed in the example config; Telegram rejects it.
pub const PLACEHOLDER_API_ID: i32 = 12345;
/// The api_hash printed in the example config; Telegram rejects it.
pub const PLACEHOLDER_API_HASH: &str = "0123456789abcdef0123456789abcdef";
const MY_TELEGRAM: &str = "https://my.telegram.org/apps";

/// A TCP port, 1–65535.
pub fn port<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u16, D::Error> {
    let value = Value::deserialize(deserializer)?;
    value
        .as_u64()
        .and_then(|n| u16::try_from(n).ok())
        .filter(|&n| n != 0)
        .ok_or_else(|| invalid(&value, "a port number (1-65535)"))
}

/// An absolute http(s) URL, returned without a trailing slash so callers can
/// append `/_matrix/...` paths.
pub fn http_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_http_url(&text).map_err(D::Error::custom)
}

/// Like [`http_url`], for optional keys.
pub fn optional_http_url<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => parse_http_url(&text).map(Some).map_err(D::Error::custom),
    }
}

fn parse_http_url(text: &str) -> Result<String, String> {
    let expected = "an http:// or https:// URL like \"http://localhost:8008\"";
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(text.trim_end_matches('/').to_owned())
        }
        _ => Err(format!("invalid value {text:?}, expected {expected}")),
    }
}

/// A Matrix server name such as `example.org` or `localhost:8448`.
pub fn server_name<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    ServerName::parse(&text).map(|_| text.clone()).map_err(|err| {
        D::Error::custom(format!(
            "invalid value {text:?}, expected the homeserver's server name like \"example.org\" ({err})"
        ))
    })
}

/// A full Matrix user ID such as `@alice:example.org`.
pub fn user_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OwnedUserId, D::Error> {
    let text = String::deserialize(deserializer)?;
    UserId::parse(&text).map_err(|err| {
        D::Error::custom(format!(
            "invalid value {text:?}, expected a Matrix user ID like \"@you:example.org\" ({err})"
        ))
    })
}

/// A user-ID localpart that today's servers accept: `a-z`, `0-9`, `._=-/`.
pub fn localpart<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    if is_valid_localpart(&text) {
        Ok(text)
    } else {
        Err(D::Error::custom(format!(
            "invalid value {text:?}, expected lowercase letters, digits and ._=-/ only"
        )))
    }
}

/// True for a non-empty localpart of only the characters the spec allows.
pub fn is_valid_localpart(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'=' | b'-' | b'/'))
}

/// An appservice token: empty (or left blank) until `generate-registration`
/// fills it in, otherwise without whitespace.
pub fn token<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let token = secret_text(deserializer, "token")?;
    if token.chars().any(char::is_whitespace) {
        // The value itself stays out of the message: it is a secret.
        return Err(D::Error::custom(
            "invalid value, a token must not contain spaces; leave it empty (\"\") to have one generated",
        ));
    }
    Ok(token)
}

/// The text of a secret value; empty when left blank. serde's own type
/// errors quote the offending value, so anything but text is refused here
/// with a message that does not show it.
fn secret_text<'de, D: Deserializer<'de>>(deserializer: D, what: &str) -> Result<String, D::Error> {
    deserializer.deserialize_any(SecretText)?.ok_or_else(|| {
        D::Error::custom(format!(
            "invalid value, expected the {what} as text; put it in quotes (\"...\")"
        ))
    })
}

/// Visits a secret: `Some(text)` for text or blank, `None` (never the value)
/// for anything else.
struct SecretText;

impl<'de> serde::de::Visitor<'de> for SecretText {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("text")
    }
    fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E: Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
        Ok(Some(String::new()))
    }
    fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
        Ok(Some(String::new()))
    }
    fn visit_bool<E: Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i128<E: Error>(self, _: i128) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u128<E: Error>(self, _: u128) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(None)
    }
}

/// The Telegram api_id from my.telegram.org.
pub fn api_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
    let value = Value::deserialize(deserializer)?;
    match value.as_i64().and_then(|n| i32::try_from(n).ok()) {
        Some(PLACEHOLDER_API_ID) => Err(D::Error::custom(format!(
            "{PLACEHOLDER_API_ID} is the placeholder from the example config; create your own \
             api_id and api_hash at {MY_TELEGRAM}"
        ))),
        Some(id) if id > 0 => Ok(id),
        _ => Err(invalid(
            &value,
            &format!("the numeric api_id from {MY_TELEGRAM}"),
        )),
    }
}

/// The Telegram api_hash from my.telegram.org: 32 hexadecimal digits.
pub fn api_hash<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let hash = secret_text(deserializer, "api_hash")?;
    if hash.eq_ignore_ascii_case(PLACEHOLDER_API_HASH) {
        return Err(D::Error::custom(format!(
            "this is the placeholder from the example config; create your own api_id and \
             api_hash at {MY_TELEGRAM}"
        )));
    }
    if hash.len() != 32 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(D::Error::custom(format!(
            "invalid value, expected the 32 hexadecimal digits of the api_hash from {MY_TELEGRAM}"
        )));
    }
    Ok(hash)
}

/// An optional `mxc://server/media` URI, e.g. the bot's avatar.
pub fn optional_mxc<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let Some(text) = Option::<String>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if text.is_empty() {
        return Ok(None);
    }
    let uri = ruma::OwnedMxcUri::from(text.as_str());
    if uri.is_valid() {
        Ok(Some(text))
    } else {
        Err(D::Error::custom(format!(
            "invalid value {text:?}, expected an mxc:// URI like \"mxc://example.org/abcdef\""
        )))
    }
}

/// A non-empty identifier without whitespace, e.g. the appservice id.
pub fn identifier<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    if text.is_empty() || text.chars().any(char::is_whitespace) {
        return Err(D::Error::custom(format!(
            "invalid value {text:?}, expected a non-empty name without spaces"
        )));
    }
    Ok(text)
}

/// A tracing filter: a level (`info`) or directives (`info,tgbridge=debug`).
pub fn log_filter<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    tracing_subscriber::EnvFilter::builder()
        .parse(&text)
        .map(|_| text.clone())
        .map_err(|err| {
            D::Error::custom(format!(
                "invalid value {text:?}, expected a level (error, warn, info, debug, trace) or \
                 filter directives like \"info,tgbridge=debug\" ({err})"
            ))
        })
}

/// The placeholders a ghost displayname template may use.
pub const DISPLAYNAME_PLACEHOLDERS: &[&str] =
    &["displayname", "first_name", "last_name", "username", "id"];

/// A ghost displayname template using only [`DISPLAYNAME_PLACEHOLDERS`].
pub fn displayname_template<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    let template = String::deserialize(deserializer)?;
    match unknown_placeholder(&template) {
        None => Ok(template),
        Some(name) => Err(D::Error::custom(format!(
            "unknown placeholder {{{name}}}, expected some of {}",
            DISPLAYNAME_PLACEHOLDERS
                .iter()
                .map(|p| format!("{{{p}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn unknown_placeholder(template: &str) -> Option<&str> {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let end = after.find('}')?;
        let name = &after[..end];
        if !DISPLAYNAME_PLACEHOLDERS.contains(&name) {
            return Some(name);
        }
        rest = &after[end + 1..];
    }
    None
}

fn invalid<E: Error>(value: &Value, expected: &str) -> E {
    let shown = match value {
        Value::Null => "(empty)".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Sequence(_) => "(a list)".to_owned(),
        Value::Mapping(_) => "(a mapping)".to_owned(),
        Value::Tagged(_) => "(a tagged value)".to_owned(),
    };
    E::custom(format!("invalid value {shown}, expected {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localparts() {
        assert!(is_valid_localpart("telegram_"));
        assert!(is_valid_localpart("tg.bot=1/-"));
        assert!(!is_valid_localpart(""));
        assert!(!is_valid_localpart("Telegram"));
        assert!(!is_valid_localpart("a b"));
        assert!(!is_valid_localpart("a:b"));
    }

    #[test]
    fn placeholders() {
        assert_eq!(unknown_placeholder("{displayname} (Telegram)"), None);
        assert_eq!(
            unknown_placeholder("{first_name} {last_name} @{username} {id}"),
            None
        );
        assert_eq!(unknown_placeholder("{name} (Telegram)"), Some("name"));
        assert_eq!(unknown_placeholder("no placeholders"), None);
    }

    #[test]
    fn urls() {
        assert_eq!(
            parse_http_url("http://localhost:8008/").unwrap(),
            "http://localhost:8008"
        );
        assert_eq!(
            parse_http_url("https://matrix.example.org").unwrap(),
            "https://matrix.example.org"
        );
        assert!(parse_http_url("localhost:8008").is_err());
        assert!(parse_http_url("ftp://example.org").is_err());
    }
}
