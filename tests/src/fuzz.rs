//! Random JSON bodies for the endpoints that parse them: a valid body with a few fields set
//! to values of every awkward kind.

use rand::Rng;
use serde_json::{json, Value};

/// Values of every awkward kind: wrong types, extremes, NUL, too long, nested.
pub fn awkward_values() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!(-1),
        json!(0),
        json!(1e308),
        json!(-1e308),
        json!(""),
        json!("\u{0}"),
        json!("x".repeat(5000)),
        json!([1, [2]]),
        json!({"a": {}}),
        json!(0.8),
        json!(">"),
        json!("24h"),
        json!("001"),
        json!("dossiers.overdue"),
        json!(2_147_483_648_i64),
        json!(u64::MAX),
        json!("score.total"),
        json!("source.silent"),
        json!(["chief"]),
    ]
}

/// `base` with one to three of `fields` set to awkward (or `extra`) values.
pub fn mutated(rng: &mut impl Rng, base: &Value, fields: &[&str], extra: &[Value]) -> Value {
    let mut values = awkward_values();
    values.extend_from_slice(extra);
    let mut body = base.clone();
    for _ in 0..rng.random_range(1..4) {
        let field = fields[rng.random_range(0..fields.len())];
        body[field] = values[rng.random_range(0..values.len())].clone();
    }
    body
}
