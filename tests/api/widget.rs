//! The widget's files, CORS on error answers, and the hosted page `/s/{id}` with JavaScript off
//! (a plain form POST), on both databases. The widget itself runs in a browser: `tests/browser`.

use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION,
    ORIGIN,
};
use serde_json::json;

use crate::helpers::{
    no_redirects, spawn_app, spawn_with, sub_id, variant, Backend, Options, TestApp,
};
use crate::on_both;

on_both!(
    widget_files_have_etag_gzip_and_versioned_urls,
    errors_carry_the_cors_grant_and_expose_retry_after,
    hosted_page_shows_form_pra_and_languages,
    hosted_form_post_stores_once_and_thanks,
    hosted_form_bad_input_rerenders_with_errors_and_stores_nothing,
    hosted_form_keeps_only_the_revealed_driver_list,
    hosted_page_refuses_closed_expired_unknown_and_foreign_posts,
);

const HOST: &str = "https://www.example.gov";

async fn post_form(
    app: &TestApp,
    dep: &str,
    body: &str,
    origin: Option<&str>,
) -> reqwest::Response {
    let mut r = no_redirects()
        .post(app.url(&format!("/s/{dep}")))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.to_string());
    if let Some(o) = origin {
        r = r.header(ORIGIN, o);
    }
    r.send().await.unwrap()
}

