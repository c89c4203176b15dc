//! `cx-survey healthcheck`: one HTTP/1.0 `GET /readyz` over a plain TCP connection, for a
//! container `HEALTHCHECK` or an orchestrator probe (no curl in the image). Exit 0 when the
//! server answers `200` within the timeout, 1 otherwise.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

/// `bind` is the server's `--bind` / `CX_BIND`, probed when no `url` is given.
pub fn run(url: Option<&str>, bind: &str) -> ExitCode {
    let base = match url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => format!("http://{}", loopback_for(bind)),
    };
    match probe(&base, TIMEOUT) {
        Ok(()) => {
            println!("ready: {base}/readyz");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("not ready: {base}/readyz: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A server bound to every address (`0.0.0.0`, `[::]`) is probed on the loopback address of
/// the same family.
fn loopback_for(bind: &str) -> String {
    match bind.parse::<SocketAddr>() {
        Ok(SocketAddr::V4(a)) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        Ok(SocketAddr::V6(a)) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        _ => bind.to_string(),
    }
}

/// `Ok` when `GET {base}/readyz` answers `200`.
pub fn probe(base: &str, timeout: Duration) -> Result<(), String> {
    let url = url::Url::parse(base).map_err(|e| format!("bad URL: {e}"))?;
    if url.scheme() != "http" {
        return Err("only http:// is probed (the server itself speaks plain HTTP)".into());
    }
    let host = url.host_str().ok_or("no host")?;
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<SocketAddr> = (host.trim_matches(['[', ']']), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = format!("no address for {host}");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("connect {addr}: {e}"),
        }
    }
    let mut stream = stream.ok_or(last)?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    let path = format!("{}/readyz", url.path().trim_end_matches('/'));
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < head.len() {
        match stream.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(format!("read: {e}")),
        }
        if head[..n].contains(&b'\n') {
            break;
        }
    }
    let line = String::from_utf8_lossy(&head[..n]);
    let line = line.lines().next().unwrap_or_default();
    match line.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        Some(_) => Err(format!("answered {line:?}")),
        None => Err("no HTTP answer".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::loopback_for;

    #[test]
    fn unspecified_bind_addresses_are_probed_on_loopback() {
        assert_eq!(loopback_for("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(loopback_for("[::]:9000"), "[::1]:9000");
        assert_eq!(loopback_for("10.1.2.3:8080"), "10.1.2.3:8080");
        assert_eq!(loopback_for("cx.internal:8080"), "cx.internal:8080");
    }
}
