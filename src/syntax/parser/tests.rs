//! Parser tests: precedence, statements and items, the conformance files,
//! error messages (insta snapshots) and robustness on garbage input.

use super::*;
use crate::syntax::SourceMap;
use crate::syntax::ast::*;
use std::path::PathBuf;

/// A compact, parenthesized rendering of an expression, for precedence tests.
fn sx(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(i) => i.to_string(),
        ExprKind::Float(f) => format!("{f:?}"),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Name(n) => n.to_string(),
        ExprKind::Unary(op, a) => format!("({} {})", if *op == UnOp::Neg { "-" } else { "!" }, sx(a)),
        ExprKind::Binary(op, a, b) => format!("({} {} {})", op.symbol(), sx(a), sx(b)),
        ExprKind::Call { callee, args } => {
            let args: Vec<String> = args
                .iter()
                .map(|a| match &a.name {
                    Some(n) => format!("{}: {}", n.name, sx(&a.value)),
                    None => sx(&a.value),
                })
                .collect();
            format!("(call {} {})", sx(callee), args.join(" "))
        }
        ExprKind::Index { base, indices } => {
            let idx: Vec<String> = indices
                .iter()
                .map(|i| match i {
                    IndexArg::Index(e) => sx(e),
                    IndexArg::Slice { lo, hi, .. } => format!(
                        "{}:{}",
                        lo.as_ref().map(sx).unwrap_or_default(),
                        hi.as_ref().map(sx).unwrap_or_default()
                    ),
                })
                .collect();
            format!("(index {} {})", sx(base), idx.join(" "))
        }
        ExprKind::Field { base, field } => format!("(. {} {})", sx(base), field.name),
        ExprKind::TupleIndex { base, index, .. } => format!("(. {} {index})", sx(base)),
        ExprKind::StructLit { path, fields, base } => {
            let p: Vec<String> = path.iter().map(|i| i.name.to_string()).collect();
            let f: Vec<String> = fields
                .iter()
                .map(|(n, e)| format!("{}: {}", n.name, sx(e)))
                .collect();
            let b = base.as_ref().map(|b| format!(" ..{}", sx(b))).unwrap_or_default();
            format!("(struct {} {}{b})", p.join("."), f.join(" "))
        }
        ExprKind::Tuple(es) => format!("(tuple {})", es.iter().map(sx).collect::<Vec<_>>().join(" ")),
        ExprKind::TensorLit(es) => format!("[{}]", es.iter().map(sx).collect::<Vec<_>>().join(" ")),
        ExprKind::Lambda { params, body } => {
            let p: Vec<String> = params.iter().map(|p| p.name.name.to_string()).collect();
            format!("(lambda ({}) {})", p.join(" "), sx(body))
        }
        ExprKind::Block(b) => sblock(b),
        ExprKind::If { cond, then, else_ } => format!(
            "(if {} {}{})",
            sx(cond),
            sblock(then),
            else_.as_ref().map(|e| format!(" {}", sx(e))).unwrap_or_default()
        ),
        ExprKind::For { pat, iter, body } => format!("(for {} {} {})", spat(pat), sx(iter), sblock(body)),
        ExprKind::Range { lo, hi } => format!("(.. {} {})", sx(lo), sx(hi)),
        ExprKind::While { cond, body } => format!("(while {} {})", sx(cond), sblock(body)),
        ExprKind::Break => "break".into(),
        ExprKind::Continue => "continue".into(),
        ExprKind::Return(e) => format!(
            "(return{})",
            e.as_ref().map(|e| format!(" {}", sx(e))).unwrap_or_default()
        ),
        ExprKind::Error => "<error>".into(),
    }
}

fn spat(p: &Pattern) -> String {
    match p {
        Pattern::Name(i) => i.name.to_string(),
        Pattern::Wildcard(_) => "_".into(),
        Pattern::Tuple { elems, .. } => format!("({})", elems.iter().map(spat).collect::<Vec<_>>().join(" ")),
    }
}

