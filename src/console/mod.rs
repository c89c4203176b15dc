//! The staff console: sign-in (OIDC), sessions, CSRF, pages.

pub mod oidc;
