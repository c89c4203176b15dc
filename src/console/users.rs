//! `/admin/users` (admins only): who holds which role in the agency, granting and changing roles,
//! and revoking them (with a confirmation step that needs no JavaScript). The agency always
//! keeps one administrator: the last one cannot demote or revoke themselves.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use maud::{html, Markup};

use super::session::{Change, Staff};
use super::ui::{self, ConsoleError};
use crate::app::AppState;
use crate::db::AnyConnection;
use crate::domain::{AgencyId, Role};
use crate::staff::{self, Member};

pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{get, post, resource};
    cfg.service(
        resource("/users")
            .route(get().to(show))
            .route(post().to(grant)),
    )
    .service(resource("/users/revoke").route(post().to(revoke)));
}

type Errors = Vec<(String, String)>;

const LAST_ADMIN: &str = "You are this agency's last administrator: make another person an \
                          administrator first, then change or remove your own role.";

/// What became of a requested change.
enum Outcome {
    Done,
    /// The agency would be left without an administrator; nothing changed.
    LastAdmin,
    /// The person holds no role in this agency.
    NotMember,
}

/// The fixed message for each `?ok=` word.
fn notice_for(req: &HttpRequest) -> Option<&'static str> {
    ui::ok_message(
        req,
        &[
            ("granted", "The role was saved."),
            (
                "revoked",
                "The person's role was removed and their sessions ended.",
            ),
        ],
    )
}

/// `GET /admin/users`.
pub async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    staff.require(Role::Admin)?;
    let members = load_members(&state, &staff).await?;
    let main = people_page(&staff, &members, &[], ("", ""), notice_for(&req));
    Ok(ui::page(&staff, "/admin/users", "Users", main))
}

async fn load_members(state: &AppState, staff: &Staff) -> Result<Vec<Member>, ConsoleError> {
    let agency = staff.agency_id.clone();
    Ok(state.db(move |c| Ok(staff::members(c, &agency)?)).await?)
}

/// The users page again with the form's problems: `422`, nothing stored.
async fn with_errors(
    state: &AppState,
    staff: &Staff,
    errors: &[(String, String)],
    entered: (&str, &str),
) -> Result<HttpResponse, ConsoleError> {
    let members = load_members(state, staff).await?;
    let main = people_page(staff, &members, errors, entered, None);
    Ok(ui::page_with(
        StatusCode::UNPROCESSABLE_ENTITY,
        staff,
        "/admin/users",
        "Users (there is a problem)",
        main,
    ))
}

/// Whether changing `email`'s role in `agency` to `new_role` (`None`: revoking it) would leave
/// the agency without an administrator.
fn leaves_no_admin(
    c: &mut AnyConnection,
    agency: &AgencyId,
    email: &str,
    new_role: Option<Role>,
) -> QueryResult<bool> {
    let members = staff::members(c, agency)?;
    let admins = members.iter().filter(|m| m.role == Role::Admin).count();
    let was_admin = members
        .iter()
        .any(|m| m.email == email && m.role == Role::Admin);
    Ok(was_admin && new_role != Some(Role::Admin) && admins <= 1)
}

