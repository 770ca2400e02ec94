//! Respondents walking the shipped flows through the engine, in French, Swahili and
//! Lingala: the screens they see, the mistakes they make, and what gets recorded.

mod common;

use common::{Phone, shipped};
use sauti::render::Budget;
use sauti::{At, Event};
use serde_json::json;

#[test]
fn a_miner_reports_an_illegal_tax_in_french() {
    let flow = shipped("kufatilia");
    let mut phone = Phone::dial(&flow);
    assert_eq!(
        phone.shows(),
        "CON Langue / Lugha / Monoko:\n1. Francais\n2. Kiswahili\n3. Lingala"
    );
    phone.send("1");
    assert!(
        phone.shows().starts_with("CON Sauti: signalez un incident"),
        "{}",
        phone.shows()
    );
    assert!(phone.shows().ends_with("\n1. Oui\n2. Non\n0. Retour"));
    phone.send("1");
    assert_eq!(
        phone.shows(),
        "CON Que voulez-vous signaler?\n1. Accident\n2. Violence\n3. Taxe illégale\n4. Fraude\n5. Groupe armé\n\
         6. Travail forcé\n7. Travail d'enfants\n8. Barrière routière\n9. Autre\n0. Retour"
    );
    // A key that is not on the menu: the same question again, with the reason, in French.
    phone.send("12");
    assert!(
        phone
            .shows()
            .starts_with("CON Choix invalide.\nQue voulez-vous signaler?\n1. Accident")
    );
    // `03` is option 3. `incident_other` is skipped: the incident is not `other`.
    phone.send(" 03 ");
    assert!(
        phone
            .shows()
            .starts_with("CON Quand cela s'est-il passé?\n1. Aujourd'hui"),
        "{}",
        phone.shows()
    );
    // The respondent goes back, changes their mind, and comes forward again.
    phone.send("0");
    assert!(phone.shows().starts_with("CON Que voulez-vous signaler?"));
    phone.send("2");
    phone.send("5"); // earlier than this month: the date is asked
    assert_eq!(
        phone.shows(),
        "CON Date (JJMMAAAA, ex: 25032026)?\n00. Retour"
    );
    phone.send("31022026");
    assert_eq!(
        phone.shows(),
        "CON Date invalide. Exemple: 23112026\nDate (JJMMAAAA, ex: 25032026)?\n00. Retour"
    );
    phone.send("24122026");
    assert!(
        phone
            .shows()
            .starts_with("CON Date entre le 01012000 et le 23112026.\nDate (JJMMAAAA"),
        "{}",
        phone.shows()
    );
    phone.send("14/03/2026");
    assert!(
        phone
            .shows()
            .starts_with("CON Dans quelle province?\n1. Sud-Kivu")
    );
    phone.send("1");
    assert_eq!(phone.shows(), "CON Territoire ou ville?\n00. Retour");
    phone.send("Mwenga");
    assert_eq!(
        phone.shows(),
        "CON Nom du site minier?\n000. Passer\n00. Retour"
    );
    phone.send("Puits *7# à Kamituga");
    // The prompt echoes the incident chosen earlier, in the respondent's language.
    assert_eq!(
        phone.shows(),
        "CON Violence: combien de personnes touchées? (0 si aucune)\n00. Retour"
    );
    phone.send("beaucoup");
    assert!(phone.shows().starts_with("CON Tapez un nombre.\nViolence:"));
    phone.send("12");
    phone.send("2");
    assert_eq!(
        phone.shows(),
        "END Merci. Votre signalement est enregistré, votre identité reste protégée. Code: K7Q4"
    );
    assert!(matches!(phone.state.at, At::Done(_)));
    assert!(
        phone
            .events
            .iter()
            .any(|e| matches!(e, Event::Completed(_)))
    );
    assert_eq!(
        phone.answers(),
        json!({
            "consent": { "value": "yes", "label": "Oui" },
            "incident": { "value": "violence", "label": "Violence" },
            "when": { "value": "earlier", "label": "Avant ce mois" },
            "date": { "value": "2026-03-14" },
            "province": { "value": "south_kivu", "label": "Sud-Kivu" },
            "territory": { "value": "Mwenga" },
            "site": { "value": "Puits *7# à Kamituga" },
            "people": { "value": 12 },
            "contact": { "value": "no", "label": "Non" },
        })
    );
}

