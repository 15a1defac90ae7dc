//! The administrative-unit catalog: a tree of any depth (city → district → ward, province →
//! ward, or non-geographic units). Every event is counted at its unit and at every ancestor.

use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The Hanoi catalog (before the July 2025 reform) shipped in `assets/`, used when
/// `IOC_UNITS` names no other file.
pub const DEFAULT_CATALOG_JSON: &str = include_str!("../../assets/units/hanoi-2025-01.json");

/// Code of the virtual root added above the roots of a catalog that has several.
pub const VIRTUAL_ROOT: &str = "VN";
/// Its name.
pub const VIRTUAL_ROOT_NAME: &str = "Cả nước";

/// Deepest tree the catalog accepts; guards against a cycle that slipped past the checks.
const MAX_DEPTH: usize = 16;

#[derive(Debug, Clone, Deserialize)]
pub struct Unit {
    /// Official statistics code, zero-padded as Vietnamese systems write it.
    pub code: String,
    pub name: String,
    /// city, province, urban_district, rural_district, town, ward, commune, …
    pub kind: String,
    /// `None` for a root.
    pub parent: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read unit catalog {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("unit catalog is not a JSON array of units {{code, name, kind, parent}}: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("unit catalog lists code {0} twice")]
    Duplicate(String),
    #[error("unit {child} names parent {parent}, which is not in the catalog")]
    MissingParent { child: String, parent: String },
    #[error("unit {0} is its own ancestor, or the tree is deeper than 16 levels")]
    Cycle(String),
    #[error("unit catalog is empty")]
    Empty,
}

/// The loaded tree, cheap to clone.
#[derive(Debug, Clone)]
pub struct Catalog {
    inner: Arc<CatalogInner>,
}

#[derive(Debug)]
struct CatalogInner {
    units: HashMap<String, Unit>,
    /// Children of each unit in catalog order, so rankings and menus are stable.
    children: HashMap<String, Vec<String>>,
    /// Units without a parent, in catalog order.
    roots: Vec<String>,
}

impl Catalog {
    pub fn load(path: Option<&Path>) -> Result<Catalog, CatalogError> {
        match path {
            None => Catalog::from_json(DEFAULT_CATALOG_JSON),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                Catalog::from_json(&text)
            }
        }
    }

    pub fn from_json(text: &str) -> Result<Catalog, CatalogError> {
        let mut list: Vec<Unit> = serde_json::from_str(text)?;
        if list.is_empty() {
            return Err(CatalogError::Empty);
        }
        // A catalog with several roots (the national one: 34 provinces) gets a virtual root
        // above them, so the whole country is one scope like a city is.
        let roots = list.iter().filter(|u| u.parent.is_none()).count();
        if roots > 1 && !list.iter().any(|u| u.code == VIRTUAL_ROOT) {
            for unit in list.iter_mut().filter(|u| u.parent.is_none()) {
                unit.parent = Some(VIRTUAL_ROOT.to_owned());
            }
            list.insert(
                0,
                Unit {
                    code: VIRTUAL_ROOT.to_owned(),
                    name: VIRTUAL_ROOT_NAME.to_owned(),
                    kind: "country".to_owned(),
                    parent: None,
                },
            );
        }
        let mut units = HashMap::with_capacity(list.len());
        let mut order = Vec::with_capacity(list.len());
        for unit in list {
            order.push(unit.code.clone());
            if units.insert(unit.code.clone(), unit.clone()).is_some() {
                return Err(CatalogError::Duplicate(unit.code));
            }
        }
        let mut children: HashMap<String, Vec<String>> = HashMap::new();
        let mut roots = Vec::new();
        for code in &order {
            match units.get(code).and_then(|u| u.parent.clone()) {
                None => roots.push(code.clone()),
                Some(parent) => {
                    if !units.contains_key(&parent) {
                        return Err(CatalogError::MissingParent { child: code.clone(), parent });
                    }
                    children.entry(parent).or_default().push(code.clone());
                }
            }
        }
        let catalog = Catalog { inner: Arc::new(CatalogInner { units, children, roots }) };
        for code in &order {
            if catalog.ancestors_or_cycle(code).is_none() {
                return Err(CatalogError::Cycle(code.clone()));
            }
        }
        Ok(catalog)
    }

    pub fn get(&self, code: &str) -> Option<&Unit> {
        self.inner.units.get(code)
    }

    pub fn contains(&self, code: &str) -> bool {
        self.inner.units.contains_key(code)
    }

    pub fn len(&self) -> usize {
        self.inner.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.units.is_empty()
    }

    pub fn roots(&self) -> &[String] {
        &self.inner.roots
    }

    pub fn children(&self, code: &str) -> &[String] {
        self.inner.children.get(code).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The unit itself first, then its parent, up to the root.
    pub fn self_and_ancestors(&self, code: &str) -> Vec<&Unit> {
        self.ancestors_or_cycle(code).unwrap_or_default()
    }

    /// `code` and every unit below it.
    pub fn subtree(&self, code: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![code.to_owned()];
        while let Some(unit) = stack.pop() {
            stack.extend(self.children(&unit).iter().cloned());
            out.push(unit);
        }
        out
    }

    /// Whether `code` is `root` or lies below it.
    pub fn is_within(&self, code: &str, root: &str) -> bool {
        self.self_and_ancestors(code).iter().any(|u| u.code == root)
    }

    /// A fingerprint of the tree (every code and its parent) and of the aggregate key layout:
    /// figures built with another fingerprint count units under other parents, so they are
    /// rebuilt.
    pub fn fingerprint(&self, layout_version: u32) -> String {
        use sha2::{Digest, Sha256};
        let mut lines: Vec<String> = self
            .inner
            .units
            .values()
            .map(|u| format!("{}>{}", u.code, u.parent.as_deref().unwrap_or("")))
            .collect();
        lines.sort();
        let mut hash = Sha256::new();
        hash.update(format!("layout {layout_version}\n"));
        for line in lines {
            hash.update(line.as_bytes());
            hash.update(b"\n");
        }
        hex::encode(hash.finalize())
    }

    /// All units in catalog-independent order (for the simulator and tests).
    pub fn units(&self) -> impl Iterator<Item = &Unit> {
        self.inner.units.values()
    }

    fn ancestors_or_cycle(&self, code: &str) -> Option<Vec<&Unit>> {
        let mut path = Vec::new();
        let mut current = self.inner.units.get(code);
        while let Some(unit) = current {
            if path.len() >= MAX_DEPTH {
                return None;
            }
            path.push(unit);
            current = unit.parent.as_deref().and_then(|p| self.inner.units.get(p));
        }
        Some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_hanoi_catalog_is_a_tree_of_557_units() {
        let catalog = Catalog::load(None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(catalog.len(), 557);
        assert_eq!(catalog.roots(), ["01".to_owned()]);
        assert_eq!(catalog.children("01").len(), 30);
        let path: Vec<&str> =
            catalog.self_and_ancestors("00004").iter().map(|u| u.code.as_str()).collect();
        assert_eq!(path, ["00004", "001", "01"]);
    }

    #[test]
    fn the_shipped_national_catalog_loads() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/units/vietnam-2025-10.json");
        let catalog = Catalog::load(Some(&path)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(catalog.len(), 3356, "34 provinces, 3,321 wards and the virtual root");
        assert_eq!(catalog.roots(), [VIRTUAL_ROOT.to_owned()]);
        assert_eq!(catalog.children(VIRTUAL_ROOT).len(), 34);
        assert_eq!(catalog.get(VIRTUAL_ROOT).map(|u| u.name.as_str()), Some("Cả nước"));
    }

    #[test]
    fn a_cycle_or_a_missing_parent_is_refused() {
        let cycle = r#"[{"code":"a","name":"A","kind":"city","parent":"b"},
                        {"code":"b","name":"B","kind":"city","parent":"a"}]"#;
        assert!(matches!(Catalog::from_json(cycle), Err(CatalogError::Cycle(_))));
        let orphan = r#"[{"code":"a","name":"A","kind":"ward","parent":"zz"}]"#;
        assert!(matches!(Catalog::from_json(orphan), Err(CatalogError::MissingParent { .. })));
    }
}
