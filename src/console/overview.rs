//! `GET /admin`: the agency at a glance.

use actix_web::{web, HttpResponse};
use maud::html;

use super::session::Staff;
use super::ui::{self, ConsoleError};
use crate::app::AppState;

pub async fn show(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ConsoleError> {
    let _ = &state;
    Ok(ui::page(
        &staff,
        "/admin",
        "Overview",
        html! {
            h1 { (staff.agency_name) }
        },
    ))
}
