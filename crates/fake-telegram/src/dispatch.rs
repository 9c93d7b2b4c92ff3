//! Routes one decoded RPC call to its handler: unwraps the generic wrappers
//! (`invokeWithLayer`, `initConnection`, `invokeWithoutUpdates`, …), applies
//! the test faults, answers `help.getConfig`, hands `auth.*` to the auth
//! flows and everything else to the world (logged-in keys only), and records
//! the call in the request log. Never sees the session layer's bytes.

use std::sync::Arc;

use grammers_tl_types::{self as tl, Cursor, Deserializable, Identifiable, Serializable};
use tracing::{debug, warn};

use crate::auth::AuthCall;
use crate::mtproto::session::{self, constructor_id};
use crate::server::Shared;
use crate::world::{self, CallCtx};
use crate::RpcError;

/// The rest of a buffer, for deserializing generic wrappers whose inner
/// query is itself a serialized call.
struct Rest(Vec<u8>);

impl Deserializable for Rest {
    fn deserialize(buf: &mut Cursor) -> tl::deserialize::Result<Self> {
        let mut rest = Vec::new();
        buf.read_to_end(&mut rest)?;
        Ok(Rest(rest))
    }
}

fn invalid_request() -> RpcError {
    RpcError::bad_request("INPUT_REQUEST_INVALID")
}

/// Strips wrapper calls until the actual method remains. Wrappers nest
/// (grammers sends `invokeWithLayer(initConnection(help.getConfig))`).
pub fn unwrap_wrappers(mut body: Vec<u8>) -> Result<Vec<u8>, RpcError> {
    use tl::functions::{
        InitConnection, InvokeAfterMsg, InvokeAfterMsgs, InvokeWithLayer, InvokeWithoutUpdates,
    };
    // Bounded: a hostile client could otherwise nest wrappers forever.
    for _ in 0..8 {
        let id = constructor_id(&body).ok_or_else(invalid_request)?;
        let args = &body[4..];
        let inner = match id {
            InvokeWithLayer::<Rest>::CONSTRUCTOR_ID => {
                InvokeWithLayer::<Rest>::from_bytes(args).map(|w| w.query.0)
            }
            InitConnection::<Rest>::CONSTRUCTOR_ID => {
                InitConnection::<Rest>::from_bytes(args).map(|w| w.query.0)
            }
            InvokeWithoutUpdates::<Rest>::CONSTRUCTOR_ID => {
                InvokeWithoutUpdates::<Rest>::from_bytes(args).map(|w| w.query.0)
            }
            InvokeAfterMsg::<Rest>::CONSTRUCTOR_ID => {
                InvokeAfterMsg::<Rest>::from_bytes(args).map(|w| w.query.0)
            }
            InvokeAfterMsgs::<Rest>::CONSTRUCTOR_ID => {
                InvokeAfterMsgs::<Rest>::from_bytes(args).map(|w| w.query.0)
            }
            session::GZIP_PACKED => return session::gunzip(args).map_err(|_| invalid_request()),
            _ => return Ok(body),
        };
        body = inner.map_err(|_| invalid_request())?;
    }
    Err(invalid_request())
}

/// The TL name of the method a request calls, e.g. `auth.signIn`.
pub fn method_name(request: &[u8]) -> &'static str {
    constructor_id(request)
        .map(tl::name_for_id)
        .unwrap_or("(empty)")
}

