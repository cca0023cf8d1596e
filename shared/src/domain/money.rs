//! Money in integer minor units. Mercado Pago speaks decimal strings ("25.90");
//! conversion both ways is exact, never through floats.

use strum::{Display, EnumString, IntoStaticStr, VariantArray};

use super::DomainError;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Display,
    EnumString,
    IntoStaticStr,
    VariantArray,
)]
#[strum(serialize_all = "UPPERCASE")]
pub enum Currency {
    Brl,
    Ars,
    Mxn,
    Uyu,
    Pen,
    Cop,
    Clp,
}

impl Currency {
    pub const ALL: &'static [Currency] = <Self as VariantArray>::VARIANTS;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        raw.parse().map_err(|_| {
            DomainError::invalid(
                "currency",
                "must be one of BRL, ARS, MXN, UYU, PEN, COP, CLP",
            )
        })
    }

    /// The ISO 4217 code.
    pub fn code(self) -> &'static str {
        self.into()
    }

    /// Number of decimal digits of the minor unit (ISO 4217 as Mercado Pago uses it).
    pub fn exponent(self) -> u32 {
        match self {
            Currency::Clp => 0,
            _ => 2,
        }
    }
}

/// A positive amount of at most [`Money::MAX_MINOR`] minor units in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub const MAX_MINOR: i64 = 100_000_000;

    pub fn new(minor: i64, currency: Currency) -> Result<Self, DomainError> {
        if minor <= 0 {
            return Err(DomainError::invalid("amount", "must be greater than 0"));
        }
        if minor > Self::MAX_MINOR {
            return Err(DomainError::invalid(
                "amount",
                format!("must be at most {}", Self::MAX_MINOR),
            ));
        }
        Ok(Self { minor, currency })
    }

    pub fn minor_units(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    /// Mercado Pago's decimal form: 2590 BRL -> "25.90", 1500 CLP -> "1500".
    pub fn to_decimal_string(self) -> String {
        let exponent = self.currency.exponent();
        if exponent == 0 {
            return self.minor.to_string();
        }
        let scale = 10_i64.pow(exponent);
        format!(
            "{}.{:0width$}",
            self.minor / scale,
            self.minor % scale,
            width = exponent as usize
        )
    }

    /// Parses Mercado Pago's decimal form exactly. Fewer fraction digits than the
    /// currency's exponent are padded ("25.9" -> 2590); extra digits must be zeros
    /// ("1500.00" CLP -> 1500), anything that would need rounding is rejected.
    pub fn from_decimal_string(raw: &str, currency: Currency) -> Result<Self, DomainError> {
        let invalid = || DomainError::invalid("amount", format!("`{raw}` is not an exact amount"));
        let (whole, fraction) = match raw.split_once('.') {
            Some((w, f)) if !f.is_empty() => (w, f),
            Some(_) => return Err(invalid()),
            None => (raw, ""),
        };
        if whole.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        let exponent = currency.exponent() as usize;
        let (kept, dropped) = fraction.split_at(fraction.len().min(exponent));
        if dropped.bytes().any(|b| b != b'0') {
            return Err(invalid());
        }
        let digits = format!("{whole}{kept:0<exponent$}");
        // Any value with more digits than i64 holds is far above MAX_MINOR anyway.
        let minor: i64 = digits.parse().map_err(|_| invalid())?;
        Self::new(minor, currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brl(minor: i64) -> Money {
        Money::new(minor, Currency::Brl).unwrap()
    }

    #[test]
    fn formats_mercado_pago_decimals() {
        assert_eq!(brl(2590).to_decimal_string(), "25.90");
        assert_eq!(brl(5).to_decimal_string(), "0.05");
        assert_eq!(brl(100).to_decimal_string(), "1.00");
        let clp = Money::new(1500, Currency::Clp).unwrap();
        assert_eq!(clp.to_decimal_string(), "1500");
    }

    #[test]
    fn parses_mercado_pago_decimals_exactly() {
        assert_eq!(
            Money::from_decimal_string("25.90", Currency::Brl),
            Ok(brl(2590))
        );
        assert_eq!(
            Money::from_decimal_string("25.9", Currency::Brl),
            Ok(brl(2590))
        );
        assert_eq!(
            Money::from_decimal_string("25", Currency::Brl),
            Ok(brl(2500))
        );
        assert_eq!(
            Money::from_decimal_string("25.900", Currency::Brl),
            Ok(brl(2590))
        );
        assert_eq!(
            Money::from_decimal_string("1500.00", Currency::Clp),
            Money::new(1500, Currency::Clp)
        );
        for bad in [
            "25.901",
            "",
            ".5",
            "5.",
            "-1.00",
            "1e3",
            "0.00",
            "1,00",
            " 1.00",
            "1000000.01",
        ] {
            assert!(
                Money::from_decimal_string(bad, Currency::Brl).is_err(),
                "{bad:?} must be rejected"
            );
        }
        assert!(Money::from_decimal_string("15.5", Currency::Clp).is_err());
        assert!(Money::from_decimal_string("99999999999999999999999", Currency::Clp).is_err());
    }

    #[test]
    fn bounds_are_enforced() {
        assert!(Money::new(0, Currency::Brl).is_err());
        assert!(Money::new(-1, Currency::Brl).is_err());
        assert!(Money::new(Money::MAX_MINOR, Currency::Brl).is_ok());
        assert!(Money::new(Money::MAX_MINOR + 1, Currency::Brl).is_err());
    }

    #[test]
    fn currency_codes_round_trip() {
        for &currency in Currency::ALL {
            assert_eq!(Currency::parse(currency.code()), Ok(currency));
        }
        assert!(Currency::parse("USD").is_err());
        assert!(Currency::parse("brl").is_err());
    }

    /// The exact decimal a plain `digits[.digits]` text denotes, normalised:
    /// no leading zeros, no trailing fraction zeros.
    fn normalised(text: &str) -> String {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let whole = whole.trim_start_matches('0');
        let fraction = fraction.trim_end_matches('0');
        match (whole.is_empty(), fraction.is_empty()) {
            (true, true) => "0".into(),
            (true, false) => format!("0.{fraction}"),
            (false, true) => whole.into(),
            (false, false) => format!("{whole}.{fraction}"),
        }
    }

    proptest! {
        #[test]
        fn any_decimal_text_is_its_exact_amount_or_refused(
            text in prop_oneof![
                ".{0,24}",
                "[0-9]{0,12}(\\.[0-9]{0,6})?",
                "[-+ ]?[0-9]{1,6}[.,][0-9]{1,3}[ ]?",
                "[0-9]{15,30}(\\.[0-9]{1,2})?",
            ],
            index in 0..Currency::ALL.len(),
        ) {
            let currency = Currency::ALL[index];
            if let Ok(money) = Money::from_decimal_string(&text, currency) {
                prop_assert_eq!(normalised(&money.to_decimal_string()), normalised(&text));
            }
        }

        #[test]
        fn decimal_strings_round_trip_for_every_currency(
            minor in 1..=Money::MAX_MINOR,
            index in 0..Currency::ALL.len(),
        ) {
            let currency = Currency::ALL[index];
            let money = Money::new(minor, currency).unwrap();
            let text = money.to_decimal_string();
            prop_assert_eq!(Money::from_decimal_string(&text, currency), Ok(money));
            let expected_fraction_digits = currency.exponent() as usize;
            let fraction_digits = text.split_once('.').map_or(0, |(_, f)| f.len());
            prop_assert_eq!(fraction_digits, expected_fraction_digits);
        }
    }
}
