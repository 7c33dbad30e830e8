//! The Cloud Recording REST client: one `send` that builds every request and
//! turns every non-success into an [`ApiError`], and one small method per
//! endpoint over it.
//!
//! Nothing here retries or paces calls; a layer above decides that from the
//! error's classification.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::call::{Acquire, Call, OnRecording, Query, RecordingRequest, Start};
use super::error::{ApiError, ConfigError};
use super::request::AcquireClientRequest;
use super::response::{AcquireResponse, QueryResponse};
use super::{Endpoint, Mode, Secret};

/// Agora's older documents require exactly this string and answer error 8
/// or 401 to anything else; the current ones accept it too.
const CONTENT_TYPE_JSON: &str = "application/json;charset=utf-8";

/// The API base URL (optional; default [`ApiBase::DEFAULT`]).
pub const ENV_API_BASE: &str = "AGORA_API_BASE";
/// The RESTful API customer ID (basic auth user).
pub const ENV_CUSTOMER_ID: &str = "AGORA_CUSTOMER_ID";
/// The RESTful API customer secret (basic auth password).
pub const ENV_CUSTOMER_SECRET: &str = "AGORA_CUSTOMER_SECRET";
/// The App ID recordings run under.
pub const ENV_APP_ID: &str = "AGORA_APP_ID";

/// Where Agora's API lives: `https://`, or plain `http://` to a loopback
/// host only (the simulator), so credentials never cross a network in clear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiBase(Url);

impl ApiBase {
    /// Agora's global domain.
    pub const DEFAULT: &'static str = "https://api.agora.io";

    /// Parses and checks a base URL; a trailing slash is tolerated.
    pub fn parse(input: &str) -> Result<ApiBase, ConfigError> {
        let mut url = Url::parse(input.trim()).map_err(|error| ConfigError::InvalidBase {
            // The input is not echoed: it failed to parse, so there is no
            // telling where a password in it would be.
            url: None,
            problem: error.to_string(),
        })?;
        let invalid = |url: &Url, problem: &str| ConfigError::InvalidBase {
            url: Some(without_user_info(url)),
            problem: problem.to_owned(),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                &url,
                "credentials belong in AGORA_CUSTOMER_ID and AGORA_CUSTOMER_SECRET, not in the URL",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid(&url, "a query or fragment is not allowed"));
        }
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(invalid(
                    &url,
                    "plain http:// is allowed only to a loopback host \
                     (127.0.0.0/8, ::1, localhost); use https://",
                ));
            }
            _ => {
                return Err(invalid(
                    &url,
                    "the scheme must be https:// (or http:// to loopback)",
                ));
            }
        }
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&path);
        Ok(ApiBase(url))
    }

    /// The base URL, without a trailing slash.
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    /// Whether the host is this machine.
    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.0)
    }

    /// The host name or address, as written (an IPv6 address in brackets).
    pub fn host(&self) -> Option<&str> {
        self.0.host_str()
    }

    /// The base followed by `segments`, each percent-encoded as needed, so
    /// a `/` in an id cannot add a segment. (A segment that is exactly `.`
    /// or `..` is dropped, as URLs cannot carry one; Agora's ids never are.)
    fn join(&self, segments: &[&str]) -> Url {
        let mut url = self.0.clone();
        // Only URLs that cannot be a base refuse segments; http(s) always can.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }
}

impl Default for ApiBase {
    fn default() -> Self {
        ApiBase(Url::parse(ApiBase::DEFAULT).expect("the default base is a valid URL"))
    }
}

impl FromStr for ApiBase {
    type Err = ConfigError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        ApiBase::parse(input)
    }
}

impl fmt::Display for ApiBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn without_user_info(url: &Url) -> String {
    let mut url = url.clone();
    // Both only fail for URLs without a host, which have no user info.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

/// The RESTful API key pair used for HTTP basic auth. `Debug` shows the
/// customer ID and masks the secret.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The basic-auth user; not a secret.
    pub customer_id: String,
    /// The basic-auth password; sent only in the `Authorization` header.
    pub customer_secret: Secret,
}

impl Credentials {
    /// A key pair from its two halves.
    pub fn new(customer_id: impl Into<String>, customer_secret: Secret) -> Credentials {
        Credentials {
            customer_id: customer_id.into(),
            customer_secret,
        }
    }
}

/// Everything a [`Client`] needs.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Where requests go.
    pub base: ApiBase,
    /// The App ID in every URL.
    pub app_id: String,
    /// HTTP basic auth for every request.
    pub credentials: Credentials,
    /// The limit for each call, from connecting to the end of the body.
    pub timeout: Duration,
}

