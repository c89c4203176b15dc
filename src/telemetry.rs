//! JSON logs on stdout; `RUST_LOG` filters (default `info`).

use tracing_subscriber::{fmt, EnvFilter};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The root span of every request, as tracing-actix-web's default but with the path only (no
/// query string) and the email-link tokens of `/r/{token}` and `/u/{token}` replaced: a token
/// is a credential, and log lines are read by more people than the database.
pub struct RedactedRootSpan;

impl tracing_actix_web::RootSpanBuilder for RedactedRootSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        use actix_web::HttpMessage;
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %redact(request.path()),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

pub fn redact(path: &str) -> String {
    for prefix in ["/r/", "/u/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
            return format!("{prefix}[token]{tail}");
        }
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn tokens_never_reach_the_log() {
        assert_eq!(redact(&format!("/r/{}", "a".repeat(64))), "/r/[token]");
        assert_eq!(redact("/u/abc/extra"), "/u/[token]/extra");
        assert_eq!(redact("/s/123"), "/s/123");
    }
}
