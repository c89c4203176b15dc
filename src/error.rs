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

    fn slug(&self) -> &'static str {
        match self {
            ApiError::Invalid(_) => "validation",
            ApiError::BadRequest(_) => "bad-request",
            ApiError::NotFound(_) => "not-found",
            ApiError::Gone(_) => "gone",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Conflict { .. } => "conflict",
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
            type_: format!("https://cx-survey.dev/problems/{}", self.slug()),
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
