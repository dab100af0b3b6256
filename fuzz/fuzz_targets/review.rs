//! Any bytes as an AdmissionReview body: decoding, reading the workload, and the engine's
//! admission decision never panic.
#![no_main]

use std::collections::BTreeMap;

use aims_operator::{
    admission::review,
    engine::{
        admission::{
            Requester,
            workload::{self, BreakGlassPolicy, Cluster, Request, UnregisteredPolicy},
        },
        approval::Trust,
        catalog::Catalog,
        detect::Detector,
        workload::{WorkloadFacts, WorkloadKind},
    },
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let answer = match review::decode(data) {
        Ok(req) => {
            let api_version = format!("{}/{}", req.kind.group, req.kind.version);
            let kind = WorkloadKind::from_type(&api_version, &req.kind.kind)
                .unwrap_or(WorkloadKind::Deployment);
            let read = |o: &Option<kube::core::DynamicObject>| {
                o.as_ref()
                    .and_then(|o| serde_json::to_value(o).ok())
                    .and_then(|v| WorkloadFacts::from_json(kind, v).ok())
            };
            if let Some(new) = read(&req.object) {
                let old = read(&req.old_object);
                let catalog = Catalog::builtin();
                let detector = Detector::default();
                let labels = BTreeMap::new();
                let groups = req.user_info.groups.clone().unwrap_or_default();
                let decision = workload::admit(
                    &Request {
                        workload: &new,
                        old: old.as_ref(),
                        requester: Requester {
                            user: req.user_info.username.as_deref().unwrap_or_default(),
                            groups: &groups,
                        },
                    },
                    &Cluster {
                        systems: &[],
                        namespace_labels: &labels,
                        assessments: &[],
                        bindings: &[],
                        workloads: &[],
                        catalog: &catalog,
                        trust: Trust::AsWritten,
                        detector: &detector,
                        unregistered: UnregisteredPolicy::Deny,
                        break_glass: &BreakGlassPolicy::default(),
                        now: jiff::Timestamp::UNIX_EPOCH,
                    },
                );
                let _ = decision.deny_message();
                let _ = decision.warnings();
            }
            review::deny(&req, "fuzz")
        }
        Err(e) => review::unreadable(&e),
    };
    let _ = review::encode(answer);
});
