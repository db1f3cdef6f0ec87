//! Every relative link in the repository's Markdown files resolves: the file or folder exists,
//! and a `#fragment` into a Markdown file names one of its headings (GitHub's anchors). Every
//! repository path written as code (`` `crates/api/src/startup.rs` ``) names a file or folder
//! that exists, so a map such as ARCHITECTURE.md cannot point at a file that moved. And every
//! documentation page that source code, comments or error messages name (`docs/api.md`) exists.
//!
//! Offline and fast, so `cargo make lint` runs it (`cargo test -p e2e --test doc_links`).
//! Links with a scheme (`https:`, `mailto:`) are not followed: whether a web page still exists is
//! not this repository's to check. Code blocks and code spans are not links.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Folders never searched for Markdown: build output, installed packages, hidden folders.
const SKIPPED_DIRS: [&str; 2] = ["target", "node_modules"];

/// The top-level folders whose paths, written as code, must exist (`target/` and installed
/// packages are made by builds, so they are not checked).
const CHECKED_ROOTS: [&str; 8] = [
    "crates/",
    "tests/",
    "bench/",
    "docs/",
    "deploy/",
    "frontend/",
    ".ci/",
    ".config/",
];

/// The workspace root (`tests/` sits in it).
fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
}

/// Every Markdown file under the workspace root.
fn all_markdown_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    markdown_files(workspace_root(), &mut files);
    files
}

/// What `find` reports in each of `files`, as `file:line: what`, the file shown relative to
/// the workspace root.
fn problems_in(
    files: &[PathBuf],
    mut find: impl FnMut(&Path) -> Vec<(usize, String)>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for file in files {
        let shown = file.strip_prefix(workspace_root()).unwrap_or(file);
        for (line, what) in find(file) {
            problems.push(format!("{}:{line}: {what}", shown.display()));
        }
    }
    problems
}

/// Asserts that there are no `problems`; else lists them under `heading`.
fn assert_none(problems: &[String], heading: &str) {
    assert!(problems.is_empty(), "{heading}:\n{}", problems.join("\n"));
}

fn read_markdown(file: &Path) -> String {
    std::fs::read_to_string(file).expect("a Markdown file is UTF-8")
}

#[test]
fn every_relative_link_in_the_markdown_files_resolves() {
    let files = all_markdown_files();
    assert!(
        files.iter().any(|f| f.ends_with("README.md")),
        "no README.md found under {}",
        workspace_root().display()
    );
    let mut headings = HashMap::new();
    let broken = problems_in(&files, |file| {
        let found = links(&read_markdown(file)).into_iter();
        found
            .filter_map(|(line, target)| {
                let why = check(file, &target, &mut headings).err()?;
                Some((line, format!("({target}) {why}")))
            })
            .collect()
    });
    assert_none(&broken, "broken relative links");
}

#[test]
fn every_repository_path_written_as_code_in_the_markdown_files_exists() {
    let root = workspace_root();
    let missing = problems_in(&all_markdown_files(), |file| {
        let found = code_paths(&read_markdown(file)).into_iter();
        found
            .filter(|(_, path)| !root.join(path).exists())
            .map(|(line, path)| (line, format!("`{path}`")))
            .collect()
    });
    assert_none(&missing, "paths that do not exist");
}

#[test]
fn every_documentation_page_the_sources_name_exists() {
    let root = workspace_root();
    let mut sources = Vec::new();
    files_with(root, &["rs", "toml", "js", "sh", "lua"], &mut sources);
    sources.push(root.join(".ci/run"));
    // This file's own examples name pages that need not exist.
    let this_file = root.join(file!());
    sources.retain(|f| *f != this_file);
    let missing = problems_in(&sources, |file| {
        let Ok(text) = std::fs::read_to_string(file) else {
            return Vec::new();
        };
        let found = page_references(&text).into_iter();
        found
            .filter(|(_, page)| !root.join(page).is_file())
            .collect()
    });
    assert_none(
        &missing,
        "documentation pages named in the sources that do not exist",
    );
}

