//! The webhook configurations that send admission requests to the operator, generated from Rust so
//! the operator's router, `aims webhook-config` and the chart all use the same paths and rules.
//!
//! Five webhooks, in two configurations both named [`CONFIGURATION_NAME`]:
//!
//! * `workloads.aims.dev` (validating, [`VALIDATE_WORKLOADS_PATH`]): Deployments, StatefulSets,
//!   DaemonSets, ReplicaSets, ReplicationControllers and their scale, Jobs, CronJobs and every
//!   custom-resource kind of the governed kinds' data (`catalog/kinds.yaml`, and a platform team's
//!   own), outside kube-system, kube-node-lease, the operator's namespace and any
//!   namespaces the user excludes (so the operator can never lock the cluster or itself out).
//! * `pods.aims.dev` (validating, [`VALIDATE_WORKLOADS_PATH`]): the same for Pods, and for the
//!   ephemeral containers added to any Pod (`pods/ephemeralcontainers`, as `kubectl debug`
//!   does). Its match condition ([`POD_MATCH_CONDITION`]) skips only a Pod that the control
//!   plane's controllers write for a reviewed owner kind ([`REVIEWED_POD_OWNERS`]); a Pod any
//!   other owner claims, or that anyone else writes, is reviewed like a bare Pod. A webhook of
//!   its own because its match condition costs the API server a conversion of every object it
//!   sees to CEL's form: on the other workloads' webhook it added about 0.15 ms to each
//!   Deployment create, to learn that a Deployment is not a Pod.
//! * `records.aims.dev` (validating, [`VALIDATE_RECORDS_PATH`]): AISystems and RiskAssessments
//!   (approvals, stamps, who may clear a halt).
//! * `bindings.aims.dev` (validating, [`VALIDATE_RECORDS_PATH`]): ControlBindings and
//!   ClusterControlBindings (unknown control ids). Its failure policy is always `Ignore`: it only
//!   catches typos, which the binding controllers report in status too, and a chart can install
//!   default bindings before the operator serves.
//! * `riskassessments.aims.dev` (mutating, [`MUTATE_RISKASSESSMENTS_PATH`]): stamps approvals.
//!
//! All have `sideEffects: None` and `admissionReviewVersions: [v1]`. The CA bundle is left empty:
//! the operator publishes its own CA (see [`super::certs`]), or cert-manager's CA injector does.

use k8s_openapi::{
    api::admissionregistration::v1::{
        MatchCondition, MutatingWebhook, MutatingWebhookConfiguration, RuleWithOperations,
        ServiceReference, ValidatingWebhook, ValidatingWebhookConfiguration, WebhookClientConfig,
    },
    apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement, ObjectMeta},
};

/// The name of both the ValidatingWebhookConfiguration and the MutatingWebhookConfiguration.
pub const CONFIGURATION_NAME: &str = "aims-operator";

/// Where the API server sends workload reviews.
pub const VALIDATE_WORKLOADS_PATH: &str = "/validate/workloads";
/// Where the API server sends reviews of the aims records.
pub const VALIDATE_RECORDS_PATH: &str = "/validate/records";
/// Where the API server sends RiskAssessments to be stamped.
pub const MUTATE_RISKASSESSMENTS_PATH: &str = "/mutate/riskassessments";

/// The name of the workload webhook.
pub const WORKLOADS_WEBHOOK: &str = "workloads.aims.dev";
/// The name of the webhook for Pods and their ephemeral containers.
pub const PODS_WEBHOOK: &str = "pods.aims.dev";
/// The name of the records webhook.
pub const RECORDS_WEBHOOK: &str = "records.aims.dev";
/// The name of the bindings webhook.
pub const BINDINGS_WEBHOOK: &str = "bindings.aims.dev";
/// The name of the RiskAssessment stamping webhook.
pub const RISKASSESSMENTS_WEBHOOK: &str = "riskassessments.aims.dev";

/// The namespaces no webhook ever sees: the control plane's own.
pub const SYSTEM_NAMESPACES: [&str; 2] = ["kube-system", "kube-node-lease"];

