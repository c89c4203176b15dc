//! The console's file pages: quarterly volumes, invitation uploads, paper/phone import and the
//! quarterly files. Bad input first; then another agency's objects (404), a viewer's post (403),
//! a post without the CSRF token (403), each with nothing changed; the audit line; the result
//! on the page.

use std::io::Read;

use diesel::prelude::*;
use serde_json::json;

use crate::helpers::{current_quarter, spawn_app, Backend, StaffClient, TestApp};
use crate::on_both;

on_both!(
    volumes_refuse_bad_numbers_and_name_the_field,
    volumes_are_saved_shown_and_logged,
    volumes_of_another_agency_and_outside_the_role_are_refused,
    invitation_uploads_refuse_bad_files_and_foreign_deployments,
    invitation_upload_lists_each_row_outcome_by_line,
    invitation_upload_without_cx_secret_says_so,
    import_lists_every_problem_and_stores_nothing,
    import_stores_the_file_and_logs_it,
    reports_are_scoped_to_the_agency,
    report_paths_refuse_bad_quarters,
);

const IMPORT_HEADER: &str = "external_id,question_1,positive_effectiveness,positive_ease,positive_efficiency,positive_transparency,positive_humanity,positive_employee,positive_other,negative_effectiveness,negative_ease,negative_efficiency,negative_transparency,negative_humanity,negative_employee,negative_other,question_4,submitted_at";

/// The slug of the service `deployment_for` made for `dep`.
fn service_of(app: &TestApp, dep: &str) -> String {
    use cx_survey::db::schema::{deployments, services};
    let mut c = app.pool.get().unwrap();
    deployments::table
        .inner_join(services::table)
        .filter(deployments::id.eq(dep))
        .select(services::slug)
        .first(&mut *c)
        .unwrap()
}

/// The slug of the HISP `deployment_for` made for `dep`.
fn hisp_of(app: &TestApp, dep: &str) -> String {
    use cx_survey::db::schema::{deployments, hisps, services};
    let mut c = app.pool.get().unwrap();
    deployments::table
        .inner_join(services::table.inner_join(hisps::table))
        .filter(deployments::id.eq(dep))
        .select(hisps::slug)
        .first(&mut *c)
        .unwrap()
}

/// An upload of `csv` for deployment `dep` by `staff`, with the CSRF token.
async fn upload_to(
    staff: &StaffClient<'_>,
    path: &str,
    dep: &str,
    csv: impl Into<Vec<u8>>,
) -> reqwest::Response {
    staff
        .upload(path, &[("deployment", dep)], "csv", "file.csv", csv.into())
        .await
}

async fn text(r: reqwest::Response) -> String {
    r.text().await.unwrap()
}

fn fy_q() -> (String, String) {
    let fq = current_quarter();
    (fq.year.to_string(), fq.quarter.to_string())
}

async fn post_volumes(
    staff: &StaffClient<'_>,
    service: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let (fy, q) = fy_q();
    let mut form = vec![
        ("fiscal_year", fy.as_str()),
        ("quarter", q.as_str()),
        ("service", service),
    ];
    form.extend_from_slice(fields);
    staff.post("/admin/volumes", &form).await
}

