//! The plan format's JSON Schema, and what it says of one field: the words
//! a type error about that field is reported in.

mod constraints;

use std::sync::LazyLock;

use serde_json::Value;

use super::raw::RawPlan;

/// The plan format's JSON Schema (draft 2020-12), as `recplan schema`
/// prints it: the shape the plan's types give, with what validation
/// checks of each field and block.
pub fn schema() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(RawPlan)).unwrap_or_default();
    constraints::apply(&mut schema);
    schema
}

static SCHEMA: LazyLock<Value> = LazyLock::new(schema);

/// The smallest and largest value the schema allows at a field path
/// (`start.recordingConfig.maxIdleTime`), when it bounds both.
pub fn range(path: &str) -> Option<(f64, f64)> {
    let node = field(&SCHEMA, path)?;
    Some((
        node.get("minimum")?.as_f64()?,
        node.get("maximum")?.as_f64()?,
    ))
}

/// The schema of the field at `path`, `$ref`s and optional wrappers
/// resolved.
fn field<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = resolve(root, root)?;
    for segment in path.split('.').flat_map(|part| part.split('[')) {
        node = if segment.ends_with(']') {
            node.get("items")?
        } else {
            node.get("properties")?.get(segment)?
        };
        node = resolve(root, node)?;
    }
    Some(node)
}

/// Follows `$ref` and picks the non-null branch of `anyOf`/`oneOf` (how
/// an optional field is written).
fn resolve<'a>(root: &'a Value, node: &'a Value) -> Option<&'a Value> {
    let mut node = node;
    for _ in 0..8 {
        if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
            let name = reference.strip_prefix("#/$defs/")?;
            node = root.get("$defs")?.get(name)?;
        } else if let Some(branches) = node
            .get("anyOf")
            .or_else(|| node.get("oneOf"))
            .and_then(Value::as_array)
        {
            node = branches
                .iter()
                .find(|b| b.get("type").and_then(Value::as_str) != Some("null"))?;
        } else {
            return Some(node);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_found_through_references_and_optional_fields() {
        assert_eq!(
            range("start.recordingConfig.maxIdleTime"),
            Some((5.0, 2_592_000.0))
        );
        assert_eq!(range("start.recordingConfig.nonesuch"), None);
    }
}
