//! Device identity: one-time enrollment codes, bearer tokens, and the extractor that turns
//! a request's `Authorization: Bearer` header into the device that sent it.
//!
//! Only SHA-256 hashes of codes and tokens are stored; a token is shown once, to the device
//! that enrolls. A revoked device's token stops working on its next request.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::AppError;
use crate::storage::DeviceInfo;

/// How long an enrollment code stays valid.
pub const CODE_VALID_FOR_MS: i64 = 7 * 24 * 3_600_000;

/// SHA-256 of a secret.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.trim().as_bytes()).to_vec()
}

/// A new bearer token: 32 random bytes, hex.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

/// The characters of a code a person types: no look-alikes (no 0, 1, I, O).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A new enrollment code a person can type: 12 characters without look-alikes, in groups.
pub fn new_code() -> String {
    let mut rng = rand::rng();
    let chars: Vec<char> = (0..12)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A code as a person typed it, in the form [`new_code`] wrote it: in lower case, with
/// spaces or without its dashes (`abcd efgh jklm`, `ABCDEFGHJKLM`) it is the same code.
/// Anything that is not 12 characters of the code's alphabet once the spaces and dashes
/// are gone is left as typed (trimmed), so it matches nothing, as before.
pub fn typed_code(typed: &str) -> String {
    let bare: Vec<u8> = typed
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'-')
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if bare.len() != 12 || !bare.iter().all(|b| CODE_ALPHABET.contains(b)) {
        return typed.trim().to_owned();
    }
    bare.chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The device that sent the request, authenticated by its bearer token.
#[derive(Clone, Debug)]
pub struct Authed(pub DeviceInfo);

impl FromRequestParts<AppState> for Authed {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let source = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        // Every failed sign-in is logged with its reason and source (never the token).
        let refuse = |reason: &'static str, message: &str| {
            tracing::warn!(reason, source = %crate::text::source(source), path = %parts.uri.path(), "sign-in failed");
            AppError::Unauthorized(message.to_owned())
        };
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                refuse(
                    "no authorization header",
                    "missing `Authorization: Bearer <token>` header",
                )
            })?;
        // The scheme is case-insensitive (RFC 9110, section 11.1).
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token)
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                refuse(
                    "not a bearer token",
                    "the `Authorization` header is not `Bearer <token>`",
                )
            })?;
        let hash = hash_secret(token);
        let storage = state.storage.clone();
        let device = tokio::task::spawn_blocking(move || storage.authenticate(&hash))
            .await
            .map_err(AppError::internal)??;
        device.map(Authed).ok_or_else(|| {
            refuse(
                "unknown or revoked token",
                "unknown or revoked device token",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typeable_and_tokens_are_long_and_both_differ_each_time() {
        let code = new_code();
        assert_eq!(code.len(), 14);
        assert!(
            code.chars()
                .all(|c| c == '-' || c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        assert_ne!(new_code(), code);
        assert_eq!(new_token().len(), 64);
        assert_eq!(
            hash_secret(" ABCD "),
            hash_secret("ABCD"),
            "surrounding spaces from a copy-paste do not matter"
        );
    }

    #[test]
    fn a_code_typed_in_lower_case_with_spaces_or_without_dashes_is_the_code_given() {
        let code = new_code();
        let bare = code.replace('-', "");
        for typed in [
            code.clone(),
            code.to_lowercase(),
            bare.clone(),
            bare.to_lowercase(),
            format!(" {} ", code.replace('-', " ")),
            format!("{}\t{}", &bare[..6], &bare[6..]),
        ] {
            assert_eq!(typed_code(&typed), code, "typed {typed:?}");
        }
    }

    #[test]
    fn a_typed_code_with_a_character_outside_the_alphabet_or_of_another_length_matches_no_code() {
        for typed in [
            "ABCD-EFGH-JKL0",  // 0 is not in the alphabet
            "ABCD-EFGH-JKLI",  // nor I
            "ABCD-EFGH-JKLMN", // 13 characters
            "ABCD-EFGH-JKL",   // 11
            "ＡBCD-EFGH-JKLM", // a full-width A
            "ABCD_EFGH_JKLM",  // another separator
        ] {
            assert_eq!(typed_code(typed), typed.trim(), "typed {typed:?}");
            assert_ne!(typed_code(typed), "ABCD-EFGH-JKLM");
        }
    }
}
