//! The create request: its wire shape, and its validation into a command.

use serde::Deserialize;

use crate::app::CreatePaymentCommand;
use crate::domain::{
    CallerId, Currency, Description, DomainError, Item, Items, Money, OrderId, PosId, Sku, Title,
};

use super::body::{body_bytes, parse_json, require_json};
use super::{FieldError, RequestError};

/// The wire shape. Required fields are optional here so a missing one becomes a
/// field-level 422 rather than a bare parse error; wrong JSON types are a 400.
/// Unknown fields are refused: a misspelt `description` must not vanish.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreatePaymentBody {
    order_id: Option<String>,
    amount: Option<i64>,
    currency: Option<String>,
    items: Option<Vec<ItemBody>>,
    description: Option<String>,
    /// Optional: the default point of sale when absent or `null`.
    pos_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemBody {
    sku: Option<String>,
    title: Option<String>,
    quantity: Option<i64>,
    unit_price: Option<i64>,
}

pub(crate) fn parse_command(
    request: &lambda_http::Request,
    caller: CallerId,
) -> Result<CreatePaymentCommand, RequestError> {
    let bytes = body_bytes(request)?;
    require_json(request)?;
    let body: CreatePaymentBody = parse_json(bytes, &["items"])?;
    validate(body, caller).map_err(RequestError::Invalid)
}

/// Collects every field error at once, so a client fixes its request in one go.
fn validate(
    body: CreatePaymentBody,
    created_by: CallerId,
) -> Result<CreatePaymentCommand, Vec<FieldError>> {
    let mut errors = Errors::default();
    let order_id = errors.check("order_id", required(body.order_id, |v| OrderId::parse(&v)));
    let currency = errors.check("currency", required(body.currency, |v| Currency::parse(&v)));
    let amount = match currency {
        Some(currency) => {
            errors.check("amount", required(body.amount, |v| Money::new(v, currency)))
        }
        None => errors.check(
            "amount",
            required(body.amount, |v| Money::new(v, Currency::Brl)),
        ),
    };
    let description = match body.description {
        Some(text) => errors.check("description", Description::parse(&text).map(Some)),
        None => Some(None),
    };
    let pos_id = match body.pos_id {
        Some(raw) => errors.check("pos_id", PosId::parse(&raw).map(Some)),
        None => Some(None),
    };
    let items = match body.items {
        None => {
            errors.push("items", "is required");
            None
        }
        Some(items) if items.is_empty() || items.len() > Items::MAX => {
            errors.push("items", "must hold 1 to 100 items");
            None
        }
        Some(items) => {
            let parsed: Vec<Option<Item>> = items
                .into_iter()
                .enumerate()
                .map(|(index, item)| validate_item(index, item, currency, &mut errors))
                .collect();
            parsed.into_iter().collect::<Option<Vec<Item>>>()
        }
    };
    let items = match (items, amount, currency) {
        (Some(items), Some(amount), Some(_)) => errors.check("items", Items::new(items, amount)),
        _ => None,
    };
    match (order_id, amount, items, description, pos_id) {
        (Some(order_id), Some(amount), Some(items), Some(description), Some(pos_id))
            if errors.0.is_empty() =>
        {
            Ok(CreatePaymentCommand {
                created_by,
                order_id,
                amount,
                items,
                description,
                pos_id,
            })
        }
        _ => Err(errors.0),
    }
}

fn validate_item(
    index: usize,
    item: ItemBody,
    currency: Option<Currency>,
    errors: &mut Errors,
) -> Option<Item> {
    let field = |name: &str| format!("items[{index}].{name}");
    let sku = errors.check_named(field("sku"), required(item.sku, |v| Sku::parse(&v)));
    let title = errors.check_named(field("title"), required(item.title, |v| Title::parse(&v)));
    let quantity = errors.check_named(
        field("quantity"),
        required(item.quantity, |v| {
            u32::try_from(v)
                .ok()
                .filter(|q| (1..=Item::MAX_QUANTITY).contains(q))
                .ok_or_else(|| DomainError::Invalid {
                    field: "quantity",
                    message: "must be between 1 and 999".into(),
                })
        }),
    );
    let unit_price = errors.check_named(
        field("unit_price"),
        required(item.unit_price, |v| {
            Money::new(v, currency.unwrap_or(Currency::Brl))
        }),
    );
    let (sku, title, quantity, unit_price) = (sku?, title?, quantity?, unit_price?);
    errors.check_named(
        field("quantity"),
        Item::new(sku, title, quantity, unit_price),
    )
}

fn required<T, U>(
    value: Option<T>,
    parse: impl FnOnce(T) -> Result<U, DomainError>,
) -> Result<U, DomainError> {
    match value {
        Some(value) => parse(value),
        None => Err(DomainError::Invalid {
            field: "",
            message: "is required".into(),
        }),
    }
}

#[derive(Default)]
struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, field: &str, message: &str) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.to_owned(),
        });
    }

    fn check<T>(&mut self, field: &str, result: Result<T, DomainError>) -> Option<T> {
        self.check_named(field.to_owned(), result)
    }

    fn check_named<T>(&mut self, field: String, result: Result<T, DomainError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(FieldError {
                    field,
                    message: error.into_message(),
                });
                None
            }
        }
    }
}
