//! Survey instruments: PRA-cleared definitions loaded from `survey-defs/`, validated strictly
//! before anything uses them.

pub mod pra;
pub(crate) mod rules;
pub use rules::is_slug;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use pra::OmbControlNumber;

/// Text in every locale the instrument declares.
pub type Localized = BTreeMap<String, String>;

/// The CX drivers, in the OMB upload column order; the bit is their place in stored masks.
pub const DRIVERS: [&str; 7] = [
    "effectiveness",
    "ease",
    "efficiency",
    "transparency",
    "humanity",
    "employee",
    "other",
];

pub fn driver_bit(key: &str) -> Option<i32> {
    DRIVERS.iter().position(|d| *d == key).map(|i| 1 << i)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SurveyType {
    ThumbsUpDown,
    LikertScale,
    V1Likert,
}

impl SurveyType {
    /// The `survey_type` OMB's collection detail expects.
    pub fn omb_name(self) -> &'static str {
        match self {
            SurveyType::ThumbsUpDown => "thumbs_up_down",
            SurveyType::LikertScale | SurveyType::V1Likert => "likert_scale",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuestionType {
    Thumbs,
    Likert5,
    Drivers,
    Text,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Polarity {
    Positive,
    Negative,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instrument {
    pub kind: String,
    pub id: String,
    pub version: i32,
    pub survey_type: SurveyType,
    pub locales: Vec<String>,
    pub title: Localized,
    pub pra: Pra,
    pub questions: Vec<Question>,
    /// sha256 of the canonical JSON: a change of content under the same version is refused.
    #[serde(skip)]
    pub content_hash: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pra {
    pub omb_control_number: pra::OmbControlNumber,
    pub expiration_date: NaiveDate,
    pub burden_minutes: u32,
    pub federal_register_url: String,
    pub burden_statement: Localized,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: QuestionType,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub required: bool,
    pub text: Localized,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Localized>,
    /// Labels for the scale points: 2 for thumbs (0, 1), 5 for likert5 (1..5), per locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polarity: Option<Polarity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<DriverOption>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// v1 only: the standardized question number (1..7) of the OMB v1 report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard_number: Option<u8>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriverOption {
    pub key: String,
    pub label: Localized,
}

pub const COMMENT_MAX_CHARS: usize = 5000;

impl Instrument {
    pub fn question(&self, key: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.key == key)
    }

    pub fn trust(&self) -> &Question {
        self.question("trust")
            .expect("validated instruments have a trust question")
    }

    /// Bit mask of the drivers offered on the list of the given polarity.
    pub fn offered_drivers(&self, polarity: Polarity) -> i32 {
        self.questions
            .iter()
            .filter(|q| q.kind == QuestionType::Drivers && q.polarity == Some(polarity))
            .flat_map(|q| q.options.iter().flatten())
            .filter_map(|o| driver_bit(&o.key))
            .fold(0, |m, b| m | b)
    }

    /// The locale to answer in: the requested one if offered, else the instrument's first.
    pub fn pick_locale<'a>(&'a self, wanted: &[&str]) -> &'a str {
        for w in wanted {
            let base = w.split(['-', '_']).next().unwrap_or(w).to_ascii_lowercase();
            if let Some(l) = self
                .locales
                .iter()
                .find(|l| **l == base || l.as_str() == *w)
            {
                return l;
            }
        }
        &self.locales[0]
    }
}

/// Whether a trust answer is positive, negative or neutral, by the instrument's scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sentiment {
    Positive,
    Neutral,
    Negative,
}

pub fn sentiment(kind: QuestionType, value: i16) -> Sentiment {
    match (kind, value) {
        (QuestionType::Thumbs, 1) => Sentiment::Positive,
        (QuestionType::Thumbs, _) => Sentiment::Negative,
        (_, 4 | 5) => Sentiment::Positive,
        (_, 3) => Sentiment::Neutral,
        _ => Sentiment::Negative,
    }
}

/// Which drivers list a trust answer reveals (A-11: Likert 1–3 show the negative list).
pub fn revealed_list(kind: QuestionType, value: i16) -> Polarity {
    match sentiment(kind, value) {
        Sentiment::Positive => Polarity::Positive,
        _ => Polarity::Negative,
    }
}
