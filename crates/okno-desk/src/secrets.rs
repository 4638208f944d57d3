//! SIP passwords and the server's refresh token in the OS keychain (macOS Keychain, Windows Credential Manager, the Secret
//! Service on Linux), never in SQLite, logs or config files. Where no keychain answers (a server
//! without a Secret Service daemon, CI), saving a password is refused with a message that says
//! so and how to provision instead; nothing crashes and nothing is written elsewhere.

const SERVICE: &str = "okno-desktop";

fn entry(account_id: &str) -> Result<keyring::Entry, String> {
    keyring::Entry::new(SERVICE, &format!("sip:{account_id}")).map_err(explain)
}

fn explain(e: keyring::Error) -> String {
    match e {
        keyring::Error::NoStorageAccess(inner) | keyring::Error::PlatformFailure(inner) => format!(
            "the OS keychain is not available here ({inner}); start a keyring (e.g. gnome-keyring) or provision \
             the password through an environment variable (password_env in the provisioning file)"
        ),
        other => format!("the OS keychain refused: {other}"),
    }
}

pub(crate) fn store_password(account_id: &str, password: &str) -> Result<(), String> {
    entry(account_id)?.set_password(password).map_err(explain)
}

/// `Ok(None)` when nothing is stored for the account.
pub(crate) fn password(account_id: &str) -> Result<Option<String>, String> {
    match entry(account_id)?.get_password() {
        Ok(p) => Ok(Some(p)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(explain(e)),
    }
}

/// The server's refresh token for `operator` at `server` (the sync driver keeps it in memory
/// when no keychain answers, so the desk signs in again after a restart).
fn token_entry(server: &str, operator: &str) -> Result<keyring::Entry, String> {
    keyring::Entry::new(SERVICE, &format!("refresh:{operator}@{server}")).map_err(explain)
}

pub(crate) fn store_refresh_token(server: &str, operator: &str, token: &str) -> Result<(), String> {
    token_entry(server, operator)?.set_password(token).map_err(explain)
}

pub(crate) fn refresh_token(server: &str, operator: &str) -> Result<Option<String>, String> {
    match token_entry(server, operator)?.get_password() {
        Ok(t) => Ok(Some(t)),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(e) => Err(explain(e)),
    }
}

pub(crate) fn forget_password(account_id: &str) -> Result<(), String> {
    match entry(account_id)?.delete_credential() {
        Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(e) => Err(explain(e)),
    }
}

#[cfg(test)]
mod tests {
    /// On a desk with a keychain the password round-trips; on one without (CI, a bare server)
    /// the answer is a message that says what to do, and nothing panics.
    #[test]
    fn a_password_round_trips_or_the_missing_keychain_is_explained() {
        let id = format!("okno-test-{}", std::process::id());
        match super::store_password(&id, "s3cret") {
            Ok(()) => {
                assert_eq!(super::password(&id).unwrap().as_deref(), Some("s3cret"));
                super::forget_password(&id).unwrap();
                assert_eq!(super::password(&id).unwrap(), None);
            }
            Err(message) => {
                eprintln!("no keychain here: {message}");
                assert!(message.contains("keychain"), "{message}");
                assert!(message.contains("password_env"), "says how to provision instead: {message}");
                assert!(!message.contains("s3cret"));
            }
        }
    }
}
