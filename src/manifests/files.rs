//! Reading files, directories and standard input, in the order given.

use std::{
    collections::HashSet,
    fs,
    io::{self, Read},
    path::{Path, PathBuf},
};

use super::*;

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
    pub(super) fn add(&mut self, (mut documents, mut errors): (Vec<Document>, Vec<LoadError>)) {
        self.documents.append(&mut documents);
        self.errors.append(&mut errors);
    }
}

pub(super) fn read_file(path: &Path, sink: &mut Sink) {
    let name = path.display().to_string();
    match fs::read_to_string(path) {
        Ok(text) => sink.add(parse_text(&name, &text)),
        Err(source) => sink.errors.push(LoadError::Io { path: name, source }),
    }
}

pub(super) fn is_manifest_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["yaml", "yml", "json"].contains(&e.to_ascii_lowercase().as_str()))
}

/// Collects the manifest files under `dir`, sorted, following symbolic links but not loops.
pub(super) fn manifest_files(
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
