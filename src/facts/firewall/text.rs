//! Parser B: nftables ruleset files in nft's text syntax, as shipped on systems.
//!
//! Handles what boot-time ruleset files use: `flush ruleset`, `table ... { chain ... { ... } }`
//! blocks, the `add/create/insert/delete/flush` command forms, named sets and maps, `define` /
//! `redefine` / `undefine` with `$VAR` substitution, comments, `\` line continuations, multi-line
//! sets and verdict maps, and top-level `include "file"` (globs allowed) resolved through an
//! [`IncludeResolver`]. Rules are reduced to the [`Rule`] model with the same meaning the JSON parser
//! gives them, so analysis results agree whichever source was read.
//!
//! The grammar is handled leniently inside rules (unknown expressions become opaque items) but
//! strictly at the structure level (braces, top-level commands, strings): a ruleset file that does
//! not even have the right shape is reported as an error naming `file:line`, never a panic.

use std::collections::HashMap;

use super::FirewallError;
use super::json::{L4_PROTOCOLS, port_match};
use super::model::{
    BaseChain, Chain, Location, NamedSet, Opaque, Rule, Ruleset, Table, ValueMatch, Verdict,
    VerdictMap, VmapEntry, priority_value,
};
use crate::system::SystemView;

/// Maximum include nesting; nft itself limits it to 16.
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Upper bound on tokens produced by `$VAR` expansion per file: `redefine a = $a $a` repeated
/// would otherwise double memory use with every line.
const MAX_EXPANSIONS: usize = 1_000_000;

/// Resolves `include` statements: returns the (path, contents) of the files a pattern names, in
/// load order.
pub trait IncludeResolver {
    fn resolve(
        &mut self,
        pattern: &str,
        including_file: &str,
        line: usize,
    ) -> Result<Vec<(String, String)>, FirewallError>;
}

impl<F> IncludeResolver for F
where
    F: FnMut(&str, &str, usize) -> Result<Vec<(String, String)>, FirewallError>,
{
    fn resolve(
        &mut self,
        pattern: &str,
        including_file: &str,
        line: usize,
    ) -> Result<Vec<(String, String)>, FirewallError> {
        self(pattern, including_file, line)
    }
}

/// Resolves includes through a [`SystemView`].
///
/// Relative paths are tried against the including file's directory first, then against `/etc`
/// (nft's default include directory). A glob (`*`, `?`, `[`) is allowed in the last path
/// component only; matches load in sorted order and no match is not an error (as in nft). A plain
/// path that does not exist is an error.
pub struct ViewIncludes<'a> {
    view: &'a dyn SystemView,
    /// Every file read through this resolver, in order.
    pub files_read: Vec<String>,
}

impl<'a> ViewIncludes<'a> {
    pub fn new(view: &'a dyn SystemView) -> Self {
        ViewIncludes {
            view,
            files_read: Vec::new(),
        }
    }

    fn candidates(pattern: &str, including_file: &str) -> Vec<String> {
        if pattern.starts_with('/') {
            return vec![pattern.to_owned()];
        }
        let dir = match including_file.rfind('/') {
            Some(0) => "/",
            Some(i) => &including_file[..i],
            None => "/",
        };
        let mut c = vec![crate::system::join(dir, pattern)];
        let etc = crate::system::join("/etc", pattern);
        if !c.contains(&etc) {
            c.push(etc);
        }
        c
    }
}

impl IncludeResolver for ViewIncludes<'_> {
    fn resolve(
        &mut self,
        pattern: &str,
        including_file: &str,
        line: usize,
    ) -> Result<Vec<(String, String)>, FirewallError> {
        let is_glob = pattern.contains(['*', '?', '[']);
        for path in Self::candidates(pattern, including_file) {
            if is_glob {
                let (dir, name) = match path.rfind('/') {
                    Some(0) => ("/", &path[1..]),
                    Some(i) => (&path[..i], &path[i + 1..]),
                    None => continue,
                };
                if dir.contains(['*', '?', '[']) {
                    return Err(FirewallError::Syntax {
                        file: including_file.to_owned(),
                        line,
                        message: format!(
                            "include \"{pattern}\": globs are supported in the file name only"
                        ),
                    });
                }
                let Ok(glob) = glob::Pattern::new(name) else {
                    return Err(FirewallError::Syntax {
                        file: including_file.to_owned(),
                        line,
                        message: format!("include \"{pattern}\": bad glob"),
                    });
                };
                let names = match self.view.read_dir(dir) {
                    Ok(n) => n,
                    Err(e) if e.is_not_found() => continue,
                    Err(e) => return Err(e.into()),
                };
                let mut out = Vec::new();
                for n in names
                    .iter()
                    .filter(|n| glob.matches(n) && !n.starts_with('.'))
                {
                    let p = crate::system::join(dir, n);
                    if self
                        .view
                        .metadata(&p)
                        .is_ok_and(|m| m.kind == crate::system::FileKind::Dir)
                    {
                        continue;
                    }
                    let text = self.view.read_to_string(&p)?;
                    self.files_read.push(p.clone());
                    out.push((p, text));
                }
                if !out.is_empty() {
                    return Ok(out);
                }
            } else if let Some(text) = self.view.read_optional(&path)? {
                self.files_read.push(path.clone());
                return Ok(vec![(path, text)]);
            }
        }
        if is_glob {
            Ok(Vec::new())
        } else {
            Err(FirewallError::Syntax {
                file: including_file.to_owned(),
                line,
                message: format!("include \"{pattern}\": file not found"),
            })
        }
    }
}

/// Parses one ruleset text. `include` statements are skipped (no file access): use
/// [`parse_ruleset_text_with`] to resolve them. Suitable for fuzzing.
pub fn parse_ruleset_text(text: &str, file: &str) -> Result<Ruleset, FirewallError> {
    let mut skip = |_: &str, _: &str, _: usize| Ok(Vec::new());
    parse_ruleset_text_with(text, file, &mut skip)
}

/// Parses one ruleset text, resolving includes with `resolver`.
pub fn parse_ruleset_text_with(
    text: &str,
    file: &str,
    resolver: &mut dyn IncludeResolver,
) -> Result<Ruleset, FirewallError> {
    let mut rs = Ruleset::default();
    parse_into(&mut rs, text, file, resolver)?;
    Ok(rs)
}

/// Parses a ruleset text on top of `rs` (as `nft -f` applies a file to the current ruleset).
pub fn parse_into(
    rs: &mut Ruleset,
    text: &str,
    file: &str,
    resolver: &mut dyn IncludeResolver,
) -> Result<(), FirewallError> {
    let mut ctx = Ctx {
        rs,
        defines: HashMap::new(),
        resolver,
        stack: Vec::new(),
    };
    parse_file(&mut ctx, text, file)
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq)]
enum T {
    Word(String),
    Str(String),
    LBrace,
    RBrace,
    Semi,
    Comma,
    Newline,
}

#[derive(Debug, Clone)]
struct Tok {
    t: T,
    line: usize,
}

fn syntax(file: &str, line: usize, message: impl Into<String>) -> FirewallError {
    FirewallError::Syntax {
        file: file.to_owned(),
        line,
        message: message.into(),
    }
}

