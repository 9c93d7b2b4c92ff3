//! `users.*`, `contacts.*` and `photos.getUserPhotos`: who people are.

use grammers_tl_types::{self as tl, functions as f};

use super::{clamp_limit, encode, route};
use crate::world::build::PeerSet;
use crate::world::peers::Peer;
use crate::world::{CallCtx, World};
use crate::RpcError;

pub(super) fn handle(
    world: &mut World,
    ctx: &CallCtx,
    id: u32,
    body: &[u8],
) -> Option<Result<Vec<u8>, RpcError>> {
    let me = ctx.account;
    route!(id, body, {
        f::users::GetUsers => |r: f::users::GetUsers| {
            // Telegram leaves out users whose access hash is wrong.
            let users: Vec<tl::enums::User> = r
                .id
                .iter()
                .filter_map(|u| world.resolve_user(me, u).ok())
                .filter_map(|u| world.tl_user(u, me))
                .collect();
            encode(users)
        },
        f::users::GetFullUser => |r: f::users::GetFullUser| {
            let user = world.resolve_user(me, &r.id)?;
            encode(tl::enums::users::UserFull::from(world.tl_full_user(user, me)?))
        },
        f::contacts::GetContacts => |_: f::contacts::GetContacts| {
            let ids = world.contacts_of(me);
            let contacts = ids
                .iter()
                .map(|&user_id| tl::types::Contact { user_id, mutual: world.is_contact(user_id, me) }.into())
                .collect();
            let users = ids.iter().filter_map(|&u| world.tl_user(u, me)).collect();
            encode(tl::enums::contacts::Contacts::from(tl::types::contacts::Contacts { contacts, saved_count: 0, users }))
        },
        f::contacts::ResolveUsername => |r: f::contacts::ResolveUsername| {
            let peer = world.resolve_username(&r.username).ok_or_else(|| RpcError::bad_request("USERNAME_NOT_OCCUPIED"))?;
            encode(resolved(world, me, peer))
        },
        f::contacts::ResolvePhone => |r: f::contacts::ResolvePhone| {
            let digits: String = r.phone.chars().filter(char::is_ascii_digit).collect();
            let user = world.user_by_phone(&digits).ok_or_else(|| RpcError::bad_request("PHONE_NOT_OCCUPIED"))?.id;
            encode(resolved(world, me, Peer::User(user)))
        },
        f::photos::GetUserPhotos => |r: f::photos::GetUserPhotos| {
            let user = world.resolve_user(me, &r.user_id)?;
            let all = world.profile_photos(user);
            let skip = usize::try_from(r.offset).unwrap_or(0);
            let photos: Vec<tl::enums::Photo> = all
                .iter()
                .filter(|&&p| r.max_id == 0 || p < r.max_id)
                .skip(skip)
                .take(clamp_limit(r.limit, 100))
                .map(|&p| world.tl_photo(p, me))
                .collect();
            let users = world.tl_user(user, me).into_iter().collect();
            if photos.len() < all.len() {
                return encode(tl::enums::photos::Photos::from(tl::types::photos::PhotosSlice {
                    count: all.len() as i32,
                    photos,
                    users,
                }));
            }
            encode(tl::enums::photos::Photos::from(tl::types::photos::Photos { photos, users }))
        },
    })
}

fn resolved(world: &World, viewer: i64, peer: Peer) -> tl::enums::contacts::ResolvedPeer {
    let mut peers = PeerSet::default();
    peers.add(peer);
    let (users, chats) = world.peer_lists(&peers, viewer);
    tl::types::contacts::ResolvedPeer {
        peer: peer.tl(),
        chats,
        users,
    }
    .into()
}
