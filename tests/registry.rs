//! The baseline registry on a file-backed SQLite database: the CLI round trip
//! (fit, list, activate, show, export, import), the audit trail, import
//! conflicts, protected active versions, migrations of older databases and the
//! refusal of newer ones.

use std::path::{Path, PathBuf};

use driftgauge_engine::alerts::outbox_store::SqliteOutbox;
use driftgauge_engine::cli::{self, EXIT_ERROR, EXIT_OK};
use driftgauge_engine::registry::db::{DbError, MIGRATIONS, SCHEMA_VERSION};
use driftgauge_engine::registry::{self, Export, Registry};
use serde_json::Value;

struct Run {
    code: u8,
    stdout: String,
    stderr: String,
}

fn driftgauge(args: &[&str]) -> Run {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let argv = std::iter::once("driftgauge").chain(args.iter().copied());
    let code = cli::run(argv, &mut out, &mut err);
    Run { code, stdout: String::from_utf8(out).unwrap(), stderr: String::from_utf8(err).unwrap() }
}

/// Runs `driftgauge registry --db DB ARGS...` and insists on exit code 0.
fn ok(db: &Path, args: &[&str]) -> Run {
    let run = registry_cmd(db, args);
    assert_eq!(run.code, EXIT_OK, "{args:?}: {}", run.stderr);
    run
}

fn registry_cmd(db: &Path, args: &[&str]) -> Run {
    let db = db.to_str().unwrap();
    let mut argv = vec!["registry", "--db", db];
    argv.extend_from_slice(args);
    driftgauge(&argv)
}

