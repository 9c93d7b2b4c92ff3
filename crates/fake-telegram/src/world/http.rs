//! The world half of the control API over HTTP (JSON), for black-box tests
//! and benchmarks driving the `fake-telegram` binary. Every route maps to
//! one control method of [`World`]; this module only translates JSON and
//! errors, and never holds the lock across an await.
//!
//! Users and chats are named by their world-file key (`"bob"`) or their id
//! (`1000002`). Routes (all `POST` with a JSON body unless noted):
//!
//! | route | body | answer |
//! |---|---|---|
//! | `GET /peers` | – | `{name: {type, id}}` for every world-file key |
//! | `GET /users` | – | `[{id, first_name, username, bot}]` |
//! | `/users` | a world-file user entry | `{id}` |
//! | `/users/rename` | `{user, first_name, last_name?}` | `{}` |
//! | `/messages` | `{from, to, text, reply_to?, topic?, media?, silent?}` | `{id}` (as `from` sees it) |
//! | `/messages/edit` | `{by, peer, id, text}` | `{}` |
//! | `/messages/delete` | `{by, peer, ids, revoke}` | `{}` |
//! | `/messages/react` | `{by, peer, id, emoji?}` | `{}` |
//! | `/messages/pin` | `{by, peer, id, pinned}` | `{}` |
//! | `/typing` | `{by, peer}` | `{}` |
//! | `/dialogs` | `{user, peer, pinned?, archived?}` | `{}` |
//! | `/read` | `{by, peer, max_id}` | `{}` |
//! | `/history` | `{viewer, peer}` | `[message]`, oldest first |
//! | `/groups` | `{creator, title, members}` | `{id}` |
//! | `/channels` | `{creator, title, about?, broadcast, members?, username?, signatures?}` | `{id}` |
//! | `/members/add` | `{by, peer, users}` | `{}` |
//! | `/members/remove` | `{by, peer, user}` | `{}` |
//! | `/admins` | `{by, channel, user, admin}` | `{}` |
//! | `/title` | `{by, peer, title}` | `{}` |
//! | `/about` | `{peer, about}` | `{}` |
//! | `/migrate` | `{by, chat}` | `{id}` of the supergroup |
//! | `/forum` | `{by, peer, enabled}` | `{}` |
//! | `/topics` | `{by, peer, title, icon_color?, icon_emoji_id?}` | `{id}` of the topic |
//! | `/topics/edit` | `{by, peer, topic, title?, icon_emoji_id?, closed?, hidden?}` | `{}` |
//! | `/topics/pin` | `{by, peer, topic, pinned}` | `{}` |
//! | `/quirks` | `{difference_slice?, too_long_account?, too_long_channel?}` | `{}` |
//!
//! Errors answer `400 {"error": "<TELEGRAM_ERROR>"}` (or 404 for unknown names).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::control::{MediaSpec, OutgoingMessage};
use super::manage::no_admin_rights;
use super::peers::Peer;
use super::spec::UserEntry;
use super::{ChannelId, Origin, SharedWorld, UserId, World};
use crate::RpcError;

/// The control routes, to be nested under a prefix of the caller's choice.
pub fn router(world: SharedWorld) -> Router {
    Router::new()
        .route("/peers", get(peers))
        .route("/users", get(list_users).post(add_user))
        .route("/users/rename", post(rename_user))
        .route("/messages", post(send))
        .route("/messages/edit", post(edit))
        .route("/messages/delete", post(delete))
        .route("/messages/react", post(react))
        .route("/messages/pin", post(pin))
        .route("/typing", post(typing))
        .route("/dialogs", post(dialog))
        .route("/read", post(read))
        .route("/history", post(history))
        .route("/groups", post(create_group))
        .route("/channels", post(create_channel))
        .route("/members/add", post(add_members))
        .route("/members/remove", post(remove_member))
        .route("/admins", post(admins))
        .route("/title", post(title))
        .route("/about", post(about))
        .route("/migrate", post(migrate))
        .route("/forum", post(forum))
        .route("/topics", post(create_topic))
        .route("/topics/edit", post(edit_topic))
        .route("/topics/pin", post(pin_topic))
        .route("/quirks", post(quirks))
        .with_state(world)
}