/// The label every namespace carries with its own name.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The owner kinds (`apiVersion`, `kind`) whose Pods are their owner's: reviewed themselves, and
/// their controllers create Pods from the reviewed template.
pub const REVIEWED_POD_OWNERS: [(&str, &str); 5] = [
    ("apps/v1", "ReplicaSet"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
    ("v1", "ReplicationController"),
];

/// The user the control plane's controllers act as when kube-controller-manager runs without
/// per-controller credentials.
pub const CONTROLLER_MANAGER_USER: &str = "system:kube-controller-manager";
/// The group of kube-system's ServiceAccounts, which kube-controller-manager's controllers act
/// as with `--use-service-account-credentials` (kubeadm's and most distributions' default).
pub const CONTROL_PLANE_GROUP: &str = "system:serviceaccounts:kube-system";

/// Whether a request comes from the control plane's controllers: what no namespaced user can act
/// as, so that an owner reference they write is the controller's, not a claim.
pub fn is_control_plane(user: &str, groups: &[String]) -> bool {
    user == CONTROLLER_MANAGER_USER || groups.iter().any(|g| g == CONTROL_PLANE_GROUP)
}

/// The name of the Pods webhook's match condition.
pub const POD_MATCH_CONDITION_NAME: &str = "not-a-pod-of-a-reviewed-owner";

/// The Pods webhook's match condition: the request is reviewed unless it writes a Pod (not its
/// ephemeral containers) that a reviewed owner kind controls, and comes from the control plane's
/// controllers. An owner reference alone proves nothing: anyone who may create Pods may write
/// one naming any kind, uid and name, and the garbage collector removes a Pod whose owner does
/// not exist only after it has started.
pub static POD_MATCH_CONDITION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let owners = REVIEWED_POD_OWNERS
        .iter()
        .map(|(api_version, kind)| {
            format!("(r.apiVersion == '{api_version}' && r.kind == '{kind}')")
        })
        .collect::<Vec<_>>()
        .join(" || ");
    format!(
        "(has(request.subResource) && request.subResource == 'ephemeralcontainers') || \
         !(has(object.metadata.ownerReferences) && \
         object.metadata.ownerReferences.exists(r, has(r.controller) && r.controller && ({owners})) && \
         (request.userInfo.username == '{CONTROLLER_MANAGER_USER}' || \
         (has(request.userInfo.groups) && request.userInfo.groups.exists(g, g == '{CONTROL_PLANE_GROUP}'))))"
    )
});

/// Where the API server reaches the webhook server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A base URL such as `https://127.0.0.1:8443`; each webhook's path is appended.
    Url(String),
    /// A Service in the cluster.
    Service {
        /// The Service's namespace.
        namespace: String,
        /// The Service's name.
        name: String,
        /// The Service's port.
        port: i32,
    },
}

/// What the API server does when the webhook cannot be reached or fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum FailurePolicy {
    /// Reject the request: nothing ungoverned gets in while the operator is down.
    #[default]
    Fail,
    /// Admit the request as if there were no webhook.
    Ignore,
}

impl FailurePolicy {
    /// The value of `failurePolicy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fail => "Fail",
            Self::Ignore => "Ignore",
        }
    }
}

/// How the configurations are made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The operator's namespace; workloads there are never reviewed.
    pub namespace: String,
    /// What the API server does when the webhook fails.
    pub failure_policy: FailurePolicy,
    /// How long the API server waits for an answer (1 to 30).
    pub timeout_seconds: i32,
    /// More namespaces whose workloads are never reviewed.
    pub excluded_namespaces: Vec<String>,
}

/// The default `timeoutSeconds`: the webhook answers from memory, so a slow answer means trouble.
pub const DEFAULT_TIMEOUT_SECONDS: i32 = 5;

impl Options {
    /// The defaults for an operator in `namespace`: failure policy Fail, a 5 s timeout, no extra
    /// excluded namespaces.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            failure_policy: FailurePolicy::default(),
            timeout_seconds: DEFAULT_TIMEOUT_SECONDS,
            excluded_namespaces: Vec::new(),
        }
    }
}

/// Errors while rendering the configurations.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A configuration could not be rendered as YAML.
    #[error("cannot render the {kind} as YAML: {source}")]
    Render {
        /// Its kind.
        kind: &'static str,
        /// What went wrong.
        source: serde_saphyr::SerializeError,
    },
}

