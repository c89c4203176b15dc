//! Email survey links: invitations queued from the admin API or a CSV file, delivered by the
//! outbox worker, answered through `/r/{token}` (the hosted page), refused through `/u/{token}`.

pub mod message;
pub mod outbox;
pub mod queue;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use secrecy::ExposeSecret;

use crate::app::AppState;
use crate::db::{self, schema::invitations, schema::opt_outs, AnyConnection};
use crate::error::ApiError;
use crate::registry::Deployment;
use crate::responses::{NewResponse, Stored};
use crate::widget::hosted::{self, html};
use crate::widget::page::{self, FormState};
use queue::{InviteRow, Policy, Summary};

/// Largest invitation batch: a file or a JSON list (10 MB is refused).
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
pub const CSV_COLUMNS: [&str; 4] = ["email", "transaction_id", "transaction_date", "locale"];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/r/{token}")
            .route(web::get().to(show))
            .route(web::post().to(answer)),
    )
    .route("/r/{token}/thanks", web::get().to(thanks))
    .service(
        web::resource("/u/{token}")
            .route(web::get().to(opt_out_page))
            .route(web::post().to(opt_out)),
    );
}

/// Parses a CSV batch (header `email,transaction_id,transaction_date,locale`), each row with
/// the line it starts on as an editor shows it (the header is line 1; a quoted cell may span
/// lines).
pub fn parse_csv(body: &[u8]) -> Result<Vec<(u64, InviteRow)>, ApiError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(body);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| ApiError::field("file", format!("not a CSV file: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    if header != CSV_COLUMNS {
        return Err(ApiError::field(
            "file",
            format!(
                "the header must be exactly {}, got {}",
                CSV_COLUMNS.join(","),
                header.join(",")
            ),
        ));
    }
    let mut rows = vec![];
    for (line, rec) in crate::csv_lines::records(&mut rdr, body) {
        let rec = rec.map_err(|e| {
            let why = format!("the row {}", crate::csv_lines::describe(&e));
            ApiError::Invalid(vec![
                crate::error::FieldError::new("file", why).at_line(line)
            ])
        })?;
        let get = |k: usize| rec.get(k).unwrap_or("").trim().to_string();
        let opt = |k: usize| Some(get(k)).filter(|s| !s.is_empty());
        rows.push((
            line,
            InviteRow {
                email: get(0),
                transaction_id: get(1),
                transaction_date: opt(2),
                locale: opt(3),
            },
        ));
    }
    if rows.is_empty() {
        return Err(ApiError::field("file", "has no rows"));
    }
    Ok(rows)
}

/// Queues `rows` for `deployment`: the batch is checked whole first, then each row.
pub fn queue_batch(
    c: &mut AnyConnection,
    state_defs: &crate::definitions::LoadedDefs,
    settings: &crate::configuration::Settings,
    deployment: &Deployment,
    rows: Vec<(u64, InviteRow)>,
    field_prefix: &str,
    progress: &dyn Fn(u64),
) -> Result<Summary, ApiError> {
    let secret = settings
        .secret
        .as_ref()
        .map(|s| s.expose_secret())
        .ok_or_else(|| ApiError::Conflict {
            field: "CX_SECRET".into(),
            detail: "invitations need CX_SECRET (the key of the address hashes) to be set".into(),
        })?;
    let ins = state_defs
        .current(&deployment.instrument_id)
        .ok_or_else(|| ApiError::internal("instrument not loaded"))?;
    if !deployment.is_open() {
        return Err(ApiError::Gone("the deployment is closed".into()));
    }
    queue::check_rows(&rows, &ins.locales, field_prefix)?;
    let policy = Policy {
        secret,
        cap_days: settings.invite_cap_days,
        default_locale: &ins.locales[0],
        now: db::now(),
    };
    Ok(queue::queue(c, deployment, rows, &policy, progress)?)
}

struct Found {
    id: String,
    deployment_id: String,
    agency_id: String,
    locale: String,
    status: String,
    expires_at: Option<NaiveDateTime>,
    email_hash: String,
}

fn find(c: &mut AnyConnection, token: &str) -> QueryResult<Option<Found>> {
    use invitations::dsl as i;
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let h = queue::token_hash(token);
    invitations::table
        .filter(i::token_hash.eq(h))
        .select((
            i::id,
            i::deployment_id,
            i::agency_id,
            i::locale,
            i::status,
            i::expires_at,
            i::email_hash,
        ))
        .first::<(
            String,
            String,
            String,
            String,
            String,
            Option<NaiveDateTime>,
            String,
        )>(c)
        .optional()
        .map(|o| {
            o.map(
                |(id, deployment_id, agency_id, locale, status, expires_at, email_hash)| Found {
                    id,
                    deployment_id,
                    agency_id,
                    locale,
                    status,
                    expires_at,
                    email_hash,
                },
            )
        })
}

