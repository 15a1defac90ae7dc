//! Reading data that follows the live figures.

use crate::api;
use leptos::prelude::*;
use serde::de::DeserializeOwned;

/// Re-reads `path` whenever it or the scope's snapshot changes; one request at a time, and a
/// change during a request triggers one more read after it (never a pile-up).
pub fn follow<T: DeserializeOwned + Send + Sync + 'static>(
    path: Signal<Option<String>>,
    version: Signal<String>,
) -> (RwSignal<Option<T>>, RwSignal<Option<String>>) {
    follow_decoded(path, version, api::decode::<T>)
}

/// [`follow`] with a decoder of one's own (one that reads the browser's JSON object field by
/// field costs the download less than serde's).
pub fn follow_decoded<T: Send + Sync + 'static>(
    path: Signal<Option<String>>,
    version: Signal<String>,
    decode: fn(&str) -> Result<T, api::Failure>,
) -> (RwSignal<Option<T>>, RwSignal<Option<String>>) {
    let data: RwSignal<Option<T>> = RwSignal::new(None);
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    // Only the decoding is generic; the fetching is shared by every kind of data.
    let apply: std::rc::Rc<dyn Fn(String)> =
        std::rc::Rc::new(move |text: String| match decode(&text) {
            Ok(value) => {
                data.set(Some(value));
                error.set(None);
            }
            Err(failure) => error.set(Some(failure.message)),
        });
    watch(path, version, apply, error);
    (data, error)
}

/// Reads `path` again whenever it or `version` changes (not generic: one copy in the
/// download however many kinds of data follow the figures).
fn watch(
    path: Signal<Option<String>>,
    version: Signal<String>,
    apply: std::rc::Rc<dyn Fn(String)>,
    error: RwSignal<Option<String>>,
) {
    let busy = StoredValue::new(false);
    let again = StoredValue::new(false);
    // The (path, version) last read. The first snapshot after a read of the same path is not
    // news: the data read just before it is as fresh (regression: every panel read twice, and
    // the trend three times, at each login).
    let last: StoredValue<Option<(Option<String>, String)>> = StoredValue::new(None);
    Effect::new(move |_| {
        let now = (path.get(), version.get());
        let first_snapshot = last
            .get_value()
            .is_some_and(|(last_path, last_version)| last_path == now.0 && last_version.is_empty());
        last.set_value(Some(now));
        if first_snapshot {
            return;
        }
        if busy.get_value() {
            again.set_value(true);
        } else {
            load(path, apply.clone(), error, busy, again);
        }
    });
}

fn load(
    path: Signal<Option<String>>,
    apply: std::rc::Rc<dyn Fn(String)>,
    error: RwSignal<Option<String>>,
    busy: StoredValue<bool>,
    again: StoredValue<bool>,
) {
    let Some(url) = path.get_untracked() else { return };
    busy.set_value(true);
    leptos::task::spawn_local(async move {
        let answer = api::call_text("GET", &url, None).await;
        // Regression: the page that asked may be gone by now (the wall's score view was made
        // anew while its request was out); writing to its disposed signals panicked the wasm.
        if error.is_disposed() {
            return;
        }
        match answer {
            Ok(text) => apply(text),
            Err(failure) => error.set(Some(failure.message)),
        }
        busy.set_value(false);
        if again.get_value() {
            again.set_value(false);
            load(path, apply, error, busy, again);
        }
    });
}
