//! Bot commands: parsing what the owner typed, and the help texts. Pure: the
//! answers that need the outside world (Telegram status, homeserver round
//! trip, logging out) are produced by the management room code, which calls
//! [`parse`] and renders with [`help`] and [`unknown`].
//!
//! In the management room commands need no prefix; elsewhere they start with
//! [`PREFIX`].

use super::notice::Notice;

/// The prefix commands need outside the management room.
pub const PREFIX: &str = "!tg";

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `help [command]`, also `<command> --help`.
    Help {
        /// The command asked about, if any.
        topic: Option<String>,
    },
    /// `version`.
    Version,
    /// `ping`: Telegram login state and homeserver round trip.
    Ping,
    /// `cancel`: abort the interactive flow in progress.
    Cancel,
    /// `logout`: forget the Telegram login, keep the portals.
    Logout,
    /// `login`: how to log in.
    Login,
    /// `sync [all]`: re-synchronise chats; `all` lifts the per-sync limit.
    Sync {
        /// Whether every chat gets its portal now.
        all: bool,
    },
    /// `pm <@username | +phone | id>`: open a private-chat portal.
    Pm {
        /// Whom to open it with, as typed.
        target: String,
    },
    /// `id`: the Telegram id of this room's chat.
    Id,
    /// `unbridge [<chat id | room id>] [confirm]`: stop bridging a portal
    /// (this room's, unless one is named); the room stays.
    Unbridge {
        /// Whether the owner confirmed; without it the bot only explains.
        confirmed: bool,
        /// The portal named, if not this room's.
        target: Option<String>,
    },
    /// `delete-portal [<chat id | room id>] [confirm]`: stop bridging and
    /// remove everyone from the room, so it is gone for the owner too.
    DeletePortal {
        /// Whether the owner confirmed; without it the bot only explains.
        confirmed: bool,
        /// The portal named, if not this room's.
        target: Option<String>,
    },
    /// `topics [chat id] [open <topic id>]`: list a forum's topics, or
    /// open the room of one.
    Topics {
        /// The forum named (a chat id), if not this room's chat.
        chat: Option<String>,
        /// The topic whose room to open; `None` lists the topics.
        open: Option<i32>,
    },
    /// `filter [allow|deny <chat>]`: show or change which chats are bridged.
    Filter {
        /// The change; `None` shows the filter.
        change: Option<FilterChange>,
    },
    /// Anything else.
    Unknown {
        /// The command word as typed (lowercased).
        name: String,
        /// The closest known command, if one is close.
        suggestion: Option<&'static str>,
    },
}

/// A change to the chat filter typed by the owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterChange {
    /// `allow` (true) or `deny` (false).
    pub allow: bool,
    /// A chat id or `@username`; `None` means this room's chat.
    pub target: Option<String>,
}

/// Describes one command for the help texts.
#[derive(Debug)]
pub struct CommandSpec {
    /// The command word.
    pub name: &'static str,
    /// Arguments in usage notation, empty if none.
    pub args: &'static str,
    /// One line for the overview.
    pub summary: &'static str,
    /// A paragraph for `help <command>`.
    pub details: &'static str,
    /// Other words that name the command.
    pub aliases: &'static [&'static str],
    /// Builds the command from the words typed after its name.
    pub parse: fn(&[&str]) -> Command,
}

