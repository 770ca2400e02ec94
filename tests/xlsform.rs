//! A researcher imports an XLSForm written for ODK (every supported row type, three languages,
//! rows Sauti cannot ask), checks the flow, and walks it in Swahili with `sauti simulate`.

use std::path::Path;
use std::process::{Command, Output};

use rust_xlsxwriter::Workbook;

/// The survey sheet, a row a line, cells between `|`: row 1 is the header, so that the
/// spreadsheet row of each line is its number in the comment.
const SURVEY: [&str; 15] = [
    /* 1 */
    "type | name | label::French (fr) | label::Swahili (sw) | label::Lingala (ln) | relevant | constraint | constraint_message::French (fr) | constraint_message::Swahili (sw) | constraint_message::Lingala (ln) | required | hint",
    /* 2 */
    "note | intro | Enquete sur les mines. | Utafiti wa migodi. | Ankete na mine. |||||||",
    /* 3 */
    "select_one yes_no | works | Travaillez-vous dans une mine? | Unafanya kazi mgodini? | Osalaka na mine? |||||| yes |",
    /* 4 */ "begin group | mine |||| ${works} = 'yes' ||||||",
    /* 5 */
    "integer | years | Depuis combien d'annees? | Miaka mingapi? | Mibu boni? || . >= 0 and . <= 80 | Entre 0 et 80 | Kati ya 0 na 80 | Kati na 0 na 80 | yes | En annees pleines",
    /* 6 */
    "select_multiple minerals | minerals | Quels minerais? | Madini gani? | Biloko nini? || count-selected(.) <= 2 |||| yes |",
    /* 7 */
    "text | site | [Kivu] Nom du site {mine}? | [Kivu] Jina la tovuti {mine}? | [Kivu] Nkombo ya esika {mine}? | selected(${minerals}, 'gold') | string-length(.) <= 40 |||| true() |",
    /* 8 */ "end group |||||||||||",
    /* 9 */
    "decimal | income | Revenu par jour (USD)? | Mapato kwa siku (USD)? | Mbongo na mokolo (USD)? | ${works} = 'no' | . >= 0 |||| yes |",
    /* 10 */
    "date | visit | Date de la derniere visite? | Tarehe ya ziara ya mwisho? | Mokolo ya kotala ya suka? || . <= today() |||| yes |",
    /* 11 */ "geopoint | location | Position? | Mahali? | Esika? |||||||",
    /* 12 */ "calculate | double_years ||||||||||",
    /* 13 */
    "text | comment | Un commentaire? | Maoni yoyote? | Likanisi moko? | regex(${site}, '^K') ||||||",
    /* 14 */
    "note | summary | Vous travaillez depuis ${years} ans. | Umefanya kazi miaka ${years}. | Osali mibu ${years}. | ${works} = 'yes' ||||||",
    /* 15 */
    "integer | people | Combien de personnes? | Watu wangapi? | Bato boni? || . > 0 |||||",
];

const CHOICES: [&str; 6] = [
    "list_name | name | label::French (fr) | label::Swahili (sw) | label::Lingala (ln)",
    "yes_no | yes | Oui | Ndiyo | Iyo",
    "yes_no | no | Non | Hapana | Te",
    "minerals | gold | Or | Dhahabu | Wolo",
    "minerals | tin | Cassiterite | Bati | Cassiterite",
    "minerals | coltan | Coltan | Koltani | Coltan",
];

const SETTINGS: [&str; 2] = [
    "form_id | version | form_title | default_language",
    "mines_survey | 2026031501 | Enquete mines | French (fr)",
];

/// A sheet from lines of `|`-separated cells, the first line its header.
fn sheet(workbook: &mut Workbook, name: &str, lines: &[&str]) {
    let sheet = workbook.add_worksheet();
    sheet.set_name(name).unwrap();
    for (row, line) in lines.iter().enumerate() {
        for (col, cell) in line.split('|').map(str::trim).enumerate() {
            if !cell.is_empty() {
                sheet.write_string(row as u32, col as u16, cell).unwrap();
            }
        }
    }
}

fn write_form(path: &Path) {
    let mut workbook = Workbook::new();
    sheet(&mut workbook, "survey", &SURVEY);
    sheet(&mut workbook, "choices", &CHOICES);
    sheet(&mut workbook, "settings", &SETTINGS);
    workbook.save(path).unwrap();
}

