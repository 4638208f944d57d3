//! The main window, reopened where the operator left it.

use serde::{Deserialize, Serialize};
use tauri::{Manager, WebviewUrl, WebviewWindowBuilder};

const KEY: &str = "window.main";

/// Outer position and inner size in logical pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Geometry {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
    maximized: bool,
}

pub(crate) fn open_main_window(app: &mut tauri::App, store: &okno_store::Store) -> tauri::Result<()> {
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
    window.on_window_event(move |event| {
        if let tauri::WindowEvent::CloseRequested { .. } = event {
            let scale = handle.scale_factor().unwrap_or(1.0);
            let (Ok(pos), Ok(size)) = (handle.outer_position(), handle.inner_size()) else { return };
            let geometry = Geometry {
                x: f64::from(pos.x) / scale,
                y: f64::from(pos.y) / scale,
                width: f64::from(size.width) / scale,
                height: f64::from(size.height) / scale,
                maximized: handle.is_maximized().unwrap_or(false),
            };
            let json = serde_json::to_string(&geometry).unwrap_or_default();
            if let Err(e) = tauri::async_runtime::block_on(store.set_setting(KEY, &json)) {
                tracing::warn!(error = %e, "window geometry not saved");
            }
        }
    });
    let _ = app.get_webview_window("main");
    Ok(())
}