/// Every command, in the order `help` lists them: adding a command is one
/// entry here (and its [`Command`] variant) plus its handler.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "help",
        args: "[command]",
        summary: "Show this overview, or details about one command",
        details: "Without an argument, lists the commands. With one, explains that command. \
                  `<command> --help` does the same.",
        aliases: &["-h", "--help", "?"],
        parse: |args| Command::Help {
            topic: args.first().map(|t| t.to_lowercase()),
        },
    },
    CommandSpec {
        name: "ping",
        args: "",
        summary: "Show whether the bridge is logged into Telegram, and as whom",
        details: "Reports the Telegram account the bridge is logged in as (if any) and the \
                  round trip from the bridge to the homeserver.",
        aliases: &[],
        parse: |_| Command::Ping,
    },
    CommandSpec {
        name: "login",
        args: "",
        summary: "Log into Telegram (phone number and code, or a bot token)",
        details: "Asks for your phone number (or a bot token) and the code Telegram sends, and \
                  removes every message with a code or token as soon as it is read. A two-step \
                  verification password is never typed in a room: the bot hands you a one-time \
                  web-login link, or you run `tgbridge login` in a terminal.",
        aliases: &[],
        parse: |_| Command::Login,
    },
    CommandSpec {
        name: "logout",
        args: "",
        summary: "Log out of Telegram; portal rooms are kept",
        details: "Forgets the Telegram login, like `tgbridge logout`. Portal rooms and their \
                  members stay as they are; log in again to resume bridging.",
        aliases: &[],
        parse: |_| Command::Logout,
    },
    CommandSpec {
        name: "cancel",
        args: "",
        summary: "Cancel the interactive command in progress",
        details: "Aborts a multi-step command that is waiting for your answer.",
        aliases: &[],
        parse: |_| Command::Cancel,
    },
    CommandSpec {
        name: "sync",
        args: "[all]",
        summary: "Synchronise Telegram chats with portal rooms",
        details: "Creates or updates portal rooms for your Telegram groups, supergroups and \
                  channels, most recent first, up to the configured number of new rooms per \
                  sync. `sync all` creates rooms for every chat that passes the filters.",
        aliases: &[],
        parse: |args| Command::Sync {
            all: args.first().is_some_and(|a| a.eq_ignore_ascii_case("all")),
        },
    },
    CommandSpec {
        name: "pm",
        args: "<@username | +phone | id>",
        summary: "Open a private chat with a Telegram user",
        details: "Creates the portal room of your private chat with that user (or points you \
                  to the existing one). Inviting a user's ghost to a new room does the same.",
        aliases: &[],
        parse: parse_pm,
    },
    CommandSpec {
        name: "id",
        args: "",
        summary: "Show the Telegram id of this room's chat",
        details: "In a portal room, shows the Telegram chat id as the bridge's filters and \
                  `pm` expect it.",
        aliases: &[],
        parse: |_| Command::Id,
    },
    CommandSpec {
        name: "unbridge",
        args: "[chat id | room id] [confirm]",
        summary: "Stop bridging this room; it stays as it is for you",
        details: "Forgets the portal of this room (or of the chat or room named, e.g. from the \
                  management room for a channel you cannot post in): the Telegram users' ghosts \
                  and the bot leave, and the chat is added to the filter so it does not come \
                  back at the next sync (`filter allow <id>` undoes that). Send it with \
                  `confirm` to go ahead.",
        aliases: &[],
        parse: |args| Command::Unbridge {
            confirmed: confirmed(args),
            target: portal_target(args),
        },
    },
    CommandSpec {
        name: "delete-portal",
        args: "[chat id | room id] [confirm]",
        summary: "Stop bridging this room and remove everyone from it",
        details: "Forgets the portal of this room (or of the chat or room named) and removes \
                  everyone, you included, so the room is gone. The chat gets a fresh room at its next message or sync. Send \
                  it with `confirm` to go ahead.",
        aliases: &["delete_portal"],
        parse: |args| Command::DeletePortal {
            confirmed: confirmed(args),
            target: portal_target(args),
        },
    },
    CommandSpec {
        name: "filter",
        args: "[allow | deny <chat id | @username>]",
        summary: "Show or change which Telegram chats are bridged",
        details: "Without arguments, shows the filter. `filter allow <chat>` lets a chat be \
                  bridged, `filter deny <chat>` keeps it out of syncs and new portals. In a \
                  portal room the chat may be left out to mean this room's chat. The change \
                  is kept across restarts and replaces the filter from the config file.",
        aliases: &[],
        parse: |args| match parse_filter(args) {
            Some(change) => Command::Filter { change },
            None => help_on("filter"),
        },
    },
    CommandSpec {
        name: "topics",
        args: "[chat id] [open <topic id>]",
        summary: "List a forum's topics, or open the room of one",
        details: "In a forum's room (or for the forum named by its chat id), lists its topics \
                  with their ids and rooms. `topics open <topic id>` opens the room of that \
                  topic now, with its recent history; other topics get their room when a \
                  message arrives in them, and a sync opens the most recently active ones.",
        aliases: &["topic"],
        parse: |args| parse_topics(args).unwrap_or_else(|| help_on("topics")),
    },
    CommandSpec {
        name: "version",
        args: "",
        summary: "Show the bridge version",
        details: "Shows the version of tgbridge that is running.",
        aliases: &["--version", "-v"],
        parse: |_| Command::Version,
    },
];

