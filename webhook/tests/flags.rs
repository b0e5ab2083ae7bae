//! The webhook binary's certificate flags, run as the chart runs it: the two
//! certificate sources exclude each other, `--tls-secret` needs its companions,
//! and a foreign Secret of that name stops the webhook with a clear error before
//! it serves (against a stand-in API server on loopback).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn webhook(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sealgate-webhook"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn certificate_sources_exclude_each_other_and_need_their_companions() {
    let out = webhook(&["--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--tls-cert-file"), "{}", stderr(&out));

    let out = webhook(&[
        "--tls-secret",
        "cert",
        "--namespace",
        "sealgate",
        "--service-name",
        "sealgate-webhook",
        "--webhook-configuration",
        "sealgate-webhook",
        "--tls-cert-file",
        "/tls/tls.crt",
        "--tls-key-file",
        "/tls/tls.key",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot be used with"), "{}", stderr(&out));

    let out = webhook(&["--tls-secret", "cert", "--namespace", "sealgate"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("--service-name") && text.contains("--webhook-configuration"),
        "{text}"
    );

    let out = webhook(&["--tls-cert-file", "/tls/tls.crt"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--tls-key-file"), "{}", stderr(&out));
}

/// Answers every request with `reply(method, path)` over plain HTTP; records the calls.
fn api_server(reply: fn(&str, &str) -> (u16, String)) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let recorded = calls.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
                if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let mut parts = line.split_whitespace();
            let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let path = target.split('?').next().unwrap_or("");
            recorded.lock().unwrap().push(format!("{method} {path}"));
            let (code, text) = reply(method, path);
            let _ = write!(
                stream,
                "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (port, calls)
}

#[test]
fn a_foreign_secret_stops_the_webhook_before_it_serves() {
    let (port, calls) = api_server(|method, path| {
        if method == "GET" && path == "/api/v1/namespaces/sealgate/secrets/sealgate-webhook-cert" {
            (
                200,
                r#"{"apiVersion":"v1","kind":"Secret","type":"kubernetes.io/tls",
                    "metadata":{"name":"sealgate-webhook-cert","namespace":"sealgate","resourceVersion":"7"},
                    "data":{"tls.crt":"bm9wZQ==","tls.key":"bm9wZQ==","ca.crt":"bm9wZQ=="}}"#
                    .into(),
            )
        } else {
            (
                404,
                r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#
                    .into(),
            )
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n\
             users: [{{name: u, user: {{token: t}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\ncurrent-context: x\n"
        ),
    )
    .unwrap();
    let listen = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listen.local_addr().unwrap().to_string();
    drop(listen);
    let child = Command::new(env!("CARGO_BIN_EXE_sealgate-webhook"))
        .args(["--listen", &address, "--kubeconfig"])
        .arg(&kubeconfig)
        .env_clear()
        .env("SEALGATE_TLS_SECRET", "sealgate-webhook-cert")
        .env("POD_NAMESPACE", "sealgate")
        .env("SEALGATE_SERVICE_NAME", "sealgate-webhook")
        .env("SEALGATE_WEBHOOK_CONFIGURATION", "sealgate-webhook")
        .env("SEALGATE_LOG_JSON", "false")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let out = wait_with_timeout(child, Duration::from_secs(30));
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("Secret sealgate/sealgate-webhook-cert exists but was not created by sealgate-webhook"),
        "{text}"
    );
    assert!(!text.contains("bm9wZQ"), "no Secret data in the log: {text}");
    assert!(std::net::TcpStream::connect(&address).is_err(), "nothing listens");
    let calls = calls.lock().unwrap();
    assert!(
        calls.iter().all(|c| c.starts_with("GET ")),
        "nothing written: {calls:?}"
    );
}

fn wait_with_timeout(mut child: std::process::Child, limit: Duration) -> Output {
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn the_body_deadline_must_be_inside_the_review_deadline() {
    let out = webhook(&[
        "--tls-cert-file",
        "/tls/tls.crt",
        "--tls-key-file",
        "/tls/tls.key",
        "--request-timeout-ms",
        "2000",
        "--body-timeout-ms",
        "2000",
    ]);
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--body-timeout-ms (2000) must be below --request-timeout-ms (2000)"),
        "{}",
        stderr(&out)
    );
}
