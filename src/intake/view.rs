//! What `GET /api/v1/deployments/{id}` answers: a deployment in one locale, placeholders filled
//! in, as typed views that the OpenAPI document describes. Fields are in alphabetical order, the
//! order in which the JSON has always been written.

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::HONEYPOT_FIELD;
use crate::domain::DeploymentStatus;
use crate::registry::DeploymentView;
use crate::survey::{Instrument, Localized, Polarity, Question, QuestionType, SurveyType};

/// A deployment as a renderer shows it.
#[derive(Serialize, ToSchema)]
pub struct PublicDeployment {
    pub agency: Named,
    pub channel: String,
    /// The invisible field a bot fills in: a response carrying it is dropped.
    pub honeypot_field: &'static str,
    pub id: String,
    pub instrument: PublicInstrument,
    /// The locale of every text in this answer.
    pub locale: String,
    /// Every locale the instrument has.
    pub locales: Vec<String>,
    pub pra: PublicPra,
    pub questions: Vec<PublicQuestion>,
    pub service: Named,
    pub status: DeploymentStatus,
    pub transaction_point: String,
}

#[derive(Serialize, ToSchema)]
pub struct Named {
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct PublicInstrument {
    pub id: String,
    pub survey_type: SurveyType,
    pub title: String,
    pub version: i32,
}

/// The Paperwork Reduction Act block a renderer must show.
#[derive(Serialize, ToSchema)]
pub struct PublicPra {
    pub burden_minutes: u32,
    pub burden_statement: String,
    pub expiration_date: NaiveDate,
    pub federal_register_url: String,
    pub omb_control_number: String,
}

#[derive(Serialize, ToSchema)]
pub struct PublicQuestion {
    /// The scale points: 0 and 1 for thumbs, 1 to 5 for likert5.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<Choice>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    pub key: String,
    /// Characters a text answer may have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// The drivers to choose from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<DriverChoice>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub polarity: Option<Polarity>,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_if: Option<ShowIf>,
    pub text: String,
    #[serde(rename = "type")]
    pub kind: QuestionType,
}

#[derive(Serialize, ToSchema)]
pub struct Choice {
    pub label: String,
    pub value: i64,
}

#[derive(Serialize, ToSchema)]
pub struct DriverChoice {
    pub key: String,
    pub label: String,
}

/// Show the question only when the answer to `question` is one of `values`.
#[derive(Serialize, ToSchema)]
pub struct ShowIf {
    pub question: &'static str,
    pub values: Vec<i64>,
}

/// The deployment in one locale, placeholders filled in.
pub fn render(view: &DeploymentView, ins: &Instrument, locale: &str) -> PublicDeployment {
    let tr = |m: &Localized| view.fill(m.get(locale).map_or("", String::as_str));
    let trust_kind = ins.trust().kind;
    PublicDeployment {
        agency: Named {
            name: view.agency.name.clone(),
        },
        channel: view.deployment.channel.clone(),
        honeypot_field: HONEYPOT_FIELD,
        id: view.deployment.id.clone(),
        instrument: PublicInstrument {
            id: ins.id.clone(),
            survey_type: ins.survey_type,
            title: tr(&ins.title),
            version: ins.version,
        },
        locale: locale.to_string(),
        locales: ins.locales.clone(),
        pra: PublicPra {
            burden_minutes: ins.pra.burden_minutes,
            burden_statement: tr(&ins.pra.burden_statement),
            expiration_date: ins.pra.expiration_date,
            federal_register_url: ins.pra.federal_register_url.clone(),
            omb_control_number: ins.pra.omb_control_number.to_string(),
        },
        questions: ins
            .questions
            .iter()
            .map(|q| question(q, trust_kind, locale, &tr))
            .collect(),
        service: Named {
            name: view.service.name.clone(),
        },
        status: view.deployment.status,
        transaction_point: view.deployment.transaction_point.clone(),
    }
}

fn question(
    q: &Question,
    trust_kind: QuestionType,
    locale: &str,
    tr: &dyn Fn(&Localized) -> String,
) -> PublicQuestion {
    let first = if q.kind == QuestionType::Thumbs { 0 } else { 1 };
    PublicQuestion {
        choices: q
            .choices
            .as_ref()
            .and_then(|c| c.get(locale))
            .map(|labels| {
                labels
                    .iter()
                    .enumerate()
                    .map(|(i, l)| Choice {
                        label: l.clone(),
                        value: first + i as i64,
                    })
                    .collect()
            }),
        hint: q.hint.as_ref().map(tr),
        key: q.key.clone(),
        max_length: (q.kind == QuestionType::Text)
            .then(|| q.max_length.unwrap_or(crate::survey::COMMENT_MAX_CHARS)),
        options: q.options.as_ref().map(|opts| {
            opts.iter()
                .map(|op| DriverChoice {
                    key: op.key.clone(),
                    label: tr(&op.label),
                })
                .collect()
        }),
        polarity: q.polarity,
        required: q.required,
        show_if: q.polarity.map(|p| ShowIf {
            question: "trust",
            values: shown_for(trust_kind, p),
        }),
        text: tr(&q.text),
        kind: q.kind,
    }
}

/// Which trust answers reveal a driver list (A-11: Likert 1–3 show "didn't go well").
fn shown_for(trust_kind: QuestionType, p: Polarity) -> Vec<i64> {
    match trust_kind {
        QuestionType::Thumbs => vec![if p == Polarity::Positive { 1 } else { 0 }],
        _ if p == Polarity::Positive => vec![4, 5],
        _ => vec![1, 2, 3],
    }
}
