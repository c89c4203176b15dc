//! Cursor pagination of the admin list routes: `?limit=` (default [`DEFAULT_LIMIT`], at most
//! [`MAX_LIMIT`]) and `?after=` (the opaque cursor of a `next` link). A page answers its rows,
//! `next` (the path of the following page, or null at the end) and the same link as an RFC 8288
//! `Link: <…>; rel="next"` header. Pages are keyset pages (the list's order plus the id, never
//! an offset), and every query still filters by the caller's agency, so a cursor made from
//! another agency's list shows nothing of it.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 500;

/// Separates the sort key from the id inside a cursor (neither contains it).
const SEP: char = '\u{1f}';

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Rows per page, 1 to 500 (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// The cursor from the previous page's `next` link; opaque.
    pub after: Option<String>,
}

/// A page asked for: how many rows, after which `(sort key, id)`.
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<(String, String)>,
}

impl PageRequest {
    /// `limit` and `after` from the query string; a bad one is a `422` naming it.
    pub fn from_request(req: &HttpRequest) -> Result<Self, ApiError> {
        let q = web::Query::<PageQuery>::from_query(req.query_string())
            .map_err(|e| ApiError::field("query", e.to_string()))?
            .into_inner();
        let limit = match q.limit.as_deref() {
            None => DEFAULT_LIMIT,
            Some(l) => l
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::field("limit", format!("must be a whole number 1 to {MAX_LIMIT}"))
                })?,
        };
        let after = q.after.as_deref().map(decode).transpose()?;
        Ok(PageRequest { limit, after })
    }

    /// The row count to load: one more than the page, to know whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts `rows` (loaded with [`fetch`](Self::fetch)) to the page and returns the next page's
    /// link, if there is one; `key` gives a row's `(sort key, id)`.
    pub fn finish<T>(
        &self,
        rows: &mut Vec<T>,
        path: &str,
        key: impl Fn(&T) -> (String, String),
    ) -> Option<String> {
        if rows.len() as i64 <= self.limit {
            return None;
        }
        rows.truncate(self.limit as usize);
        let (k, id) = key(rows.last()?);
        Some(format!(
            "{path}?limit={}&after={}",
            self.limit,
            encode(&k, &id)
        ))
    }
}

fn encode(key: &str, id: &str) -> String {
    hex::encode(format!("{key}{SEP}{id}"))
}

fn decode(raw: &str) -> Result<(String, String), ApiError> {
    let bad = || {
        ApiError::field(
            "after",
            "is not a cursor of this list (use the next link as given)",
        )
    };
    let text = hex::decode(raw)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(bad)?;
    let (k, id) = text.split_once(SEP).ok_or_else(bad)?;
    if id.contains(SEP) {
        return Err(bad());
    }
    Ok((k.to_string(), id.to_string()))
}

/// A deployment list's sort key, `created_at`, as a cursor holds it (microseconds kept).
pub fn time_key(t: &chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

/// A cursor's `created_at`, or a `422` naming `after`.
pub fn parse_time_key(k: &str) -> Result<chrono::NaiveDateTime, ApiError> {
    chrono::NaiveDateTime::parse_from_str(k, "%Y-%m-%dT%H:%M:%S%.f").map_err(|_| {
        ApiError::field(
            "after",
            "is not a cursor of this list (use the next link as given)",
        )
    })
}

/// `200` with `body` and, if another page follows, its `Link` header.
pub fn respond<B: Serialize>(body: &B, next: Option<&str>) -> HttpResponse {
    let mut r = HttpResponse::Ok();
    if let Some(n) = next {
        r.insert_header((header::LINK, format!("<{n}>; rel=\"next\"")));
    }
    r.json(body)
}
