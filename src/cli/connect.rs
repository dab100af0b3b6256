//! What the commands that talk to a live cluster share: the connection (kubeconfig, its context's
//! namespace) and errors said plainly — what was not found, what was not allowed and by whose word,
//! which server could not be reached.

use std::{
    fmt,
    time::{Duration, Instant},
};

use kube::{Api, Client, Resource};

/// How to reach the cluster and as whom: kubectl's flags of the same names. (`kubectl aims ...`
/// receives its own arguments only, so the plugin takes these itself.)
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ConnectArgs {
    /// The kubeconfig context to use instead of the current one.
    #[arg(long, value_name = "CONTEXT")]
    pub context: Option<String>,
    /// Act as this user (impersonation; you need the right to impersonate).
    #[arg(long = "as", value_name = "USER")]
    pub as_user: Option<String>,
    /// Act as a member of this group too. Repeatable; needs --as.
    #[arg(long = "as-group", value_name = "GROUP", requires = "as_user")]
    pub as_groups: Vec<String>,
}

/// Where a command that lists works: kubectl's `-n` and `-A`. Without either, the namespace of
/// the current kubeconfig context.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ListScope {
    /// The namespace; by default the current kubeconfig context's.
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Every namespace.
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
}

impl ListScope {
    /// The one namespace to list in, or `None` for every namespace.
    pub fn namespace(&self, cluster: &Connection) -> Option<String> {
        (!self.all_namespaces).then(|| cluster.namespace(self.namespace.clone()))
    }
}

/// The namespace of the one object a command acts on: kubectl's `-n`; `-A` is refused, as
/// kubectl refuses it with a name, since the object is looked up in one namespace.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ObjectScope {
    /// Its namespace; by default the current kubeconfig context's.
    #[arg(short, long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Not with a name: an object is looked up in one namespace (give it with -n).
    #[arg(short = 'A', long, conflicts_with_all = ["name", "namespace"])]
    pub all_namespaces: bool,
}

/// What went wrong talking to the cluster. Each says what happened in one line.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No kubeconfig and no in-cluster service account.
    #[error("no cluster configured: {0}")]
    NoConfig(String),
    /// The kubeconfig is there but cannot be used (a certificate or key that does not load).
    #[error("the kubeconfig cannot be used: {0}")]
    BadConfig(String),
    /// The kubeconfig names a server that does not answer, or answers with a certificate that
    /// does not verify.
    #[error("cannot reach the Kubernetes API server at {server}: {reason}")]
    Unreachable {
        /// The API server's URL.
        server: String,
        /// The innermost cause: refused, timed out, certificate unknown, ...
        reason: String,
    },
    /// The credentials were not accepted, or could not be obtained.
    #[error("not logged in to {server}: {reason}")]
    Unauthorized {
        /// The API server's URL.
        server: String,
        /// What the API server or the credential plugin said.
        reason: String,
    },
    /// The object does not exist.
    #[error("{kind} {name:?} not found in namespace {namespace:?}")]
    NotFound {
        /// Its kind, lowercase, as kubectl names it.
        kind: &'static str,
        /// Its name.
        name: String,
        /// Its namespace.
        namespace: String,
    },
    /// The cluster has no such resource type.
    #[error("the aims CRDs are not installed in this cluster (it knows no {0}s.aims.dev)")]
    NotInstalled(&'static str),
    /// RBAC, or an admission webhook, refused the request.
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// The object changed between reading it and writing it.
    #[error(
        "{kind} {name:?} in namespace {namespace:?} changed while this command ran; run it again"
    )]
    Conflict {
        /// Its kind.
        kind: &'static str,
        /// Its name.
        name: String,
        /// Its namespace.
        namespace: String,
    },
    /// The API server refused the request for another reason (for example a validation rule).
    #[error("refused by the API server: {0}")]
    Refused(String),
    /// The API server answered with something that is not what was asked for.
    #[error("unexpected answer from the API server: {0}")]
    Unexpected(String),
}

/// The object a request is about, to name it in an error.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// Its kind, lowercase (`aisystem`, `riskassessment`).
    pub kind: &'static str,
    /// Its name; `None` for a list.
    pub name: Option<&'a str>,
    /// Its namespace; `None` for a list across namespaces.
    pub namespace: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// One object.
    pub fn object(kind: &'static str, name: &'a str, namespace: &'a str) -> Self {
        Self {
            kind,
            name: Some(name),
            namespace: Some(namespace),
        }
    }

    /// A list, in one namespace or (`None`) all.
    pub fn list(kind: &'static str, namespace: Option<&'a str>) -> Self {
        Self {
            kind,
            name: None,
            namespace,
        }
    }

    /// The object changed between reading and writing it.
    pub fn conflict(self) -> ClusterError {
        ClusterError::Conflict {
            kind: self.kind,
            name: self.name.unwrap_or_default().to_owned(),
            namespace: self.namespace.unwrap_or_default().to_owned(),
        }
    }
}