/// A deterministic reference CSV; `shift` moves the numbers and the category mix.
fn reference_csv(dir: &Path, name: &str, rows: usize, shift: f64) -> PathBuf {
    let mut text = String::from("amount,age,country,label\n");
    for i in 0..rows {
        let amount = ((i as f64 * 0.618_033_988_75).fract() - 0.5) * 4.0 + shift;
        let country = ["de", "fr", "nl", "us"][(i + (shift as usize) * (i % 2)) % 4];
        text.push_str(&format!("{amount},{},{country},{}\n", 30 + i % 40, i % 2));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn user_version(db: &Path) -> u32 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap()
}

#[test]
fn fit_list_activate_show_export_import_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    let v1 = reference_csv(dir.path(), "ref-v1.csv", 2_000, 0.0);
    let v2 = reference_csv(dir.path(), "ref-v2.csv", 3_000, 1.0);
    let (v1, v2) = (v1.to_str().unwrap(), v2.to_str().unwrap());

    let fit =
        ok(&db, &["fit", "--model", "fraud", "--version", "v1", "--input", v1, "--label", "label"]);
    assert!(fit.stdout.is_empty(), "progress and confirmations go to stderr");
    assert!(fit.stderr.contains("read 2000 rows, 4 columns"), "{}", fit.stderr);
    assert!(fit.stderr.contains("stored fraud/v1 (3 columns over 2000 rows)"), "{}", fit.stderr);
    ok(&db, &["fit", "--model", "fraud", "--version", "v2", "--input", v2, "--activate"]);
    ok(&db, &["fit", "--model", "churn", "--version", "2024-05", "--input", v1, "--activate"]);

    let list = ok(&db, &["list"]).stdout;
    let lines: Vec<Vec<&str>> = list.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["MODEL", "VERSION", "CREATED", "ROWS", "COLUMNS", "ACTIVE"]);
    let rows: Vec<(&str, &str, &str, &str, bool)> =
        lines[1..].iter().map(|l| (l[0], l[1], l[3], l[4], l.get(5) == Some(&"yes"))).collect();
    assert_eq!(
        rows,
        [
            ("churn", "2024-05", "2000", "4", true),
            ("fraud", "v1", "2000", "3", false),
            ("fraud", "v2", "3000", "4", true),
        ]
    );

    let activated = ok(&db, &["activate", "fraud", "v1", "--actor", "bob"]);
    assert_eq!(activated.stderr.trim(), "activated fraud/v1 (was v2)");

    let shown: Value = serde_json::from_str(&ok(&db, &["show", "fraud"]).stdout).unwrap();
    assert_eq!((shown["version"].as_str(), shown["active"].as_bool()), (Some("v1"), Some(true)));
    let columns: Vec<(&str, &str)> = shown["column_summaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(columns, [("amount", "numeric"), ("age", "numeric"), ("country", "categorical")]);
    assert!(shown.get("profile").is_none(), "the full profile only with --full");
    let full: Value =
        serde_json::from_str(&ok(&db, &["show", "fraud/v2", "--full"]).stdout).unwrap();
    assert_eq!(full["active"], false);
    assert_eq!(full["profile"]["rows"], 3000);
    assert_eq!(full["profile"]["columns"].as_array().unwrap().len(), 4);

    // The library sees what the CLI stored; the engine reads the active profile.
    let registry = Registry::open(&db).unwrap();
    let (version, profile) = registry.active_profile("fraud").unwrap().unwrap();
    assert_eq!((version.as_str(), profile.rows, profile.columns.len()), ("v1", 2000, 3));
    assert_eq!(registry.active_profile("nobody").unwrap(), None);
    let active: Vec<(String, String)> =
        registry.active_profiles().unwrap().into_iter().map(|(m, v, _)| (m, v)).collect();
    assert_eq!(active, [("churn".into(), "2024-05".into()), ("fraud".into(), "v1".into())]);
    drop(registry);

    // Export, import into a fresh database, export again: the same document.
    let exported = dir.path().join("export.json");
    let run = ok(&db, &["export", "--out", exported.to_str().unwrap()]);
    assert!(run.stderr.contains("exported 2 model(s), 3 version(s)"), "{}", run.stderr);
    let on_stdout = ok(&db, &["export"]).stdout;
    assert_eq!(on_stdout, std::fs::read_to_string(&exported).unwrap(), "deterministic");

    let copy = dir.path().join("copy.db");
    let imported = ok(&copy, &["import", exported.to_str().unwrap(), "--actor", "ci"]);
    assert!(
        imported.stderr.contains("2 model(s) and 3 version(s) added, 0 unchanged, 0 replaced, 2"),
        "{}",
        imported.stderr
    );
    assert_eq!(ok(&copy, &["export"]).stdout, on_stdout, "the copy exports identically");
    assert_eq!(ok(&copy, &["list"]).stdout, ok(&db, &["list"]).stdout);
    let original = Registry::open(&db).unwrap();
    let copied = Registry::open(&copy).unwrap();
    assert_eq!(
        original.show("fraud", Some("v2")).unwrap(),
        copied.show("fraud", Some("v2")).unwrap()
    );
    assert_eq!(original.active_profile("fraud").unwrap(), copied.active_profile("fraud").unwrap());
    drop((original, copied));

    // Importing again changes nothing.
    let again = ok(&copy, &["import", exported.to_str().unwrap()]);
    assert!(
        again.stderr.contains("0 model(s) and 0 version(s) added, 3 unchanged, 0 replaced, 0"),
        "{}",
        again.stderr
    );
}

