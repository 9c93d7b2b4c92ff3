//! `upload.*`: receiving file parts and serving file bytes.

use grammers_tl_types::functions::upload as f;

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
        f::SaveFilePart => |r: f::SaveFilePart| {
            world.save_file_part(ctx.account, r.file_id, r.file_part, r.bytes)?;
            encode(true)
        },
        f::SaveBigFilePart => |r: f::SaveBigFilePart| {
            if r.file_part >= r.file_total_parts {
                return Err(RpcError::bad_request("FILE_PART_INVALID"));
            }
            world.save_file_part(ctx.account, r.file_id, r.file_part, r.bytes)?;
            encode(true)
        },
        f::GetFile => |r: f::GetFile| encode(world.get_file(ctx.account, &r.location, r.offset, r.limit)?),
    })
}