fn sstmt(s: &Stmt) -> String {
    match &s.kind {
        StmtKind::Let {
            mutable, pat, value, ..
        } => {
            format!(
                "(let{} {} {})",
                if *mutable { " mut" } else { "" },
                spat(pat),
                sx(value)
            )
        }
        StmtKind::Assign { target, op, value } => format!(
            "({}= {} {})",
            op.map(|o| o.symbol()).unwrap_or(""),
            spat(target),
            sx(value)
        ),
        StmtKind::Expr(e) => format!("{};", sx(e)),
    }
}

fn sblock(b: &Block) -> String {
    let mut parts: Vec<String> = b.stmts.iter().map(sstmt).collect();
    if let Some(t) = &b.tail {
        parts.push(sx(t));
    }
    format!("{{{}}}", parts.join(" "))
}

fn parse_ok(src: &str) -> Module {
    let (m, d) = parse_module(src, FileId(0));
    assert!(d.is_empty(), "unexpected diagnostics for {src:?}: {d:#?}");
    m
}

/// The expression of `let it = <src>;`.
fn expr(src: &str) -> String {
    let m = parse_ok(&format!("let it = {src};"));
    match m.stmts.first().map(|s| &s.kind) {
        Some(StmtKind::Let { value, .. }) => sx(value),
        other => format!("not a let: {other:?}"),
    }
}

fn stmts(src: &str) -> String {
    let m = parse_ok(src);
    m.stmts.iter().map(sstmt).collect::<Vec<_>>().join(" ")
}

#[test]
fn precedence_and_associativity() {
    assert_eq!(expr("-2.0 ** 2"), "(- (** 2.0 2))");
    assert_eq!(expr("2.0 ** 3 ** 2"), "(** 2.0 (** 3 2))");
    assert_eq!(expr("2.0 ** -1.0"), "(** 2.0 (- 1.0))");
    assert_eq!(expr("1 + 2 * 3"), "(+ 1 (* 2 3))");
    assert_eq!(expr("a @ b + c"), "(+ (@ a b) c)");
    assert_eq!(expr("!a && b || c"), "(|| (&& (! a) b) c)");
    assert_eq!(expr("a - b - c"), "(- (- a b) c)");
    assert_eq!(expr("a / b % c * d"), "(* (% (/ a b) c) d)");
    assert_eq!(expr("a + 1 < b * 2 && c"), "(&& (< (+ a 1) (* b 2)) c)");
}

#[test]
fn comparison_is_not_associative() {
    let (_, d) = parse_module("let x = a < b < c;", FileId(0));
    assert!(!d.is_empty());
}

#[test]
fn ranges_and_postfix() {
    assert_eq!(expr("0..n + 1"), "(.. 0 (+ n 1))");
    assert_eq!(expr("progress(0..20)"), "(call progress (.. 0 20))");
    assert_eq!(
        expr("f(x, axis: 1)(y).w[0]"),
        "(index (. (call (call f x axis: 1) y) w) 0)"
    );
    assert_eq!(expr("t[i, :, 1:3, -1, a:, :b]"), "(index t i : 1:3 (- 1) a: :b)");
    assert_eq!(expr("t.0.1"), "(. (. t 0) 1)");
    assert_eq!(expr("t.0.x"), "(. (. t 0) x)");
    assert_eq!(expr("m.l1.w"), "(. (. m l1) w)");
    assert_eq!(expr("-x.0 ** 2"), "(- (** (. x 0) 2))");
}

#[test]
fn literals_tuples_lambdas() {
    assert_eq!(expr("()"), "(tuple )");
    assert_eq!(expr("(a,)"), "(tuple a)");
    assert_eq!(expr("(a)"), "a");
    assert_eq!(expr("(a, b,)"), "(tuple a b)");
    assert_eq!(expr("[[1, 2], [3, 4],]"), "[[1 2] [3 4]]");
    assert_eq!(expr("[]"), "[]");
    assert_eq!(expr("\"a\\n\""), "\"a\\n\"");
    assert_eq!(expr("|x| x * 2.0"), "(lambda (x) (* x 2.0))");
    assert_eq!(expr("|a, b| { a + b }"), "(lambda (a b) {(+ a b)})");
    assert_eq!(expr("|| 1.0"), "(lambda () 1.0)");
    assert_eq!(expr("f(|x| x, 2)"), "(call f (lambda (x) x) 2)");
}

