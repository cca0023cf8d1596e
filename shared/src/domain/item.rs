//! Order lines. The list is non-empty, bounded, and sums to the payment amount.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use super::{DomainError, Money};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        bounded_text(raw, 64, "sku").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Title(String);

impl Title {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        bounded_text(raw, 150, "title").map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 1..=max characters, not blank, no control characters and no format
/// characters (Unicode category Cf: bidi overrides, zero-width spaces and
/// joiners), which would reorder or hide text on Mercado Pago's checkout
/// and the kitchen's screens.
pub(crate) fn bounded_text(
    raw: &str,
    max: usize,
    field: &'static str,
) -> Result<String, DomainError> {
    let chars = raw.chars().count();
    if chars == 0 || raw.trim().is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if chars > max {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if raw.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    if let Some(format) = raw
        .chars()
        .find(|c| c.general_category() == GeneralCategory::Format)
    {
        return Err(DomainError::invalid(
            field,
            format!(
                "must not contain invisible format characters (found U+{:04X})",
                u32::from(format)
            ),
        ));
    }
    Ok(raw.to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Item {
    sku: Sku,
    title: Title,
    quantity: u32,
    unit_price: Money,
}

impl Item {
    pub const MAX_QUANTITY: u32 = 999;

    pub fn new(
        sku: Sku,
        title: Title,
        quantity: u32,
        unit_price: Money,
    ) -> Result<Self, DomainError> {
        if quantity == 0 || quantity > Self::MAX_QUANTITY {
            return Err(DomainError::invalid(
                "quantity",
                "must be between 1 and 999",
            ));
        }
        Ok(Self {
            sku,
            title,
            quantity,
            unit_price,
        })
    }

    pub fn sku(&self) -> &Sku {
        &self.sku
    }
    pub fn title(&self) -> &Title {
        &self.title
    }
    pub fn quantity(&self) -> u32 {
        self.quantity
    }
    pub fn unit_price(&self) -> Money {
        self.unit_price
    }

    /// quantity * unit_price in minor units; cannot overflow (999 * 10^8 < 2^63).
    pub fn line_total(&self) -> i64 {
        i64::from(self.quantity) * self.unit_price.minor_units()
    }
}

/// 1..=100 items whose line totals add up to `amount`, all in its currency.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Items(Vec<Item>);

impl Items {
    pub const MAX: usize = 100;

    pub fn new(items: Vec<Item>, amount: Money) -> Result<Self, DomainError> {
        if items.is_empty() || items.len() > Self::MAX {
            return Err(DomainError::invalid("items", "must hold 1 to 100 items"));
        }
        if items
            .iter()
            .any(|item| item.unit_price.currency() != amount.currency())
        {
            return Err(DomainError::invalid(
                "items",
                "every unit_price must be in the payment's currency",
            ));
        }
        let sum: i64 = items.iter().map(Item::line_total).sum();
        if sum != amount.minor_units() {
            return Err(DomainError::invalid(
                "items",
                format!(
                    "sum of quantity * unit_price is {sum}, amount is {}",
                    amount.minor_units()
                ),
            ));
        }
        Ok(Self(items))
    }

    pub fn as_slice(&self) -> &[Item] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    fn item(quantity: u32, price: i64, currency: Currency) -> Item {
        Item::new(
            Sku::parse("XB").unwrap(),
            Title::parse("X-Burger").unwrap(),
            quantity,
            Money::new(price, currency).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn items_must_sum_to_the_amount_in_its_currency() {
        let amount = Money::new(2590, Currency::Brl).unwrap();
        assert!(Items::new(vec![item(2, 1295, Currency::Brl)], amount).is_ok());
        assert!(Items::new(vec![item(1, 1295, Currency::Brl)], amount).is_err());
        assert!(Items::new(vec![item(2, 1295, Currency::Ars)], amount).is_err());
        assert!(Items::new(vec![], amount).is_err());
        let many = vec![item(1, 1, Currency::Brl); 101];
        assert!(Items::new(many, Money::new(101, Currency::Brl).unwrap()).is_err());
    }

    #[test]
    fn quantity_and_texts_are_bounded() {
        let price = Money::new(1, Currency::Brl).unwrap();
        let (sku, title) = (Sku::parse("a").unwrap(), Title::parse("b").unwrap());
        assert!(Item::new(sku.clone(), title.clone(), 0, price).is_err());
        assert!(Item::new(sku.clone(), title.clone(), 1000, price).is_err());
        assert!(Item::new(sku, title, 999, price).is_ok());
        assert!(Sku::parse("").is_err());
        assert!(Sku::parse("   ").is_err());
        assert!(Sku::parse(&"s".repeat(65)).is_err());
        assert!(Title::parse(&"é".repeat(150)).is_ok());
        assert!(Title::parse(&"é".repeat(151)).is_err());
        assert!(Title::parse("a\nb").is_err());
    }

    #[test]
    fn texts_refuse_invisible_format_characters_but_keep_accents_and_emoji() {
        for hidden in [
            "X-Burger\u{202E}regruB",
            "Free\u{200B}Fries",
            "\u{2066}Cola\u{2069}",
            "Suco\u{200D}",
            "\u{FEFF}Agua",
            "Pão\u{00AD}zinho",
        ] {
            let refused = Title::parse(hidden).unwrap_err().into_message();
            assert!(
                refused.contains("format characters"),
                "{hidden:?}: {refused}"
            );
            assert!(Sku::parse(hidden).is_err(), "{hidden:?}");
            assert!(
                crate::domain::Description::parse(hidden).is_err(),
                "{hidden:?}"
            );
            assert!(
                crate::domain::RefundReason::parse(hidden).is_err(),
                "{hidden:?}"
            );
        }
        for shown in [
            "Pão de queijo",
            "Açaí 🍧",
            "Ñoquis",
            "寿司",
            "X-Burger (2x)",
        ] {
            assert!(Title::parse(shown).is_ok(), "{shown:?}");
        }
    }
}
