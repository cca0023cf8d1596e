//! Read side: a payment by id, the payments of an order.

use std::sync::Arc;

use crate::domain::{OrderId, Payment, PaymentId, Refund};
use crate::ports::{PaymentReads, Ports};

use super::AppError;

pub struct PaymentQueries {
    store: Arc<dyn PaymentReads>,
}

impl PaymentQueries {
    pub fn new<Provider, Publisher>(ports: &Ports<Provider, Publisher>) -> Self {
        Self {
            store: ports.store.clone(),
        }
    }

    /// The payment and its refunds, oldest first.
    pub async fn get(&self, id: &PaymentId) -> Result<(Payment, Vec<Refund>), AppError> {
        let payment = self
            .store
            .get(id)
            .await?
            .ok_or_else(|| AppError::PaymentNotFound(id.clone()))?;
        let refunds = self.store.refunds_of(id).await?;
        Ok((payment, refunds))
    }

    /// Newest first, each with its refunds; an order without payments has an
    /// empty list.
    pub async fn list_by_order(
        &self,
        order_id: &OrderId,
    ) -> Result<Vec<(Payment, Vec<Refund>)>, AppError> {
        let mut listed = Vec::new();
        for payment in self.store.list_by_order(order_id).await? {
            let refunds = self.store.refunds_of(payment.id()).await?;
            listed.push((payment, refunds));
        }
        Ok(listed)
    }
}