/// The ValidatingWebhookConfiguration (workloads, records) and the MutatingWebhookConfiguration
/// (RiskAssessment stamps), both named [`CONFIGURATION_NAME`], without a CA bundle.
pub fn configurations(
    target: &Endpoint,
    opts: &Options,
) -> (ValidatingWebhookConfiguration, MutatingWebhookConfiguration) {
    let metadata = ObjectMeta {
        name: Some(CONFIGURATION_NAME.to_owned()),
        labels: Some(
            [(
                "app.kubernetes.io/managed-by".to_owned(),
                "aims-operator".to_owned(),
            )]
            .into(),
        ),
        ..Default::default()
    };
    let workload_exclusions = || {
        SYSTEM_NAMESPACES
            .iter()
            .map(|ns| (*ns).to_owned())
            .chain([opts.namespace.clone()])
            .chain(opts.excluded_namespaces.iter().cloned())
    };
    let validating = ValidatingWebhookConfiguration {
        metadata: metadata.clone(),
        webhooks: Some(vec![
            ValidatingWebhook {
                name: WORKLOADS_WEBHOOK.to_owned(),
                client_config: client_config(target, VALIDATE_WORKLOADS_PATH),
                rules: Some(workload_rules()),
                namespace_selector: Some(not_in_namespaces(workload_exclusions())),
                ..validating_webhook(opts)
            },
            ValidatingWebhook {
                name: PODS_WEBHOOK.to_owned(),
                client_config: client_config(target, VALIDATE_WORKLOADS_PATH),
                rules: Some(vec![rule(
                    "",
                    "v1",
                    &["pods", "pods/ephemeralcontainers"],
                    "Namespaced",
                )]),
                namespace_selector: Some(not_in_namespaces(workload_exclusions())),
                match_conditions: Some(vec![MatchCondition {
                    name: POD_MATCH_CONDITION_NAME.to_owned(),
                    expression: POD_MATCH_CONDITION.clone(),
                }]),
                ..validating_webhook(opts)
            },
            ValidatingWebhook {
                name: RECORDS_WEBHOOK.to_owned(),
                client_config: client_config(target, VALIDATE_RECORDS_PATH),
                rules: Some(vec![
                    // A halted AISystem is not deleted (and so not re-created without its halt).
                    RuleWithOperations {
                        operations: Some(vec![
                            "CREATE".to_owned(),
                            "UPDATE".to_owned(),
                            "DELETE".to_owned(),
                        ]),
                        ..aims_rule(&["aisystems"])
                    },
                    aims_rule(&["riskassessments"]),
                ]),
                namespace_selector: Some(not_in_namespaces(system_namespaces())),
                ..validating_webhook(opts)
            },
            ValidatingWebhook {
                name: BINDINGS_WEBHOOK.to_owned(),
                client_config: client_config(target, VALIDATE_RECORDS_PATH),
                rules: Some(vec![aims_rule(&[
                    "controlbindings",
                    "clustercontrolbindings",
                ])]),
                namespace_selector: Some(not_in_namespaces(system_namespaces())),
                failure_policy: Some(FailurePolicy::Ignore.as_str().to_owned()),
                ..validating_webhook(opts)
            },
        ]),
    };
    let mutating = MutatingWebhookConfiguration {
        metadata,
        webhooks: Some(vec![MutatingWebhook {
            name: RISKASSESSMENTS_WEBHOOK.to_owned(),
            client_config: client_config(target, MUTATE_RISKASSESSMENTS_PATH),
            rules: Some(vec![aims_rule(&["riskassessments"])]),
            namespace_selector: Some(not_in_namespaces(system_namespaces())),
            reinvocation_policy: Some("Never".to_owned()),
            admission_review_versions: vec!["v1".to_owned()],
            side_effects: "None".to_owned(),
            failure_policy: Some(opts.failure_policy.as_str().to_owned()),
            match_policy: Some("Equivalent".to_owned()),
            timeout_seconds: Some(opts.timeout_seconds),
            ..Default::default()
        }]),
    };
    (validating, mutating)
}

