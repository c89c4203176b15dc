//! Server-rendered pages of the hosted survey (`/s/{id}`, and the email link's `/r/{token}`):
//! U.S. Web Design System markup, no inline script or style, complete without JavaScript.

use std::collections::HashMap;

use maud::{html, Markup, DOCTYPE};

use crate::assets::assets;
use crate::registry::DeploymentView;
use crate::survey::{Instrument, Localized, Polarity, Question, QuestionType};

/// The words of the page around the instrument's own text.
pub struct Words {
    pub official: &'static str,
    pub skip: &'static str,
    pub required: &'static str,
    pub required_note: &'static str,
    pub submit: &'static str,
    pub problem: &'static str,
    pub err_required: &'static str,
    pub err_invalid: &'static str,
    pub err_too_long: &'static str,
    pub if_answered: &'static str,
    pub max_chars: &'static str,
    pub thanks_title: &'static str,
    pub thanks_body: &'static str,
    pub gone_title: &'static str,
    pub gone_closed: &'static str,
    pub gone_expired: &'static str,
    pub not_found_title: &'static str,
    pub not_found_body: &'static str,
    pub slow_down: &'static str,
    pub omb: &'static str,
    pub expires: &'static str,
    pub pra_link: &'static str,
    pub new_tab: &'static str,
    /// The language's own name, for the link to it.
    pub language_name: &'static str,
}

pub const EN: Words = Words {
    official: "An official website of the United States government",
    skip: "Skip to main content",
    required: "Required",
    required_note: "Questions marked “Required” must be answered.",
    submit: "Submit",
    problem: "There is a problem with your response",
    err_required: "Please answer this question.",
    err_invalid: "Please choose one of the answers offered.",
    err_too_long: "Please use {n} characters or fewer.",
    if_answered: "Answer this if you chose “{answers}” above.",
    max_chars: "You can enter up to {n} characters.",
    thanks_title: "Thank you for your feedback",
    thanks_body: "Your response has been recorded. You can close this page.",
    gone_title: "This survey is no longer collecting responses",
    gone_closed: "This survey has been closed.",
    gone_expired: "Its approval under the Paperwork Reduction Act (OMB control number {omb}) ended on {date}.",
    not_found_title: "Survey not found",
    not_found_body: "Please check the link you followed. The address may be incomplete.",
    slow_down: "Too many responses came from your network in the last minute. Please wait a moment, then submit again.",
    omb: "OMB Control No.",
    expires: "Expires",
    pra_link: "Paperwork Reduction Act statement",
    new_tab: "(opens in a new tab)",
    language_name: "English",
};

pub const ES: Words = Words {
    official: "Un sitio oficial del Gobierno de Estados Unidos",
    skip: "Ir al contenido principal",
    required: "Obligatoria",
    required_note: "Debe responder las preguntas marcadas como “Obligatoria”.",
    submit: "Enviar",
    problem: "Hay un problema con su respuesta",
    err_required: "Responda esta pregunta.",
    err_invalid: "Elija una de las respuestas ofrecidas.",
    err_too_long: "Use {n} caracteres o menos.",
    if_answered: "Responda si eligió «{answers}» arriba.",
    max_chars: "Puede escribir hasta {n} caracteres.",
    thanks_title: "Gracias por sus comentarios",
    thanks_body: "Su respuesta quedó registrada. Puede cerrar esta página.",
    gone_title: "Esta encuesta ya no acepta respuestas",
    gone_closed: "Esta encuesta se cerró.",
    gone_expired: "Su aprobación conforme a la Ley de Reducción de Trámites (número de control de la OMB {omb}) venció el {date}.",
    not_found_title: "No se encontró la encuesta",
    not_found_body: "Revise el enlace que siguió. Es posible que la dirección esté incompleta.",
    slow_down: "Se enviaron demasiadas respuestas desde su red en el último minuto. Espere un momento y vuelva a enviar.",
    omb: "N.º de control de la OMB",
    expires: "Vence el",
    pra_link: "Declaración de la Ley de Reducción de Trámites",
    new_tab: "(se abre en una pestaña nueva)",
    language_name: "Español",
};