/// `config` pointing every DC at this fake: grammers writes each option back
/// into its session, so nothing but loopback may ever appear here. `this_dc`
/// is the DC the world says its files live on (the clients' home DC).
pub fn config(port: u16, this_dc: i32) -> tl::enums::Config {
    let dc_options = (1..=5)
        .map(|id| {
            tl::enums::DcOption::Option(tl::types::DcOption {
                ipv6: false,
                media_only: false,
                tcpo_only: false,
                cdn: false,
                r#static: false,
                this_port_only: false,
                id,
                ip_address: "127.0.0.1".into(),
                port: i32::from(port),
                secret: None,
            })
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i32;
    tl::enums::Config::Config(tl::types::Config {
        default_p2p_contacts: false,
        preload_featured_stickers: false,
        revoke_pm_inbox: true,
        blocked_mode: false,
        force_try_ipv6: false,
        date: now,
        expires: now + 3600,
        test_mode: false,
        this_dc,
        dc_options,
        dc_txt_domain_name: "localhost".into(),
        chat_size_max: 200,
        megagroup_size_max: 200_000,
        forwarded_count_max: 100,
        online_update_period_ms: 210_000,
        offline_blur_timeout_ms: 5_000,
        offline_idle_timeout_ms: 30_000,
        online_cloud_timeout_ms: 300_000,
        notify_cloud_delay_ms: 30_000,
        notify_default_delay_ms: 1_500,
        push_chat_period_ms: 60_000,
        push_chat_limit: 2,
        edit_time_limit: 172_800,
        revoke_time_limit: i32::MAX,
        revoke_pm_time_limit: i32::MAX,
        rating_e_decay: 2_419_200,
        stickers_recent_limit: 200,
        channels_read_media_period: 604_800,
        tmp_sessions: None,
        call_receive_timeout_ms: 20_000,
        call_ring_timeout_ms: 90_000,
        call_connect_timeout_ms: 30_000,
        call_packet_timeout_ms: 10_000,
        me_url_prefix: "https://t.me/".into(),
        autoupdate_url_prefix: None,
        gif_search_username: None,
        venue_search_username: None,
        img_search_username: None,
        static_maps_provider: None,
        caption_length_max: 1024,
        message_length_max: 4096,
        webfile_dc_id: 4,
        suggested_lang_code: None,
        lang_pack_version: None,
        base_lang_pack_version: None,
        reactions_default: None,
        autologin_token: None,
    })
}

/// Answers one RPC call that arrived on `connection` using `auth_key_id`:
/// the serialized boxed result or the error to send back.
pub(crate) async fn dispatch(
    shared: Arc<Shared>,
    auth_key_id: i64,
    connection: u64,
    request: Vec<u8>,
) -> Result<Vec<u8>, RpcError> {
    let request = match unwrap_wrappers(request) {
        Ok(request) => request,
        Err(e) => {
            shared
                .control
                .record("(malformed)", shared.auth.account(auth_key_id), Some(&e));
            return Err(e);
        }
    };
    let method = method_name(&request);
    let result = match shared.control.before_call(method).await {
        Some(injected) => Err(injected),
        None => {
            let handler_shared = shared.clone();
            // Auth (SRP) and world handlers are synchronous and may be slow or
            // lock the world: keep them off the async workers.
            tokio::task::spawn_blocking(move || {
                route(&handler_shared, auth_key_id, connection, &request)
            })
            .await
            .unwrap_or_else(|_| {
                warn!(method, "handler panicked");
                Err(RpcError::new(500, "FAKE_HANDLER_PANICKED"))
            })
        }
    };
    shared.control.before_answer(method).await;
    let account = shared.auth.account(auth_key_id);
    match &result {
        Ok(_) => debug!(method, ?account, "answered"),
        Err(e) => debug!(method, ?account, error = %e, "answered with error"),
    }
    shared
        .control
        .record(method, account, result.as_ref().err());
    result
}

/// Synchronous routing of an unwrapped request.
fn route(
    shared: &Shared,
    auth_key_id: i64,
    connection: u64,
    request: &[u8],
) -> Result<Vec<u8>, RpcError> {
    let id = constructor_id(request).ok_or_else(invalid_request)?;
    if id == tl::functions::help::GetConfig::CONSTRUCTOR_ID {
        let this_dc = shared
            .world
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .dc_id();
        return Ok(config(shared.port, this_dc).to_bytes());
    }
    if let Some(call) = AuthCall::parse(request) {
        return shared.auth.handle(&shared.world, auth_key_id, call?);
    }
    let account = shared
        .auth
        .account(auth_key_id)
        .ok_or_else(|| shared.auth.unauthorized(auth_key_id))?;
    let ctx = CallCtx {
        account,
        auth_key_id,
    };
    let answer = {
        let mut world = shared.world.lock().unwrap_or_else(|e| e.into_inner());
        world::rpc::handle(&mut world, &ctx, request)
    };
    let Some(result) = answer else {
        warn!(method = method_name(request), "FAKE_METHOD_NOT_IMPLEMENTED");
        return Err(RpcError::not_implemented());
    };
    // A fresh client starts its update stream with getState; one resuming
    // from a saved state (catch_up) starts with getDifference, or only with
    // getChannelDifference when its common box is empty, and never calls
    // getState. Either way this connection now expects live pushes.
    let starts_updates = id == tl::functions::updates::GetState::CONSTRUCTOR_ID
        || id == tl::functions::updates::GetDifference::CONSTRUCTOR_ID
        || id == tl::functions::updates::GetChannelDifference::CONSTRUCTOR_ID;
    if starts_updates && result.is_ok() {
        shared.auth.subscribe(auth_key_id, connection);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_wrappers_unwrap_to_the_method() {
        let inner = tl::functions::help::GetConfig {};
        let wrapped = tl::functions::InvokeWithLayer {
            layer: tl::LAYER,
            query: tl::functions::InitConnection {
                api_id: 1,
                device_model: "d".into(),
                system_version: "s".into(),
                app_version: "a".into(),
                system_lang_code: "en".into(),
                lang_pack: "".into(),
                lang_code: "en".into(),
                proxy: None,
                params: None,
                query: tl::functions::InvokeWithoutUpdates {
                    query: inner.clone(),
                },
            },
        };
        let unwrapped = unwrap_wrappers(wrapped.to_bytes()).unwrap();
        assert_eq!(unwrapped, inner.to_bytes());
        assert_eq!(method_name(&unwrapped), "help.getConfig");
    }

    #[test]
    fn truncated_wrapper_is_an_rpc_error() {
        let mut bytes = tl::functions::InvokeWithLayer {
            layer: 1,
            query: tl::functions::help::GetConfig {},
        }
        .to_bytes();
        bytes.truncate(6);
        assert_eq!(unwrap_wrappers(bytes), Err(invalid_request()));
    }

    #[test]
    fn config_only_points_at_loopback() {
        let tl::enums::Config::Config(config) = config(4242, 2);
        assert_eq!(config.dc_options.len(), 5);
        for option in config.dc_options {
            let tl::enums::DcOption::Option(o) = option;
            assert_eq!((o.ip_address.as_str(), o.port), ("127.0.0.1", 4242));
        }
    }
}
