//! `serve`: the HTTP service.

use std::process::ExitCode;

use crate::configuration::Settings;
use crate::startup::Application;

pub fn serve(settings: Settings) -> ExitCode {
    crate::telemetry::init();
    let result = actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)
            .await
            .map_err(|e| e.to_string())?;
        app.run_until_stopped().await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
