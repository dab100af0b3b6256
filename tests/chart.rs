//! The Helm chart installs the very CRD files in `crds/` (its `crds/` is a link to them), with the
//! real `helm`, on a control plane of its own.

mod support;

use aims_testenv::ControlPlane;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use support::{ok, repo, stdout};

#[test]
fn helm_lint_and_install_put_the_generated_crds_in_place() {
    let cp = ControlPlane::start().expect("start a control plane");
    let helm = |args: &[&str]| {
        cp.helm()
            .args(args)
            .current_dir(repo())
            .output()
            .expect("run helm")
    };

    ok(helm(&["lint", "--strict", "charts/aims-operator"]));
    ok(helm(&[
        "install",
        "aims",
        "charts/aims-operator",
        "--namespace",
        "aims-system",
        "--create-namespace",
        "--wait",
    ]));

    for crd in aims_operator::crds::all() {
        let name = crd.metadata.name.clone().unwrap();
        support::wait_established(&cp, &[&format!("crd/{name}")]);
        // What the chart installed is what the types generate.
        let live = stdout(
            &cp.kubectl()
                .args(["get", "crd", &name, "-o", "json"])
                .output()
                .unwrap(),
        );
        let live: CustomResourceDefinition = serde_json::from_str(&live).unwrap();
        assert!(
            live.spec.versions == crd.spec.versions,
            "{name} as installed by helm differs from the types"
        );
    }
    let status = ok(helm(&["status", "aims", "--namespace", "aims-system"]));
    assert!(status.contains("STATUS: deployed"), "{status}");
}
