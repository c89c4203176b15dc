//! The definitions directory (`survey-defs/`): every `*.json` file is an instrument or a registry. All files are
//! checked and every problem reported; nothing is half-loaded.

pub mod store;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::registry::file::{self as registry_file, RegistryFile};
use crate::survey::{rules, Instrument, OmbControlNumber};

#[derive(Debug, Clone, PartialEq)]
pub struct DefsError {
    pub file: String,
    pub path: String,
    pub problem: String,
}

impl fmt::Display for DefsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.path, self.problem)
    }
}

#[derive(Debug, Default, Clone)]
pub struct LoadedDefs {
    /// Every version of each instrument, ascending; the last is current.
    pub instruments: BTreeMap<String, Vec<Instrument>>,
    pub registries: Vec<(String, RegistryFile)>,
    /// Every version recorded in the database (`instruments`), so stored responses are read
    /// with the definition they answered even after its file was replaced or removed.
    pub stored: BTreeMap<(String, i32), Instrument>,
}

impl LoadedDefs {
    pub fn current(&self, id: &str) -> Option<&Instrument> {
        self.instruments.get(id).and_then(|v| v.last())
    }

    /// The definition a response was stored under: its file, else as the database recorded it.
    pub fn version(&self, id: &str, version: i32) -> Option<&Instrument> {
        self.instruments
            .get(id)
            .and_then(|v| v.iter().find(|i| i.version == version))
            .or_else(|| self.stored.get(&(id.to_string(), version)))
    }

    /// The newest version known from the files or the database: a deployment whose instrument
    /// file is gone still reports what it collected.
    pub fn latest(&self, id: &str) -> Option<&Instrument> {
        let stored = self
            .stored
            .range((id.to_string(), i32::MIN)..=(id.to_string(), i32::MAX))
            .next_back()
            .map(|(_, i)| i);
        match (self.current(id), stored) {
            (Some(f), Some(s)) if s.version > f.version => Some(s),
            (Some(f), _) => Some(f),
            (None, s) => s,
        }
    }

    /// Clearances expired or ending within 60 days: worth a warning, not a failure.
    pub fn expiry_warnings(&self, today: NaiveDate) -> Vec<String> {
        let mut out = vec![];
        for ins in self.instruments.values().filter_map(|v| v.last()) {
            let days = (ins.pra.expiration_date - today).num_days();
            if days < 0 {
                out.push(format!(
                    "{}: PRA clearance {} expired on {}; it is not shown or accepted",
                    ins.id, ins.pra.omb_control_number, ins.pra.expiration_date
                ));
            } else if days <= 60 {
                out.push(format!(
                    "{}: PRA clearance {} expires on {} ({days} days)",
                    ins.id, ins.pra.omb_control_number, ins.pra.expiration_date
                ));
            }
        }
        out
    }
}

/// Loads and checks every definition in `dir`; any problem anywhere fails the whole load.
pub fn load_dir(dir: &Path) -> Result<LoadedDefs, Vec<DefsError>> {
    let files = json_files(dir)?;
    let mut errors = vec![];
    let mut defs = LoadedDefs::default();
    let mut origin: BTreeMap<(String, i32), String> = BTreeMap::new();
    for path in &files {
        let name = path.display().to_string();
        let err = |p: &str, problem: String| DefsError {
            file: name.clone(),
            path: p.to_string(),
            problem,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(err("$", format!("cannot read: {e}")));
                continue;
            }
        };
        match parse_file(&text) {
            Err(problems) => errors.extend(problems.into_iter().map(|(p, m)| err(&p, m))),
            Ok(Parsed::Instrument(ins)) => {
                let key = (ins.id.clone(), ins.version);
                if let Some(first) = origin.get(&key) {
                    errors.push(err(
                        "$.version",
                        format!(
                            "{} version {} is also defined in {first}",
                            ins.id, ins.version
                        ),
                    ));
                    continue;
                }
                origin.insert(key, name.clone());
                defs.instruments
                    .entry(ins.id.clone())
                    .or_default()
                    .push(*ins);
            }
            Ok(Parsed::Registry(reg)) => defs.registries.push((name.clone(), reg)),
        }
    }
    for versions in defs.instruments.values_mut() {
        versions.sort_by_key(|i| i.version);
    }
    errors.extend(registry_problems(&defs));
    if errors.is_empty() {
        Ok(defs)
    } else {
        Err(errors)
    }
}

/// The `*.json` files in `dir`, sorted; an error when there are none.
fn json_files(dir: &Path) -> Result<Vec<PathBuf>, Vec<DefsError>> {
    let shown = dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|e| {
        vec![DefsError {
            file: shown.clone(),
            path: "$".into(),
            problem: format!("cannot read the directory: {e}"),
        }]
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(vec![DefsError {
            file: shown,
            path: "$".into(),
            problem: "no *.json survey definitions found".into(),
        }]);
    }
    Ok(files)
}

/// What `registry::file::check` finds in each registry file, given everything loaded.
fn registry_problems(defs: &LoadedDefs) -> Vec<DefsError> {
    let mut errors = vec![];
    let all_registries: Vec<&RegistryFile> = defs.registries.iter().map(|(_, r)| r).collect();
    for (file, reg) in &defs.registries {
        for (p, m) in registry_file::check(reg, &all_registries, &|id| defs.current(id).is_some()) {
            errors.push(DefsError {
                file: file.clone(),
                path: p,
                problem: m,
            });
        }
    }
    errors
}

pub enum Parsed {
    Instrument(Box<Instrument>),
    Registry(RegistryFile),
}

