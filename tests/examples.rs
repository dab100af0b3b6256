//! Every aims object in `examples/` reads into the Rust types without losing a field, so the
//! examples, the CRDs and the code agree. (The API server's side is in `api_server.rs`.)

use std::{fs, path::Path};

use aims_operator::api::{AISystem, ClusterControlBinding, ControlBinding, RiskAssessment};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

fn yaml_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

/// Reads `doc` as `T` and checks that every field written in the example survives the trip.
fn round_trip<T: DeserializeOwned + Serialize>(doc: &Value, origin: &str) {
    let typed: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{origin}: {e}"));
    let back = serde_json::to_value(&typed).unwrap();
    assert_subset(doc, &back, origin, "");
}

fn assert_subset(written: &Value, read: &Value, origin: &str, path: &str) {
    match (written, read) {
        (Value::Object(w), Value::Object(r)) => {
            for (key, value) in w {
                let here = format!("{path}.{key}");
                let other = r
                    .get(key)
                    .unwrap_or_else(|| panic!("{origin}: {here} is not a field of the type"));
                assert_subset(value, other, origin, &here);
            }
        }
        (Value::Array(w), Value::Array(r)) => {
            assert_eq!(w.len(), r.len(), "{origin}: {path}");
            for (i, (w, r)) in w.iter().zip(r).enumerate() {
                assert_subset(w, r, origin, &format!("{path}[{i}]"));
            }
        }
        (w, r) => assert_eq!(w, r, "{origin}: {path}"),
    }
}

#[test]
fn every_example_reads_into_the_types_without_losing_a_field() {
    let mut files = Vec::new();
    yaml_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &mut files,
    );
    let mut seen = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for (i, doc) in docs.iter().enumerate() {
            let origin = format!("{} document {i}", file.display());
            let kind = doc["kind"].as_str().unwrap_or_default();
            if doc["apiVersion"] != "aims.dev/v1alpha1" {
                continue;
            }
            match kind {
                "AISystem" => round_trip::<AISystem>(doc, &origin),
                "RiskAssessment" => round_trip::<RiskAssessment>(doc, &origin),
                "ControlBinding" => round_trip::<ControlBinding>(doc, &origin),
                "ClusterControlBinding" => round_trip::<ClusterControlBinding>(doc, &origin),
                other => panic!("{origin}: unknown aims kind {other}"),
            }
            seen.push(kind.to_owned());
        }
    }
    for kind in [
        "AISystem",
        "RiskAssessment",
        "ControlBinding",
        "ClusterControlBinding",
    ] {
        assert!(seen.iter().any(|k| k == kind), "no {kind} in examples/");
    }
}
