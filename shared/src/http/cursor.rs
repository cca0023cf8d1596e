//! The `cursor` of `GET /payments?order_id=`: where the last page ended, as
//! an opaque string (hex of `{created_at in ms}.{payment_id}`). Only the
//! exact form this module writes is read back; anything else is a 400.

use crate::domain::{EventId, PaymentId, Timestamp};
use crate::ports::OrderCursor;

use super::RequestError;

pub(crate) fn encode(cursor: &OrderCursor) -> String {
    hex::encode(format!(
        "{}.{}",
        cursor.created_at.unix_millis(),
        cursor.payment_id
    ))
}

/// The feed's cursor: the last event's id, hex-encoded.
pub(crate) fn encode_event(last: &EventId) -> String {
    hex::encode(last.as_str())
}

pub(crate) fn decode_event(raw: &str) -> Result<EventId, RequestError> {
    let refused = || RequestError::BadParameter {
        name: "cursor",
        message: "is not a cursor this API gave out (use next_cursor as it came)".into(),
    };
    let text = hex::decode(raw)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(refused)?;
    let id = EventId::parse(&text).map_err(|_| refused())?;
    if encode_event(&id) != raw {
        return Err(refused());
    }
    Ok(id)
}

pub(crate) fn decode(raw: &str) -> Result<OrderCursor, RequestError> {
    let refused = || RequestError::BadParameter {
        name: "cursor",
        message: "is not a cursor this API gave out (use next_cursor as it came)".into(),
    };
    let bytes = hex::decode(raw).map_err(|_| refused())?;
    let text = String::from_utf8(bytes).map_err(|_| refused())?;
    let (millis, payment_id) = text.split_once('.').ok_or_else(refused)?;
    if millis.is_empty() || !millis.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refused());
    }
    let created_at = millis
        .parse::<i64>()
        .ok()
        .and_then(|millis| Timestamp::from_unix_millis(millis).ok())
        .ok_or_else(refused)?;
    let payment_id = PaymentId::parse(payment_id).map_err(|_| refused())?;
    let cursor = OrderCursor {
        created_at,
        payment_id,
    };
    // One spelling per position: upper-case hex or leading zeros are not ours.
    if encode(&cursor) != raw {
        return Err(refused());
    }
    Ok(cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_written_and_nothing_else_does() {
        let cursor = OrderCursor {
            created_at: Timestamp::from_unix_millis(1_795_608_000_123).unwrap(),
            payment_id: PaymentId::parse("pay_01JD0000000000000000000000").unwrap(),
        };
        let written = encode(&cursor);
        assert_eq!(decode(&written).unwrap(), cursor);
        let ours = written.clone();
        for bad in [
            String::new(),
            "zz".into(),
            ours.to_uppercase(),
            format!("{ours}00"),
            hex::encode("1795608000123"),
            hex::encode("x.pay_01JD0000000000000000000000"),
            hex::encode("-1.pay_01JD0000000000000000000000"),
            hex::encode("01795608000123.pay_01JD0000000000000000000000"),
            hex::encode("1795608000123.pay_nope"),
            hex::encode("99999999999999999999.pay_01JD0000000000000000000000"),
        ] {
            assert!(decode(&bad).is_err(), "{bad:?} must be refused");
        }
    }
}
