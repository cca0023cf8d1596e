//! The `payments-local` binary itself: flags, banner, serving, clean Ctrl-C stop.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn http(addr: &str, method: &str, path: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connects to the local API");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn http_get(addr: &str, path: &str) -> String {
    http(addr, "GET", path, "")
}

fn json_body(response: &str) -> serde_json::Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
}

#[test]
fn serves_on_the_given_ports_and_stops_cleanly_on_ctrl_c() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_payments-local"))
        .args(["--port", "0", "--mock-port", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut api = None;
    let mut mock = None;
    let mut kiosk = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .map(|w| w.trim_start_matches("http://").to_owned());
        if line.trim_start().starts_with("API") {
            api = url;
        } else if line.trim_start().starts_with("Mercado Pago mock") {
            mock = url;
        } else if line.trim_start().starts_with("kiosk page") {
            kiosk = url;
        } else if line.starts_with("Ctrl-C") {
            break;
        }
    }
    let api = api.expect("banner names the API address");
    let mock = mock.expect("banner names the mock address");
    assert!(!api.ends_with(":0") && !mock.ends_with(":0"));
    assert_eq!(
        kiosk,
        Some(format!("{api}/kiosk")),
        "banner names the kiosk page"
    );
    let page = http_get(&api, "/kiosk");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.contains(&format!("const MOCK_URL = \"http://{mock}\"")),
        "the page acts through this mock"
    );

    let list = http_get(&api, "/payments?order_id=ord-1");
    assert!(list.starts_with("HTTP/1.1 200"), "{list}");
    assert!(list.ends_with("{\"items\":[]}"), "{list}");
    // The metrics Lambda would send to CloudWatch are kept for the binary's life.
    let created = http(
        &api,
        "POST",
        "/payments",
        r#"{"order_id":"ord-77","amount":1000,"currency":"BRL","items":[{"sku":"X","title":"X","quantity":1,"unit_price":1000}]}"#,
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let unsigned = http(&api, "POST", "/webhooks/mercadopago", "{}");
    assert!(unsigned.starts_with("HTTP/1.1 401"), "{unsigned}");
    let metrics = json_body(&http_get(&api, "/local/metrics"));
    assert_eq!(metrics["counters"]["PaymentCreated"], 1, "{metrics}");
    assert_eq!(
        metrics["counters"]["WebhookRejected{Reason=missing}"], 1,
        "{metrics}"
    );
    assert!(
        metrics["histograms"]["ProviderLatency"]["count"].as_u64() >= Some(1),
        "{metrics}"
    );

    let stats = http_get(&mock, "/mock/stats");
    assert!(stats.starts_with("HTTP/1.1 200"), "{stats}");

    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("payments-local did not stop on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    assert!(TcpStream::connect(&api).is_err(), "port released");
}

/// Starts the binary on free ports with `env`; answers the child and its
/// banner, read up to its last line.
fn start_with_env(env: &[(&str, &str)]) -> (std::process::Child, Vec<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_payments-local"));
    command
        .args(["--port", "0", "--mock-port", "0"])
        .env_remove("MP_POS_IDS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("binary starts");
    let stderr = child.stderr.take().unwrap();
    let mut banner = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        let last = line.starts_with("Ctrl-C");
        banner.push(line);
        if last {
            break;
        }
    }
    (child, banner)
}

fn banner_line<'a>(banner: &'a [String], label: &str) -> &'a str {
    banner
        .iter()
        .find(|line| line.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("banner has a {label} line: {banner:?}"))
}

fn api_of(banner: &[String]) -> String {
    banner_line(banner, "API")
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .map(|w| w.trim_start_matches("http://").to_owned())
        .expect("the API address")
}

