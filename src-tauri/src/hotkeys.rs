//! Global hotkeys for the phone: answer and hang up while another application has the focus
//! (an operator typing in the CRM's browser tab still takes the call). Registered with the
//! desktop through Tauri's global-shortcut plugin; the keys are settings (`hotkey_answer`,
//! `hotkey_hangup`) with defaults that leave the window's own Alt+letter keys alone.
//!
//! A desktop that refuses a grab (the key is taken by another program, or Wayland without a
//! portal) costs only that hotkey: it is logged and the window's keys still work.

use std::sync::Arc;

use tauri_plugin_global_shortcut::{GlobalShortcutExt, Shortcut, ShortcutState};

use okno_desk::phone::PhoneService;

pub(crate) const DEFAULT_ANSWER: &str = "Ctrl+Alt+A";
pub(crate) const DEFAULT_HANGUP: &str = "Ctrl+Alt+H";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Answer,
    Hangup,
}

/// The answer and hang-up shortcuts from the settings' texts; a text that does not parse falls
/// back to the default, with a warning.
fn shortcuts(answer: Option<String>, hangup: Option<String>) -> [(Action, Shortcut); 2] {
    let parse = |text: Option<String>, default: &str, key: &str| {
        let text = text.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| default.to_owned());
        text.parse::<Shortcut>().unwrap_or_else(|e| {
            tracing::warn!(setting = key, %text, error = %e, "not a shortcut; using {default}");
            default.parse().expect("the default shortcuts parse")
        })
    };
    [
        (Action::Answer, parse(answer, DEFAULT_ANSWER, "hotkey_answer")),
        (Action::Hangup, parse(hangup, DEFAULT_HANGUP, "hotkey_hangup")),
    ]
}

/// Installs the plugin and grabs the two keys; presses go to the phone.
pub(crate) fn install(app: &tauri::App, phone: Arc<PhoneService>, answer: Option<String>, hangup: Option<String>) {
    let keys = shortcuts(answer, hangup);
    let handler_keys = keys;
    let plugin = tauri_plugin_global_shortcut::Builder::new()
        .with_handler(move |_app, shortcut, event| {
            if event.state() != ShortcutState::Pressed {
                return;
            }
            let Some((action, _)) = handler_keys.iter().find(|(_, k)| k == shortcut) else { return };
            tracing::info!(?action, "global hotkey");
            let result = match action {
                Action::Answer => phone.answer_ringing(),
                Action::Hangup => phone.hangup_current(),
            };
            if let Err(e) = result {
                // Nothing to answer or hang up is the usual case, not a fault.
                tracing::debug!(?action, error = %e.message, "hotkey had nothing to do");
            }
        })
        .build();
    if let Err(e) = app.handle().plugin(plugin) {
        tracing::warn!(error = %e, "no global hotkeys on this desktop");
        return;
    }
    for (action, key) in keys {
        match app.global_shortcut().register(key) {
            Ok(()) => tracing::info!(?action, key = %key, "global hotkey registered"),
            Err(e) => tracing::warn!(?action, key = %key, error = %e, "cannot grab the global hotkey"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_choose_the_keys_and_bad_ones_fall_back() {
        let [(_, answer), (_, hangup)] = shortcuts(None, Some("Ctrl+Shift+F12".into()));
        assert_eq!(answer, DEFAULT_ANSWER.parse::<Shortcut>().unwrap());
        assert_eq!(hangup, "Ctrl+Shift+F12".parse::<Shortcut>().unwrap());
        let [(_, answer), _] = shortcuts(Some("Ctrl+Nope".into()), None);
        assert_eq!(answer, DEFAULT_ANSWER.parse::<Shortcut>().unwrap());
    }
}
