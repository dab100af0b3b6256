//! The rules as data: the schema of a rules file, the embedded default (`catalog/detection.yaml`),
//! and why a rules file is refused.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::Detector;

/// The default rules file, `catalog/detection.yaml`, whose header comment documents the schema.
pub const DEFAULT_RULES_YAML: &str = include_str!("../../../catalog/detection.yaml");

/// What makes a workload look like model serving: the schema of a rules file.
///
/// A rules file is the whole rule set, not an overlay on the defaults: a key it leaves out
/// detects nothing of its kind. Unknown keys are an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DetectionRules {
    /// Whether an object of a kind that serves models by what it is (the governed kinds'
    /// `servesModels`: KServe's, NIM's) is model serving by its kind alone. `kserveKinds` is
    /// read as this key.
    #[serde(default, alias = "kserveKinds")]
    pub serving_kinds: bool,
    /// Known model-serving runtimes and the images they ship as.
    #[serde(default)]
    pub serving_runtimes: Vec<ServingRuntime>,
    /// Extended resources that are accelerators: an exact name (`nvidia.com/gpu`) or a prefix
    /// ending in `*` (`nvidia.com/mig-*`).
    #[serde(default)]
    pub accelerator_resources: Vec<String>,
    /// Whether a model URI the workload declares (KServe `storageUri`, a `STORAGE_URI`
    /// environment variable) is a signal, whatever its scheme.
    #[serde(default)]
    pub declared_model_uris: bool,
    /// URI schemes, each ending in `://` (`hf://`), that are a signal where they appear in a
    /// container's command, arguments or environment values.
    #[serde(default)]
    pub model_uri_schemes_in_args: Vec<String>,
    /// Whether a container that uses a dynamic resource claim (`resources.claims`) is a signal.
    /// The claim's device class is not read (the admission path makes no API calls): a claim is
    /// taken to be an accelerator.
    #[serde(default)]
    pub resource_claims: bool,
}

/// One known model-serving runtime.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServingRuntime {
    /// The runtime's name, as reasons show it (`vLLM`).
    pub name: String,
    /// Regular expressions over the image repository (no tag, no digest). A pattern must match
    /// whole trailing path segments of the repository, so `vllm/vllm-openai` matches
    /// `docker.io/vllm/vllm-openai` and `mirror.corp/hub/vllm/vllm-openai` but not
    /// `myvllm/vllm-openai` or `vllm/vllm-openai-tools`. The anchoring is added: write no `^` or
    /// `$`.
    #[serde(default)]
    pub images: Vec<String>,
    /// Regular expressions over a container's command line: its command and arguments joined by
    /// single spaces. A pattern must match whole words: it starts at the line's start, after
    /// whitespace, a path's `/` or a shell's `;&|(`, `=` or a quote, and ends at the line's end,
    /// whitespace, `;&|)` or a quote, so `vllm\s+serve` matches `/usr/bin/vllm serve` and
    /// `sh -c "exec vllm serve m"` but not `myvllm serve`. The anchoring is added.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Regular expressions over whole path segments of the repository that name a registry
    /// project whose images are the runtime serving a model (`tensorflow-serving` matches
    /// `registry.example.com/tensorflow-serving/resnet`): a pattern must match whole segments
    /// followed by at least one more. The anchoring is added.
    #[serde(default)]
    pub projects: Vec<String>,
    /// Regular expressions over the whole tag that mark the runtime's client or SDK images, which
    /// are not servers (Triton's `25.06-py3-sdk`): such an image is no signal by its name (a
    /// server's command line in it still is). The anchoring is added.
    #[serde(default)]
    pub client_tags: Vec<String>,
}

pub(super) static DEFAULT_RULES: LazyLock<DetectionRules> = LazyLock::new(|| {
    serde_saphyr::from_str(DEFAULT_RULES_YAML)
        .expect("the embedded catalog/detection.yaml is valid (tested)")
});

impl Default for DetectionRules {
    /// The rules of the embedded `catalog/detection.yaml`.
    fn default() -> Self {
        DEFAULT_RULES.clone()
    }
}

