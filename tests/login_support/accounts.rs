//! The accounts and secrets every login test types: Ada with her phone
//! number, login code and optional 2FA password, and a bot with its token.
//! Shared by the terminal, management-room and web login tests so that all
//! of them check for the same secrets.

use fake_telegram::world::UserSpec;

pub const PHONE: &str = "+49 151 2345 6789";
pub const PHONE_DIGITS: &str = "4915123456789";
/// Eight digits, so that no other number (in a log or a page) matches it by chance.
pub const CODE: &str = "86420975";
pub const PASSWORD: &str = "correct-horse-battery";
pub const BOT_TOKEN: &str = "7654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";

/// Ada Lovelace, with a 2FA `password` (hint "the horse one") when given.
pub fn ada(password: Option<&str>) -> UserSpec {
    UserSpec {
        first_name: "Ada".into(),
        last_name: Some("Lovelace".into()),
        username: Some("ada".into()),
        phone: Some(PHONE_DIGITS.into()),
        login_code: Some(CODE.into()),
        password: password.map(str::to_owned),
        password_hint: password.map(|_| "the horse one".to_owned()),
        ..UserSpec::default()
    }
}

/// A bot that logs in with [`BOT_TOKEN`].
pub fn bot() -> UserSpec {
    UserSpec {
        first_name: "Relay Bot".into(),
        username: Some("relay_bot".into()),
        bot: true,
        bot_token: Some(BOT_TOKEN.into()),
        ..UserSpec::default()
    }
}
