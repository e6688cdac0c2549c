//! The README's reference sections stay true: every configuration key of the
//! embedded defaults and every metric the engine defines is documented, and
//! the README's example configuration passes `driftgauge config check`.

use std::path::Path;

use driftgauge_engine::cli;

fn repo_file(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
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
fn every_configuration_key_is_in_the_readme() {
    let readme = repo_file("README.md");
    let defaults: toml::Table =
        repo_file("engine/config/default.toml").parse().expect("the defaults parse");
    let mut all = Vec::new();
    keys("", &defaults, &mut all);
    all.dedup();
    assert!(all.len() > 50, "only {} keys found: {all:?}", all.len());
    let missing: Vec<_> =
        all.iter().filter(|key| !readme.contains(&format!("| `{key}` |"))).collect();
    assert!(missing.is_empty(), "README's configuration reference lacks {missing:?}");
}

#[test]
fn every_metric_is_in_the_readme() {
    let readme = repo_file("README.md");
    let source = repo_file("engine/src/observe/metrics.rs");
    let names: Vec<&str> = source
        .split('"')
        .filter(|s| {
            s.starts_with("driftgauge_") && s.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        })
        .collect();
    assert!(names.len() > 25, "only {} metric names found", names.len());
    let missing: Vec<_> =
        names.iter().filter(|name| !readme.contains(&format!("| `{name}` |"))).collect();
    assert!(missing.is_empty(), "README's metric catalogue lacks {missing:?}");
}

#[test]
fn the_readme_example_configuration_passes_config_check() {
    let readme = repo_file("README.md");
    let start = readme.find("```toml\n[kafka]").expect("the README has the example engine.toml");
    let body = &readme[start + "```toml\n".len()..];
    let example = &body[..body.find("```").expect("the block ends")];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.toml");
    std::fs::write(&path, example).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code =
        cli::run(["driftgauge", "config", "check", path.to_str().unwrap()], &mut out, &mut err);
    assert_eq!(
        code,
        cli::EXIT_OK,
        "{}{}",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    );
    // Its registry file holds the checkpoints too: the summary says so.
    let summary = String::from_utf8_lossy(&out);
    assert!(
        summary.contains("checkpoints: every 5000 ms into driftgauge.db; exactly-once"),
        "{summary}"
    );
}
