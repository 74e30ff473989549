//! The module structure ARCHITECTURE.md describes, checked on the source:
//! the top-level modules of `src/` depend on each other without a cycle,
//! the trainer imports no task, and no code outside `src/tasks/` names a
//! task (adding one touches its module and the registry only).
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The source of a file without its unit tests (`tests.rs` files and
/// `#[cfg(test)]` modules), which may reach across layers to set things up.
fn non_test_source(path: &Path) -> String {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "#[cfg(test)]" {
            // Skip the item that follows: a `mod x;` line or a braced block.
            let Some(next) = lines.next() else { break };
            if next.trim_end().ends_with('{') {
                let mut depth = 1i32;
                for l in lines.by_ref() {
                    depth += l.matches('{').count() as i32 - l.matches('}').count() as i32;
                    if depth <= 0 {
                        break;
                    }
                }
            }
            continue;
        }
        // Comments may name anything.
        let code = line.split("//").next().unwrap_or_default();
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// The top-level module a file of `src/` belongs to (`src/tasks/tag.rs` → `tasks`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_string_lossy().into_owned();
    let name = first.trim_end_matches(".rs").to_string();
    (name != "main" && name != "lib").then_some(name)
}

/// Top-level module → the other top-level modules its code refers to (`crate::x`).
fn dependencies(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = rust_files(src).iter().filter_map(|f| module_of(src, f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = modules.iter().map(|m| (m.clone(), BTreeSet::new())).collect();
    for file in rust_files(src) {
        let Some(module) = module_of(src, &file) else { continue };
        let code = non_test_source(&file);
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let deps = graph.get_mut(&module).unwrap();
            if modules.contains(&name) && name != module {
                deps.insert(name);
            } else if name.is_empty() && rest.starts_with('{') {
                // `use crate::{a, b::c}`: every first segment in the braces.
                let inner = &rest[1..rest.find('}').unwrap_or(rest.len())];
                for part in inner.split(',') {
                    let first = part.trim().split("::").next().unwrap_or_default().to_string();
                    if modules.contains(&first) && first != module {
                        deps.insert(first);
                    }
                }
            }
        }
    }
    graph
}

/// A cycle in `graph`, if there is one, as the modules along it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in &graph[node] {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|m| visit(m, graph, &mut Vec::new(), &mut done))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn top_level_modules_form_no_cycle() {
    let graph = dependencies(&src());
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle: {}\n(graph: {graph:#?})", cycle.join(" → "));
    }
    // The layers ARCHITECTURE.md draws, spot-checked.
    assert!(!graph["train"].contains("tasks"), "the trainer must know no task: {:?}", graph["train"]);
    for low in ["spec", "train", "tasks"] {
        assert!(!graph["model"].contains(low), "model is the lowest layer, yet imports {low}: {:?}", graph["model"]);
    }
    assert!(graph["tasks"].contains("train"), "tasks implement the trainer's Objective");
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.insert("a".into(), ["b".to_string()].into());
    g.insert("b".into(), ["c".to_string()].into());
    g.insert("c".into(), BTreeSet::new());
    assert_eq!(find_cycle(&g), None);
    g.get_mut("c").unwrap().insert("a".into());
    assert_eq!(find_cycle(&g), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
}

#[test]
fn no_code_outside_tasks_names_a_task() {
    // The task types, and comparisons of a spec's task name.
    let forbidden = ["CharLm", "Classify", "Seq2seqTask", "tag::Tag", "FirstToken", ".task ==", ".task !=", "Task::"];
    let src = src();
    let mut found = Vec::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        // The benchmark trains one fixed workload per task, as the PyTorch
        // reference scripts do; it names their tasks to build their specs.
        if rel.starts_with("tasks") || rel == "bench.rs" {
            continue;
        }
        let code = non_test_source(&file);
        for word in forbidden {
            // As a whole word: `BenchTask::` is not `Task::`.
            let whole = code.match_indices(word).any(|(i, _)| {
                !word.starts_with(char::is_alphabetic)
                    || !code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
            });
            if whole {
                found.push(format!("{rel}: {word}"));
            }
        }
    }
    assert!(found.is_empty(), "task names outside src/tasks/: {found:#?}");
}
