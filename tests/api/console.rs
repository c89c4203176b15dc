//! The staff console's doors: who gets in (break-glass links, sessions), for how long, and what
//! a request must carry to change anything (the session's CSRF token, our own Origin).

use diesel::prelude::*;

use crate::helpers::{
    csrf_in, no_redirects, session_cookie, spawn_app, spawn_with, Backend, Options,
};
use crate::on_both;

on_both!(
    signed_out_visitors_are_sent_to_sign_in,
    links_work_once_and_not_after_fifteen_minutes,
    sign_in_gives_a_new_session_id,
    sign_out_ends_the_session_on_the_server,
    changes_need_the_csrf_token_and_our_origin,
    a_revoked_role_ends_access_at_the_next_request,
    idle_and_absolute_timeouts_end_sessions,
    people_without_a_role_are_told_how_to_get_one,
    people_switch_between_their_agencies_only,
    roles_limit_what_people_see_and_do,
);

async fn signed_out_visitors_are_sent_to_sign_in(b: Backend) {
    let app = spawn_app(b).await;
    let c = no_redirects();
    for path in ["/admin", "/admin/deployments", "/admin/agency"] {
        let r = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(r.headers()["location"], "/admin/sign-in");
    }
    // Without an identity provider the sign-in page says so (and how else to get in).
    let r = c.get(app.url("/admin/sign-in")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let page = r.text().await.unwrap();
    assert!(page.contains("no identity provider configured"), "{page}");
    // A forged cookie is no session.
    let r = c
        .get(app.url("/admin"))
        .header("cookie", format!("cx_session={}", "0".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
}

async fn links_work_once_and_not_after_fifteen_minutes(b: Backend) {
    let app = spawn_app(b).await;
    app.grant("agency-a", "ana@example.gov", "viewer");
    let c = no_redirects();
    let link = app.sign_in_link("ana@example.gov");
    let r = c.get(app.url(&link)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let cookie = session_cookie(&r).unwrap();
    assert!(cookie.len() == 64);
    let flags = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        flags.contains("HttpOnly") && flags.contains("SameSite=Lax"),
        "{flags}"
    );
    assert!(
        !flags.contains("Secure"),
        "http public URL: no Secure flag ({flags})"
    );
    // Used once: refused the second time, no new session.
    let again = c.get(app.url(&link)).send().await.unwrap();
    assert_eq!(again.status(), 403);
    assert!(session_cookie(&again).is_none());
    // An expired link is refused.
    let old = app.sign_in_link("ana@example.gov");
    {
        use cx_survey::db::schema::sign_in_links::dsl as l;
        let mut conn = app.pool.get().unwrap();
        let past = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1);
        diesel::update(l::sign_in_links.filter(l::used_at.is_null()))
            .set(l::expires_at.eq(past))
            .execute(&mut *conn)
            .unwrap();
    }
    assert_eq!(c.get(app.url(&old)).send().await.unwrap().status(), 403);
    // Only hashes are stored.
    let mut conn = app.pool.get().unwrap();
    use cx_survey::db::schema::{sign_in_links, staff_sessions};
    let stored: Vec<String> = sign_in_links::table
        .select(sign_in_links::token_hash)
        .load(&mut *conn)
        .unwrap();
    let token = link.rsplit('/').next().unwrap();
    assert!(!stored.iter().any(|h| h == token));
    let sessions: Vec<String> = staff_sessions::table
        .select(staff_sessions::id_hash)
        .load(&mut *conn)
        .unwrap();
    assert!(!sessions.contains(&cookie));
}

async fn sign_in_gives_a_new_session_id(b: Backend) {
    let app = spawn_app(b).await;
    let first = app.staff("agency-a", "ana@example.gov", "viewer").await;
    // Signing in again from a browser that holds a session (or a planted id) gives a fresh id
    // and ends the old session.
    let r = no_redirects()
        .get(app.url(&app.sign_in_link("ana@example.gov")))
        .header("cookie", format!("cx_session={}", first.cookie))
        .send()
        .await
        .unwrap();
    let second = session_cookie(&r).unwrap();
    assert_ne!(second, first.cookie);
    assert_eq!(first.get("/admin").await.status(), 303, "old session ended");
    let planted = "a".repeat(64);
    let r = no_redirects()
        .get(app.url(&app.sign_in_link("ana@example.gov")))
        .header("cookie", format!("cx_session={planted}"))
        .send()
        .await
        .unwrap();
    assert_ne!(session_cookie(&r).unwrap(), planted);
}

async fn sign_out_ends_the_session_on_the_server(b: Backend) {
    let app = spawn_app(b).await;
    let s = app.staff("agency-a", "ana@example.gov", "viewer").await;
    let r = s.post("/admin/sign-out", &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/signed-out");
    let removal = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(removal.starts_with("cx_session=;"), "{removal}");
    // The same cookie, replayed, is no longer a session.
    assert_eq!(s.get("/admin").await.status(), 303);
    assert_eq!(app.count("staff_sessions"), 0);
}

async fn changes_need_the_csrf_token_and_our_origin(b: Backend) {
    let app = spawn_app(b).await;
    let s = app.staff("agency-a", "ana@example.gov", "admin").await;
    // No token, a wrong token, a token of another session: 403, still signed in.
    let other = app.staff("agency-a", "bo@example.gov", "admin").await;
    for form in [
        vec![],
        vec![("csrf_token", "0".repeat(64))],
        vec![("csrf_token", other.csrf.clone())],
    ] {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = s.post_raw("/admin/sign-out", &form).await;
        assert_eq!(r.status(), 403, "{form:?}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
    assert_eq!(s.get("/admin").await.status(), 200, "nothing changed");
    // The right token from another site's page is refused too.
    let r = reqwest::Client::new()
        .post(app.url("/admin/sign-out"))
        .header("cookie", format!("cx_session={}", s.cookie))
        .header("origin", "https://evil.example")
        .form(&[("csrf_token", s.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(s.get("/admin").await.status(), 200);
    // The header works as well as the field (for scripts).
    let r = no_redirects()
        .post(app.url("/admin/sign-out"))
        .header("cookie", format!("cx_session={}", s.cookie))
        .header("x-csrf-token", s.csrf.as_str())
        .header("origin", app.address.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(s.get("/admin").await.status(), 303);
}

async fn a_revoked_role_ends_access_at_the_next_request(b: Backend) {
    let app = spawn_app(b).await;
    let s = app.staff("agency-a", "ana@example.gov", "manager").await;
    assert_eq!(s.get("/admin").await.status(), 200);
    let mut c = app.pool.get().unwrap();
    let a = cx_survey::registry::find_agency_by_slug(&mut c, "agency-a")
        .unwrap()
        .unwrap();
    assert!(cx_survey::staff::revoke(&mut c, &a.id, "ana@example.gov", "test").unwrap());
    assert_eq!(s.get("/admin").await.status(), 303);
    // Even a session row that survived (another instance racing the revoke) is not enough:
    // each request reads the role itself.
    app.grant("agency-a", "bo@example.gov", "manager");
    let bo = app.sign_in("bo@example.gov").await;
    use cx_survey::db::schema::staff_grants::dsl as g;
    diesel::delete(g::staff_grants).execute(&mut *c).unwrap();
    assert_eq!(bo.get("/admin").await.status(), 303);
}

async fn idle_and_absolute_timeouts_end_sessions(b: Backend) {
    let app = spawn_with(
        b,
        Options {
            configure: Some(Box::new(|s| {
                s.session_idle = chrono::Duration::minutes(30);
                s.session_max = chrono::Duration::hours(12);
            })),
            ..Options::default()
        },
    )
    .await;
    use cx_survey::db::schema::staff_sessions::dsl as ss;
    let now = chrono::Utc::now().naive_utc();
    let idle = app.staff("agency-a", "ana@example.gov", "viewer").await;
    let busy = app.staff("agency-a", "bo@example.gov", "viewer").await;
    let hash = |t: &str| cx_survey::console::session::hash(t);
    let mut c = app.pool.get().unwrap();
    diesel::update(ss::staff_sessions.find(hash(&idle.cookie)))
        .set(ss::last_seen_at.eq(now - chrono::Duration::minutes(31)))
        .execute(&mut *c)
        .unwrap();
    diesel::update(ss::staff_sessions.find(hash(&busy.cookie)))
        .set(ss::expires_at.eq(now - chrono::Duration::seconds(1)))
        .execute(&mut *c)
        .unwrap();
    assert_eq!(idle.get("/admin").await.status(), 303);
    assert_eq!(busy.get("/admin").await.status(), 303);
    // A session seen 29 minutes ago still works, and is seen again now.
    let fresh = app.staff("agency-a", "cy@example.gov", "viewer").await;
    diesel::update(ss::staff_sessions.find(hash(&fresh.cookie)))
        .set(ss::last_seen_at.eq(now - chrono::Duration::minutes(29)))
        .execute(&mut *c)
        .unwrap();
    assert_eq!(fresh.get("/admin").await.status(), 200);
    let seen: chrono::NaiveDateTime = ss::staff_sessions
        .find(hash(&fresh.cookie))
        .select(ss::last_seen_at)
        .first(&mut *c)
        .unwrap();
    assert!(seen > now - chrono::Duration::minutes(1));
}

async fn people_without_a_role_are_told_how_to_get_one(b: Backend) {
    let app = spawn_app(b).await;
    app.grant("agency-a", "ana@example.gov", "admin");
    app.grant("agency-a", "pat@example.gov", "viewer");
    let mut c = app.pool.get().unwrap();
    let a = cx_survey::registry::find_agency_by_slug(&mut c, "agency-a")
        .unwrap()
        .unwrap();
    cx_survey::staff::revoke(&mut c, &a.id, "pat@example.gov", "test").unwrap();
    let r = no_redirects()
        .get(app.url(&app.sign_in_link("pat@example.gov")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(session_cookie(&r).is_none());
    let page = r.text().await.unwrap();
    assert!(page.contains("You do not have access yet"), "{page}");
    assert!(
        !page.contains("ana@example.gov"),
        "admins are not disclosed"
    );
}

async fn people_switch_between_their_agencies_only(b: Backend) {
    let app = spawn_app(b).await;
    app.new_key("agency-b");
    app.new_key("agency-c");
    app.grant("agency-a", "ana@example.gov", "viewer");
    app.grant("agency-b", "ana@example.gov", "admin");
    let s = app.sign_in("ana@example.gov").await;
    let page = s.get("/admin/agency").await.text().await.unwrap();
    assert!(
        page.contains("value=\"agency-b\"") && !page.contains("value=\"agency-c\""),
        "{page}"
    );
    assert_eq!(
        s.post("/admin/agency", &[("agency", "agency-c")])
            .await
            .status(),
        404
    );
    assert_eq!(
        s.post("/admin/agency", &[("agency", "nope")])
            .await
            .status(),
        404
    );
    let r = s.post("/admin/agency", &[("agency", "agency-b")]).await;
    assert_eq!(r.status(), 303);
    let page = s.get("/admin").await.text().await.unwrap();
    assert!(
        page.contains("admin</span>") || page.contains("· admin"),
        "{page}"
    );
    assert!(csrf_in(&page).is_some());
}

async fn roles_limit_what_people_see_and_do(b: Backend) {
    let app = spawn_app(b).await;
    let viewer = app.staff("agency-a", "vi@example.gov", "viewer").await;
    let page = viewer.get("/admin").await.text().await.unwrap();
    assert!(
        !page.contains("href=\"/admin/users\""),
        "admins' sections hidden"
    );
    for path in ["/admin/users", "/admin/keys", "/admin/audit"] {
        let r = viewer.get(path).await;
        assert_eq!(r.status(), 403, "{path}");
    }
    let admin = app.staff("agency-a", "ad@example.gov", "admin").await;
    let page = admin.get("/admin").await.text().await.unwrap();
    assert!(page.contains("href=\"/admin/users\""));
}
