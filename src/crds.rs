//! The CustomResourceDefinitions of the aims kinds, generated from the Rust types.
//!
//! `crds/` in the repository holds the output of [`write_dir`]; a test fails when it drifts from
//! the types, and the Helm chart installs the same files.

use std::{fs, io, path::Path};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use kube::CustomResourceExt;

use crate::api::{AISystem, AdmissionFloor, ClusterControlBinding, ControlBinding, RiskAssessment};

/// The first line of every generated file.
pub const HEADER: &str = "# Generated from the Rust types by `aims crds`. Do not edit.\n";

/// Errors while rendering or writing CRDs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A CRD could not be rendered as YAML.
    #[error("cannot render CRD {name} as YAML: {source}")]
    Render {
        /// The CRD's name.
        name: String,
        /// What went wrong.
        source: serde_saphyr::SerializeError,
    },
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// What went wrong.
        source: io::Error,
    },
}

/// Every CRD of the aims API, in a stable order.
pub fn all() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![
        AISystem::crd(),
        AdmissionFloor::crd(),
        RiskAssessment::crd(),
        ControlBinding::crd(),
        ClusterControlBinding::crd(),
    ];
    for crd in &mut crds {
        polish(crd);
    }
    crds
}

/// Makes the schemas read well in `kubectl explain`: the kind's description is its spec type's
/// doc comment, and doc-comment line wraps become spaces (paragraph breaks stay).
fn polish(crd: &mut CustomResourceDefinition) {
    for version in &mut crd.spec.versions {
        let Some(root) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        else {
            continue;
        };
        root.description = root
            .properties
            .as_ref()
            .and_then(|p| p.get("spec"))
            .and_then(|spec| spec.description.clone());
        unwrap_descriptions(root);
    }
}

fn unwrap_descriptions(schema: &mut JSONSchemaProps) {
    if let Some(text) = schema.description.as_mut() {
        *text = unwrap_lines(text);
    }
    let children = schema
        .properties
        .iter_mut()
        .flat_map(|p| p.values_mut())
        .chain(schema.items.iter_mut().filter_map(|items| match items {
            JSONSchemaPropsOrArray::Schema(s) => Some(s.as_mut()),
            JSONSchemaPropsOrArray::Schemas(_) => None,
        }))
        .chain(
            schema
                .additional_properties
                .iter_mut()
                .filter_map(|ap| match ap {
                    JSONSchemaPropsOrBool::Schema(s) => Some(s.as_mut()),
                    JSONSchemaPropsOrBool::Bool(_) => None,
                }),
        );
    for child in children {
        unwrap_descriptions(child);
    }
}

/// Joins lines that were wrapped for the source file; keeps blank-line paragraph breaks.
fn unwrap_lines(text: &str) -> String {
    text.split("\n\n")
        .map(|para| {
            para.split('\n')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The file name of a CRD in `crds/`: its name, for example `aisystems.aims.dev.yaml`.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or("unnamed"))
}

/// One CRD as a YAML document, with the generated-file header.
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, Error> {
    let body = serde_saphyr::to_string(crd).map_err(|source| Error::Render {
        name: crd.metadata.name.clone().unwrap_or_default(),
        source,
    })?;
    Ok(format!("{HEADER}{body}"))
}

/// Every CRD as one multi-document YAML stream.
pub fn to_yaml_stream() -> Result<String, Error> {
    let docs = all().iter().map(to_yaml).collect::<Result<Vec<_>, _>>()?;
    Ok(docs.join("---\n"))
}

/// Writes each CRD to its own file in `dir`, creating `dir` if needed.
pub fn write_dir(dir: &Path) -> Result<(), Error> {
    let write_err = |path: &Path, source| Error::Write {
        path: path.display().to_string(),
        source,
    };
    fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
    for crd in all() {
        let path = dir.join(file_name(&crd));
        fs::write(&path, to_yaml(&crd)?).map_err(|e| write_err(&path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwrap_lines_joins_wrapped_lines_and_keeps_paragraphs() {
        let cases = [
            ("one line", "one line"),
            ("wrapped\nline", "wrapped line"),
            ("first\npara\n\nsecond", "first para\n\nsecond"),
        ];
        for (input, want) in cases {
            assert_eq!(unwrap_lines(input), want, "input {input:?}");
        }
    }

    #[test]
    fn every_kind_has_its_own_description() {
        for crd in all() {
            let root = crd.spec.versions[0]
                .schema
                .as_ref()
                .unwrap()
                .open_api_v3_schema
                .as_ref()
                .unwrap();
            let text = root.description.as_deref().unwrap_or_default();
            assert!(
                !text.is_empty() && !text.contains("Auto-generated"),
                "{}: {text:?}",
                crd.spec.names.kind
            );
        }
    }
}

#[cfg(test)]
mod drift {
    use std::path::Path;

    use super::*;

    /// `crds/` must be exactly what the types generate: run `make crds` after changing a type.
    #[test]
    fn crds_dir_matches_the_types() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
        let mut expected: Vec<String> = Vec::new();
        for crd in all() {
            let name = file_name(&crd);
            let path = dir.join(&name);
            let on_disk = fs::read_to_string(&path).unwrap_or_default();
            assert!(
                on_disk == to_yaml(&crd).unwrap(),
                "crds/{name} differs from the Rust types; run `make crds` and commit the result"
            );
            expected.push(name);
        }
        let mut present: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        present.sort();
        expected.sort();
        assert_eq!(
            present, expected,
            "crds/ holds files the types do not generate"
        );
    }
}
