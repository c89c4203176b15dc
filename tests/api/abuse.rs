//! Requests that only cost the server: oversized headers and bodies are refused early, a client
//! that never finishes its request is cut off, and one address's flood does not block another.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{spawn_app, spawn_with, Backend, Options};
use crate::on_both;

on_both!(oversized_and_slow_requests_are_cut_off);

fn raw(addr: &str, request: &[u8], read_for: Duration) -> (String, Duration) {
    let mut s = TcpStream::connect(addr.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(read_for)).unwrap();
    let t = Instant::now();
    let _ = s.write_all(request);
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap_or(0);
    (String::from_utf8_lossy(&buf[..n]).to_string(), t.elapsed())
}

async fn oversized_and_slow_requests_are_cut_off(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let addr = app.address.clone();
    // A header block over actix-http's 128 KiB limit: refused before any handler runs.
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let (head, _) = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || raw(&addr, big.as_bytes(), Duration::from_secs(5))
    })
    .await
    .unwrap();
    assert!(
        head.starts_with("HTTP/1.1 431") || head.starts_with("HTTP/1.1 400") || head.is_empty(),
        "oversized header answered: {head:.80}"
    );
    // A body declared larger than 64 KiB: 413 without reading it.
    let req = format!(
        "POST /api/v1/deployments/{dep}/responses HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{{"
    );
    let (head, took) = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || raw(&addr, req.as_bytes(), Duration::from_secs(5))
    })
    .await
    .unwrap();
    assert!(head.starts_with("HTTP/1.1 413"), "{head:.80}");
    assert!(took < Duration::from_secs(2));
    // A client that sends half a request line and waits: the server gives up on it.
    let (head, took) = tokio::task::spawn_blocking({
        let addr = addr.clone();
        move || raw(&addr, b"GET /heal", Duration::from_secs(15))
    })
    .await
    .unwrap();
    assert!(
        took < Duration::from_secs(12),
        "a slow client held the connection {took:?} ({head:.40})"
    );
    assert_eq!(app.responses(), 0);

    // One address flooding hits its limit; the limit is per address, so it answers 429 with
    // Retry-After while the service stays up for everyone (health, reads).
    let limited = spawn_with(
        b,
        Options {
            rate_limit: 5,
            ..Default::default()
        },
    )
    .await;
    let dep = limited.deployment("a11-v2-thumbs").await;
    let mut codes = vec![];
    for _ in 0..20 {
        let r = limited.answer(&dep, json!({"trust": 1})).await;
        codes.push(r.status().as_u16());
    }
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 5, "{codes:?}");
    assert!(codes[5..].iter().all(|c| *c == 429));
    assert_eq!(limited.get("/healthz").await.status(), 200);
    assert_eq!(
        limited
            .get(&format!("/api/v1/deployments/{dep}"))
            .await
            .status(),
        200
    );
    assert_eq!(limited.responses(), 5);
}

on_both!(every_html_page_carries_the_security_headers);

/// Every HTML answer the service can give — forms, their errors, thank-you, closed and unknown
/// surveys, email link and opt-out pages, demo pages — carries CSP, HSTS, nosniff, a referrer
/// policy and no framing.
async fn every_html_page_carries_the_security_headers(b: Backend) {
    let app = spawn_with(
        b,
        Options {
            demo: true,
            ..Default::default()
        },
    )
    .await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let closed = app.deployment("a11-v2-likert").await;
    let r = app
        .as_agency(&app.key)
        .patch(
            &format!("/api/v1/admin/deployments/{closed}"),
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = |body: &str| {
        no_redirect
            .post(app.url(&format!("/s/{dep}")))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", app.address.clone())
            .body(body.to_string())
            .send()
    };
    let mut answers = vec![];
    for path in [
        format!("/s/{dep}"),
        format!("/s/{dep}?locale=es"),
        format!("/s/{dep}/thanks?locale=en"),
        format!("/s/{closed}"),
        "/s/no-such-survey".to_string(),
        "/r/not-a-real-token-0123456789".to_string(),
        "/u/not-a-real-token-0123456789".to_string(),
        "/demo".to_string(),
        format!("/demo/modal/{dep}"),
    ] {
        let r = app.get(&path).await;
        answers.push((format!("GET {path}"), r));
    }
    answers.push(("POST /s (invalid)".into(), form("trust=9").await.unwrap()));
    answers.push((
        "POST /u (unknown token)".into(),
        no_redirect
            .post(app.url("/u/not-a-real-token-0123456789"))
            .header("origin", app.address.clone())
            .send()
            .await
            .unwrap(),
    ));
    let mut html = 0;
    for (what, r) in answers {
        let h = r.headers();
        let ctype = h
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        if !ctype.starts_with("text/html") {
            continue;
        }
        html += 1;
        for name in [
            "content-security-policy",
            "strict-transport-security",
            "x-content-type-options",
            "referrer-policy",
            "x-frame-options",
        ] {
            assert!(
                h.get(name).is_some(),
                "{what} ({}) lacks {name}",
                r.status()
            );
        }
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    }
    assert_eq!(html, 11, "every answer above is an HTML page");
}
