//! The invitations route of the admin API: a JSON list of recipients for one deployment,
//! queued by the email module.

use actix_web::{web, HttpRequest, HttpResponse};

use super::AdminKey;
use crate::app::AppState;
use crate::db::AnyConnection;
use crate::domain::{AgencyId, DeploymentId};
use crate::email::{self, queue::InviteRow, queue::Summary};
use crate::error::ApiError;

/// `POST /api/v1/admin/deployments/{id}/invitations`: a JSON list of recipients.
#[utoipa::path(post, path = "/api/v1/admin/deployments/{id}/invitations", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content = Vec<InviteRow>),
    responses((status = 202, body = Summary), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 410, body = crate::error::Problem),
              (status = 413, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_invitations(
    state: web::Data<AppState>,
    key: AdminKey,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = crate::body::read_body(&req, payload, email::MAX_BATCH_BYTES).await?;
    let list: Vec<InviteRow> = serde_json::from_slice(&body).map_err(|e| {
        ApiError::field(
            "body",
            format!(
                "must be a JSON list of {{email, transaction_id, transaction_date?, locale?}}: {e}"
            ),
        )
    })?;
    if list.is_empty() {
        return Err(ApiError::field("body", "the list is empty"));
    }
    let rows: Vec<(u64, InviteRow)> = list
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i as u64 + 1, r))
        .collect();
    let (agency, id) = (key.agency_id.clone(), crate::paths::deployment_id(&path)?);
    let st = state.clone();
    let summary = state
        .db(move |c| queue_for(c, &st, &agency, &id, rows))
        .await?;
    Ok(HttpResponse::Accepted().json(summary))
}

/// Queues `rows` (each with its line) for deployment `id` of `agency`: `404` if the agency has
/// no such deployment. The batch of the admin API and of the console's CSV upload.
pub fn queue_for(
    c: &mut AnyConnection,
    state: &AppState,
    agency: &AgencyId,
    id: &DeploymentId,
    rows: Vec<(u64, InviteRow)>,
) -> Result<Summary, ApiError> {
    let d =
        crate::registry::find_deployment(c, agency, id)?.ok_or(ApiError::NotFound("deployment"))?;
    email::queue_batch(c, &state.defs, &state.settings, &d, rows, "", &|_| {})
}
