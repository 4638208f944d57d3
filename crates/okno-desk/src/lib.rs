//! okno-desk: the desk's services behind the window, with no Tauri in them. It opens the local
//! store (filling the demo on request), runs the softphone ([`phone`]) and the sync driver
//! ([`sync`]), and answers the UI's commands from one typed table ([`commands`]), for the
//! Tauri shell and the HTTP bridge ([`http_bridge`]) alike.
//!
//! The shell keeps only what needs a window system: the window, global hotkeys, desktop
//! notifications, single instance and window state. It hands the desk callbacks for what the
//! desk wants shown (the phone's snapshot, an incoming call, sync status, new work).
//!
//! Invariant: nothing here depends on Tauri (checked by `cargo xtask tidy`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
pub use okno_store::Store;
pub use okno_store::demo::DemoSize;

mod bindings;
pub mod commands;
mod downloads;
pub mod error;
#[cfg(any(debug_assertions, feature = "http-bridge"))]
pub mod http_bridge;
pub mod phone;
pub mod secrets;
mod sounds;
pub mod sync;
mod wallboard;
mod work;

pub use commands::COMMAND_NAMES;
pub use error::{ErrorCode, UiError};

/// How to open the desk: what the command line asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct DeskOptions {
    /// Where `okno.db`, `okno.log`, recordings and `provision.toml` live.
    pub data_dir: PathBuf,
    /// Fill an empty store with generated demo data; such a desk never syncs.
    pub demo: bool,
    pub demo_size: DemoSize,
    pub demo_seed: u64,
    /// A provisioning file (TOML): server, SIP accounts, desk settings. Without one, a
    /// `provision.toml` in the data directory is used when there is one.
    pub provision: Option<PathBuf>,
}

/// The desk: the store and the services the commands reach.
pub struct Desk {
    pub store: Store,
    pub demo: bool,
    /// When the process started, for the cold-start figure.
    pub started: Instant,
    /// The softphone; `None` only if it failed to start (the inbox works without it).
    pub phone: Option<Arc<phone::PhoneService>>,
    pub sync: Arc<sync::SyncService>,
    /// Where the store lives; downloads fall back to a folder here.
    pub data_dir: PathBuf,
}

impl Desk {
    /// Open the store (migrating it, filling the demo if asked), then start the phone and sync.
    /// Runs inside a tokio runtime: the services spawn their tasks on it. Only the store can
    /// fail the start: a phone or sync problem is logged and shown, and the inbox still opens.
    pub async fn open(
        options: &DeskOptions,
        started: Instant,
        secrets: Arc<dyn secrets::SecretStore>,
    ) -> anyhow::Result<Desk> {
        let db_path = options.data_dir.join("okno.db");
        let store = open_store(&db_path, options)
            .await
            .with_context(|| format!("cannot open the store {}", db_path.display()))?;
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "store ready");
        let provision =
            options.provision.clone().or_else(|| Some(options.data_dir.join("provision.toml")).filter(|p| p.exists()));
        let phone =
            match phone::PhoneService::start(store.clone(), provision.as_deref(), &options.data_dir, secrets.clone())
                .await
            {
                Ok(phone) => Some(phone),
                // A bad provisioning file is the IT team's to fix; the operator still gets the inbox.
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "the phone did not start");
                    None
                }
            };
        let sync = sync::start(store.clone(), provision.as_deref(), options.demo, secrets);
        Ok(Desk { store, demo: options.demo, started, phone, sync, data_dir: options.data_dir.clone() })
    }

    /// A setting's text, `None` when unset or unreadable (the shell's hotkeys and window options).
    pub async fn setting(&self, key: &str) -> Option<String> {
        self.store.setting(key).await.ok().flatten()
    }
}

async fn open_store(db_path: &Path, options: &DeskOptions) -> anyhow::Result<Store> {
    let store = Store::open(db_path).await?;
    if options.demo
        && let Some(summary) = store.generate_demo(options.demo_size, options.demo_seed, now_ms()).await?
    {
        tracing::info!(?summary, "demo dataset generated");
    }
    Ok(store)
}

/// Now, as the store and the mutations count time.
pub(crate) fn now_ms() -> i64 {
    okno_core::unix_ms(std::time::SystemTime::now())
}
