//! The webhook's certificates and configurations against a real API server (the test
//! environment's control plane): replicas sharing one Secret, the CA bundle reaching every
//! webhook, and the API server calling a server these configurations describe over TLS.

/// The operator's own CA and serving certificate, kept in a Secret.
mod certs {
    use std::sync::Arc;

    use jiff::{SignedDuration, Timestamp};
    use k8s_openapi::{
        ByteString,
        api::{
            admissionregistration::v1::{
                MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
            },
            core::v1::{Namespace, Secret},
        },
        apimachinery::pkg::apis::meta::v1::LabelSelector,
    };
    use kube::{
        Api, Client,
        api::{ObjectMeta, PostParams},
    };

    use aims_operator::admission::{
        certs::*,
        config::{Endpoint, Options, configurations},
        tls::CertResolver,
    };

    /// A client of the shared test control plane and a fresh namespace named after `prefix`.
    pub(crate) async fn client_and_namespace(prefix: &str) -> (Client, String) {
        let client = aims_testenv::shared().client().await;
        let name = format!("{prefix}-{}", std::process::id());
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
        (client, name)
    }

    fn hosts(namespace: &str) -> Vec<Host> {
        service_hosts("aims-webhook", namespace, &["127.0.0.1".to_owned()])
    }

    fn plus_days(now: Timestamp, days: i64) -> Timestamp {
        now.checked_add(SignedDuration::from_hours(24 * days))
            .unwrap()
    }

    #[tokio::test]
    async fn replicas_share_one_secret_and_renew_it_once() {
        let (client, ns) = client_and_namespace("certs-replicas").await;
        let a = ManagedCerts::new(client.clone(), &ns, hosts(&ns));
        let b = a.clone();
        let now = Timestamp::now();

        // Two replicas start at once: one creates, the other reads what it created.
        let (first_a, first_b) = tokio::join!(a.ensure(now), b.ensure(now));
        let first = first_a.unwrap();
        assert_eq!(first, first_b.unwrap());
        assert_eq!(
            a.ensure(now).await.unwrap(),
            first,
            "nothing due, nothing changes"
        );
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
        let secret = secrets.get(SECRET_NAME).await.unwrap();
        assert_eq!(secret.type_.as_deref(), Some(SECRET_TYPE));
        let version = secret.metadata.resource_version.clone();
        assert_eq!(a.ensure(now).await.unwrap(), first);
        assert_eq!(
            secrets
                .get(SECRET_NAME)
                .await
                .unwrap()
                .metadata
                .resource_version,
            version,
            "a round with nothing due does not write"
        );

        // 70 days on, both renew the serving certificate at once; one write wins, both agree.
        let later = plus_days(now, 70);
        let (renewed_a, renewed_b) = tokio::join!(a.ensure(later), b.ensure(later));
        let renewed = renewed_a.unwrap();
        assert_eq!(renewed, renewed_b.unwrap());
        assert_ne!(renewed.cert_chain_pem, first.cert_chain_pem);
        assert_eq!(renewed.ca_bundle_pem, first.ca_bundle_pem);

        // 250 days on, the CA rotates; the old one stays in the bundle.
        let rotated = a.ensure(plus_days(now, 250)).await.unwrap();
        let bundle = rotated.ca_bundle_pem.clone().unwrap();
        assert_eq!(bundle.matches("-----BEGIN CERTIFICATE-----").count(), 2);
        assert!(bundle.ends_with(first.ca_bundle_pem.as_deref().unwrap()));
    }

    #[tokio::test]
    async fn a_secret_of_another_type_is_reported_not_overwritten() {
        let (client, ns) = client_and_namespace("certs-opaque").await;
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
        let opaque = Secret {
            metadata: ObjectMeta {
                name: Some(SECRET_NAME.to_owned()),
                ..Default::default()
            },
            type_: Some("Opaque".to_owned()),
            ..Default::default()
        };
        secrets
            .create(&PostParams::default(), &opaque)
            .await
            .unwrap();
        let error = ManagedCerts::new(client, &ns, hosts(&ns))
            .ensure(Timestamp::now())
            .await
            .unwrap_err();
        assert!(matches!(error, CertsError::Secret(_)), "{error}");
    }

