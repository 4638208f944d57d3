//! Where the desk's secrets go: a provisioning file's SIP password moves into the secret store
//! (the OS keychain in the app; here an in-memory one) and the file is rewritten without it, so
//! the password is in neither the file nor the database afterwards.

use std::sync::Arc;

use okno_desk::phone::PhoneService;
use okno_desk::secrets::{MemorySecrets, SecretStore};

#[tokio::test]
async fn a_provisioned_password_moves_to_the_secret_store_and_out_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = okno_store::Store::open(&dir.path().join("okno.db")).await.unwrap();
    let provision = dir.path().join("provision.toml");
    std::fs::write(
        &provision,
        "[[sip_account]]\nid = \"desk\"\nuser = \"1001\"\ndomain = \"127.0.0.1\"\n\
         registrar = \"127.0.0.1:9\"\npassword = \"s3cret-sip\"\nenabled = false\n",
    )
    .unwrap();
    let secrets = Arc::new(MemorySecrets::default());
    let phone = PhoneService::start(store.clone(), Some(&provision), dir.path(), secrets.clone()).await.unwrap();

    assert_eq!(secrets.get("sip:desk").unwrap().as_deref(), Some("s3cret-sip"), "the password is in the store");
    let rewritten = std::fs::read_to_string(&provision).unwrap();
    assert!(!rewritten.contains("s3cret-sip") && !rewritten.contains("password ="), "{rewritten}");
    assert!(rewritten.contains("id = \"desk\""), "the rest of the file stays: {rewritten}");
    let accounts = phone.list_accounts().await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert!(accounts[0].has_password, "the account knows it has a password");
    drop(phone);
    store.close().await;
    let db = std::fs::read(dir.path().join("okno.db")).unwrap();
    let wal = std::fs::read(dir.path().join("okno.db-wal")).unwrap_or_default();
    let needle = b"s3cret-sip";
    let found = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!found(&db) && !found(&wal), "the password is not in the database");
}
