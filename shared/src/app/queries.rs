//! Read side: a payment by id, the payments of an order.

use std::sync::Arc;

use crate::domain::{
    AllowedCallers, OrderId, Payment, PaymentId, PaymentStatus, Refund, Timestamp,
};
use crate::ports::{Clock, PaymentReads, Ports};

use super::AppError;

pub struct PaymentQueries {
    store: Arc<dyn PaymentReads>,
    clock: Arc<dyn Clock>,
    callers: AllowedCallers,
}

/// What a kiosk shows for a payment it can still be paid through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayableQr {
    pub qr_data: String,
    pub expires_at: Timestamp,
    pub now: Timestamp,
}

impl PaymentQueries {
    pub fn new<Provider, Publisher>(ports: &Ports<Provider, Publisher>) -> Self {
        Self {
            store: ports.store.clone(),
            clock: ports.clock.clone(),
            callers: AllowedCallers::anyone(),
        }
    }

    /// Admits only `callers` (the route's `ALLOWED_CALLERS`); anyone until set.
    pub fn admitting(self, callers: AllowedCallers) -> Self {
        Self { callers, ..self }
    }

    pub fn allowed_callers(&self) -> &AllowedCallers {
        &self.callers
    }

    /// The QR data of a payment the customer can still pay: `pending`, with
    /// the QR Mercado Pago confirmed, before `expires_at`.
    pub async fn payable_qr(&self, id: &PaymentId) -> Result<PayableQr, AppError> {
        let payment = self
            .store
            .get(id)
            .await?
            .ok_or_else(|| AppError::PaymentNotFound(id.clone()))?;
        let now = self.clock.now();
        match payment.qr_data() {
            Some(qr_data)
                if payment.status() == PaymentStatus::Pending && now < payment.expires_at() =>
            {
                Ok(PayableQr {
                    qr_data: qr_data.to_owned(),
                    expires_at: payment.expires_at(),
                    now,
                })
            }
            _ => Err(AppError::QrNotAvailable {
                payment_id: id.clone(),
                status: payment.status(),
            }),
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
