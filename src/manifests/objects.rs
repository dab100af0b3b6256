//! Reading one document into an [`Object`]: its `apiVersion` and `kind`, `List` items, the typed
//! object, and the fields the aims kinds do not have.

use std::sync::OnceLock;

use k8s_openapi::{
    api::core::v1::Namespace,
    apiextensions_apiserver::pkg::apis::apiextensions::v1::{
        JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
    },
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};

use crate::{
    api::{BindingRules, GROUP, VERSION},
    engine::{
        catalog::closest,
        workload::{FactsError, WorkloadFacts, WorkloadKind},
    },
};

use super::*;

/// How a value looks, for messages: `integer \`3\``, `a sequence`...
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) if n.is_f64() => format!("floating point `{n}`"),
        Value::Number(n) => format!("integer `{n}`"),
        Value::String(s) if s.chars().count() > 60 => {
            let head: String = s.chars().take(60).collect();
            format!("string {head:?}...")
        }
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "a sequence".to_owned(),
        Value::Object(_) => "a map".to_owned(),
    }
}

/// Reads one parsed document.
pub(super) fn read_document(value: Value, origin: &Source, spans: &Spans<'_>, sink: &mut Sink) {
    if value.is_null() {
        // `~` or `null` alone: an empty document.
        return;
    }
    read_object(value, "", None, origin, spans, sink);
}

/// The type field `key`: `Ok(None)` when missing or empty.
pub(super) fn type_field(map: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!(
            "invalid type: {}, expected a string",
            describe(other)
        )),
    }
}

/// Reads the object at `at` (empty for the document itself, `items[i]` within a List).
/// `inferred` is the type of the items of a typed List (`DeploymentList`), for items that omit it.
pub(super) fn read_object(
    value: Value,
    at: &str,
    inferred: Option<&(String, String)>,
    origin: &Source,
    spans: &Spans<'_>,
    sink: &mut Sink,
) {
    let field_error = |path: String, message: String| LoadError::Field {
        origin: origin.clone(),
        line: spans.line(&path),
        path,
        message,
    };
    let Value::Object(mut map) = value else {
        sink.errors.push(field_error(
            at.to_owned(),
            format!(
                "expected a Kubernetes object (a map with apiVersion and kind), found {}",
                describe(&value)
            ),
        ));
        return;
    };
    if let Some((api_version, kind)) = inferred {
        for (key, default) in [("apiVersion", api_version), ("kind", kind)] {
            if matches!(map.get(key), None | Some(Value::Null)) {
                map.insert(key.to_owned(), Value::String(default.clone()));
            }
        }
    }
    let api_version = type_field(&map, "apiVersion");
    let kind = type_field(&map, "kind");
    for (key, field) in [("apiVersion", &api_version), ("kind", &kind)] {
        if let Err(message) = field {
            sink.errors
                .push(field_error(join_path(at, key), message.clone()));
        }
    }
    let (api_version, kind) = match (api_version, kind) {
        (Ok(Some(api_version)), Ok(Some(kind))) => (api_version, kind),
        (api_version, kind) => {
            let missing = match (matches!(api_version, Ok(None)), matches!(kind, Ok(None))) {
                (true, true) => "apiVersion and kind",
                (true, false) => "apiVersion",
                (false, true) => "kind",
                (false, false) => return, // Wrongly typed: reported above.
            };
            sink.errors.push(LoadError::MissingTypeInfo {
                origin: origin.clone(),
                object: at.to_owned(),
                missing,
            });
            return;
        }
    };

    if let Some(item_kind) = list_item_kind(&api_version, &kind, &map) {
        let inferred = item_kind.map(|k| (api_version.clone(), k.to_owned()));
        match map.remove("items") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.into_iter().enumerate() {
                    let item_at = join_path(at, &format!("items[{i}]"));
                    read_object(item, &item_at, inferred.as_ref(), origin, spans, sink);
                }
            }
            Some(other) => sink.errors.push(field_error(
                join_path(at, "items"),
                format!("invalid type: {}, expected a sequence", describe(&other)),
            )),
        }
        return;
    }

    if is_unknown_kind(&api_version, &kind) {
        sink.errors.push(LoadError::UnknownKind {
            origin: origin.clone(),
            object: at.to_owned(),
            api_version,
            kind,
        });
        return;
    }

    let value = Value::Object(map);
    let mut errors = Vec::new();
    let object = read_typed(value, &api_version, &kind, at, origin, spans, &mut errors);
    if errors.is_empty() {
        if let Some(object) = object {
            sink.documents.push(Document {
                source: origin.clone(),
                object,
            });
        }
    } else {
        sink.errors.append(&mut errors);
    }
}