#[test]
fn every_change_writes_an_audit_row_with_its_actor() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    let input = reference_csv(dir.path(), "ref.csv", 500, 0.0);
    let input = input.to_str().unwrap();
    let fit = ["fit", "--model", "fraud", "--input", input, "--actor", "ada"];
    ok(&db, &[&fit[..], &["--version", "v1", "--activate"]].concat());
    ok(&db, &[&fit[..], &["--version", "v2"]].concat());
    ok(&db, &["activate", "--actor", "bob", "fraud", "v2"]);
    ok(&db, &["activate", "fraud", "v2", "--actor", "carol"]); // already active: no change
    ok(&db, &["delete", "fraud/v1", "--actor", "dave"]);
    let exported = dir.path().join("export.json");
    ok(&db, &["export", "--out", exported.to_str().unwrap()]);
    ok(&dir.path().join("copy.db"), &["import", exported.to_str().unwrap(), "--actor", "erin"]);

    let trail: Vec<(String, String, Option<String>, String)> = Registry::open(&db)
        .unwrap()
        .audit(None)
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.model, e.version, e.actor))
        .collect();
    let row = |action: &str, version: &str, actor: &str| {
        (action.to_owned(), "fraud".to_owned(), Some(version.to_owned()), actor.to_owned())
    };
    assert_eq!(
        trail,
        [
            row("store", "v1", "ada"),
            row("activate", "v1", "ada"),
            row("store", "v2", "ada"),
            row("activate", "v2", "bob"),
            row("delete", "v1", "dave"),
        ]
    );
    let entries = Registry::open(&db).unwrap().audit(Some("fraud")).unwrap();
    assert_eq!(entries[3].details["previous"], "v1");
    assert_eq!(entries[0].details["rows"], 500);
    assert!(entries.windows(2).all(|w| w[0].at <= w[1].at), "times never go back");

    let copied = Registry::open(dir.path().join("copy.db")).unwrap().audit(None).unwrap();
    let copied: Vec<(&str, &str)> =
        copied.iter().map(|e| (e.action.as_str(), e.actor.as_str())).collect();
    assert_eq!(copied, [("import", "erin"), ("activate", "erin")]);

    // The table view of the same trail.
    let table = ok(&db, &["audit", "fraud"]).stdout;
    assert!(table.starts_with("AT"), "{table}");
    assert_eq!(table.lines().count(), 6);
    // Without --actor the OS user is recorded.
    let expected = registry::default_actor();
    ok(&db, &["delete", "fraud", "--force"]);
    let last = Registry::open(&db).unwrap().audit(None).unwrap().pop().unwrap();
    assert_eq!((last.action.as_str(), last.actor), ("delete", expected));
}

#[test]
fn conflicting_imports_are_refused_unless_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    let input = reference_csv(dir.path(), "ref.csv", 800, 0.0);
    let other = reference_csv(dir.path(), "other.csv", 900, 2.0);
    for (version, input) in [("v1", &input), ("v2", &other)] {
        let input = input.to_str().unwrap();
        ok(&db, &["fit", "--model", "fraud", "--version", version, "--input", input]);
    }
    ok(&db, &["activate", "fraud", "v1"]);
    let mut document: Export =
        serde_json::from_str(&ok(&db, &["export"]).stdout).expect("an export document");

    // Elsewhere, v1 was fitted on other data and v2 was activated.
    let fraud = &mut document.models[0];
    fraud.versions[0].profile = fraud.versions[1].profile.clone();
    fraud.active_version = Some("v2".into());
    let edited = dir.path().join("edited.json");
    std::fs::write(&edited, serde_json::to_string(&document).unwrap()).unwrap();
    let before = ok(&db, &["export"]).stdout;

    let refused = registry_cmd(&db, &["import", edited.to_str().unwrap()]);
    assert_eq!(refused.code, EXIT_ERROR);
    assert!(refused.stderr.contains("2 conflict(s)"), "{}", refused.stderr);
    assert!(refused.stderr.contains("fraud/v1: the stored profile differs"), "{}", refused.stderr);
    assert!(refused.stderr.contains("active version is v1 here and v2"), "{}", refused.stderr);
    assert!(refused.stderr.contains("--replace"), "{}", refused.stderr);
    assert_eq!(ok(&db, &["export"]).stdout, before, "a refused import changes nothing");

    let replaced = ok(&db, &["import", edited.to_str().unwrap(), "--replace"]);
    assert!(
        replaced.stderr.contains("1 unchanged, 1 replaced, 1 activation"),
        "{}",
        replaced.stderr
    );
    let registry = Registry::open(&db).unwrap();
    let (active, profile) = registry.active_profile("fraud").unwrap().unwrap();
    assert_eq!((active.as_str(), profile.rows), ("v2", 900));
    assert_eq!(registry.profile("fraud", "v1").unwrap().rows, 900, "v1 now holds the import's");

    // A document from a newer driftgauge is refused before anything is read.
    let mut newer: Value = serde_json::from_str(&before).unwrap();
    newer["format_version"] = 99.into();
    let newer_path = dir.path().join("newer.json");
    std::fs::write(&newer_path, newer.to_string()).unwrap();
    let run = registry_cmd(&db, &["import", newer_path.to_str().unwrap()]);
    assert_eq!(run.code, EXIT_ERROR);
    assert!(run.stderr.contains("format_version 99 is not supported"), "{}", run.stderr);
}

