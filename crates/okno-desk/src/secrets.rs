//! SIP passwords and the server's refresh token, never in SQLite, logs or config files: behind
//! [`SecretStore`], which the OS keychain implements ([`OsKeychain`]: macOS Keychain, Windows
//! Credential Manager, the Secret Service on Linux). Where no keychain answers (a server without
//! a Secret Service daemon, CI), saving a password is refused with a message that says so and
//! how to provision instead; nothing crashes and nothing is written elsewhere. Tests use
//! [`MemorySecrets`].

use std::collections::HashMap;
use std::sync::Mutex;

/// Where the desk keeps secrets. Calls may block (the Secret Service answers over D-Bus): async
/// callers run them off the async threads. Errors are messages for the operator.
pub trait SecretStore: Send + Sync {
    /// `Ok(None)` when nothing is stored under `key`.
    fn get(&self, key: &str) -> Result<Option<String>, String>;
    fn set(&self, key: &str, secret: &str) -> Result<(), String>;
    /// Forgetting what is not there is not an error.
    fn delete(&self, key: &str) -> Result<(), String>;
}

/// The key of a SIP account's password.
pub(crate) fn sip_key(account_id: &str) -> String {
    format!("sip:{account_id}")
}

/// The key of the refresh token of `operator` at `server`.
pub(crate) fn refresh_key(server: &str, operator: &str) -> String {
    format!("refresh:{operator}@{server}")
}

/// The OS keychain, entries under the service name `okno-desktop`.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsKeychain;

const SERVICE: &str = "okno-desktop";

fn explain(e: keyring::Error) -> String {
    match e {
        keyring::Error::NoStorageAccess(inner) | keyring::Error::PlatformFailure(inner) => format!(
            "the OS keychain is not available here ({inner}); start a keyring (e.g. gnome-keyring) or provision \
             the password through an environment variable (password_env in the provisioning file)"
        ),
        other => format!("the OS keychain refused: {other}"),
    }
}

fn entry(key: &str) -> Result<keyring::Entry, String> {
    keyring::Entry::new(SERVICE, key).map_err(explain)
}

impl SecretStore for OsKeychain {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        match entry(key)?.get_password() {
            Ok(p) => Ok(Some(p)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(explain(e)),
        }
    }

    fn set(&self, key: &str, secret: &str) -> Result<(), String> {
        entry(key)?.set_password(secret).map_err(explain)
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        match entry(key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(explain(e)),
        }
    }
}

/// Secrets kept in this process only: for tests, and what a desk falls back to nowhere else.
#[derive(Debug, Default)]
pub struct MemorySecrets(Mutex<HashMap<String, String>>);

impl SecretStore for MemorySecrets {
    fn get(&self, key: &str) -> Result<Option<String>, String> {
        Ok(self.0.lock().unwrap_or_else(|e| e.into_inner()).get(key).cloned())
    }

    fn set(&self, key: &str, secret: &str) -> Result<(), String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(key.to_owned(), secret.to_owned());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a desk with a keychain the password round-trips; on one without (CI, a bare server)
    /// the answer is a message that says what to do, and nothing panics.
    #[test]
    fn a_password_round_trips_or_the_missing_keychain_is_explained() {
        let key = sip_key(&format!("okno-test-{}", std::process::id()));
        match OsKeychain.set(&key, "s3cret") {
            Ok(()) => {
                assert_eq!(OsKeychain.get(&key).unwrap().as_deref(), Some("s3cret"));
                OsKeychain.delete(&key).unwrap();
                assert_eq!(OsKeychain.get(&key).unwrap(), None);
            }
            Err(message) => {
                eprintln!("no keychain here: {message}");
                assert!(message.contains("keychain"), "{message}");
                assert!(message.contains("password_env"), "says how to provision instead: {message}");
                assert!(!message.contains("s3cret"));
            }
        }
    }

    #[test]
    fn the_memory_store_keeps_secrets_apart_by_key() {
        let store = MemorySecrets::default();
        store.set(&sip_key("a"), "1").unwrap();
        store.set(&refresh_key("http://s", "anna"), "2").unwrap();
        assert_eq!(store.get(&sip_key("a")).unwrap().as_deref(), Some("1"));
        assert_eq!(store.get(&sip_key("b")).unwrap(), None);
        store.delete(&sip_key("a")).unwrap();
        store.delete(&sip_key("a")).unwrap();
        assert_eq!(store.get(&sip_key("a")).unwrap(), None);
        assert_eq!(store.get(&refresh_key("http://s", "anna")).unwrap().as_deref(), Some("2"));
    }
}
