//! Strict validation of a response against the instrument it answers. Raw JSON is parsed once
//! here; everything downstream works with `ValidAnswers`.

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::survey::{
    driver_bit, revealed_list, Instrument, Polarity, QuestionType, COMMENT_MAX_CHARS,
};

/// Answers that passed every rule, in the shape they are stored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValidAnswers {
    pub trust: Option<i16>,
    pub drivers_positive: i32,
    pub drivers_negative: i32,
    pub comment: Option<String>,
    /// v1 scores: satisfaction, effectiveness, ease, efficiency, transparency, employee.
    pub v1: [Option<i16>; 6],
    /// The answers as JSON, keys sorted: the record of what was said.
    pub canonical: String,
}

pub const V1_COLUMNS: [&str; 6] = [
    "satisfaction",
    "effectiveness",
    "ease",
    "efficiency",
    "transparency",
    "employee",
];

fn int_in(v: &Value, lo: i64, hi: i64) -> Option<i16> {
    v.as_i64()
        .filter(|n| (lo..=hi).contains(n))
        .map(|n| n as i16)
}

/// Checks `answers` against `ins`; `prefix` names the object in error paths (`answers`).
pub fn validate(
    answers: &Map<String, Value>,
    ins: &Instrument,
    prefix: &str,
) -> Result<ValidAnswers, Vec<FieldError>> {
    let mut errs = vec![];
    let mut out = ValidAnswers::default();
    let mut kept = Map::new();
    let at = |k: &str| format!("{prefix}.{k}");

    for key in answers.keys() {
        if ins.question(key).is_none() {
            errs.push(FieldError::new(
                at(key),
                "this instrument has no such question",
            ));
        }
    }
    let trust_q = ins.trust();
    let trust = match answers.get("trust") {
        None | Some(Value::Null) => {
            errs.push(FieldError::new(at("trust"), "is required"));
            None
        }
        Some(v) => {
            let parsed = match trust_q.kind {
                QuestionType::Thumbs => int_in(v, 0, 1),
                _ => int_in(v, 1, 5),
            };
            if parsed.is_none() {
                let want = if trust_q.kind == QuestionType::Thumbs {
                    "0 (thumbs down) or 1 (thumbs up)"
                } else {
                    "a whole number 1 to 5"
                };
                errs.push(FieldError::new(at("trust"), format!("must be {want}")));
            }
            parsed
        }
    };
    out.trust = trust;
    if let Some(t) = trust {
        kept.insert("trust".into(), Value::from(t));
    }

    for q in &ins.questions {
        if q.key == "trust" {
            continue;
        }
        let Some(v) = answers.get(&q.key) else {
            if q.required {
                errs.push(FieldError::new(at(&q.key), "is required"));
            }
            continue;
        };
        if v.is_null() {
            continue;
        }
        match q.kind {
            QuestionType::Drivers => {
                let polarity = q.polarity.unwrap_or(Polarity::Positive);
                let Some(items) = v.as_array() else {
                    errs.push(FieldError::new(at(&q.key), "must be a list of driver keys"));
                    continue;
                };
                if items.is_empty() {
                    continue;
                }
                if let Some(t) = trust {
                    if revealed_list(trust_q.kind, t) != polarity {
                        errs.push(FieldError::new(
                            at(&q.key),
                            "this list is not shown for the given trust answer",
                        ));
                        continue;
                    }
                }
                let offered: Vec<&str> =
                    q.options.iter().flatten().map(|o| o.key.as_str()).collect();
                let mut mask = 0;
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(k) if offered.contains(&k) => {
                            let bit = driver_bit(k).unwrap_or(0);
                            if mask & bit != 0 {
                                errs.push(FieldError::new(
                                    format!("{}[{i}]", at(&q.key)),
                                    format!("{k:?} is listed twice"),
                                ));
                            }
                            mask |= bit;
                        }
                        _ => errs.push(FieldError::new(
                            format!("{}[{i}]", at(&q.key)),
                            format!("must be one of: {}", offered.join(", ")),
                        )),
                    }
                }
                match polarity {
                    Polarity::Positive => out.drivers_positive = mask,
                    Polarity::Negative => out.drivers_negative = mask,
                }
                kept.insert(q.key.clone(), v.clone());
            }
            QuestionType::Text => {
                let Some(s) = v.as_str() else {
                    errs.push(FieldError::new(at(&q.key), "must be text"));
                    continue;
                };
                let max = q.max_length.unwrap_or(COMMENT_MAX_CHARS);
                if s.chars().count() > max {
                    errs.push(FieldError::new(
                        at(&q.key),
                        format!("must be at most {max} characters"),
                    ));
                    continue;
                }
                if s.contains('\0') {
                    errs.push(FieldError::new(
                        at(&q.key),
                        "must not contain NUL characters",
                    ));
                    continue;
                }
                let trimmed = s.trim();
                if !trimmed.is_empty() {
                    if q.key == "comments" {
                        out.comment = Some(trimmed.to_string());
                    }
                    kept.insert(q.key.clone(), Value::from(trimmed));
                }
            }
            QuestionType::Likert5 | QuestionType::Thumbs => {
                let (lo, hi) = if q.kind == QuestionType::Thumbs {
                    (0, 1)
                } else {
                    (1, 5)
                };
                match int_in(v, lo, hi) {
                    None => errs.push(FieldError::new(
                        at(&q.key),
                        format!("must be a whole number {lo} to {hi}"),
                    )),
                    Some(n) => {
                        if let Some(i) = V1_COLUMNS.iter().position(|c| *c == q.key) {
                            out.v1[i] = Some(n);
                        }
                        kept.insert(q.key.clone(), Value::from(n));
                    }
                }
            }
        }
    }
    if errs.is_empty() {
        out.canonical = Value::Object(kept).to_string();
        Ok(out)
    } else {
        Err(errs)
    }
}
