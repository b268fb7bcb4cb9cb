//! Webhook subscriptions: a system's URL that this center sends its
//! events to, with the secret that signs them. They live in the node's
//! data directory, `gateway-webhooks.toml` (mode 0600: the secret is kept
//! whole, since it signs), written by `liandong gateway webhook
//! add|remove` and read again by the node when the file changes. A
//! subscription belongs to the center whose data directory holds it.
//!
//! The secret is shown once, when the subscription is added; a receiver
//! checks each delivery's signature with it (see `sign`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use super::events::EventKind;
use crate::gateway::reread::{FileWatch, Watched, read_if_present, write_private};

/// The subscription file's name in a node's data directory.
pub const WEBHOOKS_FILE: &str = "gateway-webhooks.toml";

/// How long a delivery is retried when its subscription says nothing.
pub const DEFAULT_EXPIRE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// One subscription, as the file keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// 8 hex digits: names it in lists, logs and the status.
    pub id: String,
    /// The system, as people write it (公安系统).
    pub name: String,
    /// Where events are POSTed: `http://` or `https://`.
    pub url: String,
    pub events: Vec<EventKind>,
    /// The signing secret (`whsec_` and 64 hex digits).
    pub secret: String,
    /// When it was added (RFC 3339).
    pub added: String,
    /// A CA certificate file (PEM) that the receiver's HTTPS certificate
    /// chains to, instead of the public web roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    /// Seconds a delivery is retried before it is dead-lettered (24 h when
    /// absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_after: Option<u64>,
}

impl Subscription {
    /// How long its deliveries are retried.
    pub fn expire_after(&self) -> Duration {
        self.expire_after.map_or(DEFAULT_EXPIRE_AFTER, Duration::from_secs)
    }

    /// Whether it wants events of `kind`.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events.contains(&kind)
    }
}

/// Every subscription of a center.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscriptions {
    #[serde(default, rename = "webhook")]
    pub webhooks: Vec<Subscription>,
}

/// What a new subscription is given.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub name: String,
    pub url: String,
    pub events: Vec<EventKind>,
    pub ca: Option<PathBuf>,
    pub expire_after: Option<u64>,
}

/// Why a subscription file or a subscription is refused.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{}: {what}", .path.display())]
    Invalid { path: PathBuf, what: String },
    #[error("no webhook subscription {0} here")]
    Unknown(String),
    #[error("the system's name must be 1 to 64 characters")]
    Name,
    #[error("{url:?} is not an http:// or https:// URL with a host: {why}")]
    Url { url: String, why: String },
    #[error("no events named: give --events with incident, order, stage or supervision")]
    NoEvents,
    #[error("the expiry must be at least 1 second")]
    Expiry,
    #[error("no system randomness for the secret")]
    Random,
}

impl Subscriptions {
    /// Reads the file at `path`; a missing file holds no subscriptions.
    pub fn load(path: &Path) -> Result<Subscriptions, SubscriptionError> {
        let text = read_if_present(path).map_err(|source| SubscriptionError::Read {
            path: path.to_owned(),
            source,
        })?;
        let Some(text) = text else {
            return Ok(Subscriptions::default());
        };
        let invalid = |what: String| SubscriptionError::Invalid {
            path: path.to_owned(),
            what,
        };
        let subs: Subscriptions = toml::from_str(&text).map_err(|e| invalid(e.message().trim().to_owned()))?;
        for s in &subs.webhooks {
            check_url(&s.url).map_err(|e| invalid(format!("webhook {}: {e}", s.id)))?;
        }
        Ok(subs)
    }

    /// Writes the file (mode 0600, replaced whole).
    pub fn save(&self, path: &Path) -> Result<(), SubscriptionError> {
        let write = |source| SubscriptionError::Write {
            path: path.to_owned(),
            source,
        };
        let text = toml::to_string(self).map_err(|e| SubscriptionError::Invalid {
            path: path.to_owned(),
            what: e.to_string(),
        })?;
        let text = format!(
            "# Webhook subscriptions of this center's gateway: written by `liandong gateway webhook`.\n\
             # Each secret signs its deliveries: keep this file private.\n\n{text}"
        );
        write_private(path, &text).map_err(write)
    }

