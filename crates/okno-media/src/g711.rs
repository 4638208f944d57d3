//! G.711 PCMU (µ-law) and PCMA (A-law): 16-bit linear PCM to 8-bit codes and back.
//!
//! Bit-exact with the ITU-T G.191 reference (`g711.c`): the encoders take the
//! 14-bit (µ-law) or 13-bit (A-law) magnitude of the sample, with negative
//! samples in one's complement, so −1 encodes like −0; the decoders return the
//! midpoint of each quantization interval scaled back to 16 bits. Decoding is a
//! table built at compile time; encoding is a few shifts around `leading_zeros`.

/// µ-law code for a 16-bit sample.
pub fn ulaw_encode(sample: i16) -> u8 {
    let x = sample as i32;
    // 14-bit magnitude plus the µ-law bias of 33, clipped to 13 bits.
    let magnitude = (if x < 0 { !x } else { x } >> 2) + 33;
    let magnitude = magnitude.min(0x1FFF) as u32;
    // Segment: position of the highest set bit above the 5 low bits (1..=8).
    let segment = 33 - (magnitude >> 6).leading_zeros();
    let mantissa = (magnitude >> segment) & 0x0F;
    let code = (((8 - segment) << 4) | (0x0F - mantissa)) as u8;
    if x >= 0 { code | 0x80 } else { code }
}

const fn ulaw_decode_calc(code: u8) -> i16 {
    let inverted = !code;
    let exponent = ((inverted >> 4) & 0x07) as i32;
    let mantissa = (inverted & 0x0F) as i32;
    let step = 4 << (exponent + 1);
    let magnitude = (0x80 << exponent) + step * mantissa + step / 2 - 4 * 33;
    (if code < 0x80 { -magnitude } else { magnitude }) as i16
}

/// A-law code for a 16-bit sample.
pub fn alaw_encode(sample: i16) -> u8 {
    let x = sample as i32;
    // 12-bit magnitude (the sign is the 13th bit).
    let magnitude = (if x < 0 { !x } else { x } >> 4) as u32;
    let code = if magnitude > 15 {
        // Segments 1..=7: the leading one is implied, 4 mantissa bits follow it.
        let bits = 32 - magnitude.leading_zeros();
        let exponent = bits - 4;
        (exponent << 4) | ((magnitude >> (exponent - 1)) & 0x0F)
    } else {
        magnitude
    } as u8;
    // Even bits are inverted on the line (G.711 table 1a, "alternate digit inversion").
    (if x >= 0 { code | 0x80 } else { code }) ^ 0x55
}

const fn alaw_decode_calc(code: u8) -> i16 {
    let ix = (code ^ 0x55) & 0x7F;
    let exponent = (ix >> 4) as i32;
    let mut mantissa = (ix & 0x0F) as i32;
    if exponent > 0 {
        mantissa += 16;
    }
    mantissa = (mantissa << 4) + 8;
    if exponent > 1 {
        mantissa <<= exponent - 1;
    }
    (if code > 0x7F { mantissa } else { -mantissa }) as i16
}

const fn table(alaw: bool) -> [i16; 256] {
    let mut t = [0; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if alaw { alaw_decode_calc(i as u8) } else { ulaw_decode_calc(i as u8) };
        i += 1;
    }
    t
}

static ULAW_TABLE: [i16; 256] = table(false);
static ALAW_TABLE: [i16; 256] = table(true);

/// 16-bit sample for a µ-law code.
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_TABLE[code as usize]
}

/// 16-bit sample for an A-law code.
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_TABLE[code as usize]
}

/// The two G.711 laws, with the RTP static payload types of RFC 3551.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum G711 {
    /// µ-law, payload type 0.
    Pcmu,
    /// A-law, payload type 8.
    Pcma,
}

impl G711 {
    pub fn payload_type(self) -> u8 {
        match self {
            G711::Pcmu => 0,
            G711::Pcma => 8,
        }
    }

    /// The code of digital silence (what a zero sample encodes to).
    pub fn silence(self) -> u8 {
        match self {
            G711::Pcmu => 0xFF,
            G711::Pcma => 0xD5,
        }
    }