fn tokenize(text: &str, file: &str) -> Result<Vec<Tok>, FirewallError> {
    let mut toks = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    let mut word = String::new();
    let mut word_line = 1;
    macro_rules! flush_word {
        () => {
            if !word.is_empty() {
                toks.push(Tok {
                    t: T::Word(std::mem::take(&mut word)),
                    line: word_line,
                });
            }
        };
    }
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('\n') | Some('\r')) => {
                flush_word!();
                if chars.peek() == Some(&'\r') {
                    chars.next();
                }
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                line += 1;
            }
            '\n' => {
                flush_word!();
                toks.push(Tok {
                    t: T::Newline,
                    line,
                });
                line += 1;
            }
            c if c.is_whitespace() => flush_word!(),
            '#' => {
                flush_word!();
                while let Some(&n) = chars.peek() {
                    if n == '\n' {
                        break;
                    }
                    chars.next();
                }
            }
            '"' => {
                flush_word!();
                let start = line;
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None | Some('\n') => {
                            return Err(syntax(file, start, "unterminated string"));
                        }
                        Some('\\') => {
                            if let Some(n) = chars.next() {
                                if n == '\n' {
                                    return Err(syntax(file, start, "unterminated string"));
                                }
                                s.push(n);
                            }
                        }
                        Some('"') => break,
                        Some(o) => s.push(o),
                    }
                }
                toks.push(Tok {
                    t: T::Str(s),
                    line: start,
                });
            }
            '{' | '}' | ';' | ',' => {
                flush_word!();
                let t = match c {
                    '{' => T::LBrace,
                    '}' => T::RBrace,
                    ';' => T::Semi,
                    _ => T::Comma,
                };
                toks.push(Tok { t, line });
            }
            '=' if word.is_empty() || !word.ends_with(['!', '<', '>', '=']) => {
                if chars.peek() == Some(&'=') {
                    flush_word!();
                    chars.next();
                    toks.push(Tok {
                        t: T::Word("==".into()),
                        line,
                    });
                } else {
                    flush_word!();
                    toks.push(Tok {
                        t: T::Word("=".into()),
                        line,
                    });
                }
            }
            c => {
                if word.is_empty() {
                    word_line = line;
                }
                word.push(c);
            }
        }
    }
    flush_word!();
    Ok(toks)
}

// ---------------------------------------------------------------------------------------------
// Structure

struct Ctx<'a> {
    rs: &'a mut Ruleset,
    defines: HashMap<String, Vec<T>>,
    resolver: &'a mut dyn IncludeResolver,
    /// Files being parsed, outermost first (include cycle detection and depth).
    stack: Vec<String>,
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// Tokens from `$VAR` expansion waiting to be read (reversed: last is next).
    pending: Vec<Tok>,
    expansions: usize,
    file: String,
}

const FAMILIES: &[&str] = &["ip", "ip6", "inet", "arp", "bridge", "netdev"];

fn parse_file(ctx: &mut Ctx<'_>, text: &str, file: &str) -> Result<(), FirewallError> {
    if ctx.stack.iter().any(|f| f == file) {
        return Err(syntax(
            ctx.stack.last().map_or(file, String::as_str),
            0,
            format!("include cycle: {} -> {file}", ctx.stack.join(" -> ")),
        ));
    }
    if ctx.stack.len() >= MAX_INCLUDE_DEPTH {
        return Err(syntax(
            file,
            0,
            format!("includes nested deeper than {MAX_INCLUDE_DEPTH}"),
        ));
    }
    let toks = tokenize(text, file)?;
    let mut p = Parser {
        toks,
        pos: 0,
        pending: Vec::new(),
        expansions: 0,
        file: file.to_owned(),
    };
    ctx.stack.push(file.to_owned());
    let r = p.top(ctx);
    ctx.stack.pop();
    r
}

impl Parser {
    fn err(&self, line: usize, m: impl Into<String>) -> FirewallError {
        syntax(&self.file, line, m)
    }

    fn last_line(&self) -> usize {
        self.toks.last().map_or(1, |t| t.line)
    }

    /// Next token with `$VAR` expanded.
    fn next(&mut self, ctx: &Ctx<'_>) -> Result<Option<Tok>, FirewallError> {
        loop {
            let tok = if let Some(t) = self.pending.pop() {
                t
            } else if let Some(t) = self.toks.get(self.pos) {
                self.pos += 1;
                t.clone()
            } else {
                return Ok(None);
            };
            if let T::Word(w) = &tok.t
                && let Some(name) = w.strip_prefix('$')
            {
                let Some(val) = ctx.defines.get(name) else {
                    return Err(self.err(tok.line, format!("undefined variable ${name}")));
                };
                self.expansions = self.expansions.saturating_add(val.len().max(1));
                if self.expansions > MAX_EXPANSIONS {
                    return Err(
                        self.err(tok.line, "too many variable expansions (recursive define?)")
                    );
                }
                for t in val.iter().rev() {
                    self.pending.push(Tok {
                        t: t.clone(),
                        line: tok.line,
                    });
                }
                continue;
            }
            return Ok(Some(tok));
        }
    }

    /// Reads tokens up to the end of the statement (newline or `;` outside braces, or a `}` that
    /// closes the enclosing block, which is left unread). Braces inside are kept, newlines inside
    /// braces dropped.
    fn statement(&mut self, ctx: &Ctx<'_>, first: Tok) -> Result<Vec<Tok>, FirewallError> {
        let mut out = Vec::new();
        let mut depth = 0usize;
        let start = first.line;
        let mut cur = Some(first);
        loop {
            let Some(tok) = cur.take() else {
                match self.next(ctx)? {
                    Some(t) => {
                        cur = Some(t);
                        continue;
                    }
                    None if depth > 0 => return Err(self.err(start, "unbalanced '{'")),
                    None => return Ok(out),
                }
            };
            match tok.t {
                T::Newline | T::Semi if depth == 0 => return Ok(out),
                T::Newline => {}
                T::LBrace => {
                    depth += 1;
                    out.push(tok);
                }
                T::RBrace if depth == 0 => {
                    self.pending.push(tok);
                    return Ok(out);
                }
                T::RBrace => {
                    depth -= 1;
                    out.push(tok);
                }
                _ => out.push(tok),
            }
        }
    }

    /// Top level: commands until end of file.
    fn top(&mut self, ctx: &mut Ctx<'_>) -> Result<(), FirewallError> {
        while let Some(tok) = self.next(ctx)? {
            let line = tok.line;
            let word = match &tok.t {
                T::Newline | T::Semi => continue,
                T::RBrace => return Err(self.err(line, "unbalanced '}'")),
                T::Word(w) => w.clone(),
                _ => return Err(self.err(line, "expected a command")),
            };
            match word.as_str() {
                "include" => {
                    let stmt = self.statement(ctx, tok)?;
                    let Some(T::Str(pattern)) = stmt.get(1).map(|t| &t.t) else {
                        return Err(self.err(line, "include needs a quoted file name"));
                    };
                    let files = ctx.resolver.resolve(pattern, &self.file, line)?;
                    for (path, text) in files {
                        parse_file(ctx, &text, &path)?;
                    }
                }
                "define" | "redefine" => self.define(ctx, line)?,
                "undefine" => {
                    let stmt = self.statement(ctx, tok)?;
                    if let Some(T::Word(n)) = stmt.get(1).map(|t| &t.t) {
                        ctx.defines.remove(n);
                    }
                }
                "table" => self.table_cmd(ctx, line, false)?,
                "add" | "create" | "insert" => {
                    let Some(T::Word(obj)) = self.next(ctx)?.map(|t| t.t) else {
                        return Err(self.err(line, format!("{word}: expected an object")));
                    };
                    match (word.as_str(), obj.as_str()) {
                        (_, "table") => self.table_cmd(ctx, line, true)?,
                        (_, "chain") => self.add_chain(ctx, line)?,
                        (w, "rule") => self.add_rule(ctx, line, w == "insert")?,
                        (_, "set" | "map") => self.add_set(ctx, line, obj == "map")?,
                        (_, "element") => self.add_element(ctx, line)?,
                        _ => {
                            self.statement(ctx, tok)?;
                        }
                    }
                }
                "delete" | "destroy" | "flush" => {
                    let stmt = self.statement(ctx, tok)?;
                    self.delete_flush(ctx, &word, &stmt)?;
                }
                "list" | "reset" | "rename" | "replace" | "describe" | "monitor" | "export"
                | "import" => {
                    self.statement(ctx, tok)?;
                }
                _ => return Err(self.err(line, format!("unexpected '{word}'"))),
            }
        }
        Ok(())
    }

