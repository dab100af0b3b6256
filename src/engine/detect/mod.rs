//! Detection of model-serving workloads, so that one running without an AISystem ("shadow AI")
//! can be reported with the reasons it looks like model serving.
//!
//! The rules are data: [`DetectionRules`], read from YAML with [`DetectionRules::from_yaml`], and
//! by default the catalog in `catalog/detection.yaml` (embedded as [`DEFAULT_RULES_YAML`], which
//! also documents the file's schema). A [`Detector`] is the rules compiled once; its
//! [`Detector::detect`] looks at one workload's facts for these signals:
//!
//! * its kind: one that serves models by what it is, as the governed kinds' data says (KServe's
//!   InferenceService, NVIDIA's NIMService) ([`Signal::ServingKind`]);
//! * an image of a known serving runtime, matched on the image repository whatever the registry,
//!   mirror path, tag or digest ([`Signal::ServingImage`]);
//! * the command line of a known serving runtime (`vllm serve`, `python -m
//!   vllm.entrypoints.openai.api_server`, also inside a shell's `-c` script), whatever the image
//!   ([`Signal::ServingCommand`]);
//! * an accelerator request, such as `nvidia.com/gpu` ([`Signal::Accelerator`]);
//! * a dynamic resource claim (DRA, `resources.claims`), which is how accelerators are asked for
//!   without an extended resource ([`Signal::ResourceClaim`]);
//! * a model URI: one the workload declares (KServe `storageUri`, `STORAGE_URI`), or one with a
//!   model scheme such as `hf://` in a container's command, arguments or environment
//!   ([`Signal::ModelUri`]).
//!
//! [`Detector::detect_among`] adds one more, from the records rather than the rules: an image
//! digest or model URI that an AISystem declares in `spec.models` ([`Signal::DeclaredArtifact`]).
//! A workload of no system that runs a system's declared model is that model running outside
//! the system that governs it.
//!
//! Detection says only that a workload looks like model serving. Whether it is registered (names
//! an AISystem that exists) is the caller's question, answered from the AISystem records.
//!
//! [`Detector::detect`] runs on every workload of a cluster and in the admission path: it
//! allocates nothing for a workload without a signal, and takes about a microsecond for a typical
//! one, most of it reading the workload's arguments and environment (`benches/detect.rs`).

use std::{
    cell::RefCell,
    fmt,
    sync::{Arc, LazyLock},
};

use regex::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::Serialize;

use super::workload::{ImageRef, WorkloadFacts, is_sha256_digest};
use crate::api::{AISystem, FloorDetection, FloorRuntime};

mod rules;

use rules::DEFAULT_RULES;
pub use rules::{DEFAULT_RULES_YAML, DetectionRules, RulesError, ServingRuntime};

/// The upper bound on the compiled size of all image patterns together, in bytes.
const IMAGE_SET_SIZE_LIMIT: usize = 16 * 1024 * 1024;

static DEFAULT_DETECTOR: LazyLock<Detector> = LazyLock::new(|| {
    Detector::new(&DEFAULT_RULES).expect("the embedded catalog/detection.yaml compiles (tested)")
});

/// Why a workload looks like model serving: one signal.
///
/// The derived order (kind, images, accelerators, model URIs, then by field) is the order of
/// [`Detection::reasons`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "signal", rename_all = "camelCase")]
pub enum Signal {
    /// Its kind serves models by what it is (the governed kinds' `servesModels`).
    ServingKind {
        /// The kind.
        kind: String,
    },
    /// A container runs the image of a known serving runtime.
    ServingImage {
        /// The runtime's name, from the rules.
        runtime: String,
        /// The image reference as written.
        image: String,
    },
    /// A container's command line starts a known serving runtime.
    ServingCommand {
        /// The runtime's name, from the rules.
        runtime: String,
        /// The part of the command line that matched.
        command: String,
        /// The container's name.
        container: String,
    },
    /// A container requests an accelerator.
    Accelerator {
        /// The extended resource, for example `nvidia.com/gpu`.
        resource: String,
        /// The container's name.
        container: String,
    },
    /// A container uses a dynamic resource claim: devices, taken to be accelerators.
    ResourceClaim {
        /// The Pod's claim, and where it comes from when the pod spec says.
        claim: String,
        /// The container's name.
        container: String,
    },
    /// The workload loads a model from a URI.
    ModelUri {
        /// The URI as written.
        uri: String,
    },
    /// The workload runs an artifact (an image digest, a model URI) that an AISystem declares
    /// in `spec.models`: that system's model, running outside it.
    DeclaredArtifact {
        /// The AISystem: its name, or `namespace/name` when it is in another namespace.
        system: String,
        /// The artifact as the system declares it.
        artifact: String,
    },
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ServingKind { kind } => write!(f, "its kind, {kind}, serves models"),
            Self::ServingImage { runtime, image } => write!(f, "runs {runtime} (image {image})"),
            Self::ServingCommand {
                runtime,
                command,
                container,
            } => write!(
                f,
                "runs {runtime} (command `{command}` in container {container})"
            ),
            Self::Accelerator {
                resource,
                container,
            } => write!(f, "requests {resource} in container {container}"),
            Self::ResourceClaim { claim, container } => write!(
                f,
                "requests devices through resource claim {claim} in container {container}"
            ),
            Self::ModelUri { uri } => write!(f, "loads model {uri}"),
            Self::DeclaredArtifact { system, artifact } => write!(
                f,
                "runs {artifact}, which AISystem {system} declares in spec.models"
            ),
        }
    }
}

/// A workload that looks like model serving, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Detection {
    /// The signals found: never empty, deduplicated, in the order of [`Signal`]'s `Ord`.
    pub reasons: Vec<Signal>,
}

impl fmt::Display for Detection {
    /// The reasons joined by `; `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, reason) in self.reasons.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{reason}")?;
        }
        Ok(())
    }
}

/// An accelerator resource rule, compiled.
#[derive(Clone, Debug)]
enum ResourcePattern {
    /// The resource name exactly.
    Exact(String),
    /// Any resource name that starts with this.
    Prefix(String),
}

impl ResourcePattern {
    fn parse(pattern: &str) -> Result<Self, &'static str> {
        if pattern.is_empty() {
            return Err("is empty");
        }
        if pattern.chars().any(char::is_whitespace) {
            return Err("contains whitespace");
        }
        match pattern.find('*') {
            None => Ok(Self::Exact(pattern.to_owned())),
            Some(0) => Err("is only a wildcard, which would match every extended resource"),
            Some(i) if i + 1 == pattern.len() => Ok(Self::Prefix(pattern[..i].to_owned())),
            Some(_) => Err("has `*` other than at the end"),
        }
    }

    fn matches(&self, resource: &str) -> bool {
        match self {
            Self::Exact(name) => resource == name,
            Self::Prefix(prefix) => resource.starts_with(prefix.as_str()),
        }
    }
}

/// Detection rules compiled for fast matching. Cheap to clone and share between threads.
#[derive(Clone, Debug)]
pub struct Detector {
    serving_kinds: bool,
    /// Runtime names, indexed by runtime.
    runtimes: Arc<[String]>,
    /// Every image pattern of every runtime, anchored to trailing path segments.
    images: RegexSet,
    /// The same patterns as one alternation: the fast test whether any matches. Unlike a set,
    /// a single end-anchored regex is searched backwards from the end of the repository, by a
    /// lazy DFA; the set is consulted only on a hit, to name the runtimes.
    any_image: Regex,
    /// For each pattern of `images`, the index of its runtime.
    image_runtime: Arc<[usize]>,
    /// For each runtime, the tags of its client images (anchored), if it has any.
    client_tags: Arc<[Option<Regex>]>,
    accelerators: Arc<[ResourcePattern]>,
    declared_model_uris: bool,
    /// The schemes of `modelUriSchemesInArgs` without their `://`, deduplicated.
    uri_schemes: Arc<[String]>,
    /// Every command pattern of every runtime, anchored to whole words.
    commands: RegexSet,
    /// The same patterns one by one, each with the pattern's own text as group 1.
    command_patterns: Arc<[Regex]>,
    /// For each pattern of `commands`, the index of its runtime.
    command_runtime: Arc<[usize]>,
    resource_claims: bool,
}

