//! One call to Agora as a value: its endpoint, the path below the API base,
//! the body and the answer's type. [`Client::send`](super::Client::send)
//! sends any call and the retry layer repeats any call, so an endpoint is
//! written once, here.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::request::{
    AcquireClientRequest, Envelope, StartClientRequest, StopClientRequest, UpdateClientRequest,
    UpdateLayoutClientRequest,
};
use super::response::{
    AcquireResponse, QueryResponse, StartResponse, StopResponse, UpdateResponse,
};
use super::{ApiError, Endpoint, Mode, Recording};

/// A request to one of Agora's endpoints.
pub trait Call: Sync {
    /// What a 200 carries.
    type Answer: DeserializeOwned + Send;

    fn endpoint(&self) -> Endpoint;

    /// The path's segments below the API base (see [`Endpoint::segments`]).
    fn segments<'a>(&'a self, app_id: &'a str) -> Vec<&'a str>;

    /// The JSON body; `None` for the bodiless GET.
    fn body(&self) -> Result<Option<Vec<u8>>, ApiError>;
}

/// `POST acquire`: reserves a resource for one `start` within 5 minutes.
#[derive(Clone, Copy, Debug)]
pub struct Acquire<'a> {
    pub cname: &'a str,
    pub uid: &'a str,
    pub request: &'a AcquireClientRequest,
}

impl Call for Acquire<'_> {
    type Answer = AcquireResponse;

    fn endpoint(&self) -> Endpoint {
        Endpoint::Acquire
    }

    fn segments<'a>(&'a self, app_id: &'a str) -> Vec<&'a str> {
        // Acquire's path has no mode; any will do.
        Endpoint::Acquire.segments(app_id, Mode::Individual, "", "")
    }

    fn body(&self) -> Result<Option<Vec<u8>>, ApiError> {
        encode(Endpoint::Acquire, self.cname, self.uid, self.request).map(Some)
    }
}

/// `POST start` on an acquired resource; `cname` and `uid` must be the ones
/// given to `acquire`.
#[derive(Clone, Copy, Debug)]
pub struct Start<'a> {
    pub mode: Mode,
    pub resource_id: &'a str,
    pub cname: &'a str,
    pub uid: &'a str,
    pub request: &'a StartClientRequest,
}

impl Start<'_> {
    /// The recording a start answered with `sid` addresses: the ids sent,
    /// not the ones echoed, since later calls must repeat them and the echo
    /// is not guaranteed.
    pub fn recording(&self, sid: &str) -> Recording {
        Recording {
            mode: self.mode,
            resource_id: self.resource_id.to_owned(),
            sid: sid.to_owned(),
            cname: self.cname.to_owned(),
            uid: self.uid.to_owned(),
        }
    }
}

impl Call for Start<'_> {
    type Answer = StartResponse;

    fn endpoint(&self) -> Endpoint {
        Endpoint::Start
    }

    fn segments<'a>(&'a self, app_id: &'a str) -> Vec<&'a str> {
        Endpoint::Start.segments(app_id, self.mode, self.resource_id, "")
    }

    fn body(&self) -> Result<Option<Vec<u8>>, ApiError> {
        encode(Endpoint::Start, self.cname, self.uid, self.request).map(Some)
    }
}

/// `GET query`: the recording's status and files so far.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a>(pub &'a Recording);

impl Call for Query<'_> {
    type Answer = QueryResponse;

    fn endpoint(&self) -> Endpoint {
        Endpoint::Query
    }

    fn segments<'a>(&'a self, app_id: &'a str) -> Vec<&'a str> {
        recording_segments(Endpoint::Query, app_id, self.0)
    }

    fn body(&self) -> Result<Option<Vec<u8>>, ApiError> {
        Ok(None)
    }
}

/// A body sent to a started recording: update, updateLayout, stop.
pub trait RecordingRequest: Serialize + Sync {
    type Answer: DeserializeOwned + Send;

    fn endpoint(&self) -> Endpoint;
}

/// `POST update`: subscriptions, web pause/resume, CDN push, storage
/// credentials. Agora wants these serialized: one at a time.
impl RecordingRequest for UpdateClientRequest {
    type Answer = UpdateResponse;

