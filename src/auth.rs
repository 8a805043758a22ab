//! Authorization, the first phase of a server-to-server sync: who is asking
//! (a bearer token, HTTP Basic, or an `access_token` query parameter) and
//! whether that credential's role on the feed allows the request.
//!
//! Credentials come from the config with their secrets stored as SHA-256
//! digests; a presented secret is hashed and compared in constant time
//! against every credential (no early exit that would leak which one
//! matched). Roles are per feed (`*` for every feed) and ordered
//! `read < write < admin`: consumers read, producers write, `admin` may do
//! everything. With no credentials configured, every request is allowed.

use crate::codec::base64_decode;
use crate::error::ApiError;
use crate::setting::ConfigError;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What a credential may do on a feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Read,
    Write,
    Admin,
}

impl Role {
    /// As the config writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
}

/// One credential as configured (`[credentials.NAME]`): a bearer token
/// and/or a password for HTTP Basic (the credential's name is the user name),
/// stored as SHA-256 hex digests, and its role per feed (`"*"` for every feed).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialConfig {
    pub token_sha256: Option<String>,
    pub password_sha256: Option<String>,
    pub roles: BTreeMap<String, Role>,
}

type Digest32 = [u8; 32];

#[derive(Debug)]
pub struct Credential {
    pub name: String,
    token: Option<Digest32>,
    password: Option<Digest32>,
    roles: BTreeMap<String, Role>,
}

impl Credential {
    /// The credential's role on `feed` (its own entry, else `*`).
    pub fn role(&self, feed: &str) -> Option<Role> {
        self.roles
            .get(feed)
            .or_else(|| self.roles.get("*"))
            .copied()
    }
}

/// The configured credentials.
#[derive(Debug, Default)]
pub struct Auth {
    creds: Vec<Credential>,
}

/// SHA-256 of a secret, as the config stores it (lowercase hex).
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn parse_digest(key: &str, hex: &str) -> Result<Digest32, ConfigError> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex.trim(), &mut out).map_err(|_| {
        ConfigError::invalid(
            key,
            "must be 64 hex digits (the SHA-256 of the secret; `feedgate hash-secret` prints it)",
        )
    })?;
    Ok(out)
}

