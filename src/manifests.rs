//! Reading manifests into typed objects, the way `aims check -f` sees what a GitOps pipeline is
//! about to apply.
//!
//! Input is YAML (multi-document streams, `---` separated), JSON (one object, or several
//! concatenated), and `List` / `*List` objects whose `items` are expanded. Each document becomes an
//! [`Object`]: one of the four aims kinds, a Namespace, the [`WorkloadFacts`] of a governed
//! workload, or [`Object::Other`] for the ordinary objects a manifests directory also holds.
//!
//! Nothing here stops at the first problem: every document is read, every problem is reported as a
//! [`LoadError`] that names the file, the document, its line and the field, and every document
//! without a problem is returned. A document with any problem yields no [`Document`], so nothing is
//! judged on a half-understood record.
//!
//! What counts as a problem is what `kubectl apply` (with its default strict field validation)
//! would reject before the operator ever saw the object: syntax errors, a missing `apiVersion` or
//! `kind`, a kind that does not exist in the aims group or in a well-known built-in group, a field
//! of the wrong type in an aims kind or a governed workload, and a field the aims kinds do not
//! have.

use std::{
    cell::OnceCell,
    collections::{BTreeMap, HashSet},
    fmt, fs,
    io::{self, Read},
    path::{Path, PathBuf},
    sync::OnceLock,
};

use k8s_openapi::{
    api::core::v1::Namespace,
    apiextensions_apiserver::pkg::apis::apiextensions::v1::{
        JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
    },
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::{Map, Value};
use serde_saphyr::{MessageFormatter, Spanned};

use crate::{
    api::{
        AISystem, BindingRules, ClusterControlBinding, ControlBinding, GROUP, RiskAssessment,
        VERSION,
    },
    engine::{
        catalog::closest,
        workload::{FactsError, WorkloadFacts, WorkloadKind},
    },
};

/// The path that stands for standard input in [`load_paths`].
pub const STDIN_PATH: &str = "-";

/// The file name documents read from standard input carry in their [`Source`].
pub const STDIN_NAME: &str = "<stdin>";

/// Where a document came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source {
    /// The file, as given or found in a directory ([`STDIN_NAME`] for standard input).
    pub file: String,
    /// The document's position within the file, from 1. Empty and comment-only documents are not
    /// counted.
    pub document: usize,
    /// The line where the document's content starts, from 1 (after any `---` marker, blank lines
    /// and comments that precede it).
    pub line: usize,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} document {} (line {})",
            self.file, self.document, self.line
        )
    }
}

/// What one manifest holds.
#[allow(clippy::large_enum_variant)] // A few hundred per run; unboxed to match on them directly.
#[derive(Clone, Debug)]
pub enum Object {
    /// An `aims.dev/v1alpha1` AISystem.
    AISystem(AISystem),
    /// An `aims.dev/v1alpha1` RiskAssessment.
    RiskAssessment(RiskAssessment),
    /// An `aims.dev/v1alpha1` ControlBinding.
    ControlBinding(ControlBinding),
    /// An `aims.dev/v1alpha1` ClusterControlBinding.
    ClusterControlBinding(ClusterControlBinding),
    /// A `v1` Namespace: its labels select ClusterControlBindings.
    Namespace {
        /// The namespace's name.
        name: String,
        /// Its labels.
        labels: BTreeMap<String, String>,
    },
    /// A governed workload (see [`WorkloadKind`]), as the engine sees it.
    Workload(WorkloadFacts),
    /// An object that is not governed (a Service, ConfigMap, Secret, RBAC object, another
    /// project's custom resource...), which a manifests directory legitimately holds.
    Other {
        /// Its `apiVersion`.
        api_version: String,
        /// Its `kind`.
        kind: String,
    },
}

impl Object {
    /// The object's kind, as in `kind:`.
    pub fn kind(&self) -> &str {
        match self {
            Self::AISystem(_) => "AISystem",
            Self::RiskAssessment(_) => "RiskAssessment",
            Self::ControlBinding(_) => "ControlBinding",
            Self::ClusterControlBinding(_) => "ClusterControlBinding",
            Self::Namespace { .. } => "Namespace",
            Self::Workload(facts) => facts.kind.as_str(),
            Self::Other { kind, .. } => kind,
        }
    }
}

/// One object read from a manifest, and where it came from. The items of a `List` share the
/// List's source.
#[derive(Clone, Debug)]
pub struct Document {
    /// Where it came from.
    pub source: Source,
    /// What it is.
    pub object: Object,
}

/// Why a file, or a document in it, could not be read.
///
/// Each variant that concerns a document carries its [`Source`] as `origin` (the name `source` is
/// reserved by `std::error::Error` for the underlying cause). Paths are written as in
/// `spec.risks[0].likelihood`; within a `List` they start at the item, as in
/// `items[2].spec.riskTier`.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file, directory or standard input could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path ([`STDIN_NAME`] for standard input).
        path: String,
        /// What went wrong.
        source: io::Error,
    },
    /// A document is not well-formed YAML or JSON.
    #[error("{origin}: line {line}{}: {message}", column_suffix(*.column))]
    Syntax {
        /// The document.
        origin: Source,
        /// The line of the error in the file, from 1.
        line: usize,
        /// The column of the error, from 1, when known.
        column: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// An object has no `apiVersion` or no `kind`.
    #[error("{origin}: {}missing {missing}; every Kubernetes object needs apiVersion and kind", path_prefix(.object))]
    MissingTypeInfo {
        /// The document.
        origin: Source,
        /// Where the object is in the document: empty for the document itself, `items[2]` for an
        /// item of a List.
        object: String,
        /// What is missing: `apiVersion`, `kind`, or `apiVersion and kind`.
        missing: &'static str,
    },
    /// A kind that cannot exist: a kind of the `aims.dev` group other than its four, or a kind a
    /// well-known built-in group does not have (such as `apps/v1 Deploymnet`).
    #[error("{origin}: {}", unknown_kind_message(.object, .api_version, .kind))]
    UnknownKind {
        /// The document.
        origin: Source,
        /// Where the object is in the document: empty for the document itself, `items[2]` for an
        /// item of a List.
        object: String,
        /// The object's `apiVersion`.
        api_version: String,
        /// The object's `kind`.
        kind: String,
    },
    /// A field has the wrong type or value, or a required field is missing.
    #[error("{origin}: {}{message}", field_prefix(.path, *.line))]
    Field {
        /// The document.
        origin: Source,
        /// The field, as in `spec.risks[0].likelihood` (empty for the object itself).
        path: String,
        /// The line of the field in the file, when known.
        line: Option<usize>,
        /// What is wrong, as in `invalid type: string "high", expected u8`.
        message: String,
    },
    /// A field the aims kinds do not have, such as `spec.riskTeir`: most likely a typo, which the
    /// API server would reject.
    #[error("{origin}: {}unknown field{}", field_prefix(.path, *.line), suggestion_suffix(.suggestion))]
    UnknownField {
        /// The document.
        origin: Source,
        /// The field, as in `spec.oversight.haltReasn`.
        path: String,
        /// The line of the field in the file, when known.
        line: Option<usize>,
        /// A known field of the same object with a similar name, if there is one.
        suggestion: Option<String>,
    },
}

impl LoadError {
    /// The document the error is about (`None` for [`LoadError::Io`]).
    pub fn origin(&self) -> Option<&Source> {
        match self {
            Self::Io { .. } => None,
            Self::Syntax { origin, .. }
            | Self::MissingTypeInfo { origin, .. }
            | Self::UnknownKind { origin, .. }
            | Self::Field { origin, .. }
            | Self::UnknownField { origin, .. } => Some(origin),
        }
    }
}

