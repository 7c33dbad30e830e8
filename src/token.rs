//! Agora's AccessToken2 ("007") for the RTC service: the token a recorder
//! joins its channel with, built from the App ID and App Certificate
//! exactly as Agora's own token libraries build it, and read back.
//!
//! A plan's `rtc_token` asks for one; [`Minting`] is that request, and the
//! session mints with it just before `start`, for the uid it starts with.

mod wire;

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use miniz_oxide::deflate::core::{
    CompressionStrategy, CompressorOxide, TDEFLFlush, TDEFLStatus, compress,
    create_comp_flags_from_zip_params,
};
use rand::Rng as _;
use sha2::Sha256;

use crate::agora::Secret;
use wire::{Reader, Writer};

/// The environment variable holding the App Certificate when a plan's
/// `rtc_token` does not name one.
pub const ENV_APP_CERTIFICATE: &str = "AGORA_APP_CERTIFICATE";

/// The longest lifetime Agora gives an RTC token.
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// What every AccessToken2 starts with.
const VERSION: &str = "007";
/// The RTC service's type in a token (RTM is 2, and so on).
const SERVICE_RTC: u16 = 1;
/// RTC privilege: joining the channel, all a recorder needs (it publishes
/// nothing).
pub const PRIVILEGE_JOIN_CHANNEL: u16 = 1;
/// RTC privilege: publishing an audio stream.
pub const PRIVILEGE_PUBLISH_AUDIO: u16 = 2;
/// RTC privilege: publishing a video stream.
pub const PRIVILEGE_PUBLISH_VIDEO: u16 = 3;
/// RTC privilege: publishing a data stream.
pub const PRIVILEGE_PUBLISH_DATA_STREAM: u16 = 4;
/// zlib level 6, the default of Python's `zlib.compress`, which produced
/// Agora's published test vectors.
const ZLIB_LEVEL: i32 = 6;
/// How far [`decode`] inflates: a real token holds a couple of hundred
/// bytes, so anything larger is not one (and not worth the memory).
const MAX_CONTENT: usize = 64 * 1024;
/// The salt's range in Agora's libraries.
const SALT_RANGE: std::ops::RangeInclusive<u32> = 1..=99_999_999;

