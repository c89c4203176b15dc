//! Who may answer, and what one agency learns of another's invitations: opt-outs and the
//! frequency cap are per agency; an `invitation` deployment answers only through its links, and
//! the thank-you page after a link answer reveals nothing reusable.

use diesel::prelude::*;
use serde_json::{json, Value};

use crate::helpers::{no_redirects, spawn_app, sub_id, Backend, TestApp};
use crate::on_both;

on_both!(
    opt_outs_and_the_cap_stay_inside_the_agency,
    invitation_deployments_answer_only_through_links,
);

async fn invite(app: &TestApp, key: &str, dep: &str, email: &str, tx: &str) -> Value {
    let r = app
        .as_agency(key)
        .post(
            &format!("/api/v1/admin/deployments/{dep}/invitations"),
            json!([{"email": email, "transaction_id": tx}]),
        )
        .await;
    assert_eq!(r.status(), 202);
    r.json().await.unwrap()
}

/// Marks the invitation of `tx` delivered (as the outbox does) and returns its link token.
fn delivered_token(app: &TestApp, tx: &str) -> String {
    use cx_survey::db::schema::invitations::dsl as i;
    let mut c = app.pool.get().unwrap();
    let now = chrono::Utc::now().naive_utc();
    diesel::update(i::invitations.filter(i::transaction_id.eq(tx)))
        .set((
            i::status.eq("sent"),
            i::email.eq(None::<String>),
            i::sent_at.eq(Some(now)),
            i::expires_at.eq(Some(now + chrono::Duration::days(30))),
        ))
        .execute(&mut *c)
        .unwrap();
    let nonce: String = i::invitations
        .filter(i::transaction_id.eq(tx))
        .select(i::token_nonce)
        .first(&mut *c)
        .unwrap();
    use secrecy::ExposeSecret;
    let secret = app.settings.secret.as_ref().unwrap().expose_secret();
    cx_survey::email::queue::token(secret, &nonce)
}