thread_local! {
    /// The command line being matched, reused so that matching allocates nothing once warm.
    static COMMAND_LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

impl Default for Detector {
    /// The detector of the embedded default rules, compiled once per process.
    fn default() -> Self {
        DEFAULT_DETECTOR.clone()
    }
}

impl Detector {
    /// Compiles rules, checking each one; the error names the first bad rule.
    pub fn new(rules: &DetectionRules) -> Result<Self, RulesError> {
        let mut runtimes = Vec::with_capacity(rules.serving_runtimes.len());
        let mut patterns = Vec::new();
        let mut image_runtime = Vec::new();
        let mut command_set = Vec::new();
        let mut command_patterns = Vec::new();
        let mut command_runtime = Vec::new();
        let mut client_tags = Vec::new();
        for (index, runtime) in rules.serving_runtimes.iter().enumerate() {
            let incomplete = |message| RulesError::Runtime {
                index,
                name: runtime.name.clone(),
                message,
            };
            if runtime.name.trim().is_empty() {
                return Err(incomplete("has no name"));
            }
            if runtime.images.is_empty() && runtime.commands.is_empty() {
                return Err(incomplete("has no image or command patterns"));
            }
            for pattern in &runtime.commands {
                let bad = |message: String| RulesError::CommandPattern {
                    index,
                    runtime: runtime.name.clone(),
                    pattern: pattern.clone(),
                    message,
                };
                valid_pattern(pattern, bad)?;
                let anchored = format!("(?:^|[\\s;&|(/=\"'`])({pattern})(?:$|[\\s;&|)\"'`])");
                command_patterns.push(Regex::new(&anchored).map_err(|e| bad(e.to_string()))?);
                command_set.push(anchored);
                command_runtime.push(runtimes.len());
            }
            for pattern in &runtime.images {
                let bad = |message: String| RulesError::ImagePattern {
                    index,
                    runtime: runtime.name.clone(),
                    pattern: pattern.clone(),
                    message,
                };
                // Compiled alone first: a pattern that is valid only once wrapped (`a)|(b`)
                // would change the anchoring.
                valid_pattern(pattern, bad)?;
                patterns.push(format!("(?:^|/)(?:{pattern})$"));
                image_runtime.push(runtimes.len());
            }
            let bad = |field: &'static str, pattern: &str| {
                let (runtime, pattern) = (runtime.name.clone(), pattern.to_owned());
                move |message: String| RulesError::Pattern {
                    index,
                    runtime: runtime.clone(),
                    field,
                    pattern: pattern.clone(),
                    message,
                }
            };
            for pattern in &runtime.projects {
                valid_pattern(pattern, bad("project", pattern))?;
                patterns.push(format!("(?:^|/)(?:{pattern})/[^/]+(?:/[^/]+)*$"));
                image_runtime.push(runtimes.len());
            }
            for pattern in &runtime.client_tags {
                valid_pattern(pattern, bad("client tag", pattern))?;
            }
            client_tags.push(if runtime.client_tags.is_empty() {
                None
            } else {
                let any = runtime.client_tags.join(")|(?:");
                let anchored = format!("^(?:(?:{any}))$");
                let tags = Regex::new(&anchored)
                    .map_err(|e| bad("client tag", &runtime.client_tags[0])(e.to_string()))?;
                Some(tags)
            });
            runtimes.push(runtime.name.clone());
        }
        let too_large = |e: regex::Error| RulesError::ImagePatterns {
            message: e.to_string(),
        };
        let commands = RegexSetBuilder::new(&command_set)
            .size_limit(IMAGE_SET_SIZE_LIMIT)
            .build()
            .map_err(too_large)?;
        let images = RegexSetBuilder::new(&patterns)
            .size_limit(IMAGE_SET_SIZE_LIMIT)
            .build()
            .map_err(too_large)?;
        let any_image = if patterns.is_empty() {
            // Matches nothing.
            "[a&&b]".to_owned()
        } else {
            patterns.join("|")
        };
        let any_image = RegexBuilder::new(&any_image)
            .size_limit(IMAGE_SET_SIZE_LIMIT)
            .build()
            .map_err(too_large)?;

        let accelerators = rules
            .accelerator_resources
            .iter()
            .enumerate()
            .map(|(index, pattern)| {
                ResourcePattern::parse(pattern).map_err(|message| RulesError::AcceleratorResource {
                    index,
                    pattern: pattern.clone(),
                    message,
                })
            })
            .collect::<Result<Arc<[_]>, _>>()?;

        for (index, scheme) in rules.model_uri_schemes_in_args.iter().enumerate() {
            check_scheme(scheme).map_err(|message| RulesError::UriScheme {
                index,
                scheme: scheme.clone(),
                message,
            })?;
        }
        let mut uri_schemes: Vec<String> = rules
            .model_uri_schemes_in_args
            .iter()
            .map(|s| s.trim_end_matches("://").to_owned())
            .collect();
        uri_schemes.sort();
        uri_schemes.dedup();

        Ok(Self {
            serving_kinds: rules.serving_kinds,
            runtimes: runtimes.into(),
            images,
            any_image,
            image_runtime: image_runtime.into(),
            client_tags: client_tags.into(),
            accelerators,
            declared_model_uris: rules.declared_model_uris,
            uri_schemes: uri_schemes.into(),
            commands,
            command_patterns: command_patterns.into(),
            command_runtime: command_runtime.into(),
            resource_claims: rules.resource_claims,
        })
    }

    /// Whether `w` looks like model serving, and why; `None` when no rule matches.
    ///
    /// Looks at every container, init containers included. Allocates only on a hit (once the
    /// calling thread has warmed the regex engine's cache).
    pub fn detect(&self, w: &WorkloadFacts) -> Option<Detection> {
        self.detect_among(w, &[])
    }

    /// [`Detector::detect`], and whether `w` runs an artifact that one of `systems` declares in
    /// `spec.models`: an image of the same digest (whatever its repository), a model URI as
    /// declared ([`Signal::DeclaredArtifact`]). `systems` are those the caller can see; `w` is
    /// meant to belong to none of them. Allocates only on a hit.
    pub fn detect_among(&self, w: &WorkloadFacts, systems: &[&AISystem]) -> Option<Detection> {
        let mut reasons = Vec::new();
        declared_artifacts(w, systems, &mut reasons);
        if self.serving_kinds && w.kind.spec().is_some_and(|k| k.serves_models) {
            reasons.push(Signal::ServingKind {
                kind: w.kind.to_string(),
            });
        }
        for c in &w.containers {
            self.image_reasons(&c.image, &mut reasons);
            self.command_reasons(c, &mut reasons);
            if self.resource_claims {
                for claim in &c.resource_claims {
                    reasons.push(Signal::ResourceClaim {
                        claim: claim.clone(),
                        container: c.name.clone(),
                    });
                }
            }
            for (resource, quantity) in &c.extended_resources {
                if self.is_accelerator(resource) && !is_zero_quantity(quantity) {
                    reasons.push(Signal::Accelerator {
                        resource: resource.clone(),
                        container: c.name.clone(),
                    });
                }
            }
            if !self.uri_schemes.is_empty() {
                for value in &c.args_and_env {
                    for_each_uri(&self.uri_schemes, value, |uri| {
                        reasons.push(Signal::ModelUri {
                            uri: uri.to_owned(),
                        });
                    });
                }
            }
        }
        if self.declared_model_uris {
            for uri in &w.model_uris {
                let uri = uri.trim();
                if !uri.is_empty() {
                    reasons.push(Signal::ModelUri {
                        uri: uri.to_owned(),
                    });
                }
            }
        }
        if reasons.is_empty() {
            return None;
        }
        reasons.sort_unstable();
        reasons.dedup();
        Some(Detection { reasons })
    }

    /// The runtimes whose image or project patterns match `image`'s repository, by name, in rule
    /// order; not those of which `image`'s tag marks a client image.
    pub fn serving_runtimes<'a>(&'a self, image: &ImageRef) -> impl Iterator<Item = &'a str> {
        let repository = image.repository.as_str();
        let matches = (!repository.is_empty() && self.any_image.is_match(repository))
            .then(|| self.images.matches(repository));
        let mut last = None;
        matches
            .into_iter()
            .flat_map(|m| m.into_iter())
            .filter_map(move |pattern| {
                let runtime = *self.image_runtime.get(pattern)?;
                // Patterns of one runtime are adjacent: report the runtime once.
                (last.replace(runtime) != Some(runtime)).then_some(runtime)
            })
            .filter(|&runtime| {
                let client = self.client_tags.get(runtime).and_then(Option::as_ref);
                !client.is_some_and(|tags| image.tag.as_deref().is_some_and(|t| tags.is_match(t)))
            })
            .filter_map(|runtime| self.runtimes.get(runtime).map(String::as_str))
    }

    /// The rules as the compiled floor's CEL reads them ([`FloorDetection`]), without the declared
    /// digests (they come from the systems). Each pattern keeps the anchoring the detector adds; a
    /// pattern in syntax that RE2 (CEL's `matches`) lacks (class set operations: `&&`, `--`, `~~`)
    /// is left out, so the floor detects no more than the detector.
    pub fn floor(&self) -> FloorDetection {
        fn of_runtime<'a>(
            r: usize,
            runtime_of: &[usize],
            patterns: impl Iterator<Item = &'a str>,
        ) -> String {
            runtime_of
                .iter()
                .zip(patterns)
                .filter(|(i, p)| **i == r && re2_portable(p))
                .map(|(_, p)| p)
                .collect::<Vec<_>>()
                .join("|")
        }
        let runtimes = self
            .runtimes
            .iter()
            .enumerate()
            .map(|(r, name)| {
                let client_tags = self.client_tags.get(r).and_then(Option::as_ref);
                // Client images are no signal: when that rule cannot be carried, the runtime's
                // images are left out rather than taken for servers.
                let images = if client_tags.is_some_and(|t| !re2_portable(t.as_str())) {
                    String::new()
                } else {
                    of_runtime(
                        r,
                        &self.image_runtime,
                        self.images.patterns().iter().map(String::as_str),
                    )
                };
                FloorRuntime {
                    name: name.clone(),
                    images,
                    commands: of_runtime(
                        r,
                        &self.command_runtime,
                        self.command_patterns.iter().map(Regex::as_str),
                    ),
                    client_tags: client_tags.map_or_else(String::new, |t| t.as_str().to_owned()),
                }
            })
            .collect();
        let mut floor = FloorDetection {
            serving_kinds: self.serving_kinds,
            runtimes,
            resource_claims: self.resource_claims,
            declared_model_uris: self.declared_model_uris,
            ..Default::default()
        };
        for pattern in self.accelerators.iter() {
            match pattern {
                ResourcePattern::Exact(name) => {
                    floor.accelerators.insert(name.clone(), true);
                }
                ResourcePattern::Prefix(prefix) => floor.accelerator_prefixes.push(prefix.clone()),
            }
        }
        if !self.uri_schemes.is_empty() {
            let schemes: Vec<String> = self.uri_schemes.iter().map(|s| regex::escape(s)).collect();
            // What `for_each_uri` finds: a whole scheme (not the end of a longer one), `://`, and
            // a character that does not end a URI (`ends_uri`; whitespace as Rust's `is_whitespace`).
            floor.uris = format!(
                r#"(?:^|[^A-Za-z0-9+.-])(?:{})://[^\s\x{{0B}}\x{{85}}\p{{Z}}"'`,;|<>()\[\]{{}}]"#,
                schemes.join("|")
            );
        }
        floor
    }

    /// Whether `resource` is an accelerator by the rules.
    pub fn is_accelerator(&self, resource: &str) -> bool {
        self.accelerators.iter().any(|p| p.matches(resource))
    }

    /// The runtimes whose command patterns match the command line of `c`.
    fn command_reasons(&self, c: &super::workload::ContainerFacts, reasons: &mut Vec<Signal>) {
        let words = c.command_line();
        if words.is_empty() || self.command_patterns.is_empty() {
            return;
        }
        COMMAND_LINE.with_borrow_mut(|line| {
            line.clear();
            for (i, word) in words.iter().enumerate() {
                if i > 0 {
                    line.push(' ');
                }
                line.push_str(word);
            }
            if !self.commands.is_match(line) {
                return;
            }
            let mut last = None;
            for pattern in self.commands.matches(line).into_iter() {
                let Some(&runtime) = self.command_runtime.get(pattern) else {
                    continue;
                };
                // One reason per runtime: the first of its patterns that matches.
                if last.replace(runtime) == Some(runtime) {
                    continue;
                }
                let command = self
                    .command_patterns
                    .get(pattern)
                    .and_then(|p| p.captures(line))
                    .and_then(|c| c.get(1))
                    .map_or("", |m| m.as_str());
                if let Some(name) = self.runtimes.get(runtime) {
                    reasons.push(Signal::ServingCommand {
                        runtime: name.clone(),
                        command: command.to_owned(),
                        container: c.name.clone(),
                    });
                }
            }
        });
    }

    fn image_reasons(&self, image: &ImageRef, reasons: &mut Vec<Signal>) {
        for runtime in self.serving_runtimes(image) {
            reasons.push(Signal::ServingImage {
                runtime: runtime.to_owned(),
                image: image.reference.clone(),
            });
        }
    }
}