#[test]
fn a_report_in_swahili_records_labels_in_the_first_language() {
    let flow = shipped("kufatilia");
    let mut phone = Phone::dial(&flow);
    phone.send("2");
    assert!(
        phone.shows().ends_with("1. Ndiyo\n2. Hapana\n0. Rudi"),
        "{}",
        phone.shows()
    );
    phone.send("1");
    assert!(
        phone
            .shows()
            .starts_with("CON Unataka kuripoti nini?\n1. Ajali\n"),
        "{}",
        phone.shows()
    );
    phone.send("9"); // other: the description is asked
    assert!(
        phone.shows().starts_with("CON Eleza tukio kwa ufupi:"),
        "{}",
        phone.shows()
    );
    phone.send("Wanajeshi walichukua dhahabu");
    phone.send("1");
    phone.send("8"); // other province: its name is asked
    phone.send("Haut-Uele");
    phone.send("Watsa");
    phone.send("000"); // skips the site name
    assert!(
        phone.shows().starts_with("CON Nyingine:"),
        "{}",
        phone.shows()
    );
    phone.send("0");
    phone.send("1");
    assert!(phone.screen.end);
    assert!(phone.shows().starts_with("END Asante"), "{}", phone.shows());
    let answers = phone.answers();
    assert_eq!(
        answers["incident"],
        json!({ "value": "other", "label": "Autre" })
    );
    assert_eq!(
        answers["incident_other"],
        json!({ "value": "Wanajeshi walichukua dhahabu" })
    );
    assert_eq!(answers["site"], json!({ "value": null, "skipped": true }));
    assert_eq!(answers["people"], json!({ "value": 0 }));
}

#[test]
fn a_respondent_who_declines_in_lingala_is_thanked_and_nothing_is_asked() {
    let flow = shipped("kufatilia");
    let mut phone = Phone::dial(&flow);
    phone.send("3");
    assert!(
        phone.shows().ends_with("1. Iyo\n2. Te\n0. Zonga"),
        "{}",
        phone.shows()
    );
    phone.send("2");
    assert!(phone.screen.end);
    assert_eq!(
        phone.answers(),
        json!({ "consent": { "value": "no", "label": "Non" } })
    );
}

#[test]
fn a_whole_report_in_lingala() {
    let flow = shipped("kufatilia");
    let mut phone = Phone::dial(&flow);
    for input in [
        "3",
        "1",
        "8",
        "1",
        "3",
        "Fizi",
        "Misisi",
        "Lubichako",
        "4",
        "1",
    ] {
        assert!(
            !phone.screen.end,
            "ended early at {input}: {}",
            phone.shows()
        );
        phone.send(input);
    }
    assert!(phone.screen.end, "{}", phone.shows());
    let answers = phone.answers();
    assert_eq!(answers["incident"]["value"], "roadblock");
    assert_eq!(answers["province"]["value"], "ituri");
    assert_eq!(answers["province_other"], serde_json::Value::Null);
    assert_eq!(answers["contact"]["value"], "yes");
}

#[test]
fn a_long_menu_is_paginated_on_a_gateway_with_a_small_budget() {
    let flow = shipped("kufatilia");
    let small = Budget {
        gsm7_septets: 120,
        ucs2_chars: 60,
    };
    let mut phone = Phone::dial_with(&flow, small);
    phone.send("1");
    phone.send("1");
    let first = phone.shows();
    assert!(
        first.starts_with("CON Que voulez-vous signaler?\n1. Accident"),
        "{first}"
    );
    assert!(first.ends_with("\n98. Suite\n0. Retour"), "{first}");
    assert!(!first.contains("9. Autre"));
    phone.send("98");
    let second = phone.shows();
    assert!(second.contains("9. Autre"), "{second}");
    assert!(second.ends_with("\n99. Précédent\n0. Retour"), "{second}");
    assert!(!second.contains("1. Accident"));
    phone.send("99");
    assert_eq!(phone.shows(), first);
    // An option of the other page is still accepted.
    phone.send("9");
    assert!(
        phone.shows().starts_with("CON Décrivez l'incident"),
        "{}",
        phone.shows()
    );
    for screen in [first, second] {
        assert!(sauti::render::Measure::of(&screen[4..]).septets <= 120);
    }
}

#[test]
fn too_many_wrong_answers_close_the_session_politely() {
    let flow = shipped("kufatilia");
    let mut phone = Phone::dial(&flow);
    phone.send("1");
    phone.send("7");
    phone.send("x");
    assert!(!phone.screen.end);
    phone.send("#");
    assert_eq!(
        phone.shows(),
        "END Trop d'erreurs. Recomposez le code pour recommencer."
    );
    assert!(matches!(phone.state.at, At::GaveUp(_)));
    assert!(
        !phone
            .events
            .iter()
            .any(|e| matches!(e, Event::Completed(_)))
    );
}

#[test]
fn back_from_the_first_question_returns_to_the_language_screen() {
    let flow = shipped("connectivity");
    let mut phone = Phone::dial(&flow);
    phone.send("2");
    phone.send("0");
    assert!(phone.shows().starts_with("CON Langue / Lugha / Monoko:"));
    phone.send("1");
    assert!(phone.shows().contains("1. Oui"), "{}", phone.shows());
}

