//! Mercado Pago's side in memory, for use-case tests that need to make it say
//! what the mock never would (a contradicting order, for instance).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use payments::domain::{Payment, ProviderOrderId, ProviderPaymentId};
use payments::ports::{
    PaymentProvider, ProviderError, ProviderOrder, ProviderOrderState, ProviderOutcome,
    RefundRequest, Refusal,
};

/// The provider's side, in memory: orders whose outcome the test settles.
#[derive(Default)]
pub struct FakeProvider {
    orders: Mutex<HashMap<ProviderOrderId, ProviderOrderState>>,
}

impl FakeProvider {
    pub fn settle(&self, order_id: &ProviderOrderId, outcome: ProviderOutcome) {
        if let Some(order) = self.orders.lock().unwrap().get_mut(order_id) {
            order.outcome = outcome;
        }
    }

    /// Changes what the provider says about an order, e.g. to contradict us.
    pub fn tamper(&self, order_id: &ProviderOrderId, change: impl FnOnce(&mut ProviderOrderState)) {
        if let Some(order) = self.orders.lock().unwrap().get_mut(order_id) {
            change(order);
        }
    }
}

#[async_trait]
impl PaymentProvider for FakeProvider {
    async fn create_order(&self, payment: &Payment) -> Result<ProviderOrder, ProviderError> {
        let order_id =
            ProviderOrderId::parse(&format!("ORD{}", &payment.id().as_str()[4..])).unwrap();
        let payment_id = ProviderPaymentId::parse("PAY1").unwrap();
        self.orders
            .lock()
            .unwrap()
            .entry(order_id.clone())
            .or_insert(ProviderOrderState {
                order_id: order_id.clone(),
                outcome: ProviderOutcome::Pending,
                external_reference: Some(payment.id().to_string()),
                total_amount: Some(payment.amount().to_decimal_string()),
                currency: None,
                payment_id: Some(payment_id.clone()),
                refunds: Vec::new(),
            });
        Ok(ProviderOrder {
            order_id,
            payment_id: Some(payment_id),
            qr_data: "qr".into(),
            total_amount: Some(payment.amount().to_decimal_string()),
            currency: None,
        })
    }
    async fn get_order(&self, id: &ProviderOrderId) -> Result<ProviderOrderState, ProviderError> {
        self.orders
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or(ProviderError::NotFound)
    }
    async fn cancel_order(
        &self,
        id: &ProviderOrderId,
        _idempotency_key: &str,
    ) -> Result<ProviderOrderState, ProviderError> {
        self.get_order(id).await
    }
    async fn refund_order(
        &self,
        _: &ProviderOrderId,
        _: &RefundRequest,
    ) -> Result<ProviderOrderState, ProviderError> {
        // The use-case tests built on it ask for no refund.
        Err(ProviderError::Rejected {
            status: 400,
            refusal: Refusal::Other,
            detail: "the fake provider does not refund".into(),
        })
    }
}
