//! The web-login page's HTML: plain server-rendered forms with a little CSS,
//! readable on a phone and usable without JavaScript. Pure rendering: no I/O,
//! and no input the user typed is ever rendered back (fields start empty).

use std::fmt::Write as _;

use crate::bridge::login::Awaiting;

/// One screen of the web login.
#[derive(Debug)]
pub enum Page<'a> {
    /// The link is valid: a button that uses it up (a GET never does, so link
    /// previews cannot burn it).
    Continue {
        /// Token of the form.
        csrf: &'a str,
    },
    /// The form for the step the login waits for.
    Step {
        /// What the login waits for.
        awaiting: &'a Awaiting,
        /// Token of the forms.
        csrf: &'a str,
        /// Why the last answer was refused, if it was.
        error: Option<&'a str>,
    },
    /// A final screen: success, refusal or end of the login.
    Message {
        /// The heading.
        title: &'a str,
        /// The explanation.
        text: &'a str,
    },
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1b1b1b}\
h1{font-size:1.4rem}label{display:block;margin:1rem 0 .3rem;font-weight:600}\
input[type=text],input[type=tel],input[type=password]{width:100%;box-sizing:border-box;padding:.6rem;font-size:1.1rem}\
button{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem}.error{color:#a00;font-weight:600}\
.note{color:#555;font-size:.9rem}hr{margin:2rem 0}";

/// The whole HTML document for `page`.
pub fn render(page: &Page<'_>) -> String {
    let (title, body) = match page {
        Page::Continue { csrf } => ("Log into Telegram", continue_body(csrf)),
        Page::Step {
            awaiting,
            csrf,
            error,
        } => ("Log into Telegram", step_body(awaiting, csrf, *error)),
        Page::Message { title, text } => (*title, format!("<p>{}</p>", escape(text))),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\">\
<title>{title} — tgbridge</title><style>{STYLE}</style></head>\
<body><h1>{title}</h1>{body}</body></html>\n",
        title = escape(title),
    )
}

fn continue_body(csrf: &str) -> String {
    let mut body = String::from(
        "<p>This page logs the Telegram bridge into your Telegram account. Logging in gives the bridge full access to the account. New accounts cannot be registered here.</p>\
<form method=\"post\">",
    );
    hidden_csrf(&mut body, csrf);
    body.push_str(
        "<button type=\"submit\">Continue</button></form>\
<p class=\"note\">The link works once: after Continue, it cannot be opened again.</p>",
    );
    body
}

fn step_body(awaiting: &Awaiting, csrf: &str, error: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(error) = error {
        let _ = write!(
            body,
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(error)
        );
    }
    match awaiting {
        Awaiting::PhoneOrToken => {
            body.push_str("<p>Enter the phone number of your Telegram account.</p>");
            form(
                &mut body,
                csrf,
                "phone",
                "Phone number, with country code",
                "tel\" autocomplete=\"tel\" placeholder=\"+44 7700 900123",
                "Send code",
            );
            body.push_str("<hr><p>Or log in as a bot with the token from @BotFather.</p>");
            form(
                &mut body,
                csrf,
                "bot_token",
                "Bot token",
                "password\" autocomplete=\"off",
                "Use bot token",
            );
        }
        Awaiting::Code(sent) => {
            let digits = sent
                .length
                .map(|n| format!(" ({n} digits)"))
                .unwrap_or_default();
            let _ = write!(
                body,
                "<p>Telegram sent a login code{} for {}: look {}.</p>",
                escape(&digits),
                escape(&sent.masked_phone),
                escape(sent.delivery.where_to_look())
            );
            form(
                &mut body,
                csrf,
                "code",
                "Login code",
                "text\" inputmode=\"numeric\" autocomplete=\"one-time-code",
                "Log in",
            );
        }
        Awaiting::Password { hint } => {
            body.push_str("<p>Your account has a two-step verification password.</p>");
            if let Some(hint) = hint {
                let _ = write!(body, "<p>Hint: {}</p>", escape(hint));
            }
            form(
                &mut body,
                csrf,
                "password",
                "Password",
                "password\" autocomplete=\"current-password",
                "Log in",
            );
        }
    }
    body
}

/// A one-field form. `input_attrs` continues the `type` attribute (trusted,
/// from this module only).
fn form(out: &mut String, csrf: &str, step: &str, label: &str, input_attrs: &str, button: &str) {
    let _ = write!(
        out,
        "<form method=\"post\"><input type=\"hidden\" name=\"step\" value=\"{step}\">"
    );
    hidden_csrf(out, csrf);
    let _ = write!(
        out,
        "<label for=\"{step}\">{label}</label>\
<input id=\"{step}\" name=\"value\" type=\"{input_attrs}\" required>\
<button type=\"submit\">{button}</button></form>"
    );
}

fn hidden_csrf(out: &mut String, csrf: &str) {
    let _ = write!(
        out,
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(csrf)
    );
}

/// HTML-escapes text for element content and quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telegram::login::{CodeDelivery, CodeSent};

    #[test]
    fn forms_carry_the_csrf_token_and_start_empty() {
        let html = render(&Page::Step {
            awaiting: &Awaiting::PhoneOrToken,
            csrf: "tok\"en",
            error: Some("bad <b>"),
        });
        assert_eq!(
            html.matches("name=\"csrf\" value=\"tok&quot;en\"").count(),
            2
        );
        assert!(html.contains("bad &lt;b&gt;"));
        assert!(!html.contains("value=\"\""));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn the_code_step_says_where_the_code_went() {
        let sent = CodeSent {
            delivery: CodeDelivery::Sms,
            length: Some(5),
            masked_phone: "+44*******123".into(),
        };
        let html = render(&Page::Step {
            awaiting: &Awaiting::Code(sent),
            csrf: "c",
            error: None,
        });
        assert!(html.contains("(5 digits) for +44*******123: look in an SMS"));
        assert!(html.contains("autocomplete=\"one-time-code\""));
    }

    #[test]
    fn the_password_step_shows_the_hint_and_hides_the_input() {
        let html = render(&Page::Step {
            awaiting: &Awaiting::Password {
                hint: Some("horse".into()),
            },
            csrf: "c",
            error: None,
        });
        assert!(html.contains("Hint: horse"));
        assert!(html.contains("type=\"password\""));
    }
}