/// Parses a message `body`. Returns `None` when the message is not meant for
/// the bot: empty, or without [`PREFIX`] outside the management room.
pub fn parse(body: &str, in_management_room: bool) -> Option<Command> {
    let body = body.trim();
    let text = match strip_prefix(body) {
        Some(rest) => rest,
        None if in_management_room => body,
        None => return None,
    };
    let mut words = text.split_whitespace();
    let Some(word) = words.next() else {
        // A bare `!tg` is a request for help.
        return (!body.is_empty()).then_some(Command::Help { topic: None });
    };
    let name = word.to_lowercase();
    let args: Vec<&str> = words.collect();
    if args.iter().any(|a| *a == "--help" || *a == "-h") {
        return Some(Command::Help { topic: Some(name) });
    }
    let spec = COMMANDS
        .iter()
        .find(|spec| spec.name == name || spec.aliases.contains(&name.as_str()));
    Some(match spec {
        Some(spec) => (spec.parse)(&args),
        None => Command::Unknown {
            suggestion: closest(&name),
            name,
        },
    })
}

/// `help <name>`: what a command becomes when its arguments make no sense.
fn help_on(name: &str) -> Command {
    Command::Help {
        topic: Some(name.to_owned()),
    }
}

/// `pm`: a phone number may be typed with spaces.
fn parse_pm(args: &[&str]) -> Command {
    match args.first() {
        Some(_) => Command::Pm {
            target: args.join(" "),
        },
        None => help_on("pm"),
    }
}

fn confirmed(args: &[&str]) -> bool {
    args.iter().any(|a| a.eq_ignore_ascii_case("confirm"))
}

/// The portal named in `unbridge`/`delete-portal` arguments, if any.
fn portal_target(args: &[&str]) -> Option<String> {
    args.iter()
        .find(|a| !a.eq_ignore_ascii_case("confirm"))
        .map(|a| (*a).to_owned())
}

/// `filter` arguments: none (show), or `allow|deny [chat]`; `None` when
/// they make no sense.
fn parse_filter(args: &[&str]) -> Option<Option<FilterChange>> {
    let Some(action) = args.first() else {
        return Some(None);
    };
    let allow = match action.to_lowercase().as_str() {
        "allow" | "whitelist" => true,
        "deny" | "blacklist" => false,
        _ => return None,
    };
    if args.len() > 2 {
        return None;
    }
    Some(Some(FilterChange {
        allow,
        target: args.get(1).map(|t| (*t).to_owned()),
    }))
}

/// `topics` arguments: an optional chat id, then optionally `open <topic
/// id>`; `None` when they make no sense.
fn parse_topics(args: &[&str]) -> Option<Command> {
    let mut chat = None;
    let mut open = None;
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if word.eq_ignore_ascii_case("open") {
            open = Some(words.next()?.parse::<i32>().ok().filter(|id| *id > 0)?);
        } else if chat.is_none() && word.parse::<i64>().is_ok() {
            chat = Some((*word).to_owned());
        } else {
            return None;
        }
    }
    Some(Command::Topics { chat, open })
}

/// `body` without the prefix, if it starts with the prefix as a whole word.
fn strip_prefix(body: &str) -> Option<&str> {
    let head = body.get(..PREFIX.len())?;
    if !head.eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let rest = &body[PREFIX.len()..];
    (rest.is_empty() || rest.starts_with(char::is_whitespace)).then_some(rest)
}

/// The known command closest to `name`, if it is plausibly a typo or an
/// abbreviation of it.
pub fn closest(name: &str) -> Option<&'static str> {
    let mut prefixed = COMMANDS.iter().filter(|c| c.name.starts_with(name));
    if let (Some(only), None) = (prefixed.next(), prefixed.next()) {
        if !name.is_empty() {
            return Some(only.name);
        }
    }
    let allowed = (name.chars().count() / 3).max(2);
    COMMANDS
        .iter()
        .map(|c| (strsim::damerau_levenshtein(name, c.name), c.name))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

/// How a command is typed in the given room.
fn invocation(name: &str, in_management_room: bool) -> String {
    if in_management_room {
        name.to_owned()
    } else {
        format!("{PREFIX} {name}")
    }
}

/// The answer to `help` (no topic) or `help <topic>`.
pub fn help(topic: Option<&str>, in_management_room: bool) -> Notice {
    match topic {
        None => overview(in_management_room),
        Some(topic) => match COMMANDS.iter().find(|c| c.name == topic) {
            Some(spec) => details(spec, in_management_room),
            None => unknown(topic, closest(topic), in_management_room),
        },
    }
}