#[test]
fn a_trader_with_a_smartphone_answers_the_connectivity_survey_in_french() {
    let flow = shipped("connectivity");
    let mut phone = Phone::dial(&flow);
    phone.send("1");
    phone.send("1"); // consent
    assert!(phone.shows().contains("1. Creuseur"), "{}", phone.shows());
    phone.send("3"); // trader
    phone.send("1"); // owns a phone
    phone.send("3"); // smartphone
    phone.send("2"); // weak coverage
    phone.send("1"); // mobile money often
    let services = phone.shows();
    assert!(services.contains("4. Internet"), "{services}");
    phone.send("1 9"); // 9 is not an option
    assert!(
        phone.shows().starts_with("CON Choix invalide.\n"),
        "{}",
        phone.shows()
    );
    phone.send("1,3,4");
    // Internet was selected, so the follow-up is asked.
    assert!(
        phone.shows().contains("1. Sur le site"),
        "{}",
        phone.shows()
    );
    phone.send("2");
    phone.send("3"); // spending band
    phone.send("1"); // would report by phone
    assert!(phone.screen.end, "{}", phone.shows());
    let answers = phone.answers();
    assert_eq!(
        answers["services"]["value"],
        json!(["calls", "mobile_money", "internet"])
    );
    assert_eq!(answers["internet_where"]["value"], "in_town");
    assert_eq!(
        answers["role"],
        json!({ "value": "trader", "label": "Négociant" })
    );
}

#[test]
fn a_digger_without_a_phone_skips_the_phone_questions_in_swahili() {
    let flow = shipped("connectivity");
    let mut phone = Phone::dial(&flow);
    phone.send("2");
    phone.send("1");
    phone.send("1"); // digger
    phone.send("2"); // no phone: goto coverage
    let coverage = phone.shows();
    phone.send("3");
    phone.send("3");
    // `services` (when owns_phone == 'yes') and `internet_where` are skipped.
    let spending = phone.shows();
    phone.send("1");
    phone.send("2");
    assert!(phone.screen.end, "{}", phone.shows());
    let answers = phone.answers();
    assert!(answers.get("phone_type").is_none());
    assert!(answers.get("services").is_none());
    assert!(answers.get("internet_where").is_none());
    assert_eq!(answers["owns_phone"]["value"], "no");
    assert_ne!(coverage, spending);
}

#[test]
fn a_connectivity_survey_in_lingala_with_a_keypad_multi_answer() {
    let flow = shipped("connectivity");
    let mut phone = Phone::dial(&flow);
    for input in ["3", "1", "2", "1", "1", "1", "3"] {
        phone.send(input);
    }
    phone.send("125"); // calls, SMS, radio: digits typed together
    phone.send("4");
    phone.send("3");
    assert!(phone.screen.end, "{}", phone.shows());
    assert_eq!(
        phone.answers()["services"]["value"],
        json!(["calls", "sms", "radio"])
    );
}

#[test]
fn a_stored_state_that_does_not_match_its_flow_is_recognised() {
    let flow = shipped("kufatilia");
    let mut phone = Phone::dial(&flow);
    phone.send("1");
    phone.send("1");
    assert!(phone.state.fits(&flow));
    let mut broken = phone.state.clone();
    broken.at = At::Step(999);
    assert!(!broken.fits(&flow));
    let mut broken = phone.state.clone();
    broken
        .answers
        .push((1, sauti::question::Answer::Choice(42)));
    assert!(!broken.fits(&flow));
    let mut broken = phone.state.clone();
    broken.lang = 7;
    assert!(!broken.fits(&flow));
}

#[test]
fn the_next_page_of_a_re_asked_menu_shows_the_options_that_did_not_fit() {
    let flow = shipped("kufatilia");
    let mut phone = Phone::dial(&flow);
    phone.send("1");
    phone.send("1");
    // A wrong key: the reason pushes the last options of the incident menu to a second page.
    let first = phone.send("42").to_owned();
    assert!(
        first.ends_with("7. Travail d'enfants\n98. Suite\n0. Retour"),
        "{first}"
    );
    // `98` turns to it (it used to count as another wrong answer and re-ask page one).
    let second = phone.send("98").to_owned();
    assert_eq!(
        second,
        "8. Barrière routière\n9. Autre\n99. Précédent\n0. Retour"
    );
    assert_eq!(phone.state.attempts, 1);
    // And back: the reason is still there.
    assert_eq!(phone.send("99"), first);
    phone.send("9");
    assert!(
        phone.shows().starts_with("CON Décrivez"),
        "{}",
        phone.shows()
    );
}
