//! The shape of the source, checked: the top-level modules depend on each other without a cycle,
//! in the order `src/lib.rs` documents (each uses only those listed above it), and no source file
//! holds more than `MAX_LINES` lines of non-test code. The graph is read from the source itself:
//! every `crate::…` path outside comments, `use` groups included.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Most lines of non-test code in one source file.
const MAX_LINES: usize = 800;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The source without its comments (line comments, doc comments included): a doc link to another
/// module is not a dependency on it.
fn without_comments(source: &str) -> String {
    source
        .lines()
        .map(|line| match line.find("//") {
            // A `//` inside a string (a URL) is kept: only `"…"`-free prefixes count as code.
            Some(at) if line[..at].matches('"').count() % 2 == 0 => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module path of a source file from the crate root (`src/engine/admission/workload.rs` →
/// `engine::admission::workload`; a `mod.rs` is its directory's module; `lib.rs` the root).
fn module_path(file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src()).unwrap();
    let mut path: Vec<String> = relative
        .iter()
        .map(|c| c.to_str().unwrap().trim_end_matches(".rs").to_owned())
        .collect();
    if path
        .last()
        .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
    {
        path.pop();
    }
    path
}

/// The length of the identifier at the start of `s`.
fn ident_len(s: &str) -> usize {
    s.find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len())
}

/// The paths a path expression at the start of `s` names, `use` groups expanded:
/// `a::{b, c::d}` → `a::b`, `a::c::d`. `self` and `*` end a path.
fn expand(s: &str) -> Vec<Vec<String>> {
    let s = s.trim_start();
    if let Some(body) = s.strip_prefix('{') {
        let mut depth = 1;
        let mut items = Vec::new();
        let mut start = 0;
        for (i, c) in body.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        items.push(&body[start..i]);
                        break;
                    }
                }
                ',' if depth == 1 => {
                    items.push(&body[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        return items.into_iter().flat_map(expand).collect();
    }
    let n = ident_len(s);
    let head = &s[..n];
    if n == 0 || head == "self" {
        return vec![Vec::new()];
    }
    match s[n..].strip_prefix("::") {
        Some(rest) => expand(rest)
            .into_iter()
            .map(|mut p| {
                p.insert(0, head.to_owned());
                p
            })
            .collect(),
        None => vec![vec![head.to_owned()]],
    }
}

/// Every module path `code` (of the module `module`) names through `crate::` or `super::`,
/// resolved from the crate root.
fn references(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < code.len() {
        let rest = &code[at..];
        let preceded_by_ident = code[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        let base: Option<(Vec<String>, usize)> = if preceded_by_ident {
            None
        } else if rest.starts_with("crate::") {
            Some((Vec::new(), "crate::".len()))
        } else if rest.starts_with("super::") {
            let mut ups = 0;
            let mut len = 0;
            while rest[len..].starts_with("super::") {
                ups += 1;
                len += "super::".len();
            }
            (ups <= module.len()).then(|| (module[..module.len() - ups].to_vec(), len))
        } else {
            None
        };
        match base {
            Some((base, len)) => {
                for path in expand(&rest[len..]) {
                    out.push(base.iter().cloned().chain(path).collect());
                }
                at += len;
            }
            None => at += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    out
}

/// The top-level modules `code` (of a top-level module) names through `crate::`.
fn crate_references(code: &str) -> BTreeSet<String> {
    references(code, &["somewhere".to_owned()])
        .into_iter()
        .filter_map(|p| p.into_iter().next())
        .filter(|head| head != "somewhere")
        .collect()
}

/// Top-level modules compiled for tests alone (`#[cfg(any(test, feature = "testing"))]`): only
/// test code uses them, so using one is no edge of the program's graph.
const TEST_ONLY: &[&str] = &["testing"];

/// The modules declared in `file` (`mod x;` and `pub mod x;`), in order.
fn declared_in(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter_map(|l| {
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("mod "))
        })
        .filter_map(|l| l.strip_suffix(';'))
        .map(str::to_owned)
        .collect()
}

/// Which submodule of `parent` (a module path) uses which: `graph[a]` holds every sibling `b`
/// that a file of `a` names.
fn graph_within(parent: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let dir = parent.iter().fold(src(), |d, p| d.join(p));
    let index = if parent.is_empty() {
        src().join("lib.rs")
    } else {
        dir.join("mod.rs")
    };
    let siblings: BTreeSet<String> = declared_in(&index).into_iter().collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in sources(&dir) {
        let module = module_path(&file);
        if module.len() <= parent.len() {
            continue;
        }
        let own = module[parent.len()].clone();
        let code = without_comments(&std::fs::read_to_string(&file).unwrap());
        let used = graph.entry(own.clone()).or_default();
        for path in references(&code, &module) {
            if path.len() <= parent.len() || path.iter().zip(parent).any(|(a, b)| a != b) {
                continue;
            }
            let target = &path[parent.len()];
            if *target != own && siblings.contains(target) && !TEST_ONLY.contains(&target.as_str())
            {
                used.insert(target.clone());
            }
        }
    }
    graph
}

/// The top-level modules, in the order `src/lib.rs` declares them with `pub mod`.
fn declared_modules() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_owned())
        .collect()
}

/// The top-level modules in the order of the list in `src/lib.rs`'s documentation.
fn documented_order() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| l.strip_prefix("//! * [`"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect()
}

/// Which top-level module uses which: `graph[a]` holds every `b` that a file of `a` names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    graph_within(&[])
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_reader_sees_every_kind_of_crate_path() {
    let code = "use crate::{\n    api::{A, B},\n    cluster::Stores,\n    engine,\n};\n\
                let x = crate::runtime::run(); // crate::cli in a comment\n\
                type T = aims_crate::nothing;";
    assert_eq!(
        crate_references(&without_comments(code)),
        ["api", "cluster", "engine", "runtime"]
            .map(String::from)
            .into()
    );
    // Relative paths resolve against the file's module, groups nested.
    let module = ["engine", "admission", "workload"].map(String::from);
    let code = "use super::Requester;\nuse super::super::evaluate::{self, Verdict};\n\
                use crate::engine::{detect, workload::*};";
    let named: BTreeSet<String> = references(code, &module)
        .into_iter()
        .map(|p| p.join("::"))
        .collect();
    assert_eq!(
        named,
        [
            "engine::admission::Requester",
            "engine::evaluate",
            "engine::evaluate::Verdict",
            "engine::detect",
            "engine::workload",
        ]
        .map(String::from)
        .into()
    );
}

#[test]
fn a_cycle_is_found_and_named() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    let acyclic: BTreeMap<String, BTreeSet<String>> = [("a", vec!["b"]), ("b", vec![])]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into_iter().map(String::from).collect()))
        .collect();
    assert_eq!(cycle(&acyclic), None);
}

