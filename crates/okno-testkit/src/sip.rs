//! Kamailio as the SIP registrar and proxy the phone suites call through (../shared/TESTING.md):
//! digest authentication with one password for every user, on a free port of 127.0.0.1, over
//! UDP or (to prove a phone speaks it) over TCP only or TLS only.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::free_udp_port;

/// The registrar and proxy over UDP, TCP or TLS.
const PLAIN_CFG: &str = include_str!("kamailio.cfg.in");
/// The registrar and proxy for SIP over WebSocket (its listener TCP, or TLS for WSS).
const WEBSOCKET_CFG: &str = include_str!("kamailio-ws.cfg.in");

/// A running Kamailio; sent SIGTERM (then killed) on drop.
pub struct Kamailio {
    pub port: u16,
    pub run: tempfile::TempDir,
    child: Child,
}

impl Kamailio {
    /// Over UDP; every user registers and calls with `password`.
    pub fn start(password: &str) -> Kamailio {
        Kamailio::start_on("udp", password, false)
    }

    /// Over TLS only, with a certificate for 127.0.0.1 from a CA made for this run
    /// ([`Kamailio::ca_pem`]); it record-routes calls and sends requests for a phone back on the
    /// phone's own connection when its Via asks so (`alias`, RFC 5923), since a phone has no
    /// certificate to be connected to. Needs the kamailio-tls-modules package and openssl.
    pub fn start_tls(password: &str) -> Kamailio {
        Kamailio::start_on("tls", password, true)
    }

    /// The CA certificate (PEM) that issued a TLS Kamailio's certificate.
    pub fn ca_pem(&self) -> std::path::PathBuf {
        self.run.path().join("ca.pem")
    }

    /// Over UDP, staying in the path of every call it sets up (Record-Route): peers that
    /// send their in-dialog requests to the proxy (sipp does) reach each other through it.
    pub fn start_record_routing(password: &str) -> Kamailio {
        Kamailio::start_on("udp", password, true)
    }

    /// Over TCP only: a phone that registers and calls through it speaks SIP over TCP both
    /// ways (Kamailio connects to the phone's `transport=tcp` Contact for calls to it).
    pub fn start_tcp(password: &str) -> Kamailio {
        Kamailio::start_on("tcp", password, false)
    }

    /// SIP over WebSocket only (RFC 7118), at `ws://127.0.0.1:PORT/`: phones register over
    /// their own WebSocket connection and are called on it (their Contacts name `.invalid`
    /// hosts); calls are record-routed. Needs the kamailio-websocket-modules package.
    pub fn start_ws(password: &str) -> Kamailio {
        Kamailio::start_on_config(WEBSOCKET_CFG, "tcp", password, false)
    }

    /// SIP over secure WebSocket only, at `wss://127.0.0.1:PORT/`, with a certificate as
    /// [`Kamailio::start_tls`]'s. Needs kamailio-websocket-modules and kamailio-tls-modules.
    pub fn start_wss(password: &str) -> Kamailio {
        Kamailio::start_on_config(WEBSOCKET_CFG, "tls", password, false)
    }

    fn start_on(transport: &str, password: &str, record_route: bool) -> Kamailio {
        Kamailio::start_on_config(PLAIN_CFG, transport, password, record_route)
    }

    /// Kamailio on configuration template `template`, listening on `transport` (TLS with a
    /// certificate made for the run); the template's placeholders filled in.
    fn start_on_config(template: &str, transport: &str, password: &str, record_route: bool) -> Kamailio {
        assert!(
            Path::new("/usr/sbin/kamailio").exists() || Command::new("kamailio").arg("-v").output().is_ok(),
            "Kamailio is not installed: `apt-get install kamailio` (cargo xtask setup installs it)"
        );
        let run = tempfile::Builder::new().prefix("okno-kamailio-").tempdir().expect("temp dir");
        let dir = run.path();
        let port = if transport == "udp" { free_udp_port() } else { crate::free_port() };
        let (tls_globals, tls_module) =
            if transport == "tls" { tls_setup(dir) } else { (String::new(), String::new()) };
        let cfg = template
            .replace("@TLS_GLOBALS@", &tls_globals)
            .replace("@TLS_MODULE@", &tls_module)
            .replace("@TRANSPORT@", transport)
            .replace("@PORT@", &port.to_string())
            .replace("@RUNDIR@", &dir.display().to_string())
            .replace("@PASSWORD@", password)
            .replace(
                "@RECORD_ROUTE@",
                if record_route { "if (is_method(\"INVITE\")) { record_route(); }" } else { "" },
            );
        let path = dir.join("kamailio.cfg");
        std::fs::write(&path, cfg).expect("kamailio.cfg");
        let child = spawn(dir);
        Kamailio { port, run, child }
    }

