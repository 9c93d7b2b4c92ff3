//! The server half of Telegram's 2FA SRP (`passwordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow`):
//! the password verifier, the per-login challenge (`srp_id`, `B`) and the
//! check of the client's `A` and `M1`. Pure math; the password itself never
//! leaves this module's inputs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use hmac::Hmac;
use num_bigint::BigUint;
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};

/// Telegram's well-known 2048-bit safe prime (the same one its DH uses).
const PRIME_HEX: &str = "c71caeb9c6b1c9048e6c522f70f13f73980d40238e3e21c14934d037563d930f\
48198a0aa7c14058229493d22530f4dbfa336f6e0ac925139543aed44cce7c37\
20fd51f69458705ac68cd4fe6b6b13abdc9746512969328454f18faf8c595f64\
2477fe96bb2a941d5bcd1d4ac8cc49880708fa9b378e3c4f3a9060bee67cf9a4\
a4a695811051907e162753b56b0f6b410dba74d8a84b2a14b3144e0ef1284754\
fd17ed950d5965b4b9dd46582db1178d169c6bc465b0d6ff9ca3928fef5b9ae4\
e418fc15e83ebea0f87fa9ff5eed70050ded2849f47bf959d956850ce929851f\
0d8115f635b105ee2e4e15d04b2454bf6f4fadf034b10403119cd8e3b92fcc5b";

/// The generator Telegram uses with that prime.
pub const G: i32 = 3;

/// PBKDF2 rounds fixed by the algorithm's name.
const PBKDF2_ROUNDS: u32 = 100_000;

/// The prime `p`, big-endian, 256 bytes.
pub fn prime_bytes() -> Vec<u8> {
    // The constant above is valid hex of exactly 256 bytes; a test guards it.
    hex::decode(PRIME_HEX).unwrap_or_default()
}

fn prime() -> BigUint {
    BigUint::from_bytes_be(&prime_bytes())
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn pad256(n: &BigUint) -> [u8; 256] {
    let bytes = n.to_bytes_be();
    let mut out = [0u8; 256];
    let len = bytes.len().min(256);
    out[256 - len..].copy_from_slice(&bytes[bytes.len() - len..]);
    out
}

/// `PH2(password, salt1, salt2)` from Telegram's SRP description.
fn ph2(password: &[u8], salt1: &[u8], salt2: &[u8]) -> [u8; 32] {
    let sh = |data: &[u8], salt: &[u8]| sha256(&[salt, data, salt]);
    let ph1 = sh(&sh(password, salt1), salt2);
    let mut dk = [0u8; 64];
    // Only fails for an output length HMAC-SHA512 cannot produce; 64 bytes is valid.
    let _ = pbkdf2::pbkdf2::<Hmac<Sha512>>(&ph1, salt1, PBKDF2_ROUNDS, &mut dk);
    sh(&dk, salt2)
}

/// What the server stores instead of a password: salts and `v = g^x mod p`.
#[derive(Clone)]
pub struct Verifier {
    pub salt1: Vec<u8>,
    pub salt2: Vec<u8>,
    v: BigUint,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier(..)")
    }
}

impl Verifier {
    /// The verifier for `password`, derived once per process: PBKDF2 with
    /// 100 000 rounds costs seconds in a debug build, and tests start many
    /// datacenters whose accounts share a few passwords. Concurrent callers
    /// with the same password wait for one derivation.
    pub fn for_password(password: &str) -> Self {
        type Cache = Mutex<HashMap<String, Arc<OnceLock<Verifier>>>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let slot = {
            let mut cache = CACHE
                .get_or_init(Cache::default)
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            cache.entry(password.to_owned()).or_default().clone()
        };
        slot.get_or_init(|| Self::new(password)).clone()
    }

    /// Derives the verifier for `password` with fresh random salts. Costs one
    /// PBKDF2 with 100 000 rounds.
    pub fn new(password: &str) -> Self {
        let mut salt1 = vec![0u8; 40];
        let mut salt2 = vec![0u8; 16];
        rand::rng().fill_bytes(&mut salt1);
        rand::rng().fill_bytes(&mut salt2);
        let x = BigUint::from_bytes_be(&ph2(password.as_bytes(), &salt1, &salt2));
        let v = BigUint::from(G as u32).modpow(&x, &prime());
        Self { salt1, salt2, v }
    }
}