/// The page locale for a locale code: Spanish or, for anything else, English.
pub fn page_locale(locale: &str) -> &'static str {
    if locale == "es" {
        "es"
    } else {
        "en"
    }
}

pub fn words(locale: &str) -> &'static Words {
    if locale == "es" {
        &ES
    } else {
        &EN
    }
}

fn date(locale: &str, d: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    if locale == "es" {
        const M: [&str; 12] = [
            "enero",
            "febrero",
            "marzo",
            "abril",
            "mayo",
            "junio",
            "julio",
            "agosto",
            "septiembre",
            "octubre",
            "noviembre",
            "diciembre",
        ];
        format!("{} de {} de {}", d.day(), M[d.month0() as usize], d.year())
    } else {
        d.format("%m/%d/%Y").to_string()
    }
}

/// The page frame: banner, agency header, main content, the stylesheet and the small script.
pub fn shell(locale: &str, title: &str, agency: Option<&str>, main: Markup) -> String {
    let w = words(locale);
    let a = assets();
    html! {
        (DOCTYPE)
        html lang=(locale) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // No favicon request (and no 404 in the console).
                link rel="icon" href="data:,";
                title { (title) }
                link rel="stylesheet" href=(a.url("uswds/css/uswds.min.css"));
                link rel="stylesheet" href=(a.url("hosted.css"));
                script src=(a.url("hosted.js")) defer {}
            }
            body {
                a.usa-skipnav href="#main-content" { (w.skip) }
                section.usa-banner aria-label=(w.official) {
                    div.usa-banner__header {
                        div.usa-banner__inner {
                            div.grid-col-auto {
                                img.usa-banner__header-flag src=(a.url("uswds/img/us_flag_small.png")) alt="";
                            }
                            div."grid-col-fill" {
                                p.usa-banner__header-text { (w.official) }
                            }
                        }
                    }
                }
                @if let Some(agency) = agency {
                    header.usa-header.usa-header--basic {
                        div.usa-nav-container {
                            div.usa-navbar {
                                div.usa-logo { em.usa-logo__text { (agency) } }
                            }
                        }
                    }
                }
                main #main-content.usa-section tabindex="-1" {
                    div.grid-container { (main) }
                }
            }
        }
    }
    .into_string()
}

/// The PRA facts every collection must show.
pub fn pra_footer(ins: &Instrument, locale: &str) -> Markup {
    let w = words(locale);
    let p = &ins.pra;
    html! {
        footer.cx-pra {
            p.cx-pra__omb {
                (w.omb) " " (p.omb_control_number) " · " (w.expires) " " (date(locale, p.expiration_date))
            }
            p { (tr(&p.burden_statement, locale)) }
            p {
                a.usa-link.usa-link--external href=(p.federal_register_url) target="_blank" rel="noopener noreferrer" {
                    (w.pra_link) span.usa-sr-only { " " (w.new_tab) }
                }
            }
        }
    }
}

fn tr(m: &Localized, locale: &str) -> String {
    m.get(locale).cloned().unwrap_or_default()
}

/// What the form shows: the answers given so far and the errors per question key.
#[derive(Default)]
pub struct FormState {
    pub values: HashMap<String, Vec<String>>,
    pub errors: Vec<(String, String)>,
}

impl FormState {
    fn has(&self, key: &str, v: &str) -> bool {
        self.values
            .get(key)
            .is_some_and(|vs| vs.iter().any(|x| x == v))
    }
    fn error(&self, key: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, e)| e.as_str())
    }
}

pub struct SurveyForm<'a> {
    pub view: &'a DeploymentView,
    pub ins: &'a Instrument,
    pub locale: &'a str,
    /// Where the form posts: `/s/{id}` or `/r/{token}`.
    pub action: String,
    /// The link to the same page in the other language, if the instrument has one.
    pub other_locale: Option<(String, String)>,
    pub submission_id: String,
    pub honeypot: &'static str,
    pub state: FormState,
}

type Fill<'a> = &'a dyn Fn(&Localized) -> String;