#[test]
fn page_references_are_docs_pages_and_readmes_by_path() {
    let text = "// see docs/api.md, (docs/dev-issuer.md) and bench/README.md.\n\
                // not: docs/, mydocs/x.md, README.md alone\n";
    let found: Vec<_> = page_references(text).into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        found,
        ["docs/api.md", "docs/dev-issuer.md", "bench/README.md"]
    );
}

#[test]
fn code_paths_are_single_repository_paths_outside_build_output() {
    let text = "`crates/api/src/startup.rs` and `crates/auth/src/jws/` and `cargo run -p api`\n\
                `frontend/node_modules/x` `target/bench` `crates/*/tests` `tests/src/stack.rs:12`\n\
                ```\ncrates/in/a/block.rs\n```\n";
    let found: Vec<_> = code_paths(text).into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        found,
        [
            "crates/api/src/startup.rs",
            "crates/auth/src/jws/",
            "tests/src/stack.rs"
        ]
    );
}

#[test]
fn links_are_found_in_text_and_reference_definitions_but_not_in_code() {
    let text = "See [a](docs/a.md) and ![b](b.png \"title\").\n\
                `[not](code.md)` and [c](<c d.md>)\n\
                ```\n[no](fenced.md)\n```\n\
                [ref]: ref.md\n";
    let found: Vec<_> = links(text).into_iter().map(|(_, t)| t).collect();
    assert_eq!(found, ["docs/a.md", "b.png", "c d.md", "ref.md"]);
}

#[test]
fn heading_anchors_follow_github() {
    let text = "# Top\n## `auth_config.json`\n## Several issuers and audiences\n\
                ```\n# not a heading\n```\n## Top\n";
    assert_eq!(
        anchors(text),
        [
            "top",
            "auth_configjson",
            "several-issuers-and-audiences",
            "top-1"
        ]
    );
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    files_with(dir, &["md"], out);
}

/// The files under `dir` whose extension is one of `extensions`, outside skipped folders.
fn files_with(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("a readable folder")
        .map(|e| e.expect("a readable folder entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name) {
                files_with(&path, extensions, out);
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.contains(&e))
        {
            out.push(path);
        }
    }
}

/// Checks one link target found in `file`.
fn check(
    file: &Path,
    target: &str,
    headings: &mut HashMap<PathBuf, Vec<String>>,
) -> Result<(), String> {
    if target.contains(':') && !target.starts_with('#') {
        // A scheme (`https:`, `mailto:`): not a file of this repository.
        return Ok(());
    }
    let (path, fragment) = match target.split_once('#') {
        Some((path, fragment)) => (path, Some(fragment)),
        None => (target, None),
    };
    let resolved = if path.is_empty() {
        file.to_path_buf()
    } else {
        let decoded = path.replace("%20", " ");
        file.parent().expect("a file has a folder").join(decoded)
    };
    if !resolved.exists() {
        return Err("no such file or folder".to_owned());
    }
    let Some(fragment) = fragment else {
        return Ok(());
    };
    if resolved.extension().and_then(|e| e.to_str()) != Some("md") {
        // Fragments of source files (`#L10`) are GitHub's, not headings.
        return Ok(());
    }
    let known = headings.entry(resolved.clone()).or_insert_with(|| {
        anchors(&std::fs::read_to_string(&resolved).expect("a Markdown file is UTF-8"))
    });
    if known.iter().any(|a| a == fragment) {
        Ok(())
    } else {
        Err(format!("no heading with the anchor #{fragment}"))
    }
}

/// The link targets of a Markdown text, with their 1-based line numbers.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in prose_lines(text) {
        let line = without_code_spans(line);
        if let Some(target) = reference_definition(&line) {
            found.push((number, target));
            continue;
        }
        let mut rest = line.as_str();
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            if let Some((target, after)) = destination(rest) {
                found.push((number, target));
                rest = after;
            }
        }
    }
    found
}

