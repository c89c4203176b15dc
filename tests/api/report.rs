//! The quarterly report, against hand-computed expectations, on both databases: fiscal quarter
//! edges in Eastern time across DST and New Year, a leap day, excluded statuses, an empty
//! quarter, a deployment with volume but no responses, thumbs and Likert side by side, v1 scale
//! counts, the exact upload header, and byte-identical reruns.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both;

const UPLOAD: &str = "external_id,question_1,positive_effectiveness,positive_ease,positive_efficiency,positive_transparency,positive_humanity,positive_employee,positive_other,negative_effectiveness,negative_ease,negative_efficiency,negative_transparency,negative_humanity,negative_employee,negative_other,question_4";
const DRIVERS: [&str; 7] = [
    "effectiveness",
    "ease",
    "efficiency",
    "transparency",
    "humanity",
    "employee",
    "other",
];

/// One import row: drivers named on each list become 1, the rest 0.
fn row(ext: &str, trust: u8, pos: &[&str], neg: &[&str], at: &str) -> String {
    let cell = |list: &[&str], d: &str| if list.contains(&d) { "1" } else { "0" };
    let mut cells = vec![ext.to_string(), trust.to_string()];
    cells.extend(DRIVERS.iter().map(|d| cell(pos, d).to_string()));
    cells.extend(DRIVERS.iter().map(|d| cell(neg, d).to_string()));
    cells.push(String::new());
    cells.push(at.to_string());
    cells.join(",")
}

/// Imports `rows` into `dep` and returns `external_id=id` of every response the export lists.
async fn import_rows(app: &TestApp, dep: &str, rows: &[String]) -> Vec<String> {
    let body = format!("{UPLOAD},submitted_at\n{}\n", rows.join("\n"));
    let r = app.as_agency(&app.key).import(dep, body).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let j: Value = app
        .as_agency(&app.key)
        .get(&format!(
            "/api/v1/admin/responses?deployment={dep}&format=json"
        ))
        .await
        .json()
        .await
        .unwrap();
    j["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}={}",
                r["external_id"].as_str().unwrap_or(""),
                r["id"].as_str().unwrap()
            )
        })
        .collect()
}

async fn set_status(app: &TestApp, ids: &[String], ext: &str, status: &str) {
    let id = ids
        .iter()
        .find_map(|p| p.strip_prefix(&format!("{ext}=")))
        .unwrap();
    let r = app
        .as_agency(&app.key)
        .patch(
            &format!("/api/v1/admin/responses/{id}"),
            json!({"status": status}),
        )
        .await;
    assert_eq!(r.status(), 200);
}

fn impressions(app: &TestApp, dep: &str, at: &str, n: usize) {
    use diesel::prelude::*;
    let at = chrono::DateTime::parse_from_rfc3339(at)
        .unwrap()
        .naive_utc();
    let mut c = app.pool.get().unwrap();
    for _ in 0..n {
        diesel::insert_into(cx_survey::db::schema::impressions::table)
            .values(&cx_survey::responses::NewImpression {
                deployment_id: dep.to_string(),
                occurred_at: at,
            })
            .execute(&mut *c)
            .unwrap();
    }
}

async fn service_of(app: &TestApp, dep: &str) -> String {
    let d: Value = app
        .as_agency(&app.key)
        .get(&format!("/api/v1/admin/deployments/{dep}"))
        .await
        .json()
        .await
        .unwrap();
    d["service"].as_str().unwrap().to_string()
}

