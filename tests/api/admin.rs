//! Admin API: keys, structure, triage with audit, export, volumes and paper/phone import.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both;

on_both!(
    admin_requires_a_valid_key,
    structure_bad_inputs,
    deployments_list_and_patch,
    triage_is_audited_and_validated,
    export_csv_is_injection_safe_and_filterable,
    volumes_are_stored_per_quarter,
    import_stores_all_rows,
    import_rejects_the_whole_file_on_one_bad_row,
    import_refuses_rows_outside_the_clearance,
    import_errors_name_the_physical_line,
    concurrent_triage_keeps_the_audit_a_chain,
    keys_rotate_revoked_key_stops_working,
);

async fn keys_rotate_revoked_key_stops_working(b: Backend) {
    let app = spawn_app(b).await;
    let new = app.new_key("agency-a");
    let keys = {
        let mut c = app.pool.get().unwrap();
        cx_survey::admin::list_keys(&mut c, "agency-a").unwrap()
    };
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k.2.is_none()));
    // The oldest is the key the app started with.
    let old_id = keys.last().unwrap().0.clone();
    {
        let mut c = app.pool.get().unwrap();
        cx_survey::admin::revoke_key(&mut c, &old_id).unwrap();
        assert!(cx_survey::admin::revoke_key(&mut c, &old_id).is_err());
        assert!(cx_survey::admin::revoke_key(&mut c, "nope").is_err());
    }
    let get = |k: String| {
        let app = &app;
        async move { app.as_agency(&k).get("/api/v1/admin/hisps").await.status() }
    };
    assert_eq!(get(app.key.clone()).await, 401);
    assert_eq!(get(new).await, 200);
    let listed = {
        let mut c = app.pool.get().unwrap();
        cx_survey::admin::list_keys(&mut c, "agency-a").unwrap()
    };
    assert!(listed.iter().any(|k| k.0 == old_id && k.2.is_some()));
}

async fn admin_requires_a_valid_key(b: Backend) {
    let app = spawn_app(b).await;
    let r = app.get("/api/v1/admin/hisps").await;
    assert_eq!(r.status(), 401);
    problem(r).await;
    let r = app
        .as_agency("cxs_not-a-key")
        .get("/api/v1/admin/hisps")
        .await;
    assert_eq!(r.status(), 401);
    let r = app.as_agency(&app.key).get("/api/v1/admin/hisps").await;
    assert_eq!(r.status(), 200);
    // Only the hash is stored.
    #[derive(diesel::QueryableByName)]
    struct K {
        #[diesel(sql_type = diesel::sql_types::Text)]
        key_hash: String,
    }
    use diesel::RunQueryDsl;
    let mut c = app.pool.get().unwrap();
    let keys: Vec<K> = diesel::sql_query("SELECT key_hash FROM api_keys")
        .load(&mut *c)
        .unwrap();
    assert!(keys
        .iter()
        .all(|k| k.key_hash != app.key && !k.key_hash.contains(&app.key[4..20])));
}