/// `POST /admin/users`: gives a person a role here, or changes the role they hold.
pub async fn grant(
    state: web::Data<AppState>,
    change: Change,
) -> Result<HttpResponse, ConsoleError> {
    let Change { staff, form } = change;
    staff.require(Role::Admin)?;
    let (raw_email, raw_role) = (form.text("email"), form.text("role"));
    let mut errors: Errors = vec![];
    let email = staff::parse_email(&raw_email).map_err(|_| {
        errors.push((
            "email".into(),
            "Email: enter an email address, like name@agency.gov".into(),
        ))
    });
    let role = Role::parse(&raw_role).ok_or_else(|| {
        errors.push((
            "role".into(),
            "Role: choose viewer, manager or admin".into(),
        ))
    });
    let (Ok(email), Ok(role)) = (email, role) else {
        return with_errors(&state, &staff, &errors, (&raw_email, &raw_role)).await;
    };
    let (agency, actor, who) = (staff.agency_id.clone(), staff.email.clone(), email.clone());
    let outcome = state
        .db(move |c| {
            Ok(c.transaction::<_, diesel::result::Error, _>(|c| {
                if leaves_no_admin(c, &agency, &who, Some(role))? {
                    return Ok(Outcome::LastAdmin);
                }
                staff::grant(c, &agency, &who, role, &actor)?;
                Ok(Outcome::Done)
            })?)
        })
        .await?;
    match outcome {
        Outcome::LastAdmin => {
            let errors = vec![("role".to_string(), format!("Role: {LAST_ADMIN}"))];
            with_errors(&state, &staff, &errors, (&email, role.as_str())).await
        }
        // Someone who just gave up their admin role may no longer see this page.
        _ if email == staff.email && role != Role::Admin => Ok(ui::see_other("/admin")),
        _ => Ok(ui::see_other("/admin/users?ok=granted")),
    }
}

/// `POST /admin/users/revoke`: without `confirm=yes`, the page asking to confirm (nothing
/// changes); with it, the person's role here ends, and with it their sessions in this agency.
pub async fn revoke(
    state: web::Data<AppState>,
    change: Change,
) -> Result<HttpResponse, ConsoleError> {
    let Change { staff, form } = change;
    staff.require(Role::Admin)?;
    let email = staff::parse_email(&form.text("email")).map_err(|_| ConsoleError::NotFound)?;
    let confirmed = form.get("confirm") == Some("yes");
    let (agency, actor, who) = (staff.agency_id.clone(), staff.email.clone(), email.clone());
    let outcome = state
        .db(move |c| {
            Ok(c.transaction::<_, diesel::result::Error, _>(|c| {
                if !staff::members(c, &agency)?.iter().any(|m| m.email == who) {
                    return Ok(Outcome::NotMember);
                }
                if leaves_no_admin(c, &agency, &who, None)? {
                    return Ok(Outcome::LastAdmin);
                }
                if confirmed {
                    staff::revoke(c, &agency, &who, &actor)?;
                }
                Ok(Outcome::Done)
            })?)
        })
        .await?;
    match outcome {
        Outcome::NotMember => Err(ConsoleError::NotFound),
        Outcome::LastAdmin => {
            let errors = vec![("people".to_string(), LAST_ADMIN.to_string())];
            with_errors(&state, &staff, &errors, ("", "")).await
        }
        Outcome::Done if !confirmed => Ok(confirm_page(&staff, &email)),
        // Revoking oneself ended this very session: the overview sends on to sign in.
        Outcome::Done if email == staff.email => Ok(ui::see_other("/admin")),
        Outcome::Done => Ok(ui::see_other("/admin/users?ok=revoked")),
    }
}

fn confirm_page(staff: &Staff, email: &str) -> HttpResponse {
    let main = html! {
        h1 { "Remove this person's access?" }
        p.usa-intro {
            strong { (email) } " will lose their role in " (staff.agency_name)
            ". Their sessions in this agency end at once."
        }
        form method="post" action="/admin/users/revoke" {
            (ui::csrf(staff))
            input type="hidden" name="email" value=(email);
            input type="hidden" name="confirm" value="yes";
            div.cx-actions {
                button.usa-button.usa-button--secondary type="submit" { "Remove access" }
                a.usa-link href="/admin/users" { "Cancel" }
            }
        }
    };
    ui::page(staff, "/admin/users", "Confirm removing access", main)
}

