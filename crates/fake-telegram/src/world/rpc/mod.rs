//! API methods answered by the world.

use super::{CallCtx, World};
use crate::RpcError;

/// Answers an authorized API call that reads or changes the world.
///
/// `request` is the serialized function, starting with its constructor id.
/// Returns `None` when the method is not one the world answers (the protocol
/// layer then answers it itself or reports it as not implemented); otherwise
/// the serialized (boxed) result or an RPC error.
pub fn handle(
    world: &mut World,
    ctx: &CallCtx,
    request: &[u8],
) -> Option<Result<Vec<u8>, RpcError>> {
    let _ = (world, ctx, request);
    None
}
