//! The shape of the code stays as `docs/architecture.md` draws it: no two
//! files of a library crate import each other, directly or around a ring, and
//! the engine's top-level modules depend on each other in one direction only.
//!
//! The check reads the sources as text: every `crate::`, `super::` and
//! child-module path outside comments and `#[cfg(test)]` modules is an edge
//! from its file to the file that defines the module it names. Tests are left
//! out on purpose: a unit test may drive its module through a caller.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The engine's top-level modules, in the order dependencies may run: a
/// module may use those in later layers, never those in its own or an earlier
/// one. The alert bridge comes after the stream in the data flow (it consumes
/// the stream's window reports), so it sits above it.
const ENGINE_LAYERS: &[&[&str]] = &[
    &["cli"],
    &["alerts"],
    &["stream", "batch"],
    &["registry", "observe"],
    &["config"],
    // The crate root: docs, module declarations and `error_chain`.
    &[""],
];

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(name).join("src")
}

#[test]
fn no_file_of_a_library_crate_is_in_an_import_cycle() {
    for krate in ["detectors", "alerting", "engine"] {
        let graph = ModuleGraph::read(&crate_src(krate));
        let edges: usize = graph.edges.values().map(BTreeSet::len).sum();
        assert!(edges > 10, "{krate}: only {edges} imports between its files found");
        let cycles = graph.cycles();
        assert!(cycles.is_empty(), "{krate}: files that import each other: {cycles:#?}");
    }
}

#[test]
fn engine_modules_depend_one_way() {
    let graph = ModuleGraph::read(&crate_src("engine"));
    let violations = graph.layer_violations(ENGINE_LAYERS);
    assert!(violations.is_empty(), "engine imports against the layers: {violations:#?}");
}

#[test]
fn a_back_edge_or_a_ring_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod cli;\npub mod config;\npub mod stream;\n");
    write("cli.rs", "use crate::stream::pipeline::Engine;\n");
    write(
        "stream/mod.rs",
        "//! Docs.\npub mod pipeline;\npub mod window;\npub fn start() { pipeline::run() }\n",
    );
    write(
        "stream/pipeline.rs",
        "use crate::{config::Config, stream::window::{self, Op}};\n\
         // use crate::cli; (a comment is no import)\n",
    );
    write(
        "stream/window.rs",
        "pub struct Op;\n#[cfg(test)]\nmod tests {\n    use crate::cli;\n}\n",
    );
    write("config.rs", "pub struct Config;\n");
    let layers: &[&[&str]] = &[&["cli"], &["stream"], &["config"], &[""]];

    let clean = ModuleGraph::read(dir.path());
    assert_eq!(
        clean.edges["stream::pipeline"],
        ["config", "stream::window"].map(String::from).into(),
    );
    assert_eq!(clean.edges["stream"], ["stream::pipeline".to_owned()].into());
    assert!(clean.cycles().is_empty());
    assert!(clean.layer_violations(layers).is_empty());

    // A back-edge from the stream into the CLI, and a ring inside the stream.
    write("stream/window.rs", "use super::pipeline::Engine;\nuse crate::cli::run;\n");
    let broken = ModuleGraph::read(dir.path());
    assert_eq!(
        broken.cycles(),
        vec![vec!["cli".to_owned(), "stream::pipeline".into(), "stream::window".into()]]
    );
    assert_eq!(broken.layer_violations(layers), vec!["stream::window -> cli".to_owned()]);
}

/// Modules (`a::b`, `""` for the crate root) and the modules each one uses.
struct ModuleGraph {
    modules: BTreeSet<String>,
    edges: BTreeMap<String, BTreeSet<String>>,
}

