//! Who is surveyed where: agencies, HISPs, services with their channels, and deployments of an
//! instrument at a transaction point. Created by the admin API and by registry files.

pub mod cache;
pub mod file;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{agencies, deployments, hisps, services};
use crate::db::{self, AnyConnection};
use crate::domain::{Access, AgencyId, DeploymentId, DeploymentStatus};
use crate::error::ApiError;

/// OMB's channel vocabulary (A-11 Section 280 collection details).
pub const CHANNELS: [&str; 18] = [
    "computer",
    "mobile",
    "email",
    "chatbot",
    "phone",
    "automated_phone",
    "in_person",
    "paper",
    "postal_mail",
    "fax",
    "self_service_kiosk",
    "other_non_digital",
    "website",
    "mobile_app",
    "live_chat",
    "sms_text_messages",
    "social_media",
    "other_digital",
];

pub fn is_channel(s: &str) -> bool {
    CHANNELS.contains(&s)
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug, Serialize)]
#[diesel(table_name = agencies)]
pub struct Agency {
    pub id: AgencyId,
    pub slug: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = hisps)]
pub struct Hisp {
    pub id: String,
    pub agency_id: AgencyId,
    pub slug: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = services)]
pub struct Service {
    pub id: String,
    pub agency_id: AgencyId,
    pub hisp_id: String,
    pub slug: String,
    pub name: String,
    /// JSON array of channel names.
    pub channels: String,
    pub created_at: NaiveDateTime,
}

impl Service {
    pub fn channel_list(&self) -> Vec<String> {
        serde_json::from_str(&self.channels).unwrap_or_default()
    }
}

#[derive(Queryable, Selectable, Insertable, AsChangeset, Clone, Debug)]
#[diesel(table_name = deployments)]
pub struct Deployment {
    pub id: String,
    pub agency_id: AgencyId,
    pub service_id: String,
    pub instrument_id: String,
    pub channel: String,
    pub transaction_point: String,
    /// JSON array of origins (`scheme://host[:port]`).
    pub allowed_origins: String,
    pub status: DeploymentStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub access: Access,
    /// The registry file declaring this deployment; such rows change only through the file.
    pub managed_by: Option<String>,
}

impl Deployment {
    pub fn invitation_only(&self) -> bool {
        self.access == Access::Invitation
    }

    pub fn origins(&self) -> Vec<String> {
        serde_json::from_str(&self.allowed_origins).unwrap_or_default()
    }

    pub fn is_open(&self) -> bool {
        self.status == DeploymentStatus::Open
    }
}

/// A deployment with the names a renderer puts into the question text.
#[derive(Clone, Debug)]
pub struct DeploymentView {
    pub deployment: Deployment,
    pub service: Service,
    pub hisp: Hisp,
    pub agency: Agency,
}