async fn widget_files_have_etag_gzip_and_versioned_urls(b: Backend) {
    let app = spawn_app(b).await;
    let r = app
        .client
        .get(app.url("/widget.js"))
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h[CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert_eq!(h[CONTENT_ENCODING], "gzip");
    assert!(h[CACHE_CONTROL].to_str().unwrap().contains("max-age=300"));
    let etag = h[ETAG].to_str().unwrap().to_string();
    let gz = r.bytes().await.unwrap();
    assert!(gz.len() < 12 * 1024, "widget.js is {} B gzipped", gz.len());

    // Revalidation costs a 304 and no body.
    let r = app
        .client
        .get(app.url("/widget.js"))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert_eq!(r.headers()[ETAG].to_str().unwrap(), etag);

    let r = app.client.head(app.url("/widget.js")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[ETAG].to_str().unwrap(), etag);
    assert!(r.bytes().await.unwrap().is_empty());

    // Without gzip the plain text; the stylesheet beside it.
    let r = app.get("/widget.js").await;
    assert_ne!(r.headers()[CONTENT_ENCODING], "gzip");
    assert!(r.text().await.unwrap().contains("window.CxSurvey"));
    let r = app.get("/widget.css").await;
    assert_eq!(r.headers()[CONTENT_TYPE], "text/css; charset=utf-8");

    // The hosted page links versioned URLs, cached for a year.
    let dep = app.deployment("a11-v2-thumbs").await;
    let page = app.get(&format!("/s/{dep}")).await.text().await.unwrap();
    let css = page
        .split('"')
        .find(|s| s.starts_with("/assets/") && s.ends_with("uswds.min.css"))
        .expect("versioned stylesheet link")
        .to_string();
    let r = app.get(&css).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()[CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let build = css.split('/').nth(2).unwrap();
    let r = app.get(&format!("/assets/{build}/widget.js")).await;
    assert_eq!(r.headers()[ETAG].to_str().unwrap(), etag);
    // Another build's URL still answers, but is not cached for long.
    let r = app.get("/assets/000000000000/widget.js").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()[CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("max-age=300"));
    assert_eq!(
        app.get(&format!("/assets/{build}/nope.js")).await.status(),
        404
    );
    assert_eq!(
        app.get(&format!("/assets/{build}/../Cargo.toml"))
            .await
            .status(),
        404
    );
}

async fn errors_carry_the_cors_grant_and_expose_retry_after(b: Backend) {
    let app = spawn_with(
        b,
        Options {
            rate_limit: 2,
            ..Default::default()
        },
    )
    .await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let url = app.url(&format!("/api/v1/deployments/{dep}/responses"));
    let send = |body: serde_json::Value, origin: &'static str| {
        app.client
            .post(&url)
            .header(ORIGIN, origin)
            .json(&body)
            .send()
    };
    // 422 from an allowed origin: readable by the page.
    let r = send(
        json!({"submission_id": sub_id(), "answers": {"trust": 7}}),
        HOST,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(r.headers()["access-control-allow-origin"], HOST);
    assert_eq!(r.headers()["access-control-expose-headers"], "Retry-After");
    // 403 from a foreign origin: no grant at all.
    let r = send(
        json!({"submission_id": sub_id(), "answers": {"trust": 1}}),
        "https://evil.example.com",
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // 429 after the limit, with the grant, so the widget can read Retry-After.
    let ok = send(
        json!({"submission_id": sub_id(), "answers": {"trust": 1}}),
        HOST,
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 201);
    let r = send(
        json!({"submission_id": sub_id(), "answers": {"trust": 1}}),
        HOST,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["access-control-allow-origin"], HOST);
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(app.responses(), 1);
}

async fn hosted_page_shows_form_pra_and_languages(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-likert").await;
    let r = app.get(&format!("/s/{dep}")).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h[CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(h[CACHE_CONTROL], "no-store");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("form-action 'self'"));
    assert!(h.get("strict-transport-security").is_some());
    let html = r.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"));
    assert!(html.contains(&format!("action=\"/s/{dep}\"")));
    assert!(html.contains("OMB Control No. 3090-0321 · Expires 01/31/2028"));
    assert!(html.contains("federalregister.gov"));
    // Five Likert points, each a real radio button with a label.
    for v in 1..=5 {
        assert!(html.contains(&format!(
            "id=\"trust-{v}\" type=\"radio\" name=\"trust\" value=\"{v}\""
        )));
        assert!(html.contains(&format!("for=\"trust-{v}\"")));
    }
    assert!(!html.contains("<script>") && !html.contains("style="));
    assert!(html.contains("lang=\"es\" hreflang=\"es\">Español</a>"));

    let es = app
        .get(&format!("/s/{dep}?locale=es"))
        .await
        .text()
        .await
        .unwrap();
    assert!(es.starts_with("<!DOCTYPE html><html lang=\"es\">"));
    assert!(es.contains("N.º de control de la OMB 3090-0321 · Vence el 31 de enero de 2028"));
    assert!(es.contains(">Enviar</button>"));
    // Accept-Language alone is enough.
    let r = app
        .client
        .get(app.url(&format!("/s/{dep}")))
        .header("accept-language", "es-US,es;q=0.9")
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("lang=\"es\""));
}

async fn hosted_form_post_stores_once_and_thanks(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let sid = sub_id();
    let body = format!(
        "submission_id={sid}&locale=es&trust=1&went_well=ease&went_well=humanity&comments=Muy+bien%21&fax_number="
    );
    let r = post_form(&app, &dep, &body, Some(&app.address)).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[LOCATION], format!("/s/{dep}/thanks?locale=es"));
    // Posting the same form again (back button, double click) stores nothing new.
    let r = post_form(&app, &dep, &body, None).await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.responses(), 1);
    let thanks = app.get(&format!("/s/{dep}/thanks?locale=es")).await;
    assert_eq!(thanks.status(), 200);
    let html = thanks.text().await.unwrap();
    assert!(html.contains("Gracias por sus comentarios") && html.contains("3090-0321"));

    let rows = app.exported(&dep).await;
    let row = &rows[0];
    assert_eq!(row["source"], "hosted");
    assert_eq!(row["locale"], "es");
    assert_eq!(row["answers"]["went_well"], json!(["ease", "humanity"]));
    assert_eq!(row["answers"]["comments"], "Muy bien!");

    // A bot that fills the hidden field is thanked and nothing is stored.
    let r = post_form(
        &app,
        &dep,
        &format!("submission_id={}&trust=1&fax_number=555-0100", sub_id()),
        None,
    )
    .await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.responses(), 1);
}

