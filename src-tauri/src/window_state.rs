//! The main window, reopened where the operator left it. Geometry is saved shortly after the
//! last move or resize (not only on close), so a crash or a killed process keeps it too.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tauri::{WebviewUrl, WebviewWindow, WebviewWindowBuilder};

const KEY: &str = "window.main";
/// Moves and resizes arrive many times a second while dragging; save once it settles.
const SETTLE: Duration = Duration::from_millis(400);

/// Outer position and inner size in logical pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Geometry {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    maximized: bool,
}

fn current(window: &WebviewWindow) -> Option<Geometry> {
    let scale = window.scale_factor().ok()?;
    let pos = window.outer_position().ok()?;
    let size = window.inner_size().ok()?;
    Some(Geometry {
        x: f64::from(pos.x) / scale,
        y: f64::from(pos.y) / scale,
        width: f64::from(size.width) / scale,
        height: f64::from(size.height) / scale,
        maximized: window.is_maximized().unwrap_or(false),
    })
}

async fn save(store: &okno_desk::Store, geometry: Geometry) {
    let json = serde_json::to_string(&geometry).unwrap_or_default();
    if let Err(e) = store.set_setting(KEY, &json).await {
        tracing::warn!(error = %e, "window geometry not saved");
    }
}

pub(crate) fn open_main_window(app: &mut tauri::App, store: &okno_desk::Store) -> tauri::Result<()> {
    let saved: Option<Geometry> = tauri::async_runtime::block_on(store.setting(KEY))
        .ok()
        .flatten()
        .and_then(|json| serde_json::from_str(&json).ok())
        .filter(|g: &Geometry| g.width >= 400.0 && g.height >= 300.0);
    let mut builder = WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into()))
        .title("Okno")
        .min_inner_size(1024.0, 640.0)
        .inner_size(1440.0, 900.0)
        .resizable(true);
    if let Some(g) = saved {
        builder = builder.inner_size(g.width, g.height).position(g.x, g.y).maximized(g.maximized);
    }
    let window = builder.build()?;
    let store = store.clone();
    let handle = window.clone();
    let generation = Arc::new(AtomicU64::new(0));
    window.on_window_event(move |event| match event {
        tauri::WindowEvent::Moved(_) | tauri::WindowEvent::Resized(_) => {
            let mine = generation.fetch_add(1, Ordering::SeqCst) + 1;
            let (generation, store, handle) = (generation.clone(), store.clone(), handle.clone());
            tauri::async_runtime::spawn(async move {
                tokio::time::sleep(SETTLE).await;
                if generation.load(Ordering::SeqCst) == mine
                    && let Some(g) = current(&handle)
                {
                    save(&store, g).await;
                }
            });
        }
        tauri::WindowEvent::CloseRequested { .. } => {
            if let Some(g) = current(&handle) {
                tauri::async_runtime::block_on(save(&store, g));
            }
        }
        _ => {}
    });
    Ok(())
}