pub fn survey_page(f: &SurveyForm) -> String {
    let (ins, locale, w) = (f.ins, f.locale, words(f.locale));
    let fill = |m: &Localized| f.view.fill(&tr(m, locale));
    let title = fill(&ins.title);
    let main = html! {
        @if let Some((href, lang)) = &f.other_locale {
            p.cx-lang { a.usa-link href=(href) lang=(lang) hreflang=(lang) { (words(lang).language_name) } }
        }
        h1 { (title) }
        p.usa-intro { (f.view.service.name) }
        @if !f.state.errors.is_empty() { (error_summary(f, &fill)) }
        p.cx-required-note { (w.required_note) }
        form.usa-form.usa-form--large.cx-form method="post" action=(f.action) novalidate {
            input type="hidden" name="submission_id" value=(f.submission_id);
            input type="hidden" name="locale" value=(locale);
            @for q in &ins.questions {
                @match q.kind {
                    QuestionType::Thumbs | QuestionType::Likert5 => (choice_question(f, q, &fill)),
                    QuestionType::Drivers => (drivers_question(f, q, &fill)),
                    QuestionType::Text => (text_question(f, q, &fill)),
                }
            }
            div.cx-hp aria-hidden="true" {
                label for="cx-hp" { (f.honeypot.replace('_', " ")) }
                input #cx-hp type="text" name=(f.honeypot) tabindex="-1" autocomplete="off";
            }
            button.usa-button.usa-button--big type="submit" { (w.submit) }
        }
        (pra_footer(ins, locale))
    };
    shell(locale, &title, Some(&f.view.agency.name), main)
}

/// The value of a scale's first choice: thumbs count from 0, Likert from 1.
fn first_value(kind: QuestionType) -> usize {
    if kind == QuestionType::Thumbs {
        0
    } else {
        1
    }
}

/// The list of problems above a form posted with errors, each linking to its question.
fn error_summary(f: &SurveyForm, fill: Fill) -> Markup {
    let w = words(f.locale);
    html! {
        div.usa-alert.usa-alert--error role="alert" {
            div.usa-alert__body {
                h2.usa-alert__heading { (w.problem) }
                ul.usa-list {
                    @for (key, msg) in &f.state.errors {
                        li { a.usa-link href={ "#q-" (key) } { (short_text(f.ins, key, fill)) ": " (msg) } }
                    }
                }
            }
        }
    }
}