#[test]
fn the_active_version_is_deleted_only_when_forced() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    let input = reference_csv(dir.path(), "ref.csv", 300, 0.0);
    let input = input.to_str().unwrap();
    for version in ["v1", "v2"] {
        ok(&db, &["fit", "--model", "fraud", "--version", version, "--input", input]);
    }
    ok(&db, &["activate", "fraud", "v2"]);

    let refused = registry_cmd(&db, &["delete", "fraud/v2"]);
    assert_eq!(refused.code, EXIT_ERROR);
    assert!(refused.stderr.contains("`fraud/v2` is the active version"), "{}", refused.stderr);
    let refused = registry_cmd(&db, &["delete", "fraud"]);
    assert_eq!(refused.code, EXIT_ERROR, "deleting the model would delete its active version");

    let deleted = ok(&db, &["delete", "fraud/v1"]);
    assert_eq!(deleted.stderr.trim(), "deleted fraud: v1");
    let forced = ok(&db, &["delete", "fraud/v2", "--force"]);
    assert_eq!(
        forced.stderr.trim(),
        "deleted fraud: v2; fraud has no active version now (was v2); no versions left, model removed"
    );
    let list = ok(&db, &["list"]);
    assert!(list.stdout.is_empty() && list.stderr.contains("no baselines"), "{}", list.stderr);
}

#[test]
fn cli_errors_exit_2_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    let input = reference_csv(dir.path(), "ref.csv", 300, 0.0);
    let input = input.to_str().unwrap();

    // Reading commands do not create a database at a mistyped path.
    let missing = registry_cmd(&db, &["list"]);
    assert_eq!(missing.code, EXIT_ERROR);
    assert!(missing.stderr.contains("no such database"), "{}", missing.stderr);
    assert!(!db.exists());

    ok(&db, &["fit", "--model", "fraud", "--version", "v1", "--input", input]);
    let cases: &[(&[&str], &str)] = &[
        (&["show", "nobody"], "model `nobody` is not in the registry"),
        (&["show", "fraud/v9"], "model `fraud` has no version `v9`"),
        (&["show", "fraud"], "model `fraud` has no active version"),
        (&["activate", "fraud", "v9"], "model `fraud` has no version `v9`"),
        (&["delete", "nobody"], "model `nobody` is not in the registry"),
        // Checked before the input is read: a long fit does not end in this error.
        (
            &["fit", "--model", "fraud", "--version", "v1", "--input", "/nonexistent.csv"],
            "`fraud/v1` already exists",
        ),
        (
            &["fit", "--model", "a/b", "--version", "v1", "--input", input],
            "invalid model name \"a/b\"",
        ),
        (
            &["fit", "--model", "m", "--version", "v1", "--input", "/nonexistent.csv"],
            "/nonexistent.csv: cannot open",
        ),
        (
            &["fit", "--model", "m", "--version", "v1", "--input", input, "--columns", "nope"],
            "nope",
        ),
        (&["import", "/nonexistent.json"], "/nonexistent.json: cannot read"),
        (&["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, message) in cases {
        let run = registry_cmd(&db, args);
        assert_eq!(run.code, EXIT_ERROR, "{args:?}");
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
    assert_eq!(Registry::open(&db).unwrap().list().unwrap().len(), 1, "failures stored nothing");
}

#[test]
fn an_older_database_is_migrated_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    let input = reference_csv(dir.path(), "ref.csv", 400, 0.0);

    // A registry as a driftgauge with only V1 left it: a stored, active version.
    let fitted = dir.path().join("fitted.db");
    ok(
        &fitted,
        &["fit", "--model", "fraud", "--version", "v1", "--input", input.to_str().unwrap()],
    );
    let profile = Registry::open(&fitted).unwrap().profile("fraud", "v1").unwrap();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(MIGRATIONS[0].sql).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let json = serde_json::to_string(&profile).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO models VALUES ('fraud', '2024-01-01T00:00:00.000Z');
             INSERT INTO versions VALUES ('fraud', 'v1', '2024-01-01T00:00:00.000Z', 'old',
                 1, 400, 4, '{json}');
             INSERT INTO active_versions VALUES ('fraud', 'v1', '2024-01-01T00:00:00.000Z', 'old');"
        ))
        .unwrap();
    }
    assert_eq!(user_version(&db), 1);

    // Opening the outbox first: any opener migrates the whole file.
    let outbox = SqliteOutbox::open(&db).unwrap();
    drop(outbox);
    assert_eq!(user_version(&db), SCHEMA_VERSION);
    let registry = Registry::open(&db).unwrap();
    assert_eq!(registry.active_profile("fraud").unwrap(), Some(("v1".to_owned(), profile)));
    assert_eq!(registry.list().unwrap()[0].created_by, "old");
    drop(registry);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let history: Vec<(u32, String)> = conn
        .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let later: Vec<(u32, String)> =
        MIGRATIONS[1..].iter().map(|m| (m.version, m.name.to_owned())).collect();
    assert_eq!(history, later, "V1 predates the history table");

    // A plain SQLite file that never held a registry gets every migration.
    let plain = dir.path().join("plain.db");
    rusqlite::Connection::open(&plain).unwrap().execute_batch("CREATE TABLE notes (x)").unwrap();
    Registry::open(&plain).unwrap();
    assert_eq!(user_version(&plain), SCHEMA_VERSION);
}

