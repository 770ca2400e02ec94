//! Phone numbers as one person has one: every form a gateway may send (`+243810000001`,
//! `243810000001`, `00243 810 000 001`, `0810000001` on a Congolese network) reduced to E.164
//! before it is pseudonymised, and nonsense refused. Numbering plans come from libphonenumber's
//! metadata (the `phonenumber` crate).

use std::sync::LazyLock;

use phonenumber::country::Id;

/// Why a number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a phone number of any numbering plan")]
pub struct NotANumber;

/// Where the caller id of a call that hides its number comes from: it is the call's own id, not
/// a number (see the voice gateways), and it is passed through as it is.
pub const ANONYMOUS_PREFIX: &str = "call:";

/// For each country calling code (1 to 999), the lengths its national numbers may have;
/// empty for codes no country uses.
static PLANS: LazyLock<Vec<Vec<u16>>> = LazyLock::new(|| {
    let db = &*phonenumber::metadata::DATABASE;
    (0..1000u16)
        .map(|code| {
            let mut lengths: Vec<u16> = db
                .by_code(&code)
                .unwrap_or_default()
                .iter()
                .flat_map(|m| {
                    let d = m.descriptors();
                    // The general descriptor often leaves its lengths to the kinds of number.
                    [
                        Some(d.general()),
                        d.fixed_line(),
                        d.mobile(),
                        d.toll_free(),
                        d.premium_rate(),
                        d.shared_cost(),
                        d.personal_number(),
                        d.voip(),
                        d.pager(),
                        d.uan(),
                        d.voicemail(),
                    ]
                    .into_iter()
                    .flatten()
                    .flat_map(|desc| desc.possible_length().to_vec())
                    .collect::<Vec<u16>>()
                })
                .collect();
            lengths.sort_unstable();
            lengths.dedup();
            lengths
        })
        .collect()
});

/// Reduces numbers to E.164, reading numbers without a country code as numbers of `region`.
#[derive(Debug, Clone, Copy)]
pub struct PhoneNumbers {
    region: Option<Id>,
}

impl PhoneNumbers {
    /// `region`: an ISO 3166 country code (`CD`), the country of the gateway's networks.
    pub fn new(region: Option<&str>) -> Result<PhoneNumbers, String> {
        let region = match region {
            None => None,
            Some(r) => Some(
                r.trim()
                    .to_ascii_uppercase()
                    .parse::<Id>()
                    .map_err(|_| format!("unknown country `{r}` (an ISO 3166 code such as CD)"))?,
            ),
        };
        Ok(PhoneNumbers { region })
    }

    /// The number in E.164 (`+243810000001`).
    ///
    /// A number already in that form (as Africa's Talking and Twilio send them) is checked
    /// against its country's possible lengths without parsing: a hop must not pay for a full
    /// parse. Any other form is parsed and validated against the numbering plan.
    pub fn e164(&self, raw: &str) -> Result<String, NotANumber> {
        let raw = raw.trim();
        if raw.starts_with(ANONYMOUS_PREFIX) {
            return Ok(raw.to_owned());
        }
        if let Some(digits) = raw.strip_prefix('+')
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            return if possible(digits) {
                Ok(raw.to_owned())
            } else {
                Err(NotANumber)
            };
        }
        if raw.len() > 40 {
            return Err(NotANumber);
        }
        let number = phonenumber::parse(self.region, raw).map_err(|_| NotANumber)?;
        if !phonenumber::is_valid(&number) {
            return Err(NotANumber);
        }
        Ok(number.format().mode(phonenumber::Mode::E164).to_string())
    }
}

/// Whether `digits` (after the `+`) is a country code some country uses followed by a
/// national number of a length that country's plan allows.
fn possible(digits: &str) -> bool {
    if !(7..=15).contains(&digits.len()) {
        return false;
    }
    (1..=3).any(|n| {
        let Ok(code) = digits[..n].parse::<usize>() else {
            return false;
        };
        let national = (digits.len() - n) as u16;
        PLANS[code].contains(&national)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_one_number_is_one_number() {
        let cd = PhoneNumbers::new(Some("CD")).unwrap();
        for raw in [
            "+243810000001",
            "243810000001",
            "00243810000001",
            "0810000001",
            "243-810-000-001",
            "+243 81 000 0001",
            " +243810000001 ",
        ] {
            assert_eq!(cd.e164(raw).as_deref(), Ok("+243810000001"), "{raw}");
        }
        let gh = PhoneNumbers::new(Some("GH")).unwrap();
        assert_eq!(gh.e164("233246912184").as_deref(), Ok("+233246912184"));
        assert_eq!(cd.e164("+254711082000").as_deref(), Ok("+254711082000"));
        assert_eq!(cd.e164("call:CA123").as_deref(), Ok("call:CA123"));
    }

    #[test]
    fn nonsense_is_refused() {
        let cd = PhoneNumbers::new(Some("CD")).unwrap();
        for raw in [
            "(((1)))",
            "1",
            "+1",
            "+2438100000011234",
            "+999810000001",
            "hello",
            "+",
            "",
            "+243 81 000 0001 ext. 99999999999999999999999999999999999",
        ] {
            assert_eq!(cd.e164(raw), Err(NotANumber), "{raw:?}");
        }
        assert!(PhoneNumbers::new(Some("XX")).is_err());
        assert!(PhoneNumbers::new(None).unwrap().e164("0810000001").is_err());
    }
}