    /// Adds a subscription at `now` (RFC 3339) with a new secret.
    pub fn add(&mut self, new: NewSubscription, now: String) -> Result<&Subscription, SubscriptionError> {
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(SubscriptionError::Name);
        }
        check_url(&new.url)?;
        if new.events.is_empty() {
            return Err(SubscriptionError::NoEvents);
        }
        if new.expire_after == Some(0) {
            return Err(SubscriptionError::Expiry);
        }
        let mut events = new.events;
        events.sort();
        events.dedup();
        let rng = SystemRandom::new();
        let mut id = [0u8; 4];
        let mut secret = [0u8; 32];
        loop {
            rng.fill(&mut id).map_err(|_| SubscriptionError::Random)?;
            if !self.webhooks.iter().any(|s| s.id == hex(&id)) {
                break;
            }
        }
        rng.fill(&mut secret).map_err(|_| SubscriptionError::Random)?;
        self.webhooks.push(Subscription {
            id: hex(&id),
            name: name.to_owned(),
            url: new.url.trim().to_owned(),
            events,
            secret: format!("whsec_{}", hex(&secret)),
            added: now,
            ca: new.ca,
            expire_after: new.expire_after,
        });
        Ok(self.webhooks.last().expect("just pushed"))
    }

    /// Removes subscription `id`; its pending deliveries are dead-lettered.
    pub fn remove(&mut self, id: &str) -> Result<Subscription, SubscriptionError> {
        let at = (self.webhooks.iter())
            .position(|s| s.id == id)
            .ok_or_else(|| SubscriptionError::Unknown(id.to_owned()))?;
        Ok(self.webhooks.remove(at))
    }

    pub fn get(&self, id: &str) -> Option<&Subscription> {
        self.webhooks.iter().find(|s| s.id == id)
    }
}

/// `url` is `http://` or `https://` with a host.
pub fn check_url(url: &str) -> Result<hyper::Uri, SubscriptionError> {
    let bad = |why: &str| SubscriptionError::Url {
        url: url.to_owned(),
        why: why.to_owned(),
    };
    let uri: hyper::Uri = url
        .trim()
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(bad("the scheme must be http or https")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    Ok(uri)
}

/// The subscription file of a running node, read again when it changes.
pub type SubscriptionWatch = FileWatch<Subscriptions>;

impl Watched for Subscriptions {
    const WHAT: &'static str = "webhook subscriptions";

    fn load(path: &Path) -> Result<Subscriptions, String> {
        Subscriptions::load(path).map_err(|e| e.to_string())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn police() -> NewSubscription {
        NewSubscription {
            name: "公安系统".into(),
            url: "https://police.example.cn/liandong/events".into(),
            events: vec![EventKind::Stage, EventKind::Incident, EventKind::Stage],
            ca: None,
            expire_after: None,
        }
    }

    #[test]
    fn the_file_round_trips_private_and_a_missing_file_holds_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(WEBHOOKS_FILE);
        assert_eq!(Subscriptions::load(&path).unwrap(), Subscriptions::default());
        let mut subs = Subscriptions::default();
        let added = subs.add(police(), "2026-12-05T10:00:00Z".into()).unwrap().clone();
        assert_eq!(added.events, [EventKind::Incident, EventKind::Stage]);
        assert!(added.secret.starts_with("whsec_") && added.secret.len() == 6 + 64);
        assert_eq!(added.expire_after(), DEFAULT_EXPIRE_AFTER);
        subs.save(&path).unwrap();
        assert_eq!(Subscriptions::load(&path).unwrap(), subs);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(subs.remove(&added.id).unwrap().id, added.id);
        assert!(subs.remove(&added.id).unwrap_err().to_string().contains(&added.id));

        std::fs::write(&path, "[[webhook]]\nid = 3\n").unwrap();
        let e = Subscriptions::load(&path).unwrap_err().to_string();
        assert!(e.contains(WEBHOOKS_FILE), "{e}");
    }

    #[test]
    fn only_http_and_https_urls_with_a_host_and_some_events_are_taken() {
        let mut subs = Subscriptions::default();
        let now = || "2026-12-05T10:00:00Z".to_owned();
        for url in ["ftp://x.cn/a", "police.example.cn/events", "http:///x", ""] {
            let e = subs
                .add(
                    NewSubscription {
                        url: url.into(),
                        ..police()
                    },
                    now(),
                )
                .unwrap_err();
            assert!(matches!(e, SubscriptionError::Url { .. }), "{url}: {e}");
        }
        let none = NewSubscription {
            events: vec![],
            ..police()
        };
        assert!(matches!(subs.add(none, now()), Err(SubscriptionError::NoEvents)));
        let local = NewSubscription {
            url: "http://127.0.0.1:9000/hook".into(),
            ..police()
        };
        assert!(subs.add(local, now()).is_ok());
    }
}