/// A user or chat named by world-file key or by id.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Name {
    /// An id.
    Id(i64),
    /// A world-file key or a username.
    Key(String),
}

/// Why a control call failed.
#[derive(Debug)]
enum ApiError {
    Unknown(String),
    Telegram(RpcError),
    Poisoned,
}

impl From<RpcError> for ApiError {
    fn from(e: RpcError) -> Self {
        ApiError::Telegram(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error) = match self {
            ApiError::Unknown(name) => (
                StatusCode::NOT_FOUND,
                format!("unknown user or chat `{name}`"),
            ),
            ApiError::Telegram(e) => (StatusCode::BAD_REQUEST, e.name),
            ApiError::Poisoned => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "world lock poisoned".to_owned(),
            ),
        };
        (status, Json(json!({ "error": error }))).into_response()
    }
}

type Answer = Result<Json<Value>, ApiError>;

/// Runs `f` with the world locked (never across an await).
fn with_world<T>(
    world: &SharedWorld,
    f: impl FnOnce(&mut World) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut guard = world.lock().map_err(|_| ApiError::Poisoned)?;
    f(&mut guard)
}

fn resolve(world: &World, name: &Name) -> Result<Peer, ApiError> {
    let found = match name {
        Name::Id(id) => world.peer_by_id(*id),
        Name::Key(key) => world
            .peer_by_name(key)
            .or_else(|| world.resolve_username(key)),
    };
    found.ok_or_else(|| {
        ApiError::Unknown(match name {
            Name::Id(id) => id.to_string(),
            Name::Key(key) => key.clone(),
        })
    })
}

fn resolve_user(world: &World, name: &Name) -> Result<UserId, ApiError> {
    match resolve(world, name)? {
        Peer::User(id) => Ok(id),
        _ => Err(ApiError::Telegram(RpcError::bad_request("USER_ID_INVALID"))),
    }
}

/// The acting user and the peer acted on, as most routes name them.
fn resolve_by_peer(world: &World, by: &Name, peer: &Name) -> Result<(UserId, Peer), ApiError> {
    Ok((resolve_user(world, by)?, resolve(world, peer)?))
}

/// Every user of a member list; the first unknown name fails the call.
fn resolve_users(world: &World, names: &[Name]) -> Result<Vec<UserId>, ApiError> {
    names.iter().map(|m| resolve_user(world, m)).collect()
}

fn done() -> Answer {
    Ok(Json(json!({})))
}

async fn peers(State(world): State<SharedWorld>) -> Answer {
    with_world(&world, |w| {
        let map: serde_json::Map<String, Value> =
            w.names().map(|(k, p)| (k.to_owned(), json!(p))).collect();
        Ok(Json(Value::Object(map)))
    })
}

async fn list_users(State(world): State<SharedWorld>) -> Answer {
    with_world(&world, |w| {
        let users: Vec<Value> = w
            .users()
            .iter()
            .map(|u| json!({ "id": u.id, "first_name": u.spec.first_name, "username": u.spec.username, "bot": u.spec.bot }))
            .collect();
        Ok(Json(Value::Array(users)))
    })
}

async fn add_user(State(world): State<SharedWorld>, Json(entry): Json<UserEntry>) -> Answer {
    with_world(&world, |w| {
        let id = w
            .add_user_entry(&entry)
            .map_err(|e| ApiError::Telegram(RpcError::bad_request(e.to_string())))?;
        for contact in &entry.contacts {
            let other = resolve_user(w, &Name::Key(contact.clone()))?;
            w.add_contact(id, other);
        }
        Ok(Json(json!({ "id": id })))
    })
}

#[derive(Deserialize)]
struct RenameBody {
    user: Name,
    first_name: String,
    last_name: Option<String>,
}