/// Whether `pattern` means the same in RE2 (CEL's `matches`) as here, as far as syntax goes: it has
/// no class set operation (`[a&&b]`, `[a--b]`, `[a~~b]`) and no class nested in a class, which
/// Rust's regex has and RE2 lacks. POSIX classes (`[[:alpha:]]`) are in both.
fn re2_portable(pattern: &str) -> bool {
    let mut depth = 0usize;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' if depth > 0 && chars.peek() == Some(&':') => {
                // A POSIX class: to its `:]`.
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == ':' && c == ']' {
                        break;
                    }
                    last = c;
                }
            }
            '[' if depth > 0 => return false,
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            '&' | '-' | '~' if depth > 0 && chars.peek() == Some(&c) => return false,
            _ => {}
        }
    }
    true
}

/// Checks that a rule's `pattern` is not empty and compiles on its own; `bad` names the rule
/// in the error.
fn valid_pattern(pattern: &str, bad: impl Fn(String) -> RulesError) -> Result<(), RulesError> {
    if pattern.trim().is_empty() {
        return Err(bad("is empty".to_owned()));
    }
    Regex::new(pattern)
        .map(drop)
        .map_err(|e| bad(e.to_string()))
}

/// The artifacts of `systems`' `spec.models` that `w` runs: an image pinned to the same digest as
/// a declared image (the repository may differ: the digest is the content), or a declared model
/// URI among its declared URIs or as a word of its arguments and environment.
fn declared_artifacts(w: &WorkloadFacts, systems: &[&AISystem], reasons: &mut Vec<Signal>) {
    for system in systems {
        for model in &system.spec.models {
            let artifact = &model.artifact;
            // The digest as written, without parsing the reference (which would allocate).
            let digest = artifact
                .image
                .as_deref()
                .and_then(|image| image.rsplit_once('@'))
                .map(|(_, digest)| digest)
                .filter(|digest| is_sha256_digest(digest));
            let by_image = digest
                .is_some_and(|digest| w.images().any(|i| i.digest.as_deref() == Some(digest)));
            let by_uri = artifact
                .uri
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .is_some_and(|uri| {
                    w.model_uris.iter().any(|m| m.trim() == uri)
                        || w.containers.iter().any(|c| {
                            c.args_and_env
                                .iter()
                                .any(|v| v.split(|ch| ends_uri(ch) || ch == '=').any(|t| t == uri))
                        })
                });
            if !(by_image || by_uri) {
                continue;
            }
            let name = system.metadata.name.as_deref().unwrap_or_default();
            let system_name = match system.metadata.namespace.as_deref() {
                Some(ns) if ns != w.namespace => format!("{ns}/{name}"),
                _ => name.to_owned(),
            };
            let declared = if by_image {
                artifact.image.clone()
            } else {
                artifact.uri.clone()
            };
            reasons.push(Signal::DeclaredArtifact {
                system: system_name,
                artifact: declared.unwrap_or_default(),
            });
        }
    }
}

/// Checks a URI scheme entry: letters, digits, `+`, `-`, `.` starting with a letter, then `://`.
fn check_scheme(scheme: &str) -> Result<(), &'static str> {
    let Some(name) = scheme.strip_suffix("://") else {
        return Err("does not end with `://`");
    };
    let mut chars = name.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic()) {
        return Err("does not start with a letter");
    }
    if !chars.all(is_scheme_char) {
        return Err("has a character a URI scheme cannot have");
    }
    Ok(())
}

/// Whether `c` can be part of a URI scheme (RFC 3986).
fn is_scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')
}

/// Whether `c` ends a URI embedded in an argument, a script or a JSON value.
fn ends_uri(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '"' | '\'' | '`' | ',' | ';' | '|' | '<' | '>' | '(' | ')' | '[' | ']' | '{' | '}'
        )
}

/// Calls `f` with every URI in `text` whose scheme is one of `schemes` (names without `://`) and
/// that has something after the `://`. The scheme is the whole run of scheme characters before
/// the `://`, so `myhf://` is not `hf://`.
///
/// One pass over `text` for all schemes: it stops at each `:` and looks around it, which on
/// short values is faster than a substring search per scheme.
fn for_each_uri<'t>(schemes: &[String], text: &'t str, mut f: impl FnMut(&'t str)) {
    let bytes = text.as_bytes();
    let mut from = 0;
    // A plain loop: values are short, and a call to `memchr` costs more than it saves.
    while let Some(i) = bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| b == b':'))
    {
        let colon = from + i;
        from = colon + 1;
        let Some(after) = text.get(colon..).and_then(|t| t.strip_prefix("://")) else {
            continue;
        };
        // Scheme characters are ASCII, so walking back over bytes stops on a char boundary.
        let start = bytes[..colon]
            .iter()
            .rposition(|&b| !is_scheme_char(char::from(b)))
            .map_or(0, |j| j + 1);
        let scheme = &text[start..colon];
        if scheme.is_empty() || !schemes.iter().any(|s| s == scheme) {
            continue;
        }
        let len = after.find(ends_uri).unwrap_or(after.len());
        if len > 0 {
            let end = colon + 3 + len;
            f(&text[start..end]);
            from = end;
        }
    }
}