fn column_suffix(column: Option<usize>) -> String {
    column.map(|c| format!(", column {c}")).unwrap_or_default()
}

fn path_prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

fn field_prefix(path: &str, line: Option<usize>) -> String {
    match (path.is_empty(), line) {
        (true, _) => String::new(),
        (false, None) => format!("{path}: "),
        (false, Some(line)) => format!("{path} (line {line}): "),
    }
}

fn suggestion_suffix(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Kinds
// ---------------------------------------------------------------------------------------------

/// The four kinds of the aims API.
const AIMS_KINDS: [&str; 4] = [
    "AISystem",
    "RiskAssessment",
    "ControlBinding",
    "ClusterControlBinding",
];

/// The kinds of the built-in (and KServe) group versions that manifests commonly use. A kind that
/// is not listed for its group version cannot be applied.
const KNOWN_KINDS: &[(&str, &[&str])] = &[
    (
        "v1",
        &[
            "Binding",
            "ComponentStatus",
            "ConfigMap",
            "Endpoints",
            "Event",
            "LimitRange",
            "List",
            "Namespace",
            "Node",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Pod",
            "PodTemplate",
            "ReplicationController",
            "ResourceQuota",
            "Secret",
            "Service",
            "ServiceAccount",
        ],
    ),
    (
        "apps/v1",
        &[
            "ControllerRevision",
            "DaemonSet",
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
        ],
    ),
    ("batch/v1", &["CronJob", "Job"]),
    (
        "networking.k8s.io/v1",
        &[
            "IPAddress",
            "Ingress",
            "IngressClass",
            "NetworkPolicy",
            "ServiceCIDR",
        ],
    ),
    (
        "rbac.authorization.k8s.io/v1",
        &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
    ),
    ("policy/v1", &["Eviction", "PodDisruptionBudget"]),
    ("autoscaling/v2", &["HorizontalPodAutoscaler"]),
    ("serving.kserve.io/v1beta1", &["InferenceService"]),
];

/// The group of an `apiVersion`: `apps` for `apps/v1`, empty for the core `v1`. A bare `aims.dev`
/// (a version forgotten) counts as the aims group.
fn group_of(api_version: &str) -> &str {
    match api_version.rsplit_once('/') {
        Some((group, _)) => group,
        None if api_version == GROUP => GROUP,
        None => "",
    }
}

fn aims_api_version() -> String {
    format!("{GROUP}/{VERSION}")
}

fn known_kinds(api_version: &str) -> Option<&'static [&'static str]> {
    KNOWN_KINDS
        .iter()
        .find(|(v, _)| *v == api_version)
        .map(|(_, kinds)| *kinds)
}

/// Whether `apiVersion` + `kind` name a kind that cannot exist.
fn is_unknown_kind(api_version: &str, kind: &str) -> bool {
    if group_of(api_version) == GROUP {
        return api_version != aims_api_version() || !AIMS_KINDS.contains(&kind);
    }
    known_kinds(api_version).is_some_and(|kinds| !kinds.contains(&kind))
}

/// The message of [`LoadError::UnknownKind`], with the field to fix and a hint.
fn unknown_kind_message(object: &str, api_version: &str, kind: &str) -> String {
    let aims = group_of(api_version) == GROUP;
    if aims && AIMS_KINDS.contains(&kind) {
        return format!(
            "{}: {kind} is {}, not {api_version}",
            join_path(object, "apiVersion"),
            aims_api_version()
        );
    }
    let kinds: &[&str] = if aims {
        &AIMS_KINDS
    } else {
        known_kinds(api_version).unwrap_or_default()
    };
    let mut message = format!(
        "{}: {api_version} has no kind {kind:?}",
        join_path(object, "kind")
    );
    let home = KNOWN_KINDS
        .iter()
        .filter(|(v, kinds)| *v != api_version && kinds.contains(&kind))
        .map(|(v, _)| (*v).to_owned())
        .chain(AIMS_KINDS.contains(&kind).then(aims_api_version))
        .next();
    if let Some(home) = home {
        message.push_str(&format!("; {kind} is {home}"));
    } else if let Some(near) = closest(kind, kinds.iter().copied()) {
        message.push_str(&format!(" (did you mean {near}?)"));
    } else if !kinds.is_empty() && kinds.len() <= 8 {
        message.push_str(&format!("; its kinds are {}", kinds.join(", ")));
    }
    message
}

// ---------------------------------------------------------------------------------------------
// Paths and line numbers
// ---------------------------------------------------------------------------------------------

/// `parent.child`, `parent[0]`, or either alone when the other is empty.
fn join_path(parent: &str, child: &str) -> String {
    match (parent.is_empty(), child.is_empty()) {
        (true, _) => child.to_owned(),
        (false, true) => parent.to_owned(),
        (false, false) if child.starts_with('[') => format!("{parent}{child}"),
        (false, false) => format!("{parent}.{child}"),
    }
}

/// A serde_path_to_error path as a string; empty for the root.
fn path_string(path: &serde_path_to_error::Path) -> String {
    let s = path.to_string();
    if s == "." { String::new() } else { s }
}

/// A YAML node with the locations of its keys and elements, read only when an error needs a line.
#[derive(Debug)]
enum Node {
    Leaf,
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> serde::de::Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_i128<E>(self, _: i128) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_u128<E>(self, _: u128) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_str<E>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_bytes<E>(self, _: &[u8]) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Leaf)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Node::Map(entries))
    }
}

impl Node {
    /// The line (relative to the parsed text) of the field at `path`: the line of its key, or of
    /// the sequence element. Keys may contain dots (`aims.dev/system`); the longest key that
    /// matches wins.
    fn line_of(&self, path: &str) -> Option<u64> {
        let mut node = self;
        let mut rest = path;
        let mut line = None;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('[') {
                let (index, after) = after.split_once(']')?;
                let index: usize = index.parse().ok()?;
                let Node::Seq(items) = node else { return None };
                let item = items.get(index)?;
                line = Some(item.referenced.line());
                node = &item.value;
                rest = after;
            } else {
                let Node::Map(entries) = node else {
                    return None;
                };
                let (key, value) = entries
                    .iter()
                    .filter(|(key, _)| {
                        let k = key.value.as_str();
                        !k.is_empty()
                            && rest.strip_prefix(k).is_some_and(|after| {
                                after.is_empty() || after.starts_with(['.', '['])
                            })
                    })
                    .max_by_key(|(key, _)| key.value.len())?;
                line = Some(key.referenced.line());
                node = value;
                rest = &rest[key.value.len()..];
            }
            rest = rest.strip_prefix('.').unwrap_or(rest);
        }
        line.filter(|l| *l > 0)
    }
}

/// The text a document was parsed from, for finding the lines of fields. The spans are parsed at
/// most once, and only when an error needs them.
struct Spans<'a> {
    text: &'a str,
    first_line: usize,
    node: OnceCell<Option<Node>>,
}

impl<'a> Spans<'a> {
    fn new(text: &'a str, first_line: usize) -> Self {
        Self {
            text,
            first_line,
            node: OnceCell::new(),
        }
    }

