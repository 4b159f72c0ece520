//! Limits on a contact's free-form attributes: whoever sets them (API, import), they stay
//! small enough to store, show and export without surprises.

use serde_json::{Map, Value};

/// Largest attributes object, serialized as JSON.
pub const MAX_BYTES: usize = 16 * 1024;
/// Deepest nesting of objects and arrays inside the attributes object.
pub const MAX_DEPTH: usize = 8;

/// Which limit an attributes object is over; its message names the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Exceeded {
    /// Larger than [`MAX_BYTES`] (the size it has).
    #[error("attributes are {0} bytes as JSON, over the limit of {MAX_BYTES}")]
    Size(usize),
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("attributes nest deeper than {MAX_DEPTH} levels")]
    Depth,
}

/// Checks an attributes object against [`MAX_BYTES`] and [`MAX_DEPTH`].
pub fn check(attrs: &Map<String, Value>) -> Result<(), Exceeded> {
    if depth_over(attrs.values(), 1) {
        return Err(Exceeded::Depth);
    }
    let size = serde_json::to_vec(attrs).map_or(usize::MAX, |v| v.len());
    if size > MAX_BYTES {
        return Err(Exceeded::Size(size));
    }
    Ok(())
}

fn depth_over<'a>(values: impl Iterator<Item = &'a Value>, depth: usize) -> bool {
    // Iterative over levels, so a hostile nesting cannot overflow the stack.
    let mut level: Vec<&Value> = values.collect();
    let mut depth = depth;
    while !level.is_empty() {
        let next: Vec<&Value> = level
            .iter()
            .flat_map(|v| -> Box<dyn Iterator<Item = &Value>> {
                match v {
                    Value::Object(m) => Box::new(m.values()),
                    Value::Array(a) => Box::new(a.iter()),
                    _ => Box::new(std::iter::empty()),
                }
            })
            .collect();
        if next.is_empty() {
            return false;
        }
        depth += 1;
        if depth > MAX_DEPTH {
            return true;
        }
        level = next;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn limits_are_named_and_enforced_at_their_edges() {
        assert!(check(&obj(json!({"plan": "pro", "tags": ["a", "b"]}))).is_ok());
        // Depth: the object itself is level 1.
        let mut v = json!(1);
        for _ in 0..MAX_DEPTH - 1 {
            v = json!([v]);
        }
        assert!(
            check(&obj(json!({ "x": v.clone() }))).is_ok(),
            "{MAX_DEPTH} levels"
        );
        let err = check(&obj(json!({ "x": [v] }))).expect_err("one more level");
        assert!(err.to_string().contains("deeper than 8"), "{err}");
        // Size: exactly at the limit passes, one byte over does not.
        let pad = MAX_BYTES - r#"{"x":""}"#.len();
        assert!(check(&obj(json!({ "x": "a".repeat(pad) }))).is_ok());
        let err = check(&obj(json!({ "x": "a".repeat(pad + 1) }))).expect_err("over");
        assert_eq!(err, Exceeded::Size(MAX_BYTES + 1));
        assert!(err.to_string().contains("16384"), "{err}");
        // A million small elements are refused by size, quickly.
        let big: Vec<u8> = vec![0; 1_000_000];
        assert!(check(&obj(json!({ "x": big }))).is_err());
    }
}
