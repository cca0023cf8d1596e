//! Refunds: money given back on a payment, in full or in part. A refund is
//! reserved on its payment before the provider is asked, so refunds racing
//! each other can never give back more than was paid.

use std::time::Duration;

use strum::{Display, EnumString, IntoStaticStr};

use super::item::bounded_text;
use super::{CallerId, DomainError, Money, PaymentId, ProviderRefundId, RefundId, Timestamp};

/// Why the money goes back, in the caller's words: 1..=150 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefundReason(String);

impl RefundReason {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        bounded_text(raw, 150, "reason").map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who asked for the refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Display, EnumString, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum RefundSource {
    /// A caller of our API.
    Api,
    /// Made at the provider (Mercado Pago's dashboard); we learned of it by reading the order.
    Provider,
    /// Ours, automatic: the customer paid an order we had already closed.
    LatePayment,
}

impl RefundSource {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        raw.parse()
            .map_err(|_| DomainError::invalid("source", format!("unknown refund source `{raw}`")))
    }
}

/// Why a refund failed, so its answer can say so after a replay too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Display, EnumString, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum RefundFailure {
    /// The provider refused to make it (its refund window closed, the order
    /// cannot be refunded...).
    Refused,
    /// The provider does not make this order's refunds in part.
    PartialNotSupported,
    /// The provider holds less than asked: refunds we had not seen.
    AboveRemaining,
    /// The provider took it, then could not give the money back.
    FailedAtProvider,
}

impl RefundFailure {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        raw.parse().map_err(|_| {
            DomainError::invalid("failure_kind", format!("unknown refund failure `{raw}`"))
        })
    }
}

/// `pending` until the provider answers; then `succeeded` or `failed`, for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Display, EnumString, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum RefundStatus {
    Pending,
    Succeeded,
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        raw.parse()
            .map_err(|_| DomainError::invalid("status", format!("unknown refund status `{raw}`")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub refund_id: RefundId,
    pub payment_id: PaymentId,
    pub amount: Money,
    pub reason: Option<RefundReason>,
    pub source: RefundSource,
    pub status: RefundStatus,
    pub provider_refund_id: Option<ProviderRefundId>,
    pub failure_reason: Option<String>,
    /// Set with `failure_reason`; `None` on refunds failed before it was kept.
    pub failure: Option<RefundFailure>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The caller's full session ARN, for an API refund (audit); the service
    /// and Mercado Pago's dashboard have none.
    pub requested_by: Option<CallerId>,
    /// Who may ask Mercado Pago for it now, so that one asker at a time does
    /// and an answer is recorded only by the one who asked last.
    pub ask: AskClaim,
}

/// The right to ask Mercado Pago for a pending refund: the n-th claim,
/// held until `until` (then another may take it over: the first asker is
/// gone). A settlement is written only under the claim it asked with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AskClaim {
    pub number: u32,
    pub until: Option<Timestamp>,
}

impl AskClaim {
    /// Longer than any function asking Mercado Pago may live (three tries
    /// of 5 s, within a Lambda's timeout).
    pub const LEASE: Duration = Duration::from_secs(120);

    fn first(at: Timestamp) -> Self {
        Self {
            number: 1,
            until: Some(at.plus(Self::LEASE)),
        }
    }
}

impl Refund {
    /// A refund about to be asked of the provider.
    pub fn pending(
        refund_id: RefundId,
        payment_id: PaymentId,
        amount: Money,
        reason: Option<RefundReason>,
        source: RefundSource,
        at: Timestamp,
    ) -> Self {
        Self {
            refund_id,
            payment_id,
            amount,
            reason,
            source,
            status: RefundStatus::Pending,
            provider_refund_id: None,
            failure_reason: None,
            failure: None,
            created_at: at,
            updated_at: at,
            requested_by: None,
            ask: AskClaim::first(at),
        }
    }

    /// The same refund, recorded as asked for by `caller`.
    pub fn requested_by(self, caller: Option<CallerId>) -> Self {
        Self {
            requested_by: caller,
            ..self
        }
    }

    /// The same claim, let go: the asker is done without an answer to record,
    /// so the next one may ask at once.
    pub fn ask_released(&self) -> Self {
        Self {
            ask: AskClaim {
                number: self.ask.number,
                until: None,
            },
            ..self.clone()
        }
    }

    /// Taken by the provider, which gives the money back asynchronously:
    /// still pending, never asked again, settled by what a later read of the
    /// order says of `provider_refund_id`.
    pub fn accepted(&self, provider_refund_id: ProviderRefundId, at: Timestamp) -> Self {
        Self {
            provider_refund_id: Some(provider_refund_id),
            updated_at: at,
            ..self.ask_released()
        }
    }

    /// Pending at the provider, which took it (it has the provider's id).
    pub fn is_accepted(&self) -> bool {
        self.status == RefundStatus::Pending && self.provider_refund_id.is_some()
    }

    /// The claim to ask for it next, if nobody holds a live one: the caller
    /// stores it (guarded by the current claim's number) before asking. A
    /// refund the provider took is not asked again.
    pub fn claim_ask(&self, now: Timestamp) -> Option<Self> {
        let free = self.status == RefundStatus::Pending
            && self.provider_refund_id.is_none()
            && self.ask.until.is_none_or(|until| until <= now);
        free.then(|| Self {
            ask: AskClaim {
                number: self.ask.number.saturating_add(1),
                until: Some(now.plus(AskClaim::LEASE)),
            },
            ..self.clone()
        })
    }

    /// Given back, for `amount` (what Mercado Pago made of an "all that
    /// remains" refund, which may be less than reserved).
    pub fn succeeded_for(
        &self,
        amount: Money,
        provider_refund_id: ProviderRefundId,
        at: Timestamp,
    ) -> Self {
        let mut done = self.succeeded(Some(provider_refund_id), at);
        done.amount = amount;
        done
    }

    /// The provider gave the money back.
    pub fn succeeded(&self, provider_refund_id: Option<ProviderRefundId>, at: Timestamp) -> Self {
        Self {
            status: RefundStatus::Succeeded,
            provider_refund_id,
            updated_at: at,
            ..self.clone()
        }
    }

    /// The provider refused for good (e.g. past its refund window), or took
    /// it and then failed to give the money back.
    pub fn failed(&self, failure: RefundFailure, reason: impl Into<String>, at: Timestamp) -> Self {
        Self {
            status: RefundStatus::Failed,
            failure_reason: Some(reason.into()),
            failure: Some(failure),
            updated_at: at,
            ..self.clone()
        }
    }
}
