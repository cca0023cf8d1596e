//! Create a payment for an order: one live payment per order, safe
//! retries by request fingerprint, one provider order per payment.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::domain::{
    AllowedCallers, CallerId, Description, Fingerprint, IdempotencyKey, Items, Money, NewPayment,
    OrderId, Payment, PaymentStatus, PointsOfSale, PosId, ProviderRef,
};
use crate::ports::{
    cancel_key, Clock, IdGenerator, IdempotencyKeys, IdempotencyRecord, IdempotentOutcome,
    KeyClaim, OrderLockState, PaymentCreation, PaymentProvider, PaymentReads, Ports, ProviderOrder,
    ProviderPort, StoreError,
};

use super::{metrics, AppError};

/// Rounds of read-then-conditional-write before giving up under contention.
const MAX_ATTEMPTS: usize = 5;

/// How long an `Idempotency-Key` keeps answering with its first result.
pub const IDEMPOTENCY_KEY_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A validated create request.
#[derive(Debug, Clone)]
pub struct CreatePaymentCommand {
    /// Who asks; not part of the fingerprint (the request is the same request
    /// whoever sends it again).
    pub created_by: CallerId,
    pub order_id: OrderId,
    pub amount: Money,
    pub items: Items,
    pub description: Option<Description>,
    /// The point of sale asked for; `None`: the default one.
    pub pos_id: Option<PosId>,
}

impl CreatePaymentCommand {
    /// SHA-256 of the request's canonical JSON (keys sorted, no whitespace), so a
    /// retry of the same request matches whatever its original byte layout was.
    /// Built here on purpose rather than from the API's payment view: stored
    /// fingerprints must not change when the response format does. `pos_id`
    /// counts as sent, and only when sent: a request without one keeps the
    /// fingerprint it had before points of sale existed, and a change of the
    /// default between a request and its retry does not make them differ.
    pub fn fingerprint(&self) -> Fingerprint {
        let items: Vec<_> = self
            .items
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
        let mut canonical = json!({
            "order_id": self.order_id.as_str(),
            "amount": self.amount.minor_units(),
            "currency": self.amount.currency().code(),
            "items": items,
            "description": self.description.as_ref().map(Description::as_str),
        });
        if let Some(pos_id) = &self.pos_id {
            canonical["pos_id"] = json!(pos_id.as_str());
        }
        Fingerprint::of_canonical(canonical.to_string().as_bytes())
    }
}

/// The payment to show, and whether this call created it (201) or found it (200).
#[derive(Debug, Clone)]
pub struct Created {
    pub payment: Payment,
    pub newly_created: bool,
    /// The answer is an Idempotency-Key's first answer, replayed.
    pub replayed: bool,
}

pub struct CreatePayment {
    payments: Arc<dyn PaymentReads>,
    creation: Arc<dyn PaymentCreation>,
    keys: Arc<dyn IdempotencyKeys>,
    provider: Arc<dyn PaymentProvider>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    expiry: Duration,
    points_of_sale: PointsOfSale,
    callers: AllowedCallers,
}