/// Both configurations as one YAML stream (two documents separated by `---`), as
/// `aims webhook-config` prints them.
pub fn to_yaml_stream(target: &Endpoint, opts: &Options) -> Result<String, ConfigError> {
    let (validating, mutating) = configurations(target, opts);
    let validating =
        serde_saphyr::to_string(&validating).map_err(|source| ConfigError::Render {
            kind: "ValidatingWebhookConfiguration",
            source,
        })?;
    let mutating = serde_saphyr::to_string(&mutating).map_err(|source| ConfigError::Render {
        kind: "MutatingWebhookConfiguration",
        source,
    })?;
    Ok(format!("{validating}---\n{mutating}"))
}

/// The fields every validating webhook shares.
fn validating_webhook(opts: &Options) -> ValidatingWebhook {
    ValidatingWebhook {
        admission_review_versions: vec!["v1".to_owned()],
        side_effects: "None".to_owned(),
        failure_policy: Some(opts.failure_policy.as_str().to_owned()),
        match_policy: Some("Equivalent".to_owned()),
        timeout_seconds: Some(opts.timeout_seconds),
        ..Default::default()
    }
}

fn client_config(target: &Endpoint, path: &str) -> WebhookClientConfig {
    match target {
        Endpoint::Url(base) => WebhookClientConfig {
            url: Some(format!("{}{path}", base.trim_end_matches('/'))),
            ..Default::default()
        },
        Endpoint::Service {
            namespace,
            name,
            port,
        } => WebhookClientConfig {
            service: Some(ServiceReference {
                namespace: namespace.clone(),
                name: name.clone(),
                path: Some(path.to_owned()),
                port: Some(*port),
            }),
            ..Default::default()
        },
    }
}

fn system_namespaces() -> impl Iterator<Item = String> {
    SYSTEM_NAMESPACES.iter().map(|ns| (*ns).to_owned())
}

/// Matches every namespace but `names` (cluster-scoped objects always match).
fn not_in_namespaces(names: impl Iterator<Item = String>) -> LabelSelector {
    let mut values: Vec<String> = Vec::new();
    for name in names {
        if !values.contains(&name) {
            values.push(name);
        }
    }
    LabelSelector {
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: NAMESPACE_NAME_LABEL.to_owned(),
            operator: "NotIn".to_owned(),
            values: Some(values),
        }]),
        ..Default::default()
    }
}

fn rule(group: &str, version: &str, resources: &[&str], scope: &str) -> RuleWithOperations {
    RuleWithOperations {
        api_groups: Some(vec![group.to_owned()]),
        api_versions: Some(vec![version.to_owned()]),
        operations: Some(vec!["CREATE".to_owned(), "UPDATE".to_owned()]),
        resources: Some(resources.iter().map(|r| (*r).to_owned()).collect()),
        scope: Some(scope.to_owned()),
    }
}

fn workload_rules() -> Vec<RuleWithOperations> {
    vec![
        rule(
            "apps",
            "v1",
            &[
                "deployments",
                "statefulsets",
                "daemonsets",
                "replicasets",
                "deployments/scale",
                "statefulsets/scale",
                "replicasets/scale",
            ],
            "Namespaced",
        ),
        rule(
            "",
            "v1",
            &["replicationcontrollers", "replicationcontrollers/scale"],
            "Namespaced",
        ),
        rule("batch", "v1", &["jobs", "cronjobs"], "Namespaced"),
    ]
    .into_iter()
    .chain(custom_kind_rules())
    .collect()
}

/// One rule per custom-resource kind of the governed kinds' data, in every version its CRD
/// serves (a rule for a kind whose CRD is not installed matches nothing until it is), with its
/// scale subresource: where a CRD has one (a LeaderWorkerSet's, a PyTorchJob's workers), scaling
/// through it is judged like any other scale-up.
fn custom_kind_rules() -> impl Iterator<Item = RuleWithOperations> {
    crate::engine::kinds::installed().iter().map(|k| {
        let scale = format!("{}/scale", k.plural);
        rule(&k.group, "*", &[&k.plural, &scale], "Namespaced")
    })
}