impl ModuleGraph {
    fn read(src: &Path) -> Self {
        let mut files = Vec::new();
        collect_rs(src, &mut files);
        let mut sources = BTreeMap::new();
        for file in files {
            let relative = file.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> =
                relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if parts == ["main"] {
                // The binary uses the library by its crate name, never `crate::`.
                continue;
            }
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            let text = std::fs::read_to_string(&file).unwrap();
            sources.insert(parts.join("::"), strip_tests(&strip_comments(&text)));
        }
        let modules: BTreeSet<String> = sources.keys().cloned().collect();
        let mut edges = BTreeMap::new();
        for (module, text) in &sources {
            let mut used = BTreeSet::new();
            // A parent may name its children without `use` (`child::run()`).
            let prefix = if module.is_empty() { String::new() } else { format!("{module}::") };
            for child in modules.iter().filter_map(|m| m.strip_prefix(&prefix)) {
                if !child.is_empty()
                    && !child.contains("::")
                    && names_at_word_start(text, &format!("{child}::"))
                {
                    used.insert(format!("{prefix}{child}"));
                }
            }
            for path in paths(text) {
                if let Some(target) = resolve(module, &path, &modules) {
                    if &target != module {
                        used.insert(target);
                    }
                }
            }
            edges.insert(module.clone(), used);
        }
        Self { modules, edges }
    }

    /// Every group of two or more modules that reach each other (Tarjan's
    /// strongly connected components), each sorted, in a stable order.
    fn cycles(&self) -> Vec<Vec<String>> {
        struct Search<'a> {
            graph: &'a ModuleGraph,
            index: BTreeMap<&'a str, usize>,
            low: BTreeMap<&'a str, usize>,
            stack: Vec<&'a str>,
            on_stack: BTreeSet<&'a str>,
            found: Vec<Vec<String>>,
        }
        impl<'a> Search<'a> {
            fn visit(&mut self, module: &'a str) {
                let next = self.index.len();
                self.index.insert(module, next);
                self.low.insert(module, next);
                self.stack.push(module);
                self.on_stack.insert(module);
                for target in &self.graph.edges[module] {
                    let target = target.as_str();
                    if !self.index.contains_key(target) {
                        self.visit(target);
                        let low = self.low[module].min(self.low[target]);
                        self.low.insert(module, low);
                    } else if self.on_stack.contains(target) {
                        let low = self.low[module].min(self.index[target]);
                        self.low.insert(module, low);
                    }
                }
                if self.low[module] == self.index[module] {
                    let mut component = Vec::new();
                    while let Some(member) = self.stack.pop() {
                        self.on_stack.remove(member);
                        component.push(member.to_owned());
                        if member == module {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        component.sort();
                        self.found.push(component);
                    }
                }
            }
        }
        let mut search = Search {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            found: Vec::new(),
        };
        for module in &self.modules {
            if !search.index.contains_key(module.as_str()) {
                search.visit(module);
            }
        }
        search.found.sort();
        search.found
    }

