//! Credential material never comes back. `access_token`
//! spelled with percent-escapes is redacted like the plain one (logs, self
//! links); `/readyz` tells anonymous callers ready or not and counts, not
//! each upstream's state and error; a 401 never echoes what was sent.

use super::*;
use feedgate::auth::hash_secret;
use origin::{Origin, Reply};
use std::io::{Read, Write};
use upstream_kit::*;

fn credentials() -> String {
    format!(
        "[credentials.reader]\ntoken_sha256 = \"{}\"\nroles = {{ \"*\" = \"read\" }}\n\
         [credentials.ops]\ntoken_sha256 = \"{}\"\nroles = {{ \"*\" = \"admin\" }}\n",
        hash_secret("t-reader-secret"),
        hash_secret("t-ops-secret"),
    )
}

#[test]
fn an_escaped_access_token_is_redacted_in_logs_and_links() {
    let (_dir, cfg) = binary::config_file(&format!("{}[feeds.news]\n", credentials()));
    let mut p = binary::serve(&cfg, &[("RUST_LOG", "feedgate=debug")]);
    let get = |target: &str| {
        let mut s = std::net::TcpStream::connect(p.addr).unwrap();
        write!(
            s,
            "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        resp
    };
    for target in [
        "/feeds/news.atom?access_%74oken=t-reader-secret&limit=1",
        "/feeds/news.atom?%61ccess_token=t-reader-secret",
        "/feeds/news.atom?access_token=t-reader-secret",
    ] {
        let resp = get(target);
        assert!(resp.starts_with("HTTP/1.1 200"), "{target}: {resp}");
        assert!(!resp.contains("t-reader-secret"), "{target}: {resp}");
        assert!(resp.contains("rel=\"self\""), "{resp}");
    }
    std::thread::sleep(Duration::from_millis(200));
    p.term();
    p.wait_exit();
    let logs = p.all_logs();
    assert!(logs.contains("access_%74oken=REDACTED"), "{logs}");
    assert!(logs.contains("%61ccess_token=REDACTED"), "{logs}");
    assert!(!logs.contains("t-reader-secret"), "{logs}");
}

#[tokio::test]
async fn readyz_shows_upstream_detail_to_admins_only() {
    let origin = Origin::start().await;
    origin.set("/i", Reply::Status(503));
    let extra = format!("{}{}", credentials(), mirror(&origin.url("/i"), "json", ""));
    let app = TestApp::builder().toml(&extra).spawn().await;
    let ops = [("Authorization", "Bearer t-ops-secret")];
    assert_eq!(app.get("/feeds/mirror", &ops).await.status, 200);
    for who in [
        &[][..],
        &[("Authorization", "Bearer t-reader-secret")][..],
        &[("Authorization", "Bearer wrong")][..],
    ] {
        let r = app.get("/readyz", who).await;
        assert_eq!(r.status, 200, "{who:?}: the probe stays open");
        let v = r.json();
        assert_eq!(v["status"], "ready");
        assert_eq!(
            (
                v["upstreams_total"].as_u64(),
                v["upstreams_failing"].as_u64()
            ),
            (Some(1), Some(1))
        );
        for hidden in ["mirror", "503", "last_error", "consecutive_failures"] {
            assert!(
                !r.text().contains(hidden),
                "{who:?} sees {hidden}: {}",
                r.text()
            );
        }
    }
    let v = app.get("/readyz", &ops).await.json();
    assert_eq!(v["upstreams"]["mirror"]["state"], "failing");
    assert!(v["upstreams"]["mirror"]["last_error"]
        .as_str()
        .unwrap()
        .contains("503"));
}

#[tokio::test]
async fn a_401_never_echoes_the_credential() {
    let app = TestApp::builder().toml(&credentials()).spawn().await;
    for sent in [
        "t-reader-secret",
        "Token t-reader-secret",
        "t-reader-secret-and-more",
        "Bearer t-reader-secret-wrong",
        "Basic dC1yZWFkZXItc2VjcmV0",
    ] {
        let r = app.get("/feeds/news", &[("Authorization", sent)]).await;
        assert_eq!(
            (r.status, r.problem().as_str()),
            (401, "unauthorized"),
            "{sent}"
        );
        let text = format!("{:?}{}", r.headers, r.text());
        assert!(
            !text.contains("secret") && !text.contains("dC1y"),
            "{sent}: {text}"
        );
    }
}
