//! The console in headless Chromium, driven over WebDriver: sign in with
//! the token, see the plan and a live session, stop it with the
//! confirmation, and the simulator receives the stop. Leaves a screenshot
//! in `target/console.png`.

use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use serde_json::{Value, json};

use super::process::{Daemon, TOKEN, eventually, plan, simulator};

/// W3C WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A cname that is markup, to see that the console shows it as text.
const HOSTILE_CNAME: &str = "<img src=x onerror=alert(1)>";

/// chromedriver on a free port, and one browser session in it.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (.ci/run installs chromium-driver)");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        eventually("chromedriver is ready", || async {
            let status = client.get(format!("{base}/status")).send().await;
            match status {
                Ok(response) => response
                    .json::<Value>()
                    .await
                    .is_ok_and(|v| v["value"]["ready"] == true),
                Err(_) => false,
            }
        })
        .await;
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,800", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let answer: Value = client
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("a browser session: {answer}"))
            .to_owned();
        Browser {
            driver,
            base,
            session,
            client,
            _profile: profile,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.client.request(method, url);
        if !body.is_null() {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        answer["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    /// The elements matching `css`.
    async fn find_all(&self, css: &str) -> Vec<String> {
        let found = self
            .command(
                reqwest::Method::POST,
                "/elements",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found
            .as_array()
            .map(|elements| {
                elements
                    .iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The first element matching `css`, once there is one.
    async fn wait_for(&self, css: &str) -> String {
        eventually(&format!("{css} is on the page"), || async {
            !self.find_all(css).await.is_empty()
        })
        .await;
        self.find_all(css).await.remove(0)
    }

    async fn click(&self, element: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            json!({}),
        )
        .await;
    }

    async fn type_into(&self, element: &str, text: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            json!({"text": text}),
        )
        .await;
    }

    async fn script(&self, script: &str) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    async fn screenshot(&self, file: &std::path::Path) {
        let png = self
            .command(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::write(file, bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver; .ci/run runs it"]
async fn sign_in_see_a_live_session_and_stop_it_with_confirmation() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().unwrap();
    let plans = dir.path().join("plans");
    std::fs::create_dir(&plans).unwrap();
    std::fs::write(plans.join("weekly.yaml"), plan("weekly", HOSTILE_CNAME)).unwrap();
    // A scheduled plan too, for the next starts and the calendar.
    let standup = plan("standup", "standup-platform").replace(
        "schedule: {duration: 10m}",
        "schedule: {cron: \"0 9 * * MON-FRI\", timezone: Europe/Berlin, duration: 30m}",
    );
    std::fs::write(plans.join("standup.yaml"), standup).unwrap();
    let daemon = Daemon::start(&plans, &dir.path().join("state"), &sim.uri(), Some(TOKEN)).await;
    let (status, body) = daemon.post("/api/v1/plans/weekly/run").await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{body}");

    let browser = Browser::start().await;
    browser.go(&format!("{}/", daemon.base)).await;
    let token = browser.wait_for("#token").await;
    browser.type_into(&token, TOKEN).await;
    browser
        .click(&browser.wait_for("#login-button").await)
        .await;
    browser.wait_for("#plans tr[data-plan='weekly']").await;
    eventually("both sessions show as recording", || async {
        browser.find_all(".session.recording").await.len() == 2
    })
    .await;
    // The hostile cname is text on the page, not an element.
    let names = browser
        .script("return [...document.querySelectorAll('.session-name')].map(e => e.textContent)")
        .await;
    assert!(
        names.as_array().unwrap().iter().any(|n| n == HOSTILE_CNAME),
        "{names}"
    );
    let images = browser
        .script("return document.querySelectorAll('main img').length")
        .await;
    assert_eq!(images, 0);

    let shot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console.png");
    browser.screenshot(&shot).await;
    // And on a phone's width.
    let rect = |width: u32, height: u32| json!({"width": width, "height": height});
    browser
        .command(reqwest::Method::POST, "/window/rect", rect(390, 844))
        .await;
    browser
        .screenshot(&shot.with_file_name("console-phone.png"))
        .await;
    browser
        .command(reqwest::Method::POST, "/window/rect", rect(1280, 800))
        .await;

    let stops = || {
        sim.requests()
            .iter()
            .filter(|r| r.path.ends_with("/stop"))
            .count()
    };
    assert_eq!(stops(), 0);
    // The list is drawn afresh on every update, so a click may land on a
    // button just replaced: clicked again until the confirmation opens.
    eventually("Stop asks for confirmation first", || async {
        if let Some(stop) = browser.find_all(".session .stop").await.first() {
            browser.click(stop).await;
        }
        browser
            .script("return document.getElementById('confirm').open")
            .await
            == true
    })
    .await;
    assert_eq!(stops(), 0, "nothing is stopped before the confirmation");
    browser
        .click(&browser.wait_for("#confirm-stop").await)
        .await;
    eventually("the simulator received the stop", || async { stops() == 1 }).await;
    eventually("one session is left on the page", || async {
        browser.find_all(".session").await.len() == 1
    })
    .await;
    browser
        .command(reqwest::Method::DELETE, "", Value::Null)
        .await;
    assert_eq!(daemon.stop().0, Some(0));
}