    fn define(&mut self, ctx: &mut Ctx<'_>, line: usize) -> Result<(), FirewallError> {
        let Some(Tok {
            t: T::Word(mut name),
            ..
        }) = self.next(ctx)?
        else {
            return Err(self.err(line, "define: expected a name"));
        };
        // `define X=1` arrives as `X` `=` `1`; tolerate `X=` glued.
        if name.ends_with('=') {
            name.pop();
        } else if !matches!(self.next(ctx)?.map(|t| t.t), Some(T::Word(w)) if w == "=") {
            return Err(self.err(line, "define: expected '='"));
        }
        let Some(first) = self.next(ctx)? else {
            return Err(self.err(line, "define: expected a value"));
        };
        let stmt = self.statement(ctx, first)?;
        if stmt.is_empty() {
            return Err(self.err(line, "define: expected a value"));
        }
        ctx.defines
            .insert(name, stmt.into_iter().map(|t| t.t).collect());
        Ok(())
    }

    /// Reads `[family] name...` words for object commands; family defaults to `ip`.
    fn family_and_names(words: &[String], n: usize) -> Option<(String, Vec<String>)> {
        if words.len() > n && FAMILIES.contains(&words[0].as_str()) {
            Some((words[0].clone(), words[1..=n].to_vec()))
        } else if words.len() >= n {
            Some(("ip".to_owned(), words[..n].to_vec()))
        } else {
            None
        }
    }

    /// Words up to the next `{`, end of statement or `}` (the `{` is left unread).
    fn header_words(&mut self, ctx: &Ctx<'_>) -> Result<(Vec<String>, bool), FirewallError> {
        let mut words = Vec::new();
        loop {
            match self.next(ctx)? {
                Some(Tok { t: T::Word(w), .. }) | Some(Tok { t: T::Str(w), .. }) => words.push(w),
                Some(t @ Tok { t: T::LBrace, .. }) => {
                    self.pending.push(t);
                    return Ok((words, true));
                }
                Some(t @ Tok { t: T::RBrace, .. }) => {
                    self.pending.push(t);
                    return Ok((words, false));
                }
                Some(Tok { t: T::Comma, line }) => return Err(self.err(line, "unexpected ','")),
                Some(_) | None => return Ok((words, false)),
            }
        }
    }

    fn ensure_table(ctx: &mut Ctx<'_>, family: &str, name: &str, loc: Location) -> usize {
        if let Some(i) = ctx
            .rs
            .tables
            .iter()
            .position(|t| t.family == family && t.name == name)
        {
            return i;
        }
        ctx.rs.tables.push(Table {
            family: family.to_owned(),
            name: name.to_owned(),
            chains: Vec::new(),
            sets: Vec::new(),
            dormant: false,
            location: Some(loc),
        });
        ctx.rs.tables.len() - 1
    }

    fn loc(&self, line: usize) -> Location {
        Location {
            file: self.file.clone(),
            line,
        }
    }

    fn table_cmd(
        &mut self,
        ctx: &mut Ctx<'_>,
        line: usize,
        _add: bool,
    ) -> Result<(), FirewallError> {
        let (words, block) = self.header_words(ctx)?;
        let Some((family, names)) = Self::family_and_names(&words, 1) else {
            return Err(self.err(line, "table: expected [family] name"));
        };
        if words.len() > names.len() + usize::from(family != "ip" || words[0] == "ip") {
            return Err(self.err(line, format!("table: unexpected '{}'", words.join(" "))));
        }
        let ti = Self::ensure_table(ctx, &family, &names[0], self.loc(line));
        if block {
            self.next(ctx)?; // the '{'
            self.table_body(ctx, ti, line)?;
        }
        Ok(())
    }

    fn table_body(
        &mut self,
        ctx: &mut Ctx<'_>,
        ti: usize,
        open: usize,
    ) -> Result<(), FirewallError> {
        loop {
            let Some(tok) = self.next(ctx)? else {
                return Err(self.err(open, "unbalanced '{': missing '}'"));
            };
            let line = tok.line;
            let word = match &tok.t {
                T::Newline | T::Semi => continue,
                T::RBrace => return Ok(()),
                T::Word(w) => w.clone(),
                _ => return Err(self.err(line, "expected a table item")),
            };
            match word.as_str() {
                "chain" => {
                    let (words, block) = self.header_words(ctx)?;
                    let [name] = words.as_slice() else {
                        return Err(self.err(line, "chain: expected a name"));
                    };
                    let ci = self.ensure_chain(ctx, ti, name, line);
                    if block {
                        self.next(ctx)?;
                        self.chain_body(ctx, ti, ci, line, false)?;
                    }
                }
                "set" | "map" => {
                    let (words, block) = self.header_words(ctx)?;
                    let [name] = words.as_slice() else {
                        return Err(self.err(line, "set: expected a name"));
                    };
                    if !block {
                        return Err(self.err(line, "set: expected '{'"));
                    }
                    self.next(ctx)?;
                    let set = self.set_body(ctx, name, word == "map", line)?;
                    let sets = &mut ctx.rs.tables[ti].sets;
                    sets.retain(|s| s.name != set.name);
                    sets.push(set);
                }
                "flags" => {
                    let stmt = self.statement(ctx, tok)?;
                    ctx.rs.tables[ti].dormant = stmt.iter().skip(1).any(
                        |t| matches!(&t.t, T::Word(w) if w.split(',').any(|f| f == "dormant")),
                    );
                }
                _ => {
                    // comment, flowtable, counter, quota, ct helper, ...: not audited.
                    self.statement(ctx, tok)?;
                }
            }
        }
    }

    fn ensure_chain(&self, ctx: &mut Ctx<'_>, ti: usize, name: &str, line: usize) -> usize {
        let chains = &mut ctx.rs.tables[ti].chains;
        if let Some(i) = chains.iter().position(|c| c.name == name) {
            return i;
        }
        chains.push(Chain {
            name: name.to_owned(),
            base: None,
            rules: Vec::new(),
            location: Some(self.loc(line)),
        });
        chains.len() - 1
    }