async fn structure_bad_inputs(b: Backend) {
    let app = spawn_app(b).await;
    let post = |path: &'static str, body: Value| {
        let app = &app;
        async move { app.as_agency(&app.key).post(path, body).await }
    };
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "/api/v1/admin/hisps",
            json!({"slug": "Bad Slug", "name": "X"}),
            422,
            "slug",
        ),
        (
            "/api/v1/admin/hisps",
            json!({"slug": "ok", "name": " "}),
            422,
            "name",
        ),
        ("/api/v1/admin/hisps", json!({"slug": "ok"}), 422, "body"),
        (
            "/api/v1/admin/hisps",
            json!({"slug": "ok", "name": "X", "owner": "me"}),
            422,
            "owner",
        ),
        (
            "/api/v1/admin/services",
            json!({"slug": "svc", "name": "S", "hisp": "nope", "channels": ["website"]}),
            422,
            "hisp",
        ),
        (
            "/api/v1/admin/services",
            json!({"slug": "svc", "name": "S", "hisp": "irs", "channels": ["carrier_pigeon"]}),
            422,
            "channels[0]",
        ),
        (
            "/api/v1/admin/services",
            json!({"slug": "svc", "name": "S", "hisp": "irs", "channels": []}),
            422,
            "channels",
        ),
        (
            "/api/v1/admin/deployments",
            json!({"instrument": "nope", "service": "svc-ok", "channel": "website", "transaction_point": "x"}),
            422,
            "instrument",
        ),
        (
            "/api/v1/admin/deployments",
            json!({"instrument": "a11-v2-thumbs", "service": "svc-ok", "channel": "telepathy", "transaction_point": "x"}),
            422,
            "channel",
        ),
        (
            "/api/v1/admin/deployments",
            json!({"instrument": "a11-v2-thumbs", "service": "svc-ok", "channel": "fax", "transaction_point": "x"}),
            422,
            "channel",
        ),
        (
            "/api/v1/admin/deployments",
            json!({"instrument": "a11-v2-thumbs", "service": "svc-ok", "channel": "website", "transaction_point": ""}),
            422,
            "transaction_point",
        ),
        (
            "/api/v1/admin/deployments",
            json!({"instrument": "a11-v2-thumbs", "service": "nope", "channel": "website", "transaction_point": "x"}),
            422,
            "service",
        ),
        (
            "/api/v1/admin/deployments",
            json!({"instrument": "a11-v2-thumbs", "service": "svc-ok", "channel": "website", "transaction_point": "x", "allowed_origins": ["*"]}),
            422,
            "allowed_origins[0]",
        ),
        (
            "/api/v1/admin/deployments",
            json!({"instrument": "a11-v2-thumbs", "service": "svc-ok", "channel": "website", "transaction_point": "x", "allowed_origins": ["https://a.gov/path"]}),
            422,
            "allowed_origins[0]",
        ),
    ];
    assert_eq!(
        post("/api/v1/admin/hisps", json!({"slug": "irs", "name": "IRS"}))
            .await
            .status(),
        201
    );
    assert_eq!(
        post(
            "/api/v1/admin/services",
            json!({"slug": "svc-ok", "name": "S", "hisp": "irs", "channels": ["website"]})
        )
        .await
        .status(),
        201
    );
    for (path, body, status, field) in cases {
        let r = post(path, body.clone()).await;
        assert_eq!(r.status().as_u16(), status, "{path} {body}");
        let p = problem(r).await;
        assert!(
            fields(&p).contains(&field.to_string()),
            "{path} {body}: expected {field}, got {p}"
        );
    }
    let r = post(
        "/api/v1/admin/hisps",
        json!({"slug": "irs", "name": "Again"}),
    )
    .await;
    assert_eq!(r.status(), 409);
    assert_eq!(fields(&problem(r).await), vec!["slug"]);
    let r = post(
        "/api/v1/admin/services",
        json!({"slug": "svc-ok", "name": "S", "hisp": "irs", "channels": ["website"]}),
    )
    .await;
    assert_eq!(r.status(), 409);
    assert_eq!(app.count("hisps"), 1);
    assert_eq!(app.count("services"), 1);
    assert_eq!(app.count("deployments"), 0);
}