async fn rename_user(State(world): State<SharedWorld>, Json(b): Json<RenameBody>) -> Answer {
    with_world(&world, |w| {
        let user = resolve_user(w, &b.user)?;
        w.rename_user(user, &b.first_name, b.last_name.as_deref())?;
        done()
    })
}

#[derive(Deserialize)]
struct SendBody {
    from: Name,
    to: Name,
    #[serde(default)]
    text: String,
    reply_to: Option<i32>,
    topic: Option<i32>,
    media: Option<MediaSpec>,
    #[serde(default)]
    silent: bool,
}

async fn send(State(world): State<SharedWorld>, Json(b): Json<SendBody>) -> Answer {
    with_world(&world, |w| {
        let from = resolve_user(w, &b.from)?;
        let to = resolve(w, &b.to)?;
        let message = OutgoingMessage {
            text: b.text,
            reply_to: b.reply_to,
            topic: b.topic,
            media: b.media,
            silent: b.silent,
            ..Default::default()
        };
        let id = w.send_message(from, to, message)?;
        Ok(Json(json!({ "id": id })))
    })
}

#[derive(Deserialize)]
struct EditBody {
    by: Name,
    peer: Name,
    id: i32,
    text: String,
}

async fn edit(State(world): State<SharedWorld>, Json(b): Json<EditBody>) -> Answer {
    with_world(&world, |w| {
        let (by, peer) = resolve_by_peer(w, &b.by, &b.peer)?;
        w.edit_text(by, peer, b.id, &b.text)?;
        done()
    })
}

#[derive(Deserialize)]
struct DeleteBody {
    by: Name,
    peer: Name,
    ids: Vec<i32>,
    #[serde(default = "yes")]
    revoke: bool,
}

fn yes() -> bool {
    true
}

async fn delete(State(world): State<SharedWorld>, Json(b): Json<DeleteBody>) -> Answer {
    with_world(&world, |w| {
        let (by, peer) = resolve_by_peer(w, &b.by, &b.peer)?;
        w.delete(by, peer, &b.ids, b.revoke)?;
        done()
    })
}

#[derive(Deserialize)]
struct ReactBody {
    by: Name,
    peer: Name,
    id: i32,
    emoji: Option<String>,
}

async fn react(State(world): State<SharedWorld>, Json(b): Json<ReactBody>) -> Answer {
    with_world(&world, |w| {
        let (by, peer) = resolve_by_peer(w, &b.by, &b.peer)?;
        w.react(by, peer, b.id, b.emoji.as_deref())?;
        done()
    })
}

#[derive(Deserialize)]
struct PinBody {
    by: Name,
    peer: Name,
    id: i32,
    #[serde(default = "yes")]
    pinned: bool,
}

async fn pin(State(world): State<SharedWorld>, Json(b): Json<PinBody>) -> Answer {
    with_world(&world, |w| {
        let (by, peer) = resolve_by_peer(w, &b.by, &b.peer)?;
        w.pin(by, peer, b.id, b.pinned)?;
        done()
    })
}

#[derive(Deserialize)]
struct ByPeer {
    by: Name,
    peer: Name,
    #[serde(default)]
    max_id: i32,
}

async fn typing(State(world): State<SharedWorld>, Json(b): Json<ByPeer>) -> Answer {
    with_world(&world, |w| {
        let (by, peer) = resolve_by_peer(w, &b.by, &b.peer)?;
        w.typing(by, peer)?;
        done()
    })
}

async fn read(State(world): State<SharedWorld>, Json(b): Json<ByPeer>) -> Answer {
    with_world(&world, |w| {
        let (by, peer) = resolve_by_peer(w, &b.by, &b.peer)?;
        w.read(by, peer, b.max_id)?;
        done()
    })
}

#[derive(Deserialize)]
struct DialogBody {
    user: Name,
    peer: Name,
    pinned: Option<bool>,
    archived: Option<bool>,
}

