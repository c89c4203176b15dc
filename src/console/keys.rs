//! `/admin/keys` (admins only): the agency's admin API keys. A new key is shown once, on the
//! page answering its creation, and never again (only its hash is stored); revoking asks to
//! confirm first (a plain form, no JavaScript). The audit log names keys by id, never the key.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use maud::{html, Markup};

use super::session::{Change, Staff};
use super::ui::{self, ConsoleError};
use crate::admin::{self, KeyInfo};
use crate::app::AppState;
use crate::domain::Role;
use crate::staff;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{get, post, resource};
    cfg.service(
        resource("/keys")
            .route(get().to(show))
            .route(post().to(create)),
    )
    .service(resource("/keys/{id}/revoke").route(post().to(revoke)));
}

/// The longest label a key may carry.
const LABEL_MAX: usize = 100;

fn notice_for(req: &HttpRequest) -> Option<&'static str> {
    ui::ok_message(
        req,
        &[
            ("revoked", "The key was revoked. It no longer works."),
            ("already", "That key had already been revoked."),
        ],
    )
}

/// `GET /admin/keys`.
pub async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    staff.require(Role::Admin)?;
    let keys = load_keys(&state, &staff).await?;
    let main = keys_page(&staff, &keys, None, "", notice_for(&req));
    Ok(ui::page(&staff, "/admin/keys", "API keys", main))
}

async fn load_keys(state: &AppState, staff: &Staff) -> Result<Vec<KeyInfo>, ConsoleError> {
    let agency = staff.agency_id.clone();
    Ok(state
        .db(move |c| Ok(admin::agency_keys(c, &agency)?))
        .await?)
}

/// A label's problem, if any: required, one line, at most `LABEL_MAX` characters.
fn label_problem(label: &str) -> Option<String> {
    if label.is_empty() {
        Some("Label: enter what the key is for, like \"Reporting script\"".into())
    } else if label.chars().count() > LABEL_MAX {
        Some(format!("Label: use at most {LABEL_MAX} characters"))
    } else if label.chars().any(char::is_control) {
        Some("Label: use one line of text".into())
    } else {
        None
    }
}

/// `POST /admin/keys`: a new key, shown on this response only (`200`, `no-store`).
pub async fn create(
    state: web::Data<AppState>,
    change: Change,
) -> Result<HttpResponse, ConsoleError> {
    let Change { staff, form } = change;
    staff.require(Role::Admin)?;
    let label = form.text("label");
    if let Some(msg) = label_problem(&label) {
        let keys = load_keys(&state, &staff).await?;
        let main = keys_page(&staff, &keys, Some(&msg), &label, None);
        return Ok(ui::page_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &staff,
            "/admin/keys",
            "API keys (there is a problem)",
            main,
        ));
    }
    let (agency, actor) = (staff.agency_id.clone(), staff.email.clone());
    let lbl = label.clone();
    let (id, key) = state
        .db(move |c| {
            Ok(c.transaction::<_, diesel::result::Error, _>(|c| {
                let (id, key) = admin::insert_key(c, &agency, Some(&lbl))?;
                staff::record(c, &agency, &actor, "create_key", &id, &lbl)?;
                Ok((id, key))
            })?)
        })
        .await?;
    Ok(ui::page(
        &staff,
        "/admin/keys",
        "New API key",
        created_page(&id, &label, &key),
    ))
}

fn created_page(id: &str, label: &str, key: &str) -> Markup {
    html! {
        h1 { "New API key" }
        div.usa-alert.usa-alert--warning role="alert" {
            div.usa-alert__body {
                h2.usa-alert__heading { "Copy this key now" }
                p.usa-alert__text {
                    "It is shown only this once. Store it in your secret manager: if it is lost, "
                    "revoke it and create another."
                }
            }
        }
        p { "Key " code { (id) } ", labelled " strong { (label) } "." }
        label.usa-label for="new-key" { "API key" }
        input.usa-input.cx-key #new-key type="text" readonly value=(key)
            autocomplete="off" spellcheck="false";
        p { "Send it as " code { "Authorization: Bearer KEY" } " to the admin API." }
        p { a.usa-link href="/admin/keys" { "Back to API keys" } }
    }
}