    #[tokio::test]
    async fn the_ca_bundle_reaches_every_webhook() {
        let (client, ns) = client_and_namespace("certs-publish").await;
        let name = format!("aims-publish-{}", std::process::id());
        // No configurations yet: nothing to do, and no error.
        publish_ca_bundle(&client, &name, "none yet").await.unwrap();

        let (mut validating, mut mutating) = configurations(
            &Endpoint::Url("https://127.0.0.1:9".to_owned()),
            &Options::new(&ns),
        );
        validating.metadata.name = Some(name.clone());
        mutating.metadata.name = Some(name.clone());
        // Nothing in the shared control plane carries this label: the webhooks, which point at
        // no server, never stand in the way of other tests, even if this one fails before it
        // deletes them.
        let nothing = LabelSelector {
            match_labels: Some([("aims.dev/test-matches-nothing".to_owned(), name.clone())].into()),
            ..Default::default()
        };
        for w in validating.webhooks.iter_mut().flatten() {
            w.object_selector = Some(nothing.clone());
        }
        for w in mutating.webhooks.iter_mut().flatten() {
            w.object_selector = Some(nothing.clone());
        }
        let validating_api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
        let mutating_api: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
        validating_api
            .create(&PostParams::default(), &validating)
            .await
            .unwrap();
        mutating_api
            .create(&PostParams::default(), &mutating)
            .await
            .unwrap();

        let certs = ManagedCerts::new(client.clone(), &ns, hosts(&ns)).with_configuration(&name);
        let material = certs.ensure(Timestamp::now()).await.unwrap();
        let bundle = material.ca_bundle_pem.unwrap();
        certs.publish(&bundle).await.unwrap();

        let live_v = validating_api.get(&name).await.unwrap();
        let live_m = mutating_api.get(&name).await.unwrap();
        let bundles: Vec<Option<ByteString>> = live_v
            .webhooks
            .iter()
            .flatten()
            .map(|w| w.client_config.ca_bundle.clone())
            .chain(
                live_m
                    .webhooks
                    .iter()
                    .flatten()
                    .map(|w| w.client_config.ca_bundle.clone()),
            )
            .collect();
        assert_eq!(bundles.len(), 5);
        for got in bundles {
            assert_eq!(got, Some(ByteString(bundle.as_bytes().to_vec())));
        }
        // The apply touched only caBundle: the rest is as created.
        let webhook = &live_v.webhooks.as_ref().unwrap()[1];
        assert_eq!(webhook.side_effects, "None");
        assert!(webhook.match_conditions.is_some());
        assert!(
            live_v
                .metadata
                .managed_fields
                .iter()
                .flatten()
                .any(|f| f.manager.as_deref() == Some(CA_FIELD_MANAGER))
        );

        // Publishing the same bundle again writes nothing.
        certs.publish(&bundle).await.unwrap();
        assert_eq!(
            validating_api
                .get(&name)
                .await
                .unwrap()
                .metadata
                .resource_version,
            live_v.metadata.resource_version
        );

        let _ = validating_api.delete(&name, &Default::default()).await;
        let _ = mutating_api.delete(&name, &Default::default()).await;
    }

    #[tokio::test]
    async fn keep_fresh_serves_what_another_replica_renewed() {
        let (client, ns) = client_and_namespace("certs-fresh").await;
        let certs = ManagedCerts::new(client.clone(), &ns, hosts(&ns));
        let first = certs.ensure(Timestamp::now()).await.unwrap();
        let resolver =
            Arc::new(CertResolver::from_pem(&first.cert_chain_pem, &first.key_pem).unwrap());
        // Another replica replaces the serving certificate (as if it were missing a name).
        let other = ManagedCerts::new(
            client.clone(),
            &ns,
            [hosts(&ns), vec![Host::parse("added.example")]].concat(),
        );
        let renewed = other.ensure(Timestamp::now()).await.unwrap();
        assert_ne!(renewed.cert_chain_pem, first.cert_chain_pem);

        // One round of this replica picks it up.
        let source = WebhookCerts::Managed(certs.clone());
        let mut current = first.clone();
        let mut published = None;
        source.round(&resolver, &mut current, &mut published).await;
        // This replica needs fewer names than the new certificate has: it keeps it.
        assert_eq!(current, renewed);
        let served = resolver.current().unwrap().cert[0].clone();
        let expected =
            aims_operator::admission::tls::certified_key(&renewed.cert_chain_pem, &renewed.key_pem)
                .unwrap()
                .cert[0]
                .clone();
        assert_eq!(served, expected);
    }
}

/// The API server calling a webhook server these configurations describe, over TLS with the
/// operator's own CA: the paths, rules, exclusions and the match condition as the API server
/// applies them.
mod configurations {
    use std::{sync::Arc, time::Duration};

    use k8s_openapi::{
        api::admissionregistration::v1::ValidatingWebhookConfiguration,
        apimachinery::pkg::apis::meta::v1::LabelSelector,
    };

    use axum::{Router, body::Bytes, http::header::CONTENT_TYPE, routing::post};
    use jiff::Timestamp;
    use k8s_openapi::api::{
        apps::v1::Deployment,
        core::v1::{Pod, ServiceAccount},
    };
    use kube::{
        Api, Client,
        api::{Patch, PatchParams, PostParams},
    };
    use serde_json::json;

    use super::certs::client_and_namespace;
    use aims_operator::admission::{
        certs::{Host, ManagedCerts},
        config::*,
        tls::{CertResolver, serve_on},
    };

