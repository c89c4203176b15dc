//! Registry files against the rows of other agencies and against admin edits: every reference
//! resolves inside the agency the file declares it under, a collision is a start-up error that
//! names the file and path, and a registry-managed deployment refuses a PATCH the next start
//! would undo.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, Backend, TestApp};
use crate::on_both;

on_both!(
    registry_resolves_inside_its_own_agency,
    registry_colliding_with_another_agency_stops_startup,
    registry_deployments_refuse_patch_and_edits_survive_restart,
);

fn example_registry() -> Value {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/registry.json"),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

async fn deployments_of(app: &TestApp, key: &str) -> Vec<Value> {
    let v: Value = app
        .as_agency(key)
        .get("/api/v1/admin/deployments")
        .await
        .json()
        .await
        .unwrap();
    v["deployments"].as_array().unwrap().clone()
}

/// SSA creates HISP `usagov` and service `contact-center` — the slugs GSA's registry uses.
async fn ssa_with_gsa_slugs(app: &TestApp) -> String {
    let ssa = app.new_key("ssa");
    let r = app
        .as_agency(&ssa)
        .post(
            "/api/v1/admin/hisps",
            json!({"slug": "usagov", "name": "SSA's own"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .as_agency(&ssa)
        .post("/api/v1/admin/services", json!({"slug": "contact-center", "name": "SSA calls", "hisp": "usagov", "channels": ["phone", "live_chat", "email"]}))
        .await;
    assert_eq!(r.status(), 201);
    ssa
}

fn write_registry(app: &TestApp, name: &str, reg: &Value) {
    std::fs::write(app.defs_dir.join(name), reg.to_string()).unwrap();
}

async fn registry_resolves_inside_its_own_agency(b: Backend) {
    let mut app = spawn_app(b).await;
    let ssa = ssa_with_gsa_slugs(&app).await;
    write_registry(&app, "registry.json", &example_registry());
    app.restart().await.expect("restart with the registry");
    // Restart twice: the update path must not move anything either.
    app.restart().await.expect("second restart");
    assert!(
        deployments_of(&app, &ssa).await.is_empty(),
        "SSA sees GSA's deployments"
    );
    let gsa = app.new_key("gsa");
    let mine = deployments_of(&app, &gsa).await;
    assert_eq!(mine.len(), 3);
    assert!(
        mine.iter().all(|d| d["managed_by"] == "registry.json"),
        "{mine:?}"
    );
    // SSA's service is still SSA's, under SSA's HISP.
    let v: Value = app
        .as_agency(&ssa)
        .get("/api/v1/admin/services")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["services"][0]["name"], "SSA calls", "{v}");
    assert_eq!(v["services"][0]["hisp"], "usagov");
    assert_eq!(app.count("services"), 3, "GSA got services of its own");
}

async fn registry_colliding_with_another_agency_stops_startup(b: Backend) {
    let mut app = spawn_app(b).await;
    let ssa = ssa_with_gsa_slugs(&app).await;
    let r = app
        .as_agency(&ssa)
        .post(
            "/api/v1/admin/deployments",
            json!({"instrument": "a11-v2-thumbs", "service": "contact-center", "channel": "phone",
                        "transaction_point": "After the call"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let ssa_dep = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // GSA's file declares SSA's deployment id under GSA's service.
    let mut reg = example_registry();
    reg["deployments"][1]["id"] = json!(ssa_dep);
    write_registry(&app, "gsa.json", &reg);
    let err = app
        .restart()
        .await
        .expect_err("start-up must refuse")
        .to_string();
    assert!(
        err.contains("gsa.json: $.deployments[1].id:") && err.contains("another agency"),
        "{err}"
    );
    // `defs check --database` says the same and writes nothing.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cx-survey"))
        .args(["defs", "check", "--database"])
        .arg(&app.defs_dir)
        .env("DATABASE_URL", &app.database_url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains("gsa.json: $.deployments[1].id:"),
        "{stderr}"
    );
    // Nothing of the refused file was applied: SSA's deployment is untouched, GSA has nothing.
    let mut c = app.pool.get().unwrap();
    use cx_survey::db::schema::{agencies, deployments};
    use diesel::prelude::*;
    let owner: String = deployments::table
        .inner_join(agencies::table.on(agencies::id.eq(deployments::agency_id)))
        .filter(deployments::id.eq(&ssa_dep))
        .select(agencies::slug)
        .first(&mut *c)
        .unwrap();
    assert_eq!(owner, "ssa");
    assert_eq!(app.count("deployments"), 1);
    assert_eq!(app.count("services"), 1);
}

async fn registry_deployments_refuse_patch_and_edits_survive_restart(b: Backend) {
    let mut app = spawn_app(b).await;
    let reg = example_registry();
    let managed = reg["deployments"][0]["id"].as_str().unwrap().to_string();
    write_registry(&app, "registry.json", &reg);
    app.restart().await.unwrap();
    let gsa = app.new_key("gsa");
    let path = format!("/api/v1/admin/deployments/{managed}");
    let r = app
        .as_agency(&gsa)
        .patch(&path, json!({"status": "closed"}))
        .await;
    assert_eq!(r.status(), 409);
    let p: Value = r.json().await.unwrap();
    assert!(
        p["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("registry.json"),
        "{p}"
    );
    // An API-made deployment's PATCH holds across a restart.
    let own = app.deployment_for(&gsa, "a11-v2-thumbs", &[]).await;
    let own_path = format!("/api/v1/admin/deployments/{own}");
    let body =
        json!({"status": "closed", "allowed_origins": ["https://gsa.gov"], "access": "invitation"});
    let r = app.as_agency(&gsa).patch(&own_path, body).await;
    assert_eq!(r.status(), 200);
    app.restart().await.unwrap();
    let after: Value = app
        .as_agency(&gsa)
        .get(&own_path)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["status"], "closed");
    assert_eq!(after["access"], "invitation");
    assert_eq!(after["allowed_origins"], json!(["https://gsa.gov"]));
    let still: Value = app.as_agency(&gsa).get(&path).await.json().await.unwrap();
    assert_eq!(still["status"], "open");
    // A deployment dropped from the file becomes the API's to change.
    let mut fewer = reg.clone();
    fewer["deployments"].as_array_mut().unwrap().remove(0);
    write_registry(&app, "registry.json", &fewer);
    app.restart().await.unwrap();
    let r = app
        .as_agency(&gsa)
        .patch(&path, json!({"status": "closed"}))
        .await;
    assert_eq!(r.status(), 200);
}
