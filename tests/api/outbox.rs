//! The email outbox against a slow relay: a claim must not run out while its messages are still
//! being delivered, or another worker sends them again.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cx_survey::email::outbox::Outbox;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::helpers::{settings_for, spawn_with, Backend, Options};
use crate::on_both;

on_both!(slow_relay_outlasting_the_lease_still_sends_each_once);

/// Recipients of the messages a relay accepted, one entry per message.
type Received = Arc<Mutex<Vec<String>>>;

/// A tiny SMTP relay on loopback that takes `delay` to answer each message's data (it counts
/// the message as received before it waits). Written here rather than with aiosmtpd so the
/// delay needs no Python handler.
async fn slow_relay(delay: Duration) -> (u16, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Received::default();
    let r = received.clone();
    actix_web::rt::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            actix_web::rt::spawn(session(sock, delay, r.clone()));
        }
    });
    (port, received)
}

async fn session(
    sock: tokio::net::TcpStream,
    delay: Duration,
    received: Received,
) -> std::io::Result<()> {
    let (rd, mut wr) = sock.into_split();
    let mut lines = BufReader::new(rd).lines();
    wr.write_all(b"220 slow.test ESMTP\r\n").await?;
    let mut rcpt = String::new();
    while let Some(line) = lines.next_line().await? {
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-slow.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "RCPT" => {
                rcpt = line.to_ascii_lowercase();
                b"250 OK\r\n"
            }
            "DATA" => {
                wr.write_all(b"354 go ahead\r\n").await?;
                while lines.next_line().await?.is_some_and(|l| l != ".") {}
                received.lock().unwrap().push(rcpt.clone());
                tokio::time::sleep(delay).await;
                b"250 queued\r\n"
            }
            "QUIT" => {
                wr.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 OK\r\n",
        };
        wr.write_all(reply).await?;
    }
    Ok(())
}

/// Each message takes the relay 4 s, the claim's lease is 1.5 s, and a second worker on the
/// same database looks for due invitations every second: still, every invitation is sent once.
async fn slow_relay_outlasting_the_lease_still_sends_each_once(b: Backend) {
    // No SMTP for the app itself: its invitations wait for the two workers below.
    let app = spawn_with(b, Options::default()).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let list: Vec<Value> = (0..20)
        .map(|i| json!({"email": format!("slow{i}@example.org"), "transaction_id": format!("s-{i}")}))
        .collect();
    let path = format!("/api/v1/admin/deployments/{dep}/invitations");
    let r = app.as_agency(&app.key).post(&path, json!(list)).await;
    assert_eq!(r.status(), 202);
    let (port, received) = slow_relay(Duration::from_secs(4)).await;
    let mut settings = settings_for(&app.database_url, &app.defs_dir, 0);
    settings.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into());
    let defs = Arc::new(cx_survey::definitions::load_dir(&app.defs_dir).unwrap());
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let mut workers = vec![];
    for _ in 0..2 {
        let (pool, _) = cx_survey::db::connect_pool(&app.database_url, 2, 0).unwrap();
        let outbox = Outbox::new(pool, defs.clone(), settings.clone())
            .unwrap()
            .unwrap()
            .with_lease(Duration::from_millis(1500));
        workers.push(actix_web::rt::spawn(outbox.run(stop_rx.clone())));
    }
    // Once every invitation is recorded sent, every claim (a repeated one too) has been
    // recorded, so every message that was going to arrive has arrived. A 21st message is a
    // failure already (and with leases stolen back and forth, all may never be recorded).
    let until = Instant::now() + Duration::from_secs(40);
    while app.count("invitations WHERE status = 'sent'") < 20
        && received.lock().unwrap().len() <= 20
    {
        assert!(Instant::now() < until, "the invitations were not all sent");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    // The workers finish their batch and drop their SMTP pools while the runtime still runs
    // (bounded: workers that steal each other's claims never run out of due invitations).
    let _ = stop.send(true);
    for w in workers {
        let _ = tokio::time::timeout(Duration::from_secs(10), w).await;
    }
    let mut got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 20, "an invitation was sent twice: {got:?}");
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 20, "each recipient once");
}