    /// Chain block contents after `{`, up to and including the closing `}`.
    fn chain_body(
        &mut self,
        ctx: &mut Ctx<'_>,
        ti: usize,
        ci: usize,
        open: usize,
        _add: bool,
    ) -> Result<(), FirewallError> {
        loop {
            let Some(tok) = self.next(ctx)? else {
                return Err(self.err(open, "unbalanced '{': missing '}'"));
            };
            let line = tok.line;
            match &tok.t {
                T::Newline | T::Semi => continue,
                T::RBrace => return Ok(()),
                _ => {}
            }
            let stmt = self.statement(ctx, tok)?;
            let words: Vec<String> = stmt.iter().map(tok_text).collect();
            match words.first().map(String::as_str) {
                Some("type") => {
                    let base = parse_base(&words).ok_or_else(|| {
                        self.err(line, "chain: expected 'type T hook H priority P'")
                    })?;
                    let chain = &mut ctx.rs.tables[ti].chains[ci];
                    let policy = chain.base.as_ref().and_then(|b| b.policy.clone());
                    chain.base = Some(BaseChain {
                        policy: base.policy.or(policy),
                        ..base
                    });
                }
                Some("policy") => {
                    let policy = words.get(1).cloned();
                    let chain = &mut ctx.rs.tables[ti].chains[ci];
                    match &mut chain.base {
                        Some(b) => b.policy = policy,
                        None => {
                            return Err(self.err(line, "policy on a chain without 'type ... hook'"));
                        }
                    }
                }
                Some("comment" | "devices" | "device") => {}
                Some(_) => {
                    let rule = parse_rule(&stmt, self.loc(line));
                    ctx.rs.tables[ti].chains[ci].rules.push(rule);
                }
                None => {}
            }
        }
    }

