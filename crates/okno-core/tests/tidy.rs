//! Architecture invariant: okno-core stays pure. It may not depend on an async runtime,
//! a database, a UI toolkit or a network stack, so every rule in it runs anywhere and in tests
//! without set-up.

#[test]
fn okno_core_has_no_io_dependencies() {
    let manifest = include_str!("../Cargo.toml");
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("okno-core's Cargo.toml has a [dependencies] table");
    for forbidden in ["tokio", "sqlx", "tauri", "reqwest", "axum", "hyper", "async-std", "rusqlite", "cpal"] {
        let found = deps.lines().any(|line| line.trim_start().starts_with(forbidden));
        assert!(!found, "okno-core must not depend on {forbidden}");
    }
}