async fn dialog(State(world): State<SharedWorld>, Json(b): Json<DialogBody>) -> Answer {
    with_world(&world, |w| {
        let (user, peer) = resolve_by_peer(w, &b.user, &b.peer)?;
        if let Some(pinned) = b.pinned {
            w.set_dialog_pinned(user, peer, pinned);
        }
        if let Some(archived) = b.archived {
            w.set_dialog_folder(user, peer, i32::from(archived));
        }
        done()
    })
}

#[derive(Deserialize)]
struct HistoryBody {
    viewer: Name,
    peer: Name,
}

async fn history(State(world): State<SharedWorld>, Json(b): Json<HistoryBody>) -> Answer {
    with_world(&world, |w| {
        let (viewer, peer) = resolve_by_peer(w, &b.viewer, &b.peer)?;
        Ok(Json(json!(w.history(viewer, peer))))
    })
}

#[derive(Deserialize)]
struct GroupBody {
    creator: Name,
    title: String,
    #[serde(default)]
    members: Vec<Name>,
}

async fn create_group(State(world): State<SharedWorld>, Json(b): Json<GroupBody>) -> Answer {
    with_world(&world, |w| {
        let creator = resolve_user(w, &b.creator)?;
        let members = resolve_users(w, &b.members)?;
        let id = w.create_group(creator, &b.title, &members)?;
        Ok(Json(json!({ "id": id })))
    })
}

#[derive(Deserialize)]
struct ChannelBody {
    creator: Name,
    title: String,
    #[serde(default)]
    about: String,
    #[serde(default)]
    broadcast: bool,
    #[serde(default)]
    members: Vec<Name>,
    username: Option<String>,
    #[serde(default)]
    signatures: bool,
}

async fn create_channel(State(world): State<SharedWorld>, Json(b): Json<ChannelBody>) -> Answer {
    with_world(&world, |w| {
        let creator = resolve_user(w, &b.creator)?;
        let members = resolve_users(w, &b.members)?;
        let id = w.create_channel(creator, &b.title, &b.about, b.broadcast)?;
        w.set_channel_username(id, b.username.as_deref())?;
        if b.signatures {
            w.set_channel_signatures(id, true)?;
        }
        let others: Vec<UserId> = members.into_iter().filter(|&m| m != creator).collect();
        if !others.is_empty() {
            w.channel_invite(Origin::control(creator), id, &others)?;
        }
        Ok(Json(json!({ "id": id })))
    })
}

#[derive(Deserialize)]
struct MembersBody {
    by: Name,
    peer: Name,
    users: Vec<Name>,
}

async fn add_members(State(world): State<SharedWorld>, Json(b): Json<MembersBody>) -> Answer {
    with_world(&world, |w| {
        let (by, peer) = resolve_by_peer(w, &b.by, &b.peer)?;
        let users = resolve_users(w, &b.users)?;
        match peer {
            Peer::Chat(chat) => w
                .add_chat_members(Origin::control(by), chat, &users)
                .map(|_| ())?,
            Peer::Channel(channel) => w
                .channel_invite(Origin::control(by), channel, &users)
                .map(|_| ())?,
            Peer::User(_) => return Err(RpcError::peer_id_invalid().into()),
        }
        done()
    })
}

#[derive(Deserialize)]
struct RemoveBody {
    by: Name,
    peer: Name,
    user: Name,
}

async fn remove_member(State(world): State<SharedWorld>, Json(b): Json<RemoveBody>) -> Answer {
    with_world(&world, |w| {
        let (by, peer) = resolve_by_peer(w, &b.by, &b.peer)?;
        let user = resolve_user(w, &b.user)?;
        match peer {
            Peer::Chat(chat) => w
                .remove_chat_member(Origin::control(by), chat, user)
                .map(|_| ())?,
            Peer::Channel(channel) if by == user => {
                w.channel_leave(Origin::control(by), channel)?
            }
            Peer::Channel(channel) => {
                let mut rights = super::chats::no_banned_rights();
                rights.view_messages = true;
                w.channel_ban(Origin::control(by), channel, user, rights)?
            }
            Peer::User(_) => return Err(RpcError::peer_id_invalid().into()),
        }
        done()
    })
}