async fn volumes_refuse_bad_numbers_and_name_the_field(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let svc = service_of(&app, &dep);
    let m = app.staff("agency-a", "m@a.gov", "manager").await;
    for (fields, message, id) in [
        (
            vec![("volume_of_customers.website", "-5")],
            "Website: volume of customers must be 0 or more",
            format!("customers-{svc}-website"),
        ),
        (
            vec![("volume_of_customers.website", "many")],
            "Website: volume of customers must be a whole number, like 1200",
            format!("customers-{svc}-website"),
        ),
        (
            vec![
                ("volume_of_customers.phone", "10"),
                ("survey_opportunities.phone", "1.5"),
            ],
            "Phone: survey opportunities must be a whole number, like 1200",
            format!("opportunities-{svc}-phone"),
        ),
        (
            vec![("survey_opportunities.phone", "10")],
            "Phone: enter the volume of customers too, or leave both blank",
            format!("customers-{svc}-phone"),
        ),
    ] {
        let r = post_volumes(&m, &svc, &fields).await;
        assert_eq!(r.status(), 422, "{message}");
        let page = text(r).await;
        assert!(
            page.contains(&format!("href=\"#{id}\">{message}</a>")),
            "{page}"
        );
        assert!(
            page.contains(&format!(
                "<span class=\"usa-error-message\" id=\"{id}-error\">{message}</span>"
            )),
            "{page}"
        );
        let described = page.split("aria-describedby=\"").skip(1).any(|v| {
            v.split('"')
                .next()
                .unwrap()
                .split(' ')
                .any(|x| x == format!("{id}-error"))
        });
        assert!(described, "{page}");
    }
    assert_eq!(app.count("service_volumes"), 0);
    assert_eq!(app.count("audit_log WHERE action = 'volumes.save'"), 0);
    // A quarter that is not one: the GET form says which field.
    let r = m.get("/admin/volumes?fiscal_year=26&quarter=5").await;
    assert_eq!(r.status(), 422);
    let page = text(r).await;
    assert!(
        page.contains("Enter a fiscal year from 2000 to 2100"),
        "{page}"
    );
    assert!(page.contains("Choose a quarter from 1 to 4"), "{page}");
}

