//! MTProto "full" transport framing on the server side: `len ‖ seq ‖ payload ‖
//! crc32`. It owns nothing but the byte framing and the per-direction sequence
//! counters; it never looks inside a payload.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Frames larger than this are rejected: the client never sends more than a
/// 1 MiB container plus encryption overhead.
const MAX_FRAME_LEN: usize = 2 * 1024 * 1024;

/// Length, sequence number and checksum around every payload.
const FRAME_OVERHEAD: usize = 12;

/// Why a connection's framing broke; the connection is closed on any of these.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The socket failed or closed mid-frame.
    #[error("connection I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A length outside what the client can send.
    #[error("bad frame length {0}")]
    BadLen(i64),
    /// Frames were lost or reordered.
    #[error("bad frame sequence number (expected {expected}, got {got})")]
    BadSeq { expected: i32, got: i32 },
    /// The CRC32 does not match.
    #[error("bad frame checksum")]
    BadCrc,
}

/// Reads frames sent by a client.
pub struct FrameReader<R> {
    inner: R,
    seq: i32,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Wraps the read half of a connection.
    pub fn new(inner: R) -> Self {
        Self { inner, seq: 0 }
    }

    /// The next frame's payload, or `None` when the client closed cleanly
    /// between frames.
    pub async fn read_frame(&mut self) -> Result<Option<Vec<u8>>, TransportError> {
        let mut len_bytes = [0u8; 4];
        match self.inner.read_exact(&mut len_bytes).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let len = i32::from_le_bytes(len_bytes);
        let total = usize::try_from(len).map_err(|_| TransportError::BadLen(len.into()))?;
        if !(FRAME_OVERHEAD..=MAX_FRAME_LEN).contains(&total) {
            return Err(TransportError::BadLen(len.into()));
        }
        let mut frame = vec![0u8; total];
        frame[..4].copy_from_slice(&len_bytes);
        self.inner.read_exact(&mut frame[4..]).await?;
        let payload = check_frame(&frame, self.seq)?;
        self.seq += 1;
        Ok(Some(payload.to_vec()))
    }
}

/// Validates sequence number and checksum of a complete frame and returns its payload.
fn check_frame(frame: &[u8], expected_seq: i32) -> Result<&[u8], TransportError> {
    let end = frame.len() - 4;
    let seq = i32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
    if seq != expected_seq {
        return Err(TransportError::BadSeq {
            expected: expected_seq,
            got: seq,
        });
    }
    let crc = u32::from_le_bytes([frame[end], frame[end + 1], frame[end + 2], frame[end + 3]]);
    if crc != crc32fast::hash(&frame[..end]) {
        return Err(TransportError::BadCrc);
    }
    Ok(&frame[8..end])
}

/// Builds one frame around `payload` with the given sequence number.
pub fn pack_frame(payload: &[u8], seq: i32) -> Vec<u8> {
    let len = (payload.len() + FRAME_OVERHEAD) as i32;
    let mut frame = Vec::with_capacity(payload.len() + FRAME_OVERHEAD);
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&seq.to_le_bytes());
    frame.extend_from_slice(payload);
    let crc = crc32fast::hash(&frame);
    frame.extend_from_slice(&crc.to_le_bytes());
    frame
}

/// Writes frames to a client.
pub struct FrameWriter<W> {
    inner: W,
    seq: i32,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    /// Wraps the write half of a connection.
    pub fn new(inner: W) -> Self {
        Self { inner, seq: 0 }
    }

    /// Sends one payload as a frame.
    pub async fn write_frame(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        let frame = pack_frame(payload, self.seq);
        self.seq += 1;
        self.inner.write_all(&frame).await?;
        self.inner.flush().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_count() {
        let mut wire = Vec::new();
        wire.extend(pack_frame(b"abcd", 0));
        wire.extend(pack_frame(b"efghijkl", 1));
        let mut reader = FrameReader::new(&wire[..]);
        assert_eq!(reader.read_frame().await.unwrap().unwrap(), b"abcd");
        assert_eq!(reader.read_frame().await.unwrap().unwrap(), b"efghijkl");
        assert!(reader.read_frame().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn corrupted_frame_is_rejected() {
        let mut wire = pack_frame(b"abcd", 0);
        wire[9] ^= 1;
        let mut reader = FrameReader::new(&wire[..]);
        assert!(matches!(
            reader.read_frame().await,
            Err(TransportError::BadCrc)
        ));
    }

    #[tokio::test]
    async fn out_of_order_frame_is_rejected() {
        let wire = pack_frame(b"abcd", 5);
        let mut reader = FrameReader::new(&wire[..]);
        assert!(matches!(
            reader.read_frame().await,
            Err(TransportError::BadSeq {
                expected: 0,
                got: 5
            })
        ));
    }
}