/// Parses one file's text; problems come as (json-path, what is wrong).
pub fn parse_file(text: &str) -> Result<Parsed, Vec<(String, String)>> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| vec![("$".to_string(), format!("not valid JSON: {e}"))])?;
    let kind = value.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    match kind {
        "instrument" => {
            // The control number is parsed while deserializing; a bad one is reported here and
            // a placeholder stands in for it, so the file's other problems are listed too.
            let (typed, mut problems) = control_number_checked(&value);
            let mut ins: Instrument = from_value(&typed).map_err(|mut e| {
                problems.append(&mut e);
                problems.clone()
            })?;
            problems.extend(rules::check(&ins));
            if !problems.is_empty() {
                return Err(problems);
            }
            // serde_json's default map is sorted, so this is a canonical form of the content.
            let canonical = serde_json::to_vec(&value).unwrap_or_default();
            ins.content_hash = hex::encode(Sha256::digest(&canonical));
            Ok(Parsed::Instrument(Box::new(ins)))
        }
        "registry" => Ok(Parsed::Registry(from_value(&value)?)),
        _ => Err(vec![(
            "$.kind".into(),
            "must be \"instrument\" or \"registry\"".into(),
        )]),
    }
}

/// The instrument's JSON with a placeholder for a control number that does not parse, and that
/// problem.
fn control_number_checked(value: &serde_json::Value) -> (serde_json::Value, Vec<(String, String)>) {
    let raw = value
        .pointer("/pra/omb_control_number")
        .and_then(|v| v.as_str());
    match raw.map(OmbControlNumber::parse) {
        Some(Err(e)) => {
            let mut typed = value.clone();
            typed["pra"]["omb_control_number"] = "0000-0000".into();
            (typed, vec![("$.pra.omb_control_number".into(), e)])
        }
        _ => (value.clone(), vec![]),
    }
}

fn from_value<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
) -> Result<T, Vec<(String, String)>> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            "$".to_string()
        } else {
            format!("$.{path}")
        };
        vec![(path, e.into_inner().to_string())]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> serde_json::Value {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("survey-defs/a11-v2-thumbs.json"),
        )
        .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn problems(v: &serde_json::Value) -> Vec<(String, String)> {
        match parse_file(&v.to_string()) {
            Ok(_) => vec![],
            Err(p) => p,
        }
    }

    #[test]
    fn shipped_definitions_load() {
        let defs = load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("survey-defs")).unwrap();
        for id in ["a11-v2-thumbs", "a11-v2-likert", "a11-v1"] {
            assert!(defs.current(id).is_some(), "{id}");
        }
    }

    #[test]
    fn each_rule_names_its_path() {
        type Mutation = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<(&str, Mutation)> = vec![
            (
                "$.pra.omb_control_number",
                Box::new(|v| v["pra"]["omb_control_number"] = "3090-32".into()),
            ),
            (
                "$.pra.burden_minutes",
                Box::new(|v| v["pra"]["burden_minutes"] = 6.into()),
            ),
            (
                "$.pra.expiration_date",
                Box::new(|v| v["pra"]["expiration_date"] = "31/01/2028".into()),
            ),
            (
                "$.questions[1].options[0].key",
                Box::new(|v| v["questions"][1]["options"][0]["key"] = "speed".into()),
            ),
            (
                "$.questions[2].options",
                Box::new(|v| {
                    let opts = v["questions"][2]["options"].as_array_mut().unwrap();
                    opts.retain(|o| o["key"] != "ease");
                }),
            ),
            (
                "$.questions[3].key",
                Box::new(|v| v["questions"][3]["key"] = "went_well".into()),
            ),
            (
                "$.questions[0].required",
                Box::new(|v| v["questions"][0]["required"] = false.into()),
            ),
            (
                "$.questions",
                Box::new(|v| {
                    let qs = v["questions"].as_array_mut().unwrap();
                    qs.remove(0);
                }),
            ),
            (
                "$.title",
                Box::new(|v| {
                    v["title"].as_object_mut().unwrap().remove("es");
                }),
            ),
            (
                "$.questions[0].text",
                Box::new(|v| {
                    v["questions"][0]["text"]
                        .as_object_mut()
                        .unwrap()
                        .remove("es");
                }),
            ),
            (
                "$.questions[0]",
                Box::new(|v| v["questions"][0]["colour"] = "red".into()),
            ),
            ("$.kind", Box::new(|v| v["kind"] = "survey".into())),
        ];
        for (want, mutate) in cases {
            let mut v = shipped();
            mutate(&mut v);
            let got = problems(&v);
            assert!(
                got.iter()
                    .any(|(p, _)| p == want || p.starts_with(&format!("{want}."))),
                "expected a problem at {want}, got {got:?}"
            );
        }
    }

    #[test]
    fn sixteen_questions_is_too_many() {
        let mut v = shipped();
        let q = v["questions"][3].clone();
        let qs = v["questions"].as_array_mut().unwrap();
        for _ in 0..12 {
            qs.push(q.clone());
        }
        let got = problems(&v);
        assert!(
            got.iter()
                .any(|(p, m)| p == "$.questions" && m.contains("1 to 15")),
            "{got:?}"
        );
    }

    #[test]
    fn content_hash_ignores_formatting() {
        let v = shipped();
        let a = match parse_file(&v.to_string()) {
            Ok(Parsed::Instrument(i)) => i.content_hash,
            _ => panic!(),
        };
        let b = match parse_file(&serde_json::to_string_pretty(&v).unwrap()) {
            Ok(Parsed::Instrument(i)) => i.content_hash,
            _ => panic!(),
        };
        assert_eq!(a, b);
    }
}
