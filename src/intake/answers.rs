//! Strict validation of a response against the instrument it answers. Raw JSON is parsed once
//! here; everything downstream works with `ValidAnswers`.

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::survey::{
    driver_bit, revealed_list, Instrument, Polarity, Question, QuestionType, COMMENT_MAX_CHARS,
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
    let trust = trust_answer(answers.get("trust"), trust_q.kind, &at("trust"), &mut errs);
    out.trust = trust;
    if let Some(t) = trust {
        kept.insert("trust".into(), Value::from(t));
    }

    let revealed = trust.map(|t| revealed_list(trust_q.kind, t));
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
                let Some((polarity, mask)) = drivers_answer(q, v, revealed, &at(&q.key), &mut errs)
                else {
                    continue;
                };
                match polarity {
                    Polarity::Positive => out.drivers_positive = mask,
                    Polarity::Negative => out.drivers_negative = mask,
                }
                kept.insert(q.key.clone(), v.clone());
            }
            QuestionType::Text => {
                let Some(trimmed) = text_answer(q, v, &at(&q.key), &mut errs) else {
                    continue;
                };
                if q.key == "comments" {
                    out.comment = Some(trimmed.to_string());
                }
                kept.insert(q.key.clone(), Value::from(trimmed));
            }
            QuestionType::Likert5 | QuestionType::Thumbs => {
                let Some(n) = scale_answer(q, v, &at(&q.key), &mut errs) else {
                    continue;
                };
                if let Some(i) = V1_COLUMNS.iter().position(|c| *c == q.key) {
                    out.v1[i] = Some(n);
                }
                kept.insert(q.key.clone(), Value::from(n));
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

/// The trust answer, required, on the trust question's scale (`kind`); `at` is its error path.
fn trust_answer(
    v: Option<&Value>,
    kind: QuestionType,
    at: &str,
    errs: &mut Vec<FieldError>,
) -> Option<i16> {
    match v {
        None | Some(Value::Null) => {
            errs.push(FieldError::new(at, "is required"));
            None
        }
        Some(v) => {
            let parsed = match kind {
                QuestionType::Thumbs => int_in(v, 0, 1),
                _ => int_in(v, 1, 5),
            };
            if parsed.is_none() {
                let want = if kind == QuestionType::Thumbs {
                    "0 (thumbs down) or 1 (thumbs up)"
                } else {
                    "a whole number 1 to 5"
                };
                errs.push(FieldError::new(at, format!("must be {want}")));
            }
            parsed
        }
    }
}

/// The driver keys of list `q` as a bit mask, with the list's polarity; `None` when nothing is
/// to be kept (an empty list, or one the trust answer does not reveal: `revealed`).
fn drivers_answer(
    q: &Question,
    v: &Value,
    revealed: Option<Polarity>,
    at: &str,
    errs: &mut Vec<FieldError>,
) -> Option<(Polarity, i32)> {
    let polarity = q.polarity.unwrap_or(Polarity::Positive);
    let Some(items) = v.as_array() else {
        errs.push(FieldError::new(at, "must be a list of driver keys"));
        return None;
    };
    if items.is_empty() {
        return None;
    }
    if revealed.is_some_and(|r| r != polarity) {
        errs.push(FieldError::new(
            at,
            "this list is not shown for the given trust answer",
        ));
        return None;
    }
    let offered: Vec<&str> = q.options.iter().flatten().map(|o| o.key.as_str()).collect();
    let mut mask = 0;
    for (i, item) in items.iter().enumerate() {
        match item.as_str() {
            Some(k) if offered.contains(&k) => {
                let bit = driver_bit(k).unwrap_or(0);
                if mask & bit != 0 {
                    errs.push(FieldError::new(
                        format!("{at}[{i}]"),
                        format!("{k:?} is listed twice"),
                    ));
                }
                mask |= bit;
            }
            _ => errs.push(FieldError::new(
                format!("{at}[{i}]"),
                format!("must be one of: {}", offered.join(", ")),
            )),
        }
    }
    Some((polarity, mask))
}

/// The text of `q`, trimmed; `None` when it is refused or blank.
fn text_answer<'v>(
    q: &Question,
    v: &'v Value,
    at: &str,
    errs: &mut Vec<FieldError>,
) -> Option<&'v str> {
    let Some(s) = v.as_str() else {
        errs.push(FieldError::new(at, "must be text"));
        return None;
    };
    let max = q.max_length.unwrap_or(COMMENT_MAX_CHARS);
    if s.chars().count() > max {
        errs.push(FieldError::new(
            at,
            format!("must be at most {max} characters"),
        ));
        return None;
    }
    if s.contains('\0') {
        errs.push(FieldError::new(at, "must not contain NUL characters"));
        return None;
    }
    Some(s.trim()).filter(|t| !t.is_empty())
}

