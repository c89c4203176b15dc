//! The command line itself: `--help` lists every setting of the README's configuration table
//! with its variable and default, usage mistakes exit 2, and `report` prints plain lines on a
//! terminal.

use std::process::{Command, Output};

fn cx(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cx-survey"))
        .args(args)
        .env_clear()
        .output()
        .unwrap()
}

/// The README's configuration table as (variable, default) pairs; `None` where it says `—`.
/// A row naming two variables (`A` / `B`) gives two defaults the same way.
fn readme_settings() -> Vec<(String, Option<String>)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme
        .split("## Configuration")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let mut out = Vec::new();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let vars: Vec<&str> = cells[1]
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|v| v.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .collect();
        let defaults: Vec<&str> = if vars.len() > 1 {
            cells[2].split(" / ").collect()
        } else {
            vec![cells[2]]
        };
        assert_eq!(vars.len(), defaults.len(), "README row {row}");
        for (v, d) in vars.iter().zip(defaults) {
            let d = d.trim().trim_matches('`');
            out.push((v.to_string(), (d != "—").then(|| d.to_string())));
        }
    }
    assert!(out.len() >= 19, "{out:?}");
    out
}

/// The help entry that names `var`: its option line (`[env: VAR`) and continuation lines, or
/// the paragraph that names it.
fn entry(help: &str, var: &str) -> Option<String> {
    let lines: Vec<&str> = help.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains(&format!("[env: {var}=")) || l.contains(&format!("[env: {var}]")))
        .or_else(|| lines.iter().position(|l| l.contains(var)))?;
    let start = (0..=at)
        .rev()
        .find(|&i| lines[i].trim_start().starts_with('-') || lines[i].trim().is_empty())
        .unwrap_or(at);
    let end = (at + 1..lines.len())
        .find(|&i| lines[i].trim_start().starts_with('-') || lines[i].trim().is_empty())
        .unwrap_or(lines.len());
    Some(lines[start..end].join("\n"))
}

#[test]
fn help_lists_every_setting_of_the_readme_with_its_default() {
    let settings = readme_settings();
    for args in [&["--help"][..], &["serve", "--help"], &["report", "--help"]] {
        let out = cx(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        let help = String::from_utf8(out.stdout).unwrap();
        for (var, default) in &settings {
            let entry =
                entry(&help, var).unwrap_or_else(|| panic!("{args:?}: no {var} in\n{help}"));
            if let Some(d) = default {
                // clap quotes a default that has a space in it.
                assert!(
                    entry.contains(&format!("[default: {d}]"))
                        || entry.contains(&format!("[default: \"{d}\"]")),
                    "{args:?}: {var} without [default: {d}]:\n{entry}"
                );
            }
        }
        // And nothing the README does not document.
        for documented in help.split("[env: ").skip(1) {
            let var = documented.split(['=', ']']).next().unwrap();
            assert!(
                settings.iter().any(|(v, _)| v == var),
                "{var} is in --help but not in the README's table"
            );
        }
    }
}

#[test]
fn help_never_prints_a_secret_from_the_environment() {
    let out = Command::new(env!("CARGO_BIN_EXE_cx-survey"))
        .args(["serve", "--help"])
        .env("CX_SECRET", "hmac-key-5b1e07d2")
        .env(
            "CX_SMTP_URL",
            "smtps://mailer:smtp-pass-93ac41@mail.example.gov:465",
        )
        .env(
            "DATABASE_URL",
            "postgres://cx:db-pass-0f7e2a@db.internal/cx",
        )
        .env("CX_MAIL_FROM", "feedback@example.gov")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for secret in ["hmac-key-5b1e07d2", "smtp-pass-93ac41", "db-pass-0f7e2a"] {
        assert!(!help.contains(secret), "{secret} in\n{help}");
    }
    // Other values from the environment are shown.
    assert!(
        help.contains("[env: CX_MAIL_FROM=feedback@example.gov]"),
        "{help}"
    );
}

/// Usage mistakes are clap's: exit 2, the problem on stderr, nothing on stdout.
#[test]
fn usage_mistakes_exit_2_on_stderr() {
    for args in [
        &[
            "report",
            "--fiscal-year",
            "2027",
            "--quarter",
            "x",
            "--out",
            "o",
        ][..],
        &["report", "--quarter", "x"],
        &["serve", "--no-such-flag"],
        &[],
    ] {
        let out = cx(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        // No command at all: the help, on stderr.
        let want = if args.is_empty() {
            "Usage: "
        } else {
            "error: "
        };
        assert!(err.contains(want), "{args:?}: {out:?}");
    }
}

/// A bad value is a configuration error naming the variable, from a flag as from the
/// environment, and flags win over the environment.
#[test]
fn bad_settings_are_configuration_errors_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("x.db").display());
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cx-survey"));
        cmd.args(args).env_clear().env("DATABASE_URL", &db);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    for (args, env, var) in [
        (&["--db-pool-size", "many"][..], &[][..], "CX_DB_POOL_SIZE"),
        (&[], &[("CX_REPORT_TZ", "Mars/Olympus")], "CX_REPORT_TZ"),
    ] {
        let out = run(
            &[&["keys", "list", "--agency", "gsa"][..], args].concat(),
            env,
        );
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with(&format!("configuration error: {var}: ")),
            "{err}"
        );
    }
    let out = run(
        &[
            "keys",
            "list",
            "--agency",
            "gsa",
            "--report-tz",
            "America/Chicago",
        ],
        &[("CX_REPORT_TZ", "Mars/Olympus")],
    );
    assert!(out.status.success(), "{out:?}");
}

/// On a terminal (`script` gives the command one) `report` prints plain lines, no JSON; off
/// one it keeps the JSON log lines.
#[test]
fn report_prints_plain_lines_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("r.db").display());
    let defs = concat!(env!("CARGO_MANIFEST_DIR"), "/survey-defs");
    let bin = env!("CARGO_BIN_EXE_cx-survey");
    let migrate = Command::new(bin)
        .args([
            "keys",
            "list",
            "--agency",
            "none",
            "--database-url",
            &db,
            "--defs",
            defs,
        ])
        .output()
        .unwrap();
    assert!(migrate.status.success(), "{migrate:?}");
    let out_dir = dir.path().join("out");
    let line = format!(
        "{bin} report --fiscal-year 2027 --quarter 1 --out {} --database-url {db} --defs {defs}",
        out_dir.display()
    );
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_remove("RUST_LOG")
        .output()
        .expect("script (util-linux) runs the command on a terminal");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("FY2027 Q1: 0 collections, 0 deployments, 0 responses"),
        "{text}"
    );
    assert!(
        text.contains(&format!("to {}", out_dir.display())),
        "{text}"
    );
    assert!(
        !text.contains("\"level\""),
        "JSON log lines on a terminal:\n{text}"
    );
    assert!(out_dir.join("report.html").exists());

    let off = Command::new(bin)
        .args(["report", "--fiscal-year", "2027", "--quarter", "1", "--out"])
        .arg(dir.path().join("out2"))
        .args(["--database-url", &db, "--defs", defs])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(off.status.success(), "{off:?}");
    let err = String::from_utf8_lossy(&off.stderr);
    assert!(err.contains("\"level\":\"INFO\""), "{err}");
    assert!(err.contains("report FY2027 Q1: 0 collections"), "{err}");
}
