//! okno-desktop: the operator's window. Parses the command line, opens the desk (okno-desk:
//! the store, the phone, sync), and forwards the UI's commands to its command table. What needs
//! a window system stays here: the window, hotkeys, notifications, single instance.

#![cfg_attr(all(not(debug_assertions), target_os = "windows"), windows_subsystem = "windows")]

use std::path::PathBuf;

use std::sync::Arc;

use anyhow::Context;
use okno_desk::{DemoSize, Desk, DeskOptions};

mod hotkeys;
mod notify;
mod single_instance;
mod window_state;

const USAGE: &str = "\
okno-desktop — the Okno operator workstation

USAGE:
    okno-desktop [--demo] [--demo-size small|large] [--demo-seed N] [--data-dir DIR] [--provision FILE.toml]

OPTIONS:
    --demo               fill an empty store with a generated demo dataset (no server needed)
    --demo-size SIZE     small (default; a few thousand tickets) or large (100k tickets, 1M messages)
    --demo-seed N        seed of the demo generator (default 1): the same seed gives the same data
    --data-dir DIR       keep the database at DIR/okno.db (default: the OS's app data directory)
    --provision FILE     set the server and SIP accounts from a provisioning file (TOML; a `provision.toml`
                         in the data directory is applied the same way); see README.md
    --serve-http ADDR    no window: serve the UI and its commands over HTTP on a loopback ADDR
                         (e.g. 127.0.0.1:8765), to run the same UI in a browser; open the URL it
                         prints (its #token=... lets that tab run commands). Debug builds, or
                         release builds with the http-bridge feature
    -h, --help           print this help
    -V, --version        print the version

ENVIRONMENT:
    OKNO_LOG             log filter, e.g. info or okno_store=debug (default info)
    OKNO_BRIDGE_TOKEN    the --serve-http token to use instead of a random one (16+ characters)";

#[cfg(any(debug_assertions, feature = "http-bridge"))]
fn serve_http(addr: std::net::SocketAddr, desk: Desk) -> anyhow::Result<()> {
    let runtime = tauri::async_runtime::handle().inner().clone();
    okno_desk::http_bridge::serve(addr, desk, okno_desk::http_bridge::default_ui_dir()?, &runtime)
}

#[cfg(not(any(debug_assertions, feature = "http-bridge")))]
fn serve_http(_: std::net::SocketAddr, _: Desk) -> anyhow::Result<()> {
    anyhow::bail!("this build has no HTTP bridge: build okno-desktop with `--features http-bridge` to use --serve-http")
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Options {
    pub(crate) demo: bool,
    pub(crate) demo_size: DemoSize,
    pub(crate) demo_seed: u64,
    pub(crate) data_dir: Option<PathBuf>,
    pub(crate) serve_http: Option<std::net::SocketAddr>,
    pub(crate) provision: Option<PathBuf>,
}

enum Parsed {
    Run(Options),
    Exit(String),
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Parsed, String> {
    let mut options = Options {
        demo: false,
        demo_size: DemoSize::Small,
        demo_seed: 1,
        data_dir: None,
        serve_http: None,
        provision: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| inline.clone().or_else(|| args.next()).ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--demo" => options.demo = true,
            "--demo-size" => options.demo_size = value("--demo-size")?.parse()?,
            "--demo-seed" => {
                options.demo_seed = value("--demo-seed")?.parse().map_err(|_| "--demo-seed needs a whole number")?
            }
            "--data-dir" => options.data_dir = Some(PathBuf::from(value("--data-dir")?)),
            "--provision" => options.provision = Some(PathBuf::from(value("--provision")?)),
            "--serve-http" => {
                let addr = value("--serve-http")?;
                options.serve_http = Some(
                    addr.parse()
                        .map_err(|_| format!("--serve-http needs an address like 127.0.0.1:8765, not {addr:?}"))?,
                )
            }
            // `okno-desktop -- --demo`, as cargo users type it: there are no positional arguments.
            "--" => {}
            "-h" | "--help" => return Ok(Parsed::Exit(USAGE.to_owned())),
            "-V" | "--version" => return Ok(Parsed::Exit(format!("okno-desktop {}", env!("CARGO_PKG_VERSION")))),
            other => return Err(format!("unknown option {other:?}\n\n{USAGE}")),
        }
    }
    Ok(Parsed::Run(options))
}

fn main() {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Parsed::Run(options)) => options,
        Ok(Parsed::Exit(text)) => {
            println!("{text}");
            return;
        }
        Err(message) => {
            eprintln!("okno-desktop: {message}");
            std::process::exit(2);
        }
    };
    if let Err(error) = run(options) {
        eprintln!("okno-desktop: {error:#}");
        std::process::exit(1);
    }
}

fn run(options: Options) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let context = tauri::generate_context!();
    let data_dir = match &options.data_dir {
        Some(dir) => dir.clone(),
        None => default_data_dir(&context.config().identifier)?,
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let _log_guard = init_tracing(&data_dir);
    let instance = match single_instance::acquire(&data_dir).context("cannot lock the data directory")? {
        single_instance::Instance::First(guard) => guard,
        single_instance::Instance::AlreadyRunning => {
            println!("okno-desktop: already running on {}; its window was brought to the front", data_dir.display());
            return Ok(());
        }
    };
    tracing::info!(version = env!("CARGO_PKG_VERSION"), data_dir = %data_dir.display(), demo = options.demo, "starting");

    let desk_options = DeskOptions {
        data_dir: data_dir.clone(),
        demo: options.demo,
        demo_size: options.demo_size,
        demo_seed: options.demo_seed,
        provision: options.provision.clone(),
    };
    let keychain = Arc::new(okno_desk::secrets::OsKeychain);
    let desk = tauri::async_runtime::block_on(Desk::open(&desk_options, started, keychain))?;
    if let Some(addr) = options.serve_http {
        let _still_the_only_writer = instance;
        return serve_http(addr, desk);
    }
    let desk = Arc::new(desk);
    let commands = desk.clone();
    tauri::Builder::default()
        // Every command of okno-desk's table, by the name `invoke` sends; anything else is
        // left to Tauri (and so refused).
        .invoke_handler(move |invoke| forward(&commands, invoke))
        .setup(move |app| {
            window_state::open_main_window(app, &desk.store)?;
            let handle = app.handle().clone();
            desk.sync.on_change(move |status| {
                let _ = tauri::Emitter::emit(&handle, "sync", status);
            });
            desk.sync.on_new_work(notify::show);
            let typing = app.handle().clone();
            desk.sync.on_visitor_typing(move |ticket_id| {
                let _ = tauri::Emitter::emit(&typing, "visitor-typing", ticket_id);
            });
            if let Some(phone) = &desk.phone {
                let handle = app.handle().clone();
                phone.on_change(move |snapshot| {
                    if let Err(e) = tauri::Emitter::emit(&handle, "phone", snapshot) {
                        tracing::warn!(error = %e, "cannot send the phone state to the window");
                    }
                });
                // An incoming call brings the window forward and asks the desktop for attention
                // (a flashing taskbar entry), unless the operator turned it off
                // (setting `phone_bring_to_front` = "false").
                let handle = app.handle().clone();
                let setting = |key| tauri::async_runtime::block_on(desk.setting(key));
                let bring_to_front = setting("phone_bring_to_front").is_none_or(|v| v != "false");
                phone.on_incoming(move |title, body| {
                    notify::show(title, body);
                    let Some(window) = tauri::Manager::get_webview_window(&handle, "main") else { return };
                    if bring_to_front {
                        let _ = window.unminimize();
                        let _ = window.show();
                        let _ = window.set_focus();
                    }
                    let _ = window.request_user_attention(Some(tauri::UserAttentionType::Critical));
                });
                hotkeys::install(app, phone.clone(), setting("hotkey_answer"), setting("hotkey_hangup"));
            }
            let handle = app.handle().clone();
            instance.on_show(move || {
                if let Some(window) = tauri::Manager::get_webview_window(&handle, "main") {
                    let _ = window.unminimize();
                    let _ = window.show();
                    let _ = window.set_focus();
                }
            });
            Ok(())
        })
        .run(context)
        .context("the window system failed")?;
    Ok(())
}

/// Hand one `invoke` from the window to the desk's command table. `false` for a name the table
/// does not have, so Tauri answers it as an unknown command.
fn forward(desk: &Arc<Desk>, invoke: tauri::ipc::Invoke) -> bool {
    let command = invoke.message.command().to_owned();
    if !okno_desk::COMMAND_NAMES.contains(&command.as_str()) {
        return false;
    }
    let args = match invoke.message.payload() {
        tauri::ipc::InvokeBody::Json(args) => args.clone(),
        tauri::ipc::InvokeBody::Raw(_) => serde_json::Value::Null,
    };
    let desk = desk.clone();
    invoke
        .resolver
        .respond_async(async move { desk.dispatch(&command, &args).await.map_err(tauri::ipc::InvokeError::from) });
    true
}

/// The per-user app data directory, resolved without a running app so the store can be opened
/// (and its errors reported) before any window exists.
fn default_data_dir(identifier: &str) -> anyhow::Result<PathBuf> {
    let base = if cfg!(target_os = "windows") {
        std::env::var_os("APPDATA").map(PathBuf::from)
    } else if cfg!(target_os = "macos") {
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join("Library/Application Support"))
    } else {
        std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
    };
    base.map(|b| b.join(identifier)).context("cannot find the user's data directory; pass --data-dir")
}

