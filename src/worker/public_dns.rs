//! The resolver partners' webhooks are posted through in production: a name that resolves to
//! this machine or a private network is refused when the delivery connects. The addresses
//! checked are the ones connected to, so a name whose answer changes between the endpoint's
//! check and the delivery cannot slip past. The attempt fails with the reason, visible in the
//! delivery log, and is retried like any unreachable endpoint.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::partner_events::is_internal_ip;

/// Resolves with the system resolver and refuses internal answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(internal) = addrs.iter().find(|a| is_internal_ip(a.ip())) {
                return Err(format!(
                    "{host} resolves to {}, on this machine or a private network: not posted there",
                    internal.ip()
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[tokio::test]
    async fn a_name_for_this_machine_is_refused() {
        let err = match PublicOnly
            .resolve(Name::from_str("localhost").unwrap())
            .await
        {
            Ok(_) => panic!("localhost resolved"),
            Err(err) => err.to_string(),
        };
        assert!(err.starts_with("localhost resolves to "), "{err}");
        assert!(err.ends_with("not posted there"), "{err}");
    }

    #[test]
    fn internal_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_internal_ip(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "2a00:1450:400f::200e", "::ffff:8.8.8.8"] {
            assert!(!is_internal_ip(ip.parse().unwrap()), "{ip}");
        }
    }
}