fn aims_rule(resources: &[&str]) -> RuleWithOperations {
    rule("aims.dev", "v1alpha1", resources, "*")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> Endpoint {
        Endpoint::Service {
            namespace: "aims-system".to_owned(),
            name: "aims-webhook".to_owned(),
            port: 443,
        }
    }

    #[test]
    fn five_webhooks_on_their_paths() {
        let (validating, mutating) = configurations(&service(), &Options::new("aims-system"));
        assert_eq!(
            validating.metadata.name.as_deref(),
            Some(CONFIGURATION_NAME)
        );
        assert_eq!(mutating.metadata.name.as_deref(), Some(CONFIGURATION_NAME));
        let paths: Vec<(String, Option<String>)> = validating
            .webhooks
            .iter()
            .flatten()
            .map(|w| (w.name.clone(), w.client_config.service.clone()))
            .chain(
                mutating
                    .webhooks
                    .iter()
                    .flatten()
                    .map(|w| (w.name.clone(), w.client_config.service.clone())),
            )
            .map(|(name, service)| (name, service.and_then(|s| s.path)))
            .collect();
        assert_eq!(
            paths,
            [
                (WORKLOADS_WEBHOOK, VALIDATE_WORKLOADS_PATH),
                (PODS_WEBHOOK, VALIDATE_WORKLOADS_PATH),
                (RECORDS_WEBHOOK, VALIDATE_RECORDS_PATH),
                (BINDINGS_WEBHOOK, VALIDATE_RECORDS_PATH),
                (RISKASSESSMENTS_WEBHOOK, MUTATE_RISKASSESSMENTS_PATH),
            ]
            .map(|(n, p)| (n.to_owned(), Some(p.to_owned())))
        );
        let service = validating.webhooks.as_ref().unwrap()[0]
            .client_config
            .service
            .clone()
            .unwrap();
        assert_eq!(
            (
                service.namespace.as_str(),
                service.name.as_str(),
                service.port
            ),
            ("aims-system", "aims-webhook", Some(443))
        );
    }

    #[test]
    fn url_targets_get_the_path_appended() {
        let target = Endpoint::Url("https://127.0.0.1:8443/".to_owned());
        let (validating, mutating) = configurations(&target, &Options::new("aims-system"));
        let urls: Vec<String> = validating
            .webhooks
            .unwrap()
            .into_iter()
            .map(|w| w.client_config)
            .chain(
                mutating
                    .webhooks
                    .unwrap()
                    .into_iter()
                    .map(|w| w.client_config),
            )
            .map(|c| {
                assert!(c.service.is_none() && c.ca_bundle.is_none());
                c.url.unwrap()
            })
            .collect();
        assert_eq!(
            urls,
            [
                "https://127.0.0.1:8443/validate/workloads",
                "https://127.0.0.1:8443/validate/workloads",
                "https://127.0.0.1:8443/validate/records",
                "https://127.0.0.1:8443/validate/records",
                "https://127.0.0.1:8443/mutate/riskassessments",
            ]
        );
    }

    fn excluded(selector: &Option<LabelSelector>) -> Vec<String> {
        let requirement = &selector
            .as_ref()
            .unwrap()
            .match_expressions
            .as_ref()
            .unwrap()[0];
        assert_eq!(requirement.key, "kubernetes.io/metadata.name");
        assert_eq!(requirement.operator, "NotIn");
        requirement.values.clone().unwrap()
    }

    #[test]
    fn workloads_skip_system_operator_and_extra_namespaces_records_only_system_ones() {
        let opts = Options {
            excluded_namespaces: vec!["monitoring".to_owned(), "kube-system".to_owned()],
            ..Options::new("aims")
        };
        let (validating, mutating) = configurations(&service(), &opts);
        let webhooks = validating.webhooks.unwrap();
        for workloads in &webhooks[..2] {
            assert_eq!(
                excluded(&workloads.namespace_selector),
                ["kube-system", "kube-node-lease", "aims", "monitoring"]
            );
        }
        assert_eq!(
            excluded(&webhooks[2].namespace_selector),
            ["kube-system", "kube-node-lease"]
        );
        assert_eq!(
            excluded(&mutating.webhooks.unwrap()[0].namespace_selector),
            ["kube-system", "kube-node-lease"]
        );
    }

    #[test]
    fn shared_settings_follow_the_options() {
        let opts = Options {
            failure_policy: FailurePolicy::Ignore,
            timeout_seconds: 3,
            ..Options::new("aims-system")
        };
        let (validating, mutating) = configurations(&service(), &opts);
        for w in validating.webhooks.unwrap() {
            assert_eq!(w.side_effects, "None");
            assert_eq!(w.admission_review_versions, ["v1"]);
            assert_eq!(w.failure_policy.as_deref(), Some("Ignore"));
            assert_eq!(w.timeout_seconds, Some(3));
        }
        let m = &mutating.webhooks.unwrap()[0];
        assert_eq!(m.side_effects, "None");
        assert_eq!(m.admission_review_versions, ["v1"]);
        assert_eq!(m.failure_policy.as_deref(), Some("Ignore"));
        assert_eq!(m.reinvocation_policy.as_deref(), Some("Never"));
        let (default, mutating) = configurations(&service(), &Options::new("aims-system"));
        let policies: Vec<(String, Option<String>)> = default
            .webhooks
            .unwrap()
            .into_iter()
            .map(|w| (w.name, w.failure_policy))
            .chain(
                mutating
                    .webhooks
                    .unwrap()
                    .into_iter()
                    .map(|w| (w.name, w.failure_policy)),
            )
            .collect();
        // Typo checks on bindings fail open; everything that guards a decision fails closed.
        assert_eq!(
            policies,
            [
                (WORKLOADS_WEBHOOK, "Fail"),
                (PODS_WEBHOOK, "Fail"),
                (RECORDS_WEBHOOK, "Fail"),
                (BINDINGS_WEBHOOK, "Ignore"),
                (RISKASSESSMENTS_WEBHOOK, "Fail"),
            ]
            .map(|(n, p)| (n.to_owned(), Some(p.to_owned())))
        );
        let (default, _) = configurations(&service(), &Options::new("aims-system"));
        assert_eq!(
            default.webhooks.unwrap()[0].timeout_seconds,
            Some(DEFAULT_TIMEOUT_SECONDS)
        );
    }

    #[test]
    fn rules_cover_workloads_and_records() {
        let (validating, mutating) = configurations(&service(), &Options::new("aims-system"));
        let webhooks = validating.webhooks.unwrap();
        let flat = |rules: &[RuleWithOperations]| -> Vec<String> {
            rules
                .iter()
                .flat_map(|r| {
                    let operations = r.operations.as_deref().unwrap();
                    if r.resources.as_deref() == Some(&["aisystems".to_owned()][..]) {
                        assert_eq!(operations, ["CREATE", "UPDATE", "DELETE"]);
                    } else {
                        assert_eq!(operations, ["CREATE", "UPDATE"]);
                    }
                    let group = &r.api_groups.as_ref().unwrap()[0];
                    let version = &r.api_versions.as_ref().unwrap()[0];
                    let scope = r.scope.clone().unwrap();
                    r.resources
                        .iter()
                        .flatten()
                        .map(move |res| format!("{group}/{version}/{res} {scope}"))
                })
                .collect()
        };
        assert_eq!(
            flat(webhooks[0].rules.as_ref().unwrap()),
            [
                "apps/v1/deployments Namespaced",
                "apps/v1/statefulsets Namespaced",
                "apps/v1/daemonsets Namespaced",
                "apps/v1/replicasets Namespaced",
                "apps/v1/deployments/scale Namespaced",
                "apps/v1/statefulsets/scale Namespaced",
                "apps/v1/replicasets/scale Namespaced",
                "/v1/replicationcontrollers Namespaced",
                "/v1/replicationcontrollers/scale Namespaced",
                "batch/v1/jobs Namespaced",
                "batch/v1/cronjobs Namespaced",
                "serving.kserve.io/*/inferenceservices Namespaced",
                "serving.kserve.io/*/inferenceservices/scale Namespaced",
                "serving.kserve.io/*/llminferenceservices Namespaced",
                "serving.kserve.io/*/llminferenceservices/scale Namespaced",
                "apps.nvidia.com/*/nimservices Namespaced",
                "apps.nvidia.com/*/nimservices/scale Namespaced",
                "leaderworkerset.x-k8s.io/*/leaderworkersets Namespaced",
                "leaderworkerset.x-k8s.io/*/leaderworkersets/scale Namespaced",
                "jobset.x-k8s.io/*/jobsets Namespaced",
                "jobset.x-k8s.io/*/jobsets/scale Namespaced",
                "ray.io/*/rayclusters Namespaced",
                "ray.io/*/rayclusters/scale Namespaced",
                "ray.io/*/rayjobs Namespaced",
                "ray.io/*/rayjobs/scale Namespaced",
                "ray.io/*/rayservices Namespaced",
                "ray.io/*/rayservices/scale Namespaced",
                "kubeflow.org/*/pytorchjobs Namespaced",
                "kubeflow.org/*/pytorchjobs/scale Namespaced",
                "kubeflow.org/*/tfjobs Namespaced",
                "kubeflow.org/*/tfjobs/scale Namespaced",
                "kubeflow.org/*/mpijobs Namespaced",
                "kubeflow.org/*/mpijobs/scale Namespaced",
                "trainer.kubeflow.org/*/trainjobs Namespaced",
                "trainer.kubeflow.org/*/trainjobs/scale Namespaced",
                "argoproj.io/*/rollouts Namespaced",
                "argoproj.io/*/rollouts/scale Namespaced",
                "serving.knative.dev/*/services Namespaced",
                "serving.knative.dev/*/services/scale Namespaced",
            ]
        );
        assert_eq!(
            flat(webhooks[1].rules.as_ref().unwrap()),
            [
                "/v1/pods Namespaced",
                "/v1/pods/ephemeralcontainers Namespaced"
            ]
        );
        assert_eq!(
            flat(webhooks[2].rules.as_ref().unwrap()),
            [
                "aims.dev/v1alpha1/aisystems *",
                "aims.dev/v1alpha1/riskassessments *",
            ]
        );
        assert_eq!(
            flat(webhooks[3].rules.as_ref().unwrap()),
            [
                "aims.dev/v1alpha1/controlbindings *",
                "aims.dev/v1alpha1/clustercontrolbindings *",
            ]
        );
        assert_eq!(
            flat(mutating.webhooks.unwrap()[0].rules.as_ref().unwrap()),
            ["aims.dev/v1alpha1/riskassessments *"]
        );
    }

    #[test]
    fn only_the_pods_webhook_has_a_match_condition() {
        let (validating, mutating) = configurations(&service(), &Options::new("aims-system"));
        let webhooks = validating.webhooks.unwrap();
        let conditions = webhooks[1].match_conditions.as_ref().unwrap();
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].name, POD_MATCH_CONDITION_NAME);
        assert_eq!(conditions[0].expression, *POD_MATCH_CONDITION);
        // Every other webhook is matched by its rules alone: a match condition costs the API
        // server a conversion of each object it is asked about.
        for w in [&webhooks[0], &webhooks[2], &webhooks[3]] {
            assert!(w.match_conditions.is_none(), "{}", w.name);
        }
        assert!(mutating.webhooks.unwrap()[0].match_conditions.is_none());
    }

    #[test]
    fn the_yaml_stream_reads_back_as_the_same_objects() {
        let target = Endpoint::Url("https://127.0.0.1:8443".to_owned());
        let opts = Options::new("aims-system");
        let yaml = to_yaml_stream(&target, &opts).unwrap();
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&yaml).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0]["kind"], "ValidatingWebhookConfiguration");
        assert_eq!(docs[0]["apiVersion"], "admissionregistration.k8s.io/v1");
        assert_eq!(docs[1]["kind"], "MutatingWebhookConfiguration");
        assert_eq!(docs[0]["webhooks"][0]["sideEffects"], "None");
        assert_eq!(
            docs[0]["webhooks"][1]["matchConditions"][0]["expression"],
            POD_MATCH_CONDITION.as_str()
        );
        let (validating, mutating) = configurations(&target, &opts);
        let back_v: ValidatingWebhookConfiguration =
            serde_json::from_value(docs[0].clone()).unwrap();
        let back_m: MutatingWebhookConfiguration = serde_json::from_value(docs[1].clone()).unwrap();
        assert_eq!(back_v, validating);
        assert_eq!(back_m, mutating);
    }
}
