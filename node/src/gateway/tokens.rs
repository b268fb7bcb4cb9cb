//! API tokens a center issues to the systems that file into it (a
//! hotline, a grid workers' app, a member unit's system): each names the
//! system and what it may do, and acts as this center only. They live in
//! the node's data directory, `gateway-tokens.toml`, written by `liandong
//! gateway token issue|revoke` and read again by the node when the file
//! changes. Only a SHA-256 of each token's secret is kept: a token is
//! shown once, when issued.
//!
//! A token reads `ld.<center>_<id>_<secret>`: `center` the center it acts
//! for (recorded in the file by the gateway when it first starts; tokens
//! issued before that read `ld_<id>_<secret>`), `id` (8 hex digits) names
//! it in lists and logs, `secret` is 32 random bytes in hex. Shown to
//! another center's gateway, a token naming its center is refused with
//! 403 naming it.

use std::path::{Path, PathBuf};

use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use super::reread::{FileWatch, Watched, read_if_present, write_private};

/// The token file's name in a node's data directory.
pub const TOKENS_FILE: &str = "gateway-tokens.toml";

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// File reports.
    Report,
    /// Read this center's reports and incidents.
    Read,
    /// Sign for, report progress on, finish or refuse orders for this center.
    Orders,
    /// Import CAP alerts (a warning-release platform): they become reports
    /// here, or orders to the centers below that the alert's area names,
    /// and their updates and cancellations change what they filed.
    Cap,
}

impl Scope {
    pub fn parse(s: &str) -> Result<Scope, TokenError> {
        match s.trim() {
            "report" => Ok(Scope::Report),
            "read" => Ok(Scope::Read),
            "orders" => Ok(Scope::Orders),
            "cap" => Ok(Scope::Cap),
            other => Err(TokenError::Scope(other.to_owned())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scope::Report => "report",
            Scope::Read => "read",
            Scope::Orders => "orders",
            Scope::Cap => "cap",
        }
    }
}

/// One issued token, as the file keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    pub id: String,
    /// The system it was issued to, as people write it (the reporter of
    /// what it files).
    pub name: String,
    pub scopes: Vec<Scope>,
    /// SHA-256 of the secret, hex.
    pub hash: String,
    /// When it was issued (RFC 3339).
    pub issued: String,
    /// When it was revoked, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
}

/// Every token a center issued.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tokens {
    /// The center these tokens act for, once its gateway has started
    /// (it writes its id here): tokens issued from then on name it
    /// (`ld.<center>_<id>_<secret>`), so another center's gateway can say
    /// whose token it was shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub center: Option<String>,
    #[serde(default, rename = "token")]
    pub tokens: Vec<Token>,
}

/// Why a token file or a token is refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{}: {what}", .path.display())]
    Invalid { path: PathBuf, what: String },
    #[error("unknown scope {0:?} (the scopes are report, read, orders and cap)")]
    Scope(String),
    #[error("no token {0} was issued here")]
    Unknown(String),
    #[error("the system's name must be 1 to 64 characters")]
    Name,
}

/// The center a presented token names (`ld.<center>_...`), if it names one.
pub fn center_of(presented: &str) -> Option<&str> {
    let head = presented.trim().split('_').next()?;
    head.strip_prefix("ld.")
}

/// Records at `path` that its tokens act for `center`, if the file does
/// not say yet (the gateway, as it starts).
pub fn claim(path: &Path, center: &str) -> Result<(), TokenError> {
    let mut tokens = Tokens::load(path)?;
    if tokens.center.is_some() {
        return Ok(());
    }
    tokens.center = Some(center.to_owned());
    tokens.save(path)
}

/// Why a presented token is not taken (the gateway answers 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("no token: send Authorization: Bearer <token>")]
    Missing,
    #[error("not a token of this center")]
    Unknown,
    #[error("token {0} was revoked")]
    Revoked(String),
}

impl Tokens {
    /// Reads the file at `path`; a missing file holds no tokens.
    pub fn load(path: &Path) -> Result<Tokens, TokenError> {
        let text = read_if_present(path).map_err(|source| TokenError::Read {
            path: path.to_owned(),
            source,
        })?;
        let Some(text) = text else {
            return Ok(Tokens::default());
        };
        toml::from_str(&text).map_err(|e| TokenError::Invalid {
            path: path.to_owned(),
            what: e.message().trim().to_owned(),
        })
    }

    /// Writes the file (mode 0600, replaced whole).
    pub fn save(&self, path: &Path) -> Result<(), TokenError> {
        let text = toml::to_string(self).map_err(|e| TokenError::Invalid {
            path: path.to_owned(),
            what: e.to_string(),
        })?;
        let text = format!(
            "# API tokens of this center's gateway: written by `liandong gateway token`.\n\
             # Only a hash of each secret is kept here.\n\n{text}"
        );
        write_private(path, &text).map_err(|source| TokenError::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// Issues a token for `name` with `scopes` at `now` (RFC 3339): kept
    /// here as a hash, returned whole (it is never shown again).
    pub fn issue(&mut self, name: &str, scopes: Vec<Scope>, now: String) -> Result<(Token, String), TokenError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(TokenError::Name);
        }
        let rng = SystemRandom::new();
        let mut id = [0u8; 4];
        let mut secret = [0u8; 32];
        loop {
            rng.fill(&mut id).map_err(|_| TokenError::Name)?;
            if !self.tokens.iter().any(|t| t.id == hex(&id)) {
                break;
            }
        }
        rng.fill(&mut secret).map_err(|_| TokenError::Name)?;
        let secret = hex(&secret);
        let token = Token {
            id: hex(&id),
            name: name.to_owned(),
            scopes,
            hash: hash(&secret),
            issued: now,
            revoked: None,
        };
        let whole = match &self.center {
            Some(center) => format!("ld.{center}_{}_{secret}", token.id),
            None => format!("ld_{}_{secret}", token.id),
        };
        self.tokens.push(token.clone());
        Ok((token, whole))
    }

