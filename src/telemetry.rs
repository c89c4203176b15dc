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
        let request_id = effective_request_id(request);
        request
            .extensions_mut()
            .insert(LoggedRequestId(request_id.clone()));
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

/// The id a request's log lines carry and its `x-request-id` response header repeats (set by
/// `RedactedRootSpan`).
#[derive(Clone, Debug)]
pub struct LoggedRequestId(pub String);

/// The id of an incoming `X-Request-Id`, else the trace-id of a W3C `traceparent`, when the
/// connection's peer is a trusted proxy (`CX_TRUSTED_PROXIES`) and the value is well formed;
/// otherwise the fresh id tracing-actix-web generated. From anyone else such a header is
/// ignored: a client could otherwise pass itself off as another request in the logs.
fn effective_request_id(request: &actix_web::dev::ServiceRequest) -> String {
    use actix_web::HttpMessage;
    let trusted = request
        .app_data::<actix_web::web::Data<crate::app::AppState>>()
        .map(|s| s.settings.trusted_proxies.as_slice())
        .unwrap_or_default();
    let from_proxy = request
        .peer_addr()
        .is_some_and(|peer| crate::intake::limit::is_trusted_proxy(peer.ip(), trusted));
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    from_proxy
        .then(|| {
            header("x-request-id")
                .filter(|v| sane_request_id(v))
                .map(str::to_string)
                .or_else(|| header("traceparent").and_then(trace_id))
        })
        .flatten()
        .or_else(|| {
            request
                .extensions()
                .get::<tracing_actix_web::RequestId>()
                .map(|id| id.to_string())
        })
        .unwrap_or_default()
}

/// 1 to 128 visible ASCII characters (no spaces, no control characters).
pub fn sane_request_id(v: &str) -> bool {
    (1..=128).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_graphic())
}

/// The trace-id of a valid W3C `traceparent` (`version-traceid-parentid-flags`, lower-case hex;
/// version `ff` and all-zero ids are invalid; a later version may append fields).
pub fn trace_id(traceparent: &str) -> Option<String> {
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let mut parts = traceparent.split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let rest = parts.next();
    let ok = hex(version, 2)
        && version != "ff"
        && !(version == "00" && rest.is_some())
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(parent, 16)
        && parent.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    ok.then(|| trace.to_string())
}

pub fn redact(path: &str) -> String {
    for prefix in ["/r/", "/u/", "/admin/auth/link/"] {
        if let Some(rest) = path.strip_prefix(prefix) {
            let tail = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
            return format!("{prefix}[token]{tail}");
        }
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use super::{redact, sane_request_id, trace_id};

    #[test]
    fn incoming_request_ids_are_checked() {
        assert!(sane_request_id("abc-123_X.y:z"));
        assert!(sane_request_id(&"a".repeat(128)));
        for bad in ["", "a b", "a\nb", "é", &"a".repeat(129)] {
            assert!(!sane_request_id(bad), "{bad:?}");
        }
        let t = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(
            trace_id(&format!("00-{t}-00f067aa0ba902b7-01")).as_deref(),
            Some(t)
        );
        assert_eq!(
            trace_id(&format!("01-{t}-00f067aa0ba902b7-01-extra")).as_deref(),
            Some(t)
        );
        for bad in [
            format!("ff-{t}-00f067aa0ba902b7-01"),
            format!("00-{t}-00f067aa0ba902b7-01-extra"),
            format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)),
            format!("00-{t}-0000000000000000-01"),
            format!("00-{}-00f067aa0ba902b7-01", t.to_uppercase()),
            format!("00-{t}-00f067aa0ba902b7"),
            "garbage".to_string(),
        ] {
            assert_eq!(trace_id(&bad), None, "{bad}");
        }
    }

    #[test]
    fn tokens_never_reach_the_log() {
        assert_eq!(redact(&format!("/r/{}", "a".repeat(64))), "/r/[token]");
        assert_eq!(redact("/u/abc/extra"), "/u/[token]/extra");
        assert_eq!(redact("/s/123"), "/s/123");
        assert_eq!(redact("/admin/auth/link/abc"), "/admin/auth/link/[token]");
    }
}