impl DetectionRules {
    /// Reads and checks rules from YAML of the schema in [`DEFAULT_RULES_YAML`]. The error names
    /// the rule at fault, for example `servingRuntimes[3] (vLLM)` and its bad pattern.
    ///
    /// A file that enables no signal at all (an empty file, `{}`) is an error: it is more likely
    /// a mistake, such as a missing ConfigMap key, than a wish to detect nothing.
    pub fn from_yaml(yaml: &str) -> Result<Self, RulesError> {
        let rules: Self =
            serde_saphyr::from_str(yaml).map_err(|source| RulesError::Yaml { source })?;
        if rules.is_empty() {
            return Err(RulesError::Empty);
        }
        rules.validate()?;
        Ok(rules)
    }

    /// Whether the rules enable no signal, so that they detect nothing.
    pub fn is_empty(&self) -> bool {
        !self.serving_kinds
            && !self.declared_model_uris
            && self.serving_runtimes.is_empty()
            && self.accelerator_resources.is_empty()
            && self.model_uri_schemes_in_args.is_empty()
            && !self.resource_claims
    }

    /// Checks that every rule is well formed (names, patterns, schemes), as [`Detector::new`]
    /// would.
    pub fn validate(&self) -> Result<(), RulesError> {
        Detector::new(self).map(drop)
    }
}

/// Why detection rules are unusable. An error about one rule names it, by key and position.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The text is not YAML of the rules' shape (including an unknown key).
    #[error("detection rules are not valid YAML of the expected shape: {source}")]
    Yaml {
        /// What the YAML reader reported.
        source: serde_saphyr::Error,
    },
    /// The rules enable no signal at all.
    #[error("detection rules enable no signal: they would detect nothing")]
    Empty,
    /// A serving runtime is incomplete.
    #[error("servingRuntimes[{index}] ({name:?}): {message}")]
    Runtime {
        /// Its position in `servingRuntimes`.
        index: usize,
        /// Its name as written.
        name: String,
        /// What is wrong.
        message: &'static str,
    },
    /// A command pattern of a serving runtime is not a usable regular expression.
    #[error("servingRuntimes[{index}] ({runtime}): command pattern {pattern:?}: {message}")]
    CommandPattern {
        /// The runtime's position in `servingRuntimes`.
        index: usize,
        /// The runtime's name.
        runtime: String,
        /// The pattern as written.
        pattern: String,
        /// What is wrong.
        message: String,
    },
    /// An image pattern of a serving runtime is not a usable regular expression.
    #[error("servingRuntimes[{index}] ({runtime}): image pattern {pattern:?}: {message}")]
    ImagePattern {
        /// The runtime's position in `servingRuntimes`.
        index: usize,
        /// The runtime's name.
        runtime: String,
        /// The pattern as written.
        pattern: String,
        /// What is wrong.
        message: String,
    },
    /// A project or client-tag pattern of a serving runtime is not a usable regular expression.
    #[error("servingRuntimes[{index}] ({runtime}): {field} pattern {pattern:?}: {message}")]
    Pattern {
        /// The runtime's position in `servingRuntimes`.
        index: usize,
        /// The runtime's name.
        runtime: String,
        /// Which patterns: `project` or `client tag`.
        field: &'static str,
        /// The pattern as written.
        pattern: String,
        /// What is wrong.
        message: String,
    },
    /// The image patterns are each valid but together exceed the size limit of a compiled set.
    #[error("servingRuntimes: the image patterns together are too large to compile: {message}")]
    ImagePatterns {
        /// What the regex compiler reported.
        message: String,
    },
    /// An accelerator resource name or prefix is malformed.
    #[error("acceleratorResources[{index}] ({pattern:?}): {message}")]
    AcceleratorResource {
        /// Its position in `acceleratorResources`.
        index: usize,
        /// The entry as written.
        pattern: String,
        /// What is wrong.
        message: &'static str,
    },
    /// A URI scheme is malformed.
    #[error("modelUriSchemesInArgs[{index}] ({scheme:?}): {message}")]
    UriScheme {
        /// Its position in `modelUriSchemesInArgs`.
        index: usize,
        /// The entry as written.
        scheme: String,
        /// What is wrong.
        message: &'static str,
    },
}
