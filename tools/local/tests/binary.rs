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