fn sauti(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sauti"))
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn an_xlsform_is_imported_checked_and_walked_in_swahili() {
    let dir = tempfile::tempdir().unwrap();
    let form = dir.path().join("mines.xlsx");
    write_form(&form);
    let out = dir.path().join("out");
    let out_s = out.to_str().unwrap();

    let import = sauti(&["import-xlsform", form.to_str().unwrap(), "--out", out_s]);
    let report = text(&import);
    assert!(import.status.success(), "{report}");
    for reported in [
        "survey row 11: `geopoint`: not supported: skipped",
        "survey row 12: `calculate`: not supported: skipped",
        "survey row 13: relevant `regex(${site}, '^K')` has no equivalent (the function `regex()` has no equivalent in Sauti's conditions): imported without it, so asked to everyone",
        "survey: hints are not imported (a USSD screen has no room for them): rows 5",
    ] {
        assert!(report.contains(reported), "`{reported}` not in:\n{report}");
    }
    assert!(report.contains("sauti check: ok"), "{report}");
    assert!(report.contains("ussd = ["), "{report}");
    for lang in ["fr", "sw", "ln"] {
        for file in ["mines_survey.ftl", "sauti.ftl"] {
            assert!(
                out.join("locales").join(lang).join(file).is_file(),
                "{lang}/{file}"
            );
        }
    }

    let flow = out.join("flows/mines_survey.toml");
    let flow_text = std::fs::read_to_string(&flow).unwrap();
    for expected in [
        "when = \"works == 'yes'\"",
        "when = \"works == 'yes' and selected(minerals, 'gold')\"",
        "when = \"works == 'no'\"",
        "max_selected = 2",
        "max_len = 40",
        "max = \"today\"",
        "min = 1",
    ] {
        assert!(
            flow_text.contains(expected),
            "`{expected}` not in:\n{flow_text}"
        );
    }

    let check = sauti(&[
        "check",
        flow.parent().unwrap().to_str().unwrap(),
        "--locales",
        &format!("{out_s}/locales"),
    ]);
    let checked = text(&check);
    assert!(check.status.success(), "{checked}");
    assert!(
        checked.contains("ok: flow `mines_survey` v2026031501, 11 steps"),
        "{checked}"
    );

    // intro, works: yes, years, minerals: gold and coltan, site (asked: gold), income skipped
    // (works is not `no`), visit, comment skipped with 000 (optional, its relevant dropped),
    // the summary echoing years, people, then the end.
    let answers = [
        "1", "1", "12", "1,3", "Kamituga", "01022025", "000", "1", "4",
    ];
    let mut args = vec![
        "simulate".to_owned(),
        flow.to_str().unwrap().to_owned(),
        "--lang".into(),
        "sw".into(),
        "--locales".into(),
        format!("{out_s}/locales"),
    ];
    for a in answers {
        args.extend(["--answer".to_owned(), a.to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let walk = sauti(&args);
    let walked = text(&walk);
    assert!(walk.status.success(), "{walked}");
    assert!(walked.contains("[Kivu] Jina la tovuti {mine}?"), "{walked}");
    assert!(walked.contains("Umefanya kazi miaka 12."), "{walked}");
    assert!(walked.contains("Asante kwa majibu yako!"), "{walked}");
    assert!(
        !walked.contains("Mapato kwa siku"),
        "income is skipped: {walked}"
    );

    let stdout = String::from_utf8_lossy(&walk.stdout);
    let json = &stdout[stdout.find("--- response ---").expect("a response") + 16..];
    let response: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(response["flow"], "mines_survey");
    assert_eq!(response["language"], "sw");
    let answers = &response["answers"];
    assert_eq!(answers["works"]["value"], "yes", "{answers:#}");
    assert_eq!(answers["years"]["value"], 12, "{answers:#}");
    assert_eq!(
        answers["minerals"]["value"],
        serde_json::json!(["gold", "coltan"])
    );
    assert_eq!(answers["site"]["value"], "Kamituga");
    assert_eq!(answers["visit"]["value"], "2025-02-01");
    assert_eq!(answers["people"]["value"], 4);
    assert!(
        answers.get("income").is_none(),
        "skipped by relevant: {answers:#}"
    );
    assert!(answers.get("location").is_none() && answers.get("double_years").is_none());
}

#[test]
fn a_workbook_without_a_survey_sheet_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let form = dir.path().join("empty.xlsx");
    let mut workbook = Workbook::new();
    workbook.add_worksheet().set_name("notes").unwrap();
    workbook.save(&form).unwrap();
    let out = dir.path().join("out");
    let import = sauti(&[
        "import-xlsform",
        form.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!import.status.success());
    assert!(
        text(&import).contains("no `survey` sheet: not an XLSForm"),
        "{}",
        text(&import)
    );
    assert!(!out.exists(), "nothing is written");
}