    /// Revokes token `id` at `now`.
    pub fn revoke(&mut self, id: &str, now: String) -> Result<&Token, TokenError> {
        let token = self
            .tokens
            .iter_mut()
            .find(|t| t.id == id)
            .ok_or_else(|| TokenError::Unknown(id.to_owned()))?;
        token.revoked.get_or_insert(now);
        Ok(token)
    }

    /// The token `presented` (`ld_<id>_<secret>`, or `ld.<center>_...`)
    /// is, if it is one of these and not revoked.
    pub fn check(&self, presented: &str) -> Result<&Token, Denied> {
        let mut parts = presented.trim().splitn(3, '_');
        let (Some(head), Some(id), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Denied::Unknown);
        };
        if head != "ld" && !head.starts_with("ld.") {
            return Err(Denied::Unknown);
        }
        let token = self.tokens.iter().find(|t| t.id == id).ok_or(Denied::Unknown)?;
        if token.hash != hash(secret) {
            return Err(Denied::Unknown);
        }
        match &token.revoked {
            Some(_) => Err(Denied::Revoked(token.id.clone())),
            None => Ok(token),
        }
    }
}

/// The token file of a running gateway, read again when it changes.
pub type TokenWatch = FileWatch<Tokens>;

impl Watched for Tokens {
    const WHAT: &'static str = "gateway tokens";

    fn load(path: &Path) -> Result<Tokens, String> {
        Tokens::load(path).map_err(|e| e.to_string())
    }
}

fn hash(secret: &str) -> String {
    hex(digest(&SHA256, secret.as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_claimed_tokens_name_their_center() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKENS_FILE);
        claim(&path, "350102").unwrap();
        claim(&path, "350100").unwrap();
        let mut tokens = Tokens::load(&path).unwrap();
        assert_eq!(tokens.center.as_deref(), Some("350102"));
        let (_, whole) = tokens
            .issue("12345热线", vec![Scope::Report], "2026-12-05T10:00:00Z".into())
            .unwrap();
        assert!(whole.starts_with("ld.350102_"), "{whole}");
        assert_eq!(center_of(&whole), Some("350102"));
        assert!(tokens.check(&whole).is_ok());
        assert_eq!(center_of("ld_0a1b2c3d_00"), None);
        assert_eq!(tokens.check("lx.350102_0a1b2c3d_00").err(), Some(Denied::Unknown));
    }

    #[test]
    fn an_issued_token_checks_until_revoked_and_only_its_hash_is_kept() {
        let mut tokens = Tokens::default();
        let (token, whole) = tokens
            .issue(
                "12345热线",
                vec![Scope::Report, Scope::Read],
                "2026-12-05T10:00:00Z".into(),
            )
            .unwrap();
        assert!(whole.starts_with(&format!("ld_{}_", token.id)));
        let secret = whole.rsplit('_').next().unwrap();
        assert!(!tokens.tokens[0].hash.contains(secret));
        assert_eq!(tokens.check(&whole).map(|t| t.name.as_str()), Ok("12345热线"));
        let last = if whole.ends_with('0') { '1' } else { '0' };
        let wrong = format!("{}{last}", &whole[..whole.len() - 1]);
        assert_eq!(tokens.check(&wrong).err(), Some(Denied::Unknown));
        assert_eq!(tokens.check("Bearer nonsense").err(), Some(Denied::Unknown));
        tokens.revoke(&token.id, "2026-12-06T10:00:00Z".into()).unwrap();
        assert_eq!(tokens.check(&whole).err(), Some(Denied::Revoked(token.id.clone())));
    }

    #[test]
    fn the_file_round_trips_and_a_missing_file_holds_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKENS_FILE);
        assert_eq!(Tokens::load(&path).unwrap(), Tokens::default());
        let mut tokens = Tokens::default();
        let (_, whole) = tokens
            .issue("e福州", vec![Scope::Report], "2026-12-05T10:00:00Z".into())
            .unwrap();
        tokens.save(&path).unwrap();
        let back = Tokens::load(&path).unwrap();
        assert_eq!(back, tokens);
        assert!(back.check(&whole).is_ok());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::write(&path, "[[token]]\nid = 3\n").unwrap();
        let e = Tokens::load(&path).unwrap_err().to_string();
        assert!(e.contains(TOKENS_FILE), "{e}");
    }

    #[test]
    fn scopes_are_named() {
        assert_eq!(Scope::parse("report").unwrap(), Scope::Report);
        assert!(Scope::parse("admin").unwrap_err().to_string().contains("admin"));
    }
}
