//! The payment representation clients read (docs/api.md).

use serde_json::{json, Value};

use crate::domain::{Payment, Refund};

/// The payment with every refund it has, oldest first.
pub fn payment_json(payment: &Payment, refunds: &[Refund]) -> Value {
    let currency = payment.amount().currency().code();
    let items: Vec<Value> = payment
        .items()
        .as_slice()
        .iter()
        .map(|item| {
            json!({
                "sku": item.sku().as_str(),
                "title": item.title().as_str(),
                "quantity": item.quantity(),
                "unit_price": item.unit_price().minor_units(),
            })
        })
        .collect();
    json!({
        "payment_id": payment.id().as_str(),
        "order_id": payment.order_id().as_str(),
        "status": payment.status().as_str(),
        "amount": payment.amount().minor_units(),
        "currency": currency,
        "items": items,
        "description": payment.description().map(|d| d.as_str()),
        "pos_id": payment.pos_id().map(|p| p.as_str()),
        "qr_data": payment.qr_data(),
        "provider": payment.provider().map(|p| json!({
            "order_id": p.order_id.as_str(),
            "payment_id": p.payment_id.as_ref().map(|id| id.as_str()),
        })),
        "created_at": payment.created_at().to_rfc3339(),
        "updated_at": payment.updated_at().to_rfc3339(),
        "expires_at": payment.expires_at().to_rfc3339(),
        "decline_reason": payment.decline_reason(),
        "amount_refunded": payment.amount_refunded(),
        "needs_review": payment.sweep().needs_review,
        "refunds": refunds.iter().map(refund_json).collect::<Vec<_>>(),
    })
}

pub fn refund_json(refund: &Refund) -> Value {
    json!({
        "refund_id": refund.refund_id.as_str(),
        "amount": refund.amount.minor_units(),
        "reason": refund.reason.as_ref().map(|r| r.as_str()),
        "source": refund.source.as_str(),
        "status": refund.status.as_str(),
        "provider_refund_id": refund.provider_refund_id.as_ref().map(|id| id.as_str()),
        "failure_reason": refund.failure_reason,
        "created_at": refund.created_at.to_rfc3339(),
        "updated_at": refund.updated_at.to_rfc3339(),
    })
}
