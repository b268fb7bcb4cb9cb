//! The node's own certificate: which one it presents and when it
//! expires. The driver reads it from the leaf of its chain at start, and
//! again whenever the certificate is renewed ([`OwnCertificate::read`]).
//! From it:
//! - `Status` shows its serial and days left (the driver's `NodeFacts`);
//! - the gauge `liandong_certificate_expiry_days` (label `node`) is set at
//!   once and then at most once an hour;
//! - from [`RENEW_WITHIN_DAYS`](liandong_control::proto::RENEW_WITHIN_DAYS)
//!   days before it expires the log warns at once and then once a day,
//!   and as an error from the moment it has expired.
//!
//! Nothing here reads the clock: the driver passes `now` on a tick it
//! already has ([`OwnCertificate::observe`]).

use std::time::Duration;

use liandong_certs::pki_types::CertificateDer;
use liandong_certs::serial::SerialError;
use liandong_certs::{certificate_facts, rfc3339};
use liandong_control::proto::CertificateStatus;
use liandong_dispatch::Timestamp;
use liandong_topology::NodeId;
use tracing::{error, warn};

/// How often the gauge is set again (the days left change slowly).
const GAUGE_EVERY: Duration = Duration::from_secs(60 * 60);
/// How often the log repeats its warning while renewal is due.
const WARN_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// What the log tells the operator to do.
const RENEW_HOW: &str = "liandong certs request --renew, the CA's certs sign, liandong certs renew, then reload";

/// The node's own certificate as its status, metrics and log show it.
#[derive(Debug, Clone)]
pub(super) struct OwnCertificate {
    /// As `liandong certs inspect` prints it (`5f:3a:...`).
    pub serial: String,
    /// Its last valid instant.
    pub not_after: Timestamp,
    /// The same in RFC 3339, for the log.
    expires: String,
    /// The node's id, the gauge's `node` label.
    label: String,
    /// When the gauge was last set, and the log last warned: repeats are
    /// timed from these.
    gauge_set: Option<Timestamp>,
    warned: Option<Timestamp>,
}

/// What one [`OwnCertificate::observe`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Told {
    pub gauge: bool,
    pub log: bool,
}

impl OwnCertificate {
    /// Reads the serial and expiry of `leaf`, the certificate node `me`
    /// presents. Nothing is set or logged until [`Self::observe`].
    pub fn read(leaf: &CertificateDer<'_>, me: &NodeId) -> Result<OwnCertificate, SerialError> {
        let facts = certificate_facts(leaf)?;
        // Milliseconds since 1970; a certificate that ends before it reads as 0.
        let ms = facts
            .not_after
            .unix_timestamp()
            .max(0)
            .unsigned_abs()
            .saturating_mul(1000);
        Ok(OwnCertificate {
            serial: facts.serial.to_string(),
            not_after: Timestamp(ms),
            expires: rfc3339(facts.not_after),
            label: me.to_string(),
            gauge_set: None,
            warned: None,
        })
    }

    /// How it stands at `now`.
    pub fn status(&self, now: Timestamp) -> CertificateStatus {
        CertificateStatus::at(self.serial.clone(), self.not_after, now)
    }

    /// Sets the gauge if it was never set or an hour has passed; warns
    /// (an error once expired) if renewal is due and the log never said
    /// so, a day has passed, or the certificate expired since.
    pub fn observe(&mut self, now: Timestamp) -> Told {
        let status = self.status(now);
        let mut told = Told::default();
        let newly_expired = status.expired() && self.warned.is_some_and(|at| at <= self.not_after);
        if due(self.gauge_set, GAUGE_EVERY, now) {
            metrics::gauge!("liandong_certificate_expiry_days", "node" => self.label.clone())
                .set(status.days_left as f64);
            self.gauge_set = Some(now);
            told.gauge = true;
        }
        if status.renew_due() && (due(self.warned, WARN_EVERY, now) || newly_expired) {
            let (days_left, serial, not_after) = (status.days_left, &self.serial, &self.expires);
            if status.expired() {
                error!(
                    days_left,
                    serial, not_after, "the node's certificate has expired: peers refuse it; renew it ({RENEW_HOW})"
                );
            } else {
                warn!(
                    days_left,
                    serial, not_after, "the node's certificate expires in {days_left} days: renew it ({RENEW_HOW})"
                );
            }
            self.warned = Some(now);
            told.log = true;
        }
        told
    }
}