    /// `from -> to` for every edge between top-level modules that does not run
    /// to a later layer, and `unplaced: m` for a top-level module in no layer.
    fn layer_violations(&self, layers: &[&[&str]]) -> Vec<String> {
        let top = |module: &str| module.split("::").next().unwrap_or_default().to_owned();
        let layer_of = |top: &str| layers.iter().position(|layer| layer.contains(&top));
        let mut violations = BTreeSet::new();
        for (from, targets) in &self.edges {
            let Some(from_layer) = layer_of(&top(from)) else {
                violations.insert(format!("unplaced: {}", top(from)));
                continue;
            };
            for to in targets {
                if top(from) == top(to) {
                    continue;
                }
                if layer_of(&top(to)).is_none_or(|to_layer| to_layer <= from_layer) {
                    violations.insert(format!("{from} -> {to}"));
                }
            }
        }
        violations.into_iter().collect()
    }
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text without `//` and `/* */` comments (doc comments included) and
/// without the contents of string literals, so that neither is read as a path.
fn strip_comments(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if bytes[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < bytes.len() {
                if bytes[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if bytes[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if bytes[i] == b'"' && (i == 0 || bytes[i - 1] != b'\'') {
            // A plain string: skip to the closing quote, honouring escapes.
            // Raw strings (`r"…"`, `r#"…"#`) hold no `crate::` paths in this code.
            out.push('"');
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            out.push('"');
            i += 1;
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// The text without `#[cfg(test)]` items (a module's tests).
fn strip_tests(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        // The item ends at `;` (a `mod tests;` declaration) or at its closing brace.
        let mut depth = 0usize;
        let mut end = item.len();
        for (i, ch) in item.char_indices() {
            match ch {
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// Every module path the text names: `crate::a::b`, `super::x`, and the
/// paths of `use` declarations that start at a child module (`use a::b;` in
/// a `mod.rs`), each as a list of segments, with `{…}` groups expanded.
fn paths(text: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        let starts_word = i == 0 || !(is_ident(bytes[i - 1]) || bytes[i - 1] == b':');
        if starts_word && (text[i..].starts_with("crate::") || text[i..].starts_with("super::")) {
            let end = path_end(text, i);
            expand(&text[i..end], &mut found);
            i = end;
        } else if starts_word && text[i..].starts_with("use ") {
            let start = i + 4;
            let end = path_end(text, start);
            let path = text[start..end].trim();
            if path.starts_with("crate::") || path.starts_with("super::") {
                // Read by the branch above on the next step.
                i = start;
                continue;
            }
            // `use child::…` (a child module of this file), or an external crate.
            let mut relative = Vec::new();
            expand(path, &mut relative);
            found.extend(relative.into_iter().map(|mut p| {
                p.insert(0, "self".to_owned());
                p
            }));
            i = end;
        } else {
            i += 1;
        }
    }
    found
}

/// Whether `needle` occurs in `text` where no identifier or path runs into it.
fn names_at_word_start(text: &str, needle: &str) -> bool {
    text.match_indices(needle).any(|(at, _)| {
        text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == ':'))
    })
}

/// Where a path that starts at `start` ends: after its last segment or its
/// balanced `{…}` group.
fn path_end(text: &str, start: usize) -> usize {
    let mut depth = 0usize;
    for (offset, ch) in text[start..].char_indices() {
        match ch {
            '{' => depth += 1,
            '}' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    return start + offset + 1;
                }
            }
            c if depth == 0 && !(c.is_alphanumeric() || c == '_' || c == ':') => {
                return start + offset;
            }
            _ => {}
        }
    }
    text.len()
}

/// `a::{b, c::{d, e}}` into `[a, b]`, `[a, c, d]`, `[a, c, e]`.
fn expand(path: &str, out: &mut Vec<Vec<String>>) {
    let path: String = path.chars().filter(|c| !c.is_whitespace()).collect();
    fn walk(prefix: &[String], rest: &str, out: &mut Vec<Vec<String>>) {
        let Some(open) = rest.find('{') else {
            let mut full = prefix.to_vec();
            full.extend(rest.split("::").filter(|s| !s.is_empty()).map(String::from));
            out.push(full);
            return;
        };
        let mut full = prefix.to_vec();
        full.extend(rest[..open].split("::").filter(|s| !s.is_empty()).map(String::from));
        let inner = &rest[open + 1..rest.rfind('}').unwrap_or(rest.len())];
        let mut depth = 0usize;
        let mut item_start = 0;
        for (i, ch) in inner.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    walk(&full, &inner[item_start..i], out);
                    item_start = i + 1;
                }
                _ => {}
            }
        }
        if item_start < inner.len() {
            walk(&full, &inner[item_start..], out);
        }
    }
    walk(&[], &path, out);
}

/// The module a path from `module` names: the longest prefix that is a module
/// file (`crate::a::b::Item` -> `a::b`); `None` for paths outside the crate.
fn resolve(module: &str, path: &[String], modules: &BTreeSet<String>) -> Option<String> {
    let mut here: Vec<&str> =
        if module.is_empty() { Vec::new() } else { module.split("::").collect() };
    let mut segments = path.iter().map(String::as_str).peekable();
    match segments.next()? {
        "crate" => here.clear(),
        "super" => {
            here.pop();
            while segments.peek() == Some(&"super") {
                segments.next();
                here.pop();
            }
        }
        "self" => {
            // Only a child module makes this an edge (`use child::x`); anything
            // else is an external crate or a local item.
            let child = *segments.peek()?;
            let candidate =
                if module.is_empty() { child.to_owned() } else { format!("{module}::{child}") };
            if !modules.contains(&candidate) {
                return None;
            }
        }
        _ => return None,
    }
    let mut best = here.join("::");
    for segment in segments {
        if segment == "self" {
            continue;
        }
        here.push(segment);
        let candidate = here.join("::");
        if modules.contains(&candidate) {
            best = candidate;
        } else {
            break;
        }
    }
    Some(best)
}
