//! Per-client rate limits on public submissions, correct across instances.
//!
//! Two layers. Each instance first applies its own in-memory limit (governor, GCRA), which turns
//! a flood away without touching the database. What passes is counted again by the intake
//! writer in `rate_windows`, one upsert per batch, in fixed one-minute windows shared by every
//! instance on the database: N instances behind a load balancer still give a client
//! `CX_RATE_LIMIT_PER_MINUTE` per minute in all, not N times that.
//!
//! The client is the connection's peer, or, when the peer is a trusted proxy
//! (`CX_TRUSTED_PROXIES`), the nearest untrusted address in `X-Forwarded-For`. IPv6 clients are
//! counted per /64, the smallest block one subscriber holds (one with a /56 gets a budget per
//! /64). Only a keyed hash of that address is stored, for two to three minutes. The windows
//! come from each instance's clock: instances are expected to run NTP (as PRA expiry and the
//! fiscal quarters already require).

use std::net::IpAddr;
use std::num::NonZeroU32;

use actix_web::HttpRequest;
use diesel::prelude::*;
use diesel::upsert::excluded;
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota};
use hmac::{Hmac, KeyInit, Mac};
use ipnet::IpNet;
use sha2::Sha256;

use crate::db::schema::rate_windows;
use crate::db::{db_run, AnyConnection};
use crate::error::ApiError;

/// The keyed hash naming one client in the shared counts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientBucket(pub String);

pub struct RateLimiter {
    local: DefaultKeyedRateLimiter<IpAddr>,
    trusted: Vec<IpNet>,
    key: Vec<u8>,
}

impl RateLimiter {
    /// `None` when `per_minute` is 0 (limits off).
    pub fn new(per_minute: u32, trusted: Vec<IpNet>, secret: Option<&str>) -> Option<Self> {
        let n = NonZeroU32::new(per_minute)?;
        Some(RateLimiter {
            local: DefaultKeyedRateLimiter::keyed(Quota::per_minute(n)),
            trusted,
            // Without CX_SECRET every instance still agrees on the hash; it is then only a
            // plain digest, kept for two minutes in an unlogged table.
            key: secret
                .unwrap_or("cx-survey rate windows")
                .as_bytes()
                .to_vec(),
        })
    }

    /// The local check; on success, the bucket the writer counts the submission in.
    pub fn admit(&self, req: &HttpRequest) -> Result<Option<ClientBucket>, ApiError> {
        let Some(peer) = req.peer_addr() else {
            return Ok(None);
        };
        // Several header lines are one list (RFC 9110 §5.3); a proxy such as HAProxy adds its
        // own line after the client's, so reading only the first would believe the client.
        // Lossy: one odd byte a client put in its part must not discard the proxy's part.
        let forwarded: Vec<String> = req
            .headers()
            .get_all("x-forwarded-for")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let forwarded = (!forwarded.is_empty()).then(|| forwarded.join(","));
        let client = counted_network(client_ip(peer.ip(), forwarded.as_deref(), &self.trusted));
        self.local.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            ApiError::RateLimited(wait.as_secs() + 1)
        })?;
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(client.to_string().as_bytes());
        Ok(Some(ClientBucket(hex::encode(
            &mac.finalize().into_bytes()[..16],
        ))))
    }

    pub fn forget_idle(&self) {
        self.local.retain_recent();
    }
}

/// Parses `CX_TRUSTED_PROXIES`: addresses or CIDR blocks, separated by commas or spaces.
pub fn parse_trusted(list: &str) -> Result<Vec<IpNet>, String> {
    list.split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{s:?} is neither an IP address nor a CIDR block"))
        })
        .collect()
}

/// The client a request comes from. `X-Forwarded-For` is believed only from a trusted peer,
/// and read from the right: each trusted proxy appends the address it saw, so the first
/// untrusted one from the right is the last hop nobody trusted could have forged.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    // A dual-stack listener sees IPv4 peers as `::ffff:a.b.c.d`.
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| is_trusted_proxy(*ip, trusted);
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_for.unwrap_or_default().rsplit(',') {
        match parse_hop(hop) {
            Some(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // A hop we cannot read: stop at the last address we could.
            None => break,
        }
    }
    client
}

/// Whether `peer` is one of `CX_TRUSTED_PROXIES` (an IPv4-mapped IPv6 peer as its IPv4 address).
pub fn is_trusted_proxy(peer: IpAddr, trusted: &[IpNet]) -> bool {
    let peer = peer.to_canonical();
    trusted.iter().any(|n| n.contains(&peer))
}

