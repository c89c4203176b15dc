//! The pages the problem `type` URIs point at: `GET /problems/{slug}`, one short HTML page per
//! problem type (what it means, what to do), and `GET /problems`, the list of them.

use actix_web::{web, HttpResponse};

use crate::error::{ApiError, PROBLEM_PATH, PROBLEM_TYPES};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} – cx-survey problem types</title></head>\n<body>\n{body}\n</body></html>\n",
            escape(title)
        ))
}

/// The page of one problem type; an unknown slug is a `404` problem.
pub async fn problem_type(slug: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (slug, title, text) = PROBLEM_TYPES
        .iter()
        .find(|(s, _, _)| *s == slug.as_str())
        .ok_or(ApiError::NotFound("problem type"))?;
    Ok(page(
        title,
        &format!(
            "<h1>{}</h1>\n<p><code>{PROBLEM_PATH}/{slug}</code></p>\n<p>{}</p>\n<p><a href=\"{PROBLEM_PATH}\">All problem types</a></p>",
            escape(title),
            escape(text)
        ),
    ))
}

/// Every problem type the API sends, linked.
pub async fn index() -> HttpResponse {
    let items: String = PROBLEM_TYPES
        .iter()
        .map(|(slug, title, _)| {
            format!(
                "<li><a href=\"{PROBLEM_PATH}/{slug}\">{}</a></li>\n",
                escape(title)
            )
        })
        .collect();
    page(
        "Problem types",
        &format!(
            "<h1>Problem types</h1>\n<p>Errors of the cx-survey API are RFC 9457 problems (<code>application/problem+json</code>); their <code>type</code> is one of these pages.</p>\n<ul>\n{items}</ul>"
        ),
    )
}