/// Whether a resource quantity as written is zero (`0`, `0.0`, `0m`), so that it requests
/// nothing. An unreadable quantity is not zero.
fn is_zero_quantity(quantity: &str) -> bool {
    let quantity = quantity.trim();
    let end = quantity
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
        .unwrap_or(quantity.len());
    let number = &quantity[..end];
    number.contains('0') && number.chars().all(|c| matches!(c, '0' | '.' | '+' | '-'))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::engine::workload::WorkloadKind;

    fn isvc_signal() -> Signal {
        Signal::ServingKind {
            kind: "InferenceService".into(),
        }
    }

    const DIGEST: &str = "sha256:5f7f5a7c0c1e6d8f2b3a4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091";

    /// A Deployment running `containers` (a JSON array of containers).
    fn deployment(containers: Value) -> WorkloadFacts {
        workload(WorkloadKind::Deployment, containers)
    }

    /// A workload of a pod-template kind running `containers`.
    fn workload(kind: WorkloadKind, containers: Value) -> WorkloadFacts {
        let pod = json!({"spec": {"containers": containers}});
        let object = match kind {
            WorkloadKind::Pod => {
                json!({"metadata": {"name": "w", "namespace": "ns"}, "spec": pod["spec"]})
            }
            WorkloadKind::CronJob => json!({
                "metadata": {"name": "w", "namespace": "ns"},
                "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": pod}}}
            }),
            WorkloadKind::Deployment
            | WorkloadKind::StatefulSet
            | WorkloadKind::DaemonSet
            | WorkloadKind::ReplicaSet
            | WorkloadKind::ReplicationController => {
                json!({
                    "metadata": {"name": "w", "namespace": "ns"},
                    "spec": {"selector": {"matchLabels": {"app": "w"}}, "template": pod}
                })
            }
            WorkloadKind::Job | WorkloadKind::Custom(_) => json!({
                "metadata": {"name": "w", "namespace": "ns"}, "spec": {"template": pod}
            }),
        };
        WorkloadFacts::from_json(kind, object).unwrap()
    }

    fn image(reference: &str) -> WorkloadFacts {
        deployment(json!([{"name": "main", "image": reference}]))
    }

    fn serving(runtime: &str, image: &str) -> Signal {
        Signal::ServingImage {
            runtime: runtime.into(),
            image: image.into(),
        }
    }

    fn accelerator(resource: &str, container: &str) -> Signal {
        Signal::Accelerator {
            resource: resource.into(),
            container: container.into(),
        }
    }

    fn model(uri: &str) -> Signal {
        Signal::ModelUri { uri: uri.into() }
    }

    fn reasons(detector: &Detector, w: &WorkloadFacts) -> Vec<Signal> {
        detector.detect(w).map(|d| d.reasons).unwrap_or_default()
    }

    #[test]
    fn patterns_in_syntax_re2_lacks_are_found() {
        for (pattern, portable) in [
            ("torchserve(\\s+\\S+)*\\s+--start", true),
            ("vllm/vllm-[a-z0-9._-]+", true),
            ("[[:alpha:]]+-serve", true),
            ("a\\[&&b", true),
            ("[a-z&&[^x]]", false),
            ("[a-z--x]", false),
            ("[a~~b]", false),
            ("[a[b]]", false),
        ] {
            assert_eq!(re2_portable(pattern), portable, "{pattern}");
        }
    }

    #[test]
    fn the_floor_carries_the_rules_as_the_detector_reads_them() {
        let detector = Detector::default();
        let floor = detector.floor();
        let vllm = floor.runtimes.iter().find(|r| r.name == "vLLM").unwrap();
        let images = Regex::new(&vllm.images).unwrap();
        let commands = Regex::new(&vllm.commands).unwrap();
        for (repository, serving) in [
            ("vllm/vllm-openai", true),
            ("mirror.corp:5000/dockerhub/vllm/vllm-openai", true),
            ("myvllm/vllm-openai", false),
        ] {
            assert_eq!(images.is_match(repository), serving, "{repository}");
        }
        assert!(commands.is_match("/bin/sh -c exec vllm serve m"));
        assert!(!commands.is_match("myvllm serve m"));
        let triton = floor
            .runtimes
            .iter()
            .find(|r| !r.client_tags.is_empty())
            .unwrap();
        assert!(
            Regex::new(&triton.client_tags)
                .unwrap()
                .is_match("25.06-py3-sdk")
        );
        assert!(floor.accelerators.contains_key("nvidia.com/gpu"));
        // The floor's URI pattern finds what `for_each_uri` finds, and nothing else.
        let uris = Regex::new(&floor.uris).unwrap();
        for text in [
            "--model=hf://org/model",
            "myhf://org/model",
            "hf://",
            "x hf:// y",
            "'hf://org/m'",
            "s3://bucket/etl",
            "hf://\u{a0}",
        ] {
            let mut found = false;
            for_each_uri(&detector.uri_schemes, text, |_| found = true);
            assert_eq!(uris.is_match(text), found, "{text}");
        }
    }

    #[test]
    fn the_default_rules_parse_and_compile() {
        let rules: DetectionRules = serde_saphyr::from_str(DEFAULT_RULES_YAML).unwrap();
        assert_eq!(
            DetectionRules::from_yaml(DEFAULT_RULES_YAML).unwrap(),
            rules
        );
        assert_eq!(DetectionRules::default(), rules);
        assert!(rules.serving_kinds && rules.declared_model_uris);
        assert_eq!(rules.model_uri_schemes_in_args, ["hf://"]);
        let mut names: Vec<_> = rules.serving_runtimes.iter().map(|r| &r.name).collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "runtime names are unique");
        assert!(count >= 20, "{count} runtimes");
        Detector::new(&rules).unwrap();
        let _ = Detector::default();
    }

    #[test]
    fn serving_runtime_images_are_recognised_whatever_the_registry_tag_or_digest() {
        let vllm = "vLLM";
        let tgi = "Hugging Face Text Generation Inference";
        let tei = "Hugging Face Text Embeddings Inference";
        let triton = "NVIDIA Triton Inference Server";
        let kserve = "KServe model server";
        let digested = |r: &str| format!("{r}@{DIGEST}");
        let cases: Vec<(String, &str)> = vec![
            // vLLM
            ("vllm/vllm-openai:v0.9.1".into(), vllm),
            ("docker.io/vllm/vllm-openai:latest".into(), vllm),
            (digested("vllm/vllm-openai"), vllm),
            (digested("docker.io/vllm/vllm-openai:v0.9.1"), vllm),
            ("harbor.corp.example:8443/dockerhub-proxy/vllm/vllm-openai:v0.10.0".into(), vllm),
            ("vllm/vllm-openai-rocm:v0.9.1".into(), vllm),
            ("vllm/vllm-tpu:nightly".into(), vllm),
            ("rocm/vllm:rocm6.3.1_vllm_0.8.5".into(), vllm),
            ("quay.io/modh/vllm:rhoai-2.20-cuda".into(), vllm),
            ("registry.redhat.io/rhaiis/vllm-cuda-rhel9:3.0.0".into(), vllm),
            // Hugging Face
            ("ghcr.io/huggingface/text-generation-inference:3.3.4".into(), tgi),
            ("ghcr.io/huggingface/tgi-gaudi:2.3.1".into(), tgi),
            ("763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.4.0-tgi2.3.1-gpu-py311-cu124-ubuntu22.04".into(), tgi),
            ("ghcr.io/huggingface/text-embeddings-inference:cpu-1.7".into(), tei),
            (digested("ghcr.io/huggingface/text-embeddings-inference:1.7"), tei),
            // NVIDIA
            ("nvcr.io/nvidia/tritonserver:25.06-py3".into(), triton),
            ("mirror.example.com/nvcr/nvidia/tritonserver:24.08-trtllm-python-py3".into(), triton),
            ("nvcr.io/nim/meta/llama-3.1-8b-instruct:1.8.0".into(), "NVIDIA NIM"),
            ("nvcr.io/nim/nvidia/nv-embedqa-e5-v5:1.6".into(), "NVIDIA NIM"),
            ("nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.3.2".into(), "NVIDIA Dynamo"),
            // Others
            ("ollama/ollama:0.9.6".into(), "Ollama"),
            ("docker.io/ollama/ollama:rocm".into(), "Ollama"),
            ("pytorch/torchserve:0.12.0-gpu".into(), "TorchServe"),
            ("pytorch/torchserve-kfs:0.12.0".into(), "TorchServe"),
            ("tensorflow/serving:2.17.0-gpu".into(), "TensorFlow Serving"),
            ("bitnami/tensorflow-serving:2.18.0".into(), "TensorFlow Serving"),
            ("763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-inference:2.6.0-gpu-py312-cu124-ubuntu22.04-sagemaker".into(), "AWS Deep Learning Container for inference"),
            ("kserve/sklearnserver:v0.15.2".into(), kserve),
            ("docker.io/kserve/huggingfaceserver:v0.15.2-gpu".into(), kserve),
            ("kserve/lgbserver:v0.15.2".into(), kserve),
            ("kserve/xgbserver:v0.15.2".into(), kserve),
            ("kserve/pmmlserver:v0.15.2".into(), kserve),
            (digested("kserve/paddleserver"), kserve),
            ("lmsysorg/sglang:v0.4.9-cu126".into(), "SGLang"),
            ("ghcr.io/ggml-org/llama.cpp:server-cuda".into(), "llama.cpp server"),
            ("ghcr.io/ggerganov/llama.cpp:server".into(), "llama.cpp server"),
            ("rayproject/ray-ml:2.9.3-py310-gpu".into(), "Ray Serve"),
            ("anyscale/ray-llm:2.44.1-py311-cu124".into(), "Ray Serve"),
            ("seldonio/mlserver:1.7.1-huggingface".into(), "Seldon MLServer"),
            ("docker.io/seldonio/sklearnserver:1.18.2".into(), "Seldon Core model server"),
            ("localai/localai:v3.1.1-gpu-nvidia-cuda-12".into(), "LocalAI"),
            ("quay.io/go-skynet/local-ai:v2.29.0".into(), "LocalAI"),
            ("openmmlab/lmdeploy:v0.9.1-cu12".into(), "LMDeploy"),
            ("bentoml/bento-server:1.0.0-python3.9-debian-runtime".into(), "BentoML"),
            ("ghcr.io/bentoml/openllm:0.4.44".into(), "BentoML"),
            ("xprobe/xinference:v1.7.1".into(), "Xinference"),
            ("openvino/model_server:2025.2-gpu".into(), "OpenVINO Model Server"),
            ("deepjavalibrary/djl-serving:0.33.0-lmi".into(), "DJL Serving"),
            ("763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.32.0-lmi14.0.0-cu126".into(), "DJL Serving"),
            ("ghcr.io/predibase/lorax:main".into(), "LoRAX"),
            ("michaelf34/infinity:0.0.77".into(), "Infinity"),
            ("alpindale/aphrodite-openai:v0.9.1".into(), "Aphrodite Engine"),
        ];
        let detector = Detector::default();
        for (reference, runtime) in &cases {
            assert_eq!(
                reasons(&detector, &image(reference)),
                [serving(runtime, reference)],
                "{reference}"
            );
        }
        // Every runtime of the catalog has a case above.
        for runtime in &DetectionRules::default().serving_runtimes {
            assert!(
                cases.iter().any(|(_, name)| *name == runtime.name),
                "no test case for {}",
                runtime.name
            );
        }
    }

    #[test]
    fn image_patterns_match_whole_trailing_path_segments() {
        let rules = DetectionRules::from_yaml(
            "servingRuntimes:\n  - name: Acme\n    images: ['acme/llm(-[a-z]+)?']\n",
        )
        .unwrap();
        let detector = Detector::new(&rules).unwrap();
        for (reference, hit) in [
            ("acme/llm", true),
            ("acme/llm:1.0", true),
            ("acme/llm-gpu:1.0", true),
            ("registry.example.com/acme/llm:1.0", true),
            ("registry.example.com:5000/mirror/acme/llm", true),
            ("notacme/llm:1.0", false),
            ("acme/llm2:1.0", false),
            ("acme/llm/tools:1.0", false),
            ("acme/llm-GPU:1.0", false),
            ("acme", false),
            ("", false),
        ] {
            assert_eq!(
                detector.detect(&image(reference)).is_some(),
                hit,
                "{reference}"
            );
        }
    }

    #[test]
    fn accelerator_requests_are_recognised() {
        let detector = Detector::default();
        for (resource, quantity, hit) in [
            ("nvidia.com/gpu", "1", true),
            ("nvidia.com/gpu", "8", true),
            ("nvidia.com/gpu.shared", "1", true),
            ("nvidia.com/mig-1g.5gb", "1", true),
            ("nvidia.com/mig-3g.40gb", "2", true),
            ("amd.com/gpu", "1", true),
            ("google.com/tpu", "4", true),
            ("habana.ai/gaudi", "8", true),
            ("aws.amazon.com/neuron", "1", true),
            ("aws.amazon.com/neuroncore", "2", true),
            ("aws.amazon.com/neurondevice", "1", true),
            ("gpu.intel.com/i915", "1", true),
            ("gpu.intel.com/xe", "1", true),
            // Zero is no request: charts template `nvidia.com/gpu: 0` when GPUs are off.
            ("nvidia.com/gpu", "0", false),
            ("amd.com/gpu", "0.0", false),
            ("nvidia.com/gpus", "1", false),
            ("amd.com/gpu-partition", "1", false),
            ("example.com/dongle", "1", false),
            ("smarter-devices/fuse", "1", false),
            ("hugepages-2Mi", "1Gi", false),
        ] {
            let w = deployment(json!([{
                "name": "worker", "image": "busybox:1.36",
                "resources": {"limits": {"cpu": "1", resource: quantity}}
            }]));
            let want = if hit {
                vec![accelerator(resource, "worker")]
            } else {
                vec![]
            };
            assert_eq!(reasons(&detector, &w), want, "{resource}: {quantity}");
        }
    }

    #[test]
    fn model_uris_are_recognised_in_declarations_and_hf_uris_in_arguments() {
        let detector = Detector::default();
        let llama = "hf://meta-llama/Llama-3.1-8B-Instruct";
        let cases = [
            (json!({"args": ["--model", llama]}), vec![model(llama)]),
            (
                json!({"args": [format!("--model={llama}")]}),
                vec![model(llama)],
            ),
            (
                json!({"command": ["sh", "-c", format!("python serve.py --model '{llama}' && sleep 1")]}),
                vec![model(llama)],
            ),
            (
                json!({"env": [{"name": "MODEL_ID", "value": llama}]}),
                vec![model(llama)],
            ),
            (
                json!({"env": [{"name": "CONFIG", "value": format!("{{\"model\":\"{llama}\",\"tp\":2}}")}]}),
                vec![model(llama)],
            ),
            (
                json!({"args": ["--models", "hf://org/a,hf://org/b"]}),
                vec![model("hf://org/a"), model("hf://org/b")],
            ),
            // STORAGE_URI is a declared model URI, whatever its scheme.
            (
                json!({"env": [{"name": "STORAGE_URI", "value": "s3://models/credit/v3"}]}),
                vec![model("s3://models/credit/v3")],
            ),
            (
                json!({"env": [{"name": "STORAGE_URI", "value": "pvc://models/m"}]}),
                vec![model("pvc://models/m")],
            ),
            (
                json!({"env": [{"name": "STORAGE_URI", "value": ""}]}),
                vec![],
            ),
            // Elsewhere, only model schemes count.
            (
                json!({"args": ["--input", "s3://bucket/raw/2025/", "--output=s3a://bucket/clean/"]}),
                vec![],
            ),
            (
                json!({"args": ["--model", "https://huggingface.co/meta-llama/Llama-3.1-8B"]}),
                vec![],
            ),
            (
                json!({"env": [{"name": "X", "value": "myhf://not/a/model"}]}),
                vec![],
            ),
            (json!({"args": ["hf://"]}), vec![]),
            (json!({"args": ["HF_HOME=/cache/hf"]}), vec![]),
        ];
        for (container, want) in cases {
            let mut container = container;
            container["name"] = json!("main");
            container["image"] = json!("python:3.12-slim");
            assert_eq!(
                reasons(&detector, &deployment(json!([container.clone()]))),
                want,
                "{container}"
            );
        }
    }

    #[test]
    fn an_inference_service_is_model_serving_by_its_kind() {
        let detector = Detector::default();
        let cases = [
            (
                json!({"predictor": {"model": {"modelFormat": {"name": "sklearn"}, "storageUri": "gs://kfserving-examples/models/sklearn/1.0/model"}}}),
                vec![
                    isvc_signal(),
                    model("gs://kfserving-examples/models/sklearn/1.0/model"),
                ],
            ),
            (json!({"predictor": {}}), vec![isvc_signal()]),
            (
                json!({"predictor": {
                    "model": {"modelFormat": {"name": "huggingface"}, "storageUri": "hf://org/model"},
                    "containers": [{"name": "kserve-container", "image": "vllm/vllm-openai:v0.9.1",
                                    "resources": {"limits": {"nvidia.com/gpu": "1"}}}]
                }}),
                vec![
                    isvc_signal(),
                    serving("vLLM", "vllm/vllm-openai:v0.9.1"),
                    accelerator("nvidia.com/gpu", "kserve-container"),
                    model("hf://org/model"),
                ],
            ),
        ];
        for (spec, want) in cases {
            let isvc = json!({
                "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                "metadata": {"name": "chat", "namespace": "support"}, "spec": spec
            });
            let w =
                WorkloadFacts::from_json(WorkloadKind::custom("InferenceService").unwrap(), isvc)
                    .unwrap();
            assert_eq!(reasons(&detector, &w), want, "{spec}");
        }
    }

    #[test]
    fn ordinary_workloads_are_not_model_serving() {
        use WorkloadKind::*;
        let detector = Detector::default();
        let cases = [
            (
                Deployment,
                json!([{"name": "nginx", "image": "nginx:1.27-alpine", "args": ["nginx", "-g", "daemon off;"]}]),
            ),
            (
                Deployment,
                json!([{"name": "web", "image": "docker.io/library/nginx@".to_owned() + DIGEST}]),
            ),
            (
                StatefulSet,
                json!([{"name": "redis", "image": "redis:7.4", "args": ["--appendonly", "yes"]}]),
            ),
            (
                StatefulSet,
                json!([{"name": "postgres", "image": "postgres:17", "env": [
                {"name": "POSTGRES_PASSWORD", "value": "s3cr3t"}, {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}]}]),
            ),
            (
                Deployment,
                json!([{"name": "app", "image": "eclipse-temurin:21-jre", "command": ["java", "-jar", "/app/shop.jar"],
                "env": [{"name": "JAVA_OPTS", "value": "-Xmx512m"}, {"name": "SPRING_DATASOURCE_URL", "value": "jdbc:postgresql://postgres:5432/shop"}]}]),
            ),
            (
                Deployment,
                json!([
                {"name": "web", "image": "registry.example.com/shop/web:1.4", "env": [{"name": "API_URL", "value": "https://api.example.com/v1"}]},
                {"name": "envoy", "image": "envoyproxy/envoy:v1.34.1"}]),
            ),
            (
                Job,
                json!([{"name": "etl", "image": "apache/spark:3.5.1", "command": ["/opt/spark/bin/spark-submit"],
                "args": ["--master", "k8s://https://kubernetes.default.svc", "s3://datalake/jobs/etl.py", "--input", "s3://datalake/raw/", "--output", "s3a://datalake/clean/"]}]),
            ),
            (
                CronJob,
                json!([{"name": "cleanup", "image": "busybox:1.36", "command": ["sh", "-c", "find /data -mtime +7 -delete"]}]),
            ),
            (
                Job,
                json!([{"name": "report", "image": "python:3.12", "command": ["python", "/scripts/report.py", "--bucket", "s3://reports/"]}]),
            ),
            (
                Deployment,
                json!([{"name": "prometheus", "image": "quay.io/prometheus/prometheus:v3.4.2", "args": ["--config.file=/etc/prometheus/prometheus.yml"]}]),
            ),
            (
                Deployment,
                json!([{"name": "grafana", "image": "grafana/grafana:12.0.2", "env": [{"name": "GF_SERVER_ROOT_URL", "value": "https://grafana.example.com"}]}]),
            ),
            (
                Job,
                json!([{"name": "notebook", "image": "pytorch/pytorch:2.7.1-cuda12.6-cudnn9-runtime", "resources": {"requests": {"cpu": "2", "memory": "8Gi"}}}]),
            ),
            (
                Deployment,
                json!([{"name": "tf", "image": "tensorflow/tensorflow:2.19.0"}]),
            ),
            (
                Pod,
                json!([{"name": "debug", "image": "nicolaka/netshoot", "command": ["sleep", "infinity"]}]),
            ),
            // Near misses.
            (
                Job,
                json!([{"name": "build", "image": "nimlang/nim:2.2.4", "args": ["nim", "c", "app.nim"]}]),
            ),
            (
                Deployment,
                json!([{"name": "manager", "image": "kserve/kserve-controller:v0.15.2"}]),
            ),
            (
                Deployment,
                json!([{"name": "agent", "image": "kserve/storage-initializer:v0.15.2"}]),
            ),
            (
                DaemonSet,
                json!([{"name": "plugin", "image": "nvcr.io/nvidia/k8s-device-plugin:v0.17.2"}]),
            ),
            (
                DaemonSet,
                json!([{"name": "dcgm", "image": "nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.3-ubuntu22.04"}]),
            ),
            (
                Deployment,
                json!([{"name": "exporter", "image": "acme/ollama-exporter:1.0"}]),
            ),
            (
                Deployment,
                json!([{"name": "gpu-off", "image": "registry.example.com/shop/web:1.4", "resources": {"limits": {"nvidia.com/gpu": "0"}}}]),
            ),
        ];
        for (kind, containers) in cases {
            let w = workload(kind, containers.clone());
            assert_eq!(detector.detect(&w), None, "{kind} {containers}");
        }
    }

    #[test]
    fn reasons_are_deduplicated_and_in_a_stable_order() {
        let detector = Detector::default();
        let uri = "hf://Qwen/Qwen3-8B";
        let containers = json!([
            {"name": "b", "image": "vllm/vllm-openai:v0.9.1", "args": ["--model", uri],
             "resources": {"limits": {"nvidia.com/gpu": "1"}}},
            {"name": "a", "image": "vllm/vllm-openai:v0.9.1", "args": ["--model", uri, uri],
             "env": [{"name": "STORAGE_URI", "value": uri}],
             "resources": {"limits": {"nvidia.com/gpu": "1", "amd.com/gpu": "1"}}},
        ]);
        let want = vec![
            serving("vLLM", "vllm/vllm-openai:v0.9.1"),
            accelerator("amd.com/gpu", "a"),
            accelerator("nvidia.com/gpu", "a"),
            accelerator("nvidia.com/gpu", "b"),
            model(uri),
        ];
        let w = deployment(containers.clone());
        assert_eq!(reasons(&detector, &w), want);
        let mut reversed = containers;
        reversed.as_array_mut().unwrap().reverse();
        assert_eq!(reasons(&detector, &deployment(reversed)), want);
    }

    #[test]
    fn reasons_read_as_sentences() {
        let detection = Detection {
            reasons: vec![
                isvc_signal(),
                serving("vLLM", "vllm/vllm-openai:v0.9.1"),
                accelerator("nvidia.com/gpu", "vllm"),
                model("hf://meta-llama/Llama-3.1-8B-Instruct"),
            ],
        };
        let want = [
            "its kind, InferenceService, serves models",
            "runs vLLM (image vllm/vllm-openai:v0.9.1)",
            "requests nvidia.com/gpu in container vllm",
            "loads model hf://meta-llama/Llama-3.1-8B-Instruct",
        ];
        for (reason, want) in detection.reasons.iter().zip(want) {
            assert_eq!(reason.to_string(), want);
        }
        assert_eq!(detection.to_string(), want.join("; "));
        let json = serde_json::to_value(&detection).unwrap();
        assert_eq!(
            json["reasons"][0],
            json!({"signal": "servingKind", "kind": "InferenceService"})
        );
        assert_eq!(
            json["reasons"][1],
            json!({"signal": "servingImage", "runtime": "vLLM", "image": "vllm/vllm-openai:v0.9.1"})
        );
    }

    #[test]
    fn bad_rules_are_named() {
        let cases = [
            (
                "servingRuntimes:\n  - name: Fine\n    images: ['fine/server']\n  - name: Broken\n    images: ['ok/one', 'broken/(server']\n",
                &[
                    "servingRuntimes[1]",
                    "Broken",
                    "broken/(server",
                    "unclosed group",
                ][..],
            ),
            (
                // Valid only once wrapped in a group: would escape the anchoring.
                "servingRuntimes:\n  - name: Sneaky\n    images: ['a)|(b']\n",
                &["servingRuntimes[0]", "Sneaky", "a)|(b"],
            ),
            (
                "servingRuntimes:\n  - name: Empty\n    images: ['']\n",
                &["servingRuntimes[0]", "Empty", "is empty"],
            ),
            (
                "servingRuntimes:\n  - name: NoImages\n    images: []\n",
                &[
                    "servingRuntimes[0]",
                    "NoImages",
                    "no image or command patterns",
                ],
            ),
            (
                "servingRuntimes:\n  - name: BadCommand\n    commands: ['ok', 'serve(']\n",
                &[
                    "servingRuntimes[0]",
                    "BadCommand",
                    "command pattern",
                    "serve(",
                ],
            ),
            (
                "servingRuntimes:\n  - name: EmptyCommand\n    commands: [' ']\n",
                &["servingRuntimes[0]", "EmptyCommand", "is empty"],
            ),
            (
                "servingRuntimes:\n  - name: ' '\n    images: ['x/y']\n",
                &["servingRuntimes[0]", "has no name"],
            ),
            (
                "acceleratorResources: ['nvidia.com/gpu', 'nvidia.com/*gpu']\n",
                &["acceleratorResources[1]", "nvidia.com/*gpu", "at the end"],
            ),
            (
                "acceleratorResources: ['*']\n",
                &["acceleratorResources[0]", "every extended resource"],
            ),
            (
                "acceleratorResources: ['']\n",
                &["acceleratorResources[0]", "is empty"],
            ),
            (
                "modelUriSchemesInArgs: ['hf']\n",
                &["modelUriSchemesInArgs[0]", "\"hf\"", "://"],
            ),
            (
                "modelUriSchemesInArgs: ['hf://', '1x://']\n",
                &["modelUriSchemesInArgs[1]", "letter"],
            ),
            (
                "modelUriSchemesInArgs: ['h f://']\n",
                &["modelUriSchemesInArgs[0]", "character"],
            ),
            (
                "servingRuntimes:\n  - name: P\n    images: ['p/q']\n    projects: ['p(']\n",
                &["servingRuntimes[0] (P)", "project pattern \"p(\""],
            ),
            (
                "servingRuntimes:\n  - name: T\n    images: ['t/u']\n    clientTags: ['ok', '']\n",
                &["servingRuntimes[0] (T)", "client tag pattern \"\"", "empty"],
            ),
            ("servingRuntime: []\n", &["servingRuntime"]),
            (
                "servingRuntimes:\n  - name: X\n    image: ['x/y']\n",
                &["image"],
            ),
            ("servingRuntimes: 3\n", &["detection rules"]),
            ("servingKinds: [\n", &["detection rules"]),
            ("", &["no signal"]),
            ("{}", &["no signal"]),
            ("# only a comment\n", &["no signal"]),
        ];
        for (yaml, needles) in cases {
            let err = DetectionRules::from_yaml(yaml).unwrap_err().to_string();
            for needle in needles {
                assert!(err.contains(needle), "{yaml:?}: {err:?} lacks {needle:?}");
            }
        }
    }

    #[test]
    fn custom_rules_replace_the_defaults() {
        let rules = DetectionRules::from_yaml(
            "servingRuntimes:\n  - name: Acme LLM\n    images: ['acme/llm-server']\nacceleratorResources: ['example.com/npu']\n",
        )
        .unwrap();
        assert!(!rules.serving_kinds && !rules.declared_model_uris);
        let detector = Detector::new(&rules).unwrap();
        let cases = [
            (
                image("registry.example.com/acme/llm-server:2"),
                vec![serving(
                    "Acme LLM",
                    "registry.example.com/acme/llm-server:2",
                )],
            ),
            (image("vllm/vllm-openai:v0.9.1"), vec![]),
            (
                deployment(
                    json!([{"name": "m", "image": "busybox", "args": ["hf://org/m"],
                    "env": [{"name": "STORAGE_URI", "value": "s3://m"}],
                    "resources": {"limits": {"nvidia.com/gpu": "1", "example.com/npu": "1"}}}]),
                ),
                vec![accelerator("example.com/npu", "m")],
            ),
        ];
        for (w, want) in cases {
            assert_eq!(reasons(&detector, &w), want, "{:?}", w.containers);
        }
        let isvc = WorkloadFacts::from_json(
            WorkloadKind::custom("InferenceService").unwrap(),
            json!({"metadata": {"name": "x"}, "spec": {"predictor": {"model": {"storageUri": "hf://o/m"}}}}),
        )
        .unwrap();
        assert_eq!(detector.detect(&isvc), None);
        // Built in code, an empty rule set detects nothing.
        let none = DetectionRules::from_yaml("servingKinds: false\nservingRuntimes: []\n");
        assert!(matches!(none, Err(RulesError::Empty)), "{none:?}");
        let none = Detector::new(&DetectionRules {
            serving_kinds: false,
            serving_runtimes: vec![],
            accelerator_resources: vec![],
            declared_model_uris: false,
            model_uri_schemes_in_args: vec![],
            resource_claims: false,
        })
        .unwrap();
        assert_eq!(none.detect(&isvc), None);
    }

    /// A container running `command` (and `args`) under an image no rule knows.
    fn renamed(command: Value, args: Value) -> WorkloadFacts {
        deployment(
            json!([{"name": "server", "image": "registry.example.com/team/app:1.0",
            "command": command, "args": args}]),
        )
    }

    fn command(runtime: &str, matched: &str) -> Signal {
        Signal::ServingCommand {
            runtime: runtime.into(),
            command: matched.into(),
            container: "server".into(),
        }
    }

    #[test]
    fn serving_commands_are_recognised_under_any_image() {
        let vllm = "vLLM";
        let api_server = "python -m vllm.entrypoints.openai.api_server";
        let cases = [
            // Exec form, as images' entrypoints are overridden.
            (
                json!(["vllm"]),
                json!(["serve", "Qwen/Qwen3-8B", "--port", "8000"]),
                vllm,
                "vllm serve",
            ),
            (
                json!(["/usr/local/bin/vllm", "serve"]),
                json!(["/models/m"]),
                vllm,
                "vllm serve",
            ),
            (
                json!(["python", "-m", "vllm.entrypoints.openai.api_server"]),
                json!(["--model", "/m"]),
                vllm,
                api_server,
            ),
            (
                json!(["python3"]),
                json!(["-m", "vllm.entrypoints.openai.api_server", "--model", "/m"]),
                vllm,
                "python3 -m vllm.entrypoints.openai.api_server",
            ),
            (
                json!([
                    "/usr/bin/python3.12",
                    "-u",
                    "-m",
                    "vllm.entrypoints.api_server"
                ]),
                json!([]),
                vllm,
                "python3.12 -u -m vllm.entrypoints.api_server",
            ),
            // Shell wrappers.
            (
                json!([
                    "/bin/sh",
                    "-c",
                    "exec python -m vllm.entrypoints.openai.api_server --model /models/llama --tensor-parallel-size 2"
                ]),
                json!([]),
                vllm,
                api_server,
            ),
            (
                json!(["bash", "-lc"]),
                json!(["pip list && python -m vllm.entrypoints.openai.api_server --port=8000"]),
                vllm,
                api_server,
            ),
            (
                json!([
                    "sh",
                    "-c",
                    "set -e; huggingface-cli download m; vllm serve m"
                ]),
                json!([]),
                vllm,
                "vllm serve",
            ),
            (
                json!(["sh", "-c", "\"vllm serve\" m"]),
                json!([]),
                vllm,
                "vllm serve",
            ),
            // Other runtimes.
            (
                json!(["python3", "-m", "sglang.launch_server"]),
                json!(["--model-path", "/m", "--port", "30000"]),
                "SGLang",
                "python3 -m sglang.launch_server",
            ),
            (
                json!(["text-generation-launcher"]),
                json!(["--model-id", "/m"]),
                "Hugging Face Text Generation Inference",
                "text-generation-launcher",
            ),
            (
                json!(["tritonserver", "--model-repository=/models"]),
                json!([]),
                "NVIDIA Triton Inference Server",
                "tritonserver",
            ),
            (
                json!(["/opt/tritonserver/bin/tritonserver"]),
                json!(["--model-repository", "/models"]),
                "NVIDIA Triton Inference Server",
                "tritonserver",
            ),
            (
                json!(["torchserve", "--start"]),
                json!(["--model-store", "/m"]),
                "TorchServe",
                "torchserve --start",
            ),
            (
                json!(["torchserve"]),
                json!(["--model-store", "/m", "--start", "--ncs"]),
                "TorchServe",
                "torchserve --model-store /m --start",
            ),
            (
                json!(["/bin/ollama"]),
                json!(["serve"]),
                "Ollama",
                "ollama serve",
            ),
            (
                json!(["/app/llama-server"]),
                json!(["-m", "/models/q4.gguf", "--port", "8080"]),
                "llama.cpp server",
                "llama-server",
            ),
            (
                json!(["tensorflow_model_server", "--model_base_path=/models/m"]),
                json!([]),
                "TensorFlow Serving",
                "tensorflow_model_server",
            ),
        ];
        let detector = Detector::default();
        for (cmd, args, runtime, matched) in cases {
            let w = renamed(cmd.clone(), args.clone());
            assert_eq!(
                reasons(&detector, &w),
                [command(runtime, matched)],
                "{cmd} {args}"
            );
        }
    }

    #[test]
    fn ordinary_command_lines_are_not_serving_commands() {
        let detector = Detector::default();
        for (cmd, args) in [
            (json!(["pip", "install", "vllm"]), json!([])),
            (json!(["python", "-m", "http.server"]), json!(["8000"])),
            (json!(["python", "-m", "vllm_tools.bench"]), json!([])),
            (
                json!(["python", "/app/serve.py"]),
                json!(["--port", "8000"]),
            ),
            (json!(["myvllm", "serve"]), json!([])),
            (json!(["vllm"]), json!(["--version"])),
            (
                json!(["sh", "-c", "ollama-exporter --listen :9000"]),
                json!([]),
            ),
            (json!(["torchserve"]), json!(["--stop"])),
            (json!(["llama-server-exporter"]), json!([])),
            (json!([]), json!(["serve"])),
        ] {
            let w = renamed(cmd.clone(), args.clone());
            assert_eq!(detector.detect(&w), None, "{cmd} {args}");
        }
        // The environment is not a command line.
        let w = deployment(json!([{"name": "app", "image": "python:3.12",
            "env": [{"name": "CMD", "value": "vllm serve m"}]}]));
        assert_eq!(detector.detect(&w), None);
    }

    #[test]
    fn a_container_using_a_resource_claim_requests_devices() {
        let detector = Detector::default();
        let pod = |claims: Value, containers: Value| {
            WorkloadFacts::from_json(
                WorkloadKind::Pod,
                json!({"metadata": {"name": "p", "namespace": "ns"},
                    "spec": {"resourceClaims": claims, "containers": containers}}),
            )
            .unwrap()
        };
        let claim = |claim: &str, container: &str| Signal::ResourceClaim {
            claim: claim.into(),
            container: container.into(),
        };
        let cases = [
            (
                json!([{"name": "gpu", "resourceClaimTemplateName": "single-gpu"}]),
                json!([{"name": "app", "image": "busybox", "resources": {"claims": [{"name": "gpu"}]}}]),
                vec![claim("gpu (ResourceClaimTemplate single-gpu)", "app")],
            ),
            (
                json!([{"name": "shared", "resourceClaimName": "team-gpus"}]),
                json!([
                    {"name": "a", "image": "busybox", "resources": {"claims": [{"name": "shared", "request": "gpu"}]}},
                    {"name": "b", "image": "busybox"}
                ]),
                vec![claim("shared (ResourceClaim team-gpus)", "a")],
            ),
            // A claim no container uses gives no container a device.
            (
                json!([{"name": "gpu", "resourceClaimTemplateName": "single-gpu"}]),
                json!([{"name": "app", "image": "busybox"}]),
                vec![],
            ),
        ];
        for (claims, containers, want) in cases {
            let w = pod(claims.clone(), containers.clone());
            assert_eq!(reasons(&detector, &w), want, "{claims} {containers}");
        }
        // In a pod template too.
        let mut d = deployment(json!([]));
        d.containers = pod(
            json!([{"name": "gpu", "resourceClaimTemplateName": "t"}]),
            json!([{"name": "m", "image": "busybox", "resources": {"claims": [{"name": "gpu"}]}}]),
        )
        .containers;
        assert_eq!(
            reasons(&detector, &d),
            [claim("gpu (ResourceClaimTemplate t)", "m")]
        );
        // The rule is data: off, a claim is no signal.
        let rules = DetectionRules::from_yaml("servingKinds: true\n").unwrap();
        assert!(!rules.resource_claims);
        assert_eq!(Detector::new(&rules).unwrap().detect(&d), None);
    }

    /// An AISystem in `namespace` declaring `models` (JSON `spec.models`).
    fn system(namespace: &str, name: &str, models: Value) -> AISystem {
        serde_json::from_value(json!({
            "apiVersion": "aims.dev/v1alpha1", "kind": "AISystem",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"purpose": "p", "riskTier": "High", "owner": {"name": "o"}, "models": models}
        }))
        .unwrap()
    }

    #[test]
    fn a_workload_running_a_declared_artifact_names_the_system() {
        let digest = format!("sha256:{}", "c".repeat(64));
        let declared = format!("registry.example.com/credit/scorer@{digest}");
        let credit = system(
            "ns",
            "credit-scoring",
            json!([{"name": "scorer", "artifact": {"image": declared}},
                   {"name": "llm", "artifact": {"uri": "s3://models/credit/v3", "sha256": "d".repeat(64)}}]),
        );
        let other = system(
            "research",
            "chat",
            json!([{"name": "m", "artifact": {"uri": "hf://org/chat"}}]),
        );
        let systems = [&credit, &other];
        let declared_by = |system: &str, artifact: &str| Signal::DeclaredArtifact {
            system: system.into(),
            artifact: artifact.into(),
        };
        let detector = Detector::default();
        let cases = [
            // The very image, or the same digest under another name.
            (
                image(&declared),
                vec![declared_by("credit-scoring", &declared)],
            ),
            (
                image(&format!("mirror.example.com/copy/renamed:v1@{digest}")),
                vec![declared_by("credit-scoring", &declared)],
            ),
            // A declared model URI, loaded from the environment or the arguments.
            (
                deployment(
                    json!([{"name": "m", "image": "busybox", "env": [{"name": "STORAGE_URI", "value": "s3://models/credit/v3"}]}]),
                ),
                vec![
                    model("s3://models/credit/v3"),
                    declared_by("credit-scoring", "s3://models/credit/v3"),
                ],
            ),
            (
                deployment(
                    json!([{"name": "m", "image": "busybox", "args": ["--model=s3://models/credit/v3"]}]),
                ),
                vec![declared_by("credit-scoring", "s3://models/credit/v3")],
            ),
            // Another namespace's system is named with its namespace.
            (
                deployment(
                    json!([{"name": "m", "image": "busybox", "args": ["--model", "hf://org/chat"]}]),
                ),
                vec![
                    model("hf://org/chat"),
                    declared_by("research/chat", "hf://org/chat"),
                ],
            ),
            // Near misses: the repository without the digest, another digest, another URI.
            (image("registry.example.com/credit/scorer:v3"), vec![]),
            (
                image(&format!(
                    "registry.example.com/credit/scorer@sha256:{}",
                    "e".repeat(64)
                )),
                vec![],
            ),
            (
                deployment(
                    json!([{"name": "m", "image": "busybox", "args": ["s3://models/credit/v3-beta"]}]),
                ),
                vec![],
            ),
        ];
        for (w, want) in cases {
            assert_eq!(
                detector
                    .detect_among(&w, &systems)
                    .map(|d| d.reasons)
                    .unwrap_or_default(),
                want,
                "{:?}",
                w.containers
            );
        }
        // Without the records, the copy is not detected.
        assert_eq!(detector.detect(&image(&declared)), None);
    }

    #[test]
    fn new_reasons_read_as_sentences() {
        let cases = [
            (
                command("vLLM", "python -m vllm.entrypoints.openai.api_server"),
                "runs vLLM (command `python -m vllm.entrypoints.openai.api_server` in container server)",
            ),
            (
                Signal::ResourceClaim {
                    claim: "gpu (ResourceClaimTemplate single-gpu)".into(),
                    container: "app".into(),
                },
                "requests devices through resource claim gpu (ResourceClaimTemplate single-gpu) in container app",
            ),
            (
                Signal::DeclaredArtifact {
                    system: "credit-scoring".into(),
                    artifact: "r.io/s@sha256:x".into(),
                },
                "runs r.io/s@sha256:x, which AISystem credit-scoring declares in spec.models",
            ),
        ];
        for (reason, want) in cases {
            assert_eq!(reason.to_string(), want);
        }
    }

    #[test]
    fn uris_are_cut_out_of_their_text() {
        let schemes = ["hf".to_owned(), "ollama".to_owned()];
        for (text, want) in [
            ("hf://org/m", &["hf://org/m"][..]),
            ("--model=hf://org/m --port 8000", &["hf://org/m"]),
            (
                "[\"hf://org/a\", 'ollama://llama3']",
                &["hf://org/a", "ollama://llama3"],
            ),
            ("hf://org/a/hf://org/b", &["hf://org/a/hf://org/b"]),
            ("éhf://org/m", &["hf://org/m"]),
            ("日本hf://org/m", &["hf://org/m"]),
            ("x.hf://org/m", &[]),
            ("s3://bucket/hf", &[]),
            ("://hf", &[]),
            ("hf:", &[]),
            ("hf:/", &[]),
            ("hf://", &[]),
            ("hf:// org", &[]),
            (":::::", &[]),
            ("", &[]),
        ] {
            let mut found = Vec::new();
            for_each_uri(&schemes, text, |uri| found.push(uri));
            assert_eq!(found, want, "{text:?}");
        }
    }

    #[test]
    fn zero_quantities_are_recognised() {
        for (quantity, zero) in [
            ("0", true),
            ("00", true),
            ("0.0", true),
            ("+0", true),
            ("0m", true),
            (" 0 ", true),
            ("1", false),
            ("10", false),
            ("0.5", false),
            ("500m", false),
            ("", false),
            ("x", false),
            ("-", false),
        ] {
            assert_eq!(is_zero_quantity(quantity), zero, "{quantity:?}");
        }
    }

    #[test]
    fn the_detector_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync + Clone>() {}
        shareable::<Detector>();
    }

    proptest! {
        #[test]
        fn detection_never_panics(
            reference in "\\PC{0,60}",
            resource in "[a-z./*-]{0,30}",
            quantity in "\\PC{0,6}",
            arg in "(hf://|\\PC){0,40}",
            uri in "\\PC{0,30}",
        ) {
            let mut w = image("busybox");
            w.containers[0].image = ImageRef::parse(&reference);
            w.containers[0].extended_resources.insert(resource.clone(), quantity);
            w.containers[0].args_and_env.push(arg);
            w.model_uris.push(uri);
            if let Some(d) = Detector::default().detect(&w) {
                prop_assert!(!d.reasons.is_empty());
            }
            let _ = DetectionRules::from_yaml(&format!("acceleratorResources: ['{resource}']"));
        }

        #[test]
        fn reading_rules_never_panics(yaml in "\\PC{0,200}") {
            let _ = DetectionRules::from_yaml(&yaml);
        }
    }

    #[test]
    fn a_serving_project_in_the_image_path_names_its_runtime() {
        let detector = Detector::default();
        let triton = "NVIDIA Triton Inference Server";
        for (reference, runtime) in [
            (
                "registry.example.com/tensorflow-serving/resnet:2",
                Some("TensorFlow Serving"),
            ),
            (
                "registry.example.com/ml/tensorflow-serving/resnet/v2:1",
                Some("TensorFlow Serving"),
            ),
            ("registry.example.com/tritonserver/ensemble:3", Some(triton)),
            (
                "registry.example.com/torchserve/bert:1.0",
                Some("TorchServe"),
            ),
            // Whole segments only, and a project is followed by an image of it.
            ("registry.example.com/my-tensorflow-serving/resnet:2", None),
            ("registry.example.com/tensorflow-serving-tools/lint:1", None),
            ("registry.example.com/torchserve-docs/site:1", None),
            ("registry.example.com/team/resnet:2", None),
        ] {
            let want: Vec<Signal> = runtime.map(|r| serving(r, reference)).into_iter().collect();
            assert_eq!(reasons(&detector, &image(reference)), want, "{reference}");
        }
    }

    #[test]
    fn client_and_sdk_images_of_a_runtime_are_not_servers() {
        let detector = Detector::default();
        let triton = "NVIDIA Triton Inference Server";
        // Triton's SDK image benchmarking a server from a Pod, as NVIDIA's guides run it.
        let sdk = "nvcr.io/nvidia/tritonserver:25.06-py3-sdk";
        let benchmark = deployment(json!([{"name": "perf", "image": sdk,
            "command": ["perf_analyzer", "-m", "resnet50", "-u", "triton:8001", "-i", "grpc"]}]));
        assert_eq!(detector.detect(&benchmark), None);
        // The server image of the same release is a server.
        let server = "nvcr.io/nvidia/tritonserver:25.06-py3";
        assert_eq!(
            reasons(&detector, &image(server)),
            [serving(triton, server)]
        );
        // The SDK image running the server is one, by its command line.
        let serving_sdk = deployment(json!([{"name": "server", "image": sdk,
            "command": ["tritonserver", "--model-repository=/models"]}]));
        assert_eq!(
            reasons(&detector, &serving_sdk),
            [command(triton, "tritonserver")]
        );
        // A client tag of one runtime does not hide another runtime's image.
        let rules = DetectionRules::from_yaml(
            "servingRuntimes:\n  - name: A\n    images: ['acme/llm']\n    clientTags: ['.*-client']\n  - name: B\n    images: ['acme/llm']\n",
        )
        .unwrap();
        let both = Detector::new(&rules).unwrap();
        assert_eq!(
            reasons(&both, &image("acme/llm:1-client")),
            [serving("B", "acme/llm:1-client")]
        );
        // The whole tag must match.
        assert_eq!(
            reasons(&both, &image("acme/llm:1-client-fix")).len(),
            2,
            "a tag that only contains the pattern is no client tag"
        );
    }
}
