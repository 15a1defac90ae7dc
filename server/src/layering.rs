//! The layer order the crate docs promise, checked against the source: a module imports only
//! from layers below its own, and no two modules of one folder import each other. Run with
//! the unit tests (and so in CI); the message names the file and the import that broke it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules from the bottom up. A module may use modules of lower layers only
/// (doc comments may link anywhere).
const LAYERS: &[&[&str]] = &[
    &["catalog", "calendar", "errors", "metrics", "redis_link", "settings"],
    &["config"],
    &["store"],
    &["aggregate"],
    &["accounts"],
    &["notify"],
    &["ingest"],
    &["apply"],
    &["live"],
    &["alerts"],
    &["explanations"],
    &["reports"],
    &["state"],
    &["http"],
    &["server", "cli", "simulator"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, into: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// The code of a file without its comments (line comments, doc comments included).
fn code_of(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            // A `//` inside a string literal is rare in this crate and only hides an import
            // on that line from this check, never invents one.
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The first segments after each `prefix::` (`crate::store::Store` → `store`), including
/// those of a braced group (`crate::{store, aggregate::Keys}` → `store`, `aggregate`).
fn named_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let pattern = format!("{prefix}::");
    let mut rest = code;
    while let Some(at) = rest.find(&pattern) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + pattern.len()..];
        if before.is_some_and(is_ident) {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group, up to its closing brace.
            let mut depth = 0;
            let mut current = String::new();
            let mut expecting = true;
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => expecting = true,
                    c if depth == 0 && expecting && is_ident(c) => current.push(c),
                    _ if depth == 0 && expecting && !current.is_empty() => {
                        names.insert(std::mem::take(&mut current));
                        expecting = false;
                    }
                    _ => {}
                }
            }
            if !current.is_empty() {
                names.insert(current);
            }
        } else {
            let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

struct Source {
    /// `store`, `live/socket`, …
    module: Vec<String>,
    code: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files
        .into_iter()
        .filter_map(|path| {
            let relative = path.strip_prefix(&root).ok()?;
            let mut module: Vec<String> = relative
                .iter()
                .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned())
                .collect();
            if module.last().is_some_and(|last| last == "mod") {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).ok()?;
            Some(Source { module, code: code_of(&text) })
        })
        .collect()
}

#[test]
fn every_import_goes_down_the_layers() {
    let mut wrong = Vec::new();
    for source in sources() {
        let Some(top) = source.module.first() else { continue };
        if top == "lib" || top == "main" || top == "layering" {
            continue;
        }
        let Some(own) = layer_of(top) else {
            wrong.push(format!(
                "src/{}: module `{top}` is in no layer of layering.rs",
                source.module.join("/")
            ));
            continue;
        };
        for used in named_after(&source.code, "crate") {
            if used == *top {
                continue;
            }
            match layer_of(&used) {
                Some(layer) if layer < own => {}
                _ => wrong.push(format!(
                    "src/{}: `{top}` uses `crate::{used}`, which is not below it",
                    source.module.join("/")
                )),
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the layer order:\n{}", wrong.join("\n"));
}

#[test]
fn no_two_modules_of_a_folder_import_each_other() {
    // (folder, module) → the sibling modules it names through `super::` or `crate::folder::`.
    let mut uses: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for source in sources() {
        // At any depth: `live/writer/shard` is module `shard` of folder `live/writer`.
        let Some((module, parents)) = source.module.split_last() else { continue };
        if parents.is_empty() {
            continue;
        }
        let folder = parents.join("/");
        let mut siblings = named_after(&source.code, "super");
        siblings.extend(named_after(&source.code, &format!("crate::{}", parents.join("::"))));
        siblings.remove(module);
        uses.insert((folder, module.clone()), siblings);
    }
    let mut cycles = Vec::new();
    for ((folder, module), siblings) in &uses {
        for sibling in siblings {
            let back =
                uses.get(&(folder.clone(), sibling.clone())).is_some_and(|s| s.contains(module));
            if back && module < sibling {
                cycles.push(format!("{folder}/{module} ↔ {folder}/{sibling}"));
            }
        }
    }
    assert!(cycles.is_empty(), "modules that import each other:\n{}", cycles.join("\n"));
}

#[test]
fn the_import_reader_finds_plain_and_grouped_paths_and_ignores_comments() {
    let code = code_of("use crate::store::Store;\nuse crate::{aggregate::Keys, live};\n// use crate::http;\nlet x = my_crate::nope;");
    assert_eq!(
        named_after(&code, "crate"),
        ["aggregate", "live", "store"].iter().map(|s| s.to_string()).collect()
    );
}
