//! `sauti report`: how many started and finished a survey, where respondents left it (a funnel)
//! and how they answered, computed by pure functions over parsed responses and the flow.

pub mod answers;
pub mod chart;
pub mod command;
pub mod funnel;
pub mod read;
pub mod render;
pub mod tally;

pub use funnel::{Funnel, FunnelStep};
pub use read::ResponseSet;
pub use tally::{Distribution, FlowReport, OptionCount, Segment, build};

/// Counts from 1 to `k - 1` are hidden (`<k`): in a small territory a count of 1 to 4 can point
/// at one informant. Zero is shown, since it describes nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinCount(pub u64);

impl Default for MinCount {
    fn default() -> Self {
        MinCount(5)
    }
}

impl MinCount {
    pub fn hides(self, count: u64) -> bool {
        count > 0 && count < self.0
    }

    /// The count as printed: the number, or `<k` when it is hidden.
    pub fn show(self, count: u64) -> String {
        if self.hides(count) {
            format!("<{}", self.0)
        } else {
            count.to_string()
        }
    }

    /// `part` of `whole` as a percentage, or `-` when either is hidden (a rate over visible
    /// counts could give a hidden one back) or `whole` is zero.
    pub fn rate(self, part: u64, whole: u64) -> String {
        if whole == 0 || self.hides(part) || self.hides(whole) {
            "-".into()
        } else {
            format!("{:.1}%", part as f64 * 100.0 / whole as f64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MinCount;

    #[test]
    fn counts_below_k_are_hidden_but_zero_is_shown() {
        let k = MinCount(5);
        assert_eq!(k.show(0), "0");
        assert_eq!(k.show(1), "<5");
        assert_eq!(k.show(4), "<5");
        assert_eq!(k.show(5), "5");
        assert_eq!(k.rate(3, 40), "-");
        assert_eq!(k.rate(30, 40), "75.0%");
        assert_eq!(MinCount(1).show(1), "1");
    }
}
