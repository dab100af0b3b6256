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

/// The top-level module a file under `src/` belongs to (`None` for `lib.rs` and `main.rs`).
fn module_of(file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src()).unwrap();
    let first = relative.components().next()?.as_os_str().to_str()?;
    match first {
        "lib.rs" | "main.rs" => None,
        name => Some(name.trim_end_matches(".rs").to_owned()),
    }
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

/// The first path segment of each item of a `use` group's body (`a, b::{c, d}, e::f` → a, b, e).
fn group_heads(body: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut item = String::new();
    for c in body.chars().chain(std::iter::once(',')) {
        match c {
            '{' => {
                depth += 1;
                item.push(c);
            }
            '}' => {
                depth -= 1;
                item.push(c);
            }
            ',' if depth == 0 => {
                let head: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !head.is_empty() {
                    heads.push(head);
                }
                item.clear();
            }
            c => item.push(c),
        }
    }
    heads
}

/// The top-level modules `code` names through `crate::`.
fn crate_references(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let preceded_by_ident = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[at + "crate::".len()..];
        if preceded_by_ident {
            continue; // `aims_crate::` or the like
        }
        if let Some(body) = rest.strip_prefix('{') {
            let mut depth = 1;
            let end = body
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(body.len(), |(i, _)| i);
            out.extend(group_heads(&body[..end]));
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !head.is_empty() {
                out.insert(head);
            }
        }
    }
    out
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
    let modules: BTreeSet<String> = declared_modules().into_iter().collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in sources(&src()) {
        let Some(module) = module_of(&file) else {
            continue;
        };
        let code = without_comments(&std::fs::read_to_string(&file).unwrap());
        let used = graph.entry(module.clone()).or_default();
        for target in crate_references(&code) {
            if target != module && modules.contains(&target) {
                used.insert(target);
            }
        }
    }
    graph
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
