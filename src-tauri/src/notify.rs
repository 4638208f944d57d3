//! Desktop notifications: "a call from Ivan Petrov on the hotline" or "assigned to you" in the
//! corner of the screen while the operator is in another application. On Linux they go to the desktop's
//! notification service (`org.freedesktop.Notifications` on the session bus); elsewhere, and
//! when no such service runs, the window's request for attention (a flashing taskbar entry) is
//! what remains, and the failure is logged once.

use std::sync::atomic::{AtomicBool, Ordering};

/// Shows a notification; never blocks the caller (the D-Bus call runs on its own thread).
pub(crate) fn show(summary: &str, body: &str) {
    let (summary, body) = (summary.to_owned(), body.to_owned());
    let spawned = std::thread::Builder::new().name("okno-notify".into()).spawn(move || {
        if let Err(e) = send(&summary, &body) {
            static REPORTED: AtomicBool = AtomicBool::new(false);
            if !REPORTED.swap(true, Ordering::Relaxed) {
                tracing::warn!(error = %e, "no desktop notifications (the window still asks for attention)");
            }
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the notification thread");
    }
}

#[cfg(target_os = "linux")]
fn send(summary: &str, body: &str) -> Result<(), String> {
    use std::collections::HashMap;
    use std::time::Duration;

    use dbus::arg::{RefArg, Variant};
    use dbus::blocking::Connection;

    let connection = Connection::new_session().map_err(|e| e.to_string())?;
    let service = connection.with_proxy(
        "org.freedesktop.Notifications",
        "/org/freedesktop/Notifications",
        Duration::from_secs(5),
    );
    let mut hints: HashMap<&str, Variant<Box<dyn RefArg>>> = HashMap::new();
    // Critical urgency: an incoming call should stay until the operator acts.
    hints.insert("urgency", Variant(Box::new(2u8)));
    hints.insert("category", Variant(Box::new("im.received".to_owned())));
    let actions: Vec<&str> = Vec::new();
    let (_id,): (u32,) = service
        .method_call(
            "org.freedesktop.Notifications",
            "Notify",
            ("Okno", 0u32, "call-start", summary, body, actions, hints, -1i32),
        )
        .map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn send(_summary: &str, _body: &str) -> Result<(), String> {
    Err("desktop notifications are only implemented for Linux so far".into())
}
