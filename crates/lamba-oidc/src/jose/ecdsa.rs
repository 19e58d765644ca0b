//! ES256 signatures in their one canonical form: `r || s` with `s` at most
//! half the P-256 group order. ECDSA accepts `(r, n - s)` wherever it
//! accepts `(r, s)`, so without this rule every token has a second valid
//! spelling; aws-lc signs with either `s`, so signing normalises too.

/// The order `n` of the P-256 group, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `floor(n / 2)`, big-endian.
const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

fn s_of(signature: &[u8]) -> Option<&[u8]> {
    (signature.len() == 64)
        .then(|| signature.get(32..))
        .flatten()
}

/// Whether a 64-byte `r || s` has `s <= n / 2`. Any other length is left
/// to the verifier to refuse.
pub(super) fn is_low_s(signature: &[u8]) -> bool {
    s_of(signature).is_none_or(|s| s <= HALF_ORDER.as_slice())
}

/// `signature` with `s` replaced by `n - s` when `s` is high.
pub(super) fn low_s(signature: Vec<u8>) -> Vec<u8> {
    if is_low_s(&signature) {
        signature
    } else {
        negate_s(signature)
    }
}

/// `r || (n - s)`: the other valid spelling of an ES256 signature.
pub(super) fn negate_s(mut signature: Vec<u8>) -> Vec<u8> {
    if let Some(s) = signature.get_mut(32..64) {
        let mut borrow = 0u16;
        for (digit, n) in s.iter_mut().zip(ORDER).rev() {
            let subtrahend = u16::from(*digit) + borrow;
            let n = u16::from(n);
            let (value, next_borrow) = if n >= subtrahend {
                (n - subtrahend, 0)
            } else {
                (n + 256 - subtrahend, 1)
            };
            *digit = u8::try_from(value).unwrap_or(0);
            borrow = next_borrow;
        }
    }
    signature
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_order_is_half_the_order() {
        // 2 * HALF_ORDER + 1 == ORDER (n is odd).
        let mut doubled = [0u8; 32];
        let mut carry = 1u16;
        for i in (0..32).rev() {
            let value = 2 * u16::from(HALF_ORDER[i]) + carry;
            doubled[i] = (value & 0xff) as u8;
            carry = value >> 8;
        }
        assert_eq!(doubled, ORDER);
    }

    #[test]
    fn high_s_becomes_n_minus_s() {
        let mut signature = vec![0x11; 32];
        let mut s = ORDER;
        s[31] -= 5; // n - 5: high
        signature.extend_from_slice(&s);
        assert!(!is_low_s(&signature));
        let low = low_s(signature.clone());
        assert_eq!(&low[..32], &signature[..32], "r is kept");
        let mut five = [0u8; 32];
        five[31] = 5;
        assert_eq!(&low[32..], &five);
        assert!(is_low_s(&low));
        let mut at_half = vec![0; 32];
        at_half.extend_from_slice(&HALF_ORDER);
        assert!(is_low_s(&at_half));
        assert_eq!(low_s(at_half.clone()), at_half);
    }
}