/// The invitation of a link that may still be answered, or the page saying why not.
async fn usable(state: &AppState, token: &str) -> Result<Found, HttpResponse> {
    let t = token.to_string();
    let found = state
        .db(move |c| find(c, &t).map_err(ApiError::from))
        .await
        .map_err(|e| hosted::error_page(e, "en", None, None))?;
    let Some(f) = found else {
        return Err(link_page("en", StatusCode::NOT_FOUND, LinkProblem::Unknown));
    };
    match f.status.as_str() {
        "answered" => Err(link_page(&f.locale, StatusCode::GONE, LinkProblem::Used)),
        "sent" if f.expires_at.is_some_and(|e| e <= db::now()) => {
            Err(link_page(&f.locale, StatusCode::GONE, LinkProblem::Expired))
        }
        "sent" => Ok(f),
        _ => Err(link_page(
            &f.locale,
            StatusCode::NOT_FOUND,
            LinkProblem::Unknown,
        )),
    }
}

enum LinkProblem {
    Unknown,
    Used,
    Expired,
}

fn link_page(locale: &str, status: StatusCode, p: LinkProblem) -> HttpResponse {
    let es = locale == "es";
    let (title, body) = match (p, es) {
        (LinkProblem::Unknown, false) => (
            "This survey link is not valid",
            "Please check that you copied the whole link from the email.",
        ),
        (LinkProblem::Unknown, true) => (
            "Este enlace de encuesta no es válido",
            "Revise que haya copiado el enlace completo del correo electrónico.",
        ),
        (LinkProblem::Used, false) => (
            "This survey was already answered",
            "Each survey link can be used once. Thank you for your feedback.",
        ),
        (LinkProblem::Used, true) => (
            "Esta encuesta ya fue respondida",
            "Cada enlace se puede usar una vez. Gracias por sus comentarios.",
        ),
        (LinkProblem::Expired, false) => (
            "This survey link has expired",
            "Survey links work for a limited time after they are sent.",
        ),
        (LinkProblem::Expired, true) => (
            "Este enlace de encuesta venció",
            "Los enlaces de encuesta funcionan por un tiempo limitado después del envío.",
        ),
    };
    html(
        status,
        page::message_page(locale, None, "info", title, &[body.into()], None),
    )
}

async fn show(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    let f = match usable(&state, &token).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let (view, locale, ins) =
        match hosted::collecting(&state, &f.deployment_id, std::slice::from_ref(&f.locale)).await {
            Ok(x) => x,
            Err(page) => return page,
        };
    let form = hosted::form(
        &view,
        ins,
        locale,
        format!("/r/{token}"),
        f.id.clone(),
        FormState::default(),
    );
    html(StatusCode::OK, page::survey_page(&form))
}

async fn answer(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let token = path.into_inner();
    let f = match usable(&state, &token).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let fields = match hosted::read_form(&req, payload, page::page_locale(&f.locale)).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let (view, locale, ins) =
        match hosted::collecting(&state, &f.deployment_id, std::slice::from_ref(&f.locale)).await {
            Ok(x) => x,
            Err(page) => return page,
        };
    let valid = match hosted::answers_from_form(&fields, ins, locale) {
        Ok(v) => v,
        Err(errors) => {
            let form = hosted::form(
                &view,
                ins,
                locale,
                format!("/r/{token}"),
                f.id.clone(),
                FormState {
                    values: fields,
                    errors,
                },
            );
            return html(StatusCode::UNPROCESSABLE_ENTITY, page::survey_page(&form));
        }
    };
    // The invitation's id is the submission id: answering twice stores one response.
    let row = NewResponse {
        submission_id: Some(f.id.clone()),
        locale: locale.to_string(),
        ..NewResponse::counted(&view.deployment, ins, "email", valid)
    };
    let response_id = match state.writer.store_response(row, None).await {
        Ok(Stored::Created(id)) | Ok(Stored::Duplicate(id)) => id,
        Err(e) => return hosted::error_page(e, locale, Some(&view), Some(ins)),
    };
    // Spent only now that the response is stored.
    let id = f.id.clone();
    if let Err(e) = state
        .db(move |c| {
            use invitations::dsl as i;
            diesel::update(
                invitations::table
                    .filter(i::id.eq(&id))
                    .filter(i::status.eq("sent")),
            )
            .set((
                i::status.eq("answered"),
                i::answered_at.eq(Some(db::now())),
                i::response_id.eq(Some(response_id)),
            ))
            .execute(c)
            .map_err(ApiError::from)
        })
        .await
    {
        return hosted::error_page(e, locale, Some(&view), Some(ins));
    }
    // Thanks under the link itself: the deployment's id (which would let anyone answer an open
    // deployment again through /s/{id}) is never shown to the respondent.
    hosted::see_other(&format!("/r/{token}/thanks?locale={locale}"))
}

