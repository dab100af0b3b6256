//! What the API server fills in on a Deployment it stores: the defaults of its spec, pod template
//! and containers. Benchmarks and tests that need a Deployment as the API server sends it (in an
//! AdmissionReview or a watch event) start from what a client wrote and add these.
//!
//! Included by path (`#[path]`) by `tests/store_memory.rs` and `benches/admission.rs`, which use
//! nothing else of `support`.

use serde_json::{Value, json};

/// Fills in the defaults the API server gives `deployment`'s spec, pod template and containers.
pub fn fill_deployment_defaults(deployment: &mut Value) {
    let spec = &mut deployment["spec"];
    spec["progressDeadlineSeconds"] = json!(600);
    spec["revisionHistoryLimit"] = json!(10);
    spec["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
    let pod = &mut spec["template"]["spec"];
    pod["dnsPolicy"] = json!("ClusterFirst");
    pod["restartPolicy"] = json!("Always");
    pod["schedulerName"] = json!("default-scheduler");
    pod["securityContext"] = json!({});
    pod["terminationGracePeriodSeconds"] = json!(30);
    for c in pod["containers"].as_array_mut().into_iter().flatten() {
        c["imagePullPolicy"] = json!("IfNotPresent");
        c["terminationMessagePath"] = json!("/dev/termination-log");
        c["terminationMessagePolicy"] = json!("File");
        for p in c["ports"].as_array_mut().into_iter().flatten() {
            p["protocol"] = json!("TCP");
        }
    }
}