#[test]
fn a_database_from_a_newer_driftgauge_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("newer.db");
    Registry::open(&db).unwrap();
    let newer = SCHEMA_VERSION + 1;
    rusqlite::Connection::open(&db).unwrap().pragma_update(None, "user_version", newer).unwrap();

    let error = Registry::open(&db).expect_err("too new");
    assert!(
        matches!(
            error,
            registry::Error::Db(DbError::TooNew { found, supported, .. })
                if found == newer && supported == SCHEMA_VERSION
        ),
        "{error:?}"
    );
    assert!(matches!(SqliteOutbox::open(&db), Err(DbError::TooNew { .. })));
    let run = registry_cmd(&db, &["list"]);
    assert_eq!(run.code, EXIT_ERROR);
    assert!(run.stderr.contains("written by a newer driftgauge"), "{}", run.stderr);
    assert!(run.stderr.contains(db.to_str().unwrap()), "names the file: {}", run.stderr);
    assert_eq!(user_version(&db), newer, "left untouched");
}

/// `run` never creates an empty registry at a mistyped `registry_path`;
/// `registry init` creates one on purpose, and a file that is not a
/// driftgauge database is refused by name.
#[test]
fn run_refuses_a_missing_registry_and_init_creates_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("typo.db");
    let config = dir.path().join("engine.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\naddress = \"127.0.0.1:0\"\n[baselines]\nregistry_path = {:?}\n",
            db.to_str().unwrap()
        ),
    )
    .unwrap();
    let run = driftgauge(&["run", "--config", config.to_str().unwrap()]);
    assert_eq!(run.code, EXIT_ERROR);
    assert!(run.stderr.contains("typo.db: no such database"), "{}", run.stderr);
    assert!(run.stderr.contains("registry init"), "{}", run.stderr);
    assert!(!db.exists(), "run created {}", db.display());

    let init = ok(&db, &["init"]);
    assert!(init.stderr.contains("created an empty registry"), "{}", init.stderr);
    assert_eq!(user_version(&db), SCHEMA_VERSION);
    let again = ok(&db, &["init"]);
    assert!(again.stderr.contains("already a driftgauge registry"), "{}", again.stderr);
    ok(&db, &["list"]);

    let notes = dir.path().join("notes.db");
    std::fs::write(&notes, "some text that is not SQLite at all, but long enough").unwrap();
    let foreign = registry_cmd(&notes, &["init"]);
    assert_eq!(foreign.code, EXIT_ERROR);
    assert!(foreign.stderr.contains("not a driftgauge database"), "{}", foreign.stderr);
}

