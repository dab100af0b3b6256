//! Any bytes as an AdmissionReview body: decoding, reading the workload, and the engine's
//! admission decision never panic.
#![no_main]

use std::collections::BTreeMap;

use aims_operator::{
    admission::{review, workloads},
    engine::{
        admission::{
            Requester,
            workload::{
                self, AdmissionInputs, BreakGlassPolicy, UnregisteredPolicy, WorkloadRequest,
            },
        },
        approval::Trust,
        catalog::Catalog,
        detect::Detector,
    },
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let answer = match review::decode(data) {
        Ok(req) => {
            if let Ok(Some((new, old))) = workloads::read_facts(&req) {
                let catalog = Catalog::builtin();
                let detector = Detector::default();
                let labels = BTreeMap::new();
                let groups = req.user_info.groups.clone().unwrap_or_default();
                let decision = workload::admit(
                    &WorkloadRequest {
                        workload: &new,
                        old: old.as_ref(),
                        requester: Requester {
                            user: req.user_info.username.as_deref().unwrap_or_default(),
                            groups: &groups,
                        },
                    },
                    &AdmissionInputs {
                        systems: &[],
                        declared_by: &[],
                        namespace_labels: &labels,
                        assessments: &[],
                        bindings: &[],
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
