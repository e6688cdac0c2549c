//! The docs stay true to the code: every configuration key of the embedded
//! defaults has a row in `docs/configuration.md`, every metric the engine
//! defines has a row in `docs/metrics.md`, and every example `engine.toml` in
//! the README and `docs/` passes `driftgauge config check`.

use std::path::{Path, PathBuf};

use driftgauge_engine::cli;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Files under `dir` whose name ends with `suffix`, sorted. Skips build output,
/// npm installs and hidden folders (`.git`, `.venv`), so that on a clean
/// checkout it finds the tracked files.
fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                if !(name.starts_with('.') || name == "target" || name == "node_modules") {
                    pending.push(path);
                }
            } else if name.ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Dotted keys of a TOML table: `streams[].name` for arrays of tables. Rule
/// lists are documented as a whole, not field by field.
fn keys(prefix: &str, table: &toml::Table, out: &mut Vec<String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            toml::Value::Table(inner) if path != "kafka.properties" => keys(&path, inner, out),
            toml::Value::Array(items)
                if path != "alerting.policies.defaults"
                    && items.iter().all(toml::Value::is_table)
                    && !items.is_empty() =>
            {
                for item in items {
                    keys(&format!("{path}[]"), item.as_table().expect("checked"), out);
                }
            }
            _ => out.push(path),
        }
    }
}

#[test]
fn every_configuration_key_is_in_the_configuration_reference() {
    let reference = repo_file("docs/configuration.md");
    let defaults: toml::Table =
        repo_file("engine/config/default.toml").parse().expect("the defaults parse");
    let mut all = Vec::new();
    keys("", &defaults, &mut all);
    all.dedup();
    assert!(all.len() > 50, "only {} keys found: {all:?}", all.len());
    let missing: Vec<_> =
        all.iter().filter(|key| !reference.contains(&format!("| `{key}` |"))).collect();
    assert!(missing.is_empty(), "docs/configuration.md's reference lacks {missing:?}");
}

/// Every `"driftgauge_..."` string literal in the engine's sources, wherever
/// the metric catalogue lives.
fn metric_names() -> Vec<String> {
    let mut names: Vec<String> = files_under(&root().join("engine/src"), ".rs")
        .iter()
        .flat_map(|file| {
            let source = std::fs::read_to_string(file).unwrap();
            source
                .split('"')
                .filter(|s| {
                    s.starts_with("driftgauge_")
                        && s.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                })
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_metric_is_in_the_metric_catalogue() {
    let catalogue = repo_file("docs/metrics.md");
    let names = metric_names();
    assert!(names.len() > 25, "only {} metric names found in engine/src", names.len());
    let missing: Vec<_> =
        names.iter().filter(|name| !catalogue.contains(&format!("| `{name}` |"))).collect();
    assert!(missing.is_empty(), "docs/metrics.md's catalogue lacks {missing:?}");
}

/// The example `engine.toml` files of a Markdown text: TOML blocks that start
/// with `[kafka]`.
fn example_configurations(markdown: &str) -> Vec<&str> {
    const START: &str = "```toml\n[kafka]";
    markdown
        .match_indices(START)
        .map(|(at, _)| {
            let body = &markdown[at + "```toml\n".len()..];
            &body[..body.find("```").expect("the block ends")]
        })
        .collect()
}

fn config_check(example: &str) -> (u8, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.toml");
    std::fs::write(&path, example).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code =
        cli::run(["driftgauge", "config", "check", path.to_str().unwrap()], &mut out, &mut err);
    (code, format!("{}{}", String::from_utf8_lossy(&out), String::from_utf8_lossy(&err)))
}

#[test]
fn the_example_configurations_pass_config_check() {
    let readme = repo_file("README.md");
    let readme_examples = example_configurations(&readme);
    assert_eq!(readme_examples.len(), 1, "the README has one example engine.toml");
    let (code, output) = config_check(readme_examples[0]);
    assert_eq!(code, cli::EXIT_OK, "README.md: {output}");
    // Its registry file holds the checkpoints too: the summary says so.
    assert!(
        output.contains("checkpoints: every 5000 ms into driftgauge.db; exactly-once"),
        "{output}"
    );

    let mut checked = 0;
    for file in files_under(&root().join("docs"), ".md") {
        let text = std::fs::read_to_string(&file).unwrap();
        for example in example_configurations(&text) {
            let (code, output) = config_check(example);
            assert_eq!(code, cli::EXIT_OK, "{}: {output}", file.display());
            checked += 1;
        }
    }
    assert!(checked >= 2, "only {checked} example configurations found in docs/");
}
