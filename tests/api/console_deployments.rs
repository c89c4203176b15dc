//! The console's overview and deployments: the create form refuses each bad field as the API
//! does (422, the form filled in again, nothing stored), a manager creates, changes and closes
//! a deployment (each audited), a viewer reads only, a form without the CSRF token changes
//! nothing, another agency's deployment is 404 on every route, and the overview shows the
//! quarter's figures and the clearances about to end.

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_with, variant, Backend, Options, StaffClient, TestApp};
use crate::on_both;

on_both!(
    the_create_form_refuses_each_bad_field,
    a_manager_creates_a_deployment_and_finds_its_embed_code,
    a_manager_changes_and_closes_a_deployment,
    viewers_read_but_change_nothing,
    forms_without_the_csrf_token_change_nothing,
    another_agencys_deployment_is_not_found,
    registry_managed_deployments_are_read_only,
    the_list_pages_by_fifty,
    the_overview_starts_empty_then_shows_the_quarter,
    the_overview_lists_clearances_ending_soon,
);

/// A HISP and a service (channels website and phone) of `key`'s agency; the service's slug.
async fn service(app: &TestApp, key: &str, tag: &str) -> String {
    let a = app.as_agency(key);
    let r = a
        .post(
            "/api/v1/admin/hisps",
            json!({"slug": format!("h-{tag}"), "name": format!("HISP {tag}")}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = a
        .post(
            "/api/v1/admin/services",
            json!({"slug": format!("s-{tag}"), "name": format!("Service {tag}"),
                   "hisp": format!("h-{tag}"), "channels": ["website", "phone"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    format!("s-{tag}")
}

fn deployments(app: &TestApp) -> i64 {
    app.count("deployments")
}

/// The audit lines of `action` as `(actor, object, detail)`.
fn audit(app: &TestApp, action: &str) -> Vec<(String, String, String)> {
    use cx_survey::db::schema::audit_log as a;
    let mut c = app.pool.get().unwrap();
    a::table
        .filter(a::action.eq(action))
        .order(a::id)
        .select((a::actor, a::object, a::detail))
        .load(&mut *c)
        .unwrap()
}

async fn api_deployment(app: &TestApp, key: &str, id: &str) -> Value {
    let r = app
        .as_agency(key)
        .get(&format!("/api/v1/admin/deployments/{id}"))
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// The id in a `303` to a deployment's page.
fn created_id(r: &reqwest::Response) -> String {
    assert_eq!(r.status(), 303);
    let loc = r.headers()["location"].to_str().unwrap();
    let rest = loc.strip_prefix("/admin/deployments/").expect(loc);
    let (id, q) = rest.split_once('?').expect(loc);
    assert_eq!(q, "ok=created");
    id.to_string()
}

fn good(svc: &str) -> Vec<(&str, &str)> {
    vec![
        ("service", svc),
        ("channel", "website"),
        ("instrument", "a11-v2-thumbs"),
        ("transaction_point", "After online renewal"),
        (
            "allowed_origins",
            "https://www.example.gov\r\n\r\nhttps://apply.example.gov/",
        ),
        ("access", "open"),
    ]
}

fn with<'a>(mut form: Vec<(&'a str, &'a str)>, k: &'a str, v: &'a str) -> Vec<(&'a str, &'a str)> {
    form.retain(|(f, _)| *f != k);
    form.push((k, v));
    form
}

async fn page(s: &StaffClient<'_>, path: &str) -> String {
    let r = s.get(path).await;
    assert_eq!(r.status(), 200, "GET {path}");
    r.text().await.unwrap()
}

async fn the_create_form_refuses_each_bad_field(b: Backend) {
    let app = spawn_app(b).await;
    let svc = service(&app, &app.key, "a").await;
    let other = service(&app, &app.new_key("agency-b"), "b").await;
    let m = app.staff("agency-a", "mia@example.gov", "manager").await;
    let long = "x".repeat(301);
    let cases: Vec<(&str, &str, &str, &str)> = vec![
        ("service", "", "service", "Choose one of your agency"),
        (
            "service",
            "no-such-service",
            "service",
            "Choose one of your agency",
        ),
        // Another agency's service is no service of this one.
        ("service", &other, "service", "Choose one of your agency"),
        ("channel", "", "channel", "Choose a channel."),
        ("channel", "carrier_pigeon", "channel", "Choose a channel."),
        (
            "channel",
            "fax",
            "channel",
            "Choose a channel the service is delivered through.",
        ),
        (
            "instrument",
            "",
            "instrument",
            "Choose one of the loaded instruments.",
        ),
        (
            "instrument",
            "no-such-instrument",
            "instrument",
            "Choose one of the loaded instruments.",
        ),
        (
            "transaction_point",
            "   ",
            "transaction_point",
            "Enter the transaction point",
        ),
        (
            "transaction_point",
            &long,
            "transaction_point",
            "Enter the transaction point",
        ),
        (
            "allowed_origins",
            "https://ok.example.gov\nnot a url",
            "allowed_origins",
            "line 2: ",
        ),
        (
            "allowed_origins",
            "https://example.gov/apply",
            "allowed_origins",
            "without a path",
        ),
        ("access", "maybe", "access", "Choose who may answer"),
    ];
    for (field, value, err_field, text) in cases {
        let r = m
            .post("/admin/deployments", &with(good(&svc), field, value))
            .await;
        assert_eq!(r.status(), 422, "{field}={value:?}");
        let html = r.text().await.unwrap();
        assert!(html.contains("There is a problem"), "{field}={value:?}");
        assert!(
            html.contains(&format!("href=\"#{err_field}\"")),
            "{field}={value:?}: summary link"
        );
        assert!(
            html.contains(&format!("id=\"{err_field}-error\"")),
            "{field}={value:?}: {html}"
        );
        assert!(html.contains(text), "{field}={value:?}: {text:?} in {html}");
        assert!(
            html.contains(&format!("{err_field}-error\"")),
            "{field}={value:?}"
        );
        // The rest of the form comes back as it was typed.
        if field != "transaction_point" {
            assert!(
                html.contains("value=\"After online renewal\""),
                "{field}={value:?}"
            );
        }
        assert_eq!(deployments(&app), 0, "{field}={value:?}: nothing stored");
    }
    // Every problem at once: each field named, in the form's order.
    let r = m
        .post(
            "/admin/deployments",
            &[
                ("service", ""),
                ("channel", ""),
                ("instrument", ""),
                ("transaction_point", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    let at = |f: &str| {
        html.find(&format!("href=\"#{f}\""))
            .unwrap_or_else(|| panic!("{f}"))
    };
    assert!(at("service") < at("channel"));
    assert!(at("channel") < at("instrument"));
    assert!(at("instrument") < at("transaction_point"));
    assert!(audit(&app, "deployment.create").is_empty());
}

async fn a_manager_creates_a_deployment_and_finds_its_embed_code(b: Backend) {
    let app = spawn_app(b).await;
    let svc = service(&app, &app.key, "a").await;
    let m = app.staff("agency-a", "mia@example.gov", "manager").await;
    let list = page(&m, "/admin/deployments").await;
    assert!(list.contains("href=\"/admin/deployments/new\""), "{list}");
    assert!(list.contains("No deployments yet."));
    let form = page(&m, "/admin/deployments/new").await;
    assert!(
        form.contains("<option value=\"s-a\">Service a</option>"),
        "{form}"
    );
    assert!(
        form.contains("<option value=\"a11-v2-thumbs\">a11-v2-thumbs"),
        "{form}"
    );
    assert!(form.contains("3090-0321"), "the instrument's OMB number");
    let r = m
        .post(
            "/admin/deployments",
            &with(good(&svc), "access", "invitation"),
        )
        .await;
    let id = created_id(&r);
    let api = api_deployment(&app, &app.key, &id).await;
    assert_eq!(api["service"], "s-a");
    assert_eq!(api["channel"], "website");
    assert_eq!(api["instrument"], "a11-v2-thumbs");
    assert_eq!(api["access"], "invitation");
    assert_eq!(
        api["allowed_origins"],
        json!(["https://www.example.gov", "https://apply.example.gov"])
    );
    let lines = audit(&app, "deployment.create");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].0, m.email);
    assert_eq!(lines[0].1, id);
    // The page: the notice, the snippet as selectable text with its copy button, the link,
    // the preview.
    let html = page(&m, &format!("/admin/deployments/{id}?ok=created")).await;
    assert!(html.contains("The deployment was created."), "{html}");
    let public = &app.settings.public_url;
    let snippet = format!(
        "&lt;script src=&quot;{public}/widget.js&quot; data-deployment=&quot;{id}&quot; data-mode=&quot;modal&quot; defer&gt;&lt;/script&gt;"
    );
    assert!(html.contains(&snippet), "{html}");
    assert!(html.contains("<label class=\"usa-label\" for=\"embed-snippet\">"));
    assert!(html.contains("data-copy-target=\"embed-snippet\""));
    assert!(html.contains(&format!("value=\"{public}/s/{id}\"")));
    assert!(html.contains(&format!("href=\"/s/{id}\" target=\"_blank\"")));
    assert!(html.contains("(opens in a new tab)"));
    assert!(html.contains("By invitation only"));
    // A made-up `ok` word shows nothing.
    let html = page(&m, &format!("/admin/deployments/{id}?ok=%3Cb%3Ehi")).await;
    assert!(!html.contains("usa-alert--success"));
    // The list links it.
    let list = page(&m, "/admin/deployments").await;
    assert!(list.contains(&format!(
        "href=\"/admin/deployments/{id}\">After online renewal</a>"
    )));
    assert!(list.contains("Open, collecting"));
    // The same form posted as multipart (as a browser sends a form with a file field; none is
    // read here) creates the same way.
    let r = m
        .upload(
            "/admin/deployments",
            &good(&svc),
            "attachment",
            "x.csv",
            vec![],
        )
        .await;
    let second = created_id(&r);
    assert_eq!(
        api_deployment(&app, &app.key, &second).await["access"],
        "open"
    );
    // The preview is the hosted page, which an invitation-only deployment keeps to its links.
    assert!(html.contains("This deployment is by invitation only"));
    assert_eq!(app.get(&format!("/s/{id}")).await.status(), 403);
}

async fn a_manager_changes_and_closes_a_deployment(b: Backend) {
    let app = spawn_app(b).await;
    let id = app.deployment("a11-v2-thumbs").await;
    let m = app.staff("agency-a", "mia@example.gov", "admin").await;
    let path = format!("/admin/deployments/{id}");
    let html = page(&m, &path).await;
    // The preview of an open deployment is its survey.
    assert!(html.contains(&format!("href=\"/s/{id}\" target=\"_blank\"")));
    assert_eq!(app.get(&format!("/s/{id}")).await.status(), 200);
    let version = html
        .split("name=\"version\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a version field")
        .replace("&quot;", "\"");
    // A bad origin: 422, named by its line, nothing changed.
    let r = m
        .post(
            &path,
            &[
                (
                    "allowed_origins",
                    "https://a.example.gov\nftp://b.example.gov",
                ),
                ("access", "open"),
                ("version", &version),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(text.contains("line 2: "), "{text}");
    assert!(
        text.contains("ftp://b.example.gov"),
        "the typed origins are kept"
    );
    let r = m
        .post(&path, &[("allowed_origins", ""), ("access", "sometimes")])
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("id=\"access-error\""));
    assert_eq!(
        api_deployment(&app, &app.key, &id).await["allowed_origins"],
        json!(["https://www.example.gov"])
    );
    assert!(audit(&app, "deployment.change").is_empty());
    // The change.
    let r = m
        .post(
            &path,
            &[
                (
                    "allowed_origins",
                    "https://a.example.gov\nhttps://b.example.gov/",
                ),
                ("access", "invitation"),
                ("version", &version),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("{path}?ok=changed").as_str()
    );
    let api = api_deployment(&app, &app.key, &id).await;
    assert_eq!(
        api["allowed_origins"],
        json!(["https://a.example.gov", "https://b.example.gov"])
    );
    assert_eq!(api["access"], "invitation");
    let html = page(&m, &format!("{path}?ok=changed")).await;
    assert!(html.contains("Your changes were saved."));
    assert!(html.contains("https://a.example.gov, https://b.example.gov"));
    let lines = audit(&app, "deployment.change");
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (lines[0].0.as_str(), lines[0].1.as_str()),
        ("mia@example.gov", id.as_str())
    );
    assert!(lines[0].2.contains("access invitation"), "{:?}", lines[0]);
    // The page read before that change is stale now: 409, nothing changed.
    let r = m
        .post(
            &path,
            &[
                ("allowed_origins", ""),
                ("access", "open"),
                ("version", &version),
            ],
        )
        .await;
    assert_eq!(r.status(), 409);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Someone changed this deployment"));
    assert_eq!(
        api_deployment(&app, &app.key, &id).await["access"],
        "invitation"
    );
    // Closing: a confirmation page with the real button, then the POST.
    let confirm = page(&m, &format!("{path}/close")).await;
    assert!(
        confirm.contains(&format!("action=\"{path}/close\"")),
        "{confirm}"
    );
    assert!(confirm.contains("<button class=\"usa-button usa-button--secondary\" type=\"submit\">Close the deployment</button>"));
    let r = m.post(&format!("{path}/close"), &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        format!("{path}?ok=closed").as_str()
    );
    assert_eq!(
        api_deployment(&app, &app.key, &id).await["status"],
        "closed"
    );
    let html = page(&m, &format!("{path}?ok=closed")).await;
    assert!(html.contains("The deployment was closed"));
    assert!(
        !html.contains(&format!("href=\"{path}/close\"")),
        "no close link once closed"
    );
    assert_eq!(audit(&app, "deployment.close").len(), 1);
    assert!(page(&m, &format!("{path}/close"))
        .await
        .contains("already closed"));
    let list = page(&m, "/admin/deployments").await;
    assert!(list.contains("Closed"));
}

async fn viewers_read_but_change_nothing(b: Backend) {
    let app = spawn_app(b).await;
    let id = app.deployment("a11-v2-thumbs").await;
    let svc = service(&app, &app.key, "v").await;
    let v = app.staff("agency-a", "val@example.gov", "viewer").await;
    let list = page(&v, "/admin/deployments").await;
    assert!(!list.contains("Create a deployment"), "{list}");
    let html = page(&v, &format!("/admin/deployments/{id}")).await;
    assert!(
        html.contains("data-deployment=&quot;"),
        "viewers see the embed code"
    );
    assert!(!html.contains("Save changes"));
    assert!(!html.contains("/close\""));
    assert_eq!(v.get("/admin/deployments/new").await.status(), 403);
    assert_eq!(
        v.get(&format!("/admin/deployments/{id}/close"))
            .await
            .status(),
        403
    );
    let r = v.post("/admin/deployments", &good(&svc)).await;
    assert_eq!(r.status(), 403);
    let r = v
        .post(
            &format!("/admin/deployments/{id}"),
            &[("allowed_origins", ""), ("access", "invitation")],
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = v.post(&format!("/admin/deployments/{id}/close"), &[]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(deployments(&app), 1);
    let api = api_deployment(&app, &app.key, &id).await;
    assert_eq!(
        (api["status"].as_str(), api["access"].as_str()),
        (Some("open"), Some("open"))
    );
    assert_eq!(api["allowed_origins"], json!(["https://www.example.gov"]));
    assert!(audit(&app, "deployment.create").is_empty());
    assert!(audit(&app, "deployment.change").is_empty());
    assert!(audit(&app, "deployment.close").is_empty());
}

async fn forms_without_the_csrf_token_change_nothing(b: Backend) {
    let app = spawn_app(b).await;
    let id = app.deployment("a11-v2-thumbs").await;
    let svc = service(&app, &app.key, "c").await;
    let m = app.staff("agency-a", "mia@example.gov", "manager").await;
    let path = format!("/admin/deployments/{id}");
    let change = [("allowed_origins", ""), ("access", "invitation")];
    for token in [None, Some("0".repeat(64))] {
        let extra: Vec<(&str, &str)> = token.iter().map(|t| ("csrf_token", t.as_str())).collect();
        let all = |form: &[(&'static str, &'static str)]| -> Vec<(&str, &str)> {
            form.iter().copied().chain(extra.iter().copied()).collect()
        };
        let mut create = good(&svc);
        create.extend(extra.iter().copied());
        assert_eq!(
            m.post_raw("/admin/deployments", &create).await.status(),
            403
        );
        assert_eq!(m.post_raw(&path, &all(&change)).await.status(), 403);
        assert_eq!(
            m.post_raw(&format!("{path}/close"), &all(&[]))
                .await
                .status(),
            403
        );
    }
    assert_eq!(deployments(&app), 1);
    let api = api_deployment(&app, &app.key, &id).await;
    assert_eq!(
        (api["status"].as_str(), api["access"].as_str()),
        (Some("open"), Some("open"))
    );
    assert_eq!(api["allowed_origins"], json!(["https://www.example.gov"]));
    for action in ["deployment.create", "deployment.change", "deployment.close"] {
        assert!(audit(&app, action).is_empty(), "{action}");
    }
}

async fn another_agencys_deployment_is_not_found(b: Backend) {
    let app = spawn_app(b).await;
    let b_key = app.new_key("agency-b");
    let theirs = app
        .deployment_for(&b_key, "a11-v2-thumbs", &["https://b.example.gov"])
        .await;
    let mine = app.deployment("a11-v2-thumbs").await;
    let m = app.staff("agency-a", "mia@example.gov", "admin").await;
    let path = format!("/admin/deployments/{theirs}");
    for p in [
        path.clone(),
        format!("{path}/close"),
        "/admin/deployments/not-an-id".into(),
    ] {
        assert_eq!(m.get(&p).await.status(), 404, "GET {p}");
    }
    // A valid change, and an invalid one (404 before anything is said of the fields).
    let r = m
        .post(&path, &[("allowed_origins", ""), ("access", "invitation")])
        .await;
    assert_eq!(r.status(), 404);
    let r = m
        .post(
            &path,
            &[("allowed_origins", "nonsense"), ("access", "open")],
        )
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(m.post(&format!("{path}/close"), &[]).await.status(), 404);
    let api = api_deployment(&app, &b_key, &theirs).await;
    assert_eq!(
        (api["status"].as_str(), api["access"].as_str()),
        (Some("open"), Some("open"))
    );
    assert_eq!(api["allowed_origins"], json!(["https://b.example.gov"]));
    // Their deployment is in neither the list nor the overview.
    let list = page(&m, "/admin/deployments").await;
    assert!(list.contains(&mine) && !list.contains(&theirs));
    assert!(audit(&app, "deployment.change").is_empty());
    assert!(audit(&app, "deployment.close").is_empty());
}

async fn registry_managed_deployments_are_read_only(b: Backend) {
    let app = spawn_app(b).await;
    let id = app.deployment("a11-v2-thumbs").await;
    {
        use cx_survey::db::schema::deployments as d;
        let mut c = app.pool.get().unwrap();
        diesel::update(d::table.find(&id))
            .set(d::managed_by.eq(Some("agency-a.registry.json")))
            .execute(&mut *c)
            .unwrap();
    }
    let m = app.staff("agency-a", "mia@example.gov", "manager").await;
    let path = format!("/admin/deployments/{id}");
    let html = page(&m, &path).await;
    assert!(
        html.contains("<code>agency-a.registry.json</code>"),
        "{html}"
    );
    assert!(!html.contains("Save changes") && !html.contains(&format!("{path}/close")));
    let r = m
        .post(&path, &[("allowed_origins", ""), ("access", "invitation")])
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(m.post(&format!("{path}/close"), &[]).await.status(), 409);
    assert!(page(&m, &format!("{path}/close"))
        .await
        .contains("close it there"));
    let api = api_deployment(&app, &app.key, &id).await;
    assert_eq!(
        (api["status"].as_str(), api["access"].as_str()),
        (Some("open"), Some("open"))
    );
    assert!(audit(&app, "deployment.change").is_empty());
    assert!(audit(&app, "deployment.close").is_empty());
}

async fn the_list_pages_by_fifty(b: Backend) {
    let app = spawn_app(b).await;
    let svc = service(&app, &app.key, "p").await;
    for i in 0..51 {
        let r = app
            .as_agency(&app.key)
            .post(
                "/api/v1/admin/deployments",
                json!({"instrument": "a11-v2-thumbs", "service": svc, "channel": "phone",
                       "transaction_point": format!("Point {i:02}")}),
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let v = app.staff("agency-a", "val@example.gov", "viewer").await;
    let first = page(&v, "/admin/deployments").await;
    assert_eq!(first.matches("<tr>").count(), 51, "header + 50 rows");
    assert!(first.contains(">Point 00</a>") && first.contains(">Point 49</a>"));
    assert!(!first.contains(">Point 50</a>"));
    let next = first
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a next link")
        .replace("&amp;", "&");
    let second = page(&v, &next).await;
    assert!(second.contains(">Point 50</a>"));
    assert_eq!(second.matches("<tr>").count(), 2);
    assert!(!second.contains("rel=\"next\""));
    assert!(second.contains("<title>Deployments, continued"));
    assert_eq!(v.get("/admin/deployments?after=zz").await.status(), 400);
}

async fn the_overview_starts_empty_then_shows_the_quarter(b: Backend) {
    let app = spawn_app(b).await;
    let m = app.staff("agency-a", "mia@example.gov", "manager").await;
    let v = app.staff("agency-a", "val@example.gov", "viewer").await;
    let html = page(&m, "/admin").await;
    assert!(html.contains("No deployments yet — <a class=\"usa-link\" href=\"/admin/deployments/new\">create one</a>"), "{html}");
    assert!(page(&v, "/admin")
        .await
        .contains("A manager of your agency can create one."));
    let dep = app.deployment_for(&app.key, "a11-v2-thumbs", &[]).await;
    // A second deployment of the same service, closed: not collecting.
    let closed = app.deployment_for(&app.key, "a11-v2-thumbs", &[]).await;
    let r = app
        .as_agency(&app.key)
        .patch(
            &format!("/api/v1/admin/deployments/{closed}"),
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    for trust in [1, 1, 1, 0] {
        assert_eq!(
            app.answer(&dep, json!({"trust": trust})).await.status(),
            201
        );
    }
    // Another agency's answers count for it alone.
    let b_key = app.new_key("agency-b");
    let theirs = app.deployment_for(&b_key, "a11-v2-thumbs", &[]).await;
    assert_eq!(app.answer(&theirs, json!({"trust": 0})).await.status(), 201);
    let html = page(&v, "/admin").await;
    let fq = crate::helpers::current_quarter();
    assert!(
        html.contains(&format!("FY{} Q{}", fq.year, fq.quarter)),
        "{html}"
    );
    let (lo, hi) = cx_survey::report::wilson(3, 4).unwrap();
    let row = format!(
        "<td class=\"text-right\">4</td><td class=\"text-right\">75.0 %</td><td>{lo:.1} to {hi:.1} %</td><td class=\"text-right\">1</td>"
    );
    assert!(html.contains(&row), "{row} in {html}");
    // The closed deployment's service (the second HISP) has no responses and nothing collecting.
    assert!(
        html.contains("<td>No responses</td><td>—</td><td class=\"text-right\">0</td>"),
        "{html}"
    );
    assert!(
        html.contains("None: the clearances"),
        "2028 is more than 60 days away"
    );
}

async fn the_overview_lists_clearances_ending_soon(b: Backend) {
    let soon = (chrono::Utc::now() + chrono::Duration::days(30)).date_naive();
    let later = (chrono::Utc::now() + chrono::Duration::days(90)).date_naive();
    let app = spawn_with(
        b,
        Options {
            extra_defs: vec![
                variant("a11-v2-thumbs.json", "soon-thumbs", |v| {
                    v["pra"]["expiration_date"] = json!(soon.to_string());
                    v["pra"]["omb_control_number"] = json!("1234-5678");
                }),
                variant("a11-v2-thumbs.json", "later-thumbs", |v| {
                    v["pra"]["expiration_date"] = json!(later.to_string());
                    v["pra"]["omb_control_number"] = json!("8765-4321");
                }),
            ],
            ..Options::default()
        },
    )
    .await;
    app.deployment_for(&app.key, "soon-thumbs", &[]).await;
    app.deployment_for(&app.key, "later-thumbs", &[]).await;
    let v = app.staff("agency-a", "val@example.gov", "viewer").await;
    let html = page(&v, "/admin").await;
    assert!(html.contains("soon-thumbs (version"), "{html}");
    assert!(html.contains("<td>1234-5678</td>"));
    assert!(html.contains(&soon.to_string()));
    assert!(!html.contains("8765-4321"), "90 days away is not listed");
    assert!(!html.contains("3090-0321"));
}