/// Equal in time independent of where the bytes differ.
fn ct_eq(a: &Digest32, b: &Digest32) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Auth {
    /// The configured credentials of the feeds `feeds`, checked: digests are
    /// 64 hex digits, each credential has a secret, roles name configured
    /// feeds. Errors name the key.
    pub fn from_config(
        creds: &BTreeMap<String, CredentialConfig>,
        feeds: &[&str],
    ) -> Result<Auth, ConfigError> {
        let mut out = Vec::with_capacity(creds.len());
        for (name, c) in creds {
            let key = |k: &str| format!("credentials.{name}.{k}");
            let token = c
                .token_sha256
                .as_deref()
                .map(|h| parse_digest(&key("token_sha256"), h))
                .transpose()?;
            let password = c
                .password_sha256
                .as_deref()
                .map(|h| parse_digest(&key("password_sha256"), h))
                .transpose()?;
            if token.is_none() && password.is_none() {
                return Err(ConfigError::invalid(
                    format!("credentials.{name}"),
                    "needs token_sha256 or password_sha256",
                ));
            }
            for feed in c.roles.keys() {
                if feed != "*" && !feeds.contains(&feed.as_str()) {
                    return Err(ConfigError::invalid(
                        key(&format!("roles.{feed}")),
                        "names a feed that is not configured",
                    ));
                }
            }
            out.push(Credential {
                name: name.clone(),
                token,
                password,
                roles: c.roles.clone(),
            });
        }
        Ok(Auth { creds: out })
    }

    /// Is any credential configured (and so is authorization enforced)?
    pub fn enabled(&self) -> bool {
        !self.creds.is_empty()
    }

    /// Who sent the request: `Ok(None)` when it carries no credentials,
    /// `Err(Unauthorized)` when it carries wrong ones.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<Option<&Credential>, ApiError> {
        let wrong = || ApiError::Unauthorized("the credentials are not valid".into());
        let Some(header) = authorization else {
            return match access_token {
                Some(token) => self.by_token(token).map(Some).ok_or_else(wrong),
                None => Ok(None),
            };
        };
        let (scheme, value) = header.trim().split_once(' ').unwrap_or((header, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            self.by_token(value.trim()).map(Some).ok_or_else(wrong)
        } else if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64_decode(value.trim()).ok_or_else(wrong)?;
            let text = String::from_utf8(decoded).map_err(|_| wrong())?;
            let (user, password) = text.split_once(':').ok_or_else(wrong)?;
            self.by_password(user, password).map(Some).ok_or_else(wrong)
        } else {
            // Never echoed: without a scheme, the "scheme" is the secret itself.
            Err(ApiError::Unauthorized(
                "unsupported authorization scheme: use Bearer or Basic".into(),
            ))
        }
    }

    fn by_token(&self, token: &str) -> Option<&Credential> {
        let presented: Digest32 = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for c in &self.creds {
            // Compare against every credential; no early exit.
            if c.token.as_ref().is_some_and(|t| ct_eq(t, &presented)) {
                found = Some(c);
            }
        }
        found
    }

    fn by_password(&self, user: &str, password: &str) -> Option<&Credential> {
        let presented: Digest32 = Sha256::digest(password.as_bytes()).into();
        let c = self.creds.iter().find(|c| c.name == user)?;
        c.password
            .as_ref()
            .filter(|p| ct_eq(p, &presented))
            .map(|_| c)
    }

    /// May `who` act with `need` on `feed` (`None`: a feed-independent resource)?
    pub fn authorize(
        &self,
        who: Option<&Credential>,
        feed: Option<&str>,
        need: Role,
    ) -> Result<(), ApiError> {
        if !self.enabled() {
            return Ok(());
        }
        let Some(who) = who else {
            return Err(ApiError::Unauthorized(
                "this resource needs credentials".into(),
            ));
        };
        let has = match feed {
            Some(feed) => who.role(feed),
            None => who.roles.values().max().copied(),
        };
        match has {
            Some(role) if role >= need => Ok(()),
            _ => Err(ApiError::Forbidden(format!(
                "credential {:?} lacks the {} role here ({})",
                who.name,
                need.as_str(),
                match feed {
                    Some(feed) => format!(
                        "roles = {{ {feed} = \"{}\" }} or \"*\" grants it",
                        need.as_str()
                    ),
                    None => format!("a role of \"{}\" on some feed grants it", need.as_str()),
                }
            ))),
        }
    }

    /// May `who` see `feed` in the list of feeds?
    pub fn can_read(&self, who: Option<&Credential>, feed: &str) -> bool {
        !self.enabled() || who.and_then(|c| c.role(feed)).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(
        token: Option<&str>,
        password: Option<&str>,
        roles: &[(&str, Role)],
    ) -> CredentialConfig {
        CredentialConfig {
            token_sha256: token.map(hash_secret),
            password_sha256: password.map(hash_secret),
            roles: roles.iter().map(|(f, r)| (f.to_string(), *r)).collect(),
        }
    }

    fn auth() -> Auth {
        let mut c = BTreeMap::new();
        c.insert(
            "reader".to_string(),
            cred(Some("r-token"), Some("r-pass"), &[("news", Role::Read)]),
        );
        c.insert(
            "boss".to_string(),
            cred(Some("b-token"), None, &[("*", Role::Admin)]),
        );
        Auth::from_config(&c, &["news", "other"]).unwrap()
    }

    #[test]
    fn hashes_and_base64() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            base64_decode("cmVhZGVyOnItcGFzcw==").unwrap(),
            b"reader:r-pass"
        );
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
        assert_eq!(base64_decode("Y"), None);
        assert_eq!(base64_decode("a*b="), None);
    }

    #[test]
    fn authentication() {
        let a = auth();
        assert!(a.enabled());
        let name = |r: Result<Option<&Credential>, ApiError>| r.map(|c| c.map(|c| c.name.clone()));
        assert_eq!(
            name(a.authenticate(Some("Bearer r-token"), None))
                .unwrap()
                .as_deref(),
            Some("reader")
        );
        assert_eq!(
            name(a.authenticate(Some("bearer  b-token"), None))
                .unwrap()
                .as_deref(),
            Some("boss")
        );
        assert_eq!(
            name(a.authenticate(Some("Basic cmVhZGVyOnItcGFzcw=="), None))
                .unwrap()
                .as_deref(),
            Some("reader")
        );
        assert_eq!(
            name(a.authenticate(None, Some("b-token")))
                .unwrap()
                .as_deref(),
            Some("boss")
        );
        assert_eq!(name(a.authenticate(None, None)).unwrap(), None);
        for bad in [
            "Bearer nope",
            "Basic cmVhZGVyOndyb25n",
            "Basic !!!",
            "Digest x",
            "Bearer",
            "r-token",
            "Token r-token",
        ] {
            match a.authenticate(Some(bad), None) {
                Err(ApiError::Unauthorized(detail)) => {
                    assert!(!detail.contains("token"), "{bad}: {detail}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        // boss has no password: Basic never works for it.
        assert!(a
            .authenticate(Some("Basic Ym9zczpiLXRva2Vu"), None)
            .is_err());
        assert!(a.authenticate(None, Some("wrong")).is_err());
    }

    #[test]
    fn roles_per_feed() {
        let a = auth();
        let reader = a.authenticate(Some("Bearer r-token"), None).unwrap();
        let boss = a.authenticate(Some("Bearer b-token"), None).unwrap();
        assert!(a.authorize(reader, Some("news"), Role::Read).is_ok());
        match a.authorize(reader, Some("news"), Role::Write) {
            // The role as the config writes it, and what would grant it.
            Err(ApiError::Forbidden(why)) => assert_eq!(
                why,
                "credential \"reader\" lacks the write role here \
                 (roles = { news = \"write\" } or \"*\" grants it)"
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            a.authorize(reader, Some("other"), Role::Read),
            Err(ApiError::Forbidden(_))
        ));
        assert!(matches!(
            a.authorize(None, Some("news"), Role::Read),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(a.authorize(boss, Some("other"), Role::Admin).is_ok());
        assert!(a.can_read(reader, "news") && !a.can_read(reader, "other"));
        assert!(Auth::default()
            .authorize(None, Some("news"), Role::Admin)
            .is_ok());
    }

    #[test]
    fn config_errors_name_the_key() {
        let mut c = BTreeMap::new();
        c.insert(
            "x".to_string(),
            CredentialConfig {
                token_sha256: Some("abc".into()),
                ..Default::default()
            },
        );
        let e = Auth::from_config(&c, &["news"]).unwrap_err().to_string();
        assert!(e.contains("credentials.x.token_sha256"), "{e}");
        c.insert("x".to_string(), CredentialConfig::default());
        assert!(Auth::from_config(&c, &["news"])
            .unwrap_err()
            .to_string()
            .contains("credentials.x"));
        c.insert(
            "x".to_string(),
            cred(Some("t"), None, &[("nope", Role::Read)]),
        );
        assert!(Auth::from_config(&c, &["news"])
            .unwrap_err()
            .to_string()
            .contains("roles.nope"));
    }
}
