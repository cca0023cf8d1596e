//! The payment state machine: which status may follow which (docs/architecture.md).

use strum::{Display, EnumString, IntoStaticStr, VariantArray};

use super::DomainError;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Display, EnumString, IntoStaticStr, VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Approved,
    Declined,
    Expired,
    Canceled,
    Refunded,
}

impl PaymentStatus {
    pub const ALL: &'static [PaymentStatus] = <Self as VariantArray>::VARIANTS;

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        raw.parse()
            .map_err(|_| DomainError::invalid("status", format!("unknown status `{raw}`")))
    }

    /// The only allowed moves; everything else is rejected. A payment that
    /// ended without money (declined, expired, canceled) moves again only to
    /// `refunded`, when a late payment is given back.
    pub fn can_become(self, next: PaymentStatus) -> bool {
        use PaymentStatus::*;
        matches!(
            (self, next),
            (Pending, Approved | Declined | Expired | Canceled)
                | (Approved, Refunded)
                | (Declined | Expired | Canceled, Refunded)
        )
    }

    /// Nothing follows: all the money, if any, went back.
    pub fn is_terminal(self) -> bool {
        self == PaymentStatus::Refunded
    }

    /// Ended without keeping money: the order may try again.
    pub fn ended_unpaid(self) -> bool {
        matches!(
            self,
            PaymentStatus::Declined | PaymentStatus::Expired | PaymentStatus::Canceled
        )
    }

    /// A live payment blocks any other payment for its order.
    pub fn is_live(self) -> bool {
        matches!(self, PaymentStatus::Pending | PaymentStatus::Approved)
    }

    pub fn transition_to(self, next: PaymentStatus) -> Result<PaymentStatus, DomainError> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(DomainError::Transition {
                from: self,
                to: next,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PaymentStatus::{self, *};
    use proptest::prelude::*;

    const ALLOWED: [(PaymentStatus, PaymentStatus); 8] = [
        (Pending, Approved),
        (Pending, Canceled),
        (Declined, Refunded),
        (Expired, Refunded),
        (Canceled, Refunded),
        (Pending, Declined),
        (Pending, Expired),
        (Approved, Refunded),
    ];

    #[test]
    fn every_pair_outside_the_table_is_rejected() {
        for &from in PaymentStatus::ALL {
            for &to in PaymentStatus::ALL {
                let allowed = ALLOWED.contains(&(from, to));
                assert_eq!(from.can_become(to), allowed, "{from} -> {to}");
                assert_eq!(from.transition_to(to).is_ok(), allowed, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for &s in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(s.as_str()), Ok(s));
        }
        assert!(PaymentStatus::parse("PENDING").is_err());
    }

    proptest! {
        #[test]
        fn no_sequence_of_transitions_leaves_a_terminal_state(
            attempts in proptest::collection::vec(0..PaymentStatus::ALL.len(), 0..40)
        ) {
            let mut current = Pending;
            let mut reached_terminal = false;
            for index in attempts {
                let next = PaymentStatus::ALL[index];
                if let Ok(moved) = current.transition_to(next) {
                    prop_assert!(!reached_terminal, "left terminal state {current}");
                    current = moved;
                }
                if current.is_terminal() {
                    reached_terminal = true;
                }
            }
            prop_assert_eq!(reached_terminal, current.is_terminal());
        }
    }
}
