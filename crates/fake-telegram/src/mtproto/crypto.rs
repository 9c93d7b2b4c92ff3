//! MTProto 2.0 message encryption, server side: `x = 0` to decrypt what the
//! client sent, `x = 8` to encrypt what the server sends. Pure functions over
//! bytes; knows nothing about sessions or sockets.

use grammers_crypto::aes;
use rand::RngCore;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Bytes before the ciphertext: `auth_key_id ‖ msg_key`.
const HEADER_LEN: usize = 8 + 16;

/// A 2048-bit authorization key and its 64-bit id.
#[derive(Clone)]
pub struct AuthKey {
    bytes: [u8; 256],
    id: i64,
}

impl std::fmt::Debug for AuthKey {
    // The key grants full account access: only its id may be printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthKey({:016x})", self.id)
    }
}

impl AuthKey {
    /// Wraps raw key bytes and computes the key id.
    pub fn new(bytes: [u8; 256]) -> Self {
        Self {
            id: key_id(&bytes),
            bytes,
        }
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 256];
        rand::rng().fill_bytes(&mut bytes);
        Self::new(bytes)
    }

    /// `auth_key_id`: the low 64 bits of SHA1(key).
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The raw key.
    pub fn bytes(&self) -> &[u8; 256] {
        &self.bytes
    }
}

/// `auth_key_id = SHA1(auth_key)[12..20]`, little endian.
pub fn key_id(bytes: &[u8; 256]) -> i64 {
    let digest = Sha1::digest(bytes);
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest[12..20]);
    i64::from_le_bytes(id)
}

/// Why an encrypted packet could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Shorter than a header plus one block, or not block-aligned.
    #[error("packet too short or not a multiple of the block size")]
    BadLength,
    /// The packet names another auth key.
    #[error("packet encrypted with another auth key")]
    WrongKey,
    /// Tampered with, or encrypted with a different key.
    #[error("msg_key does not match the decrypted plaintext")]
    BadMsgKey,
}

/// The `auth_key_id` a packet claims, if it is long enough to have one.
pub fn peek_key_id(packet: &[u8]) -> Option<i64> {
    let id: [u8; 8] = packet.get(..8)?.try_into().ok()?;
    Some(i64::from_le_bytes(id))
}

/// AES key and IV for one message, per MTProto 2.0.
fn derive_key_iv(key: &AuthKey, msg_key: &[u8; 16], x: usize) -> ([u8; 32], [u8; 32]) {
    let k = &key.bytes;
    let a: [u8; 32] = Sha256::new()
        .chain_update(msg_key)
        .chain_update(&k[x..x + 36])
        .finalize()
        .into();
    let b: [u8; 32] = Sha256::new()
        .chain_update(&k[40 + x..76 + x])
        .chain_update(msg_key)
        .finalize()
        .into();
    let mut aes_key = [0u8; 32];
    aes_key[..8].copy_from_slice(&a[..8]);
    aes_key[8..24].copy_from_slice(&b[8..24]);
    aes_key[24..].copy_from_slice(&a[24..]);
    let mut aes_iv = [0u8; 32];
    aes_iv[..8].copy_from_slice(&b[..8]);
    aes_iv[8..24].copy_from_slice(&a[8..24]);
    aes_iv[24..].copy_from_slice(&b[24..]);
    (aes_key, aes_iv)
}

/// `msg_key = SHA256(auth_key[88+x..120+x] ‖ plaintext)[8..24]`.
fn msg_key(key: &AuthKey, plaintext: &[u8], x: usize) -> [u8; 16] {
    let large: [u8; 32] = Sha256::new()
        .chain_update(&key.bytes[88 + x..120 + x])
        .chain_update(plaintext)
        .finalize()
        .into();
    let mut out = [0u8; 16];
    out.copy_from_slice(&large[8..24]);
    out
}

