//! The invitation email: plain text and HTML, English or Spanish, with the link, the PRA
//! statement, an opt-out link and `List-Unsubscribe` headers (RFC 2369, one-click RFC 8058).

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;
use maud::html;

use crate::registry::DeploymentView;
use crate::survey::Instrument;

pub struct Invite<'a> {
    pub view: &'a DeploymentView,
    pub ins: &'a Instrument,
    pub locale: &'a str,
    pub to: &'a str,
    pub from: &'a str,
    /// `{public_url}/r/{token}` and `{public_url}/u/{token}`.
    pub survey_url: String,
    pub opt_out_url: String,
}

struct Words {
    subject: &'static str,
    hello: &'static str,
    ask: &'static str,
    button: &'static str,
    time: &'static str,
    expires: &'static str,
    opt_out: &'static str,
    omb: &'static str,
}

const EN: Words = Words {
    subject: "How was your experience with {service}?",
    hello: "Thank you for contacting {agency}.",
    ask: "Please tell us about your recent experience with {service}. Your answers are anonymous and help us improve.",
    button: "Take the survey",
    time: "It takes about {n} minutes.",
    expires: "This link works for {d} days and can be used once.",
    opt_out: "Do not want survey emails from us? Opt out:",
    omb: "OMB Control No. {omb} · Expires {date}",
};

const ES: Words = Words {
    subject: "¿Cómo fue su experiencia con {service}?",
    hello: "Gracias por comunicarse con {agency}.",
    ask: "Cuéntenos sobre su experiencia reciente con {service}. Sus respuestas son anónimas y nos ayudan a mejorar.",
    button: "Responder la encuesta",
    time: "Le tomará unos {n} minutos.",
    expires: "Este enlace funciona durante {d} días y se puede usar una vez.",
    opt_out: "¿No desea recibir encuestas por correo electrónico? Darse de baja:",
    omb: "N.º de control de la OMB {omb} · Vence el {date}",
};

pub fn build(i: &Invite, ttl_days: i64) -> Result<Message, String> {
    let w = if i.locale == "es" { &ES } else { &EN };
    let fill = |s: &str| {
        i.view
            .fill(s)
            .replace("{n}", &i.ins.pra.burden_minutes.to_string())
            .replace("{d}", &ttl_days.to_string())
            .replace("{omb}", i.ins.pra.omb_control_number.as_str())
            .replace("{date}", &i.ins.pra.expiration_date.to_string())
    };
    let burden = i.view.fill(
        i.ins
            .pra
            .burden_statement
            .get(i.locale)
            .map_or("", String::as_str),
    );
    let text = plain_text(i, w, &fill, &burden);
    let page = html_page(i, w, &fill, &burden);
    let to: Mailbox =
        i.to.parse()
            .map_err(|_| "the address is not valid".to_string())?;
    let from: Mailbox = i
        .from
        .parse()
        .map_err(|e| format!("CX_MAIL_FROM is not an address: {e}"))?;
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(fill(w.subject));
    b = b.raw_header(HeaderValue::new(
        HeaderName::new_from_ascii_str("List-Unsubscribe"),
        format!("<{}>", i.opt_out_url),
    ));
    b = b.raw_header(HeaderValue::new(
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click".into(),
    ));
    b.multipart(
        MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(text),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(page),
            ),
    )
    .map_err(|e| e.to_string())
}

/// The plain-text part: the page's words, with the links written out.
fn plain_text(i: &Invite, w: &Words, fill: &dyn Fn(&str) -> String, burden: &str) -> String {
    format!(
        "{}\n\n{}\n\n{}: {}\n\n{} {}\n\n--\n{}\n{}\n{}\n\n{} {}\n",
        fill(w.hello),
        fill(w.ask),
        w.button,
        i.survey_url,
        fill(w.time),
        fill(w.expires),
        fill(w.omb),
        burden,
        i.ins.pra.federal_register_url,
        w.opt_out,
        i.opt_out_url,
    )
}

/// The HTML part.
fn html_page(i: &Invite, w: &Words, fill: &dyn Fn(&str) -> String, burden: &str) -> String {
    html! {
        (maud::DOCTYPE)
        html lang=(i.locale) {
            head { meta charset="utf-8"; title { (fill(w.subject)) } }
            body {
                p { (fill(w.hello)) }
                p { (fill(w.ask)) }
                p { a href=(i.survey_url) { strong { (w.button) } } }
                p { (fill(w.time)) " " (fill(w.expires)) }
                hr;
                p { small { (fill(w.omb)) } }
                p { small { (burden) " " a href=(i.ins.pra.federal_register_url) { (i.ins.pra.federal_register_url) } } }
                p { small { (w.opt_out) " " a href=(i.opt_out_url) { (i.opt_out_url) } } }
            }
        }
    }
    .into_string()
}