/// Whether a repeat every `every` is due at `now`, last done at `last`.
fn due(last: Option<Timestamp>, every: Duration, now: Timestamp) -> bool {
    last.is_none_or(|at| now.since(at) >= every)
}

#[cfg(test)]
mod tests {
    use super::*;
    use liandong_certs::time::OffsetDateTime;
    use liandong_certs::{FederationCa, Validity};

    const HOUR: u64 = 3_600_000;
    const DAY: u64 = 24 * HOUR;

    fn issued(days: u32) -> (OwnCertificate, Timestamp) {
        let now = OffsetDateTime::now_utc();
        let ca = FederationCa::generate("测试联动网", Validity::days_from(now, 365)).unwrap();
        let me = NodeId::parse("350102").unwrap();
        let cert = ca.issue_node(&me, "鼓楼区", Validity::days_from(now, days)).unwrap();
        let own = OwnCertificate::read(&cert.cert_der, &me).unwrap();
        assert_eq!(own.serial, cert.serial.to_string());
        // A millisecond after the whole second the validity was cut from.
        let at = Timestamp(now.unix_timestamp().unsigned_abs() * 1000 + 1);
        (own, at)
    }

    #[test]
    fn the_leaf_gives_its_serial_and_expiry() {
        let (own, now) = issued(730);
        let status = own.status(now);
        // Issued a moment ago for 730 days: 729 whole days and some hours.
        assert_eq!(status.days_left, 729);
        assert!(!status.renew_due());
        assert_eq!(own.status(Timestamp(own.not_after.0 + 1)).days_left, -1);
        let broken = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x01]);
        assert!(OwnCertificate::read(&broken, &NodeId::parse("350102").unwrap()).is_err());
    }

    #[test]
    fn the_gauge_is_hourly_and_the_warning_daily_once_renewal_is_due() {
        let (mut own, now) = issued(12);
        assert_eq!(own.observe(now), Told { gauge: true, log: true });
        assert_eq!(own.observe(Timestamp(now.0 + 2_000)), Told::default());
        let hour = Timestamp(now.0 + HOUR);
        assert_eq!(
            own.observe(hour),
            Told {
                gauge: true,
                log: false
            }
        );
        let day = Timestamp(now.0 + DAY);
        assert_eq!(own.observe(day), Told { gauge: true, log: true });
        // Expired: said at once (as an error), then daily.
        let last_minutes = Timestamp(own.not_after.0 - 10 * 60_000);
        assert_eq!(own.observe(last_minutes), Told { gauge: true, log: true });
        let late = Timestamp(own.not_after.0 + 1);
        assert!(own.status(late).expired());
        assert_eq!(
            own.observe(late),
            Told {
                gauge: false,
                log: true
            }
        );
        assert_eq!(
            own.observe(Timestamp(late.0 + HOUR)),
            Told {
                gauge: true,
                log: false
            }
        );
        assert_eq!(own.observe(Timestamp(late.0 + DAY)), Told { gauge: true, log: true });
    }

    #[test]
    fn a_certificate_far_from_expiry_sets_the_gauge_and_stays_quiet() {
        let (mut own, now) = issued(365);
        assert_eq!(
            own.observe(now),
            Told {
                gauge: true,
                log: false
            }
        );
        assert_eq!(
            own.observe(Timestamp(now.0 + 2 * DAY)),
            Told {
                gauge: true,
                log: false
            }
        );
    }
}
