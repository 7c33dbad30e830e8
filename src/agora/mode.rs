use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A recording mode. Agora's URLs call composite recording `mix`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One file set per user stream.
    Individual,
    /// All streams mixed into one layout (`mix` in Agora's URLs).
    #[serde(alias = "mix")]
    Composite,
    /// A web page rendered and recorded (acquire scene 1).
    Web,
}

impl Mode {
    /// The `{mode}` segment of Agora's URLs.
    pub fn url_segment(self) -> &'static str {
        match self {
            Mode::Individual => "individual",
            Mode::Composite => "mix",
            Mode::Web => "web",
        }
    }

    /// The acquire `scene` this mode needs: web page recording is scene 1,
    /// RTC recording (individual and composite) scene 0.
    pub fn acquire_scene(self) -> u8 {
        match self {
            Mode::Web => 1,
            Mode::Individual | Mode::Composite => 0,
        }
    }

    /// Parses the `{mode}` URL segment.
    pub fn from_url_segment(segment: &str) -> Option<Mode> {
        match segment {
            "individual" => Some(Mode::Individual),
            "mix" => Some(Mode::Composite),
            "web" => Some(Mode::Web),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Individual => "individual",
            Mode::Composite => "composite",
            Mode::Web => "web",
        })
    }
}
