//! Mercado Pago's JSON shapes and vocabulary, kept out of the domain.

use serde::{Deserialize, Serialize};

use crate::domain::{ProviderOrderId, ProviderPaymentId, ProviderRefundId};
use crate::ports::{
    ProviderError, ProviderOrderState, ProviderOutcome, ProviderRefund, ProviderRefundStatus,
};

#[derive(Debug, Serialize)]
pub(crate) struct CreateOrderBody<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub external_reference: &'a str,
    pub total_amount: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub expiration_time: &'a str,
    pub config: OrderConfig<'a>,
    pub transactions: Transactions,
    pub items: Vec<OrderItem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_url: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct OrderConfig<'a> {
    pub qr: QrConfig<'a>,
}

#[derive(Debug, Serialize)]
pub(crate) struct QrConfig<'a> {
    pub external_pos_id: &'a str,
    pub mode: &'static str,
}

#[derive(Debug, Serialize)]
pub(crate) struct Transactions {
    pub payments: Vec<PaymentAmount>,
}

#[derive(Debug, Serialize)]
pub(crate) struct PaymentAmount {
    pub amount: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct OrderItem<'a> {
    pub title: &'a str,
    pub unit_price: String,
    pub quantity: u32,
    pub unit_measure: &'static str,
    pub external_code: &'a str,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OrderResponse {
    pub id: String,
    pub status: Option<String>,
    pub status_detail: Option<String>,
    pub external_reference: Option<String>,
    pub total_amount: Option<String>,
    pub currency: Option<String>,
    pub type_response: Option<TypeResponse>,
    pub transactions: Option<ResponseTransactions>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TypeResponse {
    pub qr_data: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ResponseTransactions {
    #[serde(default)]
    pub payments: Vec<ResponsePayment>,
    #[serde(default)]
    pub refunds: Vec<ResponseRefund>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ResponseRefund {
    pub id: String,
    pub amount: String,
    pub status: Option<String>,
}

/// A partial refund's body; a full refund has none.
#[derive(Debug, Serialize)]
pub(crate) struct RefundBody {
    pub transactions: Vec<RefundTransaction>,
}

#[derive(Debug, Serialize)]
pub(crate) struct RefundTransaction {
    pub id: String,
    pub amount: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ResponsePayment {
    pub id: Option<String>,
}

impl OrderResponse {
    /// The order in our terms; ids outside Mercado Pago's alphabet are refused.
    pub fn into_state(self) -> Result<ProviderOrderState, ProviderError> {
        let invalid = |e| ProviderError::InvalidResponse(format!("order: {e}"));
        let payment_id = self
            .transactions
            .as_ref()
            .and_then(|t| t.payments.iter().find_map(|p| p.id.as_deref()))
            .map(ProviderPaymentId::parse)
            .transpose()
            .map_err(invalid)?;
        let refunds = self
            .transactions
            .as_ref()
            .map(|t| t.refunds.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|r| {
                Ok(ProviderRefund {
                    id: ProviderRefundId::parse(&r.id).map_err(invalid)?,
                    amount: r.amount.clone(),
                    status: refund_status_of(&self.id, r.status.as_deref()),
                })
            })
            .collect::<Result<Vec<_>, ProviderError>>()?;
        Ok(ProviderOrderState {
            order_id: ProviderOrderId::parse(&self.id).map_err(invalid)?,
            outcome: read_outcome(
                &self.id,
                self.status.as_deref().unwrap_or_default(),
                self.status_detail.as_deref(),
            ),
            external_reference: self.external_reference,
            total_amount: self.total_amount,
            currency: self.currency,
            payment_id,
            refunds,
        })
    }
}

/// Mercado Pago's order status, mapped to our outcome (docs/mercadopago.md);
/// a status or detail it does not document is `Pending`.
pub fn outcome_of(status: &str, status_detail: Option<&str>) -> ProviderOutcome {
    known_outcome(status, status_detail).unwrap_or(ProviderOutcome::Pending)
}

/// The outcome of a status and detail Mercado Pago documents; None for one
/// it does not (a new one: nothing is decided on it).
fn known_outcome(status: &str, status_detail: Option<&str>) -> Option<ProviderOutcome> {
    Some(match (status, status_detail) {
        // A QR order paid is `processed`/`processed` (its transaction
        // `accredited`); with `partially_refunded` it stays approved: its
        // refunds are read from the order.
        ("processed", Some("processed" | "accredited" | "partially_refunded")) => {
            ProviderOutcome::Approved
        }
        // Orders of other channels end fully refunded this way.
        ("processed", Some("refunded")) | ("refunded", _) => ProviderOutcome::Refunded,
        ("failed", detail) => ProviderOutcome::Declined {
            reason: Some(detail.unwrap_or(status).to_owned()),
        },
        // The generic Orders API spells it `cancelled`.
        ("canceled" | "cancelled", _) => ProviderOutcome::Canceled,
        ("expired", _) => ProviderOutcome::Expired,
        // Not final yet.
        ("created" | "processing" | "action_required" | "at_terminal", _) => {
            ProviderOutcome::Pending
        }
        _ => return None,
    })
}

/// The order's outcome; one Mercado Pago does not document leaves the
/// payment pending, counted and logged with its value so a person can map it.
fn read_outcome(order_id: &str, status: &str, status_detail: Option<&str>) -> ProviderOutcome {
    known_outcome(status, status_detail).unwrap_or_else(|| {
        crate::app::metrics::count("ProviderUnknownStatus");
        tracing::error!(
            provider_order_id = order_id,
            status,
            status_detail,
            metric = "ProviderUnknownStatus",
            "Mercado Pago answered an order status we do not know; the payment stays pending"
        );
        ProviderOutcome::Pending
    })
}

/// A listed refund's status. One not documented counts as not yet back and
/// not failed: money is neither reported given back nor released on a guess.
fn refund_status_of(order_id: &str, status: Option<&str>) -> ProviderRefundStatus {
    match status {
        Some("processed") => ProviderRefundStatus::Processed,
        Some("failed") => ProviderRefundStatus::Failed,
        Some("processing" | "in_process") => ProviderRefundStatus::Processing,
        other => {
            crate::app::metrics::count("ProviderUnknownStatus");
            tracing::error!(
                provider_order_id = order_id,
                refund_status = other,
                metric = "ProviderUnknownStatus",
                "Mercado Pago listed a refund status we do not know; kept as processing"
            );
            ProviderRefundStatus::Processing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arbitrary::any_json;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_order_response_is_read_exactly_or_refused(
            id in prop_oneof![Just(json!("ORD01JDQ4S5V7W8")), any_json()],
            status in any_json(),
            transactions in prop_oneof![
                any_json(),
                any_json().prop_map(|payment| json!({"payments": [payment]})),
                any_json().prop_map(|refund| json!({"refunds": [refund]})),
            ],
            rest in any_json(),
        ) {
            let mut body = json!({
                "id": id, "status": status, "transactions": transactions,
                "total_amount": "25.90", "type_response": {"qr_data": "000201"},
            });
            if let (Some(body), Value::Object(rest)) = (body.as_object_mut(), rest) {
                for (key, value) in rest {
                    body.entry(key).or_insert(value);
                }
            }
            let bytes = body.to_string();
            if let Ok(response) = serde_json::from_str::<OrderResponse>(&bytes) {
                let given_id = response.id.clone();
                match response.into_state() {
                    Ok(state) => prop_assert_eq!(state.order_id.as_str(), given_id.as_str()),
                    Err(error) => prop_assert!(
                        matches!(error, ProviderError::InvalidResponse(_)),
                        "{error:?}"
                    ),
                }
            }
        }

        #[test]
        fn any_order_status_maps_to_an_outcome(status in ".{0,30}", detail in proptest::option::of(".{0,30}")) {
            let _ = outcome_of(&status, detail.as_deref());
        }
    }

    #[test]
    fn maps_order_statuses_to_outcomes() {
        assert_eq!(
            outcome_of("processed", Some("accredited")),
            ProviderOutcome::Approved
        );
        assert_eq!(
            outcome_of("failed", Some("rejected_by_issuer")),
            ProviderOutcome::Declined {
                reason: Some("rejected_by_issuer".into())
            }
        );
        assert_eq!(outcome_of("canceled", None), ProviderOutcome::Canceled);
        assert_eq!(
            outcome_of("refunded", Some("refunded")),
            ProviderOutcome::Refunded
        );
        assert_eq!(
            outcome_of("processed", Some("partially_refunded")),
            ProviderOutcome::Approved
        );
        assert_eq!(outcome_of("expired", None), ProviderOutcome::Expired);
        for pending in ["created", "action_required", "at_terminal", "something_new"] {
            assert_eq!(outcome_of(pending, None), ProviderOutcome::Pending);
        }
    }

    #[test]
    fn a_paid_qr_order_is_approved_as_mercado_pago_spells_it() {
        // Mercado Pago's QR status page: `processed` / `processed`.
        assert_eq!(
            outcome_of("processed", Some("processed")),
            ProviderOutcome::Approved
        );
        assert_eq!(outcome_of("cancelled", None), ProviderOutcome::Canceled);
    }

    #[test]
    fn an_undocumented_status_or_detail_decides_nothing() {
        assert_eq!(known_outcome("something_new", None), None);
        // Paid, but in a way Mercado Pago does not document: not approved on a guess.
        assert_eq!(known_outcome("processed", Some("something_new")), None);
        assert_eq!(known_outcome("processed", None), None);
        assert_eq!(
            known_outcome("processed", Some("refunded")),
            Some(ProviderOutcome::Refunded)
        );
    }

    #[test]
    fn a_refund_is_back_only_when_listed_processed() {
        assert_eq!(
            refund_status_of("ORD1", Some("processed")),
            ProviderRefundStatus::Processed
        );
        assert_eq!(
            refund_status_of("ORD1", Some("failed")),
            ProviderRefundStatus::Failed
        );
        for not_yet in [
            Some("processing"),
            None,
            Some("something_new"),
            Some("approved"),
            Some("rejected"),
        ] {
            assert_eq!(
                refund_status_of("ORD1", not_yet),
                ProviderRefundStatus::Processing
            );
        }
    }
}