/// A thumbs or Likert question: one radio tile per choice.
fn choice_question(f: &SurveyForm, q: &Question, fill: Fill) -> Markup {
    let (locale, w) = (f.locale, words(f.locale));
    let err = f.state.error(&q.key);
    let err_id = format!("{}-error", q.key);
    let hint_id = format!("{}-hint", q.key);
    html! {
        fieldset.usa-fieldset.cx-q #{ "q-" (q.key) } aria-describedby=[err.map(|_| &err_id)] {
            legend.usa-legend.cx-legend { (fill(&q.text)) @if q.required { " " span.cx-req { "(" (w.required) ")" } } }
            @if let Some(h) = &q.hint { span.usa-hint #(hint_id) { (fill(h)) } }
            @if let Some(e) = err { span.usa-error-message #(err_id) { (e) } }
            div.cx-choices.cx-choices--row[q.kind == QuestionType::Thumbs] {
                @for (i, label) in q.choices.as_ref().and_then(|c| c.get(locale)).into_iter().flatten().enumerate() {
                    @let v = (first_value(q.kind) + i).to_string();
                    @let id = format!("{}-{}", q.key, v);
                    div.usa-radio {
                        input.usa-radio__input.usa-radio__input--tile #(id) type="radio" name=(q.key) value=(v)
                            checked[f.state.has(&q.key, &v)] required[q.required] aria-invalid=[err.map(|_| "true")];
                        label.usa-radio__label for=(id) { (label) }
                    }
                }
            }
        }
    }
}

/// A list of drivers: checkbox tiles, shown (with JavaScript) only after the trust answers
/// that reveal it, and saying which those are (without JavaScript).
fn drivers_question(f: &SurveyForm, q: &Question, fill: Fill) -> Markup {
    let w = words(f.locale);
    let trust = f.ins.trust();
    let trust_labels = trust
        .choices
        .as_ref()
        .and_then(|c| c.get(f.locale))
        .cloned()
        .unwrap_or_default();
    let err = f.state.error(&q.key);
    let err_id = format!("{}-error", q.key);
    let hint_id = format!("{}-hint", q.key);
    let shows: Vec<usize> = match (trust.kind, q.polarity) {
        (QuestionType::Thumbs, Some(Polarity::Positive)) => vec![1],
        (QuestionType::Thumbs, _) => vec![0],
        (_, Some(Polarity::Positive)) => vec![4, 5],
        _ => vec![1, 2, 3],
    };
    let values = shows
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let labels = shows
        .iter()
        .filter_map(|v| trust_labels.get(v - first_value(trust.kind)))
        .cloned()
        .collect::<Vec<_>>()
        .join("”, “");
    html! {
        fieldset.usa-fieldset.cx-q.cx-reveal #{ "q-" (q.key) } data-show-if-values=(values)
            aria-describedby={ (hint_id) "-if" @if err.is_some() { " " (err_id) } } {
            legend.usa-legend.cx-legend { (fill(&q.text)) }
            span.usa-hint.cx-if #{ (hint_id) "-if" } { (w.if_answered.replace("{answers}", &labels)) }
            @if let Some(h) = &q.hint { span.usa-hint { (fill(h)) } }
            @if let Some(e) = err { span.usa-error-message #(err_id) { (e) } }
            div.cx-choices {
                @for o in q.options.iter().flatten() {
                    @let id = format!("{}-{}", q.key, o.key);
                    div.usa-checkbox {
                        input.usa-checkbox__input.usa-checkbox__input--tile #(id) type="checkbox" name=(q.key) value=(o.key)
                            checked[f.state.has(&q.key, &o.key)];
                        label.usa-checkbox__label for=(id) { (fill(&o.label)) }
                    }
                }
            }
        }
    }
}

/// A free-text question: a text area with its length limit.
fn text_question(f: &SurveyForm, q: &Question, fill: Fill) -> Markup {
    let w = words(f.locale);
    let err = f.state.error(&q.key);
    let err_id = format!("{}-error", q.key);
    let hint_id = format!("{}-hint", q.key);
    let max = q.max_length.unwrap_or(crate::survey::COMMENT_MAX_CHARS);
    html! {
        div.usa-form-group.cx-q.usa-form-group--error[err.is_some()] #{ "q-" (q.key) } {
            label.usa-label for=(q.key) { (fill(&q.text)) @if q.required { " " span.cx-req { "(" (w.required) ")" } } }
            span.usa-hint #(hint_id) {
                @if let Some(h) = &q.hint { (fill(h)) " " }
                (w.max_chars.replace("{n}", &max.to_string()))
            }
            @if let Some(e) = err { span.usa-error-message #(err_id) { (e) } }
            textarea.usa-textarea #(q.key) name=(q.key) rows="5" maxlength=(max)
                aria-describedby={ (hint_id) @if err.is_some() { " " (err_id) } }
                aria-invalid=[err.map(|_| "true")] {
                (f.state.values.get(&q.key).and_then(|v| v.first()).map(String::as_str).unwrap_or(""))
            }
        }
    }
}

/// The start of a question's text, to name it in the error summary.
fn short_text(ins: &Instrument, key: &str, fill: &dyn Fn(&Localized) -> String) -> String {
    let text = ins.question(key).map(|q| fill(&q.text)).unwrap_or_default();
    if text.chars().count() <= 60 {
        return text.trim_end_matches(['.', '?', ':']).to_string();
    }
    let cut: String = text.chars().take(60).collect();
    let cut = cut.rsplit_once(' ').map(|(a, _)| a).unwrap_or(&cut);
    format!("{cut}…")
}

/// A page with a heading, a message and, for PRA-bound pages, the PRA facts.
pub fn message_page(
    locale: &str,
    agency: Option<&str>,
    kind: &str,
    heading: &str,
    body: &[String],
    pra: Option<&Instrument>,
) -> String {
    let main = html! {
        div.usa-alert.{ "usa-alert--" (kind) } {
            div.usa-alert__body {
                h1.usa-alert__heading { (heading) }
                @for p in body { p.usa-alert__text { (p) } }
            }
        }
        @if let Some(ins) = pra { (pra_footer(ins, locale)) }
    };
    shell(locale, heading, agency, main)
}
