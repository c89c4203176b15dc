//! `/admin/reports`: the agency's quarterly files. Pick a fiscal year and quarter, read
//! `report.html`, or download every file of the OMB package as one zip. Both are built for the
//! agency's deployments only, one report at a time per instance (the admin API's turn).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use maud::html;

use super::session::Staff;
use super::ui::{self, ConsoleError};
use super::volumes::{asked_quarter, quarter_form};
use crate::admin::reports::{report_error, report_turn};
use crate::app::AppState;
use crate::error::ApiError;
use crate::fiscal::FiscalQuarter;
use crate::report::{self, Scope};

pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{get, resource};
    cfg.service(resource("/reports").route(get().to(show)))
        .service(resource("/reports/{fy}/{q}/report.html").route(get().to(report_html)))
        .service(resource("/reports/{fy}/{q}/files.zip").route(get().to(files_zip)));
}

const PATH: &str = "/admin/reports";

pub async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let (fy, q, fq) = asked_quarter(&state, &query);
    let (status, errors, fq) = match fq {
        Ok(fq) => (actix_web::http::StatusCode::OK, vec![], Some(fq)),
        Err(e) => (actix_web::http::StatusCode::UNPROCESSABLE_ENTITY, e, None),
    };
    let main = html! {
        h1 { "Quarterly files" }
        (ui::error_summary(&errors))
        p { "The quarterly report of your agency's deployments, as OMB asks for it under A-11 Section 280." }
        (quarter_form(PATH, &fy, &q, &errors))
        @if let Some(fq) = fq {
            @let base = format!("{PATH}/{}/{}", fq.year, fq.quarter);
            h2 { "FY" (fq.year) " Q" (fq.quarter) }
            ul.usa-list {
                li { a.usa-link href={ (base) "/report.html" } { "View the report for FY" (fq.year) " Q" (fq.quarter) } }
                li { a.usa-link href={ (base) "/files.zip" } download { "Download the OMB files for FY" (fq.year) " Q" (fq.quarter) " (zip)" } }
            }
            p.cx-muted { "The zip holds cx_collections.csv, cx_collection_details.csv, one response file per deployment (responses/), the v1 scale tables (v1/), report.json and report.html. A large quarter takes a while to build." }
        }
    };
    Ok(ui::page_with(status, &staff, PATH, "Quarterly files", main))
}

/// The quarter a report path names; anything else is not a page here (`404`).
fn path_quarter(path: &(String, String)) -> Result<FiscalQuarter, ConsoleError> {
    let year = path.0.parse::<i32>().map_err(|_| ConsoleError::NotFound)?;
    let quarter = path.1.parse::<u8>().map_err(|_| ConsoleError::NotFound)?;
    FiscalQuarter::new(year, quarter).map_err(|_| ConsoleError::NotFound)
}

fn agency_scope(staff: &Staff) -> Scope {
    Scope {
        agency_id: Some(staff.agency_id.clone()),
        hisp: None,
    }
}

/// The CSP of `report.html`: no script at all, and only the page's own style element (by its
/// hash: the page is one self-contained file that must also open from disk).
fn report_csp() -> &'static str {
    static CSP: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use base64::Engine;
        use sha2::{Digest, Sha256};
        let hash = base64::engine::general_purpose::STANDARD
            .encode(Sha256::digest(report::html::STYLE.as_bytes()));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'"
        )
    });
    &CSP
}

pub async fn report_html(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let fq = path_quarter(&path)?;
    let scope = agency_scope(&staff);
    let _turn = report_turn(&state).await?;
    let st = state.clone();
    let r = web::block(move || {
        report::build(&st.export_pool, &st.defs, fq, st.settings.report_tz, &scope)
    })
    .await
    .map_err(ApiError::from)?
    .map_err(report_error)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_SECURITY_POLICY, report_csp()))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
        .body(report::html::render(&r)))
}

pub async fn files_zip(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ConsoleError> {
    let fq = path_quarter(&path)?;
    let scope = agency_scope(&staff);
    let name = format!("cx-report-FY{}-Q{}", fq.year, fq.quarter);
    let (file, len) = {
        let _turn = report_turn(&state).await?;
        let (st, prefix) = (state.clone(), name.clone());
        web::block(move || zip_report(&st, fq, &scope, &prefix))
            .await
            .map_err(ApiError::from)??
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/zip"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}.zip\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // Already compressed: the response compression middleware leaves it alone.
        .insert_header(header::ContentEncoding::Identity)
        .no_chunking(len)
        .streaming(file_stream(file)))
}

/// Writes the report for `scope` into a temporary directory and zips it (every file under
/// `prefix/`) into a temporary file; returns that file open for reading, and its length. The
/// directory is removed on return: the open file stays readable until it is closed.
fn zip_report(
    state: &AppState,
    fq: FiscalQuarter,
    scope: &Scope,
    prefix: &str,
) -> Result<(std::fs::File, u64), ConsoleError> {
    let dir = tempfile::tempdir().map_err(ApiError::internal)?;
    let out = dir.path().join("report");
    report::files::write_report(
        &state.export_pool,
        &state.defs,
        fq,
        state.settings.report_tz,
        scope,
        &out,
    )
    .map_err(report_error)?;
    let zip_path = dir.path().join("files.zip");
    write_zip(&out, prefix, &zip_path).map_err(ApiError::internal)?;
    let file = std::fs::File::open(&zip_path).map_err(ApiError::internal)?;
    let len = file.metadata().map_err(ApiError::internal)?.len();
    Ok((file, len))
}

/// Every file under `dir`, relative to it, sorted (the zip lists them in a stable order).
fn files_under(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = vec![];
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d)? {
            let p = entry?.path();
            if p.is_dir() {
                todo.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn write_zip(dir: &Path, prefix: &str, to: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use zip::write::SimpleFileOptions;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(std::fs::File::create(to)?));
    for rel in files_under(dir)? {
        let path = dir.join(&rel);
        let size = std::fs::metadata(&path)?.len();
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o644)
            .large_file(size >= u64::from(u32::MAX));
        let name: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        zip.start_file(format!("{prefix}/{}", name.join("/")), options)?;
        std::io::copy(&mut std::fs::File::open(&path)?, &mut zip)?;
    }
    zip.finish()?.flush()?;
    Ok(())
}

/// The file's bytes as a response body, read in chunks on the blocking pool.
fn file_stream(
    file: std::fs::File,
) -> impl futures_util::Stream<Item = Result<web::Bytes, std::io::Error>> {
    const CHUNK: usize = 256 * 1024;
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut f = file?;
        let read = web::block(move || {
            let mut buf = vec![0u8; CHUNK];
            let n = f.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, std::io::Error>((f, buf))
        })
        .await
        .map_err(std::io::Error::other);
        match read {
            Ok(Ok((_, buf))) if buf.is_empty() => None,
            Ok(Ok((f, buf))) => Some((Ok(web::Bytes::from(buf)), Some(f))),
            Ok(Err(e)) | Err(e) => Some((Err(e), None)),
        }
    })
}
