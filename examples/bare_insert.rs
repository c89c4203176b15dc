//! The benchmark's baseline: a bare actix handler that parses the JSON body and does one INSERT
//! per request through the r2d2 pool, answering 201 after its own commit. cx-survey's intake is
//! measured against this in the same run (see bench/intake.sh).
//!
//! cargo run --release --example bare_insert -- <database-url> <bind>

use actix_web::{web, App, HttpResponse, HttpServer};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

diesel::table! {
    bare_responses (id) {
        id -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (url, bind) = (args[1].clone(), args[2].clone());
    let size = if url.starts_with("postgres") { 8 } else { 4 };
    let (pool, _) = cx_survey::db::connect_pool(&url, size, 1).expect("database");
    pool.get()
        .unwrap()
        .batch_execute("CREATE TABLE IF NOT EXISTS bare_responses (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at TIMESTAMP NOT NULL)")
        .unwrap();
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            App::new().app_data(web::Data::new(pool.clone())).route(
                "/api/v1/deployments/{id}/responses",
                web::post().to(|pool: web::Data<cx_survey::db::Pool>, body: web::Json<serde_json::Value>| async move {
                    let sid = body["submission_id"].as_str().unwrap_or_default().to_string();
                    let text = body.to_string();
                    let res = web::block(move || {
                        let mut c = pool.get().map_err(|e| e.to_string())?;
                        diesel::insert_into(bare_responses::table)
                            .values((
                                bare_responses::id.eq(sid),
                                bare_responses::body.eq(text),
                                bare_responses::created_at.eq(cx_survey::db::now()),
                            ))
                            .execute(&mut *c)
                            .map_err(|e| e.to_string())
                    })
                    .await;
                    match res {
                        Ok(Ok(_)) => HttpResponse::Created().finish(),
                        _ => HttpResponse::ServiceUnavailable().finish(),
                    }
                }),
            )
        })
        .bind(bind)?
        .run()
        .await
    })
}
