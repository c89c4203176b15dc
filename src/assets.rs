//! Static files embedded in the binary (`assets/`): the widget, the hosted page's script and
//! styles, and the vendored U.S. Web Design System. Each is compressed once at first use and
//! served with a strong `ETag`; the versioned URLs under `/assets/{build}/` never change content
//! and are cached for a year, the two stable names a host page embeds for five minutes.

use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

#[derive(rust_embed::Embed)]
#[folder = "assets/"]
#[exclude = "*.md"]
struct Files;

pub struct Asset {
    body: web::Bytes,
    gzip: Option<web::Bytes>,
    etag: HeaderValue,
    content_type: &'static str,
}

pub struct Assets {
    files: HashMap<String, Asset>,
    /// Names this build's content: the `{build}` of `/assets/{build}/…`.
    pub build: String,
}

/// What a stable name may be cached for before the browser revalidates (a `304`, no body).
const SHORT_CACHE: &str = "public, max-age=300, stale-while-revalidate=86400";
const LONG_CACHE: &str = "public, max-age=31536000, immutable";

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

pub fn assets() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let mut all = Sha256::new();
        let mut files = HashMap::new();
        let mut names: Vec<_> = Files::iter().collect();
        names.sort();
        for name in names {
            let file = Files::get(&name).expect("listed by iter");
            let hash = file.metadata.sha256_hash();
            all.update(name.as_bytes());
            all.update(hash);
            let ct = content_type(&name);
            // Fonts and images are compressed already.
            let gzip = (ct.starts_with("text/") || ct == "image/svg+xml").then(|| {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                enc.write_all(&file.data).expect("in memory");
                web::Bytes::from(enc.finish().expect("in memory"))
            });
            let etag = format!("\"{}\"", &hex::encode(hash)[..20]);
            files.insert(
                name.to_string(),
                Asset {
                    body: web::Bytes::from(file.data.into_owned()),
                    gzip,
                    etag: HeaderValue::from_str(&etag).expect("hex"),
                    content_type: ct,
                },
            );
        }
        Assets {
            files,
            build: hex::encode(all.finalize())[..12].to_string(),
        }
    })
}

impl Assets {
    /// The versioned URL path of an embedded file, e.g. `/assets/3f2a…/uswds/css/uswds.min.css`.
    pub fn url(&self, name: &str) -> String {
        format!("/assets/{}/{name}", self.build)
    }

    pub fn get(&self, name: &str) -> Option<&Asset> {
        self.files.get(name)
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    // HEAD too: link checkers and caches ask before they fetch.
    cfg.service(
        web::resource("/widget.js")
            .route(web::get().to(widget_js))
            .route(web::head().to(widget_js)),
    )
    .service(
        web::resource("/widget.css")
            .route(web::get().to(widget_css))
            .route(web::head().to(widget_css)),
    )
    .service(
        web::resource("/assets/{build}/{name:.*}")
            .route(web::get().to(versioned))
            .route(web::head().to(versioned)),
    );
}

async fn widget_js(req: HttpRequest) -> HttpResponse {
    serve(&req, "widget.js", SHORT_CACHE)
}

async fn widget_css(req: HttpRequest) -> HttpResponse {
    serve(&req, "widget.css", SHORT_CACHE)
}

async fn versioned(req: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    let (build, name) = path.into_inner();
    // A page rendered by the previous build during a rolling upgrade still gets a file, but
    // not one it may keep forever.
    let cache = if build == assets().build {
        LONG_CACHE
    } else {
        SHORT_CACHE
    };
    serve(&req, &name, cache)
}

fn serve(req: &HttpRequest, name: &str, cache: &'static str) -> HttpResponse {
    let Some(a) = assets().get(name) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found");
    };
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == a.etag || t.trim() == "*"));
    let mut resp = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    resp.insert_header((header::ETAG, a.etag.clone()))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::VARY, "Accept-Encoding"))
        // Public files: any page may load them, also with `integrity=` (SRI needs CORS) and
        // from behind COEP. The API's origins are checked per deployment, never `*`.
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header(("Cross-Origin-Resource-Policy", "cross-origin"));
    if matches {
        return resp.finish();
    }
    resp.insert_header((header::CONTENT_TYPE, a.content_type));
    let gzip_ok = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(accepts_gzip);
    match &a.gzip {
        // Compressed once, at first use; the Compress middleware leaves an encoded body alone.
        Some(gz) if gzip_ok => resp
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(gz.clone()),
        // Identity, so the Compress middleware does not spend CPU on it per request.
        _ => resp
            .insert_header((header::CONTENT_ENCODING, "identity"))
            .body(a.body.clone()),
    }
}

fn accepts_gzip(v: &str) -> bool {
    v.split(',').any(|part| {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim();
        let q_zero = it.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                == Some(0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip(""));
    }

    #[test]
    fn every_asset_has_a_type_and_the_widget_fits_the_budget() {
        let a = assets();
        for name in a.files.keys() {
            assert_ne!(content_type(name), "application/octet-stream", "{name}");
        }
        let gz = |n: &str| a.get(n).and_then(|f| f.gzip.as_ref()).map(|g| g.len());
        let total = gz("widget.js").unwrap() + gz("widget.css").unwrap();
        assert!(
            total <= 15 * 1024,
            "widget.js + widget.css = {total} B gzipped"
        );
    }
}
