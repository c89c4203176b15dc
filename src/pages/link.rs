//! The pages behind an invitation's links: `/r/{token}` shows the survey form and takes its
//! answers (one response per invitation), `/u/{token}` opts the address out of the agency's
//! survey emails. A link names its invitation by a token whose hash is stored.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::hosted::{self, html, Answering};
use super::page::{self, FormState};
use crate::app::AppState;
use crate::db::{self, schema::invitations, schema::opt_outs, AnyConnection};
use crate::email::queue;
use crate::error::ApiError;
use crate::responses::Stored;

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
    let answering = Answering {
        view: &view,
        ins,
        locale,
        action: format!("/r/{token}"),
        // The invitation's id is the submission id: answering twice stores one response.
        submission_id: f.id.clone(),
        // Thanks under the link itself: the deployment's id (which would let anyone answer an
        // open deployment again through /s/{id}) is never shown to the respondent.
        thanks: format!("/r/{token}/thanks?locale={locale}"),
        source: "email",
    };
    let state = &state;
    hosted::store_answers(answering, fields, |row| async move {
        let response_id = match state.writer.store_response(row, None).await? {
            Stored::Created(id) | Stored::Duplicate(id) => id,
        };
        // Spent only now that the response is stored.
        spend(state, f.id, response_id).await
    })
    .await
}

/// Marks the invitation answered by `response_id`.
async fn spend(state: &AppState, id: String, response_id: String) -> Result<(), ApiError> {
    state
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
        .map(|_| ())
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
                let inserted = diesel::insert_into(opt_outs::table)
                    .values((
                        opt_outs::agency_id.eq(&f.agency_id),
                        opt_outs::email_hash.eq(&f.email_hash),
                        opt_outs::created_at.eq(db::now()),
                    ))
                    .execute(c);
                // A second click (or the mail client's one-click POST) racing this one
                // recorded the same opt-out first: that is success, not an error page.
                match inserted {
                    Err(e) if !db::is_unique_violation(&e) => return Err(e.into()),
                    _ => {}
                }
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
