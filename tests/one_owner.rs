//! One survey, one response: a respondent who redials while the first session is still live
//! resumes the survey in the new session, which takes it over; the old session's next hop
//! ends politely; and whatever the timing, each survey id is completed once — in memory and in
//! Redis.

mod common;

use common::server::{AtPhone, Options, Server};

const CODE: &str = "*384*1#";

/// Answers up to the last question of kufatilia (contact), from the language screen.
fn to_the_last_question(phone: &mut AtPhone<'_>) {
    phone.dial();
    for input in ["1", "1", "2", "1", "1", "Mwenga", "000", "3"] {
        phone.send(input);
    }
}

fn a_redial_takes_the_survey_over(opts: Options) {
    let server = Server::start_with(opts);
    let number = "+243810000701";
    let mut first = AtPhone::new(&server, "ATUid_first", CODE, number);
    to_the_last_question(&mut first);
    // The network drops nothing: the respondent redials while `first` is still live.
    let mut second = AtPhone::new(&server, "ATUid_second", CODE, number);
    let offer = second.dial();
    assert!(offer.contains("Vous aviez déjà commencé"), "{offer}");
    // The old session is superseded: its next hop ends politely, records nothing.
    let late = first.send("1");
    assert!(
        late.starts_with("END Ce questionnaire continue dans une autre session."),
        "{late}"
    );
    let again = first.send("2");
    assert!(
        again.starts_with("END Ce questionnaire continue"),
        "{again}"
    );
    // The new one goes on where the survey stopped and completes it.
    let question = second.send("1");
    assert!(question.contains("suivi"), "{question}");
    let end = second.send("2");
    assert!(end.starts_with("END Merci."), "{end}");
    let responses = server.responses();
    assert_eq!(responses.len(), 1, "{responses:#?}");
    assert_eq!(responses[0]["answers"]["contact"]["value"], "no");
}

#[test]
fn a_redial_takes_the_survey_over_in_memory() {
    a_redial_takes_the_survey_over(Options::default());
}

#[test]
fn a_redial_takes_the_survey_over_in_redis() {
    a_redial_takes_the_survey_over(common::redis::options());
}

/// The old session answers its last question at the very moment the respondent redials:
/// either the old one completes and the new one cannot take it over, or the new one takes it
/// over and the old one cannot complete it. Never two completions of one id.
fn a_redial_racing_a_completion_gives_one_response(opts: Options) {
    let server = Server::start_with(opts);
    for round in 0..12 {
        let number = format!("+24381000{:04}", 800 + round);
        let mut first = AtPhone::new(&server, &format!("ATUid_race_a{round}"), CODE, &number);
        to_the_last_question(&mut first);
        let mut second = AtPhone::new(&server, &format!("ATUid_race_b{round}"), CODE, &number);
        let (finished, redialled) = std::thread::scope(|s| {
            let a = s.spawn(|| first.send("2"));
            let b = s.spawn(|| {
                let offer = second.dial();
                if offer.starts_with("CON") && offer.contains("Vous aviez") {
                    second.send("1");
                    second.send("1")
                } else {
                    offer
                }
            });
            (a.join().unwrap(), b.join().unwrap())
        });
        let done_by_first = finished.starts_with("END Merci.");
        let done_by_second = redialled.starts_with("END Merci.");
        assert!(
            done_by_first != done_by_second,
            "round {round}: exactly one session completes it\nfirst: {finished}\nsecond: {redialled}"
        );
    }
    let responses = server.responses();
    assert_eq!(responses.len(), 12, "one response per survey");
    let mut ids: Vec<&str> = responses
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12, "no id completed twice");
}

#[test]
fn a_redial_racing_a_completion_gives_one_response_in_memory() {
    a_redial_racing_a_completion_gives_one_response(Options::default());
}

#[test]
fn a_redial_racing_a_completion_gives_one_response_in_redis() {
    a_redial_racing_a_completion_gives_one_response(common::redis::options());
}

/// On a Redis Cluster the response is queued apart from the save: the survey is marked done
/// first, in the respondent's hash slot, so the race still gives one response per survey.
#[test]
fn a_redial_racing_a_completion_gives_one_response_on_a_cluster() {
    if !common::redis::have_redis_cli() {
        panic!("redis-cli is needed for the cluster (scripts/test installs it)");
    }
    let cluster = common::redis::RedisCluster::start();
    let opts = common::redis::options_on(&cluster.url(), &common::redis::unique_prefix());
    a_redial_takes_the_survey_over(opts.clone());
    a_redial_racing_a_completion_gives_one_response(opts);
}

/// Two processes on one Redis: the old session lives on one, the respondent redials through
/// the other. No save reads the survey's owner on an ordinary hop (only a completion does), so
/// the takeover itself must reach the old session: its next answer, in the middle of the
/// survey, on its own process (which still holds a copy of its record), ends politely; the
/// new session finishes the survey, once.
#[test]
fn a_redial_through_another_process_ends_the_old_session_there() {
    let a = Server::start_with(common::redis::options());
    let b = a.sibling();
    let number = "+243810000702";
    let mut first = AtPhone::new(&a, "ATUid_proc_first", CODE, number);
    first.dial();
    for input in ["1", "1", "2", "1", "1"] {
        assert!(first.send(input).starts_with("CON "));
    }
    let mut second = AtPhone::new(&b, "ATUid_proc_second", CODE, number);
    let offer = second.dial();
    assert!(offer.contains("Vous aviez déjà commencé"), "{offer}");
    // Not the last answer: an ordinary hop, which no owner key guards.
    let late = first.send("Mwenga");
    assert!(
        late.starts_with("END Ce questionnaire continue dans une autre session."),
        "{late}"
    );
    assert!(second.send("1").starts_with("CON "));
    for input in ["Mwenga", "000", "3"] {
        assert!(second.send(input).starts_with("CON "));
    }
    assert!(second.send("1").starts_with("END Merci."));
    let responses: Vec<_> = a.responses().into_iter().chain(b.responses()).collect();
    assert_eq!(responses.len(), 1, "{responses:#?}");
    assert_eq!(responses[0]["answers"]["territory"]["value"], "Mwenga");
}
