//! Base64 (RFC 4648 §4, standard alphabet) for the crate: what the Atom
//! renderer writes and the one decoding policy that HTTP Basic (`auth`) and
//! upstream Atom content (`upstream::parse`) share.
//!
//! Encoding always pads. Decoding accepts input with canonical padding or
//! none at all (`DecodePaddingMode::Indifferent`) and ignores non-zero
//! trailing bits, as the hand-written decoders it replaces did; anything else
//! (a foreign byte, data after `=`, a wrong amount of padding) is malformed.

use base64::alphabet::STANDARD as ALPHABET;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

/// The decoding engine: standard alphabet, padding optional, lax trailing bits.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &ALPHABET,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Standard Base64 with padding, on one line.
pub(crate) fn base64(data: &[u8]) -> String {
    STANDARD.encode(data)
}

/// Standard Base64, padded or not; `None` if malformed. Whitespace is not
/// skipped: callers that allow line breaks remove them first.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    LENIENT.decode(s).ok()
}
