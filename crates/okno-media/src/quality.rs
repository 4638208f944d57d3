//! Call quality as a MOS estimate, from a simplified E-model (ITU-T G.107).
//!
//! R = 93.2 − Id − Ie,eff, where 93.2 is G.107's R with all default parameters
//! (R0 − Is), Id is the delay impairment in the common Cole–Rosenbluth
//! approximation of G.107's Idd for a one-way mouth-to-ear delay d (ms):
//! Id = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3), and Ie,eff is G.107's
//! effective equipment impairment for random loss:
//! Ie,eff = Ie + (95 − Ie)·Ppl / (Ppl / BurstR + Bpl). R maps to MOS by G.107
//! Annex B. Echo, noise and the advantage factor are left at their defaults.
//! The figure is for the wallboard and call records, not a measurement.

/// Codec constants of the E-model: equipment impairment and packet-loss robustness.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodecImpairment {
    pub ie: f64,
    pub bpl: f64,
}

impl CodecImpairment {
    /// G.711 with packet-loss concealment (ITU-T G.113 Appendix I: Ie 0, Bpl 25.1).
    pub const G711_PLC: Self = CodecImpairment { ie: 0.0, bpl: 25.1 };
    /// G.711 without concealment (G.113 Appendix I: Ie 0, Bpl 4.3).
    pub const G711: Self = CodecImpairment { ie: 0.0, bpl: 4.3 };
    /// Opus at speech bit rates (≥ 16 kbit/s) on the narrowband scale. ITU-T lists
    /// no Opus values; this is an engineering estimate: transparent like G.711
    /// (Ie 0), with built-in concealment somewhat weaker than G.711's reference PLC
    /// without in-band FEC (Bpl 20). Revisit with measurements.
    pub const OPUS: Self = CodecImpairment { ie: 0.0, bpl: 20.0 };
}

/// Network conditions of one direction of a call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conditions {
    /// Mouth-to-ear delay in ms: network, packetization, jitter buffer, devices.
    pub one_way_delay_ms: f64,
    /// Packet loss (after the jitter buffer: late packets count as lost), 0–100.
    pub loss_percent: f64,
    /// Burst ratio: 1 for random loss, above 1 for bursty loss (G.107 §B.4).
    pub burst_ratio: f64,
}

impl Conditions {
    pub fn new(one_way_delay_ms: f64, loss_percent: f64) -> Self {
        Conditions { one_way_delay_ms, loss_percent, burst_ratio: 1.0 }
    }
}

/// The transmission rating R for these conditions and codec, 0–100.
pub fn r_factor(conditions: &Conditions, codec: CodecImpairment) -> f64 {
    let d = conditions.one_way_delay_ms.max(0.0);
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    let ppl = conditions.loss_percent.clamp(0.0, 100.0);
    let burst = conditions.burst_ratio.max(1.0);
    let ie_eff = codec.ie + (95.0 - codec.ie) * ppl / (ppl / burst + codec.bpl);
    (93.2 - id - ie_eff).clamp(0.0, 100.0)
}

/// MOS (1–4.5) for a rating R (G.107 Annex B).
pub fn mos_from_r(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        // The cubic dips just below 1 for R under about 6.5; MOS is never below 1.
        (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6).max(1.0)
    }
}

/// MOS estimate for these conditions and codec.
pub fn mos(conditions: &Conditions, codec: CodecImpairment) -> f64 {
    mos_from_r(r_factor(conditions, codec))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() <= eps
    }

    #[test]
    fn default_r_maps_to_the_known_g711_mos() {
        assert!(close(mos_from_r(93.2), 4.41, 0.01));
        assert_eq!(mos_from_r(-5.0), 1.0);
        assert_eq!(mos_from_r(120.0), 4.5);
        assert!(close(mos_from_r(50.0), 2.58, 0.01));
        // MOS rises with R over the whole range.
        let m: Vec<f64> = (0..=100).map(|r| mos_from_r(r as f64)).collect();
        assert!(m.windows(2).all(|w| w[1] >= w[0]));
    }

    #[test]
    fn g711_no_loss_low_delay_is_about_4_4() {
        let m = mos(&Conditions::new(20.0, 0.0), CodecImpairment::G711_PLC);
        assert!(close(m, 4.40, 0.02), "{m}");
    }

    #[test]
    fn five_percent_loss_lowers_mos_noticeably_more_without_plc() {
        let c = Conditions::new(20.0, 5.0);
        let r = r_factor(&c, CodecImpairment::G711_PLC);
        // Ie,eff = 95·5/(5 + 25.1) = 15.78.
        assert!(close(r, 93.2 - 0.48 - 15.78, 0.01), "{r}");
        let with_plc = mos(&c, CodecImpairment::G711_PLC);
        let without = mos(&c, CodecImpairment::G711);
        assert!((3.8..4.0).contains(&with_plc), "{with_plc}");
        assert!(without < 2.5, "{without}");
        let bursty = mos(&Conditions { burst_ratio: 2.0, ..c }, CodecImpairment::G711_PLC);
        assert!(bursty < with_plc);
        assert!(mos(&c, CodecImpairment::OPUS) < 4.4);
    }

    #[test]
    fn delay_beyond_177_ms_costs_more() {
        let codec = CodecImpairment::G711_PLC;
        let r = |d| r_factor(&Conditions::new(d, 0.0), codec);
        assert!(close(r(150.0), 93.2 - 3.6, 1e-9));
        assert!(close(r(400.0), 93.2 - 9.6 - 0.11 * 222.7, 1e-9));
        assert!(mos(&Conditions::new(400.0, 0.0), codec) < 3.7);
        assert_eq!(r_factor(&Conditions::new(5000.0, 100.0), codec), 0.0);
    }
}