/// The point chosen on scale question `q` (thumbs 0..=1, likert 1..=5).
fn scale_answer(q: &Question, v: &Value, at: &str, errs: &mut Vec<FieldError>) -> Option<i16> {
    let (lo, hi) = if q.kind == QuestionType::Thumbs {
        (0, 1)
    } else {
        (1, 5)
    };
    let n = int_in(v, lo, hi);
    if n.is_none() {
        errs.push(FieldError::new(
            at,
            format!("must be a whole number {lo} to {hi}"),
        ));
    }
    n
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn instrument(file: &str) -> Instrument {
        let path = format!("{}/survey-defs/{file}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn check(file: &str, answers: Value) -> Result<ValidAnswers, Vec<(String, String)>> {
        let Value::Object(answers) = answers else {
            panic!("answers must be an object")
        };
        validate(&answers, &instrument(file), "answers")
            .map_err(|errs| errs.into_iter().map(|e| (e.field, e.detail)).collect())
    }

    fn err(field: &str, detail: &str) -> (String, String) {
        (field.to_string(), detail.to_string())
    }

    #[test]
    fn thumbs_answers_are_stored_as_masks_and_canonical_json() {
        let v = check(
            "a11-v2-thumbs",
            json!({"trust": 1, "went_well": ["ease", "employee"], "went_poorly": [],
                   "comments": "  fine  "}),
        )
        .unwrap();
        assert_eq!(v.trust, Some(1));
        assert_eq!(
            v.drivers_positive,
            driver_bit("ease").unwrap() | driver_bit("employee").unwrap()
        );
        assert_eq!(v.drivers_negative, 0);
        assert_eq!(v.comment.as_deref(), Some("fine"));
        assert_eq!(
            v.canonical,
            r#"{"comments":"fine","trust":1,"went_well":["ease","employee"]}"#
        );
    }

    #[test]
    fn null_and_blank_answers_are_not_kept() {
        let v = check(
            "a11-v2-thumbs",
            json!({"trust": 0, "went_well": null, "comments": "   "}),
        )
        .unwrap();
        assert_eq!(v.comment, None);
        assert_eq!(v.canonical, r#"{"trust":0}"#);
    }

    #[test]
    fn trust_is_required_and_on_its_scale() {
        assert_eq!(
            check("a11-v2-thumbs", json!({})),
            Err(vec![err("answers.trust", "is required")])
        );
        assert_eq!(
            check("a11-v2-thumbs", json!({"trust": null})),
            Err(vec![err("answers.trust", "is required")])
        );
        assert_eq!(
            check("a11-v2-thumbs", json!({"trust": 2})),
            Err(vec![err(
                "answers.trust",
                "must be 0 (thumbs down) or 1 (thumbs up)"
            )])
        );
        assert_eq!(
            check("a11-v1", json!({"trust": "5"})),
            Err(vec![err("answers.trust", "must be a whole number 1 to 5")])
        );
    }

    #[test]
    fn unknown_questions_are_refused() {
        assert_eq!(
            check("a11-v2-thumbs", json!({"trust": 1, "mood": 3})),
            Err(vec![err(
                "answers.mood",
                "this instrument has no such question"
            )])
        );
    }

    #[test]
    fn driver_lists_must_hold_offered_keys_once() {
        assert_eq!(
            check("a11-v2-thumbs", json!({"trust": 1, "went_well": "ease"})),
            Err(vec![err(
                "answers.went_well",
                "must be a list of driver keys"
            )])
        );
        let Err(errs) = check(
            "a11-v2-thumbs",
            json!({"trust": 1, "went_well": ["ease", "speed", "ease", 4]}),
        ) else {
            panic!("accepted")
        };
        let offered = "must be one of: effectiveness, ease, efficiency, transparency, humanity, employee, other";
        assert_eq!(
            errs,
            vec![
                err("answers.went_well[1]", offered),
                err("answers.went_well[2]", "\"ease\" is listed twice"),
                err("answers.went_well[3]", offered),
            ]
        );
    }

    #[test]
    fn a_driver_list_the_trust_answer_hides_is_refused() {
        assert_eq!(
            check(
                "a11-v2-thumbs",
                json!({"trust": 1, "went_poorly": ["ease"]})
            ),
            Err(vec![err(
                "answers.went_poorly",
                "this list is not shown for the given trust answer"
            )])
        );
        // Without a valid trust answer the list is checked on its own.
        assert_eq!(
            check("a11-v2-thumbs", json!({"went_poorly": ["ease"]})),
            Err(vec![err("answers.trust", "is required")])
        );
    }

    #[test]
    fn text_must_be_short_text_without_nul() {
        assert_eq!(
            check("a11-v2-thumbs", json!({"trust": 1, "comments": 5})),
            Err(vec![err("answers.comments", "must be text")])
        );
        assert_eq!(
            check(
                "a11-v2-thumbs",
                json!({"trust": 1, "comments": "x".repeat(5001)})
            ),
            Err(vec![err(
                "answers.comments",
                "must be at most 5000 characters"
            )])
        );
        assert!(check(
            "a11-v2-thumbs",
            json!({"trust": 1, "comments": "é".repeat(5000)})
        )
        .is_ok());
        assert_eq!(
            check("a11-v2-thumbs", json!({"trust": 1, "comments": "a\u{0}b"})),
            Err(vec![err(
                "answers.comments",
                "must not contain NUL characters"
            )])
        );
    }

    #[test]
    fn v1_scale_answers_fill_their_columns() {
        let v = check(
            "a11-v1",
            json!({"trust": 4, "satisfaction": 5, "employee": 1}),
        )
        .unwrap();
        assert_eq!(v.trust, Some(4));
        assert_eq!(v.v1, [Some(5), None, None, None, None, Some(1)]);
        assert_eq!(
            check("a11-v1", json!({"trust": 4, "ease": 0, "efficiency": 2.5})),
            Err(vec![
                err("answers.ease", "must be a whole number 1 to 5"),
                err("answers.efficiency", "must be a whole number 1 to 5"),
            ])
        );
    }
}
