//! The `qr_data` of an order, as Mercado Pago's: an EMVCo merchant-presented
//! payload (EMV QR Code Specification for Payment Systems), fields as
//! tag-length-value, ending in its CRC16-CCITT so a scanner app can tell a
//! damaged read.

use crc::{Crc, CRC_16_IBM_3740};

/// CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF), the one EMVCo names.
const CCITT: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);

/// Mercado Pago's globally unique identifier in the merchant account field.
const MERCADO_PAGO: &str = "COM.MERCADOLIBRE";
/// Merchant category code 5812: eating places and restaurants.
const RESTAURANTS: &str = "5812";
/// ISO 4217 numeric code of the Brazilian real, the mock account's currency.
const BRL: &str = "986";

/// The payload for a dynamic (single-use) QR code of `order_id`, paying
/// `amount` (a decimal string) for our `external_reference`.
pub(crate) fn merchant_presented_payload(
    order_id: &str,
    external_reference: &str,
    amount: &str,
) -> String {
    let merchant_account = [
        field("00", MERCADO_PAGO),
        field("01", order_id),
        field("02", external_reference),
    ]
    .concat();
    let mut payload = [
        field("00", "01"), // payload format indicator
        field("01", "12"), // point of initiation: dynamic
        field("43", &merchant_account),
        field("52", RESTAURANTS),
        field("53", BRL),
        field("54", amount),
        field("58", "BR"),
        field("59", "Test Shop"),
        field("60", "SAO PAULO"),
        field("62", &field("05", "***")), // reference label
    ]
    .concat();
    // The CRC covers everything before it, its own tag and length included.
    payload.push_str("6304");
    let crc = CCITT.checksum(payload.as_bytes());
    payload.push_str(&format!("{crc:04X}"));
    payload
}

/// A payload's fields as (tag, value), in order; `None` when a length runs
/// past the end. For reading a payload back (the tests' scanner).
pub fn fields(payload: &str) -> Option<Vec<(String, String)>> {
    let mut rest = payload;
    let mut fields = Vec::new();
    while !rest.is_empty() {
        let length: usize = rest.get(2..4)?.parse().ok()?;
        fields.push((
            rest.get(..2)?.to_owned(),
            rest.get(4..4 + length)?.to_owned(),
        ));
        rest = rest.get(4 + length..)?;
    }
    Some(fields)
}

/// One tag-length-value field; a value longer than the format allows (99
/// characters) is cut, as no order of ours comes near it.
fn field(tag: &str, value: &str) -> String {
    let value: String = value.chars().take(99).collect();
    format!("{tag}{:02}{value}", value.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crc_is_ccitt_false() {
        assert_eq!(CCITT.checksum(b"123456789"), 0x29B1);
    }

    #[test]
    fn a_payload_is_well_formed_tlv_ending_in_its_crc() {
        let payload =
            merchant_presented_payload("ORD01JDX3M8RZ", "pay_01JDX3M8Q4S7V2C9K5T6W1Y0ZB", "25.90");
        let parsed = fields(&payload).unwrap_or_default();
        let tags: Vec<&str> = parsed.iter().map(|(tag, _)| tag.as_str()).collect();
        assert_eq!(
            tags,
            ["00", "01", "43", "52", "53", "54", "58", "59", "60", "62", "63"]
        );
        assert_eq!(parsed[0].1, "01");
        assert_eq!(parsed[5].1, "25.90");
        let account = fields(&parsed[2].1).unwrap_or_default();
        assert_eq!(account[0], ("00".into(), MERCADO_PAGO.into()));
        assert_eq!(account[2].1, "pay_01JDX3M8Q4S7V2C9K5T6W1Y0ZB");
        let (signed, crc) = payload.split_at(payload.len() - 4);
        assert_eq!(
            u16::from_str_radix(crc, 16).ok(),
            Some(CCITT.checksum(signed.as_bytes()))
        );
    }
}
