//! Deliverability rates, as mailbox providers and sending services judge a sender: the
//! bounce rate (bounces among delivered and bounced messages) and the complaint rate
//! (complaints among delivered messages), with the thresholds they publish. Gmail's and
//! Yahoo's bulk-sender rules (2024): keep the spam-complaint rate under 0.3%, aim under
//! 0.1%. Amazon SES reviews an account whose bounce rate passes 5% and may pause it at 10%.
//! A rate needs deliveries to be known: a provider that reports no deliveries has none.

use serde::Serialize;

/// Complaint rate to stay under (Gmail/Yahoo: "aim under 0.1%").
pub const COMPLAINT_AIM: f64 = 0.001;
/// Complaint rate never to reach (Gmail/Yahoo: "under 0.3%").
pub const COMPLAINT_MAX: f64 = 0.003;
/// Bounce rate at which a sending service starts reviewing (Amazon SES: 5%).
pub const BOUNCE_REVIEW: f64 = 0.05;
/// Bounce rate at which a sending service may pause sending (Amazon SES: 10%).
pub const BOUNCE_MAX: f64 = 0.10;

/// Events counted over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Deliveries the provider reported.
    pub delivered: u64,
    /// Bounces (hard and soft).
    pub bounced: u64,
    /// Spam complaints.
    pub complained: u64,
}

/// How a rate stands against its thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Under the aim.
    Good,
    /// Over the aim (complaints) or the review threshold (bounces).
    Warning,
    /// Over the maximum.
    Bad,
}

/// The rates of a window; `None` where no deliveries were reported.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rates {
    /// Bounces / (delivered + bounced).
    pub bounce_rate: Option<f64>,
    /// How the bounce rate stands.
    pub bounce_level: Option<Level>,
    /// Complaints / delivered.
    pub complaint_rate: Option<f64>,
    /// How the complaint rate stands.
    pub complaint_level: Option<Level>,
}

fn level(rate: f64, warn: f64, max: f64) -> Level {
    if rate >= max {
        Level::Bad
    } else if rate >= warn {
        Level::Warning
    } else {
        Level::Good
    }
}

/// The rates of `c`.
pub fn rates(c: Counts) -> Rates {
    let known = c.delivered > 0;
    let bounce_rate =
        known.then(|| c.bounced as f64 / (c.delivered.saturating_add(c.bounced)) as f64);
    let complaint_rate = known.then(|| c.complained as f64 / c.delivered as f64);
    Rates {
        bounce_rate,
        bounce_level: bounce_rate.map(|r| level(r, BOUNCE_REVIEW, BOUNCE_MAX)),
        complaint_rate,
        complaint_level: complaint_rate.map(|r| level(r, COMPLAINT_AIM, COMPLAINT_MAX)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(delivered: u64, bounced: u64, complained: u64) -> Rates {
        rates(Counts {
            delivered,
            bounced,
            complained,
        })
    }

    #[test]
    fn rates_are_judged_against_the_published_thresholds() {
        let r = c(10_000, 100, 5);
        assert_eq!(r.bounce_rate, Some(100.0 / 10_100.0));
        assert_eq!(r.bounce_level, Some(Level::Good));
        assert_eq!(
            (r.complaint_rate, r.complaint_level),
            (Some(0.0005), Some(Level::Good))
        );
        assert_eq!(
            c(10_000, 0, 10).complaint_level,
            Some(Level::Warning),
            "0.1% is over the aim"
        );
        assert_eq!(c(10_000, 0, 29).complaint_level, Some(Level::Warning));
        assert_eq!(
            c(10_000, 0, 30).complaint_level,
            Some(Level::Bad),
            "0.3% is the limit"
        );
        assert_eq!(c(95, 5, 0).bounce_level, Some(Level::Warning), "5% bounces");
        assert_eq!(c(90, 10, 0).bounce_level, Some(Level::Bad), "10% bounces");
        assert_eq!(
            c(0, 50, 3),
            Rates {
                bounce_rate: None,
                bounce_level: None,
                complaint_rate: None,
                complaint_level: None
            },
            "no deliveries reported: unknown"
        );
    }
}
