//! The checks every instrument passes before it is served: A-11 Section 280 shape, generic
//! clearance limits, complete translations. Each problem names its JSON path.

use std::collections::BTreeSet;

use super::{Instrument, Localized, Polarity, QuestionType, SurveyType};
use super::{COMMENT_MAX_CHARS, DRIVERS};

const MAX_QUESTIONS: usize = 15;
const MAX_BURDEN_MINUTES: u32 = 5;
const V1_KEYS: [&str; 7] = [
    "satisfaction",
    "trust",
    "effectiveness",
    "ease",
    "efficiency",
    "transparency",
    "employee",
];

pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

struct Problems<'a> {
    locales: &'a [String],
    out: Vec<(String, String)>,
}

impl Problems<'_> {
    fn add(&mut self, path: impl Into<String>, problem: impl Into<String>) {
        self.out.push((path.into(), problem.into()));
    }

    fn localized(&mut self, path: &str, text: &Localized) {
        for l in self.locales {
            match text.get(l) {
                None => self.add(path, format!("missing the {l:?} translation")),
                Some(t) if t.trim().is_empty() => {
                    self.add(format!("{path}.{l}"), "must not be empty")
                }
                _ => {}
            }
        }
        for k in text.keys() {
            if !self.locales.contains(k) {
                self.add(
                    format!("{path}.{k}"),
                    format!("locale {k:?} is not declared in $.locales"),
                );
            }
        }
    }
}

/// All problems of one instrument, as (json-path, what is wrong).
pub fn check(ins: &Instrument) -> Vec<(String, String)> {
    let mut p = Problems {
        locales: &ins.locales,
        out: vec![],
    };
    if ins.kind != "instrument" {
        p.add("$.kind", "must be \"instrument\"");
    }
    if !is_slug(&ins.id) {
        p.add("$.id", "must be a slug: lowercase a-z, 0-9 and -");
    }
    if ins.version < 1 {
        p.add("$.version", "must be 1 or more");
    }
    check_locales(&mut p, &ins.locales);
    p.localized("$.title", &ins.title);

    if ins.pra.burden_minutes == 0 || ins.pra.burden_minutes > MAX_BURDEN_MINUTES {
        p.add(
            "$.pra.burden_minutes",
            format!("must be 1 to {MAX_BURDEN_MINUTES} (generic clearance limit)"),
        );
    }
    match url::Url::parse(&ins.pra.federal_register_url) {
        Ok(u) if u.scheme() == "https" => {}
        _ => p.add("$.pra.federal_register_url", "must be an https:// URL"),
    }
    p.localized("$.pra.burden_statement", &ins.pra.burden_statement);

    check_questions(&mut p, ins);
    p.out
}

fn check_locales(p: &mut Problems, locales: &[String]) {
    if locales.is_empty() {
        p.add("$.locales", "must list at least one locale");
    }
    let mut seen = BTreeSet::new();
    for (i, l) in locales.iter().enumerate() {
        let well_formed = l.len() == 2 && l.bytes().all(|b| b.is_ascii_lowercase());
        if !well_formed {
            p.add(
                format!("$.locales[{i}]"),
                "must be a two-letter language code",
            );
        }
        if !seen.insert(l) {
            p.add(format!("$.locales[{i}]"), format!("{l:?} is listed twice"));
        }
    }
}

