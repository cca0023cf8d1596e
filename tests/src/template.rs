//! Reads the payments table out of template.yaml, so tests build the very table
//! the stack deploys (no copy of the schema in code).

use serde_norway::Value;

pub struct IndexDefinition {
    pub name: String,
    pub key_schema: Vec<(String, String)>,
    pub projection: String,
}

pub struct TableDefinition {
    pub key_schema: Vec<(String, String)>,
    pub attributes: Vec<(String, String)>,
    pub indexes: Vec<IndexDefinition>,
    pub ttl_attribute: String,
    pub properties: Value,
}

pub fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml is readable");
    serde_norway::from_str(&text).expect("template.yaml is YAML")
}

fn text(value: &Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("template: {key} is a string"))
        .to_owned()
}

fn keys(value: &Value) -> Vec<(String, String)> {
    value
        .as_sequence()
        .expect("KeySchema is a list")
        .iter()
        .map(|k| (text(k, "AttributeName"), text(k, "KeyType")))
        .collect()
}

pub fn payments_table() -> TableDefinition {
    let template = template();
    let table = &template["Resources"]["PaymentsTable"];
    assert_eq!(table["Type"].as_str(), Some("AWS::DynamoDB::Table"));
    let properties = table["Properties"].clone();
    let attributes = properties["AttributeDefinitions"]
        .as_sequence()
        .expect("AttributeDefinitions")
        .iter()
        .map(|a| (text(a, "AttributeName"), text(a, "AttributeType")))
        .collect();
    let indexes = properties["GlobalSecondaryIndexes"]
        .as_sequence()
        .expect("GlobalSecondaryIndexes")
        .iter()
        .map(|i| IndexDefinition {
            name: text(i, "IndexName"),
            key_schema: keys(&i["KeySchema"]),
            projection: text(&i["Projection"], "ProjectionType"),
        })
        .collect();
    TableDefinition {
        key_schema: keys(&properties["KeySchema"]),
        attributes,
        indexes,
        ttl_attribute: text(&properties["TimeToLiveSpecification"], "AttributeName"),
        properties,
    }
}
