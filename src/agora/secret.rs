use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a secret prints as, wherever it is printed.
const MASK: &str = "***";

/// A credential or key: serialized verbatim into request bodies, but printed
/// as `***` by `Debug` and `Display`, so a log line or an error that formats
/// it cannot leak it.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// The request fields whose values are secrets, wherever they nest: the RTC
/// token, storage keys and STS token, and the media decryption secret and
/// salt.
pub const SECRET_FIELDS: &[&str] = &[
    "token",
    "accessKey",
    "secretKey",
    "stsToken",
    "secret",
    "salt",
];

/// Replaces the value of every [`SECRET_FIELDS`] key in `body` with `***`,
/// for showing a request body to a person.
pub fn mask_secrets(body: &mut serde_json::Value) {
    match body {
        serde_json::Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if SECRET_FIELDS.contains(&key.as_str()) && !value.is_null() {
                    *value = serde_json::Value::String(MASK.to_owned());
                } else {
                    mask_secrets(value);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("s3cr3t-value");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(secret.expose(), "s3cr3t-value");
    }

    #[test]
    fn serializes_verbatim_for_the_wire() {
        let json = serde_json::to_string(&Secret::new("tok")).unwrap();
        assert_eq!(json, "\"tok\"");
    }

    #[test]
    fn masks_nested_secret_fields_only() {
        let mut body = serde_json::json!({
            "token": "t",
            "storageConfig": {"accessKey": "a", "secretKey": "s", "bucket": "b"},
            "recordingConfig": {"secret": "x", "salt": "y", "maxIdleTime": 30},
        });
        mask_secrets(&mut body);
        assert_eq!(
            body,
            serde_json::json!({
                "token": "***",
                "storageConfig": {"accessKey": "***", "secretKey": "***", "bucket": "b"},
                "recordingConfig": {"secret": "***", "salt": "***", "maxIdleTime": 30},
            })
        );
    }
}