#[derive(Deserialize)]
struct AdminBody {
    by: Name,
    channel: Name,
    user: Name,
    #[serde(default = "yes")]
    admin: bool,
}

async fn admins(State(world): State<SharedWorld>, Json(b): Json<AdminBody>) -> Answer {
    with_world(&world, |w| {
        let (by, peer) = resolve_by_peer(w, &b.by, &b.channel)?;
        let user = resolve_user(w, &b.user)?;
        match peer {
            Peer::Channel(channel) => {
                let rights = if b.admin {
                    super::chats::all_admin_rights()
                } else {
                    no_admin_rights()
                };
                w.promote(Origin::control(by), channel, user, rights, None)?;
            }
            Peer::Chat(chat) => w.set_chat_admin(chat, user, b.admin)?,
            Peer::User(_) => return Err(RpcError::peer_id_invalid().into()),
        }
        done()
    })
}

#[derive(Deserialize)]
struct TitleBody {
    by: Name,
    peer: Name,
    title: String,
}

async fn title(State(world): State<SharedWorld>, Json(b): Json<TitleBody>) -> Answer {
    with_world(&world, |w| {
        let (by, peer) = resolve_by_peer(w, &b.by, &b.peer)?;
        w.edit_title(Origin::control(by), peer, &b.title)?;
        done()
    })
}

#[derive(Deserialize)]
struct ForumBody {
    by: Name,
    peer: Name,
    enabled: bool,
}

/// Turns the forum flag of a supergroup on or off.
async fn forum(State(world): State<SharedWorld>, Json(b): Json<ForumBody>) -> Answer {
    with_world(&world, |w| {
        let (by, channel) = resolve_by_channel(w, &b.by, &b.peer)?;
        w.toggle_forum(Origin::control(by), channel, b.enabled)?;
        done()
    })
}

#[derive(Deserialize)]
struct TopicBody {
    by: Name,
    peer: Name,
    title: String,
    icon_color: Option<i32>,
    icon_emoji_id: Option<i64>,
}

/// Creates a topic; answers its id.
async fn create_topic(State(world): State<SharedWorld>, Json(b): Json<TopicBody>) -> Answer {
    with_world(&world, |w| {
        let (by, channel) = resolve_by_channel(w, &b.by, &b.peer)?;
        let id = w.create_topic(by, channel, &b.title, b.icon_color, b.icon_emoji_id)?;
        Ok(Json(json!({ "id": id })))
    })
}

#[derive(Deserialize)]
struct EditTopicBody {
    by: Name,
    peer: Name,
    topic: i32,
    #[serde(flatten)]
    edit: super::TopicEdit,
}

/// Renames, re-icons, closes, reopens or hides a topic.
async fn edit_topic(State(world): State<SharedWorld>, Json(b): Json<EditTopicBody>) -> Answer {
    with_world(&world, |w| {
        let (by, channel) = resolve_by_channel(w, &b.by, &b.peer)?;
        w.edit_topic(by, channel, b.topic, b.edit)?;
        done()
    })
}

#[derive(Deserialize)]
struct PinTopicBody {
    by: Name,
    peer: Name,
    topic: i32,
    pinned: bool,
}

/// Pins or unpins a topic.
async fn pin_topic(State(world): State<SharedWorld>, Json(b): Json<PinTopicBody>) -> Answer {
    with_world(&world, |w| {
        let (by, channel) = resolve_by_channel(w, &b.by, &b.peer)?;
        w.pin_topic(by, channel, b.topic, b.pinned)?;
        done()
    })
}

/// The acting user and the channel a forum call names.
fn resolve_by_channel(w: &World, by: &Name, peer: &Name) -> Result<(UserId, ChannelId), ApiError> {
    match resolve_by_peer(w, by, peer)? {
        (by, Peer::Channel(channel)) => Ok((by, channel)),
        _ => Err(ApiError::Telegram(RpcError::bad_request("CHANNEL_INVALID"))),
    }
}

#[derive(Deserialize)]
struct AboutBody {
    peer: Name,
    about: String,
}