impl CreatePayment {
    /// `expiry`: how long the QR code stays payable; `points_of_sale`: where
    /// a payment may be made, the first when the request names none.
    pub fn new<Publisher>(
        ports: &Ports<ProviderPort, Publisher>,
        expiry: Duration,
        points_of_sale: PointsOfSale,
    ) -> Self {
        Self {
            payments: ports.store.clone(),
            creation: ports.store.clone(),
            keys: ports.store.clone(),
            provider: ports.provider.clone(),
            clock: ports.clock.clone(),
            ids: ports.ids.clone(),
            expiry,
            points_of_sale,
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

    /// Creates the payment; with an `Idempotency-Key`, a repeat of the same
    /// request answers with the first result, another request is refused.
    pub async fn execute(
        &self,
        command: CreatePaymentCommand,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created, AppError> {
        // Refused before anything is read or claimed: no key answers it.
        let pos_id = self.point_of_sale(&command)?;
        let fingerprint = command.fingerprint();
        let Some(key) = key else {
            return self.create(&command, &pos_id, fingerprint, None).await;
        };
        if let Some(record) = self.claim(key, &fingerprint).await? {
            if record.fingerprint != fingerprint {
                return Err(AppError::IdempotencyKeyReused);
            }
            if let Some(answer) = self.answer_of(record.outcome).await? {
                return Ok(answer);
            }
            // Same request, first attempt unfinished: creating is idempotent anyway.
        }
        let created = match self
            .create(&command, &pos_id, fingerprint.clone(), Some(key))
            .await
        {
            // A twin answered the key while this one was creating: its answer
            // is the key's answer.
            Err(AppError::Contention) => self.first_answer(key, &fingerprint).await?,
            other => other?,
        };
        // A new payment recorded its key in its creating transaction; one found
        // (a retry, a twin) is recorded here.
        if !created.newly_created {
            let outcome = IdempotentOutcome {
                payment_id: created.payment.id().clone(),
                newly_created: false,
            };
            match self.keys.complete_idempotency_key(key, &outcome).await {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => {
                    return self.first_answer(key, &fingerprint).await;
                }
                Err(error) => {
                    // A key never answers what it has not recorded: were this
                    // payment to end before the retry, the retry would make a
                    // new one and the key would have answered two. The caller
                    // retries; the live payment is found again.
                    tracing::warn!(
                        payment_id = %created.payment.id(),
                        order_id = %created.payment.order_id(),
                        %error,
                        "could not record the idempotency key's outcome; answered with an error"
                    );
                    return Err(error.into());
                }
            }
        }
        Ok(created)
    }

    /// The point of sale the payment is made at: the one asked for, if it is
    /// one of ours, or the default.
    fn point_of_sale(&self, command: &CreatePaymentCommand) -> Result<PosId, AppError> {
        match &command.pos_id {
            None => Ok(self.points_of_sale.default_pos().clone()),
            Some(asked) if self.points_of_sale.contains(asked) => Ok(asked.clone()),
            Some(unknown) => Err(AppError::UnknownPointOfSale(unknown.clone())),
        }
    }

    /// The payment a key's recorded outcome names, if any.
    async fn answer_of(
        &self,
        outcome: Option<IdempotentOutcome>,
    ) -> Result<Option<Created>, AppError> {
        let Some(outcome) = outcome else {
            return Ok(None);
        };
        Ok(self
            .payments
            .get(&outcome.payment_id)
            .await?
            .map(|payment| Created {
                payment,
                newly_created: outcome.newly_created,
                replayed: true,
            }))
    }

    /// Claims `key` for this request; a key already held answers its record.
    async fn claim(
        &self,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let now = self.clock.now();
        self.keys
            .claim_idempotency_key(&KeyClaim {
                key: key.clone(),
                fingerprint: fingerprint.clone(),
                now,
                expires_at: now.plus(IDEMPOTENCY_KEY_LIFETIME),
            })
            .await
    }

    /// What the key answered first, read again (a claim of an existing key
    /// is a read of it).
    async fn first_answer(
        &self,
        key: &IdempotencyKey,
        fingerprint: &Fingerprint,
    ) -> Result<Created, AppError> {
        match self.claim(key, fingerprint).await? {
            Some(record) => self
                .answer_of(record.outcome)
                .await?
                .ok_or(AppError::Contention),
            None => Err(AppError::Contention),
        }
    }

    async fn create(
        &self,
        command: &CreatePaymentCommand,
        pos_id: &PosId,
        fingerprint: Fingerprint,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created, AppError> {
        for _ in 0..MAX_ATTEMPTS {
            let lock = self.creation.order_lock(&command.order_id).await?;
            let expected_lock_version = match &lock {
                None => None,
                Some(lock) if lock.state == OrderLockState::Paid => {
                    return Err(AppError::OrderAlreadyPaid(lock.live_payment_id.clone()))
                }
                Some(lock) if lock.state == OrderLockState::Open => {
                    let live =
                        self.payments
                            .get(&lock.live_payment_id)
                            .await?
                            .ok_or_else(|| {
                                StoreError::Corrupt(format!(
                                    "order lock points at missing payment {}",
                                    lock.live_payment_id
                                ))
                            })?;
                    match live.status() {
                        PaymentStatus::Approved => {
                            return Err(AppError::OrderAlreadyPaid(live.id().clone()))
                        }
                        // A retry after the QR's expiry never reaches Mercado Pago:
                        // the sweeper settles the old payment first.
                        PaymentStatus::Pending
                            if *live.fingerprint() == fingerprint
                                && live.expires_at() <= self.clock.now() =>
                        {
                            return Err(AppError::PaymentExpired(live.id().clone()))
                        }
                        PaymentStatus::Pending if *live.fingerprint() == fingerprint => {
                            // A retry, or a racing twin: finish the same payment.
                            let payment = self.complete(live).await?;
                            return Ok(Created {
                                payment,
                                newly_created: false,
                                replayed: false,
                            });
                        }
                        PaymentStatus::Pending => {
                            return Err(AppError::OrderHasLivePayment(live.id().clone()))
                        }
                        // Terminal payment under an open lock: the lock is stale.
                        _ => Some(lock.version),
                    }
                }
                Some(lock) => Some(lock.version),
            };

            let payment = self.new_pending(command, pos_id, fingerprint.clone());
            match self
                .creation
                .create_pending(&payment, expected_lock_version, key)
                .await
            {
                Ok(()) => {
                    metrics::reached(PaymentStatus::Pending);
                    tracing::info!(
                        payment_id = %payment.id(),
                        order_id = %payment.order_id(),
                        created_by = %payment.created_by(),
                        %pos_id,
                        "payment created"
                    );
                    let payment = self.complete(payment).await?;
                    return Ok(Created {
                        payment,
                        newly_created: true,
                        replayed: false,
                    });
                }
                // Someone else took the lock first: read again and decide anew.
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(AppError::Contention)
    }

    fn new_pending(
        &self,
        command: &CreatePaymentCommand,
        pos_id: &PosId,
        fingerprint: Fingerprint,
    ) -> Payment {
        let now = self.clock.now();
        Payment::new_pending(NewPayment {
            id: self.ids.payment_id(),
            created_by: command.created_by.clone(),
            order_id: command.order_id.clone(),
            amount: command.amount,
            items: command.items.clone(),
            description: command.description.clone(),
            pos_id: pos_id.clone(),
            fingerprint,
            created_at: now,
            expires_at: now.plus(self.expiry),
        })
    }

    /// Makes sure the provider order exists and its QR is stored. The provider
    /// call is keyed by the payment id, so repeating it yields the same order.
    async fn complete(&self, payment: Payment) -> Result<Payment, AppError> {
        if payment.is_ready() || payment.status() != PaymentStatus::Pending {
            return Ok(payment);
        }
        // One stored before points of sale were recorded is completed at the
        // default, and recorded with it.
        let payment = payment.with_point_of_sale_or(self.points_of_sale.default_pos());
        let order = self.provider.create_order(&payment).await?;
        if let Some(reason) = answer_mismatch(&payment, &order) {
            return Err(self.refuse_mismatched(&payment, &order, reason).await);
        }
        let provider = ProviderRef {
            order_id: order.order_id,
            payment_id: order.payment_id,
        };
        let ready = payment.with_provider(provider, order.qr_data, self.clock.now());
        match self
            .creation
            .record_provider_order(&ready, payment.version())
            .await
        {
            Ok(()) => Ok(ready),
            // A twin request stored it first (or the payment moved on): show that.
            Err(StoreError::Conflict(_)) => self
                .payments
                .get(payment.id())
                .await?
                .ok_or_else(|| AppError::PaymentNotFound(payment.id().clone())),
            Err(other) => Err(other.into()),
        }
    }

    /// An order that would charge something else than the payment: canceled
    /// at Mercado Pago so nobody can pay it, and never shown to the kiosk.
    /// The payment stays without an order (the sweeper expires it); a retry
    /// meets the same order and the same refusal.
    async fn refuse_mismatched(
        &self,
        payment: &Payment,
        order: &ProviderOrder,
        reason: &'static str,
    ) -> AppError {
        metrics::count("ProviderMismatch");
        tracing::error!(
            payment_id = %payment.id(),
            order_id = %payment.order_id(),
            provider_order_id = %order.order_id,
            reason,
            metric = "ProviderMismatch",
            "Mercado Pago created an order that does not match the payment; canceling it"
        );
        if let Err(error) = self
            .provider
            .cancel_order(&order.order_id, &cancel_key(payment.id()))
            .await
        {
            tracing::error!(
                payment_id = %payment.id(),
                order_id = %payment.order_id(),
                provider_order_id = %order.order_id,
                %error,
                "could not cancel the mismatched order; a retry of the request cancels it"
            );
        }
        AppError::ProviderMismatch {
            payment_id: payment.id().clone(),
            reason,
        }
    }
}

/// Why the order Mercado Pago created cannot be this payment's, if it cannot.
fn answer_mismatch(payment: &Payment, order: &ProviderOrder) -> Option<&'static str> {
    let currency = payment.amount().currency();
    if order
        .currency
        .as_deref()
        .is_some_and(|answered| answered != currency.code())
    {
        return Some("currency differs");
    }
    match order
        .total_amount
        .as_deref()
        .map(|total| Money::from_decimal_string(total, currency))
    {
        Some(Ok(total)) if total == payment.amount() => None,
        Some(_) => Some("total amount differs"),
        None => Some("total amount missing"),
    }
}