fn check_questions(p: &mut Problems, ins: &Instrument) {
    let qs = &ins.questions;
    if qs.is_empty() || qs.len() > MAX_QUESTIONS {
        p.add(
            "$.questions",
            format!("must have 1 to {MAX_QUESTIONS} questions, has {}", qs.len()),
        );
    }
    let mut keys = BTreeSet::new();
    let mut lists = BTreeSet::new();
    for (i, q) in qs.iter().enumerate() {
        let at = format!("$.questions[{i}]");
        check_key(p, &at, &q.key, &mut keys);
        p.localized(&format!("{at}.text"), &q.text);
        if let Some(h) = &q.hint {
            p.localized(&format!("{at}.hint"), h);
        }
        check_choices(p, &at, q.kind, q.choices.as_ref());
        check_polarity_and_options(p, &at, q, &mut lists);
        match (q.kind, q.max_length) {
            (QuestionType::Text, Some(n)) if n == 0 || n > COMMENT_MAX_CHARS => p.add(
                format!("{at}.max_length"),
                format!("must be 1 to {COMMENT_MAX_CHARS}"),
            ),
            (QuestionType::Text, _) | (_, None) => {}
            (_, Some(_)) => p.add(
                format!("{at}.max_length"),
                "only text questions have max_length",
            ),
        }
        if q.required && q.key != "trust" && q.kind == QuestionType::Text {
            p.add(format!("{at}.required"), "free text must stay optional");
        }
    }
    check_trust(p, ins);
    match ins.survey_type {
        SurveyType::V1Likert => check_v1(p, ins),
        _ => check_v2(p, ins),
    }
}

/// A question key: a lowercase identifier, once in the instrument (`keys` holds those met).
fn check_key<'a>(p: &mut Problems, at: &str, key: &'a str, keys: &mut BTreeSet<&'a str>) {
    let key_ok = !key.is_empty()
        && key.len() <= 40
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !key_ok {
        p.add(format!("{at}.key"), "must be lowercase a-z, 0-9 and _");
    }
    if !keys.insert(key) {
        p.add(
            format!("{at}.key"),
            format!("duplicate question key {:?}", key),
        );
    }
}

/// Polarity and options belong to drivers questions, one list per polarity (`lists` holds the
/// polarities met).
fn check_polarity_and_options(
    p: &mut Problems,
    at: &str,
    q: &super::Question,
    lists: &mut BTreeSet<u8>,
) {
    match q.kind {
        QuestionType::Drivers => {
            match q.polarity {
                None => p.add(
                    format!("{at}.polarity"),
                    "a drivers question needs a polarity",
                ),
                Some(pol) if !lists.insert(pol as u8) => p.add(
                    format!("{at}.polarity"),
                    "only one drivers list per polarity",
                ),
                _ => {}
            }
            check_driver_options(p, at, q);
        }
        _ => {
            if q.polarity.is_some() {
                p.add(
                    format!("{at}.polarity"),
                    "only drivers questions have a polarity",
                );
            }
            if q.options.is_some() {
                p.add(
                    format!("{at}.options"),
                    "only drivers questions have options",
                );
            }
        }
    }
}

fn check_choices(
    p: &mut Problems,
    at: &str,
    kind: QuestionType,
    choices: Option<&std::collections::BTreeMap<String, Vec<String>>>,
) {
    let want = match kind {
        QuestionType::Thumbs => 2,
        QuestionType::Likert5 => 5,
        _ => {
            if choices.is_some() {
                p.add(
                    format!("{at}.choices"),
                    "only thumbs and likert5 questions have choices",
                );
            }
            return;
        }
    };
    let Some(choices) = choices else {
        p.add(
            format!("{at}.choices"),
            format!("needs {want} labels per locale"),
        );
        return;
    };
    let locales = p.locales.to_vec();
    for l in &locales {
        match choices.get(l) {
            None => p.add(
                format!("{at}.choices"),
                format!("missing the {l:?} translation"),
            ),
            Some(v) if v.len() != want || v.iter().any(|s| s.trim().is_empty()) => p.add(
                format!("{at}.choices.{l}"),
                format!("needs exactly {want} non-empty labels"),
            ),
            _ => {}
        }
    }
    for k in choices.keys() {
        if !locales.contains(k) {
            p.add(
                format!("{at}.choices.{k}"),
                format!("locale {k:?} is not declared in $.locales"),
            );
        }
    }
}