/// Whether the object is a List, and if so the kind of its items when the List is typed
/// (`Some(Some("Deployment"))` for a `DeploymentList`, `Some(None)` for a `List`).
pub(super) fn list_item_kind<'k>(
    api_version: &str,
    kind: &'k str,
    map: &Map<String, Value>,
) -> Option<Option<&'k str>> {
    if kind == "List" {
        return Some(None);
    }
    let item = kind.strip_suffix("List").filter(|k| !k.is_empty())?;
    let real_item = if group_of(api_version) == GROUP {
        AIMS_KINDS.contains(&item)
    } else {
        known_kinds(api_version).is_some_and(|kinds| kinds.contains(&item))
    };
    (map.contains_key("items") || real_item).then_some(Some(item))
}

/// Reads an object of a known type into its [`Object`], pushing every problem to `errors`.
pub(super) fn read_typed(
    value: Value,
    api_version: &str,
    kind: &str,
    at: &str,
    origin: &Source,
    spans: &Spans<'_>,
    errors: &mut Vec<LoadError>,
) -> Option<Object> {
    let field_error = |path: String, message: String| LoadError::Field {
        origin: origin.clone(),
        line: spans.line(&path),
        path,
        message,
    };
    let workload = WorkloadKind::from_type(api_version, kind);
    let governed = group_of(api_version) == GROUP
        || (api_version == "v1" && kind == "Namespace")
        || workload.is_some();
    if !governed {
        return Some(Object::Other {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        });
    }
    if !has_name(&value, workload.is_some()) {
        errors.push(field_error(
            join_path(at, "metadata.name"),
            format!("missing; every {kind} needs a name"),
        ));
    }
    let ctx = Ctx {
        at,
        origin,
        spans,
        kind,
    };
    if group_of(api_version) == GROUP {
        return match kind {
            "AISystem" => ctx.read_aims(&value, errors).map(Object::AISystem),
            "RiskAssessment" => ctx.read_aims(&value, errors).map(Object::RiskAssessment),
            "ControlBinding" => ctx.read_aims(&value, errors).map(Object::ControlBinding),
            "ClusterControlBinding" => ctx
                .read_aims(&value, errors)
                .map(Object::ClusterControlBinding),
            _ => None, // Unreachable: unknown aims kinds are reported before.
        };
    }
    if let Some(workload) = workload {
        return match WorkloadFacts::from_json(workload, value) {
            Ok(facts) => Some(Object::Workload(facts)),
            Err(e) => {
                let FactsError::Shape { path, message, .. } = e;
                let path = if path == "." { String::new() } else { path };
                errors.push(field_error(join_path(at, &path), message));
                None
            }
        };
    }
    match serde_path_to_error::deserialize::<_, Namespace>(&value) {
        Ok(ns) => Some(Object::Namespace {
            name: ns.metadata.name.unwrap_or_default(),
            labels: ns.metadata.labels.unwrap_or_default(),
        }),
        Err(e) => {
            errors.push(field_error(
                join_path(at, &path_string(e.path())),
                e.inner().to_string(),
            ));
            None
        }
    }
}

/// Whether the object has a `metadata.name` (or, where `generate` allows, a
/// `metadata.generateName`).
pub(super) fn has_name(value: &Value, generate: bool) -> bool {
    let named = |key: &str| {
        value
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    named("name") || (generate && named("generateName"))
}

/// What reading one aims object needs to report its problems.
pub(super) struct Ctx<'a> {
    pub(super) at: &'a str,
    pub(super) origin: &'a Source,
    pub(super) spans: &'a Spans<'a>,
    pub(super) kind: &'a str,
}