#[test]
fn the_top_level_modules_use_each_other_without_a_cycle() {
    let graph = graph();
    assert!(graph.len() > 5, "too few modules read: {graph:?}");
    if let Some(cycle) = cycle(&graph) {
        panic!(
            "the top-level modules use each other in a cycle: {}\nthe whole graph: {graph:#?}",
            cycle.join(" → ")
        );
    }
}

#[test]
fn the_engine_modules_use_each_other_without_a_cycle() {
    let graph = graph_within(&["engine"]);
    assert!(graph.len() > 5, "too few modules read: {graph:?}");
    if let Some(cycle) = cycle(&graph) {
        panic!(
            "the engine's modules use each other in a cycle: {}\nthe whole graph: {graph:#?}",
            cycle.join(" → ")
        );
    }
}

#[test]
fn each_module_uses_only_those_listed_above_it_in_lib_rs() {
    let order = documented_order();
    let mut declared = declared_modules();
    declared.sort();
    let mut listed = order.clone();
    listed.sort();
    assert_eq!(
        listed, declared,
        "src/lib.rs lists other modules than it declares"
    );
    let rank = |m: &str| order.iter().position(|o| o == m).unwrap();
    let upward: Vec<String> = graph()
        .iter()
        .flat_map(|(from, to)| to.iter().map(move |to| (from, to)))
        .filter(|(from, to)| rank(to) > rank(from))
        .map(|(from, to)| format!("{from} uses {to}, listed below it"))
        .collect();
    assert!(upward.is_empty(), "{upward:#?}");
}

#[test]
fn no_source_file_holds_more_than_the_limit_of_non_test_code() {
    let long: Vec<String> = sources(&src())
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "tests.rs"))
        .filter_map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            let code = text
                .lines()
                .take_while(|l| !l.starts_with("#[cfg(test)]"))
                .count();
            (code > MAX_LINES)
                .then(|| format!("{}: {code} lines", f.strip_prefix(src()).unwrap().display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "more than {MAX_LINES} lines of non-test code (split it by what it holds): {long:#?}"
    );
}

#[test]
fn the_readme_layout_table_names_every_module_and_only_paths_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let layout = readme
        .split("## Layout")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README.md has a Layout section");
    let paths: Vec<&str> = layout
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" |").next())
        .flat_map(|cell| cell.split(", "))
        .filter_map(|p| p.strip_prefix('`')?.strip_suffix('`'))
        .collect();
    let missing: Vec<&&str> = paths.iter().filter(|p| !root.join(p).exists()).collect();
    assert!(
        missing.is_empty(),
        "the layout table names paths that do not exist: {missing:?}"
    );
    let unlisted: Vec<String> = declared_modules()
        .into_iter()
        .filter(|m| {
            !paths.contains(&format!("src/{m}/").as_str())
                && !paths.contains(&format!("src/{m}.rs").as_str())
        })
        .collect();
    assert!(
        unlisted.is_empty(),
        "the layout table leaves out: {unlisted:?}"
    );
}