/// One SRP challenge: kept until the client proves the password, because
/// grammers reuses `srp_id` and `B` after a wrong attempt.
#[derive(Clone)]
pub struct Challenge {
    pub srp_id: i64,
    b: BigUint,
    /// `B = (k·v + g^b) mod p`, padded to 256 bytes.
    pub g_b: [u8; 256],
}

impl std::fmt::Debug for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Challenge({})", self.srp_id)
    }
}

fn k_multiplier(p: &[u8]) -> BigUint {
    let g = pad256(&BigUint::from(G as u32));
    BigUint::from_bytes_be(&sha256(&[p, &g]))
}

impl Challenge {
    /// A fresh challenge for `verifier`.
    pub fn new(verifier: &Verifier) -> Self {
        let mut b_bytes = [0u8; 256];
        rand::rng().fill_bytes(&mut b_bytes);
        let b = BigUint::from_bytes_be(&b_bytes);
        let p_bytes = prime_bytes();
        let p = prime();
        let g = BigUint::from(G as u32);
        let g_b = (k_multiplier(&p_bytes) * &verifier.v + g.modpow(&b, &p)) % &p;
        Self {
            srp_id: rand::rng().next_u64() as i64,
            b,
            g_b: pad256(&g_b),
        }
    }

    /// Whether the client's `A` and `M1` prove knowledge of the password.
    pub fn verify(&self, verifier: &Verifier, a: &[u8], m1: &[u8]) -> bool {
        let p_bytes = prime_bytes();
        let p = prime();
        let big_a = BigUint::from_bytes_be(a);
        // Telegram refuses A outside (1, p − 1): such an A forces a known S.
        if big_a <= BigUint::from(1u8) || big_a >= &p - 1u8 {
            return false;
        }
        let a_pad = pad256(&big_a);
        let u = BigUint::from_bytes_be(&sha256(&[&a_pad, &self.g_b]));
        let s = (big_a * verifier.v.modpow(&u, &p)).modpow(&self.b, &p);
        let k = sha256(&[&pad256(&s)]);
        let g_pad = pad256(&BigUint::from(G as u32));
        let h_p = sha256(&[&p_bytes]);
        let h_g = sha256(&[&g_pad]);
        let xor: Vec<u8> = h_p.iter().zip(h_g.iter()).map(|(x, y)| x ^ y).collect();
        let expected = sha256(&[
            &xor,
            &sha256(&[&verifier.salt1]),
            &sha256(&[&verifier.salt2]),
            &a_pad,
            &self.g_b,
            &k,
        ]);
        expected.as_slice() == m1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use grammers_crypto::two_factor_auth::{calculate_2fa, check_p_and_g};

    #[test]
    fn prime_is_the_one_grammers_accepts() {
        let p = prime_bytes();
        assert_eq!(p.len(), 256);
        assert!(check_p_and_g(&p, &G));
    }

    #[test]
    fn verifiers_are_derived_once_per_password() {
        let first = Verifier::for_password("shared secret");
        let again = Verifier::for_password("shared secret");
        assert_eq!(
            (&first.salt1, &first.salt2, &first.v),
            (&again.salt1, &again.salt2, &again.v)
        );
        assert_ne!(Verifier::for_password("other secret").v, first.v);
    }

    #[test]
    fn grammers_proof_verifies_only_with_the_right_password() {
        let verifier = Verifier::new("hunter2");
        let challenge = Challenge::new(&verifier);
        let mut secret = vec![0u8; 256];
        rand::rng().fill_bytes(&mut secret);
        let p = prime_bytes();
        let prove = |password: &str| {
            calculate_2fa(
                &verifier.salt1,
                &verifier.salt2,
                &p,
                &G,
                challenge.g_b.to_vec(),
                secret.clone(),
                password,
            )
        };
        let (m1, g_a) = prove("hunter2");
        assert!(challenge.verify(&verifier, &g_a, &m1));
        let (m1, g_a) = prove("hunter3");
        assert!(!challenge.verify(&verifier, &g_a, &m1));
    }
}
