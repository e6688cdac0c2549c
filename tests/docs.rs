//! The docs stay true to the code and to themselves:
//!
//! * every configuration key of the embedded defaults has a row in
//!   `docs/configuration.md`, and every metric the engine defines has a row in
//!   `docs/metrics.md`;
//! * every example `engine.toml` in the README and `docs/` passes
//!   `driftgauge config check`;
//! * every relative link and `#anchor` in the repository's Markdown resolves,
//!   anchors by GitHub's heading slugs, and so do the alert rules' `runbook`
//!   annotations.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

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
    // The examples name registries and secrets of the reader's machine.
    let args = ["driftgauge", "config", "check", "--file-only", path.to_str().unwrap()];
    let code = cli::run(args, &mut out, &mut err);
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

/// GitHub's anchor for a heading: lowercased, punctuation dropped except `-`
/// and `_`, each space a `-`. Markup is dropped first: a link keeps its text.
fn slug(heading: &str) -> String {
    let mut text = String::new();
    let mut rest = heading;
    // `[text](url)` -> `text`.
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after
            .find("](")
            .and_then(|close| after[close + 2..].find(')').map(|end| (close, close + 2 + end)))
        {
            Some((close, end)) => {
                text.push_str(&rest[..open]);
                text.push_str(&after[..close]);
                rest = &after[end + 1..];
            }
            None => {
                text.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    text.push_str(rest);
    text.trim()
        .to_lowercase()
        .chars()
        .filter(|&c| c.is_alphanumeric() || c == '-' || c == '_' || c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Each line of a Markdown text, or `None` for the lines of fenced code
/// blocks and their fences.
fn outside_fences(markdown: &str) -> Vec<Option<&str>> {
    let mut fence: Option<(char, usize)> = None;
    markdown
        .lines()
        .map(|line| {
            let trimmed = line.trim_start();
            let marker = trimmed.chars().next().filter(|&c| c == '`' || c == '~');
            let run = marker.map_or(0, |c| trimmed.chars().take_while(|&x| x == c).count());
            match (fence, marker) {
                (Some((open, len)), Some(c))
                    if c == open && run >= len && trimmed[run..].trim().is_empty() =>
                {
                    fence = None;
                    None
                }
                (Some(_), _) => None,
                (None, Some(c)) if run >= 3 => {
                    fence = Some((c, run));
                    None
                }
                (None, _) => Some(line),
            }
        })
        .collect()
}

/// Markdown without its fenced code blocks (each line blanked, so line numbers
/// stay) and without inline code spans.
fn prose(markdown: &str) -> String {
    let lines: Vec<&str> =
        outside_fences(markdown).into_iter().map(|line| line.unwrap_or("")).collect();
    strip_code_spans(&lines.join("\n"))
}

/// Removes `code spans` (any run of backticks closed by a run of the same
/// length, across line breaks); an unclosed run stays as text.
fn strip_code_spans(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let run = rest[start..].chars().take_while(|&c| c == '`').count();
        let after = &rest[start + run..];
        let mut search = 0;
        let mut close = None;
        while let Some(at) = after[search..].find('`') {
            let at = search + at;
            let len = after[at..].chars().take_while(|&c| c == '`').count();
            if len == run {
                close = Some(at + len);
                break;
            }
            search = at + len;
        }
        match close {
            Some(end) => rest = &after[end..],
            None => {
                out.push_str(&rest[start..start + run]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The anchors of a Markdown file's headings, with GitHub's `-1`, `-2`
/// suffixes for repeated ones.
fn anchors(markdown: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    for line in outside_fences(markdown).into_iter().flatten() {
        let trimmed = line.trim_start();
        let hashes = trimmed.chars().take_while(|&c| c == '#').count();
        if line.starts_with("    ")
            || !(1..=6).contains(&hashes)
            || !trimmed[hashes..].starts_with(' ')
        {
            continue;
        }
        let text = trimmed[hashes..].trim().trim_end_matches('#').trim_end();
        let base = slug(text);
        let mut anchor = base.clone();
        let mut n = 0;
        while seen.contains(&anchor) {
            n += 1;
            anchor = format!("{base}-{n}");
        }
        seen.insert(anchor);
    }
    seen
}

/// The destinations of a Markdown text's inline links and images, and of its
/// reference definitions, with the line each is on.
fn links(markdown: &str) -> Vec<(usize, String)> {
    let text = prose(markdown);
    let mut found = Vec::new();
    let line_of = |at: usize| text[..at].matches('\n').count() + 1;
    for (at, _) in text.match_indices("](") {
        let rest = &text[at + 2..];
        let mut depth = 0;
        let end = rest.char_indices().find_map(|(i, c)| match c {
            '(' => {
                depth += 1;
                None
            }
            ')' if depth == 0 => Some(i),
            ')' => {
                depth -= 1;
                None
            }
            _ => None,
        });
        let Some(end) = end else { continue };
        let inner = rest[..end].trim();
        let destination = match inner.strip_prefix('<') {
            Some(angled) => angled.split('>').next().unwrap_or(""),
            None => inner.split_whitespace().next().unwrap_or(""),
        };
        found.push((line_of(at), destination.to_owned()));
    }
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let Some(label) = trimmed.strip_prefix('[') else { continue };
        let Some(close) = label.find(']') else { continue };
        if let Some(destination) = label[close..].strip_prefix("]:") {
            if let Some(destination) = destination.split_whitespace().next() {
                found.push((i + 1, destination.to_owned()));
            }
        }
    }
    found
}

/// `path` with `.` and `..` resolved lexically; `None` if it climbs above its
/// start.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// Why a link from `file` (relative to `root`) to `destination` does not
/// resolve: a missing file or folder, a path outside `root`, or an anchor that
/// no heading of the target Markdown file has. `None` if it resolves, or if it
/// is not relative (http, https, mailto).
fn unresolved(root: &Path, file: &Path, destination: &str) -> Option<String> {
    let lower = destination.to_ascii_lowercase();
    if destination.is_empty()
        || ["http://", "https://", "mailto:"].iter().any(|s| lower.starts_with(s))
    {
        return None;
    }
    let (path, anchor) = match destination.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (destination, None),
    };
    let target = if path.is_empty() {
        Some(file.to_path_buf())
    } else if let Some(from_root) = path.strip_prefix('/') {
        normalize(Path::new(from_root))
    } else {
        normalize(&file.parent().unwrap_or(Path::new("")).join(path))
    };
    let Some(target) = target else {
        return Some("leaves the repository".into());
    };
    if !root.join(&target).exists() {
        return Some(format!("names a missing {}", target.display()));
    }
    let anchor = anchor?;
    if target.extension().is_some_and(|e| e == "md") {
        let text = std::fs::read_to_string(root.join(&target)).unwrap();
        if !anchors(&text).contains(anchor) {
            return Some(format!("{} has no heading #{anchor}", target.display()));
        }
    }
    None
}

/// Every link in `files` (paths relative to `root`) that does not resolve.
fn broken_links(root: &Path, files: &[PathBuf]) -> Vec<String> {
    let mut broken = Vec::new();
    for file in files {
        let markdown = std::fs::read_to_string(root.join(file)).unwrap();
        for (line, destination) in links(&markdown) {
            if let Some(why) = unresolved(root, file, &destination) {
                broken.push(format!("{}:{line}: ({destination}) {why}", file.display()));
            }
        }
    }
    broken
}

#[test]
fn every_markdown_link_resolves() {
    let root = root();
    let files: Vec<PathBuf> = files_under(&root, ".md")
        .into_iter()
        .map(|path| path.strip_prefix(&root).expect("under the root").to_path_buf())
        .collect();
    for expected in ["README.md", "docs/alerting.md", "dashboards/README.md"] {
        assert!(files.iter().any(|f| f == Path::new(expected)), "{expected} not found: {files:?}");
    }
    let broken = broken_links(&root, &files);
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The rules' `runbook` annotations are paths from the repository root, so
/// they resolve as links from the root README would.
#[test]
fn every_runbook_annotation_resolves() {
    let root = root();
    let mut annotations = Vec::new();
    for dir in ["alerting/rules", "alerting/rules/tests"] {
        for file in files_under(&root.join(dir), ".yml") {
            let text = std::fs::read_to_string(&file).unwrap();
            for line in text.lines() {
                if let Some(value) = line.trim_start().strip_prefix("runbook: \"") {
                    let link = value.split([' ', '"']).next().unwrap_or("");
                    let file = file.strip_prefix(&root).expect("under the root");
                    annotations.push((file.display().to_string(), link.to_owned()));
                }
            }
        }
    }
    assert!(annotations.len() > 20, "only {} runbook annotations found", annotations.len());
    let broken: Vec<String> = annotations
        .iter()
        .filter_map(|(file, link)| {
            let why = unresolved(&root, Path::new("README.md"), link)?;
            Some(format!("{file}: {link} {why}"))
        })
        .collect();
    assert!(broken.is_empty(), "runbook annotations that do not resolve:\n{}", broken.join("\n"));
}

#[test]
fn slugs_follow_github() {
    assert_eq!(slug("The `check` gate"), "the-check-gate");
    assert_eq!(slug("Delivery, retries and the outbox"), "delivery-retries-and-the-outbox");
    assert_eq!(slug("GitHub Actions: `repository_dispatch`"), "github-actions-repository_dispatch");
    assert_eq!(
        slug("driftgauge / Engine health (`grafana/engine-health.json`)"),
        "driftgauge--engine-health-grafanaengine-healthjson"
    );
    assert_eq!(slug("See [the guide](guide.md#x) first"), "see-the-guide-first");
    assert_eq!(slug("$statistic heatmap: features × time"), "statistic-heatmap-features--time");
}

#[test]
fn the_link_check_finds_broken_links() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("docs")).unwrap();
    std::fs::write(
        dir.path().join("docs/guide.md"),
        "# Guide\n\n## Setup\n\n## Setup\n\n```sh\n# Not a heading\n```\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("README.md"),
        "# Top\n\
         [ok](docs/guide.md) [ok](docs/guide.md#setup) [ok](docs/guide.md#setup-1) \
         [ok](#top) [ok](docs/) [ok](https://example.com/missing.md) `[code](missing.md)`\n\
         [bad](docs/missing.md) [bad](docs/guide.md#setup-2) [bad](docs/guide.md#not-a-heading)\n\
         [bad](#nowhere) [bad](../outside.md)\n\
         \n```md\n[fenced](missing.md)\n```\n\
         [ref]: docs/gone.md\n",
    )
    .unwrap();
    let broken = broken_links(dir.path(), &[PathBuf::from("README.md")]);
    let destinations: Vec<&str> = broken
        .iter()
        .map(|message| {
            let start = message.find('(').expect("a destination") + 1;
            &message[start..message.find(')').expect("closed")]
        })
        .collect();
    assert_eq!(
        destinations,
        [
            "docs/missing.md",
            "docs/guide.md#setup-2",
            "docs/guide.md#not-a-heading",
            "#nowhere",
            "../outside.md",
            "docs/gone.md"
        ],
        "{broken:#?}"
    );
}