async fn hosted_form_bad_input_rerenders_with_errors_and_stores_nothing(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-likert").await;
    let sid = sub_id();
    let cases: Vec<(String, &str)> = vec![
        // No trust answer: the required question is named, the comment is kept.
        (format!("submission_id={sid}&comments=keep+me"), "q-trust"),
        // Outside the scale.
        (format!("submission_id={sid}&trust=9"), "q-trust"),
        (format!("submission_id={sid}&trust=abc"), "q-trust"),
        // An option the instrument does not offer.
        (
            format!("submission_id={sid}&trust=5&went_well=bribery"),
            "q-went_well",
        ),
        // Over the comment limit.
        (
            format!("submission_id={sid}&trust=5&comments={}", "x".repeat(5001)),
            "q-comments",
        ),
    ];
    for (body, anchor) in cases {
        let r = post_form(&app, &dep, &body, None).await;
        assert_eq!(r.status(), 422, "{body:.60}");
        let html = r.text().await.unwrap();
        assert!(html.contains("role=\"alert\""), "{body:.60}");
        assert!(
            html.contains(&format!("href=\"#{anchor}\"")),
            "{body:.60}: {anchor}"
        );
        assert!(html.contains("usa-error-message"));
        // The same submission id, so fixing the answer and sending again stays idempotent.
        assert!(html.contains(&format!("value=\"{sid}\"")));
    }
    let r = post_form(
        &app,
        &dep,
        &format!("submission_id={sid}&comments=keep+me"),
        None,
    )
    .await;
    let html = r.text().await.unwrap();
    assert!(html.contains(">keep me</textarea>"));
    assert!(html.contains("aria-invalid=\"true\""));
    // Not a form at all, and too large.
    let r = post_form(&app, &dep, "%%%=&&", None).await;
    assert_eq!(r.status(), 422);
    let r = post_form(&app, &dep, &"a".repeat(70 * 1024), None).await;
    assert_eq!(r.status(), 413);
    assert_eq!(app.responses(), 0);
}

async fn hosted_form_keeps_only_the_revealed_driver_list(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-likert").await;
    // Without JavaScript both lists are on the page; a 2 ("disagree") reveals "went poorly".
    let body = format!(
        "submission_id={}&trust=2&went_well=ease&went_poorly=efficiency&went_poorly=other",
        sub_id()
    );
    let r = post_form(&app, &dep, &body, None).await;
    assert_eq!(r.status(), 303);
    let rows = app.exported(&dep).await;
    let a = &rows[0]["answers"];
    assert_eq!(a["went_poorly"], json!(["efficiency", "other"]));
    assert!(a.get("went_well").is_none(), "{a}");
}

async fn hosted_page_refuses_closed_expired_unknown_and_foreign_posts(b: Backend) {
    let expired = variant("a11-v2-thumbs.json", "expired-thumbs", |v| {
        v["pra"]["expiration_date"] = json!("2020-01-31");
    });
    let app = spawn_with(
        b,
        Options {
            extra_defs: vec![expired],
            ..Default::default()
        },
    )
    .await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let body = format!("submission_id={}&trust=1", sub_id());

    // A page on another site may not post into this survey.
    let r = post_form(&app, &dep, &body, Some("https://evil.example.com")).await;
    assert_eq!(r.status(), 403);
    // An allowed origin of the deployment may.
    let r = post_form(&app, &dep, &body, Some(HOST)).await;
    assert_eq!(r.status(), 303);
    assert_eq!(app.responses(), 1);

    let old = app.deployment("expired-thumbs").await;
    let r = app.get(&format!("/s/{old}")).await;
    assert_eq!(r.status(), 410);
    let html = r.text().await.unwrap();
    assert!(html.contains("no longer collecting responses") && html.contains("2020-01-31"));
    assert!(!html.contains("<form"));
    let r = post_form(
        &app,
        &old,
        &format!("submission_id={}&trust=1", sub_id()),
        None,
    )
    .await;
    assert_eq!(r.status(), 410);

    let r = app
        .as_agency(&app.key)
        .patch(
            &format!("/api/v1/admin/deployments/{dep}"),
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app.get(&format!("/s/{dep}?locale=es")).await;
    assert_eq!(r.status(), 410);
    let html = r.text().await.unwrap();
    assert!(html.contains("Esta encuesta ya no acepta respuestas") && !html.contains("<form"));
    let r = post_form(
        &app,
        &dep,
        &format!("submission_id={}&trust=1", sub_id()),
        None,
    )
    .await;
    assert_eq!(r.status(), 410);

    let r = app.get("/s/00000000-0000-4000-8000-000000000000").await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("Survey not found"));
    assert_eq!(app.get("/s/not-a-uuid").await.status(), 404);
    assert_eq!(app.responses(), 1);
}