async fn about(State(world): State<SharedWorld>, Json(b): Json<AboutBody>) -> Answer {
    with_world(&world, |w| {
        let peer = resolve(w, &b.peer)?;
        w.set_about(peer, &b.about)?;
        done()
    })
}

#[derive(Deserialize)]
struct MigrateBody {
    by: Name,
    chat: Name,
}

async fn migrate(State(world): State<SharedWorld>, Json(b): Json<MigrateBody>) -> Answer {
    with_world(&world, |w| {
        let by = resolve_user(w, &b.by)?;
        let Peer::Chat(chat) = resolve(w, &b.chat)? else {
            return Err(RpcError::bad_request("CHAT_ID_INVALID").into());
        };
        let id = w.migrate_chat(Origin::control(by), chat)?;
        Ok(Json(json!({ "id": id })))
    })
}

#[derive(Deserialize)]
struct QuirksBody {
    difference_slice: Option<usize>,
    too_long_account: Option<Name>,
    too_long_channel: Option<Name>,
}

async fn quirks(State(world): State<SharedWorld>, Json(b): Json<QuirksBody>) -> Answer {
    with_world(&world, |w| {
        if let Some(n) = b.difference_slice {
            w.quirks.difference_slice = n.max(1);
        }
        if let Some(name) = &b.too_long_account {
            let user = resolve_user(w, name)?;
            w.quirks.too_long_accounts.insert(user);
        }
        if let Some(name) = &b.too_long_channel {
            let Peer::Channel(channel) = resolve(w, name)? else {
                return Err(RpcError::bad_request("CHANNEL_INVALID").into());
            };
            w.quirks.too_long_channels.insert(channel);
        }
        done()
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    async fn call(app: &Router, path: &str, body: Value) -> (StatusCode, Value) {
        use tower::ServiceExt;
        let request = axum::http::Request::post(path)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// Calls a route that must succeed; returns its answer.
    async fn call_ok(app: &Router, path: &str, body: Value) -> Value {
        let (status, answer) = call(app, path, body).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        answer
    }

    #[tokio::test]
    async fn control_routes_drive_the_world() {
        let world: SharedWorld = Arc::new(Mutex::new(World::new()));
        let app = router(world.clone());
        for key in ["alice", "bob"] {
            call_ok(&app, "/users", json!({ "key": key, "first_name": key })).await;
        }
        let group = call_ok(
            &app,
            "/groups",
            json!({ "creator": "alice", "title": "G", "members": ["bob"] }),
        )
        .await;
        let group_id = group["id"].as_i64().unwrap();
        call_ok(
            &app,
            "/messages",
            json!({ "from": "bob", "to": group_id, "text": "hi" }),
        )
        .await;
        let (_, history) = call(
            &app,
            "/history",
            json!({ "viewer": "alice", "peer": group_id }),
        )
        .await;
        assert_eq!(history[1]["text"], "hi");
        assert_eq!(history[0]["service"], "ChatCreate");
        let (status, err) = call(
            &app,
            "/messages",
            json!({ "from": "nobody", "to": "alice", "text": "x" }),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
        let (status, err) = call(
            &app,
            "/messages/edit",
            json!({ "by": "alice", "peer": group_id, "id": 2, "text": "x" }),
        )
        .await;
        assert_eq!(
            (status, err["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("MESSAGE_AUTHOR_REQUIRED"))
        );
        call_ok(
            &app,
            "/dialogs",
            json!({ "user": "alice", "peer": group_id, "pinned": true, "archived": true }),
        )
        .await;
        call_ok(
            &app,
            "/users/rename",
            json!({ "user": "bob", "first_name": "Robert" }),
        )
        .await;
        let w = world.lock().unwrap();
        let state = w.dialog_state(
            w.peer_by_name("alice")
                .and_then(|p| match p {
                    Peer::User(id) => Some(id),
                    _ => None,
                })
                .unwrap(),
            Peer::Chat(group_id),
        );
        assert!(state.pinned && state.folder_id == 1);
        assert!(w.users().iter().any(|u| u.spec.first_name == "Robert"));
    }
}
