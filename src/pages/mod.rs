//! The HTML that respondents see: the hosted survey page `/s/{deployment}`, the pages behind an
//! invitation's links (`/r/{token}`, `/u/{token}`), and, in development, the widget's demo host
//! pages. U.S. Web Design System markup, complete without JavaScript.

pub mod demo;
pub mod hosted;
pub mod link;
pub mod page;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(hosted::routes)
        .configure(link::routes)
        .configure(demo::routes);
}
