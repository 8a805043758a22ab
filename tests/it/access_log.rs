//! The access log of the real binary: one `info` line per request under
//! `feedgate::access` (method, path with the access token redacted, status,
//! bytes, duration, peer), off by `--no-access-log`, `FEEDGATE_ACCESS_LOG`
//! or `RUST_LOG`, and as JSON objects with `--log-format json`.

use crate::support::{binary, Client};
use std::time::{Duration, Instant};

/// Serve a config with feed `news`, run `requests`, stop; every log line.
async fn log_of(extra_args: &[&str], env: &[(&str, &str)]) -> (Vec<String>, u16) {
    let (_dir, config) = binary::config_file("[feeds.news]\n");
    let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--config", &config];
    args.extend_from_slice(extra_args);
    let mut p = binary::start(&args, env);
    let c = Client::new(p.addr);
    assert_eq!(c.put("news", "a", r#"{"title":"A"}"#).await.status, 201);
    let port = p.addr.port();
    let r = c.get("/feeds/news?access_token=s3cret&limit=5", &[]).await;
    assert_eq!(r.status, 200);
    // The line is written once the answer is: wait for it, at most 5 s.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut lines: Vec<String> = p.startup.clone();
    while Instant::now() < deadline {
        lines.extend(p.logs().lines().map(str::to_string));
        if lines.iter().any(|l| l.contains("/feeds/news?")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    p.term();
    assert_eq!(p.wait_exit(), 0);
    lines.extend(p.all_logs().lines().map(str::to_string));
    (lines, port)
}

fn access(lines: &[String]) -> Vec<&String> {
    lines
        .iter()
        .filter(|l| l.contains("feedgate::access"))
        .collect()
}

#[tokio::test]
async fn each_request_is_one_line_with_the_token_redacted() {
    let (lines, _) = log_of(&[], &[]).await;
    let access = access(&lines);
    assert_eq!(access.len(), 2, "one line per request: {lines:#?}");
    let put = access[0];
    for part in [
        " INFO feedgate::access: request",
        "method=PUT",
        "path=/feeds/news/items/a",
        "status=201",
        "bytes=",
        "duration_us=",
        "peer=127.0.0.1:",
    ] {
        assert!(put.contains(part), "{part} not in {put}");
    }
    let get = access[1];
    assert!(
        get.contains("method=GET path=/feeds/news?access_token=REDACTED&limit=5 status=200 bytes="),
        "{get}"
    );
    assert!(!lines.iter().any(|l| l.contains("s3cret")), "{lines:#?}");
}

#[tokio::test]
async fn the_access_log_can_be_switched_off() {
    for (args, env) in [
        (&["--no-access-log"][..], &[][..]),
        (&[][..], &[("FEEDGATE_ACCESS_LOG", "false")][..]),
        (&[][..], &[("RUST_LOG", "info,feedgate::access=off")][..]),
    ] {
        let (lines, _) = log_of(args, env).await;
        assert!(access(&lines).is_empty(), "{args:?} {env:?}: {lines:#?}");
        // The rest of the log is still there.
        assert!(
            lines.iter().any(|l| l.contains("store flushed")),
            "{args:?} {env:?}: {lines:#?}"
        );
    }
}

#[tokio::test]
async fn json_lines_carry_the_fields() {
    for (args, env) in [
        (&["--log-format", "json"][..], &[][..]),
        (&[][..], &[("FEEDGATE_LOG_FORMAT", "json")][..]),
    ] {
        let (lines, port) = log_of(args, env).await;
        let values: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let listening = values
            .iter()
            .find(|v| v["target"] == "feedgate")
            .unwrap_or_else(|| panic!("{lines:#?}"));
        assert_eq!(
            listening["message"],
            format!("listening on http://127.0.0.1:{port}")
        );
        let access: Vec<&serde_json::Value> = values
            .iter()
            .filter(|v| v["target"] == "feedgate::access")
            .collect();
        assert_eq!(access.len(), 2, "{lines:#?}");
        let get = access[1];
        assert_eq!(
            (
                get["level"].as_str(),
                get["message"].as_str(),
                get["method"].as_str(),
                get["path"].as_str(),
                get["status"].as_u64()
            ),
            (
                Some("INFO"),
                Some("request"),
                Some("GET"),
                Some("/feeds/news?access_token=REDACTED&limit=5"),
                Some(200)
            ),
            "{get}"
        );
        assert!(get["bytes"].as_u64().is_some_and(|b| b > 0), "{get}");
        assert!(get["duration_us"].as_u64().is_some(), "{get}");
        assert!(
            get["peer"]
                .as_str()
                .is_some_and(|p| p.starts_with("127.0.0.1:")),
            "{get}"
        );
        assert!(get["timestamp"].as_str().is_some(), "{get}");
    }
}
