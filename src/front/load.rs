//! Loading a program: the main file and, transitively, every module it
//! imports (standard-library modules embedded in the binary, and files
//! relative to the importing file), each parsed once.
//!
//! The result is a list of [`LoadedModule`]s whose `imports` map each alias to
//! another module's index; cycles are fine because items are hoisted.

use crate::diag::Diagnostic;
use crate::syntax::ast::{self, Import, Item};
use crate::syntax::parser::parse_module;
use crate::syntax::{FileId, SourceMap, Span, Symbol};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/stdlib.rs"));
}

/// The source of a standard-library module, if there is one by that name.
pub fn stdlib_source(name: &str) -> Option<&'static str> {
    embedded::STDLIB
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, src)| *src)
}

/// Names of all standard-library modules.
pub fn stdlib_modules() -> impl Iterator<Item = &'static str> {
    embedded::STDLIB.iter().map(|(n, _)| *n)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModuleId(pub usize);

#[derive(Debug)]
pub struct LoadedModule {
    /// `None` for the main file; the module's name (`nn`, or a file import's alias).
    pub name: Option<Symbol>,
    pub file: FileId,
    pub ast: ast::Module,
    /// Alias → imported module, with the span of the import.
    pub imports: HashMap<Symbol, (ModuleId, Span)>,
}

impl LoadedModule {
    /// The prefix of qualified names defined in this module: `""` or `"nn."`.
    pub fn prefix(&self) -> String {
        self.name.map(|n| format!("{n}.")).unwrap_or_default()
    }
}

/// Where a module came from, to load each only once.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum ModuleKey {
    Stdlib(String),
    File(PathBuf),
}

/// Loads the main file (already in `sources` as `main_file`) and its imports.
pub fn load_program(sources: &mut SourceMap, main_file: FileId) -> (Vec<LoadedModule>, Vec<Diagnostic>) {
    let mut loader = Loader {
        sources,
        modules: Vec::new(),
        keys: HashMap::new(),
        diags: Vec::new(),
    };
    loader.load(main_file, None);
    (loader.modules, loader.diags)
}

struct Loader<'a> {
    sources: &'a mut SourceMap,
    modules: Vec<LoadedModule>,
    keys: HashMap<ModuleKey, ModuleId>,
    diags: Vec<Diagnostic>,
}

impl Loader<'_> {
    fn load(&mut self, file: FileId, name: Option<Symbol>) -> ModuleId {
        let text = self.sources.get(file).map(|f| f.text.clone()).unwrap_or_default();
        let (ast, diags) = parse_module(&text, file);
        self.diags.extend(diags);
        let id = ModuleId(self.modules.len());
        let imports: Vec<Import> = ast
            .items
            .iter()
            .filter_map(|it| match it {
                Item::Import(i) => Some(i.clone()),
                _ => None,
            })
            .collect();
        self.modules.push(LoadedModule {
            name,
            file,
            ast,
            imports: HashMap::new(),
        });
        for import in imports {
            if let Some((alias, target, span)) = self.load_import(file, &import)
                && let Some(m) = self.modules.get_mut(id.0)
                && let Some((_, prev)) = m.imports.insert(alias, (target, span))
            {
                self.diags.push(
                    Diagnostic::error(span, format!("`{alias}` is imported twice"))
                        .with_secondary(prev, "first imported here"),
                );
            }
        }
        id
    }

    fn load_import(&mut self, from: FileId, import: &Import) -> Option<(Symbol, ModuleId, Span)> {
        match import {
            Import::Module { name, alias, span } => {
                let text = name.name.as_str();
                let Some(src) = stdlib_source(text) else {
                    let mut d = Diagnostic::error(name.span, format!("no standard-library module `{text}`"))
                        .with_label("not found");
                    let names: Vec<&str> = stdlib_modules().collect();
                    if let Some(h) = crate::diag::did_you_mean(text, names.iter().copied()) {
                        d = d.with_help(h);
                    } else if !names.is_empty() {
                        d = d.with_help(format!("the standard library has: {}", names.join(", ")));
                    }
                    self.diags.push(d);
                    return None;
                };
                let alias_sym = alias.map(|a| a.name).unwrap_or(name.name);
                let key = ModuleKey::Stdlib(text.to_string());
                let target = match self.keys.get(&key) {
                    Some(&m) => m,
                    None => {
                        let f = self.sources.add(format!("stdlib/{text}.dl"), None, src);
                        let m = ModuleId(self.modules.len());
                        self.keys.insert(key, m);
                        self.load(f, Some(name.name))
                    }
                };
                Some((alias_sym, target, *span))
            }
            Import::File {
                path,
                path_span,
                alias,
                span,
            } => {
                let base = self.sources.get(from).and_then(|f| f.path.clone());
                let dir = base
                    .as_deref()
                    .and_then(Path::parent)
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                let full = dir.join(path);
                let key = ModuleKey::File(full.canonicalize().unwrap_or_else(|_| full.clone()));
                if let Some(&m) = self.keys.get(&key) {
                    return Some((alias.name, m, *span));
                }
                let text = match std::fs::read_to_string(&full) {
                    Ok(t) => t,
                    Err(e) => {
                        self.diags.push(
                            Diagnostic::error(*path_span, format!("cannot read module file `{path}`: {e}"))
                                .with_label("imported here"),
                        );
                        return None;
                    }
                };
                let shown = self
                    .sources
                    .get(from)
                    .map(|f| {
                        Path::new(&f.name)
                            .parent()
                            .map(|p| p.join(path))
                            .unwrap_or_else(|| path.into())
                    })
                    .unwrap_or_else(|| path.into());
                let f = self.sources.add(shown.display().to_string(), Some(full), text);
                let m = ModuleId(self.modules.len());
                self.keys.insert(key, m);
                let loaded = self.load(f, Some(alias.name));
                Some((alias.name, loaded, *span))
            }
        }
    }
}
