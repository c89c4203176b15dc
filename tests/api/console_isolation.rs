//! Every console route, walked by an admin of agency B with agency A's objects (deployment,
//! response, service, person, API key, the agency itself): each answers `404`, as the admin
//! API's isolation test (isolation.rs) does, and nothing of A changes. A route added to the
//! console without a place in this walk fails `every_console_route_is_walked`.

use diesel::prelude::*;
use serde_json::json;

use crate::helpers::{spawn_app, Backend, StaffClient, TestApp};
use crate::on_both;

on_both!(agency_b_reaches_nothing_of_agency_a_through_the_console);

/// Routes whose only object is the caller's own agency or session (nothing of another agency
/// can be named in them), or that are reached signed out.
const AGENCY_WIDE: &[&str] = &[
    "",
    "/sign-in",
    "/auth/callback",
    "/auth/link/{token}",
    "/sign-out",
    "/signed-out",
    "/deployments/new",
    "/reports",
    "/reports/{fy}/{q}/report.html",
    "/reports/{fy}/{q}/files.zip",
    "/audit",
];

/// Routes that name an object, and the walk below covers.
const WALKED: &[&str] = &[
    "/agency",
    "/deployments",
    "/deployments/{id}",
    "/deployments/{id}/close",
    "/responses",
    "/responses/export",
    "/responses/triage",
    "/volumes",
    "/invitations",
    "/import",
    "/users",
    "/users/revoke",
    "/keys",
    "/keys/{id}/revoke",
];