impl ClientConfig {
    /// A synchronous `stop` answers only after the upload, which Agora lets
    /// take 20 s; the default must outlast that.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// Reads `AGORA_API_BASE` (optional), `AGORA_CUSTOMER_ID`,
    /// `AGORA_CUSTOMER_SECRET` and `AGORA_APP_ID` through `lookup`, e.g.
    /// `|name| std::env::var(name).ok()`. An empty value counts as unset;
    /// every missing variable is named in the error.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<ClientConfig, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let base = match get(ENV_API_BASE) {
            Some(base) => ApiBase::parse(&base)?,
            None => ApiBase::default(),
        };
        match (
            get(ENV_CUSTOMER_ID),
            get(ENV_CUSTOMER_SECRET),
            get(ENV_APP_ID),
        ) {
            (Some(customer_id), Some(secret), Some(app_id)) => Ok(ClientConfig {
                base,
                app_id,
                credentials: Credentials::new(customer_id, Secret::new(secret)),
                timeout: ClientConfig::DEFAULT_TIMEOUT,
            }),
            (customer_id, secret, app_id) => {
                let names = [
                    (ENV_CUSTOMER_ID, customer_id.is_none()),
                    (ENV_CUSTOMER_SECRET, secret.is_none()),
                    (ENV_APP_ID, app_id.is_none()),
                ];
                Err(ConfigError::MissingEnv {
                    names: names
                        .into_iter()
                        .filter_map(|(name, missing)| missing.then_some(name))
                        .collect(),
                })
            }
        }
    }
}

/// A started recording: what every call after `start` addresses, and what
/// the state store keeps to resume or stop it later.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Recording {
    /// The mode it was started in; its URL segment is in every path.
    pub mode: Mode,
    /// From `acquire`.
    pub resource_id: String,
    /// From `start`.
    pub sid: String,
    /// The channel (web mode: the session key), as sent to `acquire`.
    pub cname: String,
    /// The recorder's uid, as sent to `acquire`.
    pub uid: String,
}

/// How many requests one [`Client`] and its clones have in flight at most;
/// the rest wait their turn in order. Each request in flight holds an HTTP/1.1
/// connection (about 30 KB of buffers) and a file descriptor, and Agora's
/// rate limit lets far fewer through per second than this many at its
/// latency, so the bound costs no throughput while keeping a daemon with
/// thousands of recordings at once at a few dozen connections.
pub const MAX_IN_FLIGHT: usize = 64;

/// The Cloud Recording client. Cloning is cheap: clones share one connection
/// pool, one bound on requests in flight and one configuration.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    in_flight: Arc<Semaphore>,
    config: Arc<ClientConfig>,
}

