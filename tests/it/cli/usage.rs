//! What every command shares: errors in one line (`error: …`), the same
//! exit codes as `serve` (2 usage, configuration or input; 1 the rest), and
//! a `--help` that names its arguments.

use super::*;

/// `serve` and the other commands say a configuration problem the same way,
/// `error: …` once, and exit 2.
#[test]
fn serve_and_the_cli_agree_on_configuration_errors() {
    for cmd in ["serve", "check-config"] {
        let out = run(&[cmd, "--config", "/no/such/feedgate.toml"]);
        assert_eq!(out.code, 2, "{cmd}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim(),
            "error: cannot read config file /no/such/feedgate.toml: No such file or directory (os error 2)",
            "{cmd}"
        );
    }
    let out = run(&["serve", "--listen", "localhost:8080"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("(host names are not looked up): write e.g. 127.0.0.1:8080"),
        "{}",
        out.stderr
    );
}

/// The commands beside `serve` say their errors as it does, in one line,
/// with 2 for bad input and 1 for the rest.
#[test]
fn every_command_says_errors_in_one_line_with_its_exit_code() {
    let out = feedgate(&["hash-secret"], b"", &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: no secret on standard input; ")
            && out.stderr.lines().count() == 1,
        "{}",
        out.stderr
    );
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(dir.path(), "");
    let out = run(&["import", "news", "/no/such.ndjson", "--config", &config]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        "error: cannot open /no/such.ndjson: No such file or directory (os error 2)"
    );
    // A usage error is clap's, exit 2.
    assert_eq!(run(&["serve", "--no-such-flag"]).code, 2);
}

#[test]
fn every_command_has_help() {
    for (cmd, mentions) in [
        (
            "check-config",
            &[
                "--config",
                "--print",
                "--listen",
                "--data-dir",
                "--log-format",
                "--no-access-log",
            ][..],
        ),
        ("healthcheck", &["--url", "--listen", "--timeout"][..]),
        (
            "serve",
            &[
                "--log-format <LOG_FORMAT>",
                "--no-access-log",
                "[env: FEEDGATE_ACCESS_LOG=]",
            ][..],
        ),
        ("export", &["<FEED>", "--config", "--data-dir"][..]),
        (
            "import",
            &["<FEED>", "[FILE]", "--config", "--data-dir"][..],
        ),
        ("compact", &["[FEED]", "--config", "--data-dir"][..]),
        ("migrate", &["--from <DATA_DIR>", "--to <URL>"][..]),
        ("migrate-schema", &["--config", "--dry-run"][..]),
    ] {
        let out = run(&[cmd, "--help"]);
        assert_eq!(out.code, 0, "{cmd}");
        for m in mentions {
            assert!(
                out.stdout.contains(m),
                "{cmd} --help lacks {m}:\n{}",
                out.stdout
            );
        }
    }
    let out = run(&["--help"]);
    for cmd in [
        "check-config",
        "healthcheck",
        "export",
        "import",
        "compact",
        "migrate",
        "migrate-schema",
    ] {
        assert!(out.stdout.contains(cmd), "{}", out.stdout);
    }
}
