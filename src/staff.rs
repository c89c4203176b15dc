//! Agency staff: the people who sign in to the console, their role in each agency, and the
//! audit log of what people and keys changed. Below HTTP: the CLI and the console both use it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{agencies, audit_log, staff_grants, staff_sessions, staff_users};
use crate::db::{self, AnyConnection};
use crate::domain::{AgencyId, Role};
use crate::registry;

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = staff_users)]
pub struct StaffUser {
    pub id: String,
    pub email: String,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_sign_in_at: Option<NaiveDateTime>,
}

/// An email address as staff are matched by it: trimmed, lowercase, and shaped like an address.
pub fn parse_email(raw: &str) -> Result<String, String> {
    use validator::ValidateEmail;
    let e = raw.trim().to_lowercase();
    if e.len() <= 254 && e.validate_email() {
        Ok(e)
    } else {
        Err(format!("{raw:?} is not an email address"))
    }
}

/// Addresses are kept and compared trimmed and lowercase, whoever passes them in (an identity
/// provider may send `Ana@Agency.gov` for the `ana@agency.gov` an admin granted).
fn normal(email: &str) -> String {
    email.trim().to_lowercase()
}

fn user_by_email(c: &mut AnyConnection, email: &str) -> QueryResult<Option<StaffUser>> {
    staff_users::table
        .filter(staff_users::email.eq(normal(email)))
        .select(StaffUser::as_select())
        .first(c)
        .optional()
}

fn ensure_user(c: &mut AnyConnection, email: &str) -> QueryResult<StaffUser> {
    if let Some(u) = user_by_email(c, email)? {
        return Ok(u);
    }
    let u = StaffUser {
        id: registry::new_id(),
        email: normal(email),
        issuer: None,
        subject: None,
        created_at: db::now(),
        last_sign_in_at: None,
    };
    diesel::insert_into(staff_users::table)
        .values(&u)
        .execute(c)?;
    Ok(u)
}

/// Gives `email` the `role` in `agency` (replacing any role they had there), and logs it.
pub fn grant(
    c: &mut AnyConnection,
    agency: &AgencyId,
    email: &str,
    role: Role,
    by: &str,
) -> QueryResult<()> {
    c.transaction(|c| {
        let user = ensure_user(c, email)?;
        diesel::delete(
            staff_grants::table
                .filter(staff_grants::user_id.eq(&user.id))
                .filter(staff_grants::agency_id.eq(agency)),
        )
        .execute(c)?;
        diesel::insert_into(staff_grants::table)
            .values((
                staff_grants::user_id.eq(&user.id),
                staff_grants::agency_id.eq(agency),
                staff_grants::role.eq(role),
                staff_grants::granted_at.eq(db::now()),
                staff_grants::granted_by.eq(by),
            ))
            .execute(c)?;
        record(c, agency, by, "grant", &user.email, role.as_str())
    })
}

/// Takes `email`'s role in `agency` away and ends their sessions there. `false` if they had none.
pub fn revoke(
    c: &mut AnyConnection,
    agency: &AgencyId,
    email: &str,
    by: &str,
) -> QueryResult<bool> {
    c.transaction(|c| {
        let Some(user) = user_by_email(c, email)? else {
            return Ok(false);
        };
        let n = diesel::delete(
            staff_grants::table
                .filter(staff_grants::user_id.eq(&user.id))
                .filter(staff_grants::agency_id.eq(agency)),
        )
        .execute(c)?;
        diesel::delete(
            staff_sessions::table
                .filter(staff_sessions::user_id.eq(&user.id))
                .filter(staff_sessions::agency_id.eq(agency)),
        )
        .execute(c)?;
        if n > 0 {
            record(c, agency, by, "revoke", email, "")?;
        }
        Ok(n > 0)
    })
}

/// One person with a role in an agency.
#[derive(Clone, Debug)]
pub struct Member {
    pub email: String,
    pub role: Role,
    pub granted_at: NaiveDateTime,
    pub last_sign_in_at: Option<NaiveDateTime>,
}

/// The agency's people, by email.
pub fn members(c: &mut AnyConnection, agency: &AgencyId) -> QueryResult<Vec<Member>> {
    let rows: Vec<(String, Role, NaiveDateTime, Option<NaiveDateTime>)> = staff_grants::table
        .inner_join(staff_users::table)
        .filter(staff_grants::agency_id.eq(agency))
        .order(staff_users::email)
        .select((
            staff_users::email,
            staff_grants::role,
            staff_grants::granted_at,
            staff_users::last_sign_in_at,
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(email, role, granted_at, last_sign_in_at)| Member {
            email,
            role,
            granted_at,
            last_sign_in_at,
        })
        .collect())
}