/// Why a token could not be built or read. No variant carries the
/// certificate or a token: these messages end up in logs.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the App ID must be 32 hexadecimal characters")]
    AppId,
    #[error("the App Certificate must be 32 hexadecimal characters")]
    Certificate,
    #[error("the {field} is {len} bytes; a token field holds at most 65535")]
    TooLong { field: &'static str, len: usize },
    #[error("a lifetime of {seconds} s is longer than Agora's 24 h")]
    Lifetime { seconds: u64 },
    #[error("the time {time} cannot be a token's issue time")]
    IssueTime { time: DateTime<Utc> },
    #[error("an AccessToken2 starts with `007`")]
    Version,
    #[error("the token is not base64: {0}")]
    Base64(#[from] base64::DecodeError),
    #[error("the token does not inflate: {0}")]
    Inflate(String),
    #[error("the token ends inside its {what}")]
    Truncated { what: &'static str },
    #[error("the token's {what} is not UTF-8")]
    Utf8 { what: &'static str },
    #[error("the token holds {count} services; only a token for RTC alone is read")]
    ServiceCount { count: u16 },
    #[error("the token holds service type {service}; only RTC (1) is read")]
    Service { service: u16 },
    #[error("{len} bytes follow the token's last service")]
    Trailing { len: usize },
}

/// The content of an RTC token: everything it says, without the signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtcToken {
    /// The App ID, 32 hexadecimal characters.
    pub app_id: String,
    /// Unix seconds.
    pub issued_at: u32,
    /// Seconds after `issued_at` that the token stays valid.
    pub expire: u32,
    /// Makes two tokens issued in the same second differ.
    pub salt: u32,
    pub channel: String,
    /// The uid as the token names it: decimal, or empty for uid 0, which
    /// Agora reads as "any uid".
    pub uid: String,
    /// Privilege → seconds after `issued_at` that it lasts.
    pub privileges: BTreeMap<u16, u32>,
}

impl RtcToken {
    /// A token letting `uid` join `channel` for `lifetime` seconds from
    /// `issued_at`: what a recorder needs. The uid `"0"` becomes `""`, as
    /// in Agora's builders.
    pub fn join(
        app_id: &str,
        channel: &str,
        uid: &str,
        issued_at: u32,
        lifetime: u32,
        salt: u32,
    ) -> RtcToken {
        RtcToken {
            app_id: app_id.to_owned(),
            issued_at,
            expire: lifetime,
            salt,
            channel: channel.to_owned(),
            uid: if uid == "0" {
                String::new()
            } else {
                uid.to_owned()
            },
            privileges: BTreeMap::from([(PRIVILEGE_JOIN_CHANNEL, lifetime)]),
        }
    }

    /// The token signed with `certificate`: `007` and the base64 of the
    /// zlib-compressed signature and content.
    pub fn build(&self, certificate: &Secret) -> Result<Secret, TokenError> {
        let compressed = zlib(&self.signed_content(certificate)?);
        Ok(Secret::new(format!(
            "{VERSION}{}",
            STANDARD.encode(compressed)
        )))
    }

    /// `str(signature) | signing_info`: what [`RtcToken::build`]
    /// compresses, and what [`content`] returns for its token.
    pub fn signed_content(&self, certificate: &Secret) -> Result<Vec<u8>, TokenError> {
        if !is_hex_id(&self.app_id) {
            return Err(TokenError::AppId);
        }
        let signing_info = self.signing_info()?;
        let signature = sign(certificate, self.issued_at, self.salt, &signing_info)?;
        let mut content = Writer::default();
        content.bytes("signature", &signature)?;
        let mut content = content.into_bytes();
        content.extend_from_slice(&signing_info);
        Ok(content)
    }

    /// `str(appId) | u32(issueTs) | u32(expire) | u32(salt) | u16(1) |
    /// u16(RTC) | map(privileges) | str(channel) | str(uid)`.
    fn signing_info(&self) -> Result<Vec<u8>, TokenError> {
        let mut info = Writer::default();
        info.bytes("App ID", self.app_id.as_bytes())?;
        info.u32(self.issued_at);
        info.u32(self.expire);
        info.u32(self.salt);
        info.u16(1);
        info.u16(SERVICE_RTC);
        info.map("privileges", &self.privileges)?;
        info.bytes("channel name", self.channel.as_bytes())?;
        info.bytes("uid", self.uid.as_bytes())?;
        Ok(info.into_bytes())
    }
}

/// A token read back: its content and the signature it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub token: RtcToken,
    pub signature: Vec<u8>,
}

impl Decoded {
    /// Whether the token was signed with `certificate`.
    pub fn is_signed_with(&self, certificate: &Secret) -> bool {
        self.token
            .signing_info()
            .and_then(|info| sign(certificate, self.token.issued_at, self.token.salt, &info))
            .is_ok_and(|signature| signature.as_slice() == self.signature.as_slice())
    }
}

/// The decompressed bytes of a token: its signature and content. Two
/// libraries' tokens for the same input differ in their zlib bytes but not
/// here, so this is how tokens are compared.
pub fn content(token: &str) -> Result<Vec<u8>, TokenError> {
    let body = token.strip_prefix(VERSION).ok_or(TokenError::Version)?;
    let compressed = STANDARD.decode(body)?;
    miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&compressed, MAX_CONTENT)
        .map_err(|error| TokenError::Inflate(error.to_string()))
}

/// Reads an RTC token. Tokens for other services, or for several, are
/// refused: recplan has no use for them.
pub fn decode(token: &str) -> Result<Decoded, TokenError> {
    let content = content(token)?;
    let mut reader = Reader::new(&content);
    let signature = reader.bytes("signature")?.to_vec();
    let app_id = reader.string("App ID")?;
    let issued_at = reader.u32("issue time")?;
    let expire = reader.u32("expiry")?;
    let salt = reader.u32("salt")?;
    let count = reader.u16("service count")?;
    if count != 1 {
        return Err(TokenError::ServiceCount { count });
    }
    let service = reader.u16("service type")?;
    if service != SERVICE_RTC {
        return Err(TokenError::Service { service });
    }
    let privileges = reader.map("privileges")?;
    let channel = reader.string("channel name")?;
    let uid = reader.string("uid")?;
    let left = reader.remaining();
    if left > 0 {
        return Err(TokenError::Trailing { len: left });
    }
    Ok(Decoded {
        token: RtcToken {
            app_id,
            issued_at,
            expire,
            salt,
            channel,
            uid,
            privileges,
        },
        signature,
    })
}

/// A plan's request for minted tokens: the certificate to sign with and
/// how long each token lasts. Its `Debug` shows the certificate as `***`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Minting {
    certificate: Secret,
    lifetime: Duration,
}

