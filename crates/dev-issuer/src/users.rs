//! The development users: who may log in, with which password, and which API permissions each
//! holds (Auth0's RBAC: permissions are assigned to users, and a token gets the ones it asks for).
//!
//! They come from a JSON file (default `dev-users.json` at the project root) so that a newcomer can
//! read and extend them. Passwords sit there in clear text on purpose: this issuer is for
//! development only. Password checks are constant-time anyway, so the code stays a fair model of
//! the real thing.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::{constant_time, digest};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

/// One development user, as written in the users file.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// The login name (an e-mail address); matched case-insensitively.
    pub username: String,
    password: String,
    /// The stable subject identifier (`sub`), e.g. `auth0|alice`.
    pub sub: String,
    /// Full name (`name`).
    pub name: String,
    /// Short name (`nickname`).
    pub nickname: String,
    /// E-mail address; defaults to `username`.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the e-mail counts as verified (default `true`).
    #[serde(default = "default_true")]
    pub email_verified: bool,
    /// Picture URL; defaults to a generated `data:` image (no outside host).
    #[serde(default)]
    pub picture: Option<String>,
    /// The API permissions this user holds (Auth0: User → Permissions), e.g. `read:messages`.
    /// The OIDC scopes (`openid profile email`) are not listed: everyone is granted them.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// The field of older users files; refused with a pointer to `permissions`.
    #[serde(default)]
    scopes: Option<serde_json::Value>,
}

fn default_true() -> bool {
    true
}

// Hand-written so that the password never reaches a log line.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (username, sub, permissions) = (&self.username, &self.sub, &self.permissions);
        write!(
            f,
            "User {{ username: {username:?}, sub: {sub:?}, permissions: {permissions:?}, .. }}"
        )
    }
}

impl User {
    /// The e-mail address (`email`, else the username).
    pub fn email(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.username)
    }

    /// The picture URL: the file's, or a generated one that needs no outside host (an SVG
    /// circle with the user's initial, as a `data:` URL).
    pub fn picture_url(&self) -> String {
        if let Some(picture) = &self.picture {
            return picture.clone();
        }
        let initial = self
            .name
            .chars()
            .find(|c| c.is_ascii_alphanumeric())
            .map_or('?', |c| c.to_ascii_uppercase());
        let svg = format!(
            "<svg xmlns='http://www.w3.org/2000/svg' width='64' height='64'><circle cx='32' cy='32' r='32' fill='#4f46e5'/><text x='32' y='43' text-anchor='middle' font-family='sans-serif' font-size='30' fill='#fff'>{initial}</text></svg>"
        );
        format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg))
    }

    /// Whether the user holds the API permission `permission`.
    pub fn holds(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    users: Vec<User>,
}

/// Why the users file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// The file cannot be read.
    #[error("cannot read users file {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not the expected JSON shape.
    #[error("users file {path} is not valid: {problem}")]
    Invalid {
        /// The path.
        path: String,
        /// What is wrong.
        problem: String,
    },
}

/// The loaded users, indexed by lower-cased username. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Users {
    by_name: Arc<HashMap<String, Arc<User>>>,
}