impl Ctx<'_> {
    /// Reads an aims object, and reports each field its type does not have.
    ///
    /// Unknown fields are found two ways: by comparing the object as written with the typed object
    /// written back (whatever did not survive the trip was not understood), and by walking the
    /// kind's CRD schema, which also works when the object does not read (a misspelled required
    /// field makes it fail with `missing field`) and names the nearest known field.
    pub(super) fn read_aims<T: DeserializeOwned + Serialize>(
        &self,
        value: &Value,
        errors: &mut Vec<LoadError>,
    ) -> Option<T> {
        let mut unknown = Vec::new();
        if let Some(schema) = crd_schema(self.kind) {
            unknown_in_root(value, schema, self.at, &mut unknown);
        }
        let (typed, type_error) = match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(typed) => (Some(typed), None),
            Err(e) => (None, Some(self.type_error(value, &e))),
        };
        if let Some(back) = typed.as_ref().and_then(|t| serde_json::to_value(t).ok()) {
            let mut lost = Vec::new();
            not_read_back(value, &back, self.at, &mut lost);
            for path in lost {
                if !unknown.iter().any(|(p, _)| *p == path) {
                    unknown.push((path, None));
                }
            }
        }
        // Unknown fields first, in file order: a misspelled field is usually why another one is
        // missing.
        let has_unknown = !unknown.is_empty();
        let mut found: Vec<LoadError> = unknown
            .into_iter()
            .map(|(path, suggestion)| LoadError::UnknownField {
                origin: self.origin.clone(),
                line: self.spans.line(&path),
                path,
                suggestion,
            })
            .collect();
        found.sort_by_key(|e| match e {
            LoadError::UnknownField { line, .. } => line.unwrap_or(usize::MAX),
            _ => usize::MAX,
        });
        errors.append(&mut found);
        if let Some((path, message)) = type_error {
            errors.push(LoadError::Field {
                origin: self.origin.clone(),
                line: self.spans.line(&path),
                path,
                message,
            });
        }
        if has_unknown { None } else { typed }
    }

    /// The path and message of a type error. Serde cannot follow a path into a flattened struct,
    /// so an error inside a binding's rules (flattened into `spec`) is located by reading `spec` as
    /// [`BindingRules`] alone.
    pub(super) fn type_error(
        &self,
        value: &Value,
        e: &serde_path_to_error::Error<serde_json::Error>,
    ) -> (String, String) {
        let path = path_string(e.path());
        if path == "spec"
            && matches!(self.kind, "ControlBinding" | "ClusterControlBinding")
            && let Some(Err(inner)) = value
                .get("spec")
                .map(serde_path_to_error::deserialize::<_, BindingRules>)
        {
            let inner_path = path_string(inner.path());
            if !inner_path.is_empty() {
                return (
                    join_path(self.at, &join_path("spec", &inner_path)),
                    inner.inner().to_string(),
                );
            }
        }
        (join_path(self.at, &path), e.inner().to_string())
    }
}

/// Whether a value carries nothing: null, an empty sequence or an empty map. The types drop such
/// values on the way back (`skip_serializing_if`), so their absence there is not a loss.
pub(super) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Collects the paths of fields `written` has and `read` (the typed object written back) lost.
pub(super) fn not_read_back(written: &Value, read: &Value, path: &str, out: &mut Vec<String>) {
    match (written, read) {
        (Value::Object(w), Value::Object(r)) => {
            for (key, value) in w {
                let here = join_path(path, key);
                match r.get(key) {
                    Some(back) => not_read_back(value, back, &here, out),
                    None if is_empty(value) => {}
                    None => out.push(here),
                }
            }
        }
        (Value::Array(w), Value::Array(r)) if w.len() == r.len() => {
            for (i, (w, r)) in w.iter().zip(r).enumerate() {
                not_read_back(w, r, &join_path(path, &format!("[{i}]")), out);
            }
        }
        _ => {}
    }
}

