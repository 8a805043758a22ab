//! `healthcheck` against a real server: up (exit 0), refused (exit 1, why),
//! a non-2xx answer (exit 1, the status), and the URL from `--listen` /
//! `FEEDGATE_LISTEN`.

use super::*;

#[tokio::test]
async fn healthcheck_exits_0_on_a_healthy_server_and_1_otherwise() {
    let (_dir, config) = binary::config_file("[feeds.news]\n");
    let p = binary::serve(&config, &[]);
    let addr = p.addr.to_string();
    let url = format!("http://{addr}/healthz");
    let up = run(&["healthcheck", "--url", &url]);
    assert_eq!(
        (up.code, up.stdout.as_str()),
        (0, "healthy: HTTP 200\n"),
        "{}",
        up.stderr
    );
    // The default URL, from --listen and from FEEDGATE_LISTEN (0.0.0.0 is
    // asked on 127.0.0.1).
    let wildcard = format!("0.0.0.0:{}", p.addr.port());
    assert_eq!(run(&["healthcheck", "--listen", &addr]).code, 0);
    let env = feedgate(&["healthcheck"], b"", &[("FEEDGATE_LISTEN", &wildcard)]);
    assert_eq!(env.code, 0, "{}", env.stderr);
    // A 404 is no health.
    let missing = format!("http://{addr}/feeds/nope");
    let out = run(&["healthcheck", "--url", &missing]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr.trim(),
        format!(
            "error: healthcheck {missing}: answered HTTP 404 Not Found; the server runs but is not healthy: see its log"
        )
    );
    p.kill();
    // Nobody listens any more.
    let out = run(&["healthcheck", "--url", &url, "--timeout", "2s"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with(&format!("error: healthcheck {url}: ")),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.trim(),
        format!(
            "error: healthcheck {url}: Connection refused (os error 111); is feedgate serve running and listening there? (--url, --listen)"
        ),
        "one line, each cause once"
    );
}

/// A server that accepts but never answers: the timeout, said as such.
#[test]
fn healthcheck_gives_up_after_its_timeout() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/healthz", silent.local_addr().unwrap());
    let started = Instant::now();
    let out = run(&["healthcheck", "--url", &url, "--timeout", "500ms"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        format!("error: healthcheck {url}: no answer within 500ms")
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // A bad flag is a usage error.
    assert_eq!(run(&["healthcheck", "--timeout", "soon"]).code, 2);
    assert_eq!(run(&["healthcheck", "--url", "not a url"]).code, 2);
}