    fn set_body(
        &mut self,
        ctx: &Ctx<'_>,
        name: &str,
        is_map: bool,
        open: usize,
    ) -> Result<NamedSet, FirewallError> {
        let mut set = NamedSet {
            name: name.to_owned(),
            is_map,
            set_type: String::new(),
            flags: Vec::new(),
            elements: Vec::new(),
            location: Some(self.loc(open)),
        };
        loop {
            let Some(tok) = self.next(ctx)? else {
                return Err(self.err(open, "unbalanced '{': missing '}'"));
            };
            match &tok.t {
                T::Newline | T::Semi => continue,
                T::RBrace => return Ok(set),
                _ => {}
            }
            let stmt = self.statement(ctx, tok)?;
            let atoms = atomize(&stmt);
            match atoms.first() {
                Some(Atom::Word(w)) if w == "type" || w == "typeof" => {
                    let rest: Vec<String> = atoms[1..].iter().map(atom_text).collect();
                    set.set_type = if w == "typeof" {
                        format!("typeof {}", rest.join(" "))
                    } else {
                        rest.join(" ")
                    };
                }
                Some(Atom::Word(w)) if w == "flags" => {
                    set.flags = atoms[1..]
                        .iter()
                        .filter_map(|a| match a {
                            Atom::Word(w) => {
                                Some(w.split(',').map(str::to_owned).collect::<Vec<_>>())
                            }
                            _ => None,
                        })
                        .flatten()
                        .filter(|s| !s.is_empty())
                        .collect();
                }
                Some(Atom::Word(w)) if w == "elements" => {
                    for a in &atoms[1..] {
                        if let Atom::Group(g) = a {
                            set.elements.extend(group_values(g, is_map));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn add_chain(&mut self, ctx: &mut Ctx<'_>, line: usize) -> Result<(), FirewallError> {
        let (words, block) = self.header_words(ctx)?;
        let Some((family, names)) = Self::family_and_names(&words, 2) else {
            return Err(self.err(line, "chain: expected [family] table chain"));
        };
        let ti = Self::ensure_table(ctx, &family, &names[0], self.loc(line));
        let ci = self.ensure_chain(ctx, ti, &names[1], line);
        if block {
            self.next(ctx)?;
            self.chain_body(ctx, ti, ci, line, true)?;
        }
        Ok(())
    }

    fn add_set(
        &mut self,
        ctx: &mut Ctx<'_>,
        line: usize,
        is_map: bool,
    ) -> Result<(), FirewallError> {
        let (words, block) = self.header_words(ctx)?;
        let Some((family, names)) = Self::family_and_names(&words, 2) else {
            return Err(self.err(line, "set: expected [family] table set"));
        };
        if !block {
            return Err(self.err(line, "set: expected '{'"));
        }
        self.next(ctx)?;
        let set = self.set_body(ctx, &names[1], is_map, line)?;
        let ti = Self::ensure_table(ctx, &family, &names[0], self.loc(line));
        let sets = &mut ctx.rs.tables[ti].sets;
        sets.retain(|s| s.name != set.name);
        sets.push(set);
        Ok(())
    }

    fn add_element(&mut self, ctx: &mut Ctx<'_>, line: usize) -> Result<(), FirewallError> {
        let Some(first) = self.next(ctx)? else {
            return Err(self.err(line, "element: expected [family] table set { ... }"));
        };
        let stmt = self.statement(ctx, first)?;
        let atoms = atomize(&stmt);
        let words: Vec<String> = atoms
            .iter()
            .take_while(|a| matches!(a, Atom::Word(_)))
            .map(atom_text)
            .collect();
        let Some((family, names)) = Self::family_and_names(&words, 2) else {
            return Err(self.err(line, "element: expected [family] table set { ... }"));
        };
        let Some(Atom::Group(g)) = atoms.get(words.len()) else {
            return Err(self.err(line, "element: expected '{'"));
        };
        let Some(ti) = ctx
            .rs
            .tables
            .iter()
            .position(|t| t.family == family && t.name == names[0])
        else {
            return Ok(());
        };
        if let Some(set) = ctx.rs.tables[ti]
            .sets
            .iter_mut()
            .find(|s| s.name == names[1])
        {
            let is_map = set.is_map;
            set.elements.extend(group_values(g, is_map));
        }
        Ok(())
    }

    fn add_rule(
        &mut self,
        ctx: &mut Ctx<'_>,
        line: usize,
        insert: bool,
    ) -> Result<(), FirewallError> {
        let Some(first) = self.next(ctx)? else {
            return Err(self.err(line, "rule: expected [family] table chain rule"));
        };
        let stmt = self.statement(ctx, first)?;
        let words: Vec<String> = stmt
            .iter()
            .map_while(|t| match &t.t {
                T::Word(w) => Some(w.clone()),
                _ => None,
            })
            .collect();
        let Some((family, names)) = Self::family_and_names(&words, 2) else {
            return Err(self.err(line, "rule: expected [family] table chain rule"));
        };
        let mut skip = names.len() + usize::from(words.first() == Some(&family));
        // `position N` / `handle N` / `index N`: placement is not modelled beyond insert/append.
        if matches!(
            words.get(skip).map(String::as_str),
            Some("position" | "handle" | "index")
        ) {
            skip += 2;
        }
        let rule = parse_rule(stmt.get(skip..).unwrap_or(&[]), self.loc(line));
        let ti = Self::ensure_table(ctx, &family, &names[0], self.loc(line));
        let ci = self.ensure_chain(ctx, ti, &names[1], line);
        let rules = &mut ctx.rs.tables[ti].chains[ci].rules;
        if insert {
            rules.insert(0, rule);
        } else {
            rules.push(rule);
        }
        Ok(())
    }

    fn delete_flush(
        &mut self,
        ctx: &mut Ctx<'_>,
        cmd: &str,
        stmt: &[Tok],
    ) -> Result<(), FirewallError> {
        let line = stmt.first().map_or_else(|| self.last_line(), |t| t.line);
        let words: Vec<String> = stmt.iter().skip(1).map(tok_text).collect();
        let Some(obj) = words.first() else {
            return Err(self.err(line, format!("{cmd}: expected an object")));
        };
        let rest = &words[1..];
        let find_table = |ctx: &Ctx<'_>, n: usize| -> Option<(usize, Vec<String>)> {
            let (family, names) = Self::family_and_names(rest, n)?;
            let ti = ctx
                .rs
                .tables
                .iter()
                .position(|t| t.family == family && t.name == names[0])?;
            Some((ti, names))
        };
        match (cmd, obj.as_str()) {
            ("flush", "ruleset") => ctx.rs.tables.clear(),
            (_, "ruleset") => {}
            ("flush", "table") => {
                if let Some((ti, _)) = find_table(ctx, 1) {
                    for c in &mut ctx.rs.tables[ti].chains {
                        c.rules.clear();
                    }
                }
            }
            (_, "table") => {
                if let Some((ti, _)) = find_table(ctx, 1) {
                    ctx.rs.tables.remove(ti);
                }
            }
            ("flush", "chain") => {
                if let Some((ti, names)) = find_table(ctx, 2)
                    && let Some(c) = ctx.rs.tables[ti]
                        .chains
                        .iter_mut()
                        .find(|c| c.name == names[1])
                {
                    c.rules.clear();
                }
            }
            (_, "chain") => {
                if let Some((ti, names)) = find_table(ctx, 2) {
                    ctx.rs.tables[ti].chains.retain(|c| c.name != names[1]);
                }
            }
            ("flush", "set" | "map") => {
                if let Some((ti, names)) = find_table(ctx, 2)
                    && let Some(s) = ctx.rs.tables[ti]
                        .sets
                        .iter_mut()
                        .find(|s| s.name == names[1])
                {
                    s.elements.clear();
                }
            }
            (_, "set" | "map") => {
                if let Some((ti, names)) = find_table(ctx, 2) {
                    ctx.rs.tables[ti].sets.retain(|s| s.name != names[1]);
                }
            }
            // delete rule/element, counters, ...: by handle, not modelled.
            _ => {}
        }
        Ok(())
    }
}

fn tok_text(t: &Tok) -> String {
    match &t.t {
        T::Word(w) => w.clone(),
        T::Str(s) => s.clone(),
        T::LBrace => "{".into(),
        T::RBrace => "}".into(),
        T::Semi => ";".into(),
        T::Comma => ",".into(),
        T::Newline => "\n".into(),
    }
}

/// `type filter hook input priority filter [policy drop]` (words, `;` already split off).
fn parse_base(words: &[String]) -> Option<BaseChain> {
    let mut chain_type = None;
    let mut hook = None;
    let mut prio = Vec::new();
    let mut policy = None;
    let mut i = 0;
    while i < words.len() {
        match words[i].as_str() {
            "type" => {
                chain_type = words.get(i + 1).cloned();
                i += 2;
            }
            "hook" => {
                hook = words.get(i + 1).cloned();
                i += 2;
            }
            "device" => i += 2,
            "priority" => {
                i += 1;
                while let Some(w) = words.get(i) {
                    if matches!(w.as_str(), "policy" | "device" | "hook" | "type") {
                        break;
                    }
                    prio.push(w.clone());
                    i += 1;
                }
            }
            "policy" => {
                policy = words.get(i + 1).cloned();
                i += 2;
            }
            _ => i += 1,
        }
    }
    let priority_text = prio.join(" ");
    Some(BaseChain {
        chain_type: chain_type?,
        hook: hook?,
        priority: priority_value(&priority_text),
        priority_text,
        policy,
    })
}

// ---------------------------------------------------------------------------------------------
// Rules

/// A rule token tree: braces become groups of comma-separated elements.
#[derive(Debug, Clone, PartialEq)]
enum Atom {
    Word(String),
    Str(String),
    Comma,
    Group(Vec<Vec<Atom>>),
}

fn atomize(toks: &[Tok]) -> Vec<Atom> {
    let mut i = 0;
    atomize_until(toks, &mut i, false)
        .into_iter()
        .flatten()
        .collect()
}

/// Reads atoms; inside a group, splits elements at commas and stops after the closing brace.
fn atomize_until(toks: &[Tok], i: &mut usize, in_group: bool) -> Vec<Vec<Atom>> {
    let mut elems = vec![Vec::new()];
    while let Some(t) = toks.get(*i) {
        *i += 1;
        let cur = elems.last_mut();
        let Some(cur) = cur else { break };
        match &t.t {
            T::Word(w) => cur.push(Atom::Word(w.clone())),
            T::Str(s) => cur.push(Atom::Str(s.clone())),
            T::Comma if in_group => elems.push(Vec::new()),
            T::Comma => cur.push(Atom::Comma),
            T::LBrace => {
                let g = atomize_until(toks, i, true);
                cur.push(Atom::Group(
                    g.into_iter().filter(|e| !e.is_empty()).collect(),
                ));
            }
            T::RBrace if in_group => return elems,
            T::RBrace | T::Semi | T::Newline => {}
        }
    }
    elems
}

fn atom_text(a: &Atom) -> String {
    match a {
        Atom::Word(w) => w.clone(),
        Atom::Str(s) => format!("\"{s}\""),
        Atom::Comma => ",".into(),
        Atom::Group(g) => format!(
            "{{ {} }}",
            g.iter()
                .map(|e| e.iter().map(atom_text).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Atoms as rule text: words separated by spaces, commas glued to the word before them
/// (`ct state established, related`).
fn atoms_text(atoms: &[Atom]) -> String {
    let mut out = String::new();
    for a in atoms {
        if !out.is_empty() && *a != Atom::Comma {
            out.push(' ');
        }
        out.push_str(&atom_text(a));
    }
    out
}

/// Element values of a group, flattening nested groups (`define P = { 22, 80 }` used in a set);
/// for maps, the key only.
fn group_values(g: &[Vec<Atom>], is_map: bool) -> Vec<String> {
    let mut out = Vec::new();
    for e in g {
        if let [Atom::Group(inner)] = e.as_slice() {
            out.extend(group_values(inner, is_map));
            continue;
        }
        let text = e
            .iter()
            .map(|a| match a {
                Atom::Str(s) => s.clone(),
                a => atom_text(a),
            })
            .collect::<Vec<_>>()
            .join(" ");
        let text = if is_map {
            split_map_entry(&text).map_or(text.clone(), |(k, _)| k)
        } else {
            text
        };
        out.push(text);
    }
    out
}

/// Splits `key : value` (also `key:value`); the split is at the last ':' followed by a value that
/// is not part of an IPv6 address.
fn split_map_entry(text: &str) -> Option<(String, String)> {
    let (k, v) = text.rsplit_once(" : ").or_else(|| text.rsplit_once(':'))?;
    Some((k.trim().to_owned(), v.trim().to_owned()))
}

/// Entries of a verdict map group.
fn vmap_entries(g: &[Vec<Atom>]) -> Vec<VmapEntry> {
    let mut out = Vec::new();
    for e in g {
        let text = e.iter().map(atom_text).collect::<Vec<_>>().join(" ");
        // Find the verdict at the end: `jump x` / `goto x` or a single verdict word.
        let Some(colon) = text.rfind(':') else {
            continue;
        };
        let key = text[..colon].trim();
        let value: Vec<&str> = text[colon + 1..].split_whitespace().collect();
        let Some(verdict) = value
            .first()
            .and_then(|w| Verdict::from_words(w, value.get(1).copied()))
        else {
            continue;
        };
        for k in key.split(',') {
            let k = k.trim().trim_matches('"');
            if !k.is_empty() {
                out.push(VmapEntry {
                    key: k.to_owned(),
                    verdict: verdict.clone(),
                });
            }
        }
    }
    out
}

/// Words that start a known expression or statement: opaque items stop before them.
const KEYWORDS: &[&str] = &[
    "tcp",
    "udp",
    "udplite",
    "sctp",
    "dccp",
    "icmp",
    "icmpv6",
    "ah",
    "esp",
    "comp",
    "igmp",
    "th",
    "ip",
    "ip6",
    "meta",
    "iif",
    "iifname",
    "oif",
    "oifname",
    "ct",
    "limit",
    "meter",
    "log",
    "counter",
    "comment",
    "accept",
    "drop",
    "reject",
    "jump",
    "goto",
    "return",
    "continue",
    "queue",
    "notrack",
    "masquerade",
    "snat",
    "dnat",
    "redirect",
    "ether",
    "vlan",
    "arp",
    "fib",
    "rt",
    "socket",
    "mark",
    "tproxy",
    "dup",
    "fwd",
    "quota",
    "synproxy",
    "exthdr",
    "osf",
    "numgen",
    "jhash",
    "symhash",
    "ipsec",
    "hbh",
    "rt0",
    "frag",
    "dst",
    "mh",
    "srh",
    "ip6h",
];

const STATEMENT_WORDS: &[&str] = &[
    "notrack",
    "masquerade",
    "snat",
    "dnat",
    "redirect",
    "tproxy",
    "dup",
    "fwd",
    "quota",
    "synproxy",
];

const OPS: &[&str] = &[
    "==", "!=", "eq", "ne", "<", ">", "<=", ">=", "lt", "gt", "le", "ge",
];

struct RuleReader<'a> {
    atoms: &'a [Atom],
    i: usize,
}

impl RuleReader<'_> {
    fn word(&self, at: usize) -> Option<&str> {
        match self.atoms.get(at) {
            Some(Atom::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn is_keyword_at(&self, at: usize) -> bool {
        match self.word(at) {
            Some("add" | "update") => {
                matches!(self.word(at + 1), Some(w) if w.starts_with('@'))
            }
            Some(w) => KEYWORDS.contains(&w),
            None => false,
        }
    }

    /// Reads `[op] value` after a selector: returns negation, value texts and a verdict map if
    /// the selector is followed by `vmap { ... }`. Relational operators other than `==`/`!=` keep
    /// the operator in the value so it is not mistaken for an equality.
    fn op_value(&mut self) -> (bool, Vec<String>, Option<VerdictMap>) {
        let mut negated = false;
        let mut prefix = String::new();
        if let Some(w) = self.word(self.i)
            && OPS.contains(&w)
        {
            match w {
                "!=" | "ne" => negated = true,
                "==" | "eq" => {}
                other => prefix = format!("{other} "),
            }
            self.i += 1;
        }
        if self.word(self.i) == Some("vmap") {
            self.i += 1;
            let mut vm = VerdictMap {
                key: String::new(),
                entries: Vec::new(),
                map_ref: None,
            };
            match self.atoms.get(self.i) {
                Some(Atom::Group(g)) => vm.entries = vmap_entries(g),
                Some(Atom::Word(w)) => vm.map_ref = Some(w.trim_start_matches('@').to_owned()),
                _ => {}
            }
            self.i += 1;
            return (negated, Vec::new(), Some(vm));
        }
        let mut values = Vec::new();
        loop {
            match self.atoms.get(self.i) {
                Some(Atom::Group(g)) => {
                    values.extend(group_values(g, false));
                    self.i += 1;
                }
                Some(Atom::Word(w)) => {
                    values.extend(
                        w.split(',')
                            .filter(|s| !s.is_empty())
                            .map(|s| format!("{prefix}{s}")),
                    );
                    self.i += 1;
                }
                Some(Atom::Str(s)) => {
                    values.push(format!("{prefix}{s}"));
                    self.i += 1;
                }
                _ => break,
            }
            // `established, related` (comma lists with spaces).
            if matches!(self.atoms.get(self.i), Some(Atom::Comma)) {
                self.i += 1;
                continue;
            }
            // `ct state established,related`: a trailing comma inside the word continues too.
            if values.last().is_some_and(|v| v.ends_with(',')) {
                continue;
            }
            break;
        }
        (negated, values, None)
    }

    /// Consumes an opaque item starting at `self.i`, forcing at least `min` atoms in.
    fn opaque(&mut self, rule: &mut Rule, min: usize) {
        let start = self.i;
        let statement = self
            .word(start)
            .is_some_and(|w| STATEMENT_WORDS.contains(&w));
        self.i += min.max(1);
        // A concatenation (`meta l4proto . th dport @set`) stays one item.
        while self.i < self.atoms.len()
            && (!self.is_keyword_at(self.i)
                || self.word(self.i - 1) == Some(".")
                || self.word(self.i + 1) == Some("."))
        {
            if self.word(self.i) == Some("vmap") {
                // `<unknown key> vmap { ... }`: keep the map, key as text.
                let key = self.atoms[start..self.i]
                    .iter()
                    .map(atom_text)
                    .collect::<Vec<_>>()
                    .join(" ");
                let (_, _, vm) = self.op_value();
                if let Some(mut vm) = vm {
                    vm.key = key;
                    rule.vmap = Some(vm);
                }
                return;
            }
            self.i += 1;
        }
        let end = self.i.min(self.atoms.len());
        let text = self.atoms[start.min(end)..end]
            .iter()
            .map(atom_text)
            .collect::<Vec<_>>()
            .join(" ");
        let statement =
            statement || self.atoms[start.min(end)..end].contains(&Atom::Word("set".into()));
        rule.opaque.push(Opaque { text, statement });
    }

    /// True when the selector at `self.i` (two words) is followed by a concatenation `.`.
    fn concatenated(&self) -> bool {
        self.word(self.i + 2) == Some(".")
    }
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_owned());
    }
}

/// Reduces one rule's tokens to the model.
fn parse_rule(toks: &[Tok], location: Location) -> Rule {
    let atoms = atomize(toks);
    let text = atoms_text(&atoms);
    let mut rule = Rule::new(text, Some(location));
    let mut r = RuleReader {
        atoms: &atoms,
        i: 0,
    };
    while r.i < atoms.len() {
        let Some(w) = r.word(r.i).map(str::to_owned) else {
            r.opaque(&mut rule, 1);
            continue;
        };
        let next = r.word(r.i + 1).map(str::to_owned);
        match (w.as_str(), next.as_deref()) {
            (p, Some("dport")) if (p == "th" || L4_PROTOCOLS.contains(&p)) && !r.concatenated() => {
                r.i += 2;
                if p != "th" {
                    push_unique(&mut rule.protocols, p);
                }
                let (neg, values, vm) = r.op_value();
                if let Some(mut vm) = vm {
                    vm.key = format!("{p} dport");
                    rule.vmap = Some(vm);
                } else {
                    rule.dports
                        .push(port_match((p != "th").then(|| p.to_owned()), neg, &values));
                }
            }
            ("ip" | "ip6", Some("saddr")) if !r.concatenated() => {
                r.i += 2;
                let (negated, values, vm) = r.op_value();
                let key = format!("{w} saddr");
                match vm {
                    Some(mut vm) => {
                        vm.key = key;
                        rule.vmap = Some(vm);
                    }
                    None => rule.saddr.push(ValueMatch {
                        key,
                        negated,
                        values,
                    }),
                }
            }
            ("ip", Some("protocol")) | ("ip6", Some("nexthdr")) | ("meta", Some("l4proto"))
                if !r.concatenated() =>
            {
                r.i += 2;
                protocols(
                    &mut r,
                    &mut rule,
                    &format!("{w} {}", next.as_deref().unwrap_or("")),
                );
            }
            ("meta", Some(k @ ("iifname" | "iif"))) if !r.concatenated() => {
                r.i += 2;
                iface(&mut r, &mut rule, k);
            }
            ("iifname" | "iif", _) if r.word(r.i + 1) != Some(".") => {
                r.i += 1;
                iface(&mut r, &mut rule, &w);
            }
            ("ct", Some("state")) if !r.concatenated() => {
                r.i += 2;
                let (negated, values, vm) = r.op_value();
                match vm {
                    Some(mut vm) => {
                        vm.key = "ct state".into();
                        rule.vmap = Some(vm);
                    }
                    None => rule.ct_state.push(ValueMatch {
                        key: "ct state".into(),
                        negated,
                        values,
                    }),
                }
            }
            ("ct", Some("count")) => {
                rule.ct_count = true;
                r.i += 2;
                if r.word(r.i) == Some("over") {
                    r.i += 1;
                }
                r.i += 1;
            }
            ("limit", _) => {
                rule.limit = true;
                r.i += 1;
                while r.i < atoms.len() && !r.is_keyword_at(r.i) {
                    r.i += 1;
                }
            }
            ("meter", _) | ("add" | "update", _)
                if w == "meter" || next.as_deref().is_some_and(|n| n.starts_with('@')) =>
            {
                rule.meter = true;
                r.i += 1;
                while r.i < atoms.len() {
                    if let Some(Atom::Group(g)) = atoms.get(r.i) {
                        rule.meter_limit |= g
                            .iter()
                            .flatten()
                            .any(|a| matches!(a, Atom::Word(w) if w == "limit" || w == "count"));
                        r.i += 1;
                        break;
                    }
                    r.i += 1;
                }
            }
            ("log", _) => {
                rule.log = true;
                r.i += 1;
                while let Some(opt) = r.word(r.i) {
                    if !matches!(
                        opt,
                        "prefix" | "level" | "flags" | "group" | "snaplen" | "queue-threshold"
                    ) {
                        break;
                    }
                    r.i += 2;
                    while matches!(atoms.get(r.i), Some(Atom::Comma)) {
                        r.i += 2;
                    }
                }
            }
            ("counter", _) => {
                rule.counter = true;
                r.i += 1;
                while let Some(opt) = r.word(r.i) {
                    if !matches!(opt, "packets" | "bytes" | "name") {
                        break;
                    }
                    r.i += 2;
                }
            }
            ("comment", _) => r.i += 2,
            ("accept" | "drop" | "return" | "continue", _) => {
                rule.verdict = Verdict::from_words(&w, None);
                r.i += 1;
            }
            ("jump" | "goto", Some(target)) => {
                rule.verdict = Verdict::from_words(&w, Some(target));
                r.i += 2;
            }
            ("jump" | "goto", None) => {
                if let Some(Atom::Str(target)) = atoms.get(r.i + 1) {
                    rule.verdict = Verdict::from_words(&w, Some(target));
                }
                r.i += 2;
            }
            ("reject" | "queue", _) => {
                rule.verdict = Verdict::from_words(&w, None);
                r.i += 1;
                // `reject with icmpx type ...`, `queue num 1 bypass`: options to the end,
                // except a trailing comment.
                while r.i < atoms.len() && r.word(r.i) != Some("comment") {
                    r.i += 1;
                }
            }
            (p, Some(_)) if L4_PROTOCOLS.contains(&p) => {
                push_unique(&mut rule.protocols, p);
                r.opaque(&mut rule, 2);
            }
            ("ip" | "ip6" | "meta" | "ct", _) => r.opaque(&mut rule, 2),
            _ => r.opaque(&mut rule, 1),
        }
    }
    rule
}

fn protocols(r: &mut RuleReader<'_>, rule: &mut Rule, key: &str) {
    let (negated, values, vm) = r.op_value();
    if let Some(mut vm) = vm {
        vm.key = key.to_owned();
        rule.vmap = Some(vm);
        return;
    }
    for v in values {
        let v = match v.as_str() {
            "6" => "tcp",
            "17" => "udp",
            other => other,
        };
        if negated {
            push_unique(&mut rule.protocols_negated, v);
        } else {
            push_unique(&mut rule.protocols, v);
        }
    }
}

fn iface(r: &mut RuleReader<'_>, rule: &mut Rule, key: &str) {
    let (negated, values, vm) = r.op_value();
    match vm {
        Some(mut vm) => {
            vm.key = key.to_owned();
            rule.vmap = Some(vm);
        }
        None => rule.iif.push(ValueMatch {
            key: key.to_owned(),
            negated,
            values,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Ruleset {
        parse_ruleset_text(text, "/etc/nftables.conf").unwrap()
    }

    fn err(text: &str) -> String {
        parse_ruleset_text(text, "/etc/nftables.conf")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn debian_shape_with_defines_comments_and_continuations() {
        let rs = parse(
            "#!/usr/sbin/nft -f\nflush ruleset\ndefine SSH = 22 # ssh\ndefine IFS = { \"lo\" }\n\
             table inet filter {\n  chain input {\n    type filter hook input priority filter; policy drop;\n\
                 iifname $IFS accept\n    tcp dport $SSH ct state new \\\n      limit rate 5/minute accept\n\
                 ct state vmap {\n      established : accept,\n      related:accept,\n      invalid : drop,\n\
                   new : jump allow\n    }\n  }\n  chain allow { tcp dport { 80, 443 } accept; return; }\n}\n",
        );
        let t = rs.table("inet", "filter").unwrap();
        let input = t.chain("input").unwrap();
        let b = input.base.as_ref().unwrap();
        assert_eq!(
            (b.hook.as_str(), b.priority, b.policy.as_deref()),
            ("input", Some(0), Some("drop"))
        );
        assert_eq!(input.rules.len(), 3);
        assert_eq!(input.rules[0].iif[0].values, vec!["lo"]);
        let ssh = &input.rules[1];
        assert!(ssh.limit);
        assert_eq!(
            ssh.dports[0].ports,
            vec![super::super::PortRange::single(22)]
        );
        assert_eq!(ssh.location.as_ref().unwrap().line, 9);
        assert_eq!(ssh.verdict, Some(Verdict::Accept));
        let vm = input.rules[2].vmap.as_ref().unwrap();
        assert_eq!(vm.key, "ct state");
        let keys: Vec<_> = vm
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.verdict.to_string()))
            .collect();
        assert_eq!(
            keys,
            [
                ("established", "accept".to_owned()),
                ("related", "accept".to_owned()),
                ("invalid", "drop".to_owned()),
                ("new", "jump allow".to_owned())
            ]
        );
        let allow = t.chain("allow").unwrap();
        assert_eq!(allow.rules.len(), 2);
        assert_eq!(allow.rules[1].verdict, Some(Verdict::Return));
    }

    #[test]
    fn rule_reduction() {
        let rs = parse(
            "table ip t {\n chain c {\n\
             ip saddr != 10.0.0.0/8 udp dport 1000-2000 counter log prefix \"x\" level info drop\n\
             meta l4proto { tcp, udp } th dport 53 accept\n\
             tcp dport 22 add @m { ip saddr limit rate over 3/minute } drop\n\
             tcp dport 23 meter mm size 100 { ip saddr ct count over 2 } reject with tcp reset\n\
             ct count over 5 drop\n\
             notrack\n\
             frobnicate 7 accept\n\
             ct state != established,related jump x\n\
             }\n}",
        );
        let r = &rs.table("ip", "t").unwrap().chain("c").unwrap().rules;
        assert!(r[0].saddr[0].negated && r[0].counter && r[0].log);
        assert_eq!(r[0].protocols, vec!["udp"]);
        assert_eq!(r[0].dports[0].ports[0].end, 2000);
        assert_eq!(r[0].verdict, Some(Verdict::Drop));
        assert_eq!(r[1].protocols, vec!["tcp", "udp"]);
        assert_eq!(r[1].dports[0].protocol, None);
        assert!(r[2].meter && r[2].meter_limit && !r[2].limit);
        assert!(r[3].meter && r[3].meter_limit);
        assert_eq!(r[3].verdict, Some(Verdict::Reject));
        assert!(r[4].ct_count);
        assert!(r[5].opaque[0].statement && r[5].is_unconditional());
        assert!(!r[6].opaque[0].statement && !r[6].is_unconditional());
        assert_eq!(r[6].verdict, Some(Verdict::Accept));
        assert!(r[7].ct_state[0].negated);
        assert_eq!(r[7].ct_state[0].values, vec!["established", "related"]);
        assert_eq!(r[7].verdict, Some(Verdict::Jump("x".into())));
    }

    #[test]
    fn command_forms_and_deletes() {
        let rs = parse(
            "add table inet f\nadd chain inet f input { type filter hook input priority 0 ; policy drop ; }\n\
             add rule inet f input tcp dport 22 accept\ninsert rule inet f input iif lo accept\n\
             add set inet f s { type inet_service ; }\nadd element inet f s { 80, 443 }\n\
             table ip old { chain c { drop } }\ndelete table ip old\nadd table filter\n\
             add rule filter input2 accept\nflush chain filter input2\n",
        );
        let f = rs.table("inet", "f").unwrap();
        let input = f.chain("input").unwrap();
        assert!(input.base.as_ref().unwrap().policy_is_drop());
        assert_eq!(input.rules[0].iif[0].values, vec!["lo"]);
        assert_eq!(f.set("s").unwrap().elements, vec!["80", "443"]);
        assert!(rs.table("ip", "old").is_none());
        assert!(
            rs.table("ip", "filter")
                .unwrap()
                .chain("input2")
                .unwrap()
                .rules
                .is_empty()
        );
        let flushed = parse("table inet x { chain c { accept } }\nflush ruleset\n");
        assert!(flushed.tables.is_empty());
    }

    #[test]
    fn sets_and_maps() {
        let rs = parse(
            "table inet t {\n set p {\n  type inet_service; flags interval\n  elements = { 22,\n 1000-2000 }\n }\n\
             map m { type inet_service : verdict; elements = { 80 : accept } }\n}",
        );
        let t = rs.table("inet", "t").unwrap();
        let p = t.set("p").unwrap();
        assert_eq!(p.flags, vec!["interval"]);
        assert_eq!(p.elements, vec!["22", "1000-2000"]);
        let m = t.set("m").unwrap();
        assert!(m.is_map);
        assert_eq!(m.elements, vec!["80"]);
    }

    #[test]
    fn errors_name_file_and_line() {
        assert_eq!(
            err("table inet t {\n chain c {\n accept\n"),
            "/etc/nftables.conf:2: unbalanced '{': missing '}'"
        );
        assert_eq!(
            err("flush ruleset\n}\n"),
            "/etc/nftables.conf:2: unbalanced '}'"
        );
        assert_eq!(
            err("\n\nbogus words\n"),
            "/etc/nftables.conf:3: unexpected 'bogus'"
        );
        assert_eq!(
            err("table inet t { chain c { tcp dport $NOPE accept } }"),
            "/etc/nftables.conf:1: undefined variable $NOPE"
        );
        assert_eq!(
            err("include \"x\nfoo"),
            "/etc/nftables.conf:1: unterminated string"
        );
        // Values expand when defined, as in nft: a self-reference is undefined.
        assert_eq!(
            err("define a = $a\n"),
            "/etc/nftables.conf:1: undefined variable $a"
        );
        let mut bomb = String::from("define a = 1\n");
        for _ in 0..40 {
            bomb.push_str("redefine a = { $a, $a }\n");
        }
        assert!(err(&bomb).contains("expansions"));
        assert!(err("table inet t { chain c { policy drop; } }").contains(":1:"));
        assert!(err("table inet t { chain c { tcp dport { 22 accept } }").contains(":1:"));
    }

    fn files(
        list: &[(&str, &str)],
    ) -> impl FnMut(&str, &str, usize) -> Result<Vec<(String, String)>, FirewallError> {
        let map: HashMap<String, String> = list
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect();
        move |pattern: &str, _from: &str, line: usize| {
            map.get(pattern)
                .map(|t| vec![(pattern.to_owned(), t.clone())])
                .ok_or_else(|| syntax("inc", line, format!("{pattern} not found")))
        }
    }

    #[test]
    fn includes_cycles_and_depth() {
        let mut r = files(&[
            ("/a", "define P = 22\ninclude \"/b\""),
            ("/b", "table inet t { chain c { tcp dport $P accept } }"),
        ]);
        let rs = parse_ruleset_text_with("include \"/a\"\n", "/main", &mut r).unwrap();
        let rule = &rs.table("inet", "t").unwrap().chain("c").unwrap().rules[0];
        assert_eq!(rule.location.as_ref().unwrap().file, "/b");
        assert_eq!(rule.dports[0].ports[0].start, 22);

        let mut r = files(&[("/a", "include \"/b\""), ("/b", "include \"/a\"")]);
        let e = parse_ruleset_text_with("include \"/a\"", "/main", &mut r).unwrap_err();
        assert!(e.to_string().contains("include cycle"), "{e}");

        let chain: Vec<(String, String)> = (0..40)
            .map(|i| (format!("/f{i}"), format!("include \"/f{}\"", i + 1)))
            .collect();
        let refs: Vec<(&str, &str)> = chain
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let mut r = files(&refs);
        let e = parse_ruleset_text_with("include \"/f0\"", "/main", &mut r).unwrap_err();
        assert!(e.to_string().contains("nested deeper"), "{e}");

        // Without a resolver, includes are skipped.
        assert!(parse_ruleset_text("include \"/nix/store/x-rules\"\n", "/x").is_ok());
    }

    #[test]
    fn render_text_summary() {
        let rs = parse(
            "table inet f { chain input { type filter hook input priority 0; policy drop;\n tcp dport 22 accept\n } }",
        );
        let s = rs.render_text();
        assert!(s.contains("table inet f"));
        assert!(s.contains("chain input (type filter hook input priority 0 policy drop)"));
        assert!(s.contains("    tcp dport 22 accept"));
    }
}
