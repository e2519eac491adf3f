//! The module layering README's "Architecture" draws, checked on the source: a module uses
//! only modules of lower layers (and the few same-layer uses listed), so the stages never
//! read `Settings` or the front-ends, and there are no import cycles, between top-level
//! modules or between the files of one folder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules by layer, lowest first.
const LAYERS: &[&[&str]] = &[
    &["error", "redact", "units", "machine"],
    &["net", "report", "fs_in_image"],
    &["disk"],
    &["image", "layout"],
    &["boot", "config"],
    &["finish"],
    &["settings", "plan"],
    &["install"],
    &["agent", "frontend", "cli", "app"],
];

/// Uses within one layer that are part of the design.
const SAME_LAYER: &[(&str, &str)] = &[
    ("report", "net"),     // the HTTP sink uses the one HTTP client
    ("config", "boot"),    // the config stage mounts through boot's partition access
    ("app", "cli"),        // the command line front-end
    ("app", "frontend"),   // its renderers
    ("app", "agent"),      // `rdinstall agent`
    ("frontend", "cli"),   // renderers of subcommands
    ("agent", "frontend"), // the report sink, as `install` attaches it
    ("agent", "cli"),      // its flags
];

fn layer_of(m: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&m))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file below src/: `disk/wipe.rs` → ["disk", "wipe"].
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// `crate::a::b` paths used outside the file's test module, as (a, b); `super::b` in a file
/// of folder `a` counts as `crate::a::b`.
fn crate_uses(text: &str, folder: Option<&str>) -> Vec<(String, Option<String>)> {
    let code = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut uses = Vec::new();
    if let Some(folder) = folder {
        let mut rest = code;
        while let Some(i) = rest.find("super::") {
            rest = &rest[i + "super::".len()..];
            let b = ident(rest);
            if !b.is_empty() {
                uses.push((folder.to_string(), Some(b)));
            }
        }
    }
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let a = ident(rest);
        let after = &rest[a.len()..];
        let b = after
            .strip_prefix("::")
            .map(ident)
            .filter(|b| !b.is_empty());
        uses.push((a, b));
    }
    uses
}

fn graph() -> (
    BTreeMap<String, BTreeSet<String>>,
    BTreeMap<String, BTreeSet<String>>,
) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut inner: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let m = module_of(&src, &f);
        if m.is_empty() || m[0] == "lib" || m[0] == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let folder = (m.len() == 2).then(|| m[0].as_str());
        for (a, b) in crate_uses(&text, folder) {
            if a != m[0] {
                top.entry(m[0].clone()).or_default().insert(a);
            } else if let (Some(own), Some(b)) = (m.get(1), b) {
                if *own != b && f.parent().unwrap().join(format!("{b}.rs")).exists() {
                    inner
                        .entry(format!("{}/{own}", m[0]))
                        .or_default()
                        .insert(format!("{}/{b}", m[0]));
                }
            }
        }
    }
    (top, inner)
}

#[test]
fn modules_use_only_lower_layers() {
    let (top, _) = graph();
    let mut wrong = Vec::new();
    for (from, tos) in &top {
        let Some(lf) = layer_of(from) else {
            wrong.push(format!(
                "{from} is in no layer (add it to LAYERS and README)"
            ));
            continue;
        };
        for to in tos {
            let Some(lt) = layer_of(to) else {
                wrong.push(format!("{to} (used by {from}) is in no layer"));
                continue;
            };
            let allowed = lt < lf || (lt == lf && SAME_LAYER.contains(&(from, to)));
            if !allowed {
                wrong.push(format!("{from} uses {to}"));
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn no_import_cycles_inside_a_folder() {
    let (_, inner) = graph();
    let mut cycles = Vec::new();
    for (a, tos) in &inner {
        for b in tos {
            if inner.get(b).is_some_and(|t| t.contains(a)) && a < b {
                cycles.push(format!("{a} <-> {b}"));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles: {}", cycles.join(", "));
}

#[test]
fn the_stages_never_read_settings() {
    let (top, _) = graph();
    for stage in [
        "disk", "image", "layout", "boot", "config", "net", "report", "finish",
    ] {
        let uses = top.get(stage).cloned().unwrap_or_default();
        assert!(
            !uses.contains("settings") && !uses.contains("plan"),
            "{stage} reads {:?}",
            uses
        );
    }
}
