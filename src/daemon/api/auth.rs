//! Who may use the control API: the bearer of one token, from
//! `RECPLAN_API_TOKEN` or a file only its owner can read. Without a token
//! the API refuses everyone.

use std::path::Path;

use axum::http::{HeaderMap, StatusCode, header};
use sha2::{Digest as _, Sha256};

/// The API's token. Only its digest is kept, so that comparing takes the
/// same time whatever the guess and however long it is.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Why a request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No token is configured: the API is off (403).
    Disabled,
    /// No token, or the wrong one, was presented (401).
    Unauthorized,
}

impl Refusal {
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::Disabled => StatusCode::FORBIDDEN,
            Refusal::Unauthorized => StatusCode::UNAUTHORIZED,
        }
    }

    pub fn message(self) -> (&'static str, &'static str) {
        match self {
            Refusal::Disabled => (
                "the control API is off",
                "start the daemon with RECPLAN_API_TOKEN set, or with --api-token-file FILE",
            ),
            Refusal::Unauthorized => (
                "missing or wrong API token",
                "send `Authorization: Bearer TOKEN` with the daemon's token",
            ),
        }
    }
}

impl Token {
    pub fn new(secret: &str) -> Result<Token, String> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err("the API token is empty".to_owned());
        }
        Ok(Token {
            digest: Sha256::digest(secret.as_bytes()).into(),
        })
    }

    /// The token configured by `RECPLAN_API_TOKEN` (`from_env`) or in
    /// `file`, which must be readable by its owner only; none when neither
    /// is given.
    pub fn configured(
        from_env: Option<&str>,
        file: Option<&Path>,
    ) -> Result<Option<Token>, String> {
        match (from_env, file) {
            (Some(_), Some(file)) => Err(format!(
                "both RECPLAN_API_TOKEN and --api-token-file {} are set; keep one",
                file.display()
            )),
            (Some(secret), None) => Token::new(secret).map(Some),
            (None, Some(file)) => Token::read(file).map(Some),
            (None, None) => Ok(None),
        }
    }

    fn read(file: &Path) -> Result<Token, String> {
        use std::os::unix::fs::PermissionsExt as _;
        let shown = file.display();
        let metadata =
            std::fs::metadata(file).map_err(|error| format!("cannot read {shown}: {error}"))?;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{shown} may be read by others (mode {mode:04o}): `chmod 600 {shown}`"
            ));
        }
        let text = std::fs::read_to_string(file)
            .map_err(|error| format!("cannot read {shown}: {error}"))?;
        Token::new(&text).map_err(|error| format!("{shown}: {error}"))
    }

    /// Whether `presented` is the token, in time that does not depend on
    /// how much of it is right.
    fn matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest
            .iter()
            .zip(self.digest)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
    }
}

/// Whether a request with `headers` may use the API guarded by `token`.
pub fn authorize(token: Option<&Token>, headers: &HeaderMap) -> Result<(), Refusal> {
    let token = token.ok_or(Refusal::Disabled)?;
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or(Refusal::Unauthorized)?;
    if token.matches(presented.trim()) {
        Ok(())
    } else {
        Err(Refusal::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(authorization).unwrap(),
        );
        headers
    }

    #[test]
    fn only_the_bearer_of_the_token_is_let_in() {
        let token = Token::new("s3cret-token\n").unwrap();
        let token = Some(&token);
        assert_eq!(authorize(token, &with("Bearer s3cret-token")), Ok(()));
        let refused = [
            HeaderMap::new(),
            with("Bearer s3cret-tokeN"),
            with("Bearer s3cret"),
            with("Bearer "),
            with("Basic s3cret-token"),
            with("s3cret-token"),
        ];
        for headers in refused {
            assert_eq!(
                authorize(token, &headers),
                Err(Refusal::Unauthorized),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn without_a_token_everyone_is_refused() {
        assert_eq!(
            authorize(None, &with("Bearer anything")),
            Err(Refusal::Disabled)
        );
        assert_eq!(authorize(None, &HeaderMap::new()), Err(Refusal::Disabled));
    }

    #[test]
    fn a_token_file_others_may_read_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "from-a-file\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = Token::configured(None, Some(&file)).unwrap_err();
        assert!(refused.contains("mode 0644"), "{refused}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let token = Token::configured(None, Some(&file)).unwrap().unwrap();
        assert!(token.matches("from-a-file"));
        assert!(Token::configured(Some("x"), Some(&file)).is_err());
        assert!(Token::configured(Some("  "), None).is_err());
        assert!(Token::configured(None, None).unwrap().is_none());
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
    }
}