fn run_report(app: &TestApp, fy: i32, q: u8, extra: &[&str], out: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_cx-survey"))
        .args([
            "report",
            "--fiscal-year",
            &fy.to_string(),
            "--quarter",
            &q.to_string(),
            "--out",
        ])
        .arg(out)
        .args(extra)
        .env("DATABASE_URL", &app.database_url)
        .env("CX_SURVEY_DEFS", &app.defs_dir)
        .env_remove("CX_REPORT_TZ")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn csv_rows(path: &Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

fn minimal_thumbs() -> (String, Value) {
    variant("a11-v2-thumbs.json", "thumbs-min", |v| {
        for q in [1, 2] {
            let opts = v["questions"][q]["options"].as_array_mut().unwrap();
            opts.retain(|o| o["key"] == "effectiveness" || o["key"] == "ease");
        }
    })
}

on_both!(
    quarterly_report_matches_hand_counts,
    v1_scale_counts_and_api_scope
);

async fn quarterly_report_matches_hand_counts(b: Backend) {
    let app = spawn_with(
        b,
        Options {
            extra_defs: vec![minimal_thumbs()],
            ..Default::default()
        },
    )
    .await;
    let thumbs = app.deployment("a11-v2-thumbs").await;
    let likert = app.deployment("a11-v2-likert").await;
    let idle = app.deployment("a11-v2-thumbs").await;
    let minimal = app.deployment("thumbs-min").await;

    let ids = import_rows(
        &app,
        &thumbs,
        &[
            row("e1", 1, &["ease"], &[], "2025-12-31T23:59:59-05:00"), // last second of FY2026 Q1 in ET
            row("e2", 1, &[], &[], "2026-01-01T00:00:00-05:00"),       // first second of Q2
            row("e3", 0, &[], &["efficiency"], "2025-10-01T00:00:00-04:00"), // first second of Q1 (EDT)
            row("e4", 0, &[], &[], "2025-09-30T23:59:59-04:00"),             // FY2025 Q4
            row("e5", 1, &[], &[], "2025-11-02T01:30:00-05:00"), // the repeated hour at DST's end
            row("e6", 1, &[], &[], "2025-11-15T12:00:00Z"),      // marked spam below
            row("e7", 0, &[], &[], "2025-11-16T12:00:00Z"),      // marked deleted below
            row(
                "e8",
                1,
                &["effectiveness", "ease"],
                &[],
                "2025-12-01T12:00:00Z",
            ), // marked test below
        ],
    )
    .await;
    set_status(&app, &ids, "e6", "spam").await;
    set_status(&app, &ids, "e7", "deleted").await;
    set_status(&app, &ids, "e8", "test").await;
    import_rows(
        &app,
        &likert,
        &[
            row("l1", 5, &["effectiveness"], &[], "2025-10-15T12:00:00Z"),
            row("l2", 3, &[], &["ease"], "2025-10-16T12:00:00Z"),
            row("l3", 2, &[], &[], "2025-10-17T12:00:00Z"),
            row("l4", 4, &[], &[], "2025-10-18T12:00:00Z"),
            row("leap", 1, &[], &[], "2024-02-29T12:00:00Z"), // leap day: FY2024 Q2
            row("mar31", 5, &[], &[], "2024-03-31T23:30:00-04:00"), // 03:30 UTC on Apr 1, still Q2 in ET
        ],
    )
    .await;
    import_rows(
        &app,
        &minimal,
        &[row("m1", 1, &["ease"], &[], "2025-11-20T15:00:00Z")],
    )
    .await;
    impressions(&app, &thumbs, "2025-11-01T12:00:00Z", 2);
    impressions(&app, &likert, "2025-11-01T12:00:00Z", 10);
    impressions(&app, &likert, "2026-02-01T12:00:00Z", 7); // next quarter: not counted
    for (dep, volume) in [(&thumbs, 1000), (&idle, 500)] {
        let svc = service_of(&app, dep).await;
        let r = app
            .as_agency(&app.key)
            .put(
                &format!("/api/v1/admin/services/{svc}/volumes/2026/1"),
                json!({"channel": "website", "volume_of_customers": volume}),
            )
            .await;
        assert_eq!(r.status(), 200);
    }

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fy26q1");
    run_report(&app, 2026, 1, &[], &out);

    let (header, details) = csv_rows(&out.join("cx_collection_details.csv"));
    assert_eq!(header.join(","), "fiscal_year,quarter,hisp,service,deployment_id,channel,transaction_point,omb_control_number,federal_register_url,survey_title,survey_type,trust_question_text,volume_of_customers,volume_of_customers_provided_survey_opportunity,volume_of_respondents,trust_positive,trust_negative,trust_neutral,trust_score,trust_score_ci_low,trust_score_ci_high");
    assert_eq!(
        details.len(),
        4,
        "thumbs, likert, idle (volume only), minimal"
    );
    let by = |dep: &str| {
        details
            .iter()
            .find(|d| d["deployment_id"] == dep)
            .unwrap_or_else(|| panic!("no detail for {dep}"))
    };
    let t = by(&thumbs);
    // Q1 counted: e3 (0), e5 (1), e1 (1). e2 is Q2, e4 FY2025, e6-e8 excluded by status.
    let want = [
        ("fiscal_year", "2026"),
        ("quarter", "1"),
        ("survey_type", "thumbs_up_down"),
        ("omb_control_number", "3090-0321"),
        ("volume_of_customers", "1000"),
        ("volume_of_customers_provided_survey_opportunity", "2"),
        ("volume_of_respondents", "3"),
        ("trust_positive", "2"),
        ("trust_negative", "1"),
        ("trust_neutral", "0"),
        ("trust_score", "66.7"),
        ("trust_score_ci_low", "20.8"),
        ("trust_score_ci_high", "93.9"),
    ];
    for (k, v) in want {
        assert_eq!(t[k], v, "thumbs {k}");
    }
    assert!(
        t["trust_question_text"].contains("Passport renewal")
            && t["trust_question_text"].contains("Agency A")
    );
    let l = by(&likert);
    for (k, v) in [
        ("survey_type", "likert_scale"),
        ("volume_of_customers", ""),
        ("volume_of_customers_provided_survey_opportunity", "10"),
        ("volume_of_respondents", "4"),
        ("trust_positive", "2"),
        ("trust_negative", "1"),
        ("trust_neutral", "1"),
        ("trust_score", "50.0"),
        ("trust_score_ci_low", "15.0"),
        ("trust_score_ci_high", "85.0"),
    ] {
        assert_eq!(l[k], v, "likert {k}");
    }
    let i = by(&idle);
    for (k, v) in [
        ("volume_of_customers", "500"),
        ("volume_of_respondents", "0"),
        ("trust_score", ""),
        ("trust_score_ci_low", ""),
    ] {
        assert_eq!(i[k], v, "idle {k}");
    }

    // The upload file: exact header, counted rows only, in submission order, 1/0/null cells.
    let text = std::fs::read_to_string(out.join(format!("responses/{thumbs}.csv"))).unwrap();
    assert_eq!(text, format!("{UPLOAD}\ne3,0,0,0,0,0,0,0,0,0,0,1,0,0,0,0,\ne5,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,\ne1,1,0,1,0,0,0,0,0,0,0,0,0,0,0,0,\n"));
    let text = std::fs::read_to_string(out.join(format!("responses/{minimal}.csv"))).unwrap();
    assert_eq!(
        text,
        format!("{UPLOAD}\nm1,1,0,1,null,null,null,null,null,0,0,null,null,null,null,null,\n")
    );
    let text = std::fs::read_to_string(out.join(format!("responses/{idle}.csv"))).unwrap();
    assert_eq!(text, format!("{UPLOAD}\n"));

    let (header, cols) = csv_rows(&out.join("cx_collections.csv"));
    assert_eq!(header.join(","), "fiscal_year,quarter,hisp,hisp_name,service,service_name,volume_of_respondents,trust_positive,trust_responses,trust_score");
    let svc = service_of(&app, &thumbs).await;
    let c = cols.iter().find(|c| c["service"] == svc).unwrap();
    assert_eq!(
        (
            c["volume_of_respondents"].as_str(),
            c["trust_positive"].as_str(),
            c["trust_score"].as_str()
        ),
        ("3", "2", "66.7")
    );

    // Opportunity below respondents is flagged, in the JSON and the page.
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        report["flags"].as_array().unwrap().len(),
        2,
        "thumbs (2 < 3) and minimal (0 < 1): {}",
        report["flags"]
    );
    assert_eq!(report["flags"][0]["kind"], "opportunity_below_respondents");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("Needs attention") && html.contains("<svg") && html.contains("3090-0321")
    );
    assert!(
        !html.contains("http://") && !html.contains("src=") && !html.contains("<link"),
        "self-contained"
    );
    let d = report["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["deployment_id"] == thumbs.as_str())
        .unwrap();
    assert_eq!(d["went_poorly"]["efficiency"], 1);
    assert_eq!(d["went_well"]["ease"], 1);

    // Same data, same bytes.
    let again = dir.path().join("again");
    run_report(&app, 2026, 1, &[], &again);
    for f in [
        "cx_collections.csv",
        "cx_collection_details.csv",
        "report.json",
        "report.html",
        &format!("responses/{thumbs}.csv"),
    ] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f} differs between runs"
        );
    }

    // Q2 holds e2 only (and the likert impressions of February); FY2024 Q2 the leap day and March 31.
    let q2 = dir.path().join("q2");
    run_report(&app, 2026, 2, &[], &q2);
    let (_, d2) = csv_rows(&q2.join("cx_collection_details.csv"));
    let t2 = d2.iter().find(|d| d["deployment_id"] == thumbs).unwrap();
    assert_eq!(
        (
            t2["volume_of_respondents"].as_str(),
            t2["trust_score"].as_str()
        ),
        ("1", "100.0")
    );
    let l2 = d2.iter().find(|d| d["deployment_id"] == likert).unwrap();
    assert_eq!(
        (
            l2["volume_of_respondents"].as_str(),
            l2["volume_of_customers_provided_survey_opportunity"].as_str()
        ),
        ("0", "7")
    );
    let leap = dir.path().join("leap");
    run_report(&app, 2024, 2, &[], &leap);
    let (_, dl) = csv_rows(&leap.join("cx_collection_details.csv"));
    assert_eq!(dl.len(), 1);
    assert_eq!(
        (
            dl[0]["volume_of_respondents"].as_str(),
            dl[0]["trust_positive"].as_str(),
            dl[0]["trust_negative"].as_str()
        ),
        ("2", "1", "1")
    );
    let fy25 = dir.path().join("fy25");
    run_report(&app, 2025, 4, &[], &fy25);
    let (_, d4) = csv_rows(&fy25.join("cx_collection_details.csv"));
    assert_eq!(d4.len(), 1);
    assert_eq!(d4[0]["trust_negative"], "1");

    // An empty quarter: headers only.
    let empty = dir.path().join("empty");
    run_report(&app, 2020, 1, &[], &empty);
    assert_eq!(
        std::fs::read_to_string(empty.join("cx_collections.csv"))
            .unwrap()
            .lines()
            .count(),
        1
    );
    assert_eq!(
        std::fs::read_to_string(empty.join("cx_collection_details.csv"))
            .unwrap()
            .lines()
            .count(),
        1
    );
    assert_eq!(
        std::fs::read_dir(empty.join("responses")).unwrap().count(),
        0
    );

    // --hisp narrows to one HISP.
    let hisp = cols.iter().find(|c| c["service"] == svc).unwrap()["hisp"].clone();
    let one = dir.path().join("one");
    run_report(&app, 2026, 1, &["--hisp", &hisp], &one);
    let (_, d1) = csv_rows(&one.join("cx_collection_details.csv"));
    assert_eq!(d1.len(), 1);
    assert_eq!(d1[0]["deployment_id"], thumbs);
}