#[test]
fn struct_literals() {
    assert_eq!(expr("P { a: 1.0, ..base }"), "(struct P a: 1.0 ..base)");
    assert_eq!(expr("nn.Dense { w: x, b: y, }"), "(struct nn.Dense w: x b: y)");
    assert_eq!(expr("P {}"), "(struct P )");
    assert_eq!(expr("(P { a: 1 }).a"), "(. (struct P a: 1) a)");
    let (_, d) = parse_module("let x = f(1) { a: 1 };", FileId(0));
    assert!(d.iter().any(|d| d.message.contains("struct name")), "{d:?}");
}

#[test]
fn struct_literal_vs_block_in_conditions() {
    assert_eq!(stmts("if x { a }"), "(if x {a});");
    assert_eq!(stmts("while x.y { f(); }"), "(while (. x y) {(call f );});");
    assert_eq!(stmts("for p in ps { g(p) }"), "(for p ps {(call g p)});");
    assert_eq!(
        stmts("if (P { a: 1 }).a > 0 { 1 }"),
        "(if (> (. (struct P a: 1) a) 0) {1});"
    );
    assert_eq!(
        stmts("if f(P { a: 1 }) { 1 }"),
        "(if (call f (struct P a: 1)) {1});"
    );
    assert_eq!(
        stmts("let s = if x > 3 { 1 } else if x > 1 { 2 } else { 3 };"),
        "(let s (if (> x 3) {1} (if (> x 1) {2} {3})))"
    );
}

#[test]
fn statements() {
    assert_eq!(
        stmts(
            "let mut b = a; b += 4; b -= 1; b *= 2; b /= 3; (u, v) = (7, 8); let (x, _) = t; let y: float = 1.0;"
        ),
        "(let mut b a) (+= b 4) (-= b 1) (*= b 2) (/= b 3) (= (u v) (tuple 7 8)) (let (x _) t) (let y 1.0)"
    );
    // Block-like expressions stand without `;`; the last one is the block's value.
    assert_eq!(
        stmts("let c = { if a { 1 } for i in 0..n { f(i); } while c { break; } { 2 } };"),
        "(let c {(if a {1}); (for i (.. 0 n) {(call f i);}); (while c {break;}); {2}})"
    );
    // A block-like statement does not continue into an operator.
    assert_eq!(stmts("fn f() { if a { 1 } else { 2 } - 1 }"), "");
    let m = parse_ok("fn f() { if a { 1 } else { 2 } - 1 }");
    let Some(Item::Fn(f)) = m.items.first() else {
        panic!("no fn")
    };
    let ExprKind::Block(b) = &f.body.kind else {
        panic!("no block")
    };
    assert_eq!(sblock(b), "{(if a {1} {2}); (- 1)}");
    assert_eq!(
        stmts("return; return 1; continue; f(x);"),
        "(return); (return 1); continue; (call f x);"
    );
    let (_, d) = parse_module("f(x) = 3;", FileId(0));
    assert!(d.iter().any(|d| d.message.contains("left-hand side")), "{d:?}");
}

#[test]
fn items() {
    let m = parse_ok(
        "import nn; import nn as n; import \"lib/x.dl\" as x;\n\
         fn f(a, b = 1.0, c: Tensor, d: nn.Dense, e: (int, float),) -> float { a }\n\
         fn g(x) = x * 2;\n\
         struct P { a, b: Tensor, }\n\
         test \"name\" { assert(true, \"ok\"); }\n\
         adjoint f(x, out, dout) { dout }\n\
         let z = 1;",
    );
    assert_eq!(m.items.len(), 8);
    assert_eq!(m.stmts.len(), 1);
    let Some(Item::Fn(f)) = m.items.get(3) else {
        panic!("not a fn")
    };
    assert_eq!(f.params.len(), 5);
    assert!(f.ret.is_some());
    assert!(f.params.get(1).is_some_and(|p| p.default.is_some()));
    let Some(Item::Import(Import::File { path, alias, .. })) = m.items.get(2) else {
        panic!("import")
    };
    assert_eq!(path, "lib/x.dl");
    assert_eq!(alias.name.as_str(), "x");
}

