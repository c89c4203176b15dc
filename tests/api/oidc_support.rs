//! The test OpenID provider (`tests/support/oidc-provider.mjs`, npm `oidc-provider` from
//! tests/browser/node_modules, which `scripts/test` installs) and a browser played with reqwest
//! against it. See the script's header for its clients and accounts.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The provider's `client_secret_basic` client.
pub const SECRET_CLIENT: &str = "secret-client";
pub const SECRET_CLIENT_SECRET: &str = "secret-client-secret";
/// The provider's `private_key_jwt` client; its key is [`client_key_pem`].
pub const JWT_CLIENT: &str = "jwt-client";

fn support() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support")
}

/// The `jwt-client`'s RSA private key (PKCS#8 PEM; a test key, registered nowhere else).
pub fn client_key_pem() -> String {
    std::fs::read_to_string(support().join("oidc-client-key.pem")).expect("read the test key")
}

/// A running test provider; stopped when dropped.
pub struct OidcServer {
    /// `http://localhost:PORT`
    pub issuer: String,
    pub port: u16,
    pub child: Child,
}

impl Drop for OidcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the provider on a free port with `redirect_uri` registered for both clients, and
/// waits (30 s at most: the whole suite may be loading both cores) for its `ready` line.
pub fn spawn_oidc(redirect_uri: &str) -> OidcServer {
    spawn_oidc_with(redirect_uri, &[])
}

/// [`spawn_oidc`] with more of the script's environment (`OIDC_EMAIL_IN_ID_TOKEN`, …).
pub fn spawn_oidc_with(redirect_uri: &str, env: &[(&str, &str)]) -> OidcServer {
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/node_modules");
    assert!(
        modules.join("oidc-provider").exists(),
        "the OIDC tests need {}/oidc-provider: run them with scripts/test (npm ci in tests/browser)",
        modules.display()
    );
    let mut child = Command::new("node")
        .arg(support().join("oidc-provider.mjs"))
        .arg("0")
        .env("OIDC_REDIRECT_URIS", redirect_uri)
        .env("OIDC_CLIENT_SECRET", SECRET_CLIENT_SECRET)
        .env(
            "OIDC_CLIENT_JWK",
            support().join("oidc-client-key.pub.jwk.json"),
        )
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the OIDC tests need node on PATH: run them with scripts/test");
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(issuer) = line.strip_prefix("ready ") {
                let _ = tx.send(issuer.to_owned());
            }
        }
    });
    let Ok(issuer) = rx.recv_timeout(Duration::from_secs(30)) else {
        let _ = child.kill();
        let mut log = String::new();
        let _ = stderr.read_to_string(&mut log);
        panic!("the test OpenID provider did not start:\n{log}");
    };
    // Its warnings (development keys, in-memory store, Node version) are expected: drain them.
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let port = issuer.rsplit(':').next().unwrap().parse().unwrap();
    OidcServer {
        issuer,
        port,
        child,
    }
}

/// What the provider sent the browser back to the redirect URI with.
#[derive(Debug)]
pub struct Callback {
    pub code: String,
    pub state: String,
}

/// Plays a browser (with a cookie jar) against the provider: follows `authorize_url`, signs in
/// on the development login form as `login`, approves the consent page, and returns the code
/// and state of the redirect to `redirect_uri` (which it does not follow).
pub async fn sign_in_at_provider(
    authorize_url: &url::Url,
    redirect_uri: &str,
    login: &str,
) -> Callback {
    let back_home = redirect_uri.to_owned();
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::custom(move |a| {
            if a.url().as_str().starts_with(&back_home) {
                a.stop()
            } else if a.previous().len() > 10 {
                a.error("too many redirects")
            } else {
                a.follow()
            }
        }))
        .build()
        .unwrap();
    let mut page = browser.get(authorize_url.clone()).send().await.unwrap();
    for _ in 0..4 {
        if page.status().is_redirection() {
            return callback(&page, redirect_uri);
        }
        let at = page.url().clone();
        let status = page.status();
        let html = page.text().await.unwrap();
        assert!(
            status.is_success(),
            "the provider answered {status}:\n{html}"
        );
        let action = at.join(&attribute(&html, "action=\"")).unwrap();
        let prompt = attribute(&html, "name=\"prompt\" value=\"");
        let form: Vec<(&str, &str)> = match prompt.as_str() {
            "login" => vec![("prompt", "login"), ("login", login), ("password", "any")],
            "consent" => vec![("prompt", "consent")],
            other => panic!("unexpected interaction {other}:\n{html}"),
        };
        page = browser.post(action).form(&form).send().await.unwrap();
    }
    panic!("no redirect to {redirect_uri} after the login and consent forms");
}

/// The `code` and `state` of a redirect to the redirect URI.
fn callback(r: &reqwest::Response, redirect_uri: &str) -> Callback {
    let location = r.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(redirect_uri),
        "redirected to {location}"
    );
    let url = url::Url::parse(location).unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if let Some(error) = param("error") {
        panic!("the provider redirected back with error {error}: {location}");
    }
    Callback {
        code: param("code").expect("code"),
        state: param("state").expect("state"),
    }
}

/// The value after the first `prefix` up to the next `"`, HTML entities for `&` undone.
fn attribute(html: &str, prefix: &str) -> String {
    let start = html
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in the page:\n{html}"))
        + prefix.len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&amp;", "&")
}
