//! Path parameters parsed once, before any handler runs a query.

use std::future::{ready, Ready};

use actix_web::{dev::Payload, FromRequest, HttpRequest};

use crate::domain::DeploymentId;
use crate::error::ApiError;

/// The `{id}` of a deployment route. Text that is not a deployment id is refused with the
/// answer an unknown deployment gets, `404`, without asking the database.
impl FromRequest for DeploymentId {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(deployment_id(req.match_info().get("id").unwrap_or("")))
    }
}

/// A deployment id from a path segment, or the `404` of an unknown deployment.
pub fn deployment_id(raw: &str) -> Result<DeploymentId, ApiError> {
    DeploymentId::parse(raw).ok_or(ApiError::NotFound("deployment"))
}
