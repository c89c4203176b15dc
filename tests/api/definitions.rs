//! Survey definitions: `defs check`, start-up validation, version pinning, registry files, and
//! the `keys create` command.

use std::process::Command;

use cx_survey::startup::Application;
use serde_json::json;

use crate::helpers::*;
use crate::on_both;

fn cx() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cx-survey"))
}

/// `defs check DIR` on a directory with problems: exit 1, nothing on stdout, the problems (on
/// stderr) returned.
fn defs_check_problems(dir: &std::path::Path) -> String {
    let out = cx().args(["defs", "check"]).arg(dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    // Problems are errors: stderr, nothing on stdout.
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn defs_check_accepts_the_shipped_definitions() {
    let out = cx()
        .args(["defs", "check"])
        .arg(shipped_defs())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 instruments"));
}

#[test]
fn defs_check_lists_every_problem_with_file_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let (name, bad) = variant("a11-v2-thumbs.json", "broken", |v| {
        v["pra"]["omb_control_number"] = json!("12-34");
        v["questions"][1]["options"][0]["key"] = json!("speed");
    });
    write_defs(
        dir.path(),
        &[(name, bad), ("junk.json".into(), json!({"kind": "survey"}))],
    );
    std::fs::write(
        dir.path().join("trailing.json"),
        "{\"kind\": \"instrument\",",
    )
    .unwrap();
    let text = defs_check_problems(dir.path());
    for want in [
        "broken.json: $.pra.omb_control_number: ",
        "broken.json: $.questions[1].options[0].key: ",
        "junk.json: $.kind: ",
        "trailing.json: $: not valid JSON",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

/// References resolve inside the file and one agency: a slug two agencies declare is ambiguous,
/// and a reference to another file's HISP is refused.
#[test]
fn defs_check_refuses_registry_references_across_agencies() {
    let dir = tempfile::tempdir().unwrap();
    let reg = json!({
        "kind": "registry",
        "agencies": [{"slug": "gsa", "name": "GSA"}, {"slug": "ssa", "name": "SSA"}],
        "hisps": [{"slug": "usagov", "name": "USAGov", "agency": "gsa"},
                  {"slug": "ssa-hisp", "name": "SSA", "agency": "ssa"}],
        "services": [
            {"slug": "calls", "name": "GSA calls", "hisp": "usagov", "channels": ["phone"]},
            {"slug": "calls", "name": "SSA calls", "hisp": "ssa-hisp", "channels": ["phone"]}
        ],
        "deployments": [{"id": "3f6b2a1e-8c4d-4b7a-9e21-5d0c7f1a2b34", "instrument": "a11-v2-thumbs",
                         "service": "calls", "channel": "phone", "transaction_point": "After the call"}]
    });
    let other = json!({
        "kind": "registry",
        "services": [{"slug": "web", "name": "Web", "hisp": "usagov", "channels": ["website"]}]
    });
    write_defs(
        dir.path(),
        &[("reg.json".into(), reg), ("other.json".into(), other)],
    );
    let text = defs_check_problems(dir.path());
    for want in [
        "reg.json: $.deployments[0].service: service \"calls\" is declared more than once in this file",
        "other.json: $.services[0].hisp: no HISP \"usagov\" is declared in this file",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}

#[test]
fn defs_check_warns_about_expiring_clearances_but_passes() {
    let dir = tempfile::tempdir().unwrap();
    let soon = (chrono::Utc::now() + chrono::Duration::days(20))
        .date_naive()
        .to_string();
    let past = (chrono::Utc::now() - chrono::Duration::days(20))
        .date_naive()
        .to_string();
    write_defs(
        dir.path(),
        &[
            variant("a11-v2-thumbs.json", "soon", |v| {
                v["pra"]["expiration_date"] = json!(soon)
            }),
            variant("a11-v2-thumbs.json", "past", |v| {
                v["pra"]["expiration_date"] = json!(past)
            }),
        ],
    );
    let out = cx()
        .args(["defs", "check"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("soon: PRA clearance 3090-0321 expires on"),
        "{err}"
    );
    assert!(
        err.contains("past: PRA clearance 3090-0321 expired on"),
        "{err}"
    );
}

#[test]
fn keys_create_prints_a_key_and_stores_only_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("k.db").display());
    let out = cx()
        .args([
            "keys",
            "create",
            "--agency",
            "ssa",
            "--name",
            "Social Security Administration",
        ])
        .env("DATABASE_URL", &db)
        .env("CX_SURVEY_DEFS", shipped_defs())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .to_string();
    assert!(key.starts_with("cxs_") && key.len() == 68, "{key}");
    let raw = std::fs::read(dir.path().join("k.db")).unwrap();
    assert!(!raw.windows(key.len()).any(|w| w == key.as_bytes()));
    let bad = cx()
        .args(["keys", "create", "--agency", "Bad Slug"])
        .env("DATABASE_URL", &db)
        .env("CX_SURVEY_DEFS", shipped_defs())
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

on_both!(
    broken_definitions_stop_startup,
    changed_content_needs_a_new_version,
    registry_files_create_deployments
);

async fn broken_definitions_stop_startup(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let defs = dir.path().join("defs");
    write_defs(
        &defs,
        &[variant("a11-v2-thumbs.json", "broken", |v| {
            v["pra"]["burden_minutes"] = json!(9)
        })],
    );
    let db = fresh_database(b, dir.path());
    let err = Application::build(settings_for(&db, &defs, 0))
        .await
        .err()
        .expect("start-up must fail");
    let msg = err.to_string();
    assert!(
        msg.contains("broken.json: $.pra.burden_minutes: must be 1 to 5"),
        "{msg}"
    );
}

async fn changed_content_needs_a_new_version(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let defs = dir.path().join("defs");
    write_defs(&defs, &[]);
    let db = fresh_database(b, dir.path());
    let app = Application::build(settings_for(&db, &defs, 0))
        .await
        .unwrap();
    drop(app);
    // Same version, different words: refused.
    let (name, mut v) = variant("a11-v2-thumbs.json", "a11-v2-thumbs", |v| {
        v["questions"][0]["text"]["en"] = json!("Do you trust {agency}?")
    });
    std::fs::write(defs.join(&name), v.to_string()).unwrap();
    let err = Application::build(settings_for(&db, &defs, 0))
        .await
        .err()
        .expect("must refuse");
    assert!(
        err.to_string()
            .contains("a11-v2-thumbs version 1: content differs"),
        "{err}"
    );
    // A new version is accepted, and both stay on record.
    v["version"] = json!(2);
    std::fs::write(defs.join(&name), v.to_string()).unwrap();
    let (name1, v1) = variant("a11-v2-thumbs.json", "a11-v2-thumbs", |_| {});
    std::fs::write(defs.join("a11-v2-thumbs-v1.json"), v1.to_string()).unwrap();
    let _ = name1;
    let app = Application::build(settings_for(&db, &defs, 0))
        .await
        .unwrap();
    drop(app);
    let (pool, _) = cx_survey::db::connect_pool(&db, 2, 1).unwrap();
    use diesel::prelude::*;
    let mut c = pool.get().unwrap();
    let versions: Vec<i32> = cx_survey::db::schema::instruments::table
        .filter(cx_survey::db::schema::instruments::id.eq("a11-v2-thumbs"))
        .select(cx_survey::db::schema::instruments::version)
        .order(cx_survey::db::schema::instruments::version)
        .load(&mut *c)
        .unwrap();
    assert_eq!(versions, vec![1, 2]);
}

async fn registry_files_create_deployments(b: Backend) {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/registry.json"),
    )
    .unwrap();
    let reg: serde_json::Value = serde_json::from_str(&text).unwrap();
    let dep = reg["deployments"][0]["id"].as_str().unwrap().to_string();
    let app = spawn_with(
        b,
        Options {
            extra_defs: vec![("registry.json".into(), reg)],
            ..Default::default()
        },
    )
    .await;
    let r = app.get(&format!("/api/v1/deployments/{dep}")).await;
    assert_eq!(r.status(), 200);
    let r = app.answer(&dep, json!({"trust": 1})).await;
    assert_eq!(r.status(), 201);
    // The agency's own key sees the registry's objects.
    let key = app.new_key("gsa");
    let v: serde_json::Value = app
        .as_agency(&key)
        .get("/api/v1/admin/deployments")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["deployments"].as_array().unwrap().len(), 3);
}
