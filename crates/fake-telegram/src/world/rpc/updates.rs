//! `updates.*`: the state of the caller's common box and the differences
//! clients use to catch up after a gap.

use grammers_tl_types::{self as tl, functions::updates as f};

use super::{encode, route};
use crate::world::{CallCtx, World};
use crate::RpcError;

pub(super) fn handle(
    world: &mut World,
    ctx: &CallCtx,
    id: u32,
    body: &[u8],
) -> Option<Result<Vec<u8>, RpcError>> {
    route!(id, body, {
        f::GetState => |_: f::GetState| encode(tl::enums::updates::State::from(world.state(ctx.account))),
        f::GetDifference => |r: f::GetDifference| encode(world.difference(ctx.account, r.pts, r.date, r.pts_total_limit)?),
        f::GetChannelDifference => |r: f::GetChannelDifference| {
            let channel = world.resolve_channel(ctx.account, &r.channel)?;
            encode(world.channel_difference(ctx.account, channel, r.pts, r.limit)?)
        },
    })
}
