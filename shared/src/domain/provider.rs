//! Where a payment lives at the payment provider. The provider's ids are opaque
//! to us, but typed, so a provider order id is never mistaken for the caller's
//! order id.

use std::fmt;

use super::ids::token_id;
use super::DomainError;

token_id!(
    /// The provider's order, the thing the customer pays (Mercado Pago: `ORD…`).
    ProviderOrderId,
    "provider_order_id"
);

token_id!(
    /// The provider's payment inside an order (Mercado Pago: `PAY…`).
    ProviderPaymentId,
    "provider_payment_id"
);

token_id!(
    /// A refund made at the provider (Mercado Pago: `REF…`).
    ProviderRefundId,
    "provider_refund_id"
);

/// The provider's order for a payment and, once the customer paid, its payment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderRef {
    pub order_id: ProviderOrderId,
    pub payment_id: Option<ProviderPaymentId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_ids_take_only_their_alphabet_and_length() {
        assert!(ProviderOrderId::parse("ORD01JD0000000000000000000000").is_ok());
        assert!(ProviderPaymentId::parse("PAY01-x_9").is_ok());
        for bad in ["", "ORD/1", "ORD 1", "ÓRD", &"A".repeat(65)] {
            assert!(ProviderOrderId::parse(bad).is_err(), "{bad}");
            assert!(ProviderPaymentId::parse(bad).is_err(), "{bad}");
        }
    }
}