/// Decrypts a packet the client sent; returns the plaintext including padding.
pub fn decrypt_from_client(key: &AuthKey, packet: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if packet.len() < HEADER_LEN + 16 || (packet.len() - HEADER_LEN) % 16 != 0 {
        return Err(CryptoError::BadLength);
    }
    if peek_key_id(packet) != Some(key.id) {
        return Err(CryptoError::WrongKey);
    }
    let mut claimed = [0u8; 16];
    claimed.copy_from_slice(&packet[8..24]);
    let (aes_key, aes_iv) = derive_key_iv(key, &claimed, 0);
    let mut plaintext = packet[HEADER_LEN..].to_vec();
    aes::ige_decrypt(&mut plaintext, &aes_key, &aes_iv);
    if msg_key(key, &plaintext, 0) != claimed {
        return Err(CryptoError::BadMsgKey);
    }
    Ok(plaintext)
}

/// Padding length: 12 to 1024 bytes, making the total a multiple of 16.
fn padding_len(len: usize) -> usize {
    12 + (16 - (len + 12) % 16) % 16
}

/// Encrypts a plaintext (without padding) for the client.
pub fn encrypt_for_client(key: &AuthKey, plaintext: &[u8]) -> Vec<u8> {
    let mut padded = plaintext.to_vec();
    let mut padding = vec![0u8; padding_len(plaintext.len())];
    rand::rng().fill_bytes(&mut padding);
    padded.extend_from_slice(&padding);
    let mk = msg_key(key, &padded, 8);
    let (aes_key, aes_iv) = derive_key_iv(key, &mk, 8);
    aes::ige_encrypt(&mut padded, &aes_key, &aes_iv);
    let mut packet = Vec::with_capacity(HEADER_LEN + padded.len());
    packet.extend_from_slice(&key.id.to_le_bytes());
    packet.extend_from_slice(&mk);
    packet.extend_from_slice(&padded);
    packet
}

#[cfg(test)]
mod tests {
    use super::*;
    use grammers_crypto::{decrypt_data_v2, encrypt_data_v2, DequeBuffer};

    #[test]
    fn padding_is_within_bounds_and_aligned() {
        for len in 0..100 {
            let pad = padding_len(len);
            assert!((12..=1024).contains(&pad));
            assert_eq!((len + pad) % 16, 0);
        }
    }

    #[test]
    fn reads_what_the_grammers_client_encrypts() {
        let key = AuthKey::generate();
        let plaintext: Vec<u8> = (0..64u8).collect();
        let mut buffer = DequeBuffer::with_capacity(64, 0);
        buffer.extend(plaintext.iter().copied());
        encrypt_data_v2(
            &mut buffer,
            &grammers_crypto::AuthKey::from_bytes(*key.bytes()),
        );
        let decrypted = decrypt_from_client(&key, buffer.as_ref()).unwrap();
        assert_eq!(&decrypted[..64], &plaintext[..]);
    }

    #[test]
    fn the_grammers_client_reads_what_we_encrypt() {
        let key = AuthKey::generate();
        let plaintext: Vec<u8> = (0..48u8).collect();
        let mut packet = encrypt_for_client(&key, &plaintext);
        let client_key = grammers_crypto::AuthKey::from_bytes(*key.bytes());
        let decrypted = decrypt_data_v2(&mut packet, &client_key).unwrap();
        assert_eq!(&decrypted[..48], &plaintext[..]);
    }

    #[test]
    fn tampered_packet_is_rejected() {
        let key = AuthKey::generate();
        let mut buffer = DequeBuffer::with_capacity(32, 0);
        buffer.extend([7u8; 32]);
        encrypt_data_v2(
            &mut buffer,
            &grammers_crypto::AuthKey::from_bytes(*key.bytes()),
        );
        let mut packet = buffer.as_ref().to_vec();
        let last = packet.len() - 1;
        packet[last] ^= 0x80;
        assert_eq!(
            decrypt_from_client(&key, &packet),
            Err(CryptoError::BadMsgKey)
        );
        let other = AuthKey::generate();
        assert_eq!(
            decrypt_from_client(&other, buffer.as_ref()),
            Err(CryptoError::WrongKey)
        );
    }
}