    /// Denies everything, naming the resource and subresource it was asked about.
    async fn deny(body: Bytes) -> ([(axum::http::HeaderName, &'static str); 1], String) {
        let review: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let request = &review["request"];
        let what = format!(
            "{}/{}",
            request["resource"]["resource"].as_str().unwrap_or_default(),
            request["subResource"].as_str().unwrap_or_default()
        );
        let answer = json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {
                "uid": request["uid"],
                "allowed": false,
                "status": { "code": 403, "message": format!("test webhook saw {what}") },
            },
        });
        ([(CONTENT_TYPE, "application/json")], answer.to_string())
    }

    fn deployment(name: &str) -> Deployment {
        serde_json::from_value(json!({
            "metadata": { "name": name },
            "spec": {
                "replicas": 0,
                "selector": { "matchLabels": { "app": name } },
                "template": {
                    "metadata": { "labels": { "app": name } },
                    "spec": { "containers": [{ "name": "c", "image": "example.invalid/c:1" }] },
                },
            },
        }))
        .unwrap()
    }

    fn pod(name: &str, controlled: bool) -> Pod {
        let mut pod = json!({
            "metadata": { "name": name },
            "spec": { "containers": [{ "name": "c", "image": "example.invalid/c:1" }] },
        });
        if controlled {
            pod["metadata"]["ownerReferences"] = json!([{
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "owner",
                "uid": "00000000-0000-0000-0000-000000000001",
                "controller": true,
            }]);
        }
        serde_json::from_value(pod).unwrap()
    }

    fn denial(result: Result<impl std::fmt::Debug, kube::Error>) -> String {
        match result {
            Err(kube::Error::Api(e)) => e.message,
            other => panic!("expected a denial, got {other:?}"),
        }
    }

    async fn wait_for_default_service_account(client: &Client, ns: &str) {
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
        tokio::time::timeout(Duration::from_secs(60), async {
            while accounts.get_opt("default").await.unwrap().is_none() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await
        .expect("the namespace's default ServiceAccount appears");
    }

    #[tokio::test]
    async fn the_api_server_reaches_the_workload_webhook_and_pods_that_claim_an_owner() {
        let (client, ns) = client_and_namespace("webhook-e2e").await;
        wait_for_default_service_account(&client, &ns).await;
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        // Created before the webhook exists, to be scaled once it does.
        deployments
            .create(&PostParams::default(), &deployment("existing"))
            .await
            .unwrap();

        let name = format!("aims-e2e-{}", std::process::id());
        let certs = ManagedCerts::new(client.clone(), &ns, vec![Host::parse("127.0.0.1")])
            .with_configuration(&name);
        let material = certs.ensure(Timestamp::now()).await.unwrap();
        let resolver =
            Arc::new(CertResolver::from_pem(&material.cert_chain_pem, &material.key_pem).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let router = Router::new().route(VALIDATE_WORKLOADS_PATH, post(deny));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_on(listener, resolver, router, async move {
            let _ = stopped.await;
        }));

        let (mut validating, _) = configurations(
            &Endpoint::Url(format!("https://127.0.0.1:{port}")),
            &Options::new("aims-system"),
        );
        validating.metadata.name = Some(name.clone());
        // Only the workload and Pod webhooks (the records path has no handler here), and only
        // for this test's namespace: other tests share the control plane.
        validating.webhooks.as_mut().unwrap().truncate(2);
        for w in validating.webhooks.iter_mut().flatten() {
            w.namespace_selector = Some(LabelSelector {
                match_labels: Some([(NAMESPACE_NAME_LABEL.to_owned(), ns.clone())].into()),
                ..Default::default()
            });
        }
        let configs: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
        configs
            .create(&PostParams::default(), &validating)
            .await
            .unwrap();
        certs
            .publish(material.ca_bundle_pem.as_deref().unwrap())
            .await
            .unwrap();

        // The API server loads new configurations within moments: wait until a create is denied.
        let message = tokio::time::timeout(Duration::from_secs(30), async {
            for attempt in 0.. {
                let probe = format!("probe-{attempt}");
                match deployments
                    .create(&PostParams::default(), &deployment(&probe))
                    .await
                {
                    Ok(_) => {
                        let _ = deployments.delete(&probe, &Default::default()).await;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(kube::Error::Api(e)) => return e.message,
                    Err(e) => panic!("{e}"),
                }
            }
            unreachable!()
        })
        .await
        .expect("the webhook takes effect");
        assert!(
            message.contains("test webhook saw deployments/"),
            "{message}"
        );

        let scaled = deployments
            .patch_scale(
                "existing",
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": { "replicas": 2 } })),
            )
            .await;
        assert!(
            denial(scaled).contains("test webhook saw deployments/scale"),
            "scale requests reach the webhook"
        );
        let bare = pods
            .create(&PostParams::default(), &pod("bare", false))
            .await;
        assert!(denial(bare).contains("test webhook saw pods/"));
        // An owner reference is only a claim: a Pod that names a ReplicaSet but is written by
        // someone other than the control plane's controllers is reviewed too.
        let claimed = pods
            .create(&PostParams::default(), &pod("controlled", true))
            .await;
        assert!(denial(claimed).contains("test webhook saw pods/"));

        let _ = configs.delete(&name, &Default::default()).await;
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}