/// Logs go to stderr and to `okno.log` in the data directory; the level comes from OKNO_LOG.
fn init_tracing(data_dir: &std::path::Path) -> Option<()> {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_env("OKNO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tao=warn,wry=warn"));
    let file = std::fs::OpenOptions::new().create(true).append(true).open(data_dir.join("okno.log")).ok();
    let file_layer =
        file.map(|f| tracing_subscriber::fmt::layer().with_ansi(false).with_writer(std::sync::Mutex::new(f)));
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_writer(std::io::stderr),
        )
        .with(file_layer)
        .try_init()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Parsed, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn demo_flags_parse() {
        let Ok(Parsed::Run(o)) = parse(&["--demo", "--demo-size", "large", "--data-dir=/tmp/x", "--demo-seed", "9"])
        else {
            panic!("parses")
        };
        assert_eq!(
            o,
            Options {
                demo: true,
                demo_size: DemoSize::Large,
                demo_seed: 9,
                data_dir: Some("/tmp/x".into()),
                serve_http: None,
                provision: None,
            }
        );
    }

    #[test]
    fn a_double_dash_before_the_options_is_accepted() {
        let Ok(Parsed::Run(o)) = parse(&["--", "--demo", "--data-dir", "/tmp/y"]) else { panic!("parses") };
        assert!(o.demo);
        assert_eq!(o.data_dir, Some("/tmp/y".into()));
    }

    #[test]
    fn bad_flags_are_clear_errors() {
        assert!(parse(&["--demo-size", "huge"]).err().unwrap().contains("huge"));
        assert!(parse(&["--data-dir"]).err().unwrap().contains("needs a value"));
        assert!(parse(&["--frobnicate"]).err().unwrap().contains("unknown option"));
        assert!(parse(&["--serve-http", "localhost"]).err().unwrap().contains("127.0.0.1:8765"));
    }
}