async fn v1_scale_counts_and_api_scope(b: Backend) {
    let app = spawn_app(b).await;
    let v1 = app.deployment("a11-v1").await;
    for answers in [
        json!({"trust": 4, "satisfaction": 5, "ease": 2}),
        json!({"trust": 4, "satisfaction": 5}),
        json!({"trust": 1, "ease": 2, "employee": 3}),
    ] {
        assert_eq!(app.answer(&v1, answers).await.status(), 201);
    }
    let fq = current_quarter();
    let dir = tempfile::tempdir().unwrap();
    run_report(&app, fq.year, fq.quarter, &[], dir.path());
    let (header, rows) = csv_rows(&dir.path().join(format!("v1/{v1}.csv")));
    assert_eq!(header.join(","), "standardized_question_number,standardized_question_identifier,customized_question_text,likert_scale_1,likert_scale_2,likert_scale_3,likert_scale_4,likert_scale_5,response_volume,notes,start_date,end_date");
    let scale = |key: &str| {
        let r = rows
            .iter()
            .find(|r| r["standardized_question_identifier"] == key)
            .unwrap();
        (1..=5)
            .map(|i| r[&format!("likert_scale_{i}")].clone())
            .chain([r["response_volume"].clone()])
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[0]["standardized_question_number"], "1");
    assert_eq!(scale("satisfaction"), "0 0 0 0 2 2");
    assert_eq!(scale("trust"), "1 0 0 2 0 3");
    assert_eq!(scale("ease"), "0 2 0 0 0 2");
    assert_eq!(scale("employee"), "0 0 1 0 0 1");
    assert_eq!(scale("efficiency"), "0 0 0 0 0 0");
    assert_eq!(rows[0]["start_date"], fq.first_day().to_string());

    // The API gives the same report, scoped to the caller's agency.
    let api: Value = app
        .as_agency(&app.key)
        .get(&format!(
            "/api/v1/admin/reports/quarterly?fiscal_year={}&quarter={}",
            fq.year, fq.quarter
        ))
        .await
        .json()
        .await
        .unwrap();
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(api, file);
    let other = app.new_key("agency-b");
    let b_view: Value = app
        .as_agency(&other)
        .get(&format!(
            "/api/v1/admin/reports/quarterly?fiscal_year={}&quarter={}",
            fq.year, fq.quarter
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b_view["details"], json!([]));
    assert_eq!(b_view["collections"], json!([]));
    for (q, field) in [
        ("quarter=1", "fiscal_year"),
        ("fiscal_year=2026", "quarter"),
        ("fiscal_year=2026&quarter=9", "quarter"),
    ] {
        let r = app
            .as_agency(&app.key)
            .get(&format!("/api/v1/admin/reports/quarterly?{q}"))
            .await;
        assert_eq!(r.status(), 422, "{q}");
        assert_eq!(fields(&problem(r).await), vec![field], "{q}");
    }
}

on_both!(large_quarter_is_split_and_merged_exactly);

/// Past 20,000 responses the response files are written in two time slices and merged: every
/// counted response appears once, in (submitted_at, id) order, under one header.
async fn large_quarter_is_split_and_merged_exactly(b: Backend) {
    let app = spawn_app(b).await;
    let seed = Command::new(env!("CARGO_BIN_EXE_cx-survey"))
        .args([
            "dev",
            "seed",
            "--responses",
            "24000",
            "--deployments",
            "4",
            "--fiscal-year",
            "2026",
            "--quarter",
            "3",
        ])
        .env("DATABASE_URL", &app.database_url)
        .env("CX_SURVEY_DEFS", &app.defs_dir)
        .output()
        .unwrap();
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    run_report(&app, 2026, 3, &[], &dir.path().join("a"));
    run_report(&app, 2026, 3, &[], &dir.path().join("b"));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("a/report.json")).unwrap())
            .unwrap();
    let key = app.new_key("seed");
    let mut total = 0;
    for d in report["details"].as_array().unwrap() {
        let dep = d["deployment_id"].as_str().unwrap();
        let file = format!("responses/{dep}.csv");
        let text = std::fs::read_to_string(dir.path().join("a").join(&file)).unwrap();
        assert_eq!(
            text,
            std::fs::read_to_string(dir.path().join("b").join(&file)).unwrap(),
            "same bytes twice"
        );
        assert!(!dir.path().join("a").join(format!("{file}.part")).exists());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], UPLOAD);
        assert_eq!(lines.iter().filter(|l| **l == UPLOAD).count(), 1);
        let ids: Vec<&str> = lines[1..]
            .iter()
            .map(|l| l.split(',').next().unwrap())
            .collect();
        assert_eq!(
            ids.len() as i64,
            d["volume_of_respondents"].as_i64().unwrap()
        );
        total += ids.len();
        let export: Value = app
            .as_agency(&key)
            .get(&format!(
                "/api/v1/admin/responses?deployment={dep}&status=counted&format=json"
            ))
            .await
            .json()
            .await
            .unwrap();
        let want: Vec<&str> = export["responses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, want, "{dep}: rows in submission order, each once");
    }
    assert!(total > 20_000, "{total}");
}

