//! `healthcheck`: GET a running server's `/healthz` and exit 0 on a 2xx
//! answer, 1 otherwise with one line saying why: the probe of an image that
//! has no curl (the Dockerfile's `HEALTHCHECK`, `deploy/compose.yaml`).
//!
//! The URL is `--url`, else `http://ADDR/healthz` for the address `--listen`
//! or else `FEEDGATE_LISTEN` names (an unspecified address, `0.0.0.0` or
//! `[::]`, is asked on loopback; port 0 is refused: the port is picked at
//! start), else `http://127.0.0.1:8080/healthz`. The config file is not
//! read: a probe does not depend on it.

use super::{listen_address, runtime, CliError};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// `feedgate healthcheck`.
#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// URL to GET (default: http://LISTEN/healthz, see --listen).
    #[arg(long)]
    pub url: Option<String>,
    /// The server's listen address, for the default URL (0.0.0.0 is asked on 127.0.0.1; default 127.0.0.1:8080) [env: FEEDGATE_LISTEN=]
    #[arg(long, value_parser = listen_address)]
    pub listen: Option<SocketAddr>,
    /// Longest the whole request may take (e.g. 3s, 500ms).
    #[arg(long, default_value = "3s", value_parser = timeout)]
    pub timeout: Duration,
}

fn timeout(s: &str) -> Result<Duration, String> {
    crate::setting::parse_duration(s)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{s:?} is not a duration such as 3s or 500ms"))
}

impl HealthcheckArgs {
    /// The URL to ask, from the flags and the environment.
    pub fn target(&self, env_listen: Option<&str>) -> Result<String, CliError> {
        if let Some(url) = &self.url {
            return Ok(url.clone());
        }
        let listen = match (self.listen, env_listen) {
            (Some(addr), _) => addr,
            (None, Some(text)) => listen_address(text)
                .map_err(|e| CliError::Invalid(format!("FEEDGATE_LISTEN: {e}")))?,
            (None, None) => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };
        if listen.port() == 0 {
            return Err(CliError::Invalid(format!(
                "listen address {listen} has port 0 (a free port, picked at start): give the server's URL with --url"
            )));
        }
        Ok(format!(
            "http://{}/healthz",
            loopback_if_unspecified(listen)
        ))
    }
}

/// `0.0.0.0:P` → `127.0.0.1:P`, `[::]:P` → `[::1]:P`.
fn loopback_if_unspecified(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// GET the URL; `Ok` with the status line's code on a 2xx answer.
pub fn healthcheck(args: &HealthcheckArgs) -> Result<u16, CliError> {
    let env = std::env::var("FEEDGATE_LISTEN").ok();
    let url = args.target(env.as_deref())?;
    let parsed =
        reqwest::Url::parse(&url).map_err(|e| CliError::Invalid(format!("--url {url:?}: {e}")))?;
    let failed = |cause: String| CliError::Unhealthy {
        url: url.clone(),
        cause,
    };
    let rt = runtime()?;
    // Built on the runtime: the resolver (hickory) needs it.
    let res = rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(args.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| failed(crate::error::one_line(&e)))?;
        client.get(parsed).send().await.map_err(|e| {
            if e.is_timeout() {
                failed(format!("no answer within {:?}", args.timeout))
            } else {
                failed(format!(
                    "{}; is feedgate serve running and listening there? (--url, --listen)",
                    crate::error::one_line_http(&e.without_url())
                ))
            }
        })
    })?;
    let status = res.status();
    if status.is_success() {
        Ok(status.as_u16())
    } else {
        Err(failed(format!(
            "answered HTTP {status}; the server runs but is not healthy: see its log"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(url: Option<&str>, listen: Option<&str>) -> HealthcheckArgs {
        HealthcheckArgs {
            url: url.map(str::to_string),
            listen: listen.map(|l| listen_address(l).unwrap()),
            timeout: Duration::from_secs(3),
        }
    }

    #[test]
    fn the_url_comes_from_url_then_listen_then_the_environment() {
        let t = |a: &HealthcheckArgs, env| a.target(env).unwrap();
        assert_eq!(t(&args(None, None), None), "http://127.0.0.1:8080/healthz");
        assert_eq!(
            t(&args(None, None), Some("0.0.0.0:9000")),
            "http://127.0.0.1:9000/healthz"
        );
        assert_eq!(
            t(&args(None, Some("[::]:81")), Some("0.0.0.0:9000")),
            "http://[::1]:81/healthz"
        );
        assert_eq!(
            t(&args(None, Some("10.0.0.5:81")), None),
            "http://10.0.0.5:81/healthz"
        );
        assert_eq!(
            t(&args(Some("http://x:1/readyz"), Some("10.0.0.5:81")), None),
            "http://x:1/readyz"
        );
        let e = args(None, Some("127.0.0.1:0")).target(None).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("port 0"), "{e}");
        let e = args(None, None).target(Some("localhost:1")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().starts_with("FEEDGATE_LISTEN: "), "{e}");
    }
}