/// One `X-Forwarded-For` element: an address, optionally with a port (`1.2.3.4:5678`) or in
/// brackets (`[2001:db8::1]:443`), as some proxies write them.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sa) = hop.parse::<std::net::SocketAddr>() {
        return Some(sa.ip().to_canonical());
    }
    let inner = hop.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// The unit one client is counted in: an IPv4 address, or an IPv6 /64.
pub fn counted_network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The current one-minute window and the seconds left in it.
pub fn window_now() -> (i64, u64) {
    let secs = chrono::Utc::now().timestamp();
    (secs.div_euclid(60), (60 - secs.rem_euclid(60)) as u64)
}

/// Adds `hits` (distinct buckets, sorted so that concurrent writers lock rows in one order) to
/// the shared counts of `window`, returning each bucket's new total.
pub(crate) fn count_shared(
    conn: &mut AnyConnection,
    window: i64,
    hits: &[(&ClientBucket, i32)],
) -> QueryResult<Vec<(String, i32)>> {
    let mut totals = Vec::with_capacity(hits.len());
    // Chunks keep each statement under the backends' bind-parameter limits.
    for chunk in hits.chunks(500) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(b, n)| {
                (
                    rate_windows::bucket.eq(b.0.as_str()),
                    rate_windows::window_start.eq(window),
                    rate_windows::hits.eq(*n),
                )
            })
            .collect();
        // As in the writer: the multi-row upsert compiles per backend only.
        totals.extend(db_run!(conn, c => diesel::insert_into(rate_windows::table)
            .values(&rows)
            .on_conflict((rate_windows::bucket, rate_windows::window_start))
            .do_update()
            .set(rate_windows::hits.eq(rate_windows::hits + excluded(rate_windows::hits)))
            .returning((rate_windows::bucket, rate_windows::hits))
            .get_results::<(String, i32)>(c))?);
    }
    Ok(totals)
}

/// Drops the counts of windows before the previous one.
pub(crate) fn forget_old(conn: &mut AnyConnection) -> QueryResult<usize> {
    let (window, _) = window_now();
    diesel::delete(rate_windows::table.filter(rate_windows::window_start.lt(window - 1)))
        .execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_peers() {
        let trusted = parse_trusted("10.0.0.0/8, 127.0.0.1").unwrap();
        let xff = Some("198.51.100.7, 203.0.113.9, 10.0.0.3");
        // An untrusted peer cannot choose its address.
        assert_eq!(client_ip(ip("192.0.2.1"), xff, &trusted), ip("192.0.2.1"));
        // From a trusted proxy: the nearest untrusted hop, not the forgeable leftmost one.
        assert_eq!(client_ip(ip("10.1.2.3"), xff, &trusted), ip("203.0.113.9"));
        assert_eq!(
            client_ip(ip("127.0.0.1"), Some("203.0.113.9"), &trusted),
            ip("203.0.113.9")
        );
        // Only proxies in the chain: the farthest one; no header: the peer.
        assert_eq!(
            client_ip(ip("10.1.2.3"), Some("10.0.0.9, 10.0.0.3"), &trusted),
            ip("10.0.0.9")
        );
        assert_eq!(client_ip(ip("10.1.2.3"), None, &trusted), ip("10.1.2.3"));
        // Garbage stops the walk at the last readable hop.
        assert_eq!(
            client_ip(
                ip("10.1.2.3"),
                Some("203.0.113.9, junk, 10.0.0.3"),
                &trusted
            ),
            ip("10.0.0.3")
        );
        // Ports, brackets, and IPv4 seen through a dual-stack socket.
        assert_eq!(
            client_ip(ip("10.1.2.3"), Some("203.0.113.9:5678"), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("10.1.2.3"), Some("[2001:db8::1]:443"), &trusted),
            ip("2001:db8::1")
        );
        assert_eq!(
            client_ip(ip("::ffff:10.1.2.3"), Some("203.0.113.9"), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_ip(ip("::ffff:192.0.2.1"), None, &trusted),
            ip("192.0.2.1")
        );
        assert!(parse_trusted("10.0.0.0/8,nonsense").is_err());
        assert_eq!(parse_trusted("").unwrap(), vec![]);
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        assert_eq!(
            counted_network(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(counted_network(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(counted_network(ip("192.0.2.1")), ip("192.0.2.1"));
    }
}