impl DeploymentView {
    /// `text` with `{service}` and `{agency}` replaced by this deployment's names: the one
    /// place question texts, PRA statements, pages, messages and reports fill them in.
    pub fn fill(&self, text: &str) -> String {
        text.replace("{service}", &self.service.name)
            .replace("{agency}", &self.agency.name)
    }
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Normalizes an allowed origin to `scheme://host[:port]`, the form browsers send.
pub fn parse_origin(raw: &str) -> Result<String, String> {
    let u = url::Url::parse(raw).map_err(|_| format!("{raw:?} is not a URL"))?;
    if !matches!(u.scheme(), "https" | "http") || u.host_str().is_none() {
        return Err(format!("{raw:?} must be an http(s) origin"));
    }
    if u.path() != "/" || u.query().is_some() || u.fragment().is_some() {
        return Err(format!("{raw:?} must be an origin only, without a path"));
    }
    Ok(u.origin().ascii_serialization())
}

pub fn find_agency_by_slug(conn: &mut AnyConnection, slug: &str) -> QueryResult<Option<Agency>> {
    agencies::table
        .filter(agencies::slug.eq(slug))
        .select(Agency::as_select())
        .first(conn)
        .optional()
}

pub fn ensure_agency(
    conn: &mut AnyConnection,
    slug: &str,
    name: Option<&str>,
) -> QueryResult<Agency> {
    if let Some(mut a) = find_agency_by_slug(conn, slug)? {
        if let Some(n) = name.filter(|n| *n != a.name) {
            diesel::update(agencies::table.find(&a.id))
                .set(agencies::name.eq(n))
                .execute(conn)?;
            a.name = n.to_string();
        }
        return Ok(a);
    }
    let a = Agency {
        id: AgencyId::from_stored(new_id()),
        slug: slug.to_string(),
        name: name.unwrap_or(slug).to_string(),
        created_at: db::now(),
    };
    diesel::insert_into(agencies::table)
        .values(&a)
        .execute(conn)?;
    Ok(a)
}

fn conflict_on_unique(e: diesel::result::Error, field: &str, what: String) -> ApiError {
    if db::is_unique_violation(&e) {
        ApiError::Conflict {
            field: field.into(),
            detail: what,
        }
    } else {
        e.into()
    }
}

pub fn create_hisp(
    conn: &mut AnyConnection,
    agency_id: &AgencyId,
    slug: &str,
    name: &str,
) -> Result<Hisp, ApiError> {
    let h = Hisp {
        id: new_id(),
        agency_id: agency_id.clone(),
        slug: slug.into(),
        name: name.into(),
        created_at: db::now(),
    };
    diesel::insert_into(hisps::table)
        .values(&h)
        .execute(conn)
        .map_err(|e| {
            conflict_on_unique(
                e,
                "slug",
                format!("a HISP with slug {slug:?} already exists"),
            )
        })?;
    Ok(h)
}

/// One page of an agency's HISPs by `(slug, id)`, after `after` (keyset, never an offset):
/// at most `limit` rows.
pub fn list_hisps(
    conn: &mut AnyConnection,
    agency_id: &AgencyId,
    after: Option<(String, String)>,
    limit: i64,
) -> QueryResult<Vec<Hisp>> {
    let mut q = hisps::table
        .filter(hisps::agency_id.eq(agency_id))
        .order((hisps::slug, hisps::id))
        .select(Hisp::as_select())
        .limit(limit)
        .into_boxed();
    if let Some((slug, id)) = after {
        q = q.filter(
            hisps::slug
                .gt(slug.clone())
                .or(hisps::slug.eq(slug).and(hisps::id.gt(id))),
        );
    }
    q.load(conn)
}

pub fn find_hisp(
    conn: &mut AnyConnection,
    agency_id: &AgencyId,
    slug: &str,
) -> QueryResult<Option<Hisp>> {
    hisps::table
        .filter(hisps::agency_id.eq(agency_id).and(hisps::slug.eq(slug)))
        .select(Hisp::as_select())
        .first(conn)
        .optional()
}

pub fn find_service(
    conn: &mut AnyConnection,
    agency_id: &AgencyId,
    slug: &str,
) -> QueryResult<Option<Service>> {
    services::table
        .filter(
            services::agency_id
                .eq(agency_id)
                .and(services::slug.eq(slug)),
        )
        .select(Service::as_select())
        .first(conn)
        .optional()
}

pub fn create_service(
    conn: &mut AnyConnection,
    hisp: &Hisp,
    slug: &str,
    name: &str,
    channels: &[String],
) -> Result<Service, ApiError> {
    let s = Service {
        id: new_id(),
        agency_id: hisp.agency_id.clone(),
        hisp_id: hisp.id.clone(),
        slug: slug.into(),
        name: name.into(),
        channels: serde_json::to_string(channels).unwrap_or_else(|_| "[]".into()),
        created_at: db::now(),
    };
    diesel::insert_into(services::table)
        .values(&s)
        .execute(conn)
        .map_err(|e| {
            conflict_on_unique(
                e,
                "slug",
                format!("a service with slug {slug:?} already exists"),
            )
        })?;
    Ok(s)
}

/// One page of an agency's services by `(slug, id)` with their HISP's slug, after `after`.
pub fn list_services(
    conn: &mut AnyConnection,
    agency_id: &AgencyId,
    after: Option<(String, String)>,
    limit: i64,
) -> QueryResult<Vec<(Service, String)>> {
    let mut q = services::table
        .inner_join(hisps::table)
        .filter(services::agency_id.eq(agency_id))
        .order((services::slug, services::id))
        .select((Service::as_select(), hisps::slug))
        .limit(limit)
        .into_boxed();
    if let Some((slug, id)) = after {
        q = q.filter(
            services::slug
                .gt(slug.clone())
                .or(services::slug.eq(slug).and(services::id.gt(id))),
        );
    }
    q.load(conn)
}

pub fn insert_deployment(conn: &mut AnyConnection, d: &Deployment) -> QueryResult<()> {
    diesel::insert_into(deployments::table)
        .values(d)
        .execute(conn)
        .map(|_| ())
}

/// One page of an agency's deployments by `(created_at, id)` with their service's slug, after
/// `after`.
pub fn list_deployments(
    conn: &mut AnyConnection,
    agency_id: &AgencyId,
    after: Option<(NaiveDateTime, String)>,
    limit: i64,
) -> QueryResult<Vec<(Deployment, String)>> {
    let mut q = deployments::table
        .inner_join(services::table)
        .filter(deployments::agency_id.eq(agency_id))
        .order((deployments::created_at, deployments::id))
        .select((Deployment::as_select(), services::slug))
        .limit(limit)
        .into_boxed();
    if let Some((at, id)) = after {
        q = q.filter(
            deployments::created_at
                .gt(at)
                .or(deployments::created_at.eq(at).and(deployments::id.gt(id))),
        );
    }
    q.load(conn)
}

/// A deployment by id, only if it belongs to `agency_id`.
pub fn find_deployment(
    conn: &mut AnyConnection,
    agency_id: &AgencyId,
    id: &DeploymentId,
) -> QueryResult<Option<Deployment>> {
    deployments::table
        .filter(
            deployments::id
                .eq(id)
                .and(deployments::agency_id.eq(agency_id)),
        )
        .select(Deployment::as_select())
        .first(conn)
        .optional()
}

pub fn set_deployment_status(
    conn: &mut AnyConnection,
    id: &str,
    status: DeploymentStatus,
) -> QueryResult<()> {
    diesel::update(deployments::table.find(id))
        .set((
            deployments::status.eq(status),
            deployments::updated_at.eq(db::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn deployment_view(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<DeploymentView>> {
    let row = deployments::table
        .inner_join(services::table.inner_join(hisps::table.inner_join(agencies::table)))
        .filter(deployments::id.eq(id))
        .select((
            Deployment::as_select(),
            Service::as_select(),
            Hisp::as_select(),
            Agency::as_select(),
        ))
        .first::<(Deployment, Service, Hisp, Agency)>(conn)
        .optional()?;
    Ok(
        row.map(|(deployment, service, hisp, agency)| DeploymentView {
            deployment,
            service,
            hisp,
            agency,
        }),
    )
}

/// Open deployments of every agency, newest first, as `(id, "service – instrument")`: the
/// development demo's links.
pub fn open_deployment_labels(conn: &mut AnyConnection) -> QueryResult<Vec<(String, String)>> {
    let rows: Vec<(String, String, String)> = deployments::table
        .inner_join(services::table)
        .filter(deployments::status.eq(DeploymentStatus::Open))
        .order((deployments::created_at.desc(), deployments::id))
        .select((deployments::id, services::name, deployments::instrument_id))
        .limit(50)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, service, ins)| (id, format!("{service} – {ins}")))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::parse_origin;

    #[test]
    fn an_origin_is_scheme_host_and_port_only() {
        assert_eq!(
            parse_origin("https://Example.GOV").unwrap(),
            "https://example.gov"
        );
        assert_eq!(
            parse_origin("http://localhost:8080/").unwrap(),
            "http://localhost:8080"
        );
        assert_eq!(
            parse_origin("https://example.gov:443").unwrap(),
            "https://example.gov"
        );
    }

    #[test]
    fn anything_more_or_less_is_refused() {
        assert_eq!(
            parse_origin("example.gov").unwrap_err(),
            "\"example.gov\" is not a URL"
        );
        for raw in ["ftp://example.gov", "file:///etc", "data:text/plain,x"] {
            assert_eq!(
                parse_origin(raw).unwrap_err(),
                format!("{raw:?} must be an http(s) origin")
            );
        }
        for raw in [
            "https://example.gov/apply",
            "https://example.gov/?q=1",
            "https://example.gov/#top",
        ] {
            assert_eq!(
                parse_origin(raw).unwrap_err(),
                format!("{raw:?} must be an origin only, without a path")
            );
        }
    }
}