/// `POST /admin/keys/{id}/revoke`: without `confirm=yes`, the page asking to confirm; with it,
/// the key stops working at once. Another agency's key is `404`.
pub async fn revoke(
    state: web::Data<AppState>,
    change: Change,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let Change { staff, form } = change;
    staff.require(Role::Admin)?;
    let id = path.into_inner();
    let confirmed = form.get("confirm") == Some("yes");
    let (agency, actor, key_id) = (staff.agency_id.clone(), staff.email.clone(), id.clone());
    let found = state
        .db(move |c| {
            Ok(c.transaction::<_, diesel::result::Error, _>(|c| {
                let Some(info) = admin::agency_key(c, &agency, &key_id)? else {
                    return Ok(None);
                };
                if confirmed && admin::revoke_agency_key(c, &agency, &key_id)? {
                    staff::record(c, &agency, &actor, "revoke_key", &key_id, "")?;
                }
                Ok(Some(info))
            })?)
        })
        .await?;
    let Some((_, created, revoked, label)) = found else {
        return Err(ConsoleError::NotFound);
    };
    if revoked.is_some() {
        return Ok(ui::see_other("/admin/keys?ok=already"));
    }
    if confirmed {
        return Ok(ui::see_other("/admin/keys?ok=revoked"));
    }
    let main = html! {
        h1 { "Revoke this API key?" }
        p.usa-intro {
            "Key " code { (id) } " (" (label.unwrap_or_default()) "), created " (ui::when(created))
            ", stops working at once for every program that uses it. This cannot be undone."
        }
        form method="post" action={ "/admin/keys/" (id) "/revoke" } {
            (ui::csrf(&staff))
            input type="hidden" name="confirm" value="yes";
            div.cx-actions {
                button.usa-button.usa-button--secondary type="submit" { "Revoke key" }
                a.usa-link href="/admin/keys" { "Cancel" }
            }
        }
    };
    Ok(ui::page(
        &staff,
        "/admin/keys",
        "Confirm revoking a key",
        main,
    ))
}

fn keys_page(
    staff: &Staff,
    keys: &[KeyInfo],
    error: Option<&str>,
    label: &str,
    notice: Option<&str>,
) -> Markup {
    let errors: Vec<(String, String)> = error
        .map(|m| vec![("label".to_string(), m.to_string())])
        .unwrap_or_default();
    html! {
        h1 { "API keys" }
        (ui::error_summary(&errors))
        (ui::notice(notice))
        p { "Programs use these keys to call the admin API as " (staff.agency_name) ". A key is shown only when it is created." }
        @if keys.is_empty() {
            p { "This agency has no API keys." }
        } @else {
            (keys_table(staff, keys))
        }
        h2 { "Create a key" }
        form.usa-form method="post" action="/admin/keys" {
            (ui::csrf(staff))
            div.usa-form-group.usa-form-group--error[error.is_some()] {
                label.usa-label for="label" { "Label" }
                span.usa-hint #label-hint { "What the key is for, so you know which to revoke later." }
                @if let Some(msg) = error {
                    span.usa-error-message #label-error { (msg) }
                }
                input.usa-input.usa-input--error[error.is_some()] #label name="label" type="text"
                    maxlength="100" value=(label)
                    aria-describedby=(if error.is_some() { "label-hint label-error" } else { "label-hint" });
            }
            button.usa-button type="submit" { "Create key" }
        }
    }
}

fn keys_table(staff: &Staff, keys: &[KeyInfo]) -> Markup {
    html! {
        div.cx-table-scroll tabindex="0" role="region" aria-label="API keys" {
            table.usa-table.usa-table--borderless {
                caption { "API keys of " (staff.agency_name) ", newest first" }
                thead {
                    tr {
                        th scope="col" { "Key id" }
                        th scope="col" { "Label" }
                        th scope="col" { "Created" }
                        th scope="col" { "Status" }
                        th scope="col" { "Revoke" }
                    }
                }
                tbody {
                    @for (id, created, revoked, label) in keys {
                        tr {
                            th scope="row" { code { (id) } }
                            td { (label.as_deref().unwrap_or("")) }
                            td { (ui::when(*created)) }
                            @if let Some(r) = revoked {
                                td { "revoked " (ui::when(*r)) }
                                td { span.cx-muted { "-" } }
                            } @else {
                                td { "active" }
                                td {
                                    form method="post" action={ "/admin/keys/" (id) "/revoke" } {
                                        (ui::csrf(staff))
                                        button.usa-button.usa-button--unstyled type="submit" {
                                            "Revoke" span.usa-sr-only { " key " (id) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