fn check_driver_options(p: &mut Problems, at: &str, q: &super::Question) {
    let Some(options) = &q.options else {
        p.add(format!("{at}.options"), "a drivers question needs options");
        return;
    };
    let mut seen = BTreeSet::new();
    for (j, o) in options.iter().enumerate() {
        if !DRIVERS.contains(&o.key.as_str()) {
            p.add(
                format!("{at}.options[{j}].key"),
                format!(
                    "{:?} is not a CX driver (allowed: {})",
                    o.key,
                    DRIVERS.join(", ")
                ),
            );
        }
        if !seen.insert(o.key.as_str()) {
            p.add(
                format!("{at}.options[{j}].key"),
                format!("duplicate driver {:?}", o.key),
            );
        }
        p.localized(&format!("{at}.options[{j}].label"), &o.label);
    }
    for must in ["effectiveness", "ease"] {
        if !seen.contains(must) {
            p.add(
                format!("{at}.options"),
                format!("must offer the {must:?} driver"),
            );
        }
    }
}

fn check_trust(p: &mut Problems, ins: &Instrument) {
    let Some((i, q)) = ins
        .questions
        .iter()
        .enumerate()
        .find(|(_, q)| q.key == "trust")
    else {
        p.add("$.questions", "needs a question with key \"trust\"");
        return;
    };
    let want = match ins.survey_type {
        SurveyType::ThumbsUpDown => QuestionType::Thumbs,
        _ => QuestionType::Likert5,
    };
    if q.kind != want {
        p.add(
            format!("$.questions[{i}].type"),
            format!(
                "the trust question of a {:?} instrument must be {want:?}",
                ins.survey_type
            ),
        );
    }
    if !q.required {
        p.add(
            format!("$.questions[{i}].required"),
            "the trust question must be required",
        );
    }
}

fn check_v2(p: &mut Problems, ins: &Instrument) {
    for (i, q) in ins.questions.iter().enumerate() {
        let at = format!("$.questions[{i}]");
        if q.standard_number.is_some() {
            p.add(
                format!("{at}.standard_number"),
                "only v1 instruments number their questions",
            );
        }
        let expected_key = match (q.kind, q.polarity) {
            (QuestionType::Drivers, Some(Polarity::Positive)) => Some("went_well"),
            (QuestionType::Drivers, Some(Polarity::Negative)) => Some("went_poorly"),
            (QuestionType::Text, _) => Some("comments"),
            _ => None,
        };
        if let Some(k) = expected_key {
            if q.key != k {
                p.add(
                    format!("{at}.key"),
                    format!("must be {k:?} in an A-11 v2 instrument"),
                );
            }
        } else if q.key != "trust" {
            p.add(
                format!("{at}.key"),
                "A-11 v2 instruments ask only trust, went_well, went_poorly, comments",
            );
        }
    }
    if ins.question("went_well").is_none() || ins.question("went_poorly").is_none() {
        p.add(
            "$.questions",
            "A-11 v2 instruments need both went_well and went_poorly lists",
        );
    }
}

fn check_v1(p: &mut Problems, ins: &Instrument) {
    let mut numbers = BTreeSet::new();
    for (i, q) in ins.questions.iter().enumerate() {
        let at = format!("$.questions[{i}]");
        match q.kind {
            QuestionType::Likert5 => {
                if !V1_KEYS.contains(&q.key.as_str()) {
                    p.add(
                        format!("{at}.key"),
                        format!("v1 questions are {}", V1_KEYS.join(", ")),
                    );
                }
                match q.standard_number {
                    Some(n @ 1..=7) if numbers.insert(n) => {}
                    _ => p.add(
                        format!("{at}.standard_number"),
                        "needs a unique number 1 to 7",
                    ),
                }
            }
            QuestionType::Text if q.key == "comments" => {}
            QuestionType::Text => p.add(
                format!("{at}.key"),
                "the free-text question must be \"comments\"",
            ),
            _ => p.add(
                format!("{at}.type"),
                "v1 instruments ask likert5 questions and comments only",
            ),
        }
    }
}