impl Minting {
    pub fn new(certificate: Secret, lifetime: Duration) -> Minting {
        Minting {
            certificate,
            lifetime,
        }
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// The token `uid` joins `channel` of `app_id` with, valid for the
    /// lifetime from `issued_at`. The time and the salt are the caller's,
    /// so that a test can repeat a token exactly.
    pub fn mint(
        &self,
        app_id: &str,
        channel: &str,
        uid: &str,
        issued_at: u32,
        salt: u32,
    ) -> Result<Secret, TokenError> {
        let seconds = self.lifetime.as_secs();
        if self.lifetime > MAX_LIFETIME {
            return Err(TokenError::Lifetime { seconds });
        }
        // At most 24 h, so it fits.
        let lifetime = u32::try_from(seconds).map_err(|_| TokenError::Lifetime { seconds })?;
        RtcToken::join(app_id, channel, uid, issued_at, lifetime, salt).build(&self.certificate)
    }

    /// [`Minting::mint`] issued at `now`, with a random salt.
    pub fn mint_at(
        &self,
        app_id: &str,
        channel: &str,
        uid: &str,
        now: DateTime<Utc>,
    ) -> Result<Secret, TokenError> {
        let issued_at =
            u32::try_from(now.timestamp()).map_err(|_| TokenError::IssueTime { time: now })?;
        let salt = rand::rng().random_range(SALT_RANGE);
        self.mint(app_id, channel, uid, issued_at, salt)
    }
}

/// Whether `id` is 32 hexadecimal characters, as App IDs and App
/// Certificates are.
pub fn is_hex_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `bytes` as one zlib stream, the way zlib's `compress` writes it: a
/// token is one deflate block, and zlib keeps whichever of a dynamic, a
/// fixed-Huffman or a stored block is shortest. miniz's default picks
/// dynamic or stored, never fixed, which for a token's couple of hundred
/// bytes of mostly random signature is the shortest: without it the token
/// is stored, ~15% longer than Agora's builders make it.
fn zlib(bytes: &[u8]) -> Vec<u8> {
    let dynamic = compress_zlib(bytes, CompressionStrategy::Default);
    let fixed = compress_zlib(bytes, CompressionStrategy::Fixed);
    if fixed.len() < dynamic.len() {
        fixed
    } else {
        dynamic
    }
}

fn compress_zlib(mut bytes: &[u8], strategy: CompressionStrategy) -> Vec<u8> {
    // A window size above 0 asks for the zlib header and checksum.
    let flags = create_comp_flags_from_zip_params(ZLIB_LEVEL, 15, strategy as i32);
    let mut compressor = CompressorOxide::new(flags);
    // A stored block's overhead is 5 bytes and the zlib wrapper's 6.
    let mut out = vec![0; bytes.len() + 64];
    let mut written = 0;
    loop {
        let (status, read, wrote) = compress(
            &mut compressor,
            bytes,
            &mut out[written..],
            TDEFLFlush::Finish,
        );
        written += wrote;
        bytes = &bytes[read.min(bytes.len())..];
        match status {
            TDEFLStatus::Okay => out.resize(out.len() * 2, 0),
            // `Done`; the other statuses are for bad parameters or a
            // callback, neither of which is used here.
            _ => break,
        }
    }
    out.truncate(written);
    out
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC takes a key of any length; `new_from_slice` only fails for
    // algorithms with a fixed key size.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The signing key, in two rounds: the certificate keyed by the issue
/// time (k1), then that keyed by the salt (k2).
fn signing_key(certificate: &Secret, issued_at: u32, salt: u32) -> Result<[u8; 32], TokenError> {
    if !is_hex_id(certificate.expose()) {
        return Err(TokenError::Certificate);
    }
    Ok(hmac(
        &salt.to_le_bytes(),
        &first_key(certificate, issued_at),
    ))
}

/// k1: the certificate's ASCII text keyed by the issue time.
fn first_key(certificate: &Secret, issued_at: u32) -> [u8; 32] {
    hmac(&issued_at.to_le_bytes(), certificate.expose().as_bytes())
}

fn sign(
    certificate: &Secret,
    issued_at: u32,
    salt: u32,
    signing_info: &[u8],
) -> Result<[u8; 32], TokenError> {
    Ok(hmac(
        &signing_key(certificate, issued_at, salt)?,
        signing_info,
    ))
}

#[cfg(test)]
mod tests;