/// One agency a person may work in.
#[derive(Clone, Debug)]
pub struct Membership {
    pub agency_id: AgencyId,
    pub agency_slug: String,
    pub agency_name: String,
    pub role: Role,
}

/// The agencies `user_id` holds a role in, by name.
pub fn memberships(c: &mut AnyConnection, user_id: &str) -> QueryResult<Vec<Membership>> {
    let rows: Vec<(AgencyId, String, String, Role)> = staff_grants::table
        .inner_join(agencies::table)
        .filter(staff_grants::user_id.eq(user_id))
        .order(agencies::name)
        .select((
            agencies::id,
            agencies::slug,
            agencies::name,
            staff_grants::role,
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(agency_id, agency_slug, agency_name, role)| Membership {
            agency_id,
            agency_slug,
            agency_name,
            role,
        })
        .collect())
}

/// The person an identity provider vouches for: by issuer + subject once known, else (first
/// sign-in) by verified email, which then binds the subject. `None`: nobody with that email
/// was ever granted a role, or the email belongs to another subject already.
pub fn match_identity(
    c: &mut AnyConnection,
    issuer: &str,
    subject: &str,
    email: &str,
) -> QueryResult<Option<StaffUser>> {
    c.transaction(|c| {
        let bound: Option<StaffUser> = staff_users::table
            .filter(staff_users::issuer.eq(issuer))
            .filter(staff_users::subject.eq(subject))
            .select(StaffUser::as_select())
            .first(c)
            .optional()?;
        if bound.is_some() {
            return Ok(bound);
        }
        let Some(u) = user_by_email(c, email)? else {
            return Ok(None);
        };
        if u.subject.is_some() {
            // Someone else signed in with this email before: an address that changed hands
            // at the provider must not inherit their roles.
            return Ok(None);
        }
        diesel::update(staff_users::table.find(&u.id))
            .set((
                staff_users::issuer.eq(issuer),
                staff_users::subject.eq(subject),
            ))
            .execute(c)?;
        Ok(Some(u))
    })
}

/// The person with this email (break-glass links name people by email).
pub fn find_by_email(c: &mut AnyConnection, email: &str) -> QueryResult<Option<StaffUser>> {
    user_by_email(c, email)
}

pub fn touch_sign_in(c: &mut AnyConnection, user_id: &str) -> QueryResult<()> {
    diesel::update(staff_users::table.find(user_id))
        .set(staff_users::last_sign_in_at.eq(Some(db::now())))
        .execute(c)
        .map(drop)
}

/// Writes one line of the agency's audit log: who (an email or `key:ID`), did what, to what.
pub fn record(
    c: &mut AnyConnection,
    agency: &AgencyId,
    actor: &str,
    action: &str,
    object: &str,
    detail: &str,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::agency_id.eq(agency),
            audit_log::at.eq(db::now()),
            audit_log::actor.eq(actor),
            audit_log::action.eq(action),
            audit_log::object.eq(object),
            audit_log::detail.eq(detail),
        ))
        .execute(c)
        .map(drop)
}

#[derive(Queryable, Clone, Debug)]
pub struct AuditLine {
    pub id: i64,
    pub at: NaiveDateTime,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub detail: String,
}

/// The agency's audit log, newest first, `limit` lines before line `before` (keyset).
pub fn audit_page(
    c: &mut AnyConnection,
    agency: &AgencyId,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<AuditLine>> {
    let mut q = audit_log::table
        .filter(audit_log::agency_id.eq(agency))
        .order(audit_log::id.desc())
        .limit(limit)
        .select((
            audit_log::id,
            audit_log::at,
            audit_log::actor,
            audit_log::action,
            audit_log::object,
            audit_log::detail,
        ))
        .into_boxed();
    if let Some(b) = before {
        q = q.filter(audit_log::id.lt(b));
    }
    q.load(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_matched_lowercase_and_trimmed() {
        assert_eq!(parse_email(" Ana@Agency.GOV ").unwrap(), "ana@agency.gov");
        assert!(parse_email("not an email").is_err());
        assert!(parse_email("").is_err());
    }
}
