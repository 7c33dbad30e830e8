use super::Mode;

/// One of the Cloud Recording REST calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Endpoint {
    Acquire,
    Start,
    Query,
    Update,
    UpdateLayout,
    Stop,
}

impl Endpoint {
    /// Agora's name for the call, which is also the last path segment.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Acquire => "acquire",
            Endpoint::Start => "start",
            Endpoint::Query => "query",
            Endpoint::Update => "update",
            Endpoint::UpdateLayout => "updateLayout",
            Endpoint::Stop => "stop",
        }
    }

    /// Query is the only GET; every other call is a POST with a body.
    pub fn method(self) -> &'static str {
        match self {
            Endpoint::Query => "GET",
            _ => "POST",
        }
    }

    /// The path's segments below the API base, per the reference's
    /// endpoint table. `resource_id` and `sid` are ignored where the path
    /// has none.
    pub fn segments<'a>(
        self,
        app_id: &'a str,
        mode: Mode,
        resource_id: &'a str,
        sid: &'a str,
    ) -> Vec<&'a str> {
        let mut segments = vec!["v1", "apps", app_id, "cloud_recording"];
        match self {
            Endpoint::Acquire => {}
            Endpoint::Start => {
                segments.extend(["resourceid", resource_id, "mode", mode.url_segment()]);
            }
            _ => segments.extend([
                "resourceid",
                resource_id,
                "sid",
                sid,
                "mode",
                mode.url_segment(),
            ]),
        }
        segments.push(self.name());
        segments
    }

    /// The path below the API base, for showing to a person (the client
    /// percent-encodes the segments instead).
    pub fn path(self, app_id: &str, mode: Mode, resource_id: &str, sid: &str) -> String {
        format!(
            "/{}",
            self.segments(app_id, mode, resource_id, sid).join("/")
        )
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_reference() {
        let path = Endpoint::Query.path("app", Mode::Composite, "r1", "s1");
        assert_eq!(
            path,
            "/v1/apps/app/cloud_recording/resourceid/r1/sid/s1/mode/mix/query"
        );
        assert_eq!(
            Endpoint::Acquire.path("app", Mode::Web, "", ""),
            "/v1/apps/app/cloud_recording/acquire"
        );
        assert_eq!(
            Endpoint::Start.path("app", Mode::Individual, "r1", ""),
            "/v1/apps/app/cloud_recording/resourceid/r1/mode/individual/start"
        );
        assert_eq!(Endpoint::UpdateLayout.method(), "POST");
    }
}