    /// Appends the codes for `pcm` to `out`.
    pub fn encode(self, pcm: &[i16], out: &mut Vec<u8>) {
        match self {
            G711::Pcmu => out.extend(pcm.iter().map(|&s| ulaw_encode(s))),
            G711::Pcma => out.extend(pcm.iter().map(|&s| alaw_encode(s))),
        }
    }

    /// Appends the samples for `codes` to `out`.
    pub fn decode(self, codes: &[u8], out: &mut Vec<i16>) {
        let table = match self {
            G711::Pcmu => &ULAW_TABLE,
            G711::Pcma => &ALAW_TABLE,
        };
        out.extend(codes.iter().map(|&c| table[c as usize]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_encode(-1), 0x7F);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_decode(0xFE), 8);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        // Segment boundaries: 1000 → µ-law segment 3; A-law segment 4.
        assert_eq!(ulaw_encode(1000), 0xCE);
        assert_eq!(alaw_encode(1000), 0xFA);
        assert_eq!(G711::Pcmu.silence(), ulaw_encode(0));
        assert_eq!(G711::Pcma.silence(), alaw_encode(0));
    }

    #[test]
    fn every_code_survives_decode_encode() {
        for code in 0..=255u8 {
            // µ-law has two zeros; negative zero decodes to 0, which encodes as positive zero.
            let expect = if code == 0x7F { 0xFF } else { code };
            assert_eq!(ulaw_encode(ulaw_decode(code)), expect, "µ-law {code:#04x}");
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#04x}");
        }
    }

    #[test]
    fn decode_tables_are_monotonic_and_symmetric() {
        let mut u: Vec<i16> = (0..=255).map(ulaw_decode).collect();
        let mut a: Vec<i16> = (0..=255).map(alaw_decode).collect();
        for c in 0..128u8 {
            assert_eq!(ulaw_decode(c), -ulaw_decode(c | 0x80));
            assert_eq!(alaw_decode(c), -alaw_decode(c | 0x80));
        }
        u.sort();
        u.dedup();
        a.sort();
        a.dedup();
        assert_eq!(u.len(), 255);
        assert_eq!(a.len(), 256);
    }

    #[test]
    fn quantization_error_is_bounded_by_half_a_step() {
        for s in i16::MIN..=i16::MAX {
            let x = s as i32;
            let mag = x.unsigned_abs();
            // Step sizes grow with the segment; error ≤ step/2 (+1 for the one's complement
            // of negatives), except in the clipped top range.
            let u_err = (ulaw_decode(ulaw_encode(s)) as i32 - x).unsigned_abs();
            let u_step = match mag {
                0..=123 => 8,
                _ => 8 << (32 - ((mag + 132) >> 8).leading_zeros()).min(7),
            };
            if mag <= 32124 {
                assert!(u_err <= u_step / 2 + 1, "µ-law {s}: err {u_err} step {u_step}");
            }
            let a_err = (alaw_decode(alaw_encode(s)) as i32 - x).unsigned_abs();
            let a_step = if mag < 512 { 16 } else { 16 << (32 - (mag >> 9).leading_zeros()).min(6) };
            if mag <= 32256 {
                assert!(a_err <= a_step / 2 + 1, "A-law {s}: err {a_err} step {a_step}");
            }
        }
    }

    #[test]
    fn slice_codec_round_trip() {
        let pcm: Vec<i16> = (0..160).map(|i| ((i as f64 * 0.3).sin() * 12000.0) as i16).collect();
        for law in [G711::Pcmu, G711::Pcma] {
            let mut codes = Vec::new();
            law.encode(&pcm, &mut codes);
            assert_eq!(codes.len(), 160);
            let mut back = Vec::new();
            law.decode(&codes, &mut back);
            let worst = pcm.iter().zip(&back).map(|(a, b)| (*a as i32 - *b as i32).abs()).max().unwrap();
            assert!(worst <= 400, "{law:?}: worst error {worst}");
        }
        assert_eq!(G711::Pcmu.payload_type(), 0);
        assert_eq!(G711::Pcma.payload_type(), 8);
    }
}
