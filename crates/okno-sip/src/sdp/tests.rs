use super::*;

const OFFER: &str = "v=0\r\no=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r\ns=\r\nc=IN IP4 192.0.2.101\r\nb=AS:64\r\nt=0 0\r\nm=audio 49170 RTP/AVP 96 8 0 97\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\na=rtpmap:97 telephone-event/8000\r\na=fmtp:97 0-15\r\na=ptime:20\r\na=rtcp:49171\r\na=sendrecv\r\nm=video 51372 RTP/AVP 31\r\na=rtpmap:31 H261/90000\r\n";

fn cfg() -> MediaConfig {
    MediaConfig {
        address: "192.0.2.5".parse().unwrap(),
        rtp_port: 40000,
        codecs: default_codecs(),
        ptime: Some(20),
        direction: Direction::SendRecv,
        session_id: 42,
        srtp: SrtpPolicy::Off,
        crypto: Vec::new(),
    }
}

const SDES_OFFER: &str = "v=0\r\no=sam 2890844526 2890842807 IN IP4 10.47.16.5\r\ns=SRTP Discussion\r\nc=IN IP4 168.2.17.12\r\nt=2873397496 2873404696\r\nm=audio 49170 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 FEC_ORDER=FEC_SRTP\r\na=crypto:2 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4 FEC_ORDER=FEC_SRTP\r\n";

fn srtp_cfg(policy: SrtpPolicy) -> MediaConfig {
    MediaConfig {
        srtp: policy,
        crypto: vec![
            Crypto::new(1, "AES_CM_128_HMAC_SHA1_80", vec![0xA0; 30]),
            Crypto::new(2, "AES_CM_128_HMAC_SHA1_32", vec![0xB0; 30]),
        ],
        ..cfg()
    }
}

/// RFC 4568 §4 and §9.1: the examples parse, and write back as they were.
#[test]
fn crypto_attribute_rfc4568_examples() {
    let v = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32";
    let c = Crypto::parse(v).unwrap();
    assert_eq!((c.tag, c.suite.as_str()), (1, "AES_CM_128_HMAC_SHA1_80"));
    assert_eq!(c.key_salt().len(), 30);
    assert_eq!(c.keys[0].lifetime.as_deref(), Some("2^20"));
    assert_eq!(c.keys[0].mki, Some((1, 32)));
    assert_eq!(c.to_string(), v);
    let s = Session::parse(SDES_OFFER.as_bytes()).unwrap();
    let lines = s.media[0].crypto();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1].keys.len(), 2);
    assert_eq!(lines[1].keys[1].mki, Some((2, 4)));
    assert_eq!(lines[1].session_params, vec!["FEC_ORDER=FEC_SRTP"]);
    assert!(s.media[0].is_savp());
    assert_eq!(s.to_string(), SDES_OFFER);
    // Keys never reach a log line.
    assert!(!format!("{c:?}").contains("PS1u"));
    // Base64 both ways, with and without padding.
    for n in 0..8 {
        let bytes: Vec<u8> = (0..n).map(|i| i * 37 + 1).collect();
        let text = base64_encode(&bytes);
        assert_eq!(base64_decode(&text).unwrap(), bytes);
        assert_eq!(base64_decode(text.trim_end_matches('=')).unwrap(), bytes);
    }
}

#[test]
fn crypto_garbage_is_a_typed_error() {
    for bad in [
        "",
        "1",
        "x AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        "1234567890 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        "1 AES_CM_128_HMAC_SHA1_80",
        "1 AES-CM inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        "1 AES_CM_128_HMAC_SHA1_80 PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
        "1 AES_CM_128_HMAC_SHA1_80 inline:",
        "1 AES_CM_128_HMAC_SHA1_80 inline:P!1u",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQ",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^x",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1:0",
        "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|2^20",
    ] {
        assert!(matches!(Crypto::parse(bad), Err(SdpError::InvalidCrypto(_))), "{bad:?}");
    }
    assert!("sometimes".parse::<SrtpPolicy>().is_err());
    assert_eq!("require".parse::<SrtpPolicy>(), Ok(SrtpPolicy::Require));
}

