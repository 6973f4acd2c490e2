//! Server-side request forgery: a destination must not point the server at itself, its
//! network or a cloud metadata service. A URL's host is resolved and every address checked;
//! the check runs when a destination is created or changed and again on every connection (the
//! HTTP client's resolver is [`Guarded`]), because a name may resolve elsewhere later (DNS
//! rebinding). `--allow-private-destinations` turns it off (tests, on-premise receivers).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Whether `ip` is one a destination may not reach: loopback, private (RFC 1918, unique local
/// `fc00::/7`), link-local (`169.254/16` with cloud metadata services, `fe80::/10`), shared
/// address space (`100.64/10`), unspecified, multicast or broadcast; IPv4 inside IPv6 is
/// judged as IPv4.
///
/// ```
/// use server::reach::address::forbidden;
/// for bad in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "::1", "fd00::1", "fe80::1", "0.0.0.0", "::ffff:127.0.0.1", "224.0.0.1", "100.64.0.1"] {
///     assert!(forbidden(bad.parse().unwrap()), "{bad}");
/// }
/// for good in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1"] {
///     assert!(!forbidden(good.parse().unwrap()), "{good}");
/// }
/// ```
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
                || a == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// Why an address was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AddressError {
    /// The name does not resolve.
    #[error("`{host}` does not resolve: {reason}")]
    Unresolved {
        /// The host.
        host: String,
        /// The resolver's message.
        reason: String,
    },
    /// It resolves to an address destinations may not reach.
    #[error(
        "`{host}` resolves to {ip}, a loopback, private or link-local address (start the server with --allow-private-destinations to allow it)"
    )]
    Forbidden {
        /// The host.
        host: String,
        /// The address.
        ip: IpAddr,
    },
}

/// Resolves `host` (a name or an address literal, IPv6 with or without brackets) and checks
/// every address, unless `allow_private`. Returns the addresses.
///
/// # Errors
/// [`AddressError`].
pub async fn check_host(host: &str, port: u16, allow_private: bool) -> Result<Vec<SocketAddr>, AddressError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| AddressError::Unresolved { host: host.to_owned(), reason: e.to_string() })?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(AddressError::Unresolved { host: host.to_owned(), reason: "no addresses".into() });
    }
    if !allow_private && let Some(a) = addrs.iter().find(|a| forbidden(a.ip())) {
        return Err(AddressError::Forbidden { host: host.to_owned(), ip: a.ip() });
    }
    Ok(addrs)
}

/// The HTTP client's resolver: every connection's name is resolved and checked here, so the
/// address connected to is the address checked.
#[derive(Debug, Clone, Copy)]
pub struct Guarded {
    /// `--allow-private-destinations`.
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow_private;
        Box::pin(async move {
            let addrs = check_host(name.as_str(), 0, allow).await.map_err(|e| Box::new(e) as Box<_>)?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A client whose every connection goes through [`Guarded`], with no redirects (a redirect
/// could lead anywhere) and the delivery time-out.
///
/// # Errors
/// Building the TLS configuration failed.
pub fn client(allow_private: bool, timeout: std::time::Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(Guarded { allow_private }))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent("sieve-reach/1")
        .build()
}