    /// Stops Kamailio and starts it again on the same port and configuration, as an
    /// administrator's restart would: every binding is lost (they live in memory only) and
    /// every connection to it is closed.
    pub fn restart(&mut self) {
        crate::terminate(&mut self.child);
        self.child = spawn(self.run.path());
    }

    /// Freezes Kamailio and its workers (SIGSTOP): packets to it go unanswered and connections
    /// stay open, as when the network between a phone and its registrar goes away.
    pub fn freeze(&self) {
        self.signal_all("-STOP");
    }

    /// Lets a frozen Kamailio run again: it answers what is still queued for it.
    pub fn thaw(&self) {
        self.signal_all("-CONT");
    }

    /// Sends `signal` to Kamailio's process group (it and the workers it forked).
    fn signal_all(&self, signal: &str) {
        let group = format!("-{}", self.child.id());
        let status = Command::new("kill").args([signal, "--", &group]).status().expect("kill");
        assert!(status.success(), "kill {signal} {group}");
    }
}

/// Starts Kamailio on the configuration in `dir`, in a process group of its own (see
/// [`Kamailio::freeze`]), logging to `dir/kamailio.log` (appended across restarts).
fn spawn(dir: &Path) -> Child {
    use std::os::unix::process::CommandExt;
    let path = dir.join("kamailio.cfg");
    let d = dir.display().to_string();
    let log =
        std::fs::OpenOptions::new().create(true).append(true).open(dir.join("kamailio.log")).expect("kamailio.log");
    let child = Command::new("kamailio")
        .args(["-f", &path.display().to_string(), "-DD", "-E", "-Y", &d, "-P", &format!("{d}/kamailio.pid"), "-w", &d])
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("cannot start kamailio");
    // Kamailio forks its workers after reading the config; it listens well within this.
    std::thread::sleep(Duration::from_millis(800));
    child
}

impl Kamailio {
    /// `127.0.0.1:PORT`, as a registrar setting.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// What Kamailio logged so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.run.path().join("kamailio.log")).unwrap_or_default()
    }

    /// Whether `user` has a binding in Kamailio's location table now.
    pub fn registered(&self, user: &str) -> bool {
        self.rpc("ul.dump").contains(&format!("AoR: {user}"))
    }

    /// What Kamailio answers to the RPC command `command` (over its control socket, with kamcmd).
    pub fn rpc(&self, command: &str) -> String {
        let socket = format!("unix:{}/kamailio_ctl", self.run.path().display());
        let out = Command::new("kamcmd").args(["-s", &socket, command]).output().expect("kamcmd is installed");
        assert!(out.status.success(), "kamcmd {command}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // A frozen Kamailio would not act on SIGTERM.
        let _ = Command::new("kill").args(["-CONT", "--", &format!("-{}", self.child.id())]).status();
        crate::terminate(&mut self.child);
    }
}

/// Certificates and Kamailio's TLS settings in `dir`: the global lines and the module lines of
/// its configuration.
fn tls_setup(dir: &Path) -> (String, String) {
    make_certificates(dir);
    let tls_cfg = format!(
        "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n\
         private_key = {d}/kamailio-key.pem\ncertificate = {d}/kamailio-cert.pem\n\n\
         [client:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n",
        d = dir.display()
    );
    std::fs::write(dir.join("tls.cfg"), tls_cfg).expect("tls.cfg");
    (
        "enable_tls=yes\ntcp_accept_aliases=yes".to_owned(),
        format!("loadmodule \"tls.so\"\nmodparam(\"tls\", \"config\", \"{}/tls.cfg\")", dir.display()),
    )
}

/// A CA and a certificate for 127.0.0.1 it issued, in `dir` (openssl; EC P-256, two days).
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl is installed");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    std::fs::write(dir.join("ca.ext"), "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
        .expect("ca.ext");
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n",
    )
    .expect("leaf.ext");
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[&["req", "-new"][..], &ec, &["-keyout", "ca-key.pem", "-out", "ca.csr", "-subj", "/CN=Okno test CA"]]
            .concat(),
    );
    openssl(&[
        "x509",
        "-req",
        "-in",
        "ca.csr",
        "-signkey",
        "ca-key.pem",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-extfile",
        "ca.ext",
    ]);
    openssl(
        &[
            &["req", "-new"][..],
            &ec,
            &["-keyout", "kamailio-key.pem", "-out", "kamailio.csr", "-subj", "/CN=127.0.0.1"],
        ]
        .concat(),
    );
    openssl(&[
        "x509",
        "-req",
        "-in",
        "kamailio.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca-key.pem",
        "-CAcreateserial",
        "-out",
        "kamailio-cert.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
}