#[test]
fn srtp_offers() {
    let plain = build_offer(&MediaConfig { srtp: SrtpPolicy::Off, ..srtp_cfg(SrtpPolicy::Off) }).to_string();
    assert!(plain.contains("RTP/AVP") && !plain.contains("a=crypto"));
    let offer = build_offer(&srtp_cfg(SrtpPolicy::Offer)).to_string();
    assert!(offer.contains("m=audio 40000 RTP/AVP 0 8 111 101\r\n"), "{offer}");
    assert!(offer.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:oKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCg\r\n"));
    assert!(offer.contains("a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:"));
    let required = build_offer(&srtp_cfg(SrtpPolicy::Require)).to_string();
    assert!(required.contains("m=audio 40000 RTP/SAVP 0 8 111 101\r\n"));
}

#[test]
fn srtp_answer_picks_first_supported_suite_with_offered_tag() {
    let offer = Session::parse(SDES_OFFER.as_bytes()).unwrap();
    for policy in [SrtpPolicy::Offer, SrtpPolicy::Require] {
        let ans = answer(&offer, &srtp_cfg(policy)).unwrap();
        let m = &ans.media[0];
        assert_eq!(m.proto, "RTP/SAVP");
        let lines = m.crypto();
        assert_eq!(lines.len(), 1, "one answer line");
        assert_eq!((lines[0].tag, lines[0].suite.as_str()), (1, "AES_CM_128_HMAC_SHA1_80"));
        assert_eq!(lines[0].key_salt(), &[0xA0; 30], "our own key");
        let keys = srtp_keys(&ans, &offer).unwrap();
        assert_eq!(keys.suite, "AES_CM_128_HMAC_SHA1_80");
        assert_eq!(keys.local, vec![0xA0; 30]);
        assert_eq!(keys.remote, offer.media[0].crypto()[0].key_salt());
    }
    // The offerer's side of the same exchange: its key, the answerer's key, by tag.
    let mut ours = build_offer(&srtp_cfg(SrtpPolicy::Offer));
    ours.media[0].attributes.retain(|a| a.name != "crypto" || a.value.as_deref().is_some_and(|v| v.starts_with('2')));
    let mut peer = srtp_cfg(SrtpPolicy::Offer);
    peer.crypto = vec![Crypto::new(9, "AES_CM_128_HMAC_SHA1_32", vec![0xC0; 30])];
    let ans = answer(&ours, &peer).unwrap();
    assert_eq!(ans.media[0].crypto()[0].tag, 2);
    let keys = srtp_keys(&ours, &ans).unwrap();
    assert_eq!((keys.local[0], keys.remote[0]), (0xB0, 0xC0));
}

#[test]
fn srtp_fallback_and_refusal() {
    // A plain offer: `offer` answers plain RTP, `require` refuses.
    let plain = Session::parse(OFFER.as_bytes()).unwrap();
    let ans = answer(&plain, &srtp_cfg(SrtpPolicy::Offer)).unwrap();
    assert!(ans.media[0].crypto().is_empty());
    assert_eq!(srtp_keys(&ans, &plain), None);
    assert_eq!(answer(&plain, &srtp_cfg(SrtpPolicy::Require)), Err(SdpError::NoCommonCrypto));
    // An RTP/SAVP offer to a phone with SRTP off, or with no suite in common: refused.
    let savp = Session::parse(SDES_OFFER.as_bytes()).unwrap();
    assert_eq!(answer(&savp, &srtp_cfg(SrtpPolicy::Off)), Err(SdpError::NoCommonCrypto));
    let mut only_f8 = srtp_cfg(SrtpPolicy::Offer);
    only_f8.crypto.retain(|c| c.suite.ends_with("_32"));
    assert_eq!(answer(&savp, &only_f8), Err(SdpError::NoCommonCrypto));
    // Our best-effort offer (RTP/AVP + a=crypto) to a peer with SRTP off: plain RTP.
    let ours = build_offer(&srtp_cfg(SrtpPolicy::Offer));
    let ans = answer(&ours, &cfg()).unwrap();
    assert_eq!(ans.media[0].proto, "RTP/AVP");
    assert_eq!(srtp_keys(&ours, &ans), None);
}

#[test]
fn parse_and_roundtrip() {
    let s = Session::parse(OFFER.as_bytes()).unwrap();
    assert_eq!(s.origin.session_version, 2890844526);
    assert_eq!(s.media.len(), 2);
    let a = &s.media[0];
    assert_eq!(a.payload_types(), vec![96, 8, 0, 97]);
    assert_eq!(a.rtpmap(96).unwrap().channels, Some(2));
    assert_eq!(a.rtpmap(0).unwrap().encoding, "PCMU");
    assert_eq!(a.fmtp(96), Some("useinbandfec=1"));
    assert_eq!(a.ptime(), Some(20));
    assert_eq!(a.rtcp_port(), Some(49171));
    assert_eq!(a.direction(Direction::SendRecv), Direction::SendRecv);
    assert_eq!(s.to_string(), OFFER);
}

#[test]
fn rejects_garbage() {
    for bad in [
        "",
        "x",
        "v=1\r\n",
        "v=0\r\ns=x\r\n",
        "v=0\r\no=a b\r\ns=x\r\n",
        "v=0\r\no=a 1 2 IN IP4 h\r\ns=\r\nm=audio x RTP/AVP 0\r\n",
    ] {
        assert!(Session::parse(bad.as_bytes()).is_err(), "{bad:?}");
    }
}

#[test]
fn offer_lists_our_codecs() {
    let o = build_offer(&cfg());
    let text = o.to_string();
    assert!(text.contains("m=audio 40000 RTP/AVP 0 8 111 101\r\n"));
    assert!(text.contains("a=rtpmap:111 opus/48000/2\r\n"));
    assert!(text.contains("a=fmtp:101 0-16\r\n"));
    assert!(text.contains("c=IN IP4 192.0.2.5\r\n"));
    assert_eq!(Session::parse(text.as_bytes()).unwrap(), o);
}

#[test]
fn answer_intersects_in_our_order() {
    let offer = Session::parse(OFFER.as_bytes()).unwrap();
    let ans = answer(&offer, &cfg()).unwrap();
    let a = &ans.media[0];
    // Ours: PCMU, PCMA, opus, telephone-event; offerer's numbers for dynamic ones.
    assert_eq!(a.formats, vec!["0", "8", "96", "97"]);
    assert_eq!(a.rtpmap(97).unwrap().encoding, "telephone-event");
    assert_eq!(ans.media[1].port, 0);
    assert_eq!(ans.media[1].formats, vec!["31"]);
}

#[test]
fn media_plan_from_both_sides() {
    let offer = Session::parse(OFFER.as_bytes()).unwrap();
    let ans = answer(&offer, &cfg()).unwrap();
    // The answerer sends to the offerer's address; both use the answer's first codec.
    let plan = media_plan(&ans, &offer).unwrap();
    assert_eq!(plan.remote_rtp, "192.0.2.101:49170".parse().unwrap());
    assert_eq!(plan.remote_rtcp, "192.0.2.101:49171".parse().unwrap());
    assert_eq!(plan.codec.encoding, "PCMU");
    assert_eq!(plan.telephone_event, Some(97));
    assert_eq!(plan.ptime, 20);
    let plan = media_plan(&ans, &ans).unwrap();
    assert_eq!(plan.remote_rtp, "192.0.2.5:40000".parse().unwrap());
    assert_eq!(plan.remote_rtcp, "192.0.2.5:40001".parse().unwrap());
    let rejected = Session { media: vec![Media { port: 0, ..ans.media[0].clone() }], ..ans.clone() };
    assert_eq!(media_plan(&rejected, &offer), Err(SdpError::NoCommonCodec));
}

#[test]
fn answer_without_common_codec() {
    let offer = "v=0\r\no=a 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 5000 RTP/AVP 18 101\r\na=rtpmap:101 telephone-event/8000\r\n";
    let offer = Session::parse(offer.as_bytes()).unwrap();
    assert_eq!(answer(&offer, &cfg()), Err(SdpError::NoCommonCodec));
}

#[test]
fn hold_and_resume() {
    let mut o = build_offer(&cfg());
    o.hold();
    assert_eq!(o.media[0].direction(Direction::SendRecv), Direction::SendOnly);
    let offer = Session::parse(o.to_string().as_bytes()).unwrap();
    let ans = answer(&offer, &cfg()).unwrap();
    assert_eq!(ans.media[0].direction(Direction::SendRecv), Direction::RecvOnly);
    o.resume();
    assert_eq!(o.media[0].direction(Direction::SendRecv), Direction::SendRecv);
    // Held by the other side too: recvonly -> inactive and back.
    assert_eq!(Direction::RecvOnly.hold(), Direction::Inactive);
    assert_eq!(Direction::Inactive.resume(), Direction::RecvOnly);
    assert_eq!(Direction::answer(Direction::Inactive, Direction::SendRecv), Direction::Inactive);
    assert_eq!(Direction::answer(Direction::RecvOnly, Direction::SendRecv), Direction::SendOnly);
    o.bump_version();
    assert_eq!(o.origin.session_version, 2);
}

#[test]
fn rfc4475_bodies_parse() {
    let b = "v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n";
    let s = Session::parse(b.as_bytes()).unwrap();
    assert_eq!(s.media.len(), 2);
    assert!(s.media[1].rtpmaps().is_empty()); // "LPC" without a clock rate
}