    /// The absolute line of the field at `path`, when it can be found.
    fn line(&self, path: &str) -> Option<usize> {
        if path.is_empty() {
            return None;
        }
        let node = self
            .node
            .get_or_init(|| serde_saphyr::from_str_with_options(self.text, yaml_options()).ok());
        let relative = usize::try_from(node.as_ref()?.line_of(path)?).ok()?;
        self.first_line.checked_add(relative.checked_sub(1)?)
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_at(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct Sink {
    documents: Vec<Document>,
    errors: Vec<LoadError>,
}

fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    options
}

/// Reads the documents of one file's text. `file` names the file in [`Source`] and decides the
/// format: a name ending in `.json` is read as JSON; other text is read as JSON when it is a
/// well-formed JSON object (or several), and as YAML otherwise.
///
/// Pure: no I/O. Never panics. Empty and comment-only documents yield nothing; every other
/// document yields a [`Document`] or at least one [`LoadError`].
pub fn parse_text(file: &str, text: &str) -> (Vec<Document>, Vec<LoadError>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sink = Sink::default();
    let is_json_file = file.to_ascii_lowercase().ends_with(".json");
    if is_json_file || text.trim_start().starts_with('{') {
        let (values, error) = parse_json_stream(text);
        if is_json_file || error.is_none() {
            read_json(file, text, values, error, &mut sink);
            return (sink.documents, sink.errors);
        }
    }
    read_yaml(file, text, &mut sink);
    (sink.documents, sink.errors)
}

/// The values of a JSON stream with the byte range of each, and the error that ended it early.
fn parse_json_stream(text: &str) -> (Vec<(usize, usize, Value)>, Option<serde_json::Error>) {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut values = Vec::new();
    loop {
        let pos = stream.byte_offset();
        let rest = text.get(pos..).unwrap_or_default();
        let start = pos + (rest.len() - rest.trim_start().len());
        match stream.next() {
            None => return (values, None),
            Some(Ok(value)) => values.push((start, stream.byte_offset(), value)),
            Some(Err(e)) => return (values, Some(e)),
        }
    }
}

fn read_json(
    file: &str,
    text: &str,
    values: Vec<(usize, usize, Value)>,
    error: Option<serde_json::Error>,
    sink: &mut Sink,
) {
    let mut document = 0;
    let mut next_start = 0;
    for (start, end, value) in values {
        document += 1;
        next_start = end;
        let origin = Source {
            file: file.to_owned(),
            document,
            line: line_at(text, start),
        };
        let spans = Spans::new(
            text.get(start..end).unwrap_or_default(),
            line_at(text, start),
        );
        read_document(value, &origin, &spans, sink);
    }
    if let Some(e) = error {
        let rest = text.get(next_start..).unwrap_or_default();
        let start = next_start + (rest.len() - rest.trim_start().len());
        let location = format!(" at line {} column {}", e.line(), e.column());
        let message = e.to_string();
        let message = message
            .strip_suffix(&location)
            .unwrap_or(&message)
            .to_owned();
        let origin = Source {
            file: file.to_owned(),
            document: document + 1,
            line: line_at(text, start),
        };
        sink.errors.push(LoadError::Syntax {
            line: if e.line() == 0 { origin.line } else { e.line() },
            column: (e.column() > 0).then_some(e.column()),
            origin,
            message,
        });
    }
}

/// One `---`-separated part of a YAML stream.
#[derive(Clone, Copy)]
struct Chunk {
    start: usize,
    end: usize,
    first_line: usize,
}

/// What a chunk holds.
enum ChunkContent {
    /// Nothing but blank lines, comments and markers.
    Empty,
    /// Directives (`%YAML`, `%TAG`), which belong to the next document.
    Directives,
    /// A document whose content starts at this line.
    Document(usize),
}

/// Whether `line` is the document marker `marker` (`---` or `...`), alone or followed by a space.
fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// Splits a YAML stream at its document markers. A `---` line starts a new chunk (and is part of
/// it); a `...` line ends the chunk it is in. Markers are only recognised at the start of a line,
/// where YAML allows nothing else.
fn split_yaml(text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut first_line = 1;
    let mut offset = 0;
    let mut line_no = 1;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if is_marker(bare, "---") && offset > start {
            chunks.push(Chunk {
                start,
                end: offset,
                first_line,
            });
            start = offset;
            first_line = line_no;
        }
        offset += line.len();
        line_no += 1;
        if is_marker(bare, "...") {
            chunks.push(Chunk {
                start,
                end: offset,
                first_line,
            });
            start = offset;
            first_line = line_no;
        }
    }
    if start < text.len() {
        chunks.push(Chunk {
            start,
            end: text.len(),
            first_line,
        });
    }
    chunks
}

fn chunk_content(text: &str, first_line: usize) -> ChunkContent {
    let mut directives = false;
    for (i, line) in text.lines().enumerate() {
        let rest = if is_marker(line, "---") || is_marker(line, "...") {
            &line[3..]
        } else {
            line
        };
        let trimmed = rest.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if line.starts_with('%') {
            directives = true;
            continue;
        }
        return ChunkContent::Document(first_line + i);
    }
    if directives {
        ChunkContent::Directives
    } else {
        ChunkContent::Empty
    }
}

fn read_yaml(file: &str, text: &str, sink: &mut Sink) {
    let mut document = 0;
    let mut directives: Option<Chunk> = None;
    for chunk in split_yaml(text) {
        let chunk = match directives.take() {
            Some(d) => Chunk {
                start: d.start,
                first_line: d.first_line,
                ..chunk
            },
            None => chunk,
        };
        let chunk_text = text.get(chunk.start..chunk.end).unwrap_or_default();
        let line = match chunk_content(chunk_text, chunk.first_line) {
            ChunkContent::Empty => continue,
            ChunkContent::Directives => {
                directives = Some(chunk);
                continue;
            }
            ChunkContent::Document(line) => line,
        };
        document += 1;
        let origin = Source {
            file: file.to_owned(),
            document,
            line,
        };
        parse_yaml_document(chunk_text, chunk, origin, sink);
    }
    if let Some(d) = directives {
        // Directives and no document after them: read as the (empty or broken) document it is.
        let origin = Source {
            file: file.to_owned(),
            document: document + 1,
            line: d.first_line,
        };
        parse_yaml_document(
            text.get(d.start..d.end).unwrap_or_default(),
            d,
            origin,
            sink,
        );
    }
}

fn parse_yaml_document(chunk_text: &str, chunk: Chunk, origin: Source, sink: &mut Sink) {
    match serde_saphyr::from_str_with_options::<Value>(chunk_text, yaml_options()) {
        Ok(value) => {
            let spans = Spans::new(chunk_text, chunk.first_line);
            read_document(value, &origin, &spans, sink);
        }
        Err(e) => sink
            .errors
            .push(yaml_syntax_error(&e, origin, chunk.first_line)),
    }
}

fn yaml_syntax_error(e: &serde_saphyr::Error, origin: Source, first_line: usize) -> LoadError {
    let mut inner = e.without_snippet();
    while let serde_saphyr::Error::AliasError { error, .. } = inner {
        inner = error.without_snippet();
    }
    let message: String = serde_saphyr::UserMessageFormatter
        .format_message(inner)
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    let location = e.location().filter(|l| l.line() > 0);
    let line = location
        .and_then(|l| usize::try_from(l.line()).ok())
        .and_then(|l| first_line.checked_add(l - 1))
        .unwrap_or(origin.line);
    let column = location
        .and_then(|l| usize::try_from(l.column()).ok())
        .filter(|c| *c > 0);
    LoadError::Syntax {
        origin,
        line,
        column,
        message,
    }
}

// ---------------------------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------------------------

/// How a value looks, for messages: `integer \`3\``, `a sequence`...
fn describe(value: &Value) -> String {
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
fn read_document(value: Value, origin: &Source, spans: &Spans<'_>, sink: &mut Sink) {
    if value.is_null() {
        // `~` or `null` alone: an empty document.
        return;
    }
    read_object(value, "", None, origin, spans, sink);
}

/// The type field `key`: `Ok(None)` when missing or empty.
fn type_field(map: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
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
fn read_object(
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
fn list_item_kind<'k>(
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
fn read_typed(
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
fn has_name(value: &Value, generate: bool) -> bool {
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
struct Ctx<'a> {
    at: &'a str,
    origin: &'a Source,
    spans: &'a Spans<'a>,
    kind: &'a str,
}

impl Ctx<'_> {
    /// Reads an aims object, and reports each field its type does not have.
    ///
    /// Unknown fields are found two ways: by comparing the object as written with the typed object
    /// written back (whatever did not survive the trip was not understood), and by walking the
    /// kind's CRD schema, which also works when the object does not read (a misspelled required
    /// field makes it fail with `missing field`) and names the nearest known field.
    fn read_aims<T: DeserializeOwned + Serialize>(
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
    fn type_error(
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
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Collects the paths of fields `written` has and `read` (the typed object written back) lost.
fn not_read_back(written: &Value, read: &Value, path: &str, out: &mut Vec<String>) {
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
const OBJECT_META_FIELDS: &[&str] = &[
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
fn crd_schema(kind: &str) -> Option<&'static JSONSchemaProps> {
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
fn unknown_in_root(
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
fn unknown_in(
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

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/// Reads manifests from files, directories and standard input (`-`), in the order given.
///
/// Directories are read recursively: every `*.yaml`, `*.yml` and `*.json` file in them, in sorted
/// order, skipping hidden files and directories (`.git`, `.github`...). A file named explicitly is
/// read whatever its name.
pub fn load_paths(paths: &[PathBuf]) -> (Vec<Document>, Vec<LoadError>) {
    load_paths_with_stdin(paths, io::stdin().lock())
}

/// [`load_paths`], with standard input read from `stdin`.
pub fn load_paths_with_stdin(
    paths: &[PathBuf],
    mut stdin: impl Read,
) -> (Vec<Document>, Vec<LoadError>) {
    let mut sink = Sink::default();
    for path in paths {
        if path.as_os_str() == STDIN_PATH {
            let mut text = String::new();
            match stdin.read_to_string(&mut text) {
                Ok(_) => sink.add(parse_text(STDIN_NAME, &text)),
                Err(source) => sink.errors.push(LoadError::Io {
                    path: STDIN_NAME.to_owned(),
                    source,
                }),
            }
            continue;
        }
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                let mut files = Vec::new();
                let mut seen = HashSet::new();
                manifest_files(path, &mut seen, &mut files, &mut sink.errors);
                for file in files {
                    read_file(&file, &mut sink);
                }
            }
            Ok(_) => read_file(path, &mut sink),
            Err(source) => sink.errors.push(LoadError::Io {
                path: path.display().to_string(),
                source,
            }),
        }
    }
    (sink.documents, sink.errors)
}

impl Sink {
    fn add(&mut self, (mut documents, mut errors): (Vec<Document>, Vec<LoadError>)) {
        self.documents.append(&mut documents);
        self.errors.append(&mut errors);
    }
}

fn read_file(path: &Path, sink: &mut Sink) {
    let name = path.display().to_string();
    match fs::read_to_string(path) {
        Ok(text) => sink.add(parse_text(&name, &text)),
        Err(source) => sink.errors.push(LoadError::Io { path: name, source }),
    }
}

fn is_manifest_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["yaml", "yml", "json"].contains(&e.to_ascii_lowercase().as_str()))
}

/// Collects the manifest files under `dir`, sorted, following symbolic links but not loops.
fn manifest_files(
    dir: &Path,
    seen: &mut HashSet<PathBuf>,
    files: &mut Vec<PathBuf>,
    errors: &mut Vec<LoadError>,
) {
    let io_error = |path: &Path, source| LoadError::Io {
        path: path.display().to_string(),
        source,
    };
    match fs::canonicalize(dir) {
        Ok(real) => {
            if !seen.insert(real) {
                return;
            }
        }
        Err(e) => {
            errors.push(io_error(dir, e));
            return;
        }
    }
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(io_error(dir, e));
            return;
        }
    };
    let mut paths = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) if entry.file_name().to_string_lossy().starts_with('.') => {}
            Ok(entry) => paths.push(entry.path()),
            Err(e) => errors.push(io_error(dir, e)),
        }
    }
    paths.sort();
    for path in paths {
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => manifest_files(&path, seen, files, errors),
            Ok(_) if is_manifest_file(&path) => files.push(path),
            Ok(_) => {}
            // A dangling link named like a manifest is worth knowing about; others are not.
            Err(e) if is_manifest_file(&path) => errors.push(io_error(&path, e)),
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn examples_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
    }

    /// How many documents of each [`Object`] variant.
    fn tally(documents: &[Document]) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for d in documents {
            let variant = match &d.object {
                Object::AISystem(_) => "AISystem",
                Object::RiskAssessment(_) => "RiskAssessment",
                Object::ControlBinding(_) => "ControlBinding",
                Object::ClusterControlBinding(_) => "ClusterControlBinding",
                Object::Namespace { .. } => "Namespace",
                Object::Workload(_) => "Workload",
                Object::Other { .. } => "Other",
            };
            *counts.entry(variant).or_default() += 1;
        }
        counts
    }

    fn messages(errors: &[LoadError]) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    fn parse(text: &str) -> (Vec<Document>, Vec<LoadError>) {
        parse_text("test.yaml", text)
    }

    const AISYSTEM: &str = "\
apiVersion: aims.dev/v1alpha1
kind: AISystem
metadata:
  name: chat
  namespace: support
spec:
  purpose: Answer customer questions.
  riskTier: Limited
  owner:
    name: ana
";

    const RISK_ASSESSMENT: &str = "\
apiVersion: aims.dev/v1alpha1
kind: RiskAssessment
metadata:
  name: chat-v1
spec:
  systemRef:
    name: chat
  scope:
    artifacts:
      - uri: hf://org/model
        sha256: abababababababababababababababababababababababababababababababab
  risks:
    - id: R1
      title: Wrong answers
      source: Robustness
      likelihood: 3
      severity: 2
      treatment: Mitigate
";

    const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: chat
  labels:
    aims.dev/system: chat
spec:
  replicas: 2
  selector:
    matchLabels: {app: chat}
  template:
    metadata:
      labels: {app: chat}
    spec:
      containers:
        - name: main
          image: r.io/chat:v1
";

    #[test]
    fn every_example_loads_without_errors_into_the_expected_objects() {
        let cases: &[(&str, &[(&str, usize)])] = &[
            ("00-namespaces.yaml", &[("Namespace", 5)]),
            ("01-cluster-bindings.yaml", &[("ClusterControlBinding", 3)]),
            ("credit-scoring/aisystem.yaml", &[("AISystem", 1)]),
            (
                "credit-scoring/controlbinding.yaml",
                &[("ControlBinding", 1)],
            ),
            ("credit-scoring/deployment.yaml", &[("Workload", 1)]),
            (
                "credit-scoring/riskassessment.yaml",
                &[("RiskAssessment", 1)],
            ),
            ("cv-screening/aisystem.yaml", &[("AISystem", 1)]),
            ("cv-screening/deployment.yaml", &[("Workload", 1)]),
            ("cv-screening/riskassessment.yaml", &[("RiskAssessment", 1)]),
            ("product-recommender/aisystem.yaml", &[("AISystem", 1)]),
            ("product-recommender/deployment.yaml", &[("Workload", 1)]),
            ("support-assistant/aisystem.yaml", &[("AISystem", 1)]),
            (
                "support-assistant/inferenceservice.yaml",
                &[("Workload", 1)],
            ),
            (
                "support-assistant/riskassessment.yaml",
                &[("RiskAssessment", 1)],
            ),
            ("unregistered/llm-playground.yaml", &[("Workload", 1)]),
            (
                "",
                &[
                    ("AISystem", 4),
                    ("ClusterControlBinding", 3),
                    ("ControlBinding", 1),
                    ("Namespace", 5),
                    ("RiskAssessment", 3),
                    ("Workload", 5),
                ],
            ),
        ];
        for (path, want) in cases {
            let (documents, errors) =
                load_paths_with_stdin(&[examples_dir().join(path)], io::empty());
            assert!(errors.is_empty(), "{path}: {:#?}", messages(&errors));
            let want: BTreeMap<&str, usize> = want.iter().copied().collect();
            assert_eq!(tally(&documents), want, "{path}");
        }
    }

    #[test]
    fn a_directory_is_read_in_sorted_order_with_sources_that_point_at_the_content() {
        let (documents, _) = load_paths_with_stdin(&[examples_dir()], io::empty());
        let files: Vec<&str> = documents.iter().map(|d| d.source.file.as_str()).collect();
        let mut sorted = files.clone();
        sorted.sort();
        assert_eq!(files, sorted);
        let first = &documents[0].source;
        assert!(first.file.ends_with("00-namespaces.yaml"), "{first}");
        // The file opens with a comment; the first document's content starts on line 2, the second
        // document on the line after its `---`.
        assert_eq!((first.document, first.line), (1, 2));
        assert_eq!(
            (documents[1].source.document, documents[1].source.line),
            (2, 9)
        );
        assert!(
            documents[1]
                .source
                .to_string()
                .ends_with("00-namespaces.yaml document 2 (line 9)")
        );
        let Object::Namespace { name, labels } = &documents[0].object else {
            panic!("{:?}", documents[0].object);
        };
        assert_eq!(name, "credit");
        assert_eq!(
            labels.get("aims.dev/eu-ai-act").map(String::as_str),
            Some("in-scope")
        );
    }

    #[test]
    fn a_syntax_error_reports_its_absolute_line_and_the_other_documents_still_load() {
        let text = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
---
# the second document
apiVersion: v1
kind: ConfigMap
metadata:
  name: b: c
---
apiVersion: v1
kind: Secret
metadata: {name: c}
";
        let (documents, errors) = parse(text);
        assert_eq!(documents.len(), 2);
        assert_eq!(
            documents
                .iter()
                .map(|d| d.source.document)
                .collect::<Vec<_>>(),
            [1, 3]
        );
        let [
            LoadError::Syntax {
                origin,
                line,
                column,
                message,
            },
        ] = errors.as_slice()
        else {
            panic!("{:#?}", messages(&errors));
        };
        assert_eq!((origin.document, origin.line), (2, 7));
        assert_eq!(*line, 10);
        assert!(column.is_some());
        assert!(!message.contains("line"), "{message}");
        let shown = errors[0].to_string();
        assert!(
            shown.starts_with("test.yaml document 2 (line 7): line 10, column "),
            "{shown}"
        );
    }

    #[test]
    fn syntax_errors_in_yaml_and_json_name_the_line() {
        let cases: &[(&str, &str, usize, usize)] = &[
            // (file, text, document, line)
            // An unclosed bracket is reported where it opens.
            ("a.yaml", "a: [1, 2\n", 1, 1),
            ("a.yaml", "---\n---\nkind: x\nmetadata:\n\tname: a\n", 1, 5),
            ("a.yaml", "a: 1\na: 2\n", 1, 2),
            ("a.json", "{\"apiVersion\": \"v1\",\n \"kind\": }\n", 1, 2),
            (
                "a.json",
                "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}\n{\n\"kind\" \"x\"}",
                2,
                3,
            ),
        ];
        for (file, text, document, line) in cases {
            let (_, errors) = parse_text(file, text);
            let [
                LoadError::Syntax {
                    origin, line: got, ..
                },
            ] = errors.as_slice()
            else {
                panic!("{file} {text:?}: {:#?}", messages(&errors));
            };
            assert_eq!(
                (origin.document, *got),
                (*document, *line),
                "{file} {text:?}: {}",
                errors[0]
            );
        }
    }

    #[test]
    fn windows_line_endings_and_helm_source_comments_are_read() {
        let text = format!(
            "---\r\n# Source: chart/templates/system.yaml\r\n{}---\r\n# Source: chart/templates/cm.yaml\r\napiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: b: c\r\n",
            AISYSTEM.replace('\n', "\r\n")
        );
        let (documents, errors) = parse(&text);
        assert_eq!(documents.len(), 1);
        assert_eq!(
            (documents[0].source.document, documents[0].source.line),
            (1, 3)
        );
        let [LoadError::Syntax { origin, line, .. }] = errors.as_slice() else {
            panic!("{:#?}", messages(&errors));
        };
        assert_eq!((origin.document, origin.line, *line), (2, 15, 18));
    }

    #[test]
    fn kinds_that_cannot_exist_are_reported_with_a_hint() {
        let cases = [
            (
                "apps/v1",
                "Deploymnet",
                "kind: apps/v1 has no kind \"Deploymnet\" (did you mean Deployment?)",
            ),
            (
                "aims.dev/v1alpha1",
                "AISystm",
                "kind: aims.dev/v1alpha1 has no kind \"AISystm\" (did you mean AISystem?)",
            ),
            (
                "aims.dev/v1alpha1",
                "Policy",
                "kind: aims.dev/v1alpha1 has no kind \"Policy\"; its kinds are AISystem, RiskAssessment, ControlBinding, ClusterControlBinding",
            ),
            (
                "aims.dev/v1",
                "AISystem",
                "apiVersion: AISystem is aims.dev/v1alpha1, not aims.dev/v1",
            ),
            (
                "aims.dev",
                "RiskAssessment",
                "apiVersion: RiskAssessment is aims.dev/v1alpha1, not aims.dev",
            ),
            (
                "v1",
                "Deployment",
                "kind: v1 has no kind \"Deployment\"; Deployment is apps/v1",
            ),
            (
                "batch/v1",
                "cronjob",
                "kind: batch/v1 has no kind \"cronjob\" (did you mean CronJob?)",
            ),
            (
                "networking.k8s.io/v1",
                "Ingres",
                "kind: networking.k8s.io/v1 has no kind \"Ingres\" (did you mean Ingress?)",
            ),
            (
                "serving.kserve.io/v1beta1",
                "InferenceServce",
                "kind: serving.kserve.io/v1beta1 has no kind \"InferenceServce\" (did you mean InferenceService?)",
            ),
        ];
        for (api_version, kind, want) in cases {
            let text = format!("apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x}}\n");
            let (documents, errors) = parse(&text);
            assert!(documents.is_empty(), "{api_version} {kind}");
            let [LoadError::UnknownKind { .. }] = errors.as_slice() else {
                panic!("{api_version} {kind}: {:#?}", messages(&errors));
            };
            assert_eq!(
                errors[0].to_string(),
                format!("test.yaml document 1 (line 1): {want}")
            );
        }
    }

    #[test]
    fn ordinary_objects_and_other_projects_kinds_are_other() {
        let cases = [
            ("v1", "Service"),
            ("v1", "ConfigMap"),
            ("apps/v1", "ControllerRevision"),
            ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
            ("policy/v1", "PodDisruptionBudget"),
            ("autoscaling/v2", "HorizontalPodAutoscaler"),
            ("autoscaling/v1", "HorizontalPodAutoscaler"),
            ("cert-manager.io/v1", "Certificate"),
            ("serving.kserve.io/v1alpha1", "ServingRuntime"),
            ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
            ("example.com/v1", "AllowList"),
        ];
        for (api_version, kind) in cases {
            let text = format!("apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x}}\n");
            let (documents, errors) = parse(&text);
            assert!(errors.is_empty(), "{kind}: {:#?}", messages(&errors));
            let [
                Document {
                    object:
                        Object::Other {
                            api_version: a,
                            kind: k,
                        },
                    ..
                },
            ] = documents.as_slice()
            else {
                panic!("{kind}: {documents:#?}");
            };
            assert_eq!((a.as_str(), k.as_str()), (api_version, kind));
        }
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named_with_its_line() {
        let cases = [
            (
                RISK_ASSESSMENT.replace("likelihood: 3", "likelihood: high"),
                "spec.risks[0].likelihood",
                Some(16),
                "invalid type: string \"high\", expected u8",
            ),
            (
                AISYSTEM.replace("riskTier: Limited", "riskTier: Hgh"),
                "spec.riskTier",
                Some(8),
                "unknown variant `Hgh`",
            ),
            (
                AISYSTEM.replace("    name: ana\n", ""),
                "spec.owner",
                Some(9),
                "invalid type: null",
            ),
            (
                AISYSTEM.replace("  riskTier: Limited\n", ""),
                "spec",
                Some(6),
                "missing field `riskTier`",
            ),
            (
                DEPLOYMENT.replace("replicas: 2", "replicas: three"),
                "spec.replicas",
                Some(8),
                "invalid type: string \"three\"",
            ),
            (
                DEPLOYMENT.replace("aims.dev/system: chat", "aims.dev/system: [chat]"),
                "metadata.labels.aims.dev/system",
                Some(6),
                "invalid type: sequence, expected a string",
            ),
            (
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  labels: [a]\n".to_owned(),
                "metadata.labels",
                Some(5),
                "invalid type: sequence, expected a map",
            ),
            (
                "apiVersion: aims.dev/v1alpha1\nkind: ControlBinding\nmetadata: {name: x}\nspec:\n  controls:\n    - id: A.6.2.5\n      params: {minApprovals: two}\n".to_owned(),
                "spec.controls[0].params.minApprovals",
                Some(7),
                "invalid type: string \"two\", expected u8",
            ),
            (
                "apiVersion: 3\nkind: ConfigMap\n".to_owned(),
                "apiVersion",
                Some(1),
                "invalid type: integer `3`, expected a string",
            ),
            (
                AISYSTEM.replace("  name: chat\n", ""),
                "metadata.name",
                None,
                "missing; every AISystem needs a name",
            ),
            (
                "- a\n- b\n".to_owned(),
                "",
                None,
                "expected a Kubernetes object (a map with apiVersion and kind), found a sequence",
            ),
        ];
        for (text, path, line, message) in cases {
            let (documents, errors) = parse(&text);
            assert!(documents.is_empty(), "{path}");
            let [
                LoadError::Field {
                    path: got,
                    line: got_line,
                    message: got_message,
                    ..
                },
            ] = errors.as_slice()
            else {
                panic!("{path}: {:#?}", messages(&errors));
            };
            assert_eq!((got.as_str(), *got_line), (path, line), "{}", errors[0]);
            assert!(got_message.contains(message), "{}", errors[0]);
        }
    }

    #[test]
    fn a_field_error_displays_file_document_line_path_and_message() {
        let text = format!(
            "{DEPLOYMENT}---\n{}",
            RISK_ASSESSMENT.replace("likelihood: 3", "likelihood: high")
        );
        let (documents, errors) = parse_text("examples/x.yaml", &text);
        assert_eq!(documents.len(), 1);
        assert_eq!(
            messages(&errors),
            [
                "examples/x.yaml document 2 (line 19): spec.risks[0].likelihood (line 34): invalid type: string \"high\", expected u8"
            ]
        );
    }

    #[test]
    fn unknown_fields_of_aims_kinds_are_named_with_a_suggestion() {
        /// (manifest, unknown fields with their suggestions, how many other errors).
        type Case = (
            String,
            &'static [(&'static str, Option<&'static str>)],
            usize,
        );
        let cases: &[Case] = &[
            // A misspelled required field: the typo is named first, then what it left missing.
            (
                AISYSTEM.replace("riskTier", "riskTeir"),
                &[("spec.riskTeir", Some("riskTier"))],
                1,
            ),
            // A misspelled optional field: only the typo.
            (
                format!("{AISYSTEM}  oversight:\n    halt: true\n    haltReasn: drift\n"),
                &[("spec.oversight.haltReasn", Some("haltReason"))],
                0,
            ),
            (
                AISYSTEM.replace("  namespace: support\n", "  lables: {a: b}\n"),
                &[("metadata.lables", Some("labels"))],
                0,
            ),
            (
                RISK_ASSESSMENT.replace(
                    "      treatment: Mitigate\n",
                    "      treatment: Mitigate\n      residualLikelyhood: 1\n",
                ),
                &[(
                    "spec.risks[0].residualLikelyhood",
                    Some("residualLikelihood"),
                )],
                0,
            ),
            (
                format!("{AISYSTEM}  colour: blue\nextra: 1\n"),
                &[("spec.colour", None), ("extra", None)],
                0,
            ),
        ];
        for (text, want, field_errors) in cases {
            let (documents, errors) = parse(text);
            assert!(documents.is_empty(), "{want:?}");
            let unknown: Vec<(&str, Option<&str>)> = errors
                .iter()
                .filter_map(|e| match e {
                    LoadError::UnknownField {
                        path, suggestion, ..
                    } => Some((path.as_str(), suggestion.as_deref())),
                    _ => None,
                })
                .collect();
            assert_eq!(&unknown, want, "{:#?}", messages(&errors));
            assert_eq!(
                errors.len(),
                want.len() + field_errors,
                "{:#?}",
                messages(&errors)
            );
            assert!(matches!(errors[0], LoadError::UnknownField { .. }));
        }
        let (_, errors) = parse(&AISYSTEM.replace("riskTier", "riskTeir"));
        assert_eq!(
            messages(&errors),
            [
                "test.yaml document 1 (line 1): spec.riskTeir (line 8): unknown field (did you mean riskTier?)",
                "test.yaml document 1 (line 1): spec (line 6): missing field `riskTier`",
            ]
        );
    }

    #[test]
    fn empty_values_and_unknown_fields_of_workloads_are_accepted() {
        // Empty values are what the types leave out on the way back; they are not lost fields.
        let text = format!(
            "{AISYSTEM}  outOfScopeUses: []\n  team: null\n  models: []\n---\n{}",
            DEPLOYMENT.replace("  replicas: 2\n", "  replicas: 2\n  notAField: 1\n")
        );
        let (documents, errors) = parse(&text);
        assert!(errors.is_empty(), "{:#?}", messages(&errors));
        assert_eq!(documents.len(), 2);
    }

    #[test]
    fn replica_sets_and_replication_controllers_are_workloads() {
        for (api_version, kind) in [("apps/v1", "ReplicaSet"), ("v1", "ReplicationController")] {
            let text = format!(
                "apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x, namespace: ns}}\nspec:\n  template:\n    spec:\n      containers: [{{name: c, image: vllm/vllm-openai:v0.9.1}}]\n"
            );
            let (documents, errors) = parse(&text);
            assert!(errors.is_empty(), "{kind}: {:#?}", messages(&errors));
            let [
                Document {
                    object: Object::Workload(facts),
                    ..
                },
            ] = documents.as_slice()
            else {
                panic!("{kind}: {documents:#?}");
            };
            assert_eq!(facts.kind.as_str(), kind);
            assert_eq!(facts.containers.len(), 1);
        }
    }

    #[test]
    fn a_missing_api_version_or_kind_is_reported() {
        let cases = [
            (
                "kind: ConfigMap\nmetadata: {name: a}\n",
                "missing apiVersion",
            ),
            ("apiVersion: v1\nmetadata: {name: a}\n", "missing kind"),
            (
                "apiVersion: ''\nkind: null\n",
                "missing apiVersion and kind",
            ),
            ("metadata: {name: a}\n", "missing apiVersion and kind"),
            ("{}\n", "missing apiVersion and kind"),
        ];
        for (text, want) in cases {
            let (documents, errors) = parse(text);
            assert!(documents.is_empty());
            let [LoadError::MissingTypeInfo { .. }] = errors.as_slice() else {
                panic!("{text:?}: {:#?}", messages(&errors));
            };
            assert_eq!(
                errors[0].to_string(),
                format!(
                    "test.yaml document 1 (line 1): {want}; every Kubernetes object needs apiVersion and kind"
                )
            );
        }
    }

    #[test]
    fn lists_are_expanded_and_their_items_problems_are_named_by_index() {
        let text = format!(
            "apiVersion: v1\nkind: List\nitems:\n{}{}  - apiVersion: v1\n    kind: Service\n    metadata: {{name: s}}\n  - {{kind: Service}}\n  - apiVersion: apps/v1\n    kind: Deploymnet\n    metadata: {{name: d}}\n",
            indent_item(AISYSTEM),
            indent_item(&AISYSTEM.replace("riskTier", "riskTeir")),
        );
        let (documents, errors) = parse(&text);
        assert_eq!(
            tally(&documents),
            BTreeMap::from([("AISystem", 1), ("Other", 1)])
        );
        assert!(
            documents
                .iter()
                .all(|d| d.source.document == 1 && d.source.line == 1)
        );
        let shown = messages(&errors);
        assert_eq!(shown.len(), 4, "{shown:#?}");
        assert!(
            shown[0].ends_with(
                "items[1].spec.riskTeir (line 21): unknown field (did you mean riskTier?)"
            ),
            "{shown:#?}"
        );
        assert!(
            shown[1].ends_with("items[1].spec (line 19): missing field `riskTier`"),
            "{shown:#?}"
        );
        assert!(
            shown[2].ends_with(
                ": items[3]: missing apiVersion; every Kubernetes object needs apiVersion and kind"
            ),
            "{shown:#?}"
        );
        assert!(
            shown[3].ends_with(
                ": items[4].kind: apps/v1 has no kind \"Deploymnet\" (did you mean Deployment?)"
            ),
            "{shown:#?}"
        );
    }

    fn indent_item(yaml: &str) -> String {
        yaml.lines()
            .enumerate()
            .map(|(i, line)| format!("{}{line}\n", if i == 0 { "  - " } else { "    " }))
            .collect()
    }

    #[test]
    fn typed_lists_lend_their_type_to_items_that_omit_it() {
        let text = "\
apiVersion: apps/v1
kind: DeploymentList
items:
  - metadata: {name: a}
    spec:
      selector: {}
      template: {spec: {containers: [{name: c, image: i}]}}
  - apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: b}
    spec:
      selector: {}
      serviceName: b
      template: {spec: {containers: [{name: c, image: i}]}}
";
        let (documents, errors) = parse(text);
        assert!(errors.is_empty(), "{:#?}", messages(&errors));
        let names: Vec<String> = documents
            .iter()
            .map(|d| match &d.object {
                Object::Workload(w) => w.display_name(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["Deployment/a", "StatefulSet/b"]);
        // An empty List, and items that are not a sequence.
        let (documents, errors) =
            parse("apiVersion: v1\nkind: List\n---\napiVersion: v1\nkind: List\nitems: {}\n");
        assert!(documents.is_empty());
        assert_eq!(
            messages(&errors),
            [
                "test.yaml document 2 (line 4): items (line 6): invalid type: a map, expected a sequence"
            ]
        );
    }

    #[test]
    fn json_is_read_as_one_object_or_a_stream() {
        let object =
            serde_json::to_string_pretty(&serde_saphyr::from_str::<Value>(AISYSTEM).unwrap())
                .unwrap();
        let cases = [
            ("system.json", object.clone(), 1),
            ("-", object.clone(), 1),
            ("stream.json", format!("{object}\n{object}"), 2),
            (
                "flow.yaml",
                "{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}".to_owned(),
                1,
            ),
        ];
        for (file, text, count) in cases {
            let (documents, errors) = parse_text(file, &text);
            assert!(errors.is_empty(), "{file}: {:#?}", messages(&errors));
            assert_eq!(documents.len(), count, "{file}");
        }
        let (_, errors) = parse_text("stream.json", &format!("{object}\n{object}"));
        assert!(errors.is_empty());
        let broken = object.replace("\"riskTier\"", "\"riskTeir\"");
        let line_of = |needle: &str| broken.lines().position(|l| l.contains(needle)).unwrap() + 1;
        let (_, errors) = parse_text("system.json", &broken);
        assert_eq!(
            messages(&errors),
            [
                format!(
                    "system.json document 1 (line 1): spec.riskTeir (line {}): unknown field (did you mean riskTier?)",
                    line_of("riskTeir")
                ),
                format!(
                    "system.json document 1 (line 1): spec (line {}): missing field `riskTier`",
                    line_of("\"spec\"")
                ),
            ]
        );
    }

    #[test]
    fn empty_and_comment_only_documents_give_nothing() {
        let cases = [
            "",
            "\n\n",
            "   \n\t\n",
            "# only a comment\n",
            "---\n",
            "---\n---\n---\n",
            "--- # a comment on the marker\n# and below it\n...\n",
            "\u{feff}# with a byte-order mark\n",
            "~\n",
            "%YAML 1.2\n---\n",
            "# a\n---\n\n---\n# b\n",
        ];
        for text in cases {
            for file in ["empty.yaml", "-"] {
                let (documents, errors) = parse_text(file, text);
                assert!(documents.is_empty(), "{file} {text:?}");
                assert!(
                    errors.is_empty(),
                    "{file} {text:?}: {:#?}",
                    messages(&errors)
                );
            }
        }
        for text in ["", "\n", " \t\r\n", "\u{feff}\n", "null"] {
            let (documents, errors) = parse_text("empty.json", text);
            assert!(documents.is_empty() && errors.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn errors_in_one_document_do_not_hide_the_documents_around_it() {
        let text = format!(
            "# leading comment\n{AISYSTEM}---\napiVersion: apps/v1\nkind: Deploymnet\n---\n---\nkey: [unclosed\n---\n{}...\n%YAML 1.2\n---\n{DEPLOYMENT}---\nkind: Service\n",
            RISK_ASSESSMENT.replace("likelihood: 3", "likelihood: high")
        );
        let (documents, errors) = parse(&text);
        let found: Vec<(usize, &str)> = documents
            .iter()
            .map(|d| (d.source.document, d.object.kind()))
            .collect();
        assert_eq!(found, [(1, "AISystem"), (5, "Deployment")]);
        let origins: Vec<usize> = errors
            .iter()
            .filter_map(|e| e.origin())
            .map(|s| s.document)
            .collect();
        assert_eq!(origins, [2, 3, 4, 6], "{:#?}", messages(&errors));
        assert!(matches!(errors[1], LoadError::Syntax { .. }));
    }

    #[test]
    fn paths_files_directories_and_stdin_are_read_in_order() {
        let dir = std::env::temp_dir().join(format!("aims-manifests-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let write = |path: &str, text: &str| {
            let path = dir.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        write("b/deployment.yml", DEPLOYMENT);
        write("a.yaml", AISYSTEM);
        write(
            "c.json",
            "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"c\"}}",
        );
        write("notes.txt", "not: [yaml");
        write(".github/workflows/ci.yml", "on: push\n");
        write(
            "explicit.txt",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n",
        );
        let paths = [
            dir.clone(),
            PathBuf::from("-"),
            dir.join("explicit.txt"),
            dir.join("missing.yaml"),
        ];
        let (documents, errors) = load_paths_with_stdin(&paths, RISK_ASSESSMENT.as_bytes());
        let found: Vec<(String, &str)> = documents
            .iter()
            .map(|d| {
                let file = Path::new(&d.source.file)
                    .strip_prefix(&dir)
                    .map_or(d.source.file.clone(), |p| p.display().to_string());
                (file, d.object.kind())
            })
            .collect();
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(
            found,
            [
                ("a.yaml".to_owned(), "AISystem"),
                ("b/deployment.yml".to_owned(), "Deployment"),
                ("c.json".to_owned(), "ConfigMap"),
                (STDIN_NAME.to_owned(), "RiskAssessment"),
                ("explicit.txt".to_owned(), "Secret"),
            ]
        );
        let [LoadError::Io { path, .. }] = errors.as_slice() else {
            panic!("{:#?}", messages(&errors));
        };
        assert!(path.ends_with("missing.yaml"));
        assert!(errors[0].to_string().starts_with("cannot read "));
    }

    #[test]
    fn a_stdin_read_error_is_reported() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("pipe closed"))
            }
        }
        let (_, errors) = load_paths_with_stdin(&[PathBuf::from("-")], Broken);
        assert_eq!(messages(&errors), ["cannot read <stdin>: pipe closed"]);
    }

    #[test]
    fn pathological_inputs_are_errors_not_crashes() {
        let laughs = (1..10).fold(
            "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n".to_owned(),
            |t, i| {
                let prev = format!("*a{}", i - 1);
                format!("{t}a{i}: &a{i} [{}]\n", [prev.as_str(); 10].join(", "))
            },
        );
        let cases = [
            ("deep.yaml", "[".repeat(100_000)),
            ("deep.json", "[".repeat(100_000)),
            ("deep.yaml", "{\"a\":".repeat(10_000)),
            (
                "deep.yaml",
                (0..500).map(|i| format!("{}k:\n", " ".repeat(i))).collect(),
            ),
            ("laughs.yaml", laughs),
            ("markers.yaml", "---\n".repeat(10_000)),
            ("nul.yaml", "apiVersion: v1\0\nkind: \u{7}\n".to_owned()),
        ];
        for (file, text) in cases {
            let (documents, errors) = parse_text(file, &text);
            assert!(documents.is_empty(), "{file}");
            if !file.starts_with("markers") {
                assert!(!errors.is_empty(), "{file}");
            }
        }
    }

    fn example_texts() -> Vec<String> {
        let mut files = Vec::new();
        let mut seen = HashSet::new();
        manifest_files(&examples_dir(), &mut seen, &mut files, &mut Vec::new());
        files
            .iter()
            .map(|f| fs::read_to_string(f).unwrap())
            .collect()
    }

    /// One change to a text: (what, where as a fraction of the length, bytes to insert).
    fn mutation() -> impl Strategy<Value = (u8, f64, Vec<u8>)> {
        (
            0u8..6,
            0.0..1.0f64,
            prop::collection::vec(
                prop_oneof![
                    Just(b'\n'),
                    Just(b' '),
                    Just(b':'),
                    Just(b'-'),
                    Just(b'['),
                    Just(b'{'),
                    Just(b'"'),
                    Just(b'\''),
                    Just(b'#'),
                    Just(b'&'),
                    Just(b'*'),
                    Just(b'|'),
                    Just(b'\t'),
                    any::<u8>(),
                ],
                0..8,
            ),
        )
    }

    fn mutate(text: &str, mutations: &[(u8, f64, Vec<u8>)]) -> String {
        let mut bytes = text.as_bytes().to_vec();
        for (what, at, insert) in mutations {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let at = ((bytes.len() as f64) * at) as usize;
            let at = at.min(bytes.len());
            match what {
                // Delete a few bytes.
                0 => {
                    let end = (at + insert.len().max(1)).min(bytes.len());
                    bytes.drain(at..end);
                }
                // Insert bytes.
                1 => {
                    bytes.splice(at..at, insert.iter().copied());
                }
                // Delete the line at `at`.
                2 => {
                    let start = bytes[..at]
                        .iter()
                        .rposition(|b| *b == b'\n')
                        .map_or(0, |i| i + 1);
                    let end = bytes[at..]
                        .iter()
                        .position(|b| *b == b'\n')
                        .map_or(bytes.len(), |i| at + i + 1);
                    bytes.drain(start..end);
                }
                // Duplicate the line at `at`.
                3 => {
                    let start = bytes[..at]
                        .iter()
                        .rposition(|b| *b == b'\n')
                        .map_or(0, |i| i + 1);
                    let end = bytes[at..]
                        .iter()
                        .position(|b| *b == b'\n')
                        .map_or(bytes.len(), |i| at + i + 1);
                    let line = bytes[start..end].to_vec();
                    bytes.splice(start..start, line);
                }
                // Insert a document marker.
                4 => {
                    bytes.splice(at..at, b"\n---\n".iter().copied());
                }
                // Truncate.
                _ => bytes.truncate(at),
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parse_text_never_panics_on_arbitrary_text(text in any::<String>()) {
            let _ = parse_text("x.yaml", &text);
            let _ = parse_text("x.json", &text);
        }

        #[test]
        fn parse_text_never_panics_on_yaml_like_text(
            text in "[a-zA-Z0-9:{}\\[\\],#'\" \n\t.&*!|>%@`~-]{0,300}"
        ) {
            let (documents, errors) = parse_text("x.yaml", &text);
            for e in &errors {
                let _ = e.to_string();
            }
            prop_assert!(documents.len() + errors.len() <= text.len() + 1);
        }

        #[test]
        fn parse_text_never_panics_on_mutated_examples(
            index in any::<prop::sample::Index>(),
            mutations in prop::collection::vec(mutation(), 1..6),
        ) {
            let texts = example_texts();
            let text = mutate(&texts[index.index(texts.len())], &mutations);
            let (_, errors) = parse_text("mutated.yaml", &text);
            for e in &errors {
                let shown = e.to_string();
                prop_assert!(shown.starts_with("mutated.yaml document "), "{}", shown);
                if let Some(origin) = e.origin() {
                    prop_assert!(origin.line >= 1 && origin.line <= text.lines().count().max(1));
                }
            }
            let _ = parse_text("mutated.json", &text);
        }
    }
}
