//! The console's responses page: filters (quarter, deployment, status, words) list exactly the
//! matching rows, keyset pages visit every row once, triage of many is all-or-nothing and
//! audited, and the downloads carry exactly the filtered set.

use std::collections::HashSet;

use chrono::{Duration, NaiveDateTime, Utc};
use cx_survey::fiscal::FiscalQuarter;
use diesel::prelude::*;
use diesel::sql_types::{Text, Timestamp};
use serde_json::{json, Value};

use crate::helpers::{current_quarter, spawn_app, Backend, StaffClient, TestApp};
use crate::on_both;

on_both!(
    bad_filters_are_form_errors_and_foreign_deployments_404,
    filters_list_exactly_the_matching_rows,
    pages_visit_every_row_once_newest_first,
    triage_changes_the_selected_responses_with_an_audit,
    triage_refuses_bad_forms_viewers_foreign_ids_and_missing_csrf,
    downloads_carry_exactly_the_filtered_set,
);

async fn submit(app: &TestApp, dep: &str, comment: &str) -> String {
    let r = app
        .answer(dep, json!({"trust": 1, "comments": comment}))
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Moves a response in time, or changes its status, directly (as if it had been so).
fn set(app: &TestApp, id: &str, at: Option<NaiveDateTime>, status: Option<&str>) {
    use cx_survey::db::schema::responses::dsl as r;
    let mut c = app.pool.get().unwrap();
    if let Some(at) = at {
        diesel::update(r::responses.find(id))
            .set(r::submitted_at.eq(at))
            .execute(&mut *c)
            .unwrap();
    }
    if let Some(s) = status {
        diesel::update(r::responses.find(id))
            .set(r::status.eq(s))
            .execute(&mut *c)
            .unwrap();
    }
}

/// A copy of response `template` with a new id, time and comment.
fn copy(app: &TestApp, template: &str, id: &str, at: NaiveDateTime, comment: &str) {
    let mut c = app.pool.get().unwrap();
    diesel::sql_query(
        "INSERT INTO responses (id, deployment_id, instrument_id, instrument_version, submitted_at, \
         locale, channel, source, status, trust, drivers_positive, drivers_negative, comment, answers) \
         SELECT $1, deployment_id, instrument_id, instrument_version, $2, locale, channel, source, \
         status, trust, drivers_positive, drivers_negative, $3, answers FROM responses WHERE id = $4",
    )
    .bind::<Text, _>(id)
    .bind::<Timestamp, _>(at)
    .bind::<Text, _>(comment)
    .bind::<Text, _>(template)
    .execute(&mut *c)
    .unwrap();
}

fn status_of(app: &TestApp, id: &str) -> String {
    use cx_survey::db::schema::responses::dsl as r;
    let mut c = app.pool.get().unwrap();
    r::responses
        .find(id)
        .select(r::status)
        .first(&mut *c)
        .unwrap()
}

/// The response ids a manager's page lists (its checkboxes), in page order.
fn ids_on(html: &str) -> Vec<String> {
    html.split("name=\"id\" value=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

fn next_link(html: &str) -> Option<String> {
    let at = html.find("rel=\"next\" href=\"")? + 17;
    Some(html[at..].split('"').next()?.replace("&amp;", "&"))
}

fn q(fq: FiscalQuarter) -> String {
    format!("fiscal_year={}&quarter={}", fq.year, fq.quarter)
}

async fn page(s: &StaffClient<'_>, query: &str) -> (u16, String) {
    let r = s.get(&format!("/admin/responses?{query}")).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

fn set_of(v: &[&String]) -> HashSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

async fn bad_filters_are_form_errors_and_foreign_deployments_404(b: Backend) {
    let app = spawn_app(b).await;
    let s = app.staff("agency-a", "viewer@a.gov", "viewer").await;
    let other = app.new_key("agency-b");
    let dep_b = app.deployment_for(&other, "a11-v2-thumbs", &[]).await;
    for bad in [
        "quarter=5",
        "fiscal_year=1999&quarter=1",
        "status=bogus",
        "words=a+b+c+d+e+f+g+h+i+j+k",
        "before=garbage",
    ] {
        let (code, html) = page(&s, bad).await;
        assert_eq!(code, 422, "{bad}");
        assert!(html.contains("usa-error-message"), "{bad}");
        assert!(html.contains("There is a problem"), "{bad}");
    }
    for foreign in [
        format!("deployment={dep_b}"),
        "deployment=0b0e7f5c-3c1a-4f1e-9d55-5a1f2f0c1d2e".to_string(),
    ] {
        assert_eq!(page(&s, &foreign).await.0, 404);
        let r = s
            .get(&format!("/admin/responses/export?format=csv&{foreign}"))
            .await;
        assert_eq!(r.status(), 404);
    }
    let r = s.get("/admin/responses/export?format=xml").await;
    assert_eq!(r.status(), 422);
    // The default view: the current quarter, empty, with the download links.
    let (code, html) = page(&s, "").await;
    assert_eq!(code, 200);
    assert!(html.contains("No responses match these filters."));
    assert!(html.contains("Download CSV") && html.contains("Download JSON"));
    assert_eq!(html.matches("<h1>").count(), 1);
}

struct Fixture {
    dep1: String,
    dep2: String,
    now1: String,
    now2: String,
    old1: String,
    spam1: String,
    foreign: String,
    older_quarter: FiscalQuarter,
}

/// Agency A: two deployments, responses now (one spam) and one a quarter back; agency B: one.
async fn fixture(app: &TestApp) -> Fixture {
    let dep1 = app.deployment_for(&app.key, "a11-v2-thumbs", &[]).await;
    let dep2 = app.deployment_for(&app.key, "a11-v2-thumbs", &[]).await;
    let other = app.new_key("agency-b");
    let dep_b = app.deployment_for(&other, "a11-v2-thumbs", &[]).await;
    let now1 = submit(app, &dep1, "The Form was CONFUSING").await;
    let now2 = submit(app, &dep2, "quick and <b>easy</b>").await;
    let old1 = submit(app, &dep1, "confusing form long ago").await;
    let spam1 = submit(app, &dep1, "buy cheap form").await;
    let foreign = submit(app, &dep_b, "confusing form elsewhere").await;
    let back = Utc::now() - Duration::days(120);
    set(app, &old1, Some(back.naive_utc()), None);
    set(app, &spam1, None, Some("spam"));
    let older_quarter = FiscalQuarter::containing(back, chrono_tz::America::New_York);
    Fixture {
        dep1,
        dep2,
        now1,
        now2,
        old1,
        spam1,
        foreign,
        older_quarter,
    }
}

async fn filters_list_exactly_the_matching_rows(b: Backend) {
    let app = spawn_app(b).await;
    let f = fixture(&app).await;
    let s = app.staff("agency-a", "m@a.gov", "manager").await;
    let cq = q(current_quarter());
    let cases: Vec<(String, Vec<&String>)> = vec![
        (cq.clone(), vec![&f.now1, &f.now2, &f.spam1]),
        ("".into(), vec![&f.now1, &f.now2, &f.spam1]),
        (q(f.older_quarter), vec![&f.old1]),
        (
            format!("{cq}&deployment={}", f.dep1),
            vec![&f.now1, &f.spam1],
        ),
        (format!("{cq}&deployment={}", f.dep2), vec![&f.now2]),
        (format!("{cq}&status=spam"), vec![&f.spam1]),
        (format!("{cq}&status=counted"), vec![&f.now1, &f.now2]),
        (format!("{cq}&status=test"), vec![]),
        (format!("{cq}&words=confusing+FORM"), vec![&f.now1]),
        (format!("{cq}&words=form"), vec![&f.now1, &f.spam1]),
        (format!("{cq}&words=%25"), vec![]),
        (
            format!("{cq}&words=form&status=spam&deployment={}", f.dep1),
            vec![&f.spam1],
        ),
    ];
    for (query, want) in cases {
        let (code, html) = page(&s, &query).await;
        assert_eq!(code, 200, "{query}");
        let got: HashSet<String> = ids_on(&html).into_iter().collect();
        assert_eq!(got, set_of(&want), "{query}");
        assert!(!got.contains(&f.foreign));
    }
    // Comments are shown in full, escaped.
    let (_, html) = page(&s, &cq).await;
    assert!(html.contains("quick and &lt;b&gt;easy&lt;/b&gt;"));
    assert!(!html.contains("<b>easy</b>"));
    // A viewer sees the rows but no checkboxes and no triage form.
    let v = app.staff("agency-a", "v@a.gov", "viewer").await;
    let (code, html) = page(&v, &cq).await;
    assert_eq!(code, 200);
    assert!(html.contains("The Form was CONFUSING"));
    assert!(ids_on(&html).is_empty());
    assert!(!html.contains("/admin/responses/triage"));
}

async fn pages_visit_every_row_once_newest_first(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment_for(&app.key, "a11-v2-thumbs", &[]).await;
    let template = submit(&app, &dep, "template").await;
    let start = current_quarter()
        .bounds(chrono_tz::America::New_York)
        .0
        .naive_utc();
    let mut all = vec![template.clone()];
    for i in 0..124 {
        let id = uuid::Uuid::new_v4().to_string();
        // Pairs share a time: the id breaks the tie.
        let at = start + Duration::minutes(10 + (i / 2) as i64);
        copy(&app, &template, &id, at, &format!("row {i}"));
        all.push(id);
    }
    let s = app.staff("agency-a", "m@a.gov", "manager").await;
    let (mut seen, mut sizes) = (vec![], vec![]);
    let mut link = Some(format!("/admin/responses?{}", q(current_quarter())));
    while let Some(path) = link {
        let r = s.get(&path).await;
        assert_eq!(r.status(), 200, "{path}");
        let html = r.text().await.unwrap();
        let ids = ids_on(&html);
        sizes.push(ids.len());
        seen.extend(ids);
        link = next_link(&html);
        assert!(sizes.len() <= 4, "too many pages");
    }
    assert_eq!(sizes, vec![50, 50, 25]);
    assert_eq!(seen.len(), 125);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 125, "a row listed twice");
    assert_eq!(unique, all.iter().collect::<HashSet<_>>());
    // Newest first: the template (submitted now) leads, then the copies, latest first.
    assert_eq!(seen[0], template);
    assert_eq!(&seen[124], std::cmp::min(&all[1], &all[2]));
}

/// response_id, api_key_id, staff_email, reason, to_status
type AuditRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

fn audit_rows(app: &TestApp) -> Vec<AuditRow> {
    use cx_survey::db::schema::response_audit::dsl as a;
    let mut c = app.pool.get().unwrap();
    a::response_audit
        .order(a::id)
        .select((
            a::response_id,
            a::api_key_id,
            a::staff_email,
            a::reason,
            a::to_status,
        ))
        .load(&mut *c)
        .unwrap()
}

fn audit_log(app: &TestApp) -> Vec<(String, String, String, String)> {
    use cx_survey::db::schema::audit_log::dsl as l;
    let mut c = app.pool.get().unwrap();
    l::audit_log
        .order(l::id)
        .select((l::actor, l::action, l::object, l::detail))
        .load(&mut *c)
        .unwrap()
}

async fn triage_changes_the_selected_responses_with_an_audit(b: Backend) {
    let app = spawn_app(b).await;
    let f = fixture(&app).await;
    let s = app.staff("agency-a", "m@a.gov", "manager").await;
    let back = format!("{}&status=any&deployment={}", q(current_quarter()), f.dep1);
    let r = s
        .post(
            "/admin/responses/triage",
            &[
                ("back", back.as_str()),
                ("id", f.now1.as_str()),
                ("id", f.spam1.as_str()),
                ("to_status", "test"),
                ("reason", "QA traffic from the pilot"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/admin/responses?"), "{location}");
    assert!(
        location.contains(&format!("deployment={}", f.dep1)),
        "{location}"
    );
    assert!(location.ends_with("&ok=triaged"), "{location}");
    assert_eq!(status_of(&app, &f.now1), "test");
    assert_eq!(status_of(&app, &f.spam1), "test");
    assert_eq!(status_of(&app, &f.now2), "counted");
    let audit = audit_rows(&app);
    assert_eq!(audit.len(), 2);
    for (row, id) in audit.iter().zip([&f.now1, &f.spam1]) {
        assert_eq!(&row.0, id);
        assert_eq!(row.1, None, "no API key");
        assert_eq!(row.2.as_deref(), Some("m@a.gov"));
        assert_eq!(row.3.as_deref(), Some("QA traffic from the pilot"));
        assert_eq!(row.4, "test");
    }
    let log = audit_log(&app);
    let last = log.last().unwrap();
    assert_eq!(last.0, s.email);
    assert_eq!(last.1, "triage responses");
    assert!(last.2.contains(&f.now1) && last.2.contains(&f.spam1));
    assert!(last.3.contains("2 of 2 set to test") && last.3.contains("QA traffic"));
    // The page after the redirect: the notice, the new statuses.
    let r = s.get(&location).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("The selected responses were triaged."));
    let (_, html) = page(&s, &format!("{}&status=test", q(current_quarter()))).await;
    let got: HashSet<String> = ids_on(&html).into_iter().collect();
    assert_eq!(got, set_of(&[&f.now1, &f.spam1]));
    // The API's audit of the response shows the person and the reason.
    let r = app
        .as_agency(&app.key)
        .get(&format!("/api/v1/admin/responses/{}/audit", f.now1))
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["audit"][0]["staff_email"], "m@a.gov");
    assert_eq!(v["audit"][0]["api_key_id"], Value::Null);
}

async fn triage_refuses_bad_forms_viewers_foreign_ids_and_missing_csrf(b: Backend) {
    let app = spawn_app(b).await;
    let f = fixture(&app).await;
    let m = app.staff("agency-a", "m@a.gov", "manager").await;
    let unchanged = |app: &TestApp| {
        assert_eq!(status_of(app, &f.now1), "counted");
        assert_eq!(status_of(app, &f.foreign), "counted");
        assert!(audit_rows(app).is_empty());
        assert!(!audit_log(app).iter().any(|l| l.1 == "triage responses"));
    };
    let bad: [&[(&str, &str)]; 4] = [
        &[
            ("id", f.now1.as_str()),
            ("to_status", "spam"),
            ("reason", "  "),
        ],
        &[("to_status", "spam"), ("reason", "why")],
        &[
            ("id", f.now1.as_str()),
            ("to_status", "bogus"),
            ("reason", "why"),
        ],
        &[("id", f.now1.as_str()), ("reason", "why")],
    ];
    for form in bad {
        let r = m.post("/admin/responses/triage", form).await;
        assert_eq!(r.status(), 422, "{form:?}");
        let html = r.text().await.unwrap();
        assert!(html.contains("There is a problem"));
        assert!(html.contains("usa-error-message"));
        unchanged(&app);
    }
    // All or nothing: one of another agency's ids among ours is a 404, and ours stays.
    let r = m
        .post(
            "/admin/responses/triage",
            &[
                ("id", f.now1.as_str()),
                ("id", f.foreign.as_str()),
                ("to_status", "spam"),
                ("reason", "why"),
            ],
        )
        .await;
    assert_eq!(r.status(), 404);
    unchanged(&app);
    let good: &[(&str, &str)] = &[
        ("id", f.now1.as_str()),
        ("to_status", "spam"),
        ("reason", "why"),
    ];
    // Without the CSRF token, or with a wrong one: 403.
    assert_eq!(
        m.post_raw("/admin/responses/triage", good).await.status(),
        403
    );
    let mut wrong = good.to_vec();
    wrong.push(("csrf_token", "0000"));
    assert_eq!(
        m.post_raw("/admin/responses/triage", &wrong).await.status(),
        403
    );
    unchanged(&app);
    // A viewer's post: 403.
    let v = app.staff("agency-a", "v@a.gov", "viewer").await;
    assert_eq!(v.post("/admin/responses/triage", good).await.status(), 403);
    unchanged(&app);
    // Agency B's manager cannot triage A's responses.
    let other = app.staff("agency-b", "m@b.gov", "manager").await;
    assert_eq!(
        other.post("/admin/responses/triage", good).await.status(),
        404
    );
    unchanged(&app);
    let _ = (&f.dep2, &f.now2, &f.old1, &f.spam1);
}

fn csv_ids(body: &str) -> HashSet<String> {
    let mut r = csv::Reader::from_reader(body.as_bytes());
    r.records().map(|rec| rec.unwrap()[0].to_string()).collect()
}

async fn downloads_carry_exactly_the_filtered_set(b: Backend) {
    let app = spawn_app(b).await;
    let f = fixture(&app).await;
    let s = app.staff("agency-a", "v@a.gov", "viewer").await;
    let cq = q(current_quarter());
    let cases: Vec<(String, Vec<&String>)> = vec![
        (cq.clone(), vec![&f.now1, &f.now2, &f.spam1]),
        (q(f.older_quarter), vec![&f.old1]),
        (format!("{cq}&deployment={}", f.dep2), vec![&f.now2]),
        (format!("{cq}&status=spam"), vec![&f.spam1]),
        (format!("{cq}&words=confusing"), vec![&f.now1]),
        (format!("{cq}&status=deleted"), vec![]),
    ];
    for (query, want) in cases {
        let r = s
            .get(&format!("/admin/responses/export?format=csv&{query}"))
            .await;
        assert_eq!(r.status(), 200, "{query}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"));
        assert_eq!(
            csv_ids(&r.text().await.unwrap()),
            set_of(&want),
            "csv {query}"
        );
        let r = s
            .get(&format!("/admin/responses/export?format=json&{query}"))
            .await;
        assert_eq!(r.status(), 200, "{query}");
        let v: Value = r.json().await.unwrap();
        let got: HashSet<String> = v["responses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, set_of(&want), "json {query}");
    }
    // The page links to the downloads of its own filters.
    let (_, html) = page(&s, &format!("{cq}&status=spam")).await;
    let href = format!(
        "/admin/responses/export?format=csv&amp;{}&amp;status=spam",
        cq.replace('&', "&amp;")
    );
    assert!(html.contains(&href), "{href}");
}
