//! Read side: a payment by id, the payments of an order.

use std::sync::Arc;

use crate::domain::{OrderId, Payment, PaymentId};
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

    pub async fn get(&self, id: &PaymentId) -> Result<Payment, AppError> {
        self.store
            .get(id)
            .await?
            .ok_or_else(|| AppError::PaymentNotFound(id.clone()))
    }

    /// Newest first; an order without payments has an empty list.
    pub async fn list_by_order(&self, order_id: &OrderId) -> Result<Vec<Payment>, AppError> {
        Ok(self.store.list_by_order(order_id).await?)
    }
}