impl Users {
    /// Reads and validates the users file.
    pub fn load(path: &Path) -> Result<Self, UsersError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| UsersError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::from_json(&text).map_err(|problem| UsersError::Invalid {
            path: shown,
            problem,
        })
    }

    /// Parses and validates the users file's text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let file: UsersFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.users.is_empty() {
            return Err("it lists no users".into());
        }
        let mut by_name = HashMap::new();
        let mut subs = HashSet::new();
        for user in file.users {
            if user.username.trim().is_empty() || user.password.is_empty() {
                return Err("every user needs a non-empty username and password".into());
            }
            if user.sub.trim().is_empty() {
                return Err(format!("user {:?} has an empty sub", user.username));
            }
            if user.scopes.is_some() {
                return Err(format!(
                    "user {:?} has \"scopes\"; list the user's API permissions in \"permissions\" instead (e.g. [\"read:messages\"]); openid, profile and email are granted to everyone",
                    user.username
                ));
            }
            if let Some(bad) = user
                .permissions
                .iter()
                .find(|s| s.is_empty() || s.contains(' '))
            {
                return Err(format!(
                    "user {:?} has permission {bad:?}; permissions are single words",
                    user.username
                ));
            }
            if !subs.insert(user.sub.clone()) {
                return Err(format!("sub {:?} is used twice", user.sub));
            }
            let key = user.username.to_lowercase();
            if by_name.insert(key, Arc::new(user)).is_some() {
                return Err("a username is listed twice".into());
            }
        }
        Ok(Self {
            by_name: Arc::new(by_name),
        })
    }

    /// The user called `username` (case-insensitive).
    pub fn find(&self, username: &str) -> Option<Arc<User>> {
        self.by_name.get(&username.to_lowercase()).cloned()
    }

    /// The user whose `sub` is `sub`.
    pub fn find_by_sub(&self, sub: &str) -> Option<Arc<User>> {
        self.by_name.values().find(|u| u.sub == sub).cloned()
    }

    /// The user if `password` is theirs. The comparison takes the same time whether the user
    /// exists, and whatever the password's length (both sides are hashed first).
    pub fn authenticate(&self, username: &str, password: &str) -> Option<Arc<User>> {
        let user = self.find(username);
        let expected = user
            .as_ref()
            .map_or("\u{0}no such user", |u| u.password.as_str());
        let a = digest::digest(&digest::SHA256, expected.as_bytes());
        let b = digest::digest(&digest::SHA256, password.as_bytes());
        let same = constant_time::verify_slices_are_equal(a.as_ref(), b.as_ref()).is_ok();
        user.filter(|_| same)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"{"users":[
        {"username":"a@x.test","password":"pw-a","sub":"auth0|a","name":"A","nickname":"a","permissions":["read:messages"]},
        {"username":"b@x.test","password":"pw-b","sub":"auth0|b","name":"B","nickname":"b","permissions":[]}
    ]}"#;

    #[test]
    fn right_password_authenticates_case_insensitive_username() {
        let users = Users::from_json(TWO).expect("valid");
        assert_eq!(
            users
                .authenticate("A@X.test", "pw-a")
                .map(|u| u.sub.clone()),
            Some("auth0|a".to_owned())
        );
    }

    #[test]
    fn wrong_password_or_unknown_user_does_not_authenticate() {
        let users = Users::from_json(TWO).expect("valid");
        assert!(users.authenticate("a@x.test", "pw-b").is_none());
        assert!(users.authenticate("nobody@x.test", "pw-a").is_none());
    }

    #[test]
    fn duplicate_sub_is_refused() {
        let text = TWO.replace("auth0|b", "auth0|a");
        assert!(
            Users::from_json(&text)
                .expect_err("must refuse")
                .contains("used twice")
        );
    }

    #[test]
    fn debug_output_hides_the_password() {
        let users = Users::from_json(TWO).expect("valid");
        let shown = format!("{:?}", users.find("a@x.test").expect("exists"));
        assert!(!shown.contains("pw-a"), "{shown}");
    }

    #[test]
    fn project_users_file_has_alice_and_bob() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dev-users.json");
        let users = Users::load(&path).expect("the project's users file is valid");
        let alice = users
            .authenticate("alice@example.com", "alice-password")
            .expect("alice logs in");
        assert_eq!(alice.permissions, ["read:messages"]);
        let bob = users
            .authenticate("bob@example.com", "bob-password")
            .expect("bob logs in");
        assert!(bob.permissions.is_empty());
    }

    #[test]
    fn an_old_users_file_with_scopes_is_refused_with_the_fix() {
        let text = TWO.replace("\"permissions\":[]", "\"scopes\":[\"openid\"]");
        let problem = Users::from_json(&text).expect_err("must refuse");
        assert!(problem.contains("\"permissions\" instead"), "{problem}");
    }
}