async fn volumes_are_saved_shown_and_logged(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let svc = service_of(&app, &dep);
    let m = app.staff("agency-a", "m@a.gov", "manager").await;
    let page = text(m.get("/admin/volumes").await).await;
    // Every channel of the service; opportunities only where nothing records impressions.
    assert!(
        page.contains(&format!("id=\"customers-{svc}-website\"")),
        "{page}"
    );
    assert!(page.contains(&format!("id=\"customers-{svc}-phone\"")));
    assert!(page.contains(&format!("id=\"opportunities-{svc}-phone\"")));
    assert!(!page.contains(&format!("id=\"opportunities-{svc}-website\"")));
    let r = post_volumes(
        &m,
        &svc,
        &[
            ("volume_of_customers.website", "1200"),
            ("volume_of_customers.phone", "300"),
            ("survey_opportunities.phone", "250"),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let (fy, q) = fy_q();
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        to,
        format!("/admin/volumes?fiscal_year={fy}&quarter={q}&ok=saved#svc-{svc}")
    );
    let page = text(m.get(&to).await).await;
    assert!(page.contains("Volumes saved."));
    assert!(page.contains("value=\"1200\""), "{page}");
    assert!(page.contains("value=\"250\""));
    assert_eq!(app.count("service_volumes"), 2);
    // The admin API reads the same rows the console stored.
    let r = app
        .as_agency(&app.key)
        .put(
            &format!("/api/v1/admin/services/{svc}/volumes/{fy}/{q}"),
            json!({"channel": "website", "volume_of_customers": 1300}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(text(m.get(&to).await).await.contains("value=\"1300\""));
    // A blank channel removes its numbers.
    let r = post_volumes(&m, &svc, &[("volume_of_customers.website", "1200")]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.count("service_volumes"), 1);
    assert_eq!(
        app.count(&format!(
            "audit_log WHERE action = 'volumes.save' AND actor = '{}'",
            m.email
        )),
        2
    );
    // A viewer reads the numbers without a form.
    let v = app.staff("agency-a", "v@a.gov", "viewer").await;
    let page = text(v.get("/admin/volumes").await).await;
    assert!(page.contains("<td>1200</td>"), "{page}");
    assert!(!page.contains("method=\"post\" action=\"/admin/volumes\""));
}

async fn volumes_of_another_agency_and_outside_the_role_are_refused(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let svc = service_of(&app, &dep);
    let key_b = app.new_key("agency-b");
    let dep_b = app.deployment_for(&key_b, "a11-v2-thumbs", &[]).await;
    let svc_b = service_of(&app, &dep_b);
    let m = app.staff("agency-a", "m@a.gov", "manager").await;
    let fields = [("volume_of_customers.website", "5")];
    assert_eq!(post_volumes(&m, &svc_b, &fields).await.status(), 404);
    assert!(!text(m.get("/admin/volumes").await).await.contains(&svc_b));
    let v = app.staff("agency-a", "v@a.gov", "viewer").await;
    assert_eq!(post_volumes(&v, &svc, &fields).await.status(), 403);
    let (fy, q) = fy_q();
    let r = m
        .post_raw(
            "/admin/volumes",
            &[
                ("fiscal_year", &fy),
                ("quarter", &q),
                ("service", &svc),
                ("volume_of_customers.website", "5"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(app.count("service_volumes"), 0);
    assert_eq!(app.count("audit_log WHERE action = 'volumes.save'"), 0);
}

async fn invitation_uploads_refuse_bad_files_and_foreign_deployments(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let dep_b = app
        .deployment_for(&app.new_key("agency-b"), "a11-v2-thumbs", &[])
        .await;
    let m = app.staff("agency-a", "m@a.gov", "manager").await;
    let good = b"email,transaction_id,transaction_date,locale\npat@example.gov,t-1,,\n".to_vec();
    // No deployment chosen, no file: both named.
    let r = upload_to(&m, "/admin/invitations", "", vec![]).await;
    assert_eq!(r.status(), 422);
    let page = text(r).await;
    assert!(
        page.contains("Select a deployment") && page.contains("Choose a CSV file to upload"),
        "{page}"
    );
    // A wrong header.
    let r = upload_to(
        &m,
        "/admin/invitations",
        &dep,
        b"mail,tx\na@b.gov,1\n".to_vec(),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(text(r)
        .await
        .contains("the header must be exactly email,transaction_id,transaction_date,locale"));
    // Rows the whole batch is refused for, each named by line.
    let bad = b"email,transaction_id,transaction_date,locale\npat@example.gov,t-1,2026-13-01,\nlee@example.gov,,,fr\n".to_vec();
    let r = upload_to(&m, "/admin/invitations", &dep, bad).await;
    assert_eq!(r.status(), 422);
    let page = text(r).await;
    assert!(
        page.contains(
            "<td>2</td><td><code>transaction_date</code></td><td>must be a date YYYY-MM-DD</td>"
        ),
        "{page}"
    );
    assert!(
        page.contains("<td>3</td><td><code>transaction_id</code></td>"),
        "{page}"
    );
    assert!(
        page.contains("<td>3</td><td><code>locale</code></td>"),
        "{page}"
    );
    // Another agency's deployment, or no deployment at all: 404.
    assert_eq!(
        upload_to(&m, "/admin/invitations", &dep_b, good.clone())
            .await
            .status(),
        404
    );
    assert_eq!(
        upload_to(&m, "/admin/invitations", "not-an-id", good.clone())
            .await
            .status(),
        404
    );
    assert_eq!(app.count("invitations"), 0);
    // A viewer's upload, and one without the CSRF token: 403.
    let v = app.staff("agency-a", "v@a.gov", "viewer").await;
    let r = v
        .upload(
            "/admin/invitations",
            &[("deployment", &dep)],
            "csv",
            "list.csv",
            good.clone(),
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        m.post_raw("/admin/invitations", &[("deployment", &dep)])
            .await
            .status(),
        403
    );
    assert_eq!(app.count("invitations"), 0);
    assert_eq!(
        app.count("audit_log WHERE action = 'invitations.upload'"),
        0
    );
    // The viewer sees the outbox but no upload form.
    let page = text(v.get("/admin/invitations").await).await;
    assert!(page.contains("Your agency's invitations by state"));
    assert!(!page.contains("type=\"file\""));
}

/// Puts `email` on agency `slug`'s opt-out list, as the opt-out page does.
fn opt_out(app: &TestApp, slug: &str, email: &str) {
    use cx_survey::db::schema::{agencies, opt_outs};
    use secrecy::ExposeSecret;
    let mut c = app.pool.get().unwrap();
    let agency: String = agencies::table
        .filter(agencies::slug.eq(slug))
        .select(agencies::id)
        .first(&mut *c)
        .unwrap();
    let secret = app.settings.secret.as_ref().unwrap().expose_secret();
    diesel::insert_into(opt_outs::table)
        .values((
            opt_outs::agency_id.eq(agency),
            opt_outs::email_hash.eq(cx_survey::email::queue::email_hash(secret, email)),
            opt_outs::created_at.eq(chrono::Utc::now().naive_utc()),
        ))
        .execute(&mut *c)
        .unwrap();
}

async fn invitation_upload_lists_each_row_outcome_by_line(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let m = app.staff("agency-a", "m@a.gov", "manager").await;
    opt_out(&app, "agency-a", "gone@example.gov");
    let csv = "email,transaction_id,transaction_date,locale\n\
               pat@example.gov,t-1,2026-01-15,en\n\
               not-an-address,t-2,,\n\
               gone@example.gov,t-3,,\n\
               \"lee@example.gov\",t-1,,\n\
               kim@example.gov,t-5,,es\n";
    let r = m
        .upload(
            "/admin/invitations",
            &[("deployment", &dep)],
            "csv",
            "list.csv",
            csv.into(),
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = text(r).await;
    for row in [
        "<td>2</td><td>t-1</td><td>Queued</td><td></td>",
        "<td>3</td><td>t-2</td><td>Invalid</td><td>the email address is not valid</td>",
        "<td>4</td><td>t-3</td><td>Skipped</td><td>the recipient opted out of your agency's surveys</td>",
        "<td>5</td><td>t-1</td><td>Skipped</td><td>duplicate transaction_id in this batch</td>",
        "<td>6</td><td>t-5</td><td>Queued</td><td></td>",
    ] {
        assert!(page.contains(&row.replace('\'', "&#39;")) || page.contains(row), "{row}\n{page}");
    }
    assert_eq!(app.count("invitations"), 2);
    assert_eq!(
        app.count("audit_log WHERE action = 'invitations.upload' AND actor = 'm@a.gov' AND detail = '5 rows: 2 queued, 2 skipped, 1 invalid'"),
        1
    );
    // The same recipient again: skipped for the frequency cap.
    let again = "email,transaction_id,transaction_date,locale\npat@example.gov,t-9,,\n";
    let page = text(
        m.upload(
            "/admin/invitations",
            &[("deployment", &dep)],
            "csv",
            "list.csv",
            again.into(),
        )
        .await,
    )
    .await;
    assert!(
        page.contains(
            "<td>2</td><td>t-9</td><td>Skipped</td><td>the recipient was invited in the last"
        ),
        "{page}"
    );
    // The outbox counts them by state.
    let page = text(m.get("/admin/invitations").await).await;
    assert!(
        page.contains("<th scope=\"row\">queued</th><td>2</td>"),
        "{page}"
    );
}

async fn invitation_upload_without_cx_secret_says_so(b: Backend) {
    let mut app = spawn_app(b).await;
    app.settings.secret = None;
    app.restart().await.unwrap();
    let dep = app.deployment("a11-v2-thumbs").await;
    let m = app.staff("agency-a", "m@a.gov", "manager").await;
    let csv = "email,transaction_id,transaction_date,locale\npat@example.gov,t-1,,\n";
    let r = m
        .upload(
            "/admin/invitations",
            &[("deployment", &dep)],
            "csv",
            "list.csv",
            csv.into(),
        )
        .await;
    assert_eq!(r.status(), 409);
    let page = text(r).await;
    assert!(page.contains("This service has no CX_SECRET set"), "{page}");
    assert_eq!(app.count("invitations"), 0);
    assert_eq!(
        app.count("audit_log WHERE action = 'invitations.upload'"),
        0
    );
}

async fn import_lists_every_problem_and_stores_nothing(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let dep_b = app
        .deployment_for(&app.new_key("agency-b"), "a11-v2-thumbs", &[])
        .await;
    let m = app.staff("agency-a", "m@a.gov", "manager").await;
    let page = text(m.get("/admin/import").await).await;
    assert!(page.contains(IMPORT_HEADER), "the expected header is shown");
    let csv = format!(
        "{IMPORT_HEADER}\n\
         ok-1,1,1,0,0,0,0,0,0,0,0,0,0,0,0,0,,2026-01-15T10:00:00Z\n\
         bad-1,7,0,0,0,0,0,0,0,0,0,0,0,0,0,0,,2026-01-15T10:00:00Z\n\
         bad-2,1,2,0,0,0,0,0,0,0,0,0,0,0,0,0,,yesterday\n"
    );
    let r = m
        .upload(
            "/admin/import",
            &[("deployment", &dep)],
            "csv",
            "paper.csv",
            csv.clone().into(),
        )
        .await;
    assert_eq!(r.status(), 422);
    let page = text(r).await;
    assert!(
        page.contains("<td>3</td><td><code>question_1</code></td>"),
        "{page}"
    );
    assert!(
        page.contains(
            "<td>4</td><td><code>positive_effectiveness</code></td><td>must be 1, 0 or null</td>"
        ),
        "{page}"
    );
    assert!(
        page.contains("<td>4</td><td><code>submitted_at</code></td>"),
        "{page}"
    );
    assert!(
        page.contains("The file has 3 problems, listed below by line"),
        "{page}"
    );
    // A header with an unknown column: line 1.
    let r = m
        .upload(
            "/admin/import",
            &[("deployment", &dep)],
            "csv",
            "paper.csv",
            format!("{IMPORT_HEADER},colour\n").into(),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(text(r).await.contains(
        "<td>1</td><td><code>header</code></td><td>unknown column &quot;colour&quot;</td>"
    ));
    // Another agency's deployment: 404; a viewer, and no CSRF token: 403.
    let good =
        format!("{IMPORT_HEADER}\nok-1,1,1,0,0,0,0,0,0,0,0,0,0,0,0,0,,2026-01-15T10:00:00Z\n");
    let r = m
        .upload(
            "/admin/import",
            &[("deployment", &dep_b)],
            "csv",
            "paper.csv",
            good.clone().into(),
        )
        .await;
    assert_eq!(r.status(), 404);
    let v = app.staff("agency-a", "v@a.gov", "viewer").await;
    let r = v
        .upload(
            "/admin/import",
            &[("deployment", &dep)],
            "csv",
            "paper.csv",
            good.into(),
        )
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        m.post_raw("/admin/import", &[("deployment", &dep)])
            .await
            .status(),
        403
    );
    assert_eq!(app.responses(), 0);
    assert_eq!(app.count("audit_log WHERE action = 'responses.import'"), 0);
    assert!(!text(v.get("/admin/import").await)
        .await
        .contains("type=\"file\""));
}

async fn import_stores_the_file_and_logs_it(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let m = app.staff("agency-a", "m@a.gov", "manager").await;
    let csv = format!(
        "{IMPORT_HEADER}\n\
         paper-1,1,1,1,0,0,0,0,0,0,0,0,0,0,0,0,Helpful clerk,2026-01-15T10:00:00-05:00\n\
         paper-2,0,0,0,0,0,0,0,0,0,1,0,0,0,0,1,,2026-02-01T09:30:00Z\n"
    );
    let r = m
        .upload(
            "/admin/import",
            &[("deployment", &dep)],
            "csv",
            "paper.csv",
            csv.clone().into(),
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = text(r).await;
    assert!(page.contains("2 responses were stored"), "{page}");
    assert_eq!(app.responses(), 2);
    assert_eq!(
        app.count(&format!("audit_log WHERE action = 'responses.import' AND object = '{dep}' AND detail = '2 responses'")),
        1
    );
    // The same file again: already imported, refused whole, each line named.
    let r = m
        .upload(
            "/admin/import",
            &[("deployment", &dep)],
            "csv",
            "paper.csv",
            csv.into(),
        )
        .await;
    assert_eq!(r.status(), 422);
    let page = text(r).await;
    assert!(page.contains("<td>2</td><td><code>external_id</code></td><td>was already imported for this deployment</td>"), "{page}");
    assert!(page.contains("<td>3</td><td><code>external_id</code></td>"));
    assert_eq!(app.responses(), 2);
}

async fn reports_are_scoped_to_the_agency(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let dep_b = app
        .deployment_for(&app.new_key("agency-b"), "a11-v2-thumbs", &[])
        .await;
    for d in [&dep, &dep_b] {
        assert_eq!(app.answer(d, json!({"trust": 1})).await.status(), 201);
    }
    let v = app.staff("agency-a", "v@a.gov", "viewer").await;
    let (fy, q) = fy_q();
    let page = text(v.get("/admin/reports").await).await;
    let base = format!("/admin/reports/{fy}/{q}");
    assert!(
        page.contains(&format!("href=\"{base}/report.html\"")),
        "{page}"
    );
    assert!(page.contains(&format!("href=\"{base}/files.zip\"")));
    // report.html: this agency's deployments only, no script, only its own style element.
    let r = v.get(&format!("{base}/report.html")).await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let html = text(r).await;
    let (h_a, h_b) = (hisp_of(&app, &dep), hisp_of(&app, &dep_b));
    assert!(
        html.contains(&format!("({h_a})")) && !html.contains(&h_b),
        "{html}"
    );
    assert!(!html.contains("<script") && !html.contains("style=\""));
    let style = html
        .split("<style>")
        .nth(1)
        .unwrap()
        .split("</style>")
        .next()
        .unwrap();
    use base64::Engine;
    use sha2::Digest;
    let hash =
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(style.as_bytes()));
    assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{csp}");
    assert!(
        csp.starts_with("default-src 'none'")
            && !csp.contains("unsafe")
            && !csp.contains("script-src"),
        "{csp}"
    );
    // The zip: every OMB file, this agency's deployments only.
    let r = v.get(&format!("{base}/files.zip")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    let bytes = r.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let prefix = format!("cx-report-FY{fy}-Q{q}");
    let names: Vec<String> = zip.file_names().map(String::from).collect();
    for f in [
        "cx_collections.csv",
        "cx_collection_details.csv",
        "report.json",
        "report.html",
        &format!("responses/{dep}.csv"),
    ] {
        assert!(names.contains(&format!("{prefix}/{f}")), "{f} in {names:?}");
    }
    assert!(names.iter().all(|n| !n.contains(&dep_b)), "{names:?}");
    let mut details = String::new();
    zip.by_name(&format!("{prefix}/cx_collection_details.csv"))
        .unwrap()
        .read_to_string(&mut details)
        .unwrap();
    assert!(
        details.contains(&dep) && !details.contains(&dep_b),
        "{details}"
    );
    let mut responses = String::new();
    zip.by_name(&format!("{prefix}/responses/{dep}.csv"))
        .unwrap()
        .read_to_string(&mut responses)
        .unwrap();
    assert_eq!(responses.lines().count(), 2, "{responses}");
}

async fn report_paths_refuse_bad_quarters(b: Backend) {
    let app = spawn_app(b).await;
    let v = app.staff("agency-a", "v@a.gov", "viewer").await;
    for p in [
        "/admin/reports/1999/1/files.zip",
        "/admin/reports/2026/5/report.html",
        "/admin/reports/x/1/report.html",
        "/admin/reports/2026/1/other.csv",
    ] {
        assert_eq!(v.get(p).await.status(), 404, "{p}");
    }
    let r = v.get("/admin/reports?fiscal_year=abc&quarter=1").await;
    assert_eq!(r.status(), 422);
    assert!(text(r)
        .await
        .contains("Enter a fiscal year from 2000 to 2100"));
    // An empty quarter still gives its files.
    let r = v.get("/admin/reports/2026/1/files.zip").await;
    assert_eq!(r.status(), 200);
}
