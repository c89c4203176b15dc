//! The console's admin-only sections: users (grant, change, revoke with confirmation; the last
//! administrator stays), API keys (shown once, revocable, agency-scoped) and the audit log.

use crate::helpers::{Backend, StaffClient, TestApp};
use crate::on_both;

on_both!(
    users_bad_input_is_refused_and_nothing_stored,
    granted_people_sign_in_and_revoked_ones_are_signed_out,
    the_last_admin_cannot_remove_themselves,
    keys_are_shown_once_and_revoked_keys_stop_working,
    another_agencys_people_and_keys_are_not_found,
    managers_and_viewers_are_forbidden_everywhere,
    changes_without_the_csrf_token_are_refused,
    the_audit_log_pages_newest_first,
);

async fn body(r: reqwest::Response) -> String {
    r.text().await.unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

/// The role `email` holds in `agency`, if any.
fn role_of(app: &TestApp, agency: &str, email: &str) -> Option<String> {
    let mut c = app.pool.get().unwrap();
    let a = cx_survey::registry::find_agency_by_slug(&mut c, agency)
        .unwrap()
        .unwrap();
    cx_survey::staff::members(&mut c, &a.id)
        .unwrap()
        .into_iter()
        .find(|m| m.email == email)
        .map(|m| m.role.as_str().to_string())
}

/// The ids of `agency`'s keys, newest first, with whether each is revoked.
fn keys_of(app: &TestApp, agency: &str) -> Vec<(String, bool)> {
    let mut c = app.pool.get().unwrap();
    cx_survey::admin::list_keys(&mut c, agency)
        .unwrap()
        .into_iter()
        .map(|k| (k.0, k.2.is_some()))
        .collect()
}

/// The key shown on the page answering its creation.
fn shown_key(page: &str) -> String {
    let at = page.find("value=\"cxs_").expect("a key on the page") + 7;
    page[at..at + 68].to_string()
}

async fn users_bad_input_is_refused_and_nothing_stored(b: Backend) {
    let app = crate::helpers::spawn_app(b).await;
    let admin = app.staff("agency-a", "ada@agency.gov", "admin").await;
    let audit = app.count("audit_log");
    let r = admin
        .post(
            "/admin/users",
            &[("email", "not an email"), ("role", "boss")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let page = body(r).await;
    assert!(page.contains("There is a problem"), "{page}");
    assert!(page.contains("href=\"#email\""), "{page}");
    assert!(page.contains("href=\"#role\""), "{page}");
    assert!(
        page.contains("class=\"usa-error-message\" id=\"email-error\">Email: enter"),
        "{page}"
    );
    assert!(page.contains("aria-describedby=\"email-error\""), "{page}");
    assert!(page.contains("aria-describedby=\"role-error\""), "{page}");
    // A missing field is the same error, and a label that is empty or too long for a key.
    let r = admin.post("/admin/users", &[("role", "viewer")]).await;
    assert_eq!(r.status(), 422);
    assert!(body(r).await.contains("id=\"email-error\""));
    for label in ["", &"x".repeat(101)] {
        let r = admin.post("/admin/keys", &[("label", label)]).await;
        assert_eq!(r.status(), 422);
        let page = body(r).await;
        assert!(page.contains("id=\"label-error\">Label:"), "{page}");
        assert!(!page.contains("cxs_"), "{page}");
    }
    // A non-number `before` is a bad request, not a page.
    assert_eq!(admin.get("/admin/audit?before=x").await.status(), 400);
    assert_eq!(app.count("staff_grants"), 1);
    assert_eq!(keys_of(&app, "agency-a").len(), 1);
    assert_eq!(app.count("audit_log"), audit);
}

async fn granted_people_sign_in_and_revoked_ones_are_signed_out(b: Backend) {
    let app = crate::helpers::spawn_app(b).await;
    let admin = app.staff("agency-a", "ada@agency.gov", "admin").await;
    let r = admin
        .post(
            "/admin/users",
            &[("email", " Bob@Agency.GOV "), ("role", "manager")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin/users?ok=granted");
    let page = body(admin.get("/admin/users?ok=granted").await).await;
    assert!(page.contains("The role was saved."), "{page}");
    assert!(page.contains("bob@agency.gov"), "{page}");
    assert_eq!(
        role_of(&app, "agency-a", "bob@agency.gov").unwrap(),
        "manager"
    );
    // Bob signs in; his role changes to viewer from his row's form.
    let bob = app.sign_in("bob@agency.gov").await;
    let r = admin
        .post(
            "/admin/users",
            &[("email", "bob@agency.gov"), ("role", "viewer")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        role_of(&app, "agency-a", "bob@agency.gov").unwrap(),
        "viewer"
    );
    let header = format!("{} · viewer", bob.email);
    assert!(body(bob.get("/admin").await).await.contains(&header));
    // Revoking asks first (nothing changes), then ends Bob's session at his next request.
    let r = admin
        .post("/admin/users/revoke", &[("email", "bob@agency.gov")])
        .await;
    assert_eq!(r.status(), 200);
    let page = body(r).await;
    assert!(page.contains("Remove this person's access?"), "{page}");
    assert!(page.contains("name=\"confirm\" value=\"yes\""), "{page}");
    assert_eq!(bob.get("/admin").await.status(), 200);
    let r = admin
        .post(
            "/admin/users/revoke",
            &[("email", "bob@agency.gov"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin/users?ok=revoked");
    let r = bob.get("/admin").await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin/sign-in");
    assert!(role_of(&app, "agency-a", "bob@agency.gov").is_none());
    let page = body(admin.get("/admin/users").await).await;
    assert!(!page.contains("bob@agency.gov"), "{page}");
    // Revoking him again: he is no longer a person of this agency.
    let r = admin
        .post(
            "/admin/users/revoke",
            &[("email", "bob@agency.gov"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status(), 404);
    // The audit log names who did each change.
    let page = body(admin.get("/admin/audit").await).await;
    for needle in [
        "grant",
        "revoke",
        "manager",
        "viewer",
        "ada@agency.gov",
        "bob@agency.gov",
    ] {
        assert!(page.contains(needle), "{needle}: {page}");
    }
}

async fn the_last_admin_cannot_remove_themselves(b: Backend) {
    let app = crate::helpers::spawn_app(b).await;
    let ada = app.staff("agency-a", "ada@agency.gov", "admin").await;
    let audit = app.count("audit_log");
    let r = ada
        .post(
            "/admin/users",
            &[("email", "ada@agency.gov"), ("role", "manager")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let page = body(r).await;
    assert!(page.contains("last administrator"), "{page}");
    for confirm in ["", "yes"] {
        let r = ada
            .post(
                "/admin/users/revoke",
                &[("email", "ada@agency.gov"), ("confirm", confirm)],
            )
            .await;
        assert_eq!(r.status(), 422);
        assert!(body(r).await.contains("last administrator"));
    }
    assert_eq!(
        role_of(&app, "agency-a", "ada@agency.gov").unwrap(),
        "admin"
    );
    assert_eq!(app.count("audit_log"), audit);
    // With a second administrator, Ada may step down; her page then is the overview.
    app.grant("agency-a", "cy@agency.gov", "admin");
    let r = ada
        .post(
            "/admin/users",
            &[("email", "ada@agency.gov"), ("role", "viewer")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin");
    assert_eq!(ada.get("/admin/users").await.status(), 403);
    // Cy, now the last admin, may still remove Ada; then not himself.
    let cy = app.sign_in("cy@agency.gov").await;
    let r = cy
        .post(
            "/admin/users/revoke",
            &[("email", "ada@agency.gov"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let r = cy
        .post(
            "/admin/users/revoke",
            &[("email", "cy@agency.gov"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status(), 422);
}

async fn keys_are_shown_once_and_revoked_keys_stop_working(b: Backend) {
    let app = crate::helpers::spawn_app(b).await;
    let admin = app.staff("agency-a", "ada@agency.gov", "admin").await;
    let r = admin
        .post("/admin/keys", &[("label", "Reporting script")])
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let page = body(r).await;
    assert!(page.contains("shown only this once"), "{page}");
    let key = shown_key(&page);
    let r = app.as_agency(&key).get("/api/v1/admin/deployments").await;
    assert_eq!(r.status(), 200);
    // The list shows the label and id, never the key; so does the audit log.
    let list = body(admin.get("/admin/keys").await).await;
    assert!(list.contains("Reporting script"), "{list}");
    assert!(!list.contains(&key));
    let (id, revoked) = keys_of(&app, "agency-a")[0].clone();
    assert!(!revoked);
    assert!(list.contains(&id));
    // Revoking asks first; the key works until confirmed.
    let path = format!("/admin/keys/{id}/revoke");
    let r = admin.post(&path, &[]).await;
    assert_eq!(r.status(), 200);
    assert!(body(r).await.contains("Revoke this API key?"));
    let status = |k: String| {
        let app = &app;
        async move {
            app.as_agency(&k)
                .get("/api/v1/admin/deployments")
                .await
                .status()
        }
    };
    assert_eq!(status(key.clone()).await, 200);
    let r = admin.post(&path, &[("confirm", "yes")]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin/keys?ok=revoked");
    assert_eq!(status(key.clone()).await, 401);
    assert_eq!(status(app.key.clone()).await, 200);
    let list = body(admin.get("/admin/keys?ok=revoked").await).await;
    assert!(list.contains("The key was revoked."), "{list}");
    assert!(list.contains("revoked 20"), "{list}");
    let r = admin.post(&path, &[("confirm", "yes")]).await;
    assert_eq!(location(&r), "/admin/keys?ok=already");
    let audit = body(admin.get("/admin/audit").await).await;
    for needle in [
        "create_key",
        "revoke_key",
        "Reporting script",
        &id,
        "ada@agency.gov",
    ] {
        assert!(audit.contains(needle), "{needle}: {audit}");
    }
    assert!(!audit.contains(&key));
}

async fn another_agencys_people_and_keys_are_not_found(b: Backend) {
    let app = crate::helpers::spawn_app(b).await;
    let b_key = app.new_key("agency-b");
    app.grant("agency-b", "bea@agency-b.gov", "admin");
    let admin = app.staff("agency-a", "ada@agency.gov", "admin").await;
    let audit = app.count("audit_log");
    let r = admin
        .post(
            "/admin/users/revoke",
            &[("email", "bea@agency-b.gov"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = admin
        .post("/admin/users/revoke", &[("email", "nobody@agency.gov")])
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        role_of(&app, "agency-b", "bea@agency-b.gov").unwrap(),
        "admin"
    );
    let (b_id, _) = keys_of(&app, "agency-b")[0].clone();
    for form in [vec![], vec![("confirm", "yes")]] {
        let r = admin
            .post(&format!("/admin/keys/{b_id}/revoke"), &form)
            .await;
        assert_eq!(r.status(), 404);
    }
    let r = admin.post("/admin/keys/no-such-key/revoke", &[]).await;
    assert_eq!(r.status(), 404);
    let r = app.as_agency(&b_key).get("/api/v1/admin/deployments").await;
    assert_eq!(r.status(), 200);
    // Nothing of agency B shows on A's pages.
    let users = body(admin.get("/admin/users").await).await;
    assert!(!users.contains("bea@agency-b.gov"));
    let keys = body(admin.get("/admin/keys").await).await;
    assert!(!keys.contains(&b_id));
    let log = body(admin.get("/admin/audit").await).await;
    assert!(!log.contains("bea@agency-b.gov"));
    assert_eq!(app.count("audit_log"), audit);
}

/// A request: method, path, form.
type Route = (&'static str, String, Vec<(&'static str, &'static str)>);

/// Every route of these sections.
fn routes(key_id: &str) -> Vec<Route> {
    vec![
        ("GET", "/admin/users".into(), vec![]),
        ("GET", "/admin/keys".into(), vec![]),
        ("GET", "/admin/audit".into(), vec![]),
        (
            "POST",
            "/admin/users".into(),
            vec![("email", "eve@agency.gov"), ("role", "admin")],
        ),
        (
            "POST",
            "/admin/users/revoke".into(),
            vec![("email", "ada@agency.gov"), ("confirm", "yes")],
        ),
        ("POST", "/admin/keys".into(), vec![("label", "mine")]),
        (
            "POST",
            format!("/admin/keys/{key_id}/revoke"),
            vec![("confirm", "yes")],
        ),
    ]
}

async fn call(s: &StaffClient<'_>, method: &str, path: &str, form: &[(&str, &str)]) -> u16 {
    match method {
        "GET" => s.get(path).await.status().as_u16(),
        _ => s.post(path, form).await.status().as_u16(),
    }
}

async fn managers_and_viewers_are_forbidden_everywhere(b: Backend) {
    let app = crate::helpers::spawn_app(b).await;
    app.grant("agency-a", "ada@agency.gov", "admin");
    let (key_id, _) = keys_of(&app, "agency-a")[0].clone();
    let manager = app.staff("agency-a", "max@agency.gov", "manager").await;
    let viewer = app.staff("agency-a", "val@agency.gov", "viewer").await;
    let audit = app.count("audit_log");
    for (role, s) in [("manager", &manager), ("viewer", &viewer)] {
        for (method, path, form) in routes(&key_id) {
            assert_eq!(
                call(s, method, &path, &form).await,
                403,
                "{role} {method} {path}"
            );
        }
        // The navigation does not offer them.
        let page = body(s.get("/admin").await).await;
        for path in ["/admin/users", "/admin/keys", "/admin/audit"] {
            assert!(
                !page.contains(&format!("href=\"{path}\"")),
                "{role}: {path}"
            );
        }
    }
    assert_eq!(
        role_of(&app, "agency-a", "ada@agency.gov").unwrap(),
        "admin"
    );
    assert!(role_of(&app, "agency-a", "eve@agency.gov").is_none());
    assert_eq!(keys_of(&app, "agency-a"), vec![(key_id, false)]);
    assert_eq!(app.count("audit_log"), audit);
}

async fn changes_without_the_csrf_token_are_refused(b: Backend) {
    let app = crate::helpers::spawn_app(b).await;
    let admin = app.staff("agency-a", "ada@agency.gov", "admin").await;
    app.grant("agency-a", "bob@agency.gov", "viewer");
    let (key_id, _) = keys_of(&app, "agency-a")[0].clone();
    let audit = app.count("audit_log");
    let mut posts = routes(&key_id);
    posts.retain(|r| r.0 == "POST");
    posts[1].2 = vec![("email", "bob@agency.gov"), ("confirm", "yes")];
    for (_, path, form) in &posts {
        let r = admin.post_raw(path, form).await;
        assert_eq!(r.status(), 403, "{path}");
        let mut wrong = form.clone();
        wrong.push(("csrf_token", "0000"));
        let r = admin.post_raw(path, &wrong).await;
        assert_eq!(r.status(), 403, "{path} with a wrong token");
    }
    assert_eq!(
        role_of(&app, "agency-a", "bob@agency.gov").unwrap(),
        "viewer"
    );
    assert!(role_of(&app, "agency-a", "eve@agency.gov").is_none());
    assert_eq!(keys_of(&app, "agency-a"), vec![(key_id, false)]);
    assert_eq!(app.count("audit_log"), audit);
}

async fn the_audit_log_pages_newest_first(b: Backend) {
    let app = crate::helpers::spawn_app(b).await;
    let admin = app.staff("agency-a", "ada@agency.gov", "admin").await;
    app.new_key("agency-b");
    {
        let mut c = app.pool.get().unwrap();
        let a = cx_survey::registry::find_agency_by_slug(&mut c, "agency-a")
            .unwrap()
            .unwrap();
        let other = cx_survey::registry::find_agency_by_slug(&mut c, "agency-b")
            .unwrap()
            .unwrap();
        for i in 0..60 {
            let obj = format!("object-{i:02}");
            cx_survey::staff::record(&mut c, &a.id, "key:k1", "test", &obj, "").unwrap();
        }
        cx_survey::staff::record(&mut c, &other.id, "key:k2", "test", "secret-of-b", "").unwrap();
    }
    // 61 lines of A: the grant of Ada, then object-00 … object-59.
    let first = body(admin.get("/admin/audit").await).await;
    assert_eq!(first.matches("<tr>").count(), 51, "{first}");
    assert!(first.contains("object-59") && first.contains("object-10"));
    assert!(!first.contains("object-09"));
    assert!(first.find("object-59").unwrap() < first.find("object-58").unwrap());
    assert!(!first.contains("secret-of-b"));
    let at = first.find("rel=\"next\" href=\"").expect("a next link") + 17;
    let next = first[at..].split('"').next().unwrap().replace("&amp;", "&");
    assert!(next.starts_with("/admin/audit?before="), "{next}");
    let second = body(admin.get(&next).await).await;
    assert!(second.contains("object-09") && second.contains("object-00"));
    assert!(second.contains("ada@agency.gov"), "{second}");
    assert!(!second.contains("object-10"));
    assert!(!second.contains("rel=\"next\""));
    assert!(second.contains("<title>Audit log (older entries)"));
}