fn overview(in_management_room: bool) -> Notice {
    let usages: Vec<(String, &str)> = COMMANDS.iter().map(|c| (usage(c), c.summary)).collect();
    let items: Vec<(&str, &str)> = usages.iter().map(|(u, s)| (u.as_str(), *s)).collect();
    let where_ = if in_management_room {
        format!("In this room commands need no prefix; in other rooms start them with `{PREFIX}`.")
    } else {
        format!("In this room start commands with `{PREFIX}`; in the management room no prefix is needed.")
    };
    Notice::new()
        .heading("Telegram bridge commands")
        .definitions(&items)
        .paragraph(&where_)
        .paragraph(&format!(
            "Send `{}` for details about one command.",
            invocation("help <command>", in_management_room)
        ))
}

fn usage(spec: &CommandSpec) -> String {
    if spec.args.is_empty() {
        spec.name.to_owned()
    } else {
        format!("{} {}", spec.name, spec.args)
    }
}

fn details(spec: &CommandSpec, in_management_room: bool) -> Notice {
    Notice::new()
        .heading(&format!("{} — {}", spec.name, spec.summary))
        .code_block(&format!(
            "Usage: {}",
            invocation(&usage(spec), in_management_room)
        ))
        .paragraph(spec.details)
}

/// The answer to an unknown command, suggesting the closest known one.
pub fn unknown(name: &str, suggestion: Option<&str>, in_management_room: bool) -> Notice {
    let help = invocation("help", in_management_room);
    match suggestion {
        Some(known) => Notice::text(&format!(
            "Unknown command `{name}`. Did you mean `{}`? Send `{help}` for the list of commands.",
            invocation(known, in_management_room)
        )),
        None => Notice::text(&format!(
            "Unknown command `{name}`. Send `{help}` for the list of commands."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn management_room_needs_no_prefix() {
        assert_eq!(parse("ping", true), Some(Command::Ping));
        assert_eq!(parse("  PING  ", true), Some(Command::Ping));
        assert_eq!(parse("!tg ping", true), Some(Command::Ping));
        assert_eq!(parse("", true), None);
        assert_eq!(parse("   ", true), None);
    }

    #[test]
    fn other_rooms_need_the_prefix_as_a_word() {
        assert_eq!(parse("ping", false), None);
        assert_eq!(parse("!tg ping", false), Some(Command::Ping));
        assert_eq!(parse("!TG version", false), Some(Command::Version));
        assert_eq!(parse("!tgping", false), None);
        assert_eq!(parse("!tg", false), Some(Command::Help { topic: None }));
        assert_eq!(parse("hello !tg ping", false), None);
    }

    #[test]
    fn help_takes_a_topic_and_dash_dash_help_works_everywhere() {
        assert_eq!(
            parse("help Logout", true),
            Some(Command::Help {
                topic: Some("logout".into())
            })
        );
        assert_eq!(
            parse("ping --help", true),
            Some(Command::Help {
                topic: Some("ping".into())
            })
        );
        assert_eq!(parse("help", true), Some(Command::Help { topic: None }));
    }

    #[test]
    fn pm_takes_a_target_and_id_none() {
        assert_eq!(
            parse("pm @bob", true),
            Some(Command::Pm {
                target: "@bob".into()
            })
        );
        assert_eq!(
            parse("pm +1 555 0004", true),
            Some(Command::Pm {
                target: "+1 555 0004".into()
            })
        );
        assert_eq!(
            parse("pm", true),
            Some(Command::Help {
                topic: Some("pm".into())
            })
        );
        assert_eq!(parse("!tg id", false), Some(Command::Id));
    }

    #[test]
    fn unbridge_and_delete_portal_need_confirmation() {
        assert_eq!(
            parse("!tg unbridge", false),
            Some(Command::Unbridge {
                confirmed: false,
                target: None
            })
        );
        assert_eq!(
            parse("!tg unbridge CONFIRM", false),
            Some(Command::Unbridge {
                confirmed: true,
                target: None
            })
        );
        assert_eq!(
            parse("!tg delete-portal confirm", false),
            Some(Command::DeletePortal {
                confirmed: true,
                target: None
            })
        );
        assert_eq!(
            parse("delete-portal -1001234 confirm", true),
            Some(Command::DeletePortal {
                confirmed: true,
                target: Some("-1001234".into())
            })
        );
        assert_eq!(
            parse("unbridge !room:localhost", true),
            Some(Command::Unbridge {
                confirmed: false,
                target: Some("!room:localhost".into())
            })
        );
    }

    #[test]
    fn filter_shows_or_changes() {
        assert_eq!(
            parse("filter", true),
            Some(Command::Filter { change: None })
        );
        assert_eq!(
            parse("filter deny -1001234", true),
            Some(Command::Filter {
                change: Some(FilterChange {
                    allow: false,
                    target: Some("-1001234".into())
                })
            })
        );
        assert_eq!(
            parse("!tg filter allow", false),
            Some(Command::Filter {
                change: Some(FilterChange {
                    allow: true,
                    target: None
                })
            })
        );
        assert_eq!(
            parse("filter maybe 5", true),
            Some(Command::Help {
                topic: Some("filter".into())
            })
        );
    }

    #[test]
    fn sync_all_lifts_the_limit() {
        assert_eq!(parse("sync all", true), Some(Command::Sync { all: true }));
        assert_eq!(parse("!tg sync", false), Some(Command::Sync { all: false }));
    }

    #[test]
    fn topics_lists_or_opens_one() {
        assert_eq!(
            parse("topics -1003000001 open 7", true),
            Some(Command::Topics {
                chat: Some("-1003000001".into()),
                open: Some(7),
            })
        );
        assert_eq!(
            parse("!tg topics open 12", false),
            Some(Command::Topics {
                chat: None,
                open: Some(12),
            })
        );
        for nonsense in ["topics open", "topics open x", "topics cats"] {
            assert_eq!(
                parse(nonsense, true),
                Some(Command::Help {
                    topic: Some("topics".into())
                }),
                "{nonsense}"
            );
        }
    }

    #[test]
    fn every_command_word_parses() {
        let expected = [
            ("help", Command::Help { topic: None }),
            ("version", Command::Version),
            ("ping", Command::Ping),
            ("cancel", Command::Cancel),
            ("logout", Command::Logout),
            ("login", Command::Login),
            ("sync", Command::Sync { all: false }),
            (
                "unbridge",
                Command::Unbridge {
                    confirmed: false,
                    target: None,
                },
            ),
            (
                "delete-portal",
                Command::DeletePortal {
                    confirmed: false,
                    target: None,
                },
            ),
            ("filter", Command::Filter { change: None }),
            (
                "topics",
                Command::Topics {
                    chat: None,
                    open: None,
                },
            ),
        ];
        for (word, command) in expected {
            assert_eq!(parse(word, true), Some(command), "{word}");
            assert!(
                COMMANDS.iter().any(|c| c.name == word),
                "{word} is documented"
            );
        }
    }

    #[test]
    fn unknown_commands_suggest_the_closest_one() {
        let unknown = |body: &str| match parse(body, true) {
            Some(Command::Unknown { suggestion, .. }) => suggestion,
            other => panic!("{body}: {other:?}"),
        };
        assert_eq!(unknown("hlep"), Some("help"));
        assert_eq!(unknown("pnig"), Some("ping"));
        assert_eq!(unknown("logot"), Some("logout"));
        assert_eq!(unknown("verison"), Some("version"));
        assert_eq!(unknown("ver"), Some("version"));
        assert_eq!(unknown("synchronize"), None);
        assert_eq!(unknown("good morning"), None);
    }

    #[test]
    fn unknown_answer_names_the_suggestion_with_the_right_prefix() {
        let notice = unknown("hlep", Some("help"), false);
        assert_eq!(
            notice.plain,
            "Unknown command `hlep`. Did you mean `!tg help`? Send `!tg help` for the list of commands."
        );
        assert!(notice.html.contains("<code>!tg help</code>"));
        let notice = unknown("xyz", None, true);
        assert_eq!(
            notice.plain,
            "Unknown command `xyz`. Send `help` for the list of commands."
        );
    }

    #[test]
    fn overview_lists_every_command() {
        let notice = help(None, true);
        for spec in COMMANDS {
            assert!(notice.plain.contains(spec.summary), "{}", spec.name);
            assert!(
                notice.html.contains(&format!("<code>{}", spec.name)),
                "{}",
                spec.name
            );
        }
        assert!(notice.plain.contains("need no prefix"));
    }

    #[test]
    fn details_show_usage_for_the_room() {
        let notice = help(Some("help"), false);
        assert!(
            notice.plain.contains("Usage: !tg help [command]"),
            "{}",
            notice.plain
        );
        let notice = help(Some("ping"), true);
        assert!(notice.plain.contains("Usage: ping"), "{}", notice.plain);
        let notice = help(Some("hlep"), true);
        assert!(notice
            .plain
            .starts_with("Unknown command `hlep`. Did you mean `help`?"));
    }
}