fn stop(mut child: std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

const ORDER: &str = r#""amount":1000,"currency":"BRL","items":[{"sku":"X","title":"X","quantity":1,"unit_price":1000}]"#;

#[test]
fn the_banner_prints_the_local_points_of_sale_and_the_first_is_the_default() {
    let (child, banner) = start_with_env(&[]);
    let line = banner_line(&banner, "points of sale");
    assert!(line.contains("LOCALPOS001, LOCALPOS002"), "{line}");
    assert!(line.contains("MP_POS_IDS"), "it names the variable: {line}");
    let api = api_of(&banner);
    let created = http(
        &api,
        "POST",
        "/payments",
        &format!(r#"{{"order_id":"ord-pos-1",{ORDER}}}"#),
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    assert_eq!(json_body(&created)["pos_id"], "LOCALPOS001");
    let page = http_get(&api, "/kiosk");
    assert!(
        page.contains(r#"const POINTS_OF_SALE = ["LOCALPOS001","LOCALPOS002"];"#),
        "the kiosk page offers them"
    );
    stop(child);
}

#[test]
fn mp_pos_ids_replaces_the_local_points_of_sale() {
    let (child, banner) = start_with_env(&[("MP_POS_IDS", "SHOPA1,SHOPB2")]);
    let line = banner_line(&banner, "points of sale");
    assert!(line.contains("SHOPA1, SHOPB2"), "{line}");
    let api = api_of(&banner);
    let named = http(
        &api,
        "POST",
        "/payments",
        &format!(r#"{{"order_id":"ord-pos-2","pos_id":"SHOPB2",{ORDER}}}"#),
    );
    assert!(named.starts_with("HTTP/1.1 201"), "{named}");
    assert_eq!(json_body(&named)["pos_id"], "SHOPB2");
    let local = http(
        &api,
        "POST",
        "/payments",
        &format!(r#"{{"order_id":"ord-pos-3","pos_id":"LOCALPOS001",{ORDER}}}"#),
    );
    assert!(local.starts_with("HTTP/1.1 422"), "{local}");
    assert_eq!(json_body(&local)["errors"][0]["field"], "pos_id");
    stop(child);
}

/// The binary started with `variable=value`, which it must refuse as a
/// usage error (exit status 2): what it wrote on stderr.
fn usage_error(variable: &str, value: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_payments-local"))
        .args(["--port", "0", "--mock-port", "0"])
        .env(variable, value)
        .output()
        .expect("binary runs");
    assert_eq!(
        output.status.code(),
        Some(2),
        "{variable}={value}: usage error"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_malformed_mp_pos_ids_stops_the_binary_naming_the_entry() {
    for (wrong, why) in [
        ("SHOPA1,", "entry 2 (``) must be"),
        ("SHOPA1,SHOP-B2", "entry 2 (`SHOP-B2`) must be"),
        ("SHOPA1,SHOPA1", "names SHOPA1 twice"),
    ] {
        let stderr = usage_error("MP_POS_IDS", wrong);
        assert!(
            stderr.contains("pos-ids") && stderr.contains(why),
            "{wrong}: {stderr}"
        );
        assert!(
            !stderr.contains("payments-local is up"),
            "{wrong}: {stderr}"
        );
    }
}

/// A payment expiry Mercado Pago would refuse (every create would fail
/// there) stops the local stack at start, naming the option, as it stops a
/// Lambda's init.
#[test]
fn a_payment_expiry_outside_mercado_pagos_range_stops_the_binary_naming_it() {
    for wrong in ["PT5S", "PT1441H", "P1Y"] {
        let stderr = usage_error("PAYMENT_EXPIRY", wrong);
        assert!(
            stderr.contains("payment-expiry") && stderr.contains("PT30S to PT1440H"),
            "{wrong}: {stderr}"
        );
    }
}

/// A port already taken stops the binary with a message naming the option
/// that chose it.
#[test]
fn a_busy_port_stops_the_binary_naming_the_port_option() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = taken.local_addr().expect("its address").port().to_string();
    for (option, named) in [
        ("--port", "--port (PORT)"),
        ("--mock-port", "--mock-port (MOCK_PORT)"),
    ] {
        let mut args = vec!["--port", "0", "--mock-port", "0"];
        let at = args.iter().position(|a| *a == option).expect("option") + 1;
        args[at] = &port;
        let output = Command::new(env!("CARGO_BIN_EXE_payments-local"))
            .args(&args)
            .output()
            .expect("binary runs");
        assert!(!output.status.success(), "{option}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains(named),
            "{option}: {stderr}"
        );
    }
}
