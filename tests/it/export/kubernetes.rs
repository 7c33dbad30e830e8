//! `recplan export kubernetes`: CronJobs per plan (with extra ones where
//! Kubernetes' reading of the schedule misses a start), and the daemon's
//! Deployment.

use serde_json::Value;

use super::{recplan, write_plan};

/// A pod that runs as non-root, with a read-only root filesystem, no
/// privileges, and resources.
fn assert_restricted(pod: &Value) {
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{pod}");
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(pod["automountServiceAccountToken"], false);
    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true, "{container}");
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(
        container["resources"]["requests"]["memory"].is_string(),
        "{container}"
    );
    assert!(
        container["resources"]["limits"]["memory"].is_string(),
        "{container}"
    );
}

fn documents(output: &std::process::Output) -> Vec<Value> {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_saphyr::from_multiple(&String::from_utf8_lossy(&output.stdout)).unwrap()
}

#[test]
fn kubernetes_cron_jobs_carry_the_schedule_and_policies() {
    let run = recplan(&[
        "export",
        "kubernetes",
        "plans/weekly-standup.yaml",
        "--image",
        "registry.example.com/recplan:1",
        "--secret",
        "agora",
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = String::from_utf8(run.stdout).unwrap();
    let documents: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
    assert_eq!(documents.len(), 2);
    let (config_map, cron_job) = (&documents[0], &documents[1]);
    assert_eq!(config_map["kind"], "ConfigMap");
    let plan_text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/plans/weekly-standup.yaml"
    ))
    .unwrap();
    assert_eq!(
        config_map["data"]["weekly-standup.yaml"],
        plan_text.as_str()
    );
    assert_eq!(cron_job["apiVersion"], "batch/v1");
    let spec = &cron_job["spec"];
    assert_eq!(spec["schedule"], "0 9 * * 1-5");
    assert_eq!(spec["timeZone"], "Europe/Berlin");
    assert_eq!(spec["concurrencyPolicy"], "Forbid");
    assert_eq!(spec["startingDeadlineSeconds"], 300);
    let job = &spec["jobTemplate"]["spec"];
    assert_eq!(job["backoffLimit"], 0);
    let container = &job["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example.com/recplan:1");
    assert_eq!(
        container["args"],
        serde_json::json!(["run", "/etc/recplan/plans/weekly-standup.yaml"])
    );
    assert_eq!(container["envFrom"][0]["secretRef"]["name"], "agora");
    assert_restricted(&job["template"]["spec"]);
    // Recovery across pods needs a shared store, and the manifest says so.
    assert!(
        text.contains("RECPLAN_STATE to a PostgreSQL store"),
        "{text}"
    );
}

#[test]
fn a_start_the_jump_skips_gets_a_cron_job_in_utc() {
    let dir = tempfile::tempdir().unwrap();
    write_plan(
        dir.path(),
        "nightly",
        "30 2 * * *",
        "Europe/Berlin",
        "  starting_deadline: 2h\n",
    );
    let run = recplan(&["export", "kubernetes", dir.path().to_str().unwrap()]);
    let documents = documents(&run);
    assert_eq!(documents.len(), 3);
    let (main, extra) = (&documents[1], &documents[2]);
    assert_eq!(main["spec"]["schedule"], "30 2 * * *");
    assert_eq!(main["spec"]["timeZone"], "Europe/Berlin");
    // 03:00 CEST on the last Sunday of March, when recplan starts the
    // 02:30 that does not exist.
    assert_eq!(extra["metadata"]["name"], "recplan-nightly-dst");
    assert_eq!(extra["spec"]["schedule"], "0 1 * 3 0");
    assert_eq!(extra["spec"]["timeZone"], "Etc/UTC");
    let pod = &extra["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["volumes"][0]["configMap"]["name"], "recplan-nightly");
    assert_restricted(pod);
    // Kubernetes runs 02:30 twice when the hour repeats; with a deadline
    // that long, only a shared store keeps it from recording twice.
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("warning: nightly: Kubernetes starts the occurrence of "),
        "{stderr}"
    );
    assert!(
        stderr.contains(" again 1h later, when the hour repeats"),
        "{stderr}"
    );
    assert!(stderr.contains("set RECPLAN_STATE"), "{stderr}");
}

#[test]
fn a_step_in_one_day_field_is_refused_where_kubernetes_reads_it_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    write_plan(dir.path(), "odd-mondays", "0 9 */2 * MON", "UTC", "");
    let run = recplan(&["export", "kubernetes", dir.path().to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("fires on either day field"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn the_daemon_deployment_shares_one_store() {
    let run = recplan(&[
        "export",
        "kubernetes",
        "plans",
        "--daemon",
        "--replicas",
        "3",
        "--secret",
        "agora",
        "--state-secret",
        "recplan-db",
        "--namespace",
        "media",
    ]);
    let documents = documents(&run);
    let kinds: Vec<&str> = documents
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["ConfigMap", "Deployment", "PodDisruptionBudget", "Service"]
    );
    // Every plan, the one without a schedule too: the API runs it.
    let plans = documents[0]["data"].as_object().unwrap();
    assert_eq!(plans.len(), 4, "{plans:?}");
    assert!(plans.contains_key("demo.yaml"));
    let deployment = &documents[1];
    assert_eq!(deployment["metadata"]["namespace"], "media");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_restricted(pod);
    let container = &pod["containers"][0];
    assert_eq!(container["args"][0], "daemon");
    // This recplan takes the arguments the container passes.
    let mut args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arg| arg.as_str().unwrap())
        .collect();
    args.push("--help");
    assert_eq!(recplan(&args).status.code(), Some(0), "{args:?}");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["env"][0]["name"], "RECPLAN_STATE");
    assert_eq!(
        container["env"][0]["valueFrom"]["secretKeyRef"],
        serde_json::json!({"name": "recplan-db", "key": "RECPLAN_STATE"})
    );
    assert_eq!(container["envFrom"][0]["secretRef"]["name"], "agora");
    let budget = &documents[2]["spec"];
    assert_eq!(budget["maxUnavailable"], 1);
    assert_eq!(budget["selector"], deployment["spec"]["selector"]);
}

#[test]
fn replicas_need_the_daemon() {
    let run = recplan(&["export", "kubernetes", "plans", "--replicas", "2"]);
    assert_eq!(run.status.code(), Some(2));
}