    fn endpoint(&self) -> Endpoint {
        Endpoint::Update
    }
}

/// `POST updateLayout` (composite only; Agora rejects other modes). The
/// request replaces the whole layout.
impl RecordingRequest for UpdateLayoutClientRequest {
    type Answer = UpdateResponse;

    fn endpoint(&self) -> Endpoint {
        Endpoint::UpdateLayout
    }
}

/// `POST stop`: leaves the channel; with `async_stop` false, answers after
/// the upload.
impl RecordingRequest for StopClientRequest {
    type Answer = StopResponse;

    fn endpoint(&self) -> Endpoint {
        Endpoint::Stop
    }
}

/// `request` sent to the started `recording`.
#[derive(Debug)]
pub struct OnRecording<'a, R: ?Sized> {
    pub recording: &'a Recording,
    pub request: &'a R,
}

impl<R: ?Sized> Clone for OnRecording<'_, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R: ?Sized> Copy for OnRecording<'_, R> {}

impl<'r, R: RecordingRequest + ?Sized> OnRecording<'r, R> {
    pub fn new(recording: &'r Recording, request: &'r R) -> Self {
        OnRecording { recording, request }
    }
}

impl<R: RecordingRequest + ?Sized> Call for OnRecording<'_, R> {
    type Answer = R::Answer;

    fn endpoint(&self) -> Endpoint {
        self.request.endpoint()
    }

    fn segments<'a>(&'a self, app_id: &'a str) -> Vec<&'a str> {
        recording_segments(self.endpoint(), app_id, self.recording)
    }

    fn body(&self) -> Result<Option<Vec<u8>>, ApiError> {
        let recording = self.recording;
        encode(
            self.endpoint(),
            &recording.cname,
            &recording.uid,
            self.request,
        )
        .map(Some)
    }
}

fn recording_segments<'a>(
    endpoint: Endpoint,
    app_id: &'a str,
    recording: &'a Recording,
) -> Vec<&'a str> {
    endpoint.segments(
        app_id,
        recording.mode,
        &recording.resource_id,
        &recording.sid,
    )
}

/// The `{cname, uid, clientRequest}` body, as JSON bytes.
fn encode<T: Serialize + ?Sized>(
    endpoint: Endpoint,
    cname: &str,
    uid: &str,
    client_request: &T,
) -> Result<Vec<u8>, ApiError> {
    let envelope = Envelope {
        cname: cname.to_owned(),
        uid: uid.to_owned(),
        client_request,
    };
    serde_json::to_vec(&envelope).map_err(|source| ApiError::Encode { endpoint, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording() -> Recording {
        Recording {
            mode: Mode::Composite,
            resource_id: "r1".to_owned(),
            sid: "s1".to_owned(),
            cname: "room".to_owned(),
            uid: "1001".to_owned(),
        }
    }

    /// Each call names its endpoint, path and body once; the method
    /// follows from the endpoint.
    #[test]
    fn each_call_knows_its_endpoint_path_and_body() {
        let recording = recording();
        let stop = StopClientRequest::default();
        let on_stop = OnRecording::new(&recording, &stop);
        assert_eq!(on_stop.endpoint(), Endpoint::Stop);
        assert_eq!(
            on_stop.segments("app").join("/"),
            "v1/apps/app/cloud_recording/resourceid/r1/sid/s1/mode/mix/stop"
        );
        let body = on_stop.body().unwrap().unwrap();
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            serde_json::json!({"cname": "room", "uid": "1001", "clientRequest": {}})
        );
        let query = Query(&recording);
        assert_eq!(query.body().unwrap(), None);
        assert_eq!(query.endpoint().method(), "GET");
        let layout = UpdateLayoutClientRequest::default();
        assert_eq!(
            OnRecording::new(&recording, &layout).endpoint(),
            Endpoint::UpdateLayout
        );
        let acquire = AcquireClientRequest::default();
        let call = Acquire {
            cname: "room",
            uid: "1001",
            request: &acquire,
        };
        assert_eq!(
            call.segments("app"),
            ["v1", "apps", "app", "cloud_recording", "acquire"]
        );
    }
}
