//! Sign-in and sessions as an attacker would try them, against the real router and PostgreSQL:
//! a flood of 10,000 made-up names cannot reset the limits or lock everyone out; oversized
//! fields are refused; logout, a disabled account and a session past its lifetime stop both
//! tokens; and a live socket is closed when its session ends.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use common::{Harness, PASSWORD};
use futures_util::StreamExt;
use okno_server::admin;
use okno_sync::{LIVE_PATH, LOGIN_PATH, REFRESH_PATH};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tower::ServiceExt;

/// A sign-in from `address`, as the real server sees its TCP peer.
async fn login_from(h: &Harness, address: [u8; 4], name: &str, password: &str) -> (StatusCode, Value) {
    let mut request = Request::post(LOGIN_PATH)
        .header("content-type", "application/json")
        .body(Body::from(json!({ "name": name, "password": password }).to_string()))
        .unwrap();
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from((address, 40_000))));
    let response = h.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn set_password(h: &Harness, id: &str) {
    let hash = okno_server::auth::hash_password(PASSWORD).unwrap();
    sqlx::query("UPDATE operators SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .execute(&h.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_flood_of_names_neither_resets_the_limits_nor_locks_everyone_out() {
    let h = Harness::new().await;
    set_password(&h, "anna").await;
    set_password(&h, "boris").await;
    // Someone guesses anna's password from one machine until the name is blocked.
    for _ in 0..5 {
        assert_eq!(login_from(&h, [10, 0, 0, 1], "anna", "guess").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login_from(&h, [10, 0, 0, 1], "anna", "guess").await.0, StatusCode::TOO_MANY_REQUESTS);
    // Then sprays 10,000 made-up names from another, hoping to flush the limiter's memory.
    let mut answers = std::collections::BTreeMap::new();
    for n in 0..10_000 {
        let (status, _) = login_from(&h, [10, 0, 0, 2], &format!("nobody{n}"), "guess").await;
        *answers.entry(status.as_u16()).or_insert(0) += 1;
    }
    assert_eq!(answers.get(&401), Some(&20), "the address is limited after 20 failures: {answers:?}");
    assert_eq!(answers.get(&429), Some(&9_980), "{answers:?}");
    // anna is still protected, even with the right password, until her window passes...
    assert_eq!(login_from(&h, [10, 0, 0, 3], "anna", PASSWORD).await.0, StatusCode::TOO_MANY_REQUESTS);
    // ...while boris, from his own machine, signs in as usual.
    let (status, tokens) = login_from(&h, [10, 0, 0, 4], "boris", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (names, addresses) = h.state.limiter.tracked();
    assert!(names <= 30 && addresses <= 3, "the limiter holds {names} names and {addresses} addresses");
}

#[tokio::test]
async fn oversized_sign_ins_are_refused_with_the_reason() {
    let h = Harness::new().await;
    let (status, body) = login_from(&h, [10, 0, 1, 1], &"a".repeat(201), "x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap_or_default().contains("200"), "{body}");
    let (status, _) = login_from(&h, [10, 0, 1, 1], "anna", &"p".repeat(5000)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a body over the sign-in limit");
    let (status, _) = login_from(&h, [10, 0, 1, 1], "", "x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "an empty name");
    // None of these is a failed password: the address is not limited by them.
    assert_eq!(h.state.limiter.tracked(), (0, 0));
}

/// Signs anna in; returns (access, refresh).
async fn anna_tokens(h: &Harness) -> (String, String) {
    set_password(h, "anna").await;
    let (status, tokens) = login_from(h, [10, 0, 2, 1], "anna", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    (tokens["access_token"].as_str().unwrap().to_owned(), tokens["refresh_token"].as_str().unwrap().to_owned())
}

async fn works(h: &Harness, access: &str) -> bool {
    h.post("/v1/pull", Some(access), json!({ "cursor": 0, "limit": 1 })).await.0 == StatusCode::OK
}

async fn refreshes(h: &Harness, refresh: &str) -> Option<(String, String)> {
    let (status, tokens) = h.post(REFRESH_PATH, None, json!({ "refresh_token": refresh })).await;
    (status == StatusCode::OK).then(|| {
        (tokens["access_token"].as_str().unwrap().to_owned(), tokens["refresh_token"].as_str().unwrap().to_owned())
    })
}

#[tokio::test]
async fn logout_ends_the_session_through_its_refreshes() {
    let h = Harness::new().await;
    let (access, refresh) = anna_tokens(&h).await;
    assert!(works(&h, &access).await);
    // Refreshing keeps the session: logging out with the new token ends the old pair's too.
    let (access2, refresh2) = refreshes(&h, &refresh).await.expect("a refresh");
    assert!(refreshes(&h, &refresh).await.is_none(), "a refresh token works once");
    let (status, _) = h.post(okno_server::LOGOUT_PATH, Some(&access2), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!works(&h, &access2).await && !works(&h, &access).await, "no access token of the session works");
    assert!(refreshes(&h, &refresh2).await.is_none(), "nor its refresh token");
}

#[tokio::test]
async fn a_disabled_account_cannot_use_refresh_or_sign_in() {
    let h = Harness::new().await;
    let (access, refresh) = anna_tokens(&h).await;
    assert!(admin::set_disabled(&h.pool, "anna", true).await.unwrap());
    assert!(!works(&h, &access).await, "the access token it holds is refused");
    assert!(refreshes(&h, &refresh).await.is_none(), "and its refresh");
    assert_eq!(login_from(&h, [10, 0, 3, 1], "anna", PASSWORD).await.0, StatusCode::UNAUTHORIZED);
    assert!(admin::set_disabled(&h.pool, "anna", false).await.unwrap());
    assert_eq!(login_from(&h, [10, 0, 3, 1], "anna", PASSWORD).await.0, StatusCode::OK, "enabled again");
    assert!(!admin::set_disabled(&h.pool, "nobody", true).await.unwrap());
}

#[tokio::test]
async fn a_session_ends_at_its_lifetime_whatever_the_refreshes() {
    let h = Harness::new().await;
    let (_, refresh) = anna_tokens(&h).await;
    let (_, refresh) = refreshes(&h, &refresh).await.expect("a refresh within the lifetime");
    // The session began eight days ago (the lifetime is seven).
    sqlx::query("UPDATE auth_tokens SET session_started_at = now() - interval '8 days'")
        .execute(&h.pool)
        .await
        .unwrap();
    assert!(refreshes(&h, &refresh).await.is_none());
}

#[tokio::test]
async fn a_live_socket_closes_when_its_session_ends() {
    let h = Harness::new().await;
    let (access, _) = anna_tokens(&h).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = okno_server::app(h.state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let mut req = format!("ws://{addr}{LIVE_PATH}").into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {access}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(req).await.expect("WebSocket upgrade");
    assert!(matches!(socket.next().await, Some(Ok(Message::Text(_)))), "hello");
    assert_eq!(okno_server::admin::revoke_sessions(&h.pool, "anna").await.unwrap(), Some(2));
    // The socket checks its session at every ping (20 s).
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(frame) = socket.next().await {
            if let Ok(Message::Close(Some(close))) = frame {
                return Some(close);
            }
        }
        None
    })
    .await
    .expect("closed within a ping interval")
    .expect("a close frame");
    assert_eq!(u16::from(closed.code), 1008, "{closed:?}");
}

#[tokio::test]
async fn sign_ins_and_account_changes_are_audited_and_tampering_is_found() {
    let h = Harness::new().await;
    set_password(&h, "anna").await;
    let mut request = Request::post(LOGIN_PATH)
        .header("content-type", "application/json")
        .body(Body::from(
            json!({ "name": "anna", "password": PASSWORD, "client_at": 1_765_000_000_000i64 }).to_string(),
        ))
        .unwrap();
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 9, 1], 40_000))));
    assert_eq!(h.app.clone().oneshot(request).await.unwrap().status(), StatusCode::OK);
    assert_eq!(login_from(&h, [10, 0, 9, 2], "anna", "guess").await.0, StatusCode::UNAUTHORIZED);
    assert!(admin::set_disabled(&h.pool, "boris", true).await.unwrap());
    admin::revoke_sessions(&h.pool, "anna").await.unwrap();

    /// action, subject, address, client_at, detail
    type AuditRow = (String, Option<String>, Option<String>, Option<i64>, String);
    let rows: Vec<AuditRow> =
        sqlx::query_as("SELECT action, subject, address, client_at, detail FROM audit_log ORDER BY id")
            .fetch_all(&h.pool)
            .await
            .unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(actions, ["sign_in", "sign_in_failed", "account_disabled", "sessions_revoked"]);
    assert_eq!(rows[0].2.as_deref(), Some("10.0.9.1"), "the client's address");
    assert_eq!(rows[0].3, Some(1_765_000_000_000), "the client's clock beside the server's");
    assert!(rows[1].4.contains("wrong password"), "{:?}", rows[1]);
    let verified = okno_server::audit::verify(&h.pool).await.unwrap();
    assert_eq!((verified.entries, verified.first_broken), (4, None));

    // Someone edits the failed sign-in away, then removes the disabling.
    sqlx::query("UPDATE audit_log SET subject = 'nobody' WHERE action = 'sign_in_failed'")
        .execute(&h.pool)
        .await
        .unwrap();
    let edited = okno_server::audit::verify(&h.pool).await.unwrap();
    let failed_id: i64 = sqlx::query_scalar("SELECT id FROM audit_log WHERE action = 'sign_in_failed'")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(edited.first_broken, Some(failed_id), "the edited entry is found");
    sqlx::query("UPDATE audit_log SET subject = 'anna' WHERE action = 'sign_in_failed'")
        .execute(&h.pool)
        .await
        .unwrap();
    assert_eq!(okno_server::audit::verify(&h.pool).await.unwrap().first_broken, None, "put back, it holds again");
    sqlx::query("DELETE FROM audit_log WHERE action = 'account_disabled'").execute(&h.pool).await.unwrap();
    let revoked_id: i64 = sqlx::query_scalar("SELECT id FROM audit_log WHERE action = 'sessions_revoked'")
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(okno_server::audit::verify(&h.pool).await.unwrap().first_broken, Some(revoked_id), "a removal is found");
}
