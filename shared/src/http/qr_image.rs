//! `GET /payments/{payment_id}/qr.svg` and `/qr.png`: the QR code a kiosk
//! shows, drawn from the payment's `qr_data` (error correction M, a quiet zone
//! of 4 modules), cacheable by the kiosk until the payment expires.

use http::{HeaderMap, HeaderValue, StatusCode};
use qrcode::{Color, EcLevel, QrCode};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::app::PayableQr;

use super::HttpResponse;

/// Modules of light margin around the code, as the QR standard asks.
const QUIET_ZONE: u32 = 4;
/// Pixels per module in the PNG: a 25×25 code (plus margin) is 264 pixels.
const PNG_SCALE: u32 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QrFormat {
    Svg,
    Png,
}

impl QrFormat {
    pub(crate) const ALL: [QrFormat; 2] = [QrFormat::Svg, QrFormat::Png];

    /// The path's last segment, after `/payments/{payment_id}`.
    pub(crate) fn path_tail(self) -> &'static str {
        match self {
            Self::Svg => "/qr.svg",
            Self::Png => "/qr.png",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Svg => "image/svg+xml",
            Self::Png => "image/png",
        }
    }
}

#[derive(Debug, Error)]
pub(crate) enum QrImageError {
    #[error("the QR data cannot be drawn as a QR code: {0}")]
    NotEncodable(#[from] qrcode::types::QrError),
    #[error("the PNG could not be written: {0}")]
    Png(#[from] png::EncodingError),
}

/// The image, or 304 when the kiosk already holds it (`If-None-Match`).
pub(crate) fn qr_response(
    qr: &PayableQr,
    format: QrFormat,
    request_headers: &HeaderMap,
) -> Result<HttpResponse, QrImageError> {
    let etag = entity_tag(&qr.qr_data, format);
    let unchanged = request_headers
        .get_all(http::header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        });
    let mut response = if unchanged {
        let mut response = http::Response::new(lambda_http::Body::Empty);
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let body = match format {
            QrFormat::Svg => lambda_http::Body::Text(svg(&qr.qr_data)?),
            QrFormat::Png => lambda_http::Body::Binary(png(&qr.qr_data)?),
        };
        let mut response = http::Response::new(body);
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        );
        response
    };
    // Until the payment expires the code cannot change; after, it must not be
    // shown, so no cache keeps it longer.
    let max_age = (qr.expires_at.unix_millis() - qr.now.unix_millis()).max(0) / 1000;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("private, max-age={max_age}")) {
        headers.insert(http::header::CACHE_CONTROL, value);
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(http::header::ETAG, value);
    }
    Ok(response)
}

/// A strong validator: the same QR data always draws the same image.
fn entity_tag(qr_data: &str, format: QrFormat) -> String {
    let digest = Sha256::new()
        .chain_update(format.path_tail())
        .chain_update(qr_data)
        .finalize();
    format!("\"{}\"", hex::encode(&digest[..16]))
}

fn code(qr_data: &str) -> Result<QrCode, QrImageError> {
    Ok(QrCode::with_error_correction_level(
        qr_data.as_bytes(),
        EcLevel::M,
    )?)
}

fn svg(qr_data: &str) -> Result<String, QrImageError> {
    Ok(code(qr_data)?
        .render::<qrcode::render::svg::Color<'_>>()
        .quiet_zone(true)
        .min_dimensions(256, 256)
        .build())
}

fn png(qr_data: &str) -> Result<Vec<u8>, QrImageError> {
    let code = code(qr_data)?;
    // At most 177 modules (version 40): the cast cannot truncate.
    let modules = code.width() as u32;
    let side_modules = modules + 2 * QUIET_ZONE;
    let side = side_modules * PNG_SCALE;
    let colors = code.to_colors();
    let module_at = |x: u32, y: u32| -> Color {
        let (x, y) = (x / PNG_SCALE, y / PNG_SCALE);
        if x < QUIET_ZONE
            || y < QUIET_ZONE
            || x >= QUIET_ZONE + modules
            || y >= QUIET_ZONE + modules
        {
            return Color::Light;
        }
        let index = ((y - QUIET_ZONE) * modules + (x - QUIET_ZONE)) as usize;
        colors.get(index).copied().unwrap_or(Color::Light)
    };
    let pixels: Vec<u8> = (0..side)
        .flat_map(|y| (0..side).map(move |x| (x, y)))
        .map(|(x, y)| match module_at(x, y) {
            Color::Dark => 0x00,
            Color::Light => 0xFF,
        })
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;

    fn payable(qr_data: &str, seconds_left: i64) -> PayableQr {
        let now = Timestamp::from_unix_millis(1_795_608_000_000).unwrap();
        PayableQr {
            qr_data: qr_data.into(),
            expires_at: Timestamp::from_unix_millis(now.unix_millis() + seconds_left * 1000)
                .unwrap(),
            now,
        }
    }

    #[test]
    fn an_image_is_cacheable_until_the_payment_expires_and_revalidates_by_etag() {
        let qr = payable("000201010212", 900);
        let first = qr_response(&qr, QrFormat::Png, &HeaderMap::new()).unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        assert_eq!(first.headers()["cache-control"], "private, max-age=900");
        assert_eq!(first.headers()["content-type"], "image/png");
        let etag = first.headers()["etag"].clone();

        let mut again = HeaderMap::new();
        again.insert(http::header::IF_NONE_MATCH, etag.clone());
        let revalidated = qr_response(&qr, QrFormat::Png, &again).unwrap();
        assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(revalidated.headers()["etag"], etag);
        assert!(revalidated.body().is_empty());

        // Another format, or other data, is another entity.
        let svg = qr_response(&qr, QrFormat::Svg, &again).unwrap();
        assert_eq!(svg.status(), StatusCode::OK);
        let other = qr_response(&payable("000201010211", 900), QrFormat::Png, &again).unwrap();
        assert_eq!(other.status(), StatusCode::OK);
    }

    #[test]
    fn data_beyond_a_qr_codes_capacity_is_an_error_not_a_panic() {
        let qr = payable(&"0".repeat(8_000), 900);
        for format in QrFormat::ALL {
            assert!(matches!(
                qr_response(&qr, format, &HeaderMap::new()),
                Err(QrImageError::NotEncodable(_))
            ));
        }
    }

    #[test]
    fn the_svg_draws_the_code_with_its_quiet_zone() {
        let svg = svg("000201010212").unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
        // Version 1 is 21 modules, 29 with 4 on each side, drawn 9 pixels each
        // (the smallest size of at least 256): the first dark module (the
        // finder pattern's corner) sits 4 modules in.
        assert!(svg.contains("viewBox=\"0 0 261 261\""), "{svg}");
        assert!(svg.contains("<path fill=\"#000\" d=\"M36 36h9v9"), "{svg}");
    }
}