#[test]
fn spans_cover_nodes() {
    let src = "let v = a + b * c;";
    let m = parse_ok(src);
    let Some(StmtKind::Let { value, .. }) = m.stmts.first().map(|s| &s.kind) else {
        panic!()
    };
    assert_eq!((value.span.lo, value.span.hi), (8, 17));
    assert_eq!(m.stmts.first().map(|s| (s.span.lo, s.span.hi)), Some((0, 18)));
}

fn conformance_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance")
}

fn dl_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [conformance_dir(), conformance_dir().join("errors")] {
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "dl") {
                    out.push(p);
                }
            }
        }
    }
    out.sort();
    out
}

const SYNTAX_ERROR_FILES: &[&str] = &["e01_unclosed_brace.dl", "e18_string.dl", "e19_bad_char.dl"];

#[test]
fn conformance_files_parse() {
    let files = dl_files();
    if files.is_empty() {
        eprintln!("conformance files not found; skipping");
        return;
    }
    for p in files {
        let src = std::fs::read_to_string(&p).unwrap_or_default();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (_, diags) = parse_module(&src, FileId(0));
        if SYNTAX_ERROR_FILES.contains(&name.as_str()) {
            assert!(!diags.is_empty(), "{name} should give a syntax error");
            // The `// expect: line N; any of: …` header.
            let header = src.lines().next().unwrap_or("");
            let line: usize = header
                .split("line ")
                .nth(1)
                .and_then(|s| s.split(';').next())
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            let words: Vec<&str> = header
                .split("any of:")
                .nth(1)
                .map(|s| s.split(',').map(str::trim).collect())
                .unwrap_or_default();
            let mut sm = SourceMap::new();
            let id = sm.add(name.clone(), None, src.clone());
            let d = diags.first().map(|d| Diagnostic {
                span: Span { file: id, ..d.span },
                ..d.clone()
            });
            let Some(d) = d else { panic!() };
            assert_eq!(sm.line_col(id, d.span.lo).0, line, "{name}: {d:?}");
            let text = crate::diag::render(&d, &sm, false).to_lowercase();
            assert!(words.iter().any(|w| text.contains(w)), "{name}: {text}");
        } else {
            assert!(diags.is_empty(), "{name}: {diags:#?}");
        }
    }
}

/// Renders every diagnostic of `src` as plain text, for snapshots.
fn render_errors(src: &str) -> String {
    let mut sm = SourceMap::new();
    let id = sm.add("input.dl", None, src);
    let (_, diags) = parse_module(src, id);
    let mut out = String::new();
    for d in &diags {
        let (line, col) = sm.line_col(id, d.span.lo);
        out.push_str(&format!("{line}:{col}: {}\n", d.message));
        out.push_str(&format!("  label: {}\n", d.label));
        for (s, l) in &d.secondary {
            let (sl, sc) = sm.line_col(s.file, s.lo);
            out.push_str(&format!("  secondary {sl}:{sc}: {l}\n"));
        }
        if let Some(h) = &d.help {
            out.push_str(&format!("  help: {h}\n"));
        }
    }
    out.push_str("---\n");
    out.push_str(&crate::diag::render_all(&diags, &sm, false));
    out
}

#[test]
fn error_unclosed_brace() {
    insta::assert_snapshot!(render_errors("fn f(x) {\n    x + 1\n"));
}

#[test]
fn error_unterminated_string() {
    insta::assert_snapshot!(render_errors("let a = 1;\nprint(\"hello);\n"));
}

#[test]
fn error_bad_char() {
    insta::assert_snapshot!(render_errors("let x = 3 $ 4;\n"));
}

#[test]
fn error_missing_semicolon() {
    insta::assert_snapshot!(render_errors("fn f(x) {\n    let y = x + 1\n    y\n}\n"));
}

#[test]
fn error_unclosed_paren_in_call() {
    insta::assert_snapshot!(render_errors("let y = f(1, 2;\nlet z = 3;\n"));
}

#[test]
fn several_errors_in_one_file() {
    let src = "fn f(x) {\n    let a = x + ;\n    let b = * 2;\n    a + b\n}\nlet c = (1, ;\nfn g(a b) { a }\nlet d = 4;\n";
    let (m, d) = parse_module(src, FileId(0));
    assert!(d.len() >= 3, "{d:#?}");
    // The items after the errors are still there.
    assert!(
        m.items
            .iter()
            .any(|i| matches!(i, Item::Fn(f) if f.name.name.as_str() == "g"))
    );
    assert!(
        m.stmts.iter().any(
            |s| matches!(&s.kind, StmtKind::Let { pat: Pattern::Name(n), .. } if n.name.as_str() == "d")
        )
    );
    insta::assert_snapshot!(render_errors(src));
}