async fn thanks(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let token = path.into_inner();
    let found = state.db(move |c| with_agency(c, &token)).await;
    let Ok(Some((f, agency))) = found else {
        return link_page("en", StatusCode::NOT_FOUND, LinkProblem::Unknown);
    };
    let wanted = crate::intake::wanted_locales(&req, Some(&f.locale));
    hosted::thanks_page(&wanted, Some(&agency), None)
}

/// The opt-out link: a page with one button (a GET must not change anything: mail scanners
/// follow links). It names the agency whose surveys the person leaves: opting out is per agency.
async fn opt_out_page(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    let t = token.clone();
    let found = state.db(move |c| with_agency(c, &t)).await;
    let Ok(Some((f, agency))) = found else {
        return link_page("en", StatusCode::NOT_FOUND, LinkProblem::Unknown);
    };
    let es = f.locale == "es";
    let (title, text, button) = if es {
        (
            "Dejar de recibir encuestas",
            format!("Si se da de baja, {agency} no le enviará más invitaciones a encuestas a esta dirección. Las encuestas de otras agencias no se ven afectadas."),
            "Darme de baja",
        )
    } else {
        (
            "Stop survey emails",
            format!("If you opt out, {agency} will not send survey invitations to this address again. Other agencies' surveys are not affected."),
            "Opt out",
        )
    };
    let main = maud::html! {
        h1 { (title) }
        p { (text) }
        form method="post" action={ "/u/" (token) } {
            button.usa-button type="submit" { (button) }
        }
    };
    html(
        StatusCode::OK,
        page::shell(&f.locale, title, Some(&agency), main),
    )
}

/// The invitation of a link with the name of the agency that sent it.
fn with_agency(c: &mut AnyConnection, token: &str) -> Result<Option<(Found, String)>, ApiError> {
    let Some(f) = find(c, token)? else {
        return Ok(None);
    };
    let name: String = crate::db::schema::agencies::table
        .find(&f.agency_id)
        .select(crate::db::schema::agencies::name)
        .first(c)?;
    Ok(Some((f, name)))
}

async fn opt_out(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let token = path.into_inner();
    let t = token.clone();
    let done = state
        .db(move |c| {
            let Some((f, agency)) = with_agency(c, &t)? else {
                return Ok::<_, ApiError>(None);
            };
            let exists: i64 = opt_outs::table
                .filter(opt_outs::agency_id.eq(&f.agency_id))
                .filter(opt_outs::email_hash.eq(&f.email_hash))
                .count()
                .get_result(c)?;
            if exists == 0 {
                diesel::insert_into(opt_outs::table)
                    .values((
                        opt_outs::agency_id.eq(&f.agency_id),
                        opt_outs::email_hash.eq(&f.email_hash),
                        opt_outs::created_at.eq(db::now()),
                    ))
                    .execute(c)?;
            }
            Ok(Some((f.locale, agency)))
        })
        .await;
    match done {
        Ok(Some((locale, agency))) => {
            let (title, body) = if locale == "es" {
                (
                    "Se dio de baja",
                    format!("{agency} no le enviará más invitaciones a encuestas."),
                )
            } else {
                (
                    "You have opted out",
                    format!("{agency} will not send you survey invitations again."),
                )
            };
            html(
                StatusCode::OK,
                page::message_page(&locale, Some(&agency), "success", title, &[body], None),
            )
        }
        Ok(None) => link_page("en", StatusCode::NOT_FOUND, LinkProblem::Unknown),
        Err(e) => hosted::error_page(e, "en", None, None),
    }
}

/// Delivered invitations per deployment in `[start, end)`: survey opportunities.
pub fn delivered(
    c: &mut AnyConnection,
    deployment_id: &str,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> QueryResult<i64> {
    use invitations::dsl as i;
    invitations::table
        .filter(i::deployment_id.eq(deployment_id))
        .filter(i::sent_at.ge(start))
        .filter(i::sent_at.lt(end))
        .count()
        .get_result(c)
}
