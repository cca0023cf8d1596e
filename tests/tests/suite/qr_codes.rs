//! The kiosk's QR code as an image: it decodes to the payment's `qr_data` (an
//! EMVCo payload with its CRC), is cacheable until the payment expires, and is
//! refused for a payment the customer can no longer pay.

use crc::{Crc, CRC_16_IBM_3740};
use payments_tests::local_stack::{order_body, payment_id, provider_order_id, Stack};

/// Reads a QR code out of a PNG the way a phone's camera app would.
fn decode_png(bytes: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let frame = reader.next_frame(&mut pixels).expect("one frame");
    assert_eq!(frame.color_type, png::ColorType::Grayscale);
    let width = frame.width as usize;
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, frame.height as usize, |x, y| {
            pixels[y * width + x]
        });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    let (_, content) = grids[0].decode().expect("the QR code decodes");
    content
}

#[tokio::test]
async fn the_png_decodes_to_the_payments_qr_data_a_well_formed_emvco_payload() {
    let stack = Stack::start().await;
    let created = stack.create(&order_body("ord-qr-png")).await;
    let id = payment_id(&created.body);
    let qr_data = created.body["qr_data"]
        .as_str()
        .expect("qr_data")
        .to_owned();

    let response = stack
        .http
        .get(stack.api(&format!("/payments/{id}/qr.png")))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    let max_age: u64 = cache
        .strip_prefix("private, max-age=")
        .and_then(|age| age.parse().ok())
        .expect("private, max-age=N");
    assert!((890..=900).contains(&max_age), "{cache}");
    let image = response.bytes().await.expect("body");
    assert_eq!(decode_png(&image), qr_data);

    let fields = mercadopago_mock::emvco::fields(&qr_data).expect("tag-length-value all through");
    assert_eq!(fields.first(), Some(&("00".to_owned(), "01".to_owned())));
    assert_eq!(
        fields
            .iter()
            .find(|(tag, _)| tag == "54")
            .map(|f| f.1.as_str()),
        Some("25.90")
    );
    let merchant = &fields
        .iter()
        .find(|(tag, _)| tag == "43")
        .expect("merchant account")
        .1;
    assert!(merchant.contains(&provider_order_id(&created.body)));
    let (signed, crc) = qr_data.split_at(qr_data.len() - 4);
    assert!(signed.ends_with("6304"));
    let ccitt = Crc::<u16>::new(&CRC_16_IBM_3740);
    assert_eq!(format!("{:04X}", ccitt.checksum(signed.as_bytes())), crc);
    stack.stop().await;
}

#[tokio::test]
async fn the_svg_is_revalidated_by_its_etag() {
    let stack = Stack::start().await;
    let created = stack.create(&order_body("ord-qr-svg")).await;
    let path = format!("/payments/{}/qr.svg", payment_id(&created.body));
    let first = stack
        .http
        .get(stack.api(&path))
        .send()
        .await
        .expect("answered");
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-type"], "image/svg+xml");
    let etag = first.headers()["etag"].clone();
    assert!(first.text().await.unwrap_or_default().contains("<svg"));

    let again = stack
        .http
        .get(stack.api(&path))
        .header("if-none-match", etag.clone())
        .send()
        .await
        .expect("answered");
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag);
    assert!(again.bytes().await.unwrap_or_default().is_empty());
    stack.stop().await;
}

#[tokio::test]
async fn a_payment_the_customer_can_no_longer_pay_has_no_qr_code() {
    let stack = Stack::start().await;
    let approved = stack.approved_payment("ord-qr-paid").await;
    let canceled = stack.create(&order_body("ord-qr-canceled")).await;
    let canceled_id = payment_id(&canceled.body);
    assert_eq!(stack.cancel(&canceled_id).await.status, 200);
    // Mercado Pago down at create: the payment is pending without QR data.
    stack.local.mock.state.fail_next(3, 503);
    let unconfirmed = stack.create(&order_body("ord-qr-unconfirmed")).await;
    assert_eq!(unconfirmed.status, 503);
    let listed = stack.get("/payments?order_id=ord-qr-unconfirmed").await;
    let unconfirmed_id = payment_id(&listed.body["items"][0]);

    for id in [payment_id(&approved), canceled_id, unconfirmed_id] {
        for format in ["svg", "png"] {
            let reply = stack.get(&format!("/payments/{id}/qr.{format}")).await;
            assert_eq!(reply.status, 409, "{id}: {:?}", reply.body);
            assert_eq!(reply.body["type"], "/problems/qr-not-available");
        }
    }
    let unknown = stack
        .get("/payments/pay_01JDX3M8Q4S7V2C9K5T6W1Y0ZB/qr.png")
        .await;
    assert_eq!(unknown.status, 404);
    let malformed = stack.get("/payments/pay_nope/qr.svg").await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.body["errors"][0]["field"], "payment_id");
    stack.stop().await;
}

#[tokio::test]
async fn a_pending_payment_past_its_expiry_has_no_qr_code_even_before_the_sweeper_ran() {
    let stack =
        Stack::start_with(|config| config.payment_expiry = std::time::Duration::from_secs(1)).await;
    let created = stack.create(&order_body("ord-qr-late")).await;
    let path = format!("/payments/{}/qr.svg", payment_id(&created.body));
    assert_eq!(stack.get(&path).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let late = stack.get(&path).await;
    assert_eq!(late.status, 409, "{:?}", late.body);
    assert_eq!(
        stack
            .get(&format!("/payments/{}", payment_id(&created.body)))
            .await
            .body["status"],
        "pending"
    );
    stack.stop().await;
}