/// The fields of `metadata` (ObjectMeta), which CRD schemas leave open.
pub(super) const OBJECT_META_FIELDS: &[&str] = &[
    "annotations",
    "creationTimestamp",
    "deletionGracePeriodSeconds",
    "deletionTimestamp",
    "finalizers",
    "generateName",
    "generation",
    "labels",
    "managedFields",
    "name",
    "namespace",
    "ownerReferences",
    "resourceVersion",
    "selfLink",
    "uid",
];

/// The `openAPIV3Schema` of an aims kind's CRD.
pub(super) fn crd_schema(kind: &str) -> Option<&'static JSONSchemaProps> {
    static SCHEMAS: OnceLock<Vec<(String, JSONSchemaProps)>> = OnceLock::new();
    SCHEMAS
        .get_or_init(|| {
            crate::crds::all()
                .into_iter()
                .filter_map(|crd| {
                    let kind = crd.spec.names.kind;
                    let version = crd.spec.versions.into_iter().find(|v| v.name == VERSION)?;
                    Some((kind, version.schema?.open_api_v3_schema?))
                })
                .collect()
        })
        .iter()
        .find(|(k, _)| k == kind)
        .map(|(_, schema)| schema)
}

/// Unknown fields of an object against its CRD's root schema: `apiVersion` and `kind` are known,
/// `metadata` is checked against ObjectMeta's fields, the rest against the schema.
pub(super) fn unknown_in_root(
    value: &Value,
    schema: &JSONSchemaProps,
    at: &str,
    out: &mut Vec<(String, Option<String>)>,
) {
    let Value::Object(map) = value else { return };
    for (key, child) in map {
        let here = join_path(at, key);
        match key.as_str() {
            "apiVersion" | "kind" => {}
            "metadata" => {
                if let Value::Object(meta) = child {
                    for field in meta.keys() {
                        if !OBJECT_META_FIELDS.contains(&field.as_str()) {
                            out.push((
                                join_path(&here, field),
                                closest(
                                    field,
                                    OBJECT_META_FIELDS
                                        .iter()
                                        .copied()
                                        .filter(|k| !meta.contains_key(*k)),
                                )
                                .map(str::to_owned),
                            ));
                        }
                    }
                }
            }
            _ => match schema.properties.as_ref().and_then(|p| p.get(key)) {
                Some(s) => unknown_in(child, s, &here, out),
                None => {
                    let known = ["apiVersion", "kind", "metadata"]
                        .into_iter()
                        .chain(
                            schema
                                .properties
                                .iter()
                                .flat_map(|p| p.keys().map(String::as_str)),
                        )
                        .filter(|k| !map.contains_key(*k));
                    out.push((here, closest(key, known).map(str::to_owned)));
                }
            },
        }
    }
}

/// Unknown fields of `value` against `schema`. Open objects (no properties, or
/// `x-kubernetes-preserve-unknown-fields`) are not looked into.
pub(super) fn unknown_in(
    value: &Value,
    schema: &JSONSchemaProps,
    path: &str,
    out: &mut Vec<(String, Option<String>)>,
) {
    if schema.x_kubernetes_preserve_unknown_fields == Some(true) {
        return;
    }
    match value {
        Value::Object(map) => {
            let properties = schema.properties.as_ref();
            let additional = match &schema.additional_properties {
                Some(JSONSchemaPropsOrBool::Schema(s)) => Some(s.as_ref()),
                _ => None,
            };
            if properties.is_none() && additional.is_none() {
                return;
            }
            for (key, child) in map {
                let here = join_path(path, key);
                match properties.and_then(|p| p.get(key)).or(additional) {
                    Some(s) => unknown_in(child, s, &here, out),
                    None => {
                        let known = properties
                            .into_iter()
                            .flat_map(|p| p.keys().map(String::as_str))
                            .filter(|k| !map.contains_key(*k));
                        out.push((here, closest(key, known).map(str::to_owned)));
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(JSONSchemaPropsOrArray::Schema(s)) = &schema.items {
                for (i, item) in items.iter().enumerate() {
                    unknown_in(item, s, &join_path(path, &format!("[{i}]")), out);
                }
            }
        }
        _ => {}
    }
}
