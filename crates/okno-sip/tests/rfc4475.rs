//! Runs every RFC 4475 torture message in `tests/rfc4475/` against the parser and
//! checks the verdict recorded in `verdicts.txt`.

use std::path::Path;

use okno_sip::message::{HeaderName, Message};

fn load(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rfc4475").join(format!("{name}.sip"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

struct Case {
    name: String,
    verdict: String,
    section: String,
    validate_err: bool,
}

fn cases() -> Vec<Case> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rfc4475/verdicts.txt");
    let text = std::fs::read_to_string(p).expect("verdicts.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Case {
                name: f[0].to_owned(),
                verdict: f[1].to_owned(),
                section: f[2].to_owned(),
                validate_err: l.contains("validate=err"),
            }
        })
        .collect()
}

#[test]
fn verdicts_match() {
    let cases = cases();
    assert!(cases.len() >= 47, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let res = Message::parse(&load(&c.name));
        let ok = match (c.verdict.as_str(), &res) {
            ("invalid", Err(_)) => true,
            ("valid" | "odd", Ok(m)) => {
                let v = m.as_request().map(|r| r.validate());
                match v {
                    Some(Err(_)) => c.validate_err,
                    _ => !c.validate_err,
                }
            }
            _ => false,
        };
        if !ok {
            failures.push(format!("{} ({}) expected {}: got {:?}", c.name, c.section, c.verdict, res.err()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_file_is_listed() {
    let listed: Vec<String> = cases().into_iter().map(|c| c.name).collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rfc4475");
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        if let Some(stem) = name.strip_suffix(".sip") {
            assert!(listed.iter().any(|l| l == stem), "{stem} not in verdicts.txt");
        }
    }
}

fn parse(name: &str) -> Message {
    Message::parse(&load(name)).unwrap()
}

#[test]
fn wsinv_details() {
    let m = parse("wsinv");
    let h = m.headers();
    let vias = h.vias().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].branch(), Some("390skdjuw"));
    assert_eq!(vias[1].host.to_string(), "spindle.example.com");
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    assert_eq!(h.to().unwrap().tag(), Some("1918181833n"));
    let from = h.from().unwrap();
    assert_eq!(from.display.as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(h.max_forwards().unwrap(), Some(68));
    assert_eq!(h.cseq().unwrap().seq, 9);
    assert_eq!(h.get(&HeaderName::Subject), Some(""));
    assert_eq!(h.get_other("NewFangledHeader"), Some("newfangled value continued newfangled value"));
    assert_eq!(h.get_other("UnknownHeaderWithUnusualValue"), Some(";;,,;;,;"));
    let c = h.contacts().unwrap();
    let a = c[0].addr().unwrap();
    assert_eq!(a.display.as_deref(), Some("Quoted string \"\""));
    assert_eq!(a.param("q").unwrap().value.as_deref(), Some("0.33"));
    assert!(a.param("secondparam").unwrap().value.is_none());
    assert_eq!(m.body().len(), 150);
    // Re-serialized, it parses to the same thing.
    assert_eq!(Message::parse(&m.to_bytes()).unwrap().to_bytes(), m.to_bytes());
}

#[test]
fn intmeth_details() {
    let m = parse("intmeth");
    let r = m.as_request().unwrap();
    assert_eq!(r.method.as_str(), "!interesting-Method0123456789_*+`.%indeed'~");
    let to = r.headers.to().unwrap();
    assert_eq!(to.display.as_deref(), Some("BEL:\x07 NUL:\0 DEL:\x7f"));
    let from = r.headers.from().unwrap();
    assert_eq!(from.display.as_deref(), Some("token1~` token2'+_ token3*%!.-"));
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(from.param("fromParam''~+*_!.-%").unwrap().unquoted_value().as_deref(), Some("работающий"));
    assert_eq!(r.headers.get_other("extensionHeader-!.%*+_`'~"), Some("\u{feff}大停電"));
    assert_eq!(Message::parse(&m.to_bytes()).unwrap().to_bytes(), m.to_bytes());
}

#[test]
fn escapes_and_extras() {
    let m = parse("escnull");
    let c = m.headers().contacts().unwrap();
    assert_eq!(c.len(), 2);
    let u = c[1].addr().unwrap().uri.as_sip().unwrap();
    assert_eq!(u.user_decoded().unwrap(), b"\0\0");
    let m = parse("esc02");
    assert_eq!(m.headers().contacts().unwrap().len(), 2);
    let m = parse("dblreq");
    assert!(m.body().is_empty());
    let m = parse("longreq");
    assert_eq!(m.headers().vias().unwrap().len(), 34);
    let m = parse("unreason");
    assert_eq!(m.as_response().unwrap().reason, "= 2**3 * 5**2 но сто девяносто девять - простое");
    let m = parse("noreason");
    assert_eq!(m.as_response().unwrap().reason, "");
    let m = parse("semiuri");
    let u = m.as_request().unwrap().uri.as_sip().unwrap().clone();
    assert_eq!(u.user_decoded().unwrap(), b"user;par=u@example.net");
    assert!(u.params.is_empty());
}

#[test]
fn badvers_maps_to_505() {
    let e = Message::parse(&load("badvers")).unwrap_err();
    assert_eq!(e.status_code(), 505);
}