/// The repository paths written as code spans, with their 1-based line numbers: one token
/// under a checked top-level folder, no wildcard or placeholder, a `:line` suffix dropped.
fn code_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in prose_lines(text) {
        for span in line.split('`').skip(1).step_by(2) {
            let path = span.split(':').next().unwrap_or("");
            let plain = !path.is_empty()
                && !path.contains(|c: char| c.is_whitespace() || "*<>{}…|$".contains(c))
                && !path.contains("node_modules");
            if plain && CHECKED_ROOTS.iter().any(|root| path.starts_with(root)) {
                found.push((number, path.to_owned()));
            }
        }
    }
    found
}

/// The documentation pages a source text names by path, with their 1-based line numbers:
/// `docs/<page>.md` and `<folder>/README.md`.
fn page_references(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let words = line.split(|c: char| !(c.is_ascii_alphanumeric() || "/._-".contains(c)));
        for word in words {
            let word = word.trim_end_matches('.');
            let page = word
                .strip_prefix("docs/")
                .is_some_and(|p| p.ends_with(".md") && !p.contains('/'))
                || (word.ends_with("/README.md") && !word.starts_with('/'));
            if page {
                found.push((i + 1, word.to_owned()));
            }
        }
    }
    found
}

/// The lines outside fenced code blocks, numbered from 1.
fn prose_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut fence: Option<&str> = None;
    text.lines().enumerate().filter_map(move |(i, line)| {
        let trimmed = line.trim_start();
        for marker in ["```", "~~~"] {
            if trimmed.starts_with(marker) {
                match fence {
                    None => fence = Some(marker),
                    Some(open) if open == marker => fence = None,
                    Some(_) => {}
                }
                return None;
            }
        }
        fence.is_none().then_some((i + 1, line))
    })
}

/// The line with every code span (`` `...` ``, ``` ``...`` ```) removed.
fn without_code_spans(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let ticks = rest[start..].len() - rest[start..].trim_start_matches('`').len();
        let after = &rest[start + ticks..];
        let closing = "`".repeat(ticks);
        match after.find(&closing) {
            Some(end) => rest = &after[end + ticks..],
            None => {
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `[label]: target` at the start of a line.
fn reference_definition(line: &str) -> Option<String> {
    let line = line.trim_start();
    let rest = line.strip_prefix('[')?;
    let (_, after) = rest.split_once("]:")?;
    let target = after.split_whitespace().next()?;
    Some(
        target
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_owned(),
    )
}

/// The destination after `](`: `<with spaces>` or up to the matching `)`, without a title.
fn destination(rest: &str) -> Option<(String, &str)> {
    if let Some(inner) = rest.strip_prefix('<') {
        let end = inner.find('>')?;
        return Some((inner[..end].to_owned(), &inner[end + 1..]));
    }
    let mut depth = 0usize;
    for (i, c) in rest.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => {
                let target = rest[..i].split_whitespace().next().unwrap_or("");
                return Some((target.to_owned(), &rest[i + 1..]));
            }
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// The anchors GitHub gives the headings of a Markdown text: lower case, punctuation dropped,
/// spaces as `-`, and `-1`, `-2`, ... on repeats.
fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (_, line) in prose_lines(text) {
        let Some(title) = heading(line) else {
            continue;
        };
        let slug: String = title
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .flat_map(char::to_lowercase)
            .collect();
        let count = seen.entry(slug.clone()).or_insert(0);
        out.push(if *count == 0 {
            slug
        } else {
            format!("{slug}-{count}")
        });
        *count += 1;
    }
    out
}

/// The text of an ATX heading (`## Title`), links reduced to their labels.
fn heading(line: &str) -> Option<String> {
    let hashes = line.len() - line.trim_start_matches('#').len();
    if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
        return None;
    }
    let title = line[hashes..].trim();
    let mut text = String::new();
    let mut rest = title;
    while let Some(start) = rest.find("](") {
        text.push_str(&rest[..start]);
        rest = &rest[start + 2..];
        rest = destination(rest).map_or(rest, |(_, after)| after);
    }
    text.push_str(rest);
    Some(text.replace('[', ""))
}