async fn deployments_list_and_patch(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-likert").await;
    let list: Value = app
        .as_agency(&app.key)
        .get("/api/v1/admin/deployments")
        .await
        .json()
        .await
        .unwrap();
    let d = &list["deployments"][0];
    assert_eq!(d["id"], dep.as_str());
    assert_eq!(d["status"], "open");
    assert_eq!(d["instrument"], "a11-v2-likert");
    assert_eq!(d["allowed_origins"], json!(["https://www.example.gov"]));
    let path = format!("/api/v1/admin/deployments/{dep}");
    let r = app
        .as_agency(&app.key)
        .patch(&path, json!({"status": "paused"}))
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(fields(&problem(r).await), vec!["status"]);
    let r = app
        .as_agency(&app.key)
        .patch(
            &path,
            json!({"allowed_origins": ["https://new.example.gov/"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["allowed_origins"],
        json!(["https://new.example.gov"])
    );
}

async fn submit_one(app: &TestApp, dep: &str, answers: Value) -> String {
    let r = app.answer(dep, answers).await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn triage_is_audited_and_validated(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let id = submit_one(&app, &dep, json!({"trust": 1})).await;
    let path = format!("/api/v1/admin/responses/{id}");
    let r = app
        .as_agency(&app.key)
        .patch(&path, json!({"status": "junk"}))
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(fields(&problem(r).await), vec!["status"]);
    let r = app
        .as_agency(&app.key)
        .patch(&path, json!({"status": "spam"}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"id": id, "status": "spam", "previous_status": "counted"})
    );
    let r = app
        .as_agency(&app.key)
        .patch(&path, json!({"status": "counted"}))
        .await;
    assert_eq!(r.status(), 200);
    let audit: Value = app
        .as_agency(&app.key)
        .get(&format!("{path}/audit"))
        .await
        .json()
        .await
        .unwrap();
    let entries = audit["audit"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["from_status"], "counted");
    assert_eq!(entries[0]["to_status"], "spam");
    assert_eq!(entries[1]["to_status"], "counted");
    let r = app
        .as_agency(&app.key)
        .patch(
            &format!("/api/v1/admin/responses/{}", uuid::Uuid::new_v4()),
            json!({"status": "spam"}),
        )
        .await;
    assert_eq!(r.status(), 404);
}

async fn export_csv_is_injection_safe_and_filterable(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    submit_one(
        &app,
        &dep,
        json!({"trust": 0, "went_poorly": ["ease"], "comments": "=HYPERLINK(\"http://x\")"}),
    )
    .await;
    submit_one(&app, &dep, json!({"trust": 1, "comments": "@SUM(1)"})).await;
    let r = app
        .as_agency(&app.key)
        .get(&format!(
            "/api/v1/admin/responses?deployment={dep}&format=csv"
        ))
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = r.text().await.unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert!(header.contains(&"submitted_at".to_string()));
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    assert_eq!(&rows[0][col("question_4")], "'=HYPERLINK(\"http://x\")");
    assert_eq!(&rows[0][col("negative_ease")], "1");
    assert_eq!(&rows[0][col("positive_ease")], "0");
    assert_eq!(&rows[1][col("question_4")], "'@SUM(1)");
    for cell in rows
        .iter()
        .flat_map(|r| r.iter().map(String::from).collect::<Vec<_>>())
    {
        assert!(!cell.starts_with(['=', '+', '-', '@']), "{cell}");
    }
    // The current quarter holds both; last fiscal year none.
    let fq = current_quarter();
    let j: Value = app
        .as_agency(&app.key)
        .get(&format!(
            "/api/v1/admin/responses?fiscal_year={}&quarter={}&format=json",
            fq.year, fq.quarter
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(j["responses"].as_array().unwrap().len(), 2);
    let j: Value = app
        .as_agency(&app.key)
        .get(&format!(
            "/api/v1/admin/responses?fiscal_year={}&format=json",
            fq.year - 1
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(j["responses"].as_array().unwrap().len(), 0);
    for (q, field) in [
        ("quarter=2", "fiscal_year"),
        ("fiscal_year=2026&quarter=5", "quarter"),
        ("format=xml", "format"),
        ("status=lost", "status"),
    ] {
        let r = app
            .as_agency(&app.key)
            .get(&format!("/api/v1/admin/responses?{q}"))
            .await;
        assert_eq!(r.status(), 422, "{q}");
        assert_eq!(fields(&problem(r).await), vec![field], "{q}");
    }
}

async fn volumes_are_stored_per_quarter(b: Backend) {
    let app = spawn_app(b).await;
    app.deployment("a11-v2-thumbs").await;
    let list: Value = app
        .as_agency(&app.key)
        .get("/api/v1/admin/services")
        .await
        .json()
        .await
        .unwrap();
    let svc = list["services"][0]["slug"].as_str().unwrap().to_string();
    let path = format!("/api/v1/admin/services/{svc}/volumes/2026/2");
    let r = app
        .as_agency(&app.key)
        .put(
            &path,
            json!({"channel": "website", "volume_of_customers": 120000}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .as_agency(&app.key)
        .put(
            &path,
            json!({"channel": "website", "volume_of_customers": 125000}),
        )
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["volume_of_customers"],
        125000
    );
    assert_eq!(app.count("service_volumes"), 1);
    for (p, body, field) in [
        (
            format!("/api/v1/admin/services/{svc}/volumes/2026/5"),
            json!({"channel": "website", "volume_of_customers": 1}),
            "quarter",
        ),
        (
            format!("/api/v1/admin/services/{svc}/volumes/26/1"),
            json!({"channel": "website", "volume_of_customers": 1}),
            "fiscal_year",
        ),
        (
            path.clone(),
            json!({"channel": "website", "volume_of_customers": -1}),
            "volume_of_customers",
        ),
        (
            path.clone(),
            json!({"channel": "email", "volume_of_customers": 1}),
            "channel",
        ),
        (path.clone(), json!({"channel": "website"}), "body"),
    ] {
        let r = app.as_agency(&app.key).put(&p, body.clone()).await;
        assert_eq!(r.status(), 422, "{p} {body}");
        assert!(
            fields(&problem(r).await).contains(&field.to_string()),
            "{p} {body}"
        );
    }
    let r = app
        .as_agency(&app.key)
        .put(
            "/api/v1/admin/services/nope/volumes/2026/2",
            json!({"channel": "website", "volume_of_customers": 1}),
        )
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(app.count("service_volumes"), 1);
}

const HEADER: &str = "external_id,question_1,positive_effectiveness,positive_ease,positive_efficiency,positive_transparency,positive_humanity,positive_employee,positive_other,negative_effectiveness,negative_ease,negative_efficiency,negative_transparency,negative_humanity,negative_employee,negative_other,question_4,submitted_at";

async fn import_stores_all_rows(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let csv = format!(
        "{HEADER}\npaper-1,1,1,1,0,0,0,0,0,0,0,0,0,0,0,0,Helpful clerk,2026-01-15T10:00:00-05:00\npaper-2,0,0,0,0,0,0,0,0,0,1,0,0,0,0,1,\"Long wait, \"\"slow\"\"\",2026-02-01T09:30:00Z\n"
    );
    let r = app.as_agency(&app.key).import(&dep, csv.clone()).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"imported": 2}));
    let j: Value = app
        .as_agency(&app.key)
        .get("/api/v1/admin/responses?format=json")
        .await
        .json()
        .await
        .unwrap();
    let rows = j["responses"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["external_id"], "paper-1");
    assert_eq!(rows[0]["submitted_at"], "2026-01-15T15:00:00Z");
    assert_eq!(
        rows[0]["answers"],
        json!({"trust": 1, "went_well": ["effectiveness", "ease"], "comments": "Helpful clerk"})
    );
    assert_eq!(rows[1]["answers"]["went_poorly"], json!(["ease", "other"]));
    assert_eq!(rows[1]["answers"]["comments"], "Long wait, \"slow\"");
    // The same file again is refused whole: those rows are already imported.
    let r = app.as_agency(&app.key).import(&dep, csv).await;
    assert_eq!(r.status(), 422);
    let p = problem(r).await;
    assert_eq!(p["errors"][0]["line"], 2);
    assert_eq!(app.responses(), 2);
}

async fn import_rejects_the_whole_file_on_one_bad_row(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let good = "ok-1,1,1,0,0,0,0,0,0,0,0,0,0,0,0,0,,2026-01-15T10:00:00Z";
    let cases: Vec<(String, u64, &str)> = vec![
        (
            format!(
                "{HEADER}\n{good}\nbad-1,7,0,0,0,0,0,0,0,0,0,0,0,0,0,0,,2026-01-15T10:00:00Z\n"
            ),
            3,
            "question_1",
        ),
        (
            format!(
                "{HEADER}\n{good}\nbad-2,1,0,0,0,0,0,0,0,1,0,0,0,0,0,0,,2026-01-15T10:00:00Z\n"
            ),
            3,
            "negative_drivers",
        ),
        (
            format!(
                "{HEADER}\n{good}\nbad-3,1,2,0,0,0,0,0,0,0,0,0,0,0,0,0,,2026-01-15T10:00:00Z\n"
            ),
            3,
            "positive_effectiveness",
        ),
        (
            format!("{HEADER}\n{good}\nbad-4,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,,15/01/2026\n"),
            3,
            "submitted_at",
        ),
        (
            format!(
                "{HEADER}\n{good}\nbad-5,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,,2099-01-01T00:00:00Z\n"
            ),
            3,
            "submitted_at",
        ),
        (
            format!("{HEADER}\n{good}\nok-1,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,,2026-01-15T10:00:00Z\n"),
            3,
            "external_id",
        ),
        (
            format!("{HEADER}\n{good}\n,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,,2026-01-15T10:00:00Z\n"),
            3,
            "external_id",
        ),
        (format!("{HEADER}\n{good}\nbad-6,1,0,0\n"), 3, "row"),
        (
            format!(
                "{HEADER}\n{good}\nbad-7,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,{},2026-01-15T10:00:00Z\n",
                "y".repeat(5001)
            ),
            3,
            "question_4",
        ),
        (
            format!("{}\n{good}\n", HEADER.replace(",question_4", "")),
            1,
            "header",
        ),
        (format!("{},extra\n{good},x\n", HEADER), 1, "header"),
        (HEADER.to_string(), 0, "body"),
    ];
    for (csv, line, field) in cases {
        let r = app.as_agency(&app.key).import(&dep, csv.clone()).await;
        assert_eq!(r.status(), 422, "{csv}");
        let p = problem(r).await;
        assert!(
            fields(&p).contains(&field.to_string()),
            "{csv}\nexpected {field}: {p}"
        );
        if line > 0 {
            assert!(
                p["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["line"] == line),
                "{csv}\nexpected line {line}: {p}"
            );
        }
        assert_eq!(app.responses(), 0);
    }
    let r = app
        .as_agency(&app.key)
        .post_body(
            &format!("/api/v1/admin/deployments/{dep}/responses/import"),
            "application/json",
            "{}",
        )
        .await;
    assert_eq!(r.status(), 422);
    assert_eq!(app.responses(), 0);
}

/// One import row with `ext` as its external id, `trust` as question_1 and the given time.
fn import_row(ext: &str, trust: &str, at: &str) -> String {
    format!("{ext},{trust},1,0,0,0,0,0,0,0,0,0,0,0,0,0,,{at}")
}

async fn import_refuses_rows_outside_the_clearance(b: Backend) {
    let day = |d: i64| chrono::Utc::now().date_naive() - chrono::Duration::days(d);
    let ended = variant("a11-v2-thumbs.json", "ended-thumbs", |v| {
        v["pra"]["expiration_date"] = json!(day(10).to_string())
    });
    let app = spawn_with(
        b,
        Options {
            extra_defs: vec![ended],
            ..Default::default()
        },
    )
    .await;
    let dep = app.deployment("ended-thumbs").await;
    let before = format!("{}T12:00:00Z", day(20));
    // The clearance ends at midnight New York time after its expiration date: 04:00 or
    // 05:00 UTC the next day, so 03:00 UTC the next day is still covered, 06:00 is not.
    let last_minute = format!("{}T03:00:00Z", day(9));
    let after = format!("{}T06:00:00Z", day(9));
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let cases = [
        (vec![before.clone(), after], "expired"),
        (vec![before.clone(), tomorrow], "future"),
    ];
    for (times, why) in cases {
        let rows: Vec<String> = times
            .iter()
            .enumerate()
            .map(|(i, t)| import_row(&format!("p-{i}"), "1", t))
            .collect();
        let csv = format!("{HEADER}\n{}\n", rows.join("\n"));
        let r = app.as_agency(&app.key).import(&dep, csv.clone()).await;
        assert_eq!(r.status(), 422, "{why}: {csv}");
        let p = problem(r).await;
        let errs = p["errors"].as_array().unwrap();
        assert_eq!(errs.len(), 1, "{why}: {p}");
        assert_eq!(errs[0]["line"], 3, "{why}: {p}");
        assert_eq!(errs[0]["field"], "submitted_at", "{why}: {p}");
        assert_eq!(
            app.responses(),
            0,
            "{why}: part of a refused file was stored"
        );
    }
    let p = problem(
        app.as_agency(&app.key)
            .import(
                &dep,
                format!(
                    "{HEADER}\n{}\n",
                    import_row("x", "1", &format!("{}T06:00:00Z", day(9)))
                ),
            )
            .await,
    )
    .await;
    let detail = p["errors"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("3090-0321") && detail.contains(&day(10).to_string()),
        "{p}"
    );
    // Rows the clearance covered, up to its last local minute, are taken.
    let csv = format!(
        "{HEADER}\n{}\n{}\n",
        import_row("ok-0", "1", &before),
        import_row("ok-1", "1", &last_minute)
    );
    let r = app.as_agency(&app.key).import(&dep, csv).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_eq!(app.responses(), 2);
}

async fn import_errors_name_the_physical_line(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let at = "2026-01-15T10:00:00Z";
    // Line 2: a row; lines 3-4: one record whose comment holds a line break; line 5: a blank
    // line; line 6: a bad answer; line 7: a row with too few cells.
    let good = import_row("ok-1", "1", at);
    let multi = format!("ok-2,1,1,0,0,0,0,0,0,0,0,0,0,0,0,0,\"two\nlines\",{at}");
    let bad = import_row("bad-1", "7", at);
    for eol in ["\n", "\r\n"] {
        let csv = [HEADER, &good, &multi, "", &bad, "bad-2,1,0", ""].join(eol);
        let r = app.as_agency(&app.key).import(&dep, csv.clone()).await;
        assert_eq!(r.status(), 422);
        let p = problem(r).await;
        let lines: Vec<(String, u64)> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["field"].as_str().unwrap().into(),
                    e["line"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            vec![("question_1".into(), 6), ("row".into(), 7)],
            "{eol:?}: {p}"
        );
        assert!(
            !p.to_string().contains("line: "),
            "csv's own position leaked: {p}"
        );
        assert_eq!(app.responses(), 0);
    }
}

async fn concurrent_triage_keeps_the_audit_a_chain(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let id = submit_one(&app, &dep, json!({"trust": 1})).await;
    let path = format!("/api/v1/admin/responses/{id}");
    let targets = ["spam", "deleted", "test", "counted"];
    // Rounds of PATCHes sent at once, each round to several different statuses.
    for round in 0..25 {
        let sends = (0..8).map(|i| {
            let status = targets[(round + i) % targets.len()];
            app.as_agency(&app.key)
                .patch(&path, json!({"status": status}))
        });
        for r in futures::future::join_all(sends).await {
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }
    }
    let audit: Value = app
        .as_agency(&app.key)
        .get(&format!("{path}/audit"))
        .await
        .json()
        .await
        .unwrap();
    let entries = audit["audit"].as_array().unwrap();
    assert!(entries.len() > 25, "{}", entries.len());
    let mut expected_from = "counted".to_string();
    for (n, e) in entries.iter().enumerate() {
        assert_eq!(
            e["from_status"], expected_from,
            "audit row {n} does not follow the one before it: {entries:?}"
        );
        assert_ne!(e["from_status"], e["to_status"]);
        expected_from = e["to_status"].as_str().unwrap().to_string();
    }
    let stored = format!("responses WHERE id = '{id}' AND status = '{expected_from}'");
    assert_eq!(
        app.count(&stored),
        1,
        "the last audit row is not the stored status"
    );
}