fn people_page(
    staff: &Staff,
    members: &[Member],
    errors: &[(String, String)],
    entered: (&str, &str),
    notice: Option<&str>,
) -> Markup {
    html! {
        h1 { "Users" }
        (ui::error_summary(errors))
        (ui::notice(notice))
        p {
            "People who may use this agency's console. Viewers read; managers also change "
            "deployments, volumes, triage, invitations and imports; administrators also manage "
            "users, API keys and read the audit log."
        }
        (people_table(staff, members, errors))
        (grant_form(staff, errors, entered))
    }
}

fn people_table(staff: &Staff, members: &[Member], errors: &[(String, String)]) -> Markup {
    html! {
        @if let Some(msg) = ui::error_for(errors, "people") {
            span.usa-error-message #people-error { (msg) }
        }
        div.cx-table-scroll #people tabindex="0" role="region" aria-label="People and their roles" {
            table.usa-table.usa-table--borderless {
                caption { "People with a role in " (staff.agency_name) }
                thead {
                    tr {
                        th scope="col" { "Email" }
                        th scope="col" { "Role" }
                        th scope="col" { "Last sign-in" }
                        th scope="col" { "Change role" }
                        th scope="col" { "Remove" }
                    }
                }
                tbody {
                    @for (i, m) in members.iter().enumerate() {
                        (person_row(staff, i, m))
                    }
                }
            }
        }
    }
}

fn person_row(staff: &Staff, i: usize, m: &Member) -> Markup {
    let select_id = format!("role-{i}");
    html! {
        tr {
            th scope="row" { (m.email) }
            td { (m.role.as_str()) }
            td { (m.last_sign_in_at.map(ui::when).unwrap_or_else(|| "never".into())) }
            td {
                form.cx-actions method="post" action="/admin/users" {
                    (ui::csrf(staff))
                    input type="hidden" name="email" value=(m.email);
                    label.usa-label.cx-inline-label for=(select_id) { "New role" }
                    (role_select(&select_id, m.role.as_str(), None))
                    button.usa-button.usa-button--outline type="submit" {
                        "Change" span.usa-sr-only { " the role of " (m.email) }
                    }
                }
            }
            td {
                form method="post" action="/admin/users/revoke" {
                    (ui::csrf(staff))
                    input type="hidden" name="email" value=(m.email);
                    button.usa-button.usa-button--unstyled type="submit" {
                        "Remove" span.usa-sr-only { " " (m.email) }
                    }
                }
            }
        }
    }
}

fn role_select(id: &str, selected: &str, described_by: Option<&str>) -> Markup {
    html! {
        select.usa-select #(id) name="role" aria-describedby=[described_by] {
            @if Role::parse(selected).is_none() {
                option value="" { "- Select -" }
            }
            @for r in Role::ALL {
                option value=(r.as_str()) selected[r.as_str() == selected] { (r.as_str()) }
            }
        }
    }
}

fn grant_form(staff: &Staff, errors: &[(String, String)], entered: (&str, &str)) -> Markup {
    let email_err = ui::error_for(errors, "email");
    let role_err = ui::error_for(errors, "role");
    html! {
        h2 { "Give a person a role" }
        p { "A person who already has a role here gets the new one instead. They sign in with this email address." }
        form.usa-form method="post" action="/admin/users" {
            (ui::csrf(staff))
            div.usa-form-group.usa-form-group--error[email_err.is_some()] {
                label.usa-label for="email" { "Email" }
                @if let Some(msg) = email_err {
                    span.usa-error-message #email-error { (msg) }
                }
                input.usa-input.usa-input--error[email_err.is_some()] #email name="email" type="email"
                    autocomplete="off" value=(entered.0)
                    aria-describedby=[email_err.map(|_| "email-error")];
            }
            div.usa-form-group.usa-form-group--error[role_err.is_some()] {
                label.usa-label for="role" { "Role" }
                @if let Some(msg) = role_err {
                    span.usa-error-message #role-error { (msg) }
                }
                (role_select("role", entered.1, role_err.map(|_| "role-error")))
            }
            button.usa-button type="submit" { "Save role" }
        }
    }
}