impl Client {
    /// A client over its own connection pool (rustls, no redirects).
    pub fn new(config: ClientConfig) -> Result<Client, ConfigError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("recplan/", env!("CARGO_PKG_VERSION")))
            // Agora does not redirect; following one would re-send the
            // credentials, and a POST, somewhere unexpected.
            .redirect(reqwest::redirect::Policy::none())
            // Idle connections beyond those in flight at once would never be
            // reused before the next burst opens new ones anyway.
            .pool_max_idle_per_host(MAX_IN_FLIGHT);
        if config.base.is_loopback() {
            // A proxy from the environment cannot reach this machine's
            // loopback on our behalf.
            builder = builder.no_proxy();
        }
        let http = builder
            .build()
            .map_err(|source| ConfigError::HttpClient { source })?;
        Ok(Client {
            http,
            in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
            config: Arc::new(config),
        })
    }

    /// The same client for another App ID (a plan may name its own).
    #[must_use]
    pub fn with_app_id(&self, app_id: impl Into<String>) -> Client {
        let mut config = ClientConfig::clone(&self.config);
        config.app_id = app_id.into();
        Client {
            http: self.http.clone(),
            in_flight: Arc::clone(&self.in_flight),
            config: Arc::new(config),
        }
    }

    /// The same client for another API base, sharing the connection pool:
    /// what the retry layer switches to when Agora's domain is unreachable.
    #[must_use]
    pub fn with_base(&self, base: ApiBase) -> Client {
        let mut config = ClientConfig::clone(&self.config);
        config.base = base;
        Client {
            http: self.http.clone(),
            in_flight: Arc::clone(&self.in_flight),
            config: Arc::new(config),
        }
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// `POST acquire`: reserves a resource for one `start` within 5 minutes.
    pub async fn acquire(
        &self,
        cname: &str,
        uid: &str,
        request: &AcquireClientRequest,
    ) -> Result<AcquireResponse, ApiError> {
        self.send(&Acquire {
            cname,
            uid,
            request,
        })
        .await
    }

    /// `POST start`: the recording, addressed by the ids sent.
    pub async fn start(&self, start: &Start<'_>) -> Result<Recording, ApiError> {
        let answer = self.send(start).await?;
        Ok(start.recording(&answer.sid))
    }

    /// `GET query`.
    pub async fn query(&self, recording: &Recording) -> Result<QueryResponse, ApiError> {
        self.send(&Query(recording)).await
    }

    /// `POST update`, `updateLayout` or `stop` on a started recording.
    pub async fn on_recording<R: RecordingRequest + ?Sized>(
        &self,
        recording: &Recording,
        request: &R,
    ) -> Result<R::Answer, ApiError> {
        self.send(&OnRecording::new(recording, request)).await
    }

    /// Sends `call` and parses a 200 as its answer; anything else becomes
    /// an [`ApiError`]. Agora reports some failures as 201 and 206, so only
    /// 200 is success. Older documents list a `code` in 200 bodies too; it
    /// does not make a 200 a failure (UNCONFIRMED what it would hold).
    pub async fn send<C: Call + ?Sized>(&self, call: &C) -> Result<C::Answer, ApiError> {
        // Never closed, so this only waits. Nothing is built until the turn
        // comes, and the exchange is boxed: thousands of sessions may wait
        // here at once, each holding only this small future.
        let _turn = self.in_flight.acquire().await.ok();
        let endpoint = call.endpoint();
        let body = call.body()?;
        let method = match endpoint.method() {
            "GET" => Method::GET,
            _ => Method::POST,
        };
        let path = call.segments(&self.config.app_id);
        Box::pin(self.exchange(endpoint, method, &path, body)).await
    }

    /// [`Client::send`] once its turn has come; the timeout starts here.
    async fn exchange<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        method: Method,
        path: &[&str],
        body: Option<Vec<u8>>,
    ) -> Result<T, ApiError> {
        let url = self.config.base.join(path);
        let credentials = &self.config.credentials;
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .basic_auth(
                &credentials.customer_id,
                Some(credentials.customer_secret.expose()),
            )
            // Sent on the bodiless GET too: the legacy gateway checks it on
            // every call (UNCONFIRMED whether it still does).
            .header(CONTENT_TYPE, CONTENT_TYPE_JSON)
            .timeout(self.config.timeout);
        if let Some(body) = body {
            request = request.body(body);
        }

        let started = Instant::now();
        let answer = async {
            let response = request.send().await?;
            let status = response.status();
            let retry_after = retry_after(response.headers());
            Ok::<_, reqwest::Error>((status, retry_after, response.bytes().await?))
        }
        .await;
        let latency = started.elapsed();
        let (status, retry_after, bytes) = match answer {
            Ok(answer) => answer,
            Err(error) => {
                tracing::debug!(%endpoint, %method, path = url.path(), ?latency, %error, "Agora call failed");
                return Err(self.transport_error(endpoint, error));
            }
        };
        tracing::debug!(%endpoint, %method, path = url.path(), status = status.as_u16(), ?latency, "Agora call");

        if status != StatusCode::OK {
            return Err(ApiError::rejected(
                endpoint,
                status.as_u16(),
                retry_after,
                &bytes,
            ));
        }
        serde_json::from_slice(&bytes).map_err(|source| ApiError::Decode { endpoint, source })
    }

    fn transport_error(&self, endpoint: Endpoint, source: reqwest::Error) -> ApiError {
        if source.is_timeout() {
            ApiError::Timeout {
                endpoint,
                after: self.config.timeout,
                source,
            }
        } else if source.is_connect() {
            ApiError::Connect { endpoint, source }
        } else {
            ApiError::Transport { endpoint, source }
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.config.base.as_str())
            .field("app_id", &self.config.app_id)
            .field("customer_id", &self.config.credentials.customer_id)
            .field("timeout", &self.config.timeout)
            .finish_non_exhaustive()
    }
}

/// `Retry-After` in seconds. UNCONFIRMED: Agora documents no Retry-After
/// at all; the seconds form is assumed, and the HTTP-date form ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse().ok().map(Duration::from_secs)
}