/// A PostgreSQL hot standby is read-only: the report runs there (nothing migrated or recorded),
/// while commands that write refuse with a message naming the cause. PostgreSQL only: SQLite
/// has no replicas. A database defaulting to read-only transactions stands in for the standby
/// (the same check covers `pg_is_in_recovery()`); docs/scaling.md records a real standby run.
#[actix_web::test]
async fn report_runs_on_a_read_only_standby() {
    let app = spawn_app(Backend::Postgres).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let r = app.answer(&dep, json!({"trust": 1})).await;
    assert_eq!(r.status(), 201);
    let name = app.database_name();
    let set_read_only = |on: bool| {
        use diesel::connection::SimpleConnection;
        pg_admin()
            .batch_execute(&format!(
                "ALTER DATABASE {name} SET default_transaction_read_only = {}",
                if on { "on" } else { "off" }
            ))
            .unwrap();
    };
    set_read_only(true);
    let fq = current_quarter();
    let out_dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cx-survey"))
            .args(args)
            .env("DATABASE_URL", &app.database_url)
            .env("CX_SURVEY_DEFS", &app.defs_dir)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let (fy, q) = (fq.year.to_string(), fq.quarter.to_string());
    let out = run(&[
        "report",
        "--fiscal-year",
        &fy,
        "--quarter",
        &q,
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    let details =
        std::fs::read_to_string(out_dir.path().join("cx_collection_details.csv")).unwrap();
    assert_eq!(details.lines().count(), 2, "{details}");
    assert!(details.contains(&dep));
    // Writing commands name the cause instead of failing on the first INSERT.
    for args in [
        &["keys", "create", "--agency", "x"][..],
        &["serve", "--bind", "127.0.0.1:0"][..],
    ] {
        let out = run(args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains("read-only"), "{args:?}: {stderr}");
    }
    set_read_only(false);
}

on_both!(
    opportunities_never_below_respondents,
    invited_deployment_without_responses_is_reported,
    stored_responses_are_read_with_their_own_definition,
);

fn detail<'a>(r: &'a Value, dep: &str) -> &'a Value {
    r["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["deployment_id"] == dep)
        .unwrap_or_else(|| panic!("no detail row for {dep}: {r}"))
}

async fn report_json(app: &TestApp, fq: cx_survey::fiscal::FiscalQuarter) -> Value {
    let path = format!(
        "/api/v1/admin/reports/quarterly?fiscal_year={}&quarter={}",
        fq.year, fq.quarter
    );
    let r = app.as_agency(&app.key).get(&path).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn new_deployment(app: &TestApp, service: &str, channel: &str) -> String {
    let r = app
        .as_agency(&app.key)
        .post(
            "/api/v1/admin/deployments",
            json!({"instrument": "a11-v2-thumbs", "service": service, "channel": channel,
                        "transaction_point": "After the call"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn opportunities_never_below_respondents(b: Backend) {
    let app = spawn_app(b).await;
    let fq = current_quarter();
    let web = app.deployment("a11-v2-thumbs").await;
    let service = service_of(&app, &web).await;
    // A hosted page showing an open form is an opportunity; its thank-you page and a closed
    // deployment's 410 are not.
    for _ in 0..2 {
        assert_eq!(app.get(&format!("/s/{web}")).await.status(), 200);
    }
    assert_eq!(app.get(&format!("/s/{web}/thanks")).await.status(), 200);
    let closed = app.deployment("a11-v2-thumbs").await;
    app.as_agency(&app.key)
        .patch(
            &format!("/api/v1/admin/deployments/{closed}"),
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(app.get(&format!("/s/{closed}")).await.status(), 410);
    assert_eq!(app.count("impressions"), 2);
    // Five answers on two showings: no rate above 100 %, a warning instead.
    for _ in 0..5 {
        let r = app.answer(&web, json!({"trust": 1})).await;
        assert_eq!(r.status(), 201);
    }
    let r = report_json(&app, fq).await;
    let d = detail(&r, &web);
    assert_eq!(d["volume_of_customers_provided_survey_opportunity"], 2);
    assert_eq!(d["volume_of_respondents"], 5);
    assert!(
        d["warning"].as_str().unwrap().contains("5 respondents"),
        "{d}"
    );
    // Phone answers entered by import; the agency enters the phone opportunities itself.
    let phone = new_deployment(&app, &service, "phone").await;
    let at = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    import_rows(
        &app,
        &phone,
        &[row("p1", 1, &[], &[], &at), row("p2", 0, &[], &[], &at)],
    )
    .await;
    let r = report_json(&app, fq).await;
    assert!(detail(&r, &phone)["warning"].is_string());
    let volume = format!(
        "/api/v1/admin/services/{service}/volumes/{}/{}",
        fq.year, fq.quarter
    );
    let bad = app
        .as_agency(&app.key)
        .put(
            &volume,
            json!({"channel": "phone", "volume_of_customers": 100, "survey_opportunities": -1}),
        )
        .await;
    assert_eq!(bad.status(), 422);
    let ok = app
        .as_agency(&app.key)
        .put(
            &volume,
            json!({"channel": "phone", "volume_of_customers": 100, "survey_opportunities": 40}),
        )
        .await;
    assert_eq!(ok.status(), 200);
    let r = report_json(&app, fq).await;
    let d = detail(&r, &phone);
    assert_eq!(
        d["volume_of_customers_provided_survey_opportunity"], 40,
        "{d}"
    );
    assert_eq!(d["survey_opportunities_entered"], 40);
    assert!(d["warning"].is_null(), "{d}");
    // The HTML never prints a rate above 100 %.
    let out = tempfile::tempdir().unwrap();
    run_report(&app, fq.year, fq.quarter, &[], out.path());
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(!html.contains("250.0%"), "rate above 100 % printed");
    assert!(html.contains("not shown: more respondents than survey opportunities"));
    assert!(html.contains("5.0%"), "the phone row's 2 of 40");
}

async fn invited_deployment_without_responses_is_reported(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let r = app
        .as_agency(&app.key)
        .post(&format!("/api/v1/admin/deployments/{dep}/invitations"), json!([{"email": "a@example.gov", "transaction_id": "1"}, {"email": "b@example.gov", "transaction_id": "2"}]))
        .await;
    assert_eq!(r.status(), 202);
    {
        use diesel::prelude::*;
        let mut c = app.pool.get().unwrap();
        use cx_survey::db::schema::invitations::dsl as i;
        diesel::update(i::invitations)
            .set((
                i::status.eq("sent"),
                i::email.eq(None::<String>),
                i::sent_at.eq(Some(
                    chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1),
                )),
            ))
            .execute(&mut *c)
            .unwrap();
    }
    let r = report_json(&app, current_quarter()).await;
    let d = detail(&r, &dep);
    assert_eq!(d["volume_of_respondents"], 0);
    assert_eq!(d["invitations_delivered"], 2);
    assert_eq!(d["volume_of_customers_provided_survey_opportunity"], 2);
    assert!(d["warning"].is_null());
}

/// Every file of a report directory, by relative path.
fn report_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

async fn stored_responses_are_read_with_their_own_definition(b: Backend) {
    let (file, v1) = variant("a11-v2-thumbs.json", "bumped", |_| {});
    let mut app = spawn_with(
        b,
        Options {
            extra_defs: vec![(file.clone(), v1)],
            ..Default::default()
        },
    )
    .await;
    let dep = app.deployment("bumped").await;
    import_rows(
        &app,
        &dep,
        &[
            row("t1", 1, &["ease", "humanity"], &[], "2025-11-03T12:00:00Z"),
            row("t2", 1, &["effectiveness"], &[], "2025-11-04T12:00:00Z"),
            row(
                "t3",
                0,
                &[],
                &["efficiency", "other"],
                "2025-11-05T12:00:00Z",
            ),
        ],
    )
    .await;
    let export = |app: &TestApp| {
        let app_url = app.url(&format!(
            "/api/v1/admin/responses?deployment={dep}&format=csv"
        ));
        let client = app.client.clone();
        let key = app.key.clone();
        async move {
            client
                .get(app_url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let before_dir = tempfile::tempdir().unwrap();
    run_report(&app, 2026, 1, &[], before_dir.path());
    let before = report_files(before_dir.path());
    let before_export = export(&app).await;
    let r = report_json(
        &app,
        cx_survey::fiscal::FiscalQuarter::new(2026, 1).unwrap(),
    )
    .await;
    assert_eq!(detail(&r, &dep)["trust_positive"], 2);
    // Version 2 in place of version 1: a 5-point scale and fewer drivers.
    let (_, v2) = variant("a11-v2-likert.json", "bumped", |v| {
        v["version"] = json!(2);
        for q in v["questions"].as_array_mut().unwrap() {
            if let Some(opts) = q["options"].as_array_mut() {
                opts.retain(|o| o["key"] == "effectiveness" || o["key"] == "ease");
            }
        }
    });
    std::fs::write(app.defs_dir.join(&file), v2.to_string()).unwrap();
    app.restart().await.expect("restart with version 2");
    let after_dir = tempfile::tempdir().unwrap();
    run_report(&app, 2026, 1, &[], after_dir.path());
    assert_eq!(
        report_files(after_dir.path()),
        before,
        "files changed with version 2"
    );
    assert_eq!(export(&app).await, before_export);
    // The file removed altogether: the deployment is still reported, the same bytes.
    std::fs::remove_file(app.defs_dir.join(&file)).unwrap();
    let gone_dir = tempfile::tempdir().unwrap();
    run_report(&app, 2026, 1, &[], gone_dir.path());
    assert_eq!(
        report_files(gone_dir.path()),
        before,
        "files changed without the file"
    );
}
