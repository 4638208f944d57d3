//! Any datagram as SRTP or SRTCP (the first byte picks which, and the suite): unprotecting
//! never panics, and a packet accepted once is refused as a replay the second time.
//! The seeds are genuine packets sealed with the key below, so mutations reach the decryption.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okno_media::srtp::{SrtpContext, SrtpError, SrtpProfile};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, packet)) = data.split_first() else { return };
    let profile = SrtpProfile::ALL[(selector >> 1) as usize % SrtpProfile::ALL.len()];
    let key: Vec<u8> = (0..30u8).collect();
    let mut ctx = SrtpContext::new(profile, &key).expect("30 bytes of key material");
    let rtcp = selector & 1 == 1;
    let unprotect = |ctx: &mut SrtpContext| if rtcp { ctx.unprotect_rtcp(packet) } else { ctx.unprotect_rtp(packet) };
    if let Ok(plain) = unprotect(&mut ctx) {
        assert!(plain.len() < packet.len());
        assert_eq!(unprotect(&mut ctx), Err(SrtpError::Replay));
    }
});
