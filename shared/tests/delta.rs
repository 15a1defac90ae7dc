//! Property tests of the live delta format: whatever two documents the server publishes in a
//! row, the delta between them turns a subscriber's copy of the first into exactly the second,
//! through the JSON text the socket carries; a delta for another base is refused and leaves the
//! copy as it was.
#![allow(clippy::unwrap_used)]

use ioc_shared::live::{changes_between, DeltaRefused, ScopeFigures, ServerMessage};
use ioc_shared::summary::Window;
use proptest::prelude::*;
use serde_json::{json, Value};

/// Keys like the summary's, including ones JSON Pointer must escape (`/` and `~`).
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("received".to_owned()),
        Just("a/b".to_owned()),
        Just("~1".to_owned()),
        Just(String::new()),
        "[a-z_]{1,8}"
    ]
}

fn document() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        (0.0f64..1.0).prop_map(|f| json!(f)),
        "[a-zA-Zà-ỹ ]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Sends a delta the way the server does (as socket text) and reads it back as a client.
fn over_the_wire(base: u64, version: u64, old: &Value, new: &Value) -> json_patch::Patch {
    let message = ServerMessage::Delta {
        unit: "01".into(),
        window: Window::Today,
        base,
        version,
        changes: changes_between(old, new),
    };
    let text = serde_json::to_string(&message).unwrap();
    match serde_json::from_str::<ServerMessage>(&text).unwrap() {
        ServerMessage::Delta { changes, .. } => changes,
        other => panic!("read back as {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..Default::default() })]

    #[test]
    fn a_sequence_of_deltas_ends_at_the_last_document(documents in prop::collection::vec(document(), 2..8)) {
        // Compared as a subscriber reads them: through JSON text, as a snapshot would arrive.
        let documents: Vec<Value> = documents.iter().map(|d| serde_json::from_str(&d.to_string()).unwrap()).collect();
        let mut copy = ScopeFigures { version: 1, document: documents[0].clone() };
        for (step, pair) in documents.windows(2).enumerate() {
            let base = step as u64 + 1;
            let changes = over_the_wire(base, base + 1, &pair[0], &pair[1]);
            copy.apply(base, base + 1, &changes).unwrap();
            prop_assert_eq!(&copy.document, &pair[1]);
        }
        prop_assert_eq!(copy.version, documents.len() as u64);
    }

    #[test]
    fn a_delta_for_another_base_is_refused_and_changes_nothing(old in document(), new in document(), have in 0u64..5, base in 0u64..5) {
        prop_assume!(have != base);
        let mut copy = ScopeFigures { version: have, document: old.clone() };
        let changes = over_the_wire(base, base + 1, &old, &new);
        prop_assert_eq!(copy.apply(base, base + 1, &changes), Err(DeltaRefused::OutOfStep { have, base }));
        prop_assert_eq!(copy, ScopeFigures { version: have, document: old });
    }
}

#[test]
fn a_patch_that_does_not_fit_leaves_the_copy_unchanged() {
    let mut copy = ScopeFigures { version: 3, document: json!({"dossiers": {"received": 5}}) };
    let unfit: json_patch::Patch = serde_json::from_value(json!([
        {"op": "replace", "path": "/dossiers/received", "value": 6},
        {"op": "remove", "path": "/complaints/open"}
    ]))
    .unwrap();
    assert!(matches!(copy.apply(3, 4, &unfit), Err(DeltaRefused::DoesNotApply(_))));
    assert_eq!(copy, ScopeFigures { version: 3, document: json!({"dossiers": {"received": 5}}) });
}