/// `config check` reports what `run` would refuse at start, every problem at
/// once: a missing registry, and webhook targets with a bad URL, an unknown
/// template placeholder and a secret missing from the environment.
#[test]
fn config_check_reports_everything_run_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("engine.toml");
    let db = dir.path().join("missing.db");
    std::fs::write(
        &config,
        format!(
            "[baselines]\nregistry_path = {:?}\n\
             [[alerting.webhook.targets]]\nurl = \"not a url\"\n\
             [[alerting.webhook.targets]]\nurl = \"http://127.0.0.1:9/hook\"\n\
             secret_env = \"DRIFTGAUGE_TEST_SECRET_THAT_IS_NOT_SET\"\n\
             template = '{{\"model\": \"{{{{modle}}}}\"}}'\n",
            db.to_str().unwrap()
        ),
    )
    .unwrap();
    let run = driftgauge(&["config", "check", config.to_str().unwrap()]);
    assert_eq!(run.code, EXIT_ERROR, "{}{}", run.stdout, run.stderr);
    for expected in [
        "missing.db: no such database",
        "targets[0].url",
        "DRIFTGAUGE_TEST_SECRET_THAT_IS_NOT_SET",
        "modle",
    ] {
        assert!(run.stderr.contains(expected), "{expected} missing from {}", run.stderr);
    }
    assert!(!db.exists(), "config check created {}", db.display());
    let file_only = driftgauge(&["config", "check", "--file-only", config.to_str().unwrap()]);
    assert_eq!(file_only.code, EXIT_OK, "{}", file_only.stderr);
}

/// A stored checkpoint that `run` could not resume (here: written with
/// 30-second windows, while the configuration has the default 60) is one
/// of the problems `config check` reports.
#[test]
fn config_check_reports_a_checkpoint_the_configuration_cannot_resume() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("driftgauge.db");
    ok(&db, &["init"]);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO checkpoints (consumer_group, format_version, window_size_ms, \
         window_slide_ms, watermark_ms, max_event_ms, sequence, written_at_ms) \
         VALUES ('driftgauge', 1, 30000, 30000, NULL, NULL, 1, 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let config = dir.path().join("engine.toml");
    std::fs::write(&config, format!("[baselines]\nregistry_path = {:?}\n", db.to_str().unwrap()))
        .unwrap();
    let run = driftgauge(&["config", "check", config.to_str().unwrap()]);
    assert_eq!(run.code, EXIT_ERROR, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("checkpoint:") && run.stderr.contains("cannot be resumed"),
        "{}",
        run.stderr
    );
}

#[test]
fn profiles_with_infinite_moments_survive_show_export_and_import() {
    // Finite values near f64::MAX: their mean and std overflow. serde_json
    // used to store them as null, which then could not be read back.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("huge.csv");
    std::fs::write(&csv, "x,c\n1.7e308,a\n1.7e308,b\n1.0,a\n").unwrap();
    let db = dir.path().join("registry.db");
    let csv = csv.to_str().unwrap();
    ok(&db, &["fit", "--model", "m", "--version", "v1", "--input", csv, "--activate"]);

    let shown: Value = serde_json::from_str(&ok(&db, &["show", "m/v1", "--full"]).stdout).unwrap();
    let range = &shown["column_summaries"][0]["range"];
    assert_eq!(range["max"], 1.7e308);
    assert!(range["mean"].is_string() && range["std"].is_string(), "{range}");
    assert!(!shown.to_string().contains(":null"), "{shown}");

    let exported = ok(&db, &["export"]).stdout;
    let other = dir.path().join("other.db");
    let file = dir.path().join("export.json");
    std::fs::write(&file, &exported).unwrap();
    ok(&other, &["import", file.to_str().unwrap()]);
    let profile = |json: &str| {
        let document: Value = serde_json::from_str(json).unwrap();
        document["models"][0]["versions"][0]["profile"].clone()
    };
    let imported = ok(&other, &["export"]).stdout;
    assert_eq!(profile(&imported), profile(&exported));
    assert!(profile(&imported)["columns"][0]["stats"]["range"]["mean"].is_string());
}
