//! Every error leaves the API as `application/problem+json` (RFC 9457), with a per-field
//! `errors` list where the input was at fault.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct FieldError {
    /// Dotted path of the offending field, e.g. `answers.trust`.
    pub field: String,
    pub detail: String,
    /// For uploaded files: the 1-based line of the offending row (line 1 is the header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            detail: detail.into(),
            line: None,
        }
    }

    pub fn at_line(mut self, line: u64) -> Self {
        self.detail = format!("line {line}: {}", self.detail);
        self.line = Some(line);
        self
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// Where the problem types are documented: `GET /problems/{slug}` on this service.
pub const PROBLEM_PATH: &str = "/problems";

/// Every problem type the API sends, as `(slug, title, what it means and what to do)`: the text
/// of its page at `/problems/{slug}`.
pub const PROBLEM_TYPES: &[(&str, &str, &str)] = &[
    ("validation", "Invalid fields",
     "The request has fields that are missing, malformed or out of range. The errors list names each field (a dotted path) with what is wrong; for uploaded files, also the line. Correct the fields and send the request again."),
    ("bad-request", "Bad request",
     "The request cannot be read, e.g. a body that is not JSON. The detail says what was wrong."),
    ("not-found", "Not found",
     "No such resource, or it belongs to another agency, or no such route. Check the id or the path."),
    ("gone", "Gone",
     "The deployment is closed or its instrument's PRA clearance expired: it no longer takes answers."),
    ("forbidden", "Forbidden",
     "The request is not allowed: e.g. an origin not allowed for the deployment, or an invitation-only deployment answered without an invitation."),
    ("unauthorized", "Unauthorized",
     "The admin API needs a valid API key in Authorization: Bearer <key>; the key was missing, wrong or revoked."),
    ("conflict", "Conflict",
     "The request conflicts with stored state: a slug already taken, or a deployment declared in a registry file (change it there). The errors list names the field."),
    ("method-not-allowed", "Method not allowed",
     "The path exists but does not take this HTTP method. See /openapi.json for the methods of each path."),
    ("precondition-failed", "Precondition failed",
     "The If-Match tag no longer matches the resource: someone changed it since you read it. Nothing was changed. GET the resource again (for its new ETag), reapply your change and send it with the new tag."),
    ("payload-too-large", "Payload too large",
     "The request body is larger than the route accepts; the detail gives the limit."),
    ("rate-limited", "Too many requests",
     "Too many submissions from this address. Retry after the number of seconds in Retry-After."),
    ("unavailable", "Service unavailable",
     "The database is unavailable or busy. Retry after the number of seconds in Retry-After."),
    ("internal", "Internal error",
     "Something failed inside the service; the details are in its log, not in the answer. Retry later or tell the operators."),
];

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("a valid API key is required")]
    Unauthorized,
    #[error("{detail}")]
    Conflict { field: String, detail: String },
    #[error("this method is not allowed on this resource")]
    MethodNotAllowed,
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("too many submissions from this address; retry after {0} s")]
    RateLimited(u64),
    #[error("{detail}")]
    Unavailable { detail: String, retry_after: u64 },
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn field(field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::Invalid(vec![FieldError::new(field, detail)])
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        ApiError::Internal(e.to_string())
    }

    /// The problem `type` this error is sent with: a relative URI, `/problems/{slug}`, served
    /// by this service (see [`PROBLEM_TYPES`]).
    pub fn type_uri(&self) -> String {
        format!("{PROBLEM_PATH}/{}", self.slug())
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::Invalid(_) => "validation",
            ApiError::BadRequest(_) => "bad-request",
            ApiError::NotFound(_) => "not-found",
            ApiError::Gone(_) => "gone",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Conflict { .. } => "conflict",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::PreconditionFailed(_) => "precondition-failed",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::RateLimited(_) => "rate-limited",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => ApiError::NotFound("resource"),
            other => unavailable_or_internal(&other),
        }
    }
}

impl From<r2d2::Error> for ApiError {
    fn from(e: r2d2::Error) -> Self {
        // The driver's text names hosts, databases and roles: the log gets it, the client not.
        tracing::warn!(error = %e, "no database connection");
        ApiError::Unavailable {
            detail: "the database is unavailable; retry shortly".into(),
            retry_after: 2,
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::internal(e)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let errors = match self {
            ApiError::Invalid(errs) => errs.clone(),
            ApiError::Conflict { field, detail } => vec![FieldError::new(field, detail)],
            _ => vec![],
        };
        if let ApiError::Internal(msg) = self {
            tracing::error!(error = %msg, "internal error");
        }
        let detail = match self {
            // Internal details stay in the log.
            ApiError::Internal(_) => None,
            other => Some(other.to_string()),
        };
        let body = Problem {
            type_: self.type_uri(),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail,
            errors,
        };
        let mut resp = HttpResponse::build(status);
        resp.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            ApiError::RateLimited(s) | ApiError::Unavailable { retry_after: s, .. } => {
                resp.insert_header((header::RETRY_AFTER, s.to_string()));
            }
            ApiError::Unauthorized => {
                resp.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            _ => {}
        }
        resp.body(serde_json::to_string(&body).unwrap_or_default())
    }
}

/// A lost connection or a locked database is the client's cue to retry, not a bug.
pub fn unavailable_or_internal(e: &diesel::result::Error) -> ApiError {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
        | Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
            ApiError::Unavailable {
                detail: "the database is unavailable; retry shortly".into(),
                retry_after: 2,
            }
        }
        Error::DatabaseError(_, info) if info.message().contains("locked") => {
            ApiError::Unavailable {
                detail: "the database is busy; retry shortly".into(),
                retry_after: 1,
            }
        }
        other => ApiError::internal(other),
    }
}