/// A client for the cluster of the current kubeconfig context (or the in-cluster service
/// account), and the server it talks to.
pub struct Connection {
    /// The client.
    pub client: Client,
    server: String,
}

/// How long a command waits for the operator to act on a change before it reports without it.
pub const SETTLE: Duration = Duration::from_secs(10);

impl Connection {
    /// Reads the kubeconfig (KUBECONFIG, then ~/.kube/config, then the in-cluster service
    /// account), honouring its context's namespace and its user's impersonation (`as`,
    /// `as-groups`). Nothing is sent to the server yet.
    pub async fn connect(how: &ConnectArgs) -> Result<Self, ClusterError> {
        let mut config = match &how.context {
            None => kube::Config::infer()
                .await
                .map_err(|e| ClusterError::NoConfig(no_config(&e)))?,
            Some(context) => kube::Config::from_kubeconfig(&kube::config::KubeConfigOptions {
                context: Some(context.clone()),
                ..Default::default()
            })
            .await
            .map_err(|e| ClusterError::NoConfig(chain(&e)))?,
        };
        if let Some(user) = &how.as_user {
            config.auth_info.impersonate = Some(user.clone());
            config.auth_info.impersonate_groups =
                (!how.as_groups.is_empty()).then(|| how.as_groups.clone());
        }
        let server = config.cluster_url.to_string();
        let server = server.trim_end_matches('/').to_owned();
        let client = Client::try_from(config).map_err(|e| ClusterError::BadConfig(chain(&e)))?;
        Ok(Self { client, server })
    }

    /// `namespace`, or the current context's namespace when it is `None`.
    pub fn namespace(&self, namespace: Option<String>) -> String {
        namespace.unwrap_or_else(|| self.client.default_namespace().to_owned())
    }

    /// A namespaced API for `K`.
    pub fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: Resource<Scope = kube::core::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Says plainly what `err`, from a request about `target`, means.
    pub fn classify(&self, err: kube::Error, target: Target<'_>) -> ClusterError {
        let server = self.server.as_str();
        match err {
            kube::Error::Api(status) => classify_status(server, &status, target),
            kube::Error::Auth(e) => ClusterError::Unauthorized {
                server: server.to_owned(),
                reason: chain(&e),
            },
            kube::Error::SerdeError(e) => ClusterError::Unexpected(e.to_string()),
            kube::Error::InferConfig(e) => ClusterError::NoConfig(chain(&e)),
            kube::Error::InferKubeconfig(e) => ClusterError::NoConfig(chain(&e)),
            other => ClusterError::Unreachable {
                server: server.to_owned(),
                reason: innermost(&other),
            },
        }
    }
}

/// What an error status from the API server at `server`, about `target`, means.
fn classify_status(server: &str, status: &kube::core::Status, target: Target<'_>) -> ClusterError {
    let message = if status.message.is_empty() {
        status.reason.clone()
    } else {
        status.message.clone()
    };
    match status.code {
        401 => ClusterError::Unauthorized {
            server: server.to_owned(),
            reason: message,
        },
        403 => ClusterError::Forbidden(message),
        // An object that is not there names itself in the details; a resource type the server does
        // not know does not.
        404 if target.name.is_some()
            && status.details.as_ref().is_some_and(|d| !d.name.is_empty()) =>
        {
            ClusterError::NotFound {
                kind: target.kind,
                name: target.name.unwrap_or_default().to_owned(),
                namespace: target.namespace.unwrap_or_default().to_owned(),
            }
        }
        404 => ClusterError::NotInstalled(target.kind),
        409 if target.name.is_some() => target.conflict(),
        _ => ClusterError::Refused(message),
    }
}

/// Why there is no configuration. The kubeconfig's failure is the one a person can act on; the
/// in-cluster one only says this is not a Pod.
fn no_config(err: &kube::config::InferConfigError) -> String {
    use kube::config::KubeconfigError;
    let Some(source) = std::error::Error::source(err) else {
        return err.to_string();
    };
    match source.downcast_ref::<KubeconfigError>() {
        Some(KubeconfigError::FindPath) => {
            "no kubeconfig: KUBECONFIG is not set and ~/.kube/config does not exist".to_owned()
        }
        Some(KubeconfigError::ReadConfig(e, path)) => {
            format!("cannot read the kubeconfig {}: {e}", path.display())
        }
        _ => chain(source),
    }
}