/// The `resource("…")` paths the console registers, read from its source.
fn console_routes() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/console");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let src = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for part in src.split("resource(\"").skip(1) {
            found.push(part.split('"').next().unwrap().to_string());
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn every_console_route_is_walked() {
    let routes = console_routes();
    assert!(routes.len() > 20, "{routes:?}");
    for r in &routes {
        assert!(
            WALKED.contains(&r.as_str()) || AGENCY_WIDE.contains(&r.as_str()),
            "console route /admin{r} is in neither list of console_isolation.rs: walk it"
        );
    }
}

/// What agency A has, for B to aim at.
struct TheirThings {
    agency: &'static str,
    deployment: String,
    response: String,
    service: String,
    person: &'static str,
    key_id: String,
}

async fn agency_a(app: &TestApp) -> TheirThings {
    let deployment = app.deployment("a11-v2-thumbs").await;
    let r = app.answer(&deployment, json!({"trust": 1})).await;
    assert_eq!(r.status(), 201);
    let response = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let service = {
        use cx_survey::db::schema::{deployments, services};
        let mut c = app.pool.get().unwrap();
        deployments::table
            .inner_join(services::table)
            .filter(deployments::id.eq(&deployment))
            .select(services::slug)
            .first(&mut *c)
            .unwrap()
    };
    app.grant("agency-a", "ana@agency-a.gov", "admin");
    let key_id = {
        let mut c = app.pool.get().unwrap();
        cx_survey::admin::list_keys(&mut c, "agency-a").unwrap()[0]
            .0
            .clone()
    };
    TheirThings {
        agency: "agency-a",
        deployment,
        response,
        service,
        person: "ana@agency-a.gov",
        key_id,
    }
}

/// A's state that any successful request of B's would have changed.
fn snapshot(app: &TestApp) -> Vec<i64> {
    [
        "deployments WHERE status = 'active'",
        "responses WHERE status = 'counted'",
        "service_volumes",
        "invitations",
        "staff_grants",
        "api_keys WHERE revoked_at IS NULL",
        "audit_log",
        "response_audit",
    ]
    .iter()
    .map(|t| app.count(t))
    .collect()
}

async fn agency_b_reaches_nothing_of_agency_a_through_the_console(b: Backend) {
    let app = spawn_app(b).await;
    let a = agency_a(&app).await;
    // B's admin, with something of B's own so that B's pages are not trivially empty.
    let b_key = app.new_key("agency-b");
    app.deployment_for(&b_key, "a11-v2-thumbs", &[]).await;
    let them = app.staff("agency-b", "bo@agency-b.gov", "admin").await;
    let before = snapshot(&app);
    let dep = &a.deployment;
    let gets = [
        format!("/admin/deployments/{dep}"),
        format!("/admin/deployments/{dep}/close"),
        format!("/admin/responses?deployment={dep}"),
        format!("/admin/responses/export?deployment={dep}&format=csv"),
        format!("/admin/responses/export?deployment={dep}&format=json"),
    ];
    for path in &gets {
        assert_eq!(them.get(path).await.status(), 404, "GET {path}");
    }
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/admin/agency".into(), vec![("agency", a.agency)]),
        (
            format!("/admin/deployments/{dep}"),
            vec![("allowed_origins", ""), ("access", "open")],
        ),
        (
            format!("/admin/deployments/{dep}/close"),
            vec![("confirm", "yes")],
        ),
        (
            "/admin/responses/triage".into(),
            vec![("id", &a.response), ("to_status", "spam"), ("reason", "x")],
        ),
        (
            "/admin/volumes".into(),
            vec![
                ("fiscal_year", "2026"),
                ("quarter", "1"),
                ("service", &a.service),
                ("volume_of_customers.website", "5"),
            ],
        ),
        (
            "/admin/users/revoke".into(),
            vec![("email", a.person), ("confirm", "yes")],
        ),
        (
            format!("/admin/keys/{}/revoke", a.key_id),
            vec![("confirm", "yes")],
        ),
    ];
    for (path, form) in &posts {
        assert_eq!(them.post(path, form).await.status(), 404, "POST {path}");
    }
    for path in ["/admin/invitations", "/admin/import"] {
        assert_eq!(upload(&them, path, dep).await.status(), 404, "POST {path}");
    }
    assert_eq!(snapshot(&app), before, "nothing of A changed");
    // The pages that list things show none of A's.
    for path in [
        "/admin",
        "/admin/deployments",
        "/admin/responses",
        "/admin/volumes",
        "/admin/invitations",
        "/admin/import",
        "/admin/users",
        "/admin/keys",
        "/admin/audit",
        "/admin/agency",
    ] {
        let r = them.get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        let page = r.text().await.unwrap();
        for theirs in [dep.as_str(), &a.response, &a.service, a.person, &a.key_id] {
            assert!(!page.contains(theirs), "{path} shows A's {theirs}");
        }
    }
    // Granting a role in B to one of A's people is B's own business (B names the address);
    // it gives B nothing of A.
    let r = them
        .post("/admin/users", &[("email", a.person), ("role", "viewer")])
        .await;
    assert_eq!(r.status(), 303);
    let r = them.get("/admin/users").await.text().await.unwrap();
    assert!(r.contains(a.person));
    assert_eq!(
        role_in(&app, "agency-a", a.person).as_deref(),
        Some("admin"),
        "A's role is untouched"
    );
}

async fn upload(s: &StaffClient<'_>, path: &str, dep: &str) -> reqwest::Response {
    let csv = if path.ends_with("invitations") {
        "email,transaction_id,transaction_date,locale\npat@example.gov,t-1,,\n"
    } else {
        "external_id,question_1,submitted_at\nok-1,1,2026-01-15T10:00:00Z\n"
    };
    s.upload(path, &[("deployment", dep)], "csv", "x.csv", csv.into())
        .await
}

fn role_in(app: &TestApp, agency: &str, email: &str) -> Option<String> {
    use cx_survey::db::schema::{agencies, staff_grants, staff_users};
    let mut c = app.pool.get().unwrap();
    staff_grants::table
        .inner_join(staff_users::table)
        .inner_join(agencies::table)
        .filter(agencies::slug.eq(agency))
        .filter(staff_users::email.eq(email))
        .select(staff_grants::role)
        .first(&mut *c)
        .optional()
        .unwrap()
}