#[test]
fn incomplete_input() {
    assert!(is_incomplete("fn f(x) {"));
    assert!(is_incomplete("let x = [1,\n 2"));
    assert!(is_incomplete("print(\"abc"));
    assert!(is_incomplete("/* comment"));
    assert!(!is_incomplete("let x = 1;"));
    assert!(!is_incomplete("fn f(x) { x }"));
    assert!(!is_incomplete("}"));
}

#[test]
fn no_panic_on_garbage() {
    let mut inputs: Vec<String> = vec![
        String::new(),
        "}".into(),
        ")))]]]".into(),
        "{{{{{{".into(),
        "let".into(),
        "fn".into(),
        "fn f(".into(),
        "if".into(),
        "||||||".into(),
        "t.99999999999".into(),
        "t.0.1.2e5".into(),
        "1..2..3".into(),
        "\"\\".into(),
        "/*".into(),
        "é ü 中 🙂".into(),
        "let x = 99999999999999999999999;".into(),
        "struct { fn } test adjoint import as".into(),
        ";;;;".into(),
        "a = = = b".into(),
        "x.{}".into(),
    ];
    // Pseudo-random bytes, mapped onto characters that the lexer knows and some it does not.
    let alphabet: Vec<char> = "abfnlet(){}[]<>=!&|+-*/%@.,;:\"\\ \n0123456789$#_eE"
        .chars()
        .collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..300 {
        let mut s = String::new();
        for _ in 0..40 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let c = alphabet
                .get((state % alphabet.len() as u64) as usize)
                .copied()
                .unwrap_or(' ');
            s.push(c);
        }
        inputs.push(s);
    }
    for _ in 0..100 {
        let mut bytes = Vec::new();
        for _ in 0..64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            bytes.push((state >> 24) as u8);
        }
        inputs.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    inputs.push("(".repeat(5000));
    inputs.push(format!("let x = {}1{};", "[".repeat(5000), "]".repeat(5000)));
    inputs.push(format!("let x = {}1;", "-".repeat(5000)));
    inputs.push(format!("let x = {}1;", "|x| ".repeat(5000)));
    for p in dl_files() {
        let src = std::fs::read_to_string(&p).unwrap_or_default();
        let mut cut = 0;
        while cut < src.len() {
            if let Some(prefix) = src.get(..cut) {
                inputs.push(prefix.to_string());
            }
            cut += 7;
        }
    }
    for src in &inputs {
        let (_, _) = parse_module(src, FileId(0));
        let _ = is_incomplete(src);
    }
}

#[test]
fn error_message_gallery() {
    let mut out = String::new();
    for src in [
        "fn f() { let x = ; }",
        "fn f() { x + }",
        "fn f() { let a = 1 let b = 2; a }",
        ") let x = 1;",
        "}",
        "let x = 1;\n}\nlet y = 2;",
        "fn f(x) { x }\nfn (x) { x }\nlet y = 2;",
        "struct P { a b }",
        "let x = [1, 2;",
        "let x = (1 + 2];",
        "if x = 1 { }",
        "let 3 = x;",
        "import \"x\";",
        "let x = t.1e3;",
        "fn f() {}\n=",
        "{ = }",
        "let f = |x x;",
        "print(a,, b);",
    ] {
        out.push_str(&format!(
            "### {src}\n{}",
            render_errors(src).split("---").next().unwrap_or("")
        ));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let (_, d) = parse_module(
        &format!("let x = {}1{};", "(".repeat(300), ")".repeat(300)),
        FileId(0),
    );
    assert!(d.iter().any(|d| d.message.contains("nested too deeply")), "{d:?}");
    parse_ok(&format!("let x = {}1{};", "(".repeat(100), ")".repeat(100)));
}

#[test]
fn long_operator_chains() {
    let src = format!("let x = 1{};", " + 1".repeat(20000));
    let (_, d) = parse_module(&src, FileId(0));
    assert!(d.is_empty());
}