async fn opt_outs_and_the_cap_stay_inside_the_agency(b: Backend) {
    let app = spawn_app(b).await;
    let (a, b_key) = (app.key.clone(), app.new_key("agency-b"));
    let dep_a = app.deployment_for(&a, "a11-v2-thumbs", &[]).await;
    let dep_b = app.deployment_for(&b_key, "a11-v2-thumbs", &[]).await;
    // A invites Pat, and Pat opts out of A's surveys; the page says whose.
    invite(&app, &a, &dep_a, "pat@example.gov", "a-1").await;
    let token = delivered_token(&app, "a-1");
    let page = app.get(&format!("/u/{token}")).await.text().await.unwrap();
    assert!(page.contains("Agency A will not send"), "{page}");
    let r = app
        .client
        .post(app.url(&format!("/u/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // B invites Pat within the cap and after A's opt-out: queued, and nothing of A's rows shows.
    let s = invite(&app, &b_key, &dep_b, "PAT@example.gov", "b-1").await;
    assert_eq!(s["queued"], 1, "{s}");
    assert_eq!(s["skipped"], json!([]), "{s}");
    // B inviting Chris first does not suppress A's invitation of Chris.
    invite(&app, &b_key, &dep_b, "chris@example.gov", "b-2").await;
    let s = invite(&app, &a, &dep_a, "chris@example.gov", "a-2").await;
    assert_eq!(s["queued"], 1, "{s}");
    // Inside one agency both rules still hold.
    let s = invite(&app, &a, &dep_a, "pat@example.gov", "a-3").await;
    assert!(s["skipped"].to_string().contains("opted out"), "{s}");
    let s = invite(&app, &b_key, &dep_b, "chris@example.gov", "b-3").await;
    assert!(
        s["skipped"]
            .to_string()
            .contains("invited in the last 30 days"),
        "{s}"
    );
}

async fn invitation_deployments_answer_only_through_links(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let r = app
        .as_agency(&app.key)
        .patch(
            &format!("/api/v1/admin/deployments/{dep}"),
            json!({"access": "sometimes"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = app
        .as_agency(&app.key)
        .patch(
            &format!("/api/v1/admin/deployments/{dep}"),
            json!({"access": "invitation"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    // Anonymous answers: the API (with and without Origin), the hosted page and its form.
    let r = app.answer(&dep, json!({"trust": 1})).await;
    assert_eq!(r.status(), 403);
    let p: Value = r.json().await.unwrap();
    assert!(p["detail"].as_str().unwrap().contains("invitation"), "{p}");
    let r = app
        .client
        .post(app.url(&format!("/api/v1/deployments/{dep}/responses")))
        .header("origin", "https://www.example.gov")
        .json(&json!({"submission_id": sub_id(), "answers": {"trust": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(app.impression(&dep).await.status(), 403);
    let r = app.get(&format!("/s/{dep}")).await;
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("invitation"));
    let r = no_redirects()
        .post(app.url(&format!("/s/{dep}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("trust=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(app.responses(), 0);
    assert_eq!(app.count("impressions"), 0);
    // The link answers, and its thank-you page names neither the deployment nor a way back in.
    invite(&app, &app.key, &dep, "pat@example.gov", "t-1").await;
    let token = delivered_token(&app, "t-1");
    let r = no_redirects()
        .post(app.url(&format!("/r/{token}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("trust=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(!location.contains(&dep), "{location}");
    let r = app.get(&location).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        !page.contains(&dep),
        "the thank-you page shows the deployment id"
    );
    assert_eq!(app.responses(), 1);
}

on_both!(
    an_opt_out_stops_invitations_already_queued,
    opting_out_twice_at_once_is_one_opt_out,
);

/// A person who opts out (through an earlier email) gets no invitation that was still waiting
/// in the outbox: it fails as opted out without the relay being asked (here there is none: a
/// closed port, so anything actually sent would end as a temporary failure instead).
async fn an_opt_out_stops_invitations_already_queued(b: Backend) {
    use cx_survey::db::schema::invitations::dsl as i;
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    invite(&app, &app.key.clone(), &dep, "pat@example.gov", "q-1").await;
    invite(&app, &app.key.clone(), &dep, "sam@example.gov", "q-2").await;
    {
        let mut c = app.pool.get().unwrap();
        let (agency, hash): (String, String) = i::invitations
            .filter(i::transaction_id.eq("q-1"))
            .select((i::agency_id, i::email_hash))
            .first(&mut *c)
            .unwrap();
        diesel::sql_query(format!(
            "INSERT INTO opt_outs (agency_id, email_hash, created_at) VALUES ('{agency}', '{hash}', '2026-11-30 12:00:00')"
        ))
        .execute(&mut *c)
        .unwrap();
    }
    let mut settings = app.settings.clone();
    settings.smtp_url = Some(format!("smtp://127.0.0.1:{}", crate::helpers::free_port()).into());
    let defs = std::sync::Arc::new(cx_survey::definitions::load_dir(&app.defs_dir).unwrap());
    let (pool, _) = cx_survey::db::connect_pool(&app.database_url, 2, 0).unwrap();
    let outbox = cx_survey::email::outbox::Outbox::new(pool, defs, settings)
        .unwrap()
        .unwrap();
    outbox.drain_once().await.unwrap();
    let mut c = app.pool.get().unwrap();
    let state = |tx: &str, c: &mut cx_survey::db::AnyConnection| {
        i::invitations
            .filter(i::transaction_id.eq(tx))
            .select((i::status, i::last_error, i::email))
            .first::<(String, Option<String>, Option<String>)>(c)
            .unwrap()
    };
    let (status, why, email) = state("q-1", &mut c);
    assert_eq!(status, "failed");
    assert!(why.unwrap_or_default().contains("opted out"));
    assert_eq!(email, None, "the address is erased");
    let (status, _, _) = state("q-2", &mut c);
    assert_eq!(status, "queued", "the other one waits for the relay");
}

async fn opting_out_twice_at_once_is_one_opt_out(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    invite(&app, &app.key.clone(), &dep, "pat@example.gov", "d-1").await;
    let token = delivered_token(&app, "d-1");
    let url = app.url(&format!("/u/{token}"));
    for _ in 0..5 {
        let (a, b) = futures_util::join!(
            app.client.post(&url).send(),
            app.client
                .post(&url)
                .body("List-Unsubscribe=One-Click")
                .send()
        );
        assert_eq!(a.unwrap().status(), 200);
        assert_eq!(b.unwrap().status(), 200);
        diesel::sql_query("DELETE FROM opt_outs")
            .execute(&mut *app.pool.get().unwrap())
            .unwrap();
    }
}