/// The error's messages, outermost first, each cause only once (many errors repeat their
/// source's message in their own).
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let message = e.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = e.source();
    }
    text
}

/// The innermost cause: "Connection refused (os error 111)" rather than the layers around it.
fn innermost(err: &dyn std::error::Error) -> String {
    let mut last: &dyn std::error::Error = err;
    while let Some(e) = last.source() {
        last = e;
    }
    last.to_string()
}

/// Waits up to [`SETTLE`] for the operator to evaluate `generation` of the object `name`: until
/// `observed` (its status's observedGeneration) reaches it. `None` when it did not in time.
pub async fn settle<K>(
    api: &Api<K>,
    name: &str,
    generation: Option<i64>,
    observed: impl Fn(&K) -> Option<i64>,
) -> Option<K>
where
    K: Resource + Clone + serde::de::DeserializeOwned + fmt::Debug,
{
    let generation = generation?;
    let start = Instant::now();
    while start.elapsed() < SETTLE {
        if let Ok(object) = api.get(name).await
            && observed(&object).is_some_and(|g| g >= generation)
        {
            return Some(object);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    None
}

/// An object's kind, name and namespace as the commands print them.
pub struct Named<'a> {
    /// Kind, lowercase.
    pub kind: &'static str,
    /// Name.
    pub name: &'a str,
    /// Namespace.
    pub namespace: &'a str,
}

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} in namespace {:?}",
            self.kind, self.name, self.namespace
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SERVER: &str = "https://127.0.0.1:6443";

    fn status(value: serde_json::Value) -> kube::core::Status {
        serde_json::from_value(value).unwrap()
    }

    fn said(value: serde_json::Value, target: Target<'_>) -> String {
        classify_status(SERVER, &status(value), target).to_string()
    }

    #[test]
    fn a_missing_object_is_named_with_its_namespace() {
        let not_found = json!({"status": "Failure", "code": 404, "reason": "NotFound",
            "message": "riskassessments.aims.dev \"x\" not found",
            "details": {"name": "x", "group": "aims.dev", "kind": "riskassessments"}});
        assert_eq!(
            said(not_found, Target::object("riskassessment", "x", "y")),
            "riskassessment \"x\" not found in namespace \"y\""
        );
    }

    #[test]
    fn an_unknown_resource_type_means_the_crds_are_missing() {
        let unknown = json!({"status": "Failure", "code": 404, "reason": "NotFound",
            "message": "the server could not find the requested resource", "details": {}});
        assert_eq!(
            said(unknown.clone(), Target::object("aisystem", "x", "y")),
            "the aims CRDs are not installed in this cluster (it knows no aisystems.aims.dev)"
        );
        assert_eq!(
            said(unknown, Target::list("aisystem", None)),
            "the aims CRDs are not installed in this cluster (it knows no aisystems.aims.dev)"
        );
    }

    #[test]
    fn forbidden_passes_the_api_servers_message_on() {
        let denied = json!({"status": "Failure", "code": 403, "reason": "Forbidden",
            "message": "admission webhook \"riskassessments.aims.dev\" denied the request: bob is not an approver"});
        assert_eq!(
            said(denied, Target::object("riskassessment", "x", "y")),
            "not allowed: admission webhook \"riskassessments.aims.dev\" denied the request: bob is not an approver"
        );
    }

    #[test]
    fn other_refusals_and_conflicts() {
        let invalid = json!({"status": "Failure", "code": 422, "reason": "Invalid",
            "message": "AISystem.aims.dev \"s\" is invalid: spec.oversight.haltReason: Invalid value: a halt needs haltReason"});
        assert_eq!(
            said(invalid, Target::object("aisystem", "s", "n")),
            "refused by the API server: AISystem.aims.dev \"s\" is invalid: spec.oversight.haltReason: Invalid value: a halt needs haltReason"
        );
        let conflict = json!({"status": "Failure", "code": 409, "reason": "Conflict", "message": "the object has been modified"});
        assert_eq!(
            said(conflict, Target::object("riskassessment", "x", "y")),
            "riskassessment \"x\" in namespace \"y\" changed while this command ran; run it again"
        );
        let unauthorized = json!({"status": "Failure", "code": 401, "reason": "Unauthorized", "message": "Unauthorized"});
        assert_eq!(
            said(unauthorized, Target::list("aisystem", Some("n"))),
            "not logged in to https://127.0.0.1:6443: Unauthorized"
        );
    }

    #[test]
    fn causes_are_said_once_and_innermost_is_the_root() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let wrapped = kube::Error::ReadEvents(io);
        assert_eq!(innermost(&wrapped), "Connection refused");
        assert_eq!(
            chain(&wrapped),
            "Error reading events stream: Connection refused"
        );
    }
}
