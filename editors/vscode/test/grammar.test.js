'use strict';
// Grammar tests: run with `npm test` (node --test test/).
const { test, describe, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const ROOT = path.resolve(__dirname, '..');
const REPO = path.resolve(ROOT, '..', '..');
const GRAMMAR_PATH = path.join(ROOT, 'syntaxes', 'diffl.tmLanguage.json');
const WASM_PATH = path.join(ROOT, 'node_modules', 'vscode-oniguruma', 'release', 'onig.wasm');

let grammar;

async function loadGrammar() {
  const wasm = fs.readFileSync(WASM_PATH);
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName) => {
      if (scopeName !== 'source.diffl') return null;
      const text = fs.readFileSync(GRAMMAR_PATH, 'utf8');
      return vsctm.parseRawGrammar(text, GRAMMAR_PATH);
    },
  });
  const g = await registry.loadGrammar('source.diffl');
  assert.ok(g, 'grammar source.diffl did not load');
  return g;
}

// Tokenize a whole text; returns [{line, tokens: [{text, start, end, scopes}]}] and the final state.
function tokenize(text) {
  let stack = vsctm.INITIAL;
  const lines = text.split(/\r?\n/);
  const out = [];
  lines.forEach((line, i) => {
    const r = grammar.tokenizeLine(line, stack, 5000);
    if (r.stoppedEarly) throw new Error(`line ${i + 1} stopped early: ${line}`);
    out.push({
      line,
      tokens: r.tokens.map((t, k) => ({
        text: line.slice(t.startIndex, k + 1 < r.tokens.length ? r.tokens[k + 1].startIndex : line.length),
        start: t.startIndex,
        end: k + 1 < r.tokens.length ? r.tokens[k + 1].startIndex : line.length,
        scopes: t.scopes,
      })),
    });
    stack = r.ruleStack;
  });
  return { lines: out, stack };
}

// Scopes of the token covering the first occurrence of `needle` in line `line` (0-based) of
// `text` (nth occurrence with `occurrence`). The whole needle must lie inside a single token.
function scopesAt(line, text, needle, occurrence = 0) {
  const { lines } = tokenize(text);
  const l = lines[line];
  assert.ok(l, `no line ${line}`);
  let at = -1;
  for (let k = 0; k <= occurrence; k++) {
    at = l.line.indexOf(needle, at + 1);
    assert.ok(at >= 0, `"${needle}" (occurrence ${occurrence}) not in line: ${l.line}`);
  }
  const tok = l.tokens.find((t) => t.start <= at && at < t.end);
  assert.ok(tok, `no token at ${at}`);
  assert.ok(at + needle.length <= tok.end,
    `"${needle}" is split across tokens; token is "${tok.text}" ${JSON.stringify(tok.scopes)}`);
  return tok.scopes;
}

// The innermost scope of `needle` in a one-line snippet.
function scopeOf(src, needle, occurrence = 0) {
  const scopes = scopesAt(0, src, needle, occurrence);
  return scopes[scopes.length - 1];
}

// Assert that the `occurrence`-th token whose text is exactly `needle` has innermost scope
// `scope` (fails when no token is exactly `needle`, so a needle split across tokens fails too).
function expectToken(src, needle, scope, occurrence = 0) {
  const { lines } = tokenize(src);
  const toks = lines.flatMap((l) => l.tokens).filter((t) => t.text === needle);
  assert.ok(toks.length > occurrence,
    `no token "${needle}" (occurrence ${occurrence}) in ${src}\n${dump(src)}`);
  const tok = toks[occurrence];
  assert.equal(tok.scopes[tok.scopes.length - 1], scope, `scope of "${needle}" in ${src}`);
}

function dump(src) {
  return tokenize(src).lines.map((l) =>
    l.tokens.map((t) => `${JSON.stringify(t.text)}=${t.scopes.slice(1).join(' ')}`).join(' | ')).join('\n');
}

function dlFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name === 'node_modules' || e.name === 'target' || e.name.startsWith('.')) continue;
      out.push(...dlFiles(p));
    } else if (e.isFile() && e.name.endsWith('.dl')) {
      out.push(p);
    }
  }
  return out.sort();
}

before(async () => {
  grammar = await loadGrammar();
});

describe('package', () => {
  test('package.json contributes the language, grammar and snippets', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const lang = pkg.contributes.languages.find((l) => l.id === 'diffl');
    assert.deepEqual(lang.extensions, ['.dl']);
    const gr = pkg.contributes.grammars.find((g) => g.language === 'diffl');
    assert.equal(gr.scopeName, 'source.diffl');
    for (const rel of [lang.configuration, gr.path, pkg.contributes.snippets[0].path]) {
      JSON.parse(fs.readFileSync(path.join(ROOT, rel), 'utf8'));
    }
  });

  test('language configuration: brackets, pairs, indentation', () => {
    const c = JSON.parse(fs.readFileSync(path.join(ROOT, 'language-configuration.json'), 'utf8'));
    assert.equal(c.comments.lineComment, '//');
    assert.deepEqual(c.comments.blockComment, ['/*', '*/']);
    assert.ok(!c.autoClosingPairs.some((p) => p.open === '|'), '| must not auto-close');
    const quote = c.autoClosingPairs.find((p) => p.open === '"');
    assert.ok(quote.notIn.includes('string'));
    const inc = new RegExp(c.indentationRules.increaseIndentPattern);
    const dec = new RegExp(c.indentationRules.decreaseIndentPattern);
    assert.ok(inc.test('fn f(x) {'));
    assert.ok(inc.test('let t = ['));
    assert.ok(inc.test('    nn.dense_init(  // comment'));
    assert.ok(!inc.test('let y = f(x);'));
    assert.ok(!inc.test('// a comment {'));
    assert.ok(dec.test('    }'));
    assert.ok(dec.test('];'));
    assert.ok(dec.test(')'));
    assert.ok(!dec.test('    x + 1'));
  });

  test('snippets parse and include the required prefixes', () => {
    const s = JSON.parse(fs.readFileSync(path.join(ROOT, 'snippets', 'diffl.json'), 'utf8'));
    const prefixes = Object.values(s).flatMap((v) => [].concat(v.prefix));
    for (const p of ['fn', 'struct', 'test', 'for', 'while', 'if', 'import', 'train']) {
      assert.ok(prefixes.includes(p), `missing snippet prefix ${p}`);
    }
    const fnForms = Object.values(s).filter((v) => [].concat(v.prefix).includes('fn'));
    assert.ok(fnForms.some((v) => v.body.join('\n').includes(') {')), 'fn with a block body');
    assert.ok(fnForms.some((v) => v.body.join('\n').includes(') = ')), 'fn with an expression body');
    const train = Object.values(s).find((v) => [].concat(v.prefix).includes('train')).body.join('\n');
    assert.match(train, /value_and_grad\(/);
    assert.match(train, /optim\.adam\(/);
    assert.match(train, /optim\.adam_init\(/);
  });
});

describe('every .dl file in the repository tokenizes', () => {
  const files = ['examples', 'stdlib', 'tests'].flatMap((d) => dlFiles(path.join(REPO, d)));

  test('there are .dl files to check', () => {
    assert.ok(files.length > 0, 'no .dl files found under examples/, stdlib/, tests/');
  });

  for (const file of files) {
    const rel = path.relative(REPO, file);
    test(rel, () => {
      const text = fs.readFileSync(file, 'utf8');
      const { lines, stack } = tokenize(text);
      lines.forEach((l, i) => {
        // tokens cover the line with no gaps
        let pos = 0;
        for (const t of l.tokens) {
          assert.equal(t.start, pos, `${rel}:${i + 1}: gap in tokens`);
          assert.ok(t.scopes[0] === 'source.diffl', `${rel}:${i + 1}: root scope`);
          pos = t.end;
        }
        assert.ok(pos >= l.line.length, `${rel}:${i + 1}: line not fully tokenized`);
      });
      // Well-formed programs leave no construct open at the end of the file and use no
      // invalid escapes. Programs under tests/errors/ are deliberately broken.
      if (!rel.split(path.sep).includes('errors')) {
        assert.equal(stack.depth, 1, `${rel}: a bracket, string or comment is left open at the end`);
        lines.forEach((l, i) => {
          for (const t of l.tokens) {
            assert.ok(!t.scopes.some((s) => s.startsWith('invalid.')),
              `${rel}:${i + 1}: invalid token "${t.text}"`);
          }
        });
      }
    });
  }
});

describe('scopes', () => {
  test('control keywords', () => {
    for (const kw of ['if', 'else', 'for', 'in', 'while', 'break', 'continue', 'return']) {
      expectToken(`${kw} x`, kw, 'keyword.control.diffl');
    }
    expectToken('for (xb, yb) in pairs { }', 'for', 'keyword.control.diffl');
    expectToken('for (xb, yb) in pairs { }', 'in', 'keyword.control.diffl');
    expectToken('let s = if x > 3 { 1 } else if x > 1 { 2 } else { 3 };', 'else', 'keyword.control.diffl', 1);
    expectToken('while (k < 3) { k += 1; }', 'while', 'keyword.control.diffl');
    expectToken('return (a, b);', 'return', 'keyword.control.diffl');
  });

  test('declaration keywords and constants', () => {
    expectToken('let mut x = 1;', 'let', 'keyword.declaration.diffl');
    expectToken('let mut x = 1;', 'mut', 'keyword.declaration.diffl');
    expectToken('let mut (a, b) = t;', 'mut', 'keyword.declaration.diffl');
    expectToken('fn f(x) = x;', 'fn', 'keyword.declaration.diffl');
    expectToken('struct P { x, y }', 'struct', 'keyword.declaration.diffl');
    expectToken('import nn;', 'import', 'keyword.declaration.diffl');
    expectToken('import "lib/geometry.dl" as geo;', 'as', 'keyword.declaration.diffl');
    expectToken('test "name" { }', 'test', 'keyword.declaration.diffl');
    expectToken('adjoint f(x, out, dout) { dout }', 'adjoint', 'keyword.declaration.diffl');
    expectToken('let b = true && false;', 'true', 'constant.language.boolean.diffl');
    expectToken('let b = true && false;', 'false', 'constant.language.boolean.diffl');
    // a keyword prefix inside an identifier is not a keyword
    expectToken('let format = 1;', 'format', 'variable.other.declaration.diffl');
    assert.notEqual(scopeOf('let iffy = inner;', 'inner'), 'keyword.control.diffl');
  });

  test('numbers', () => {
    expectToken('let a = 3;', '3', 'constant.numeric.integer.diffl');
    expectToken('let a = 3.0;', '3.0', 'constant.numeric.float.diffl');
    expectToken('let a = 1e-3;', '1e-3', 'constant.numeric.float.diffl');
    expectToken('let a = 2.5e2;', '2.5e2', 'constant.numeric.float.diffl');
    expectToken('let a = 1E+4;', '1E+4', 'constant.numeric.float.diffl');
    expectToken('let a = 0.5 * x;', '0.5', 'constant.numeric.float.diffl');
    // a range: two ints and the range operator
    expectToken('for i in 0..10 { }', '0', 'constant.numeric.integer.diffl');
    expectToken('for i in 0..10 { }', '..', 'keyword.operator.range.diffl');
    expectToken('for i in 0..10 { }', '10', 'constant.numeric.integer.diffl');
    // a tuple index is not a float
    expectToken('let a = t.0.1;', '0', 'constant.numeric.integer.diffl');
    expectToken('let a = t.0.1;', '1', 'constant.numeric.integer.diffl');
    // digits inside an identifier are not a number
    expectToken('let a = x1 + conv2d(x, w);', 'conv2d', 'support.function.builtin.diffl');
    assert.notEqual(scopeOf('let a = x1;', 'x1'), 'constant.numeric.integer.diffl');
  });

  test('strings and escapes', () => {
    const src = 'print("a\\tb\\n\\"q\\" \\\\ end");';
    expectToken(src, '"', 'punctuation.definition.string.begin.diffl');
    expectToken(src, '\\t', 'constant.character.escape.diffl');
    expectToken(src, '\\n', 'constant.character.escape.diffl');
    expectToken(src, '\\"', 'constant.character.escape.diffl');
    expectToken(src, '\\\\', 'constant.character.escape.diffl');
    assert.deepEqual(scopesAt(0, src, 'end').slice(1),
      ['meta.function-call.diffl', 'string.quoted.double.diffl']);
    // an escaped quote does not end the string
    assert.ok(scopesAt(0, src, 'q').includes('string.quoted.double.diffl'));
    // comment markers inside a string are string text
    assert.equal(scopeOf('let p = "a // b /* c";', '// b'), 'string.quoted.double.diffl');
    expectToken('let p = "\\q";', '\\q', 'invalid.illegal.escape.diffl');
  });

  test('comments', () => {
    expectToken('let x = 1; // note', '//', 'punctuation.definition.comment.diffl');
    assert.deepEqual(scopesAt(0, 'let x = 1; // note "s" fn', 'note').slice(1),
      ['comment.line.double-slash.diffl']);
    assert.deepEqual(scopesAt(0, 'let x = 1; // note "s" fn', 'fn').slice(1),
      ['comment.line.double-slash.diffl']);
    expectToken('let x = /* inline */ 1;', '/*', 'punctuation.definition.comment.begin.diffl');
    expectToken('let x = /* inline */ 1;', '*/', 'punctuation.definition.comment.end.diffl');
    expectToken('let x = /* inline */ 1;', '1', 'constant.numeric.integer.diffl');
    // a block comment over several lines
    const src = '/* first\nfn not_a_function(x) = x;\n*/ let y = 2;';
    assert.deepEqual(scopesAt(1, src, 'not_a_function').slice(1), ['comment.block.diffl']);
    const y = scopesAt(2, src, '2');
    assert.equal(y[y.length - 1], 'constant.numeric.integer.diffl');
    assert.ok(!y.includes('comment.block.diffl'));
  });

  test('function names at definition', () => {
    expectToken('fn forward(m, x) = nn.dense(m.l2, x);', 'forward', 'entity.name.function.diffl');
    expectToken('fn fact(n) {', 'fact', 'entity.name.function.diffl');
    expectToken('adjoint softplus(x, out, dout) { dout * sigmoid(x) }', 'softplus',
      'entity.name.function.diffl');
    // a user function may shadow a builtin name: at definition it is a definition
    expectToken('fn relu(x) = maximum(x, 0.0);', 'relu', 'entity.name.function.diffl');
  });

  test('parameters, defaults and type annotations', () => {
    const src = 'fn adam(p: Tensor, n: int, lr = 1e-3, m: Mlp) -> float { }';
    expectToken(src, 'p', 'variable.parameter.diffl');
    expectToken(src, 'Tensor', 'storage.type.diffl');
    expectToken(src, 'n', 'variable.parameter.diffl');
    expectToken(src, 'int', 'storage.type.diffl');
    expectToken(src, 'lr', 'variable.parameter.diffl');
    expectToken(src, '1e-3', 'constant.numeric.float.diffl');
    expectToken(src, 'Mlp', 'entity.name.type.diffl');
    expectToken(src, '->', 'keyword.operator.arrow.diffl');
    expectToken(src, 'float', 'storage.type.diffl');
    for (const ty of ['int', 'float', 'bool', 'f32', 'f64', 'Tensor']) {
      expectToken(`fn g(x: ${ty}) = x;`, ty, 'storage.type.diffl');
    }
    expectToken('fn half(n: int) = n / 2;', ':', 'punctuation.separator.colon.diffl');
    expectToken('let f = |x: f64, y| x * y;', 'f64', 'storage.type.diffl');
    expectToken('let f = |x: f64, y| x * y;', 'y', 'variable.parameter.diffl');
  });

  test('function calls and builtins', () => {
    expectToken('let y = forward(m, x);', 'forward', 'entity.name.function.call.diffl');
    expectToken('let y = fact (3);', 'fact', 'entity.name.function.call.diffl');
    const builtins = [
      'exp', 'log', 'sqrt', 'sin', 'cos', 'tan', 'tanh', 'sigmoid', 'relu', 'abs', 'sign', 'floor',
      'ceil', 'round', 'pow', 'maximum', 'minimum', 'clip', 'where', 'sum', 'mean', 'prod', 'max',
      'min', 'argmax', 'argmin', 'logsumexp', 'norm', 'shape', 'len', 'reshape', 'transpose',
      'concat', 'stack', 'flatten', 'expand_dims', 'squeeze', 'one_hot', 'take', 'zeros', 'ones',
      'full', 'zeros_like', 'ones_like', 'arange', 'linspace', 'eye', 'conv2d', 'max_pool2d',
      'avg_pool2d', 'seed', 'rand', 'randn', 'permutation', 'sample_normal', 'sample_bernoulli',
      'sample_categorical', 'load_csv', 'save_csv', 'load_npy', 'save_npy', 'save', 'load',
      'batches', 'temp_path', 'print', 'progress', 'plot', 'assert', 'assert_close', 'solve', 'inv',
      'det', 'cholesky', 'outer', 'diag', 'trace', 'f32', 'f64', 'int', 'float', 'grad',
      'value_and_grad', 'vjp', 'jvp', 'hessian', 'stop_gradient', 'gradcheck',
    ];
    for (const b of builtins) {
      expectToken(`let y = ${b}(x);`, b, 'support.function.builtin.diffl');
    }
    // a name that merely starts like a builtin is a user call
    expectToken('let y = summary(x);', 'summary', 'entity.name.function.call.diffl');
    expectToken('let y = explode(x);', 'explode', 'entity.name.function.call.diffl');
    // higher-order: grad(f)(x)
    expectToken('let (l, g) = value_and_grad(loss)(m, xb, yb);', 'value_and_grad',
      'support.function.builtin.diffl');
    // module functions
    const src = 'let m = optim.adam(m, g, state, lr: 1e-3);';
    expectToken(src, 'optim', 'entity.name.namespace.diffl');
    expectToken(src, '.', 'punctuation.accessor.diffl');
    expectToken(src, 'adam', 'entity.name.function.call.diffl');
    expectToken('let f = nn.dense;', 'nn', 'entity.name.namespace.diffl');
    expectToken('let v = geo.length(v);', 'geo', 'entity.name.namespace.diffl');
    expectToken('import nn;', 'nn', 'entity.name.namespace.diffl');
    expectToken('import "lib/geometry.dl" as geo;', 'geo', 'entity.name.namespace.diffl');
  });

  test('operators', () => {
    const src = 'let z = -a ** 2 @ w * b / c % d + e - f;';
    expectToken(src, '**', 'keyword.operator.arithmetic.power.diffl');
    expectToken(src, '@', 'keyword.operator.arithmetic.matmul.diffl');
    expectToken(src, '-', 'keyword.operator.arithmetic.diffl');
    for (const op of ['*', '/', '%', '+']) {
      expectToken(src, op, 'keyword.operator.arithmetic.diffl');
    }
    expectToken(src, '-', 'keyword.operator.arithmetic.diffl', 1);
    expectToken('let z = a && !b || c;', '&&', 'keyword.operator.logical.diffl');
    expectToken('let z = a && !b || c;', '!', 'keyword.operator.logical.diffl');
    expectToken('let z = a && !b || c;', '||', 'keyword.operator.logical.diffl');
    for (const op of ['<', '<=', '>', '>=', '==', '!=']) {
      expectToken(`let z = a ${op} b;`, op, 'keyword.operator.comparison.diffl');
    }
    expectToken('x = 1;', '=', 'keyword.operator.assignment.diffl');
    for (const op of ['+=', '-=', '*=', '/=']) {
      expectToken(`x ${op} 1;`, op, 'keyword.operator.assignment.compound.diffl');
    }
    expectToken('let q = Point { y: 0.0, ..p };', '..', 'keyword.operator.range.diffl');
    expectToken('fn f(x) -> float = x;', '->', 'keyword.operator.arrow.diffl');
    expectToken('let f = |x| x * 2.0;', '|', 'keyword.operator.lambda.diffl');
    expectToken('let f = |x| x * 2.0;', '|', 'keyword.operator.lambda.diffl', 1);
    expectToken('let f = |a, b| { a + b };', 'b', 'variable.parameter.diffl');
    expectToken('let f = |x| a || b;', '||', 'keyword.operator.logical.diffl');
  });

  test('struct names', () => {
    expectToken('struct Mlp { l1, l2 }', 'Mlp', 'entity.name.type.diffl');
    expectToken('struct Mlp { l1, l2 }', 'l1', 'variable.other.member.diffl');
    expectToken('let p = Point { x: 3.0, y: 4.0 };', 'Point', 'entity.name.type.diffl');
    expectToken('let p = Point { x: 3.0, y: 4.0 };', 'x', 'variable.other.member.diffl');
    expectToken('let l = nn.Dense { w: w, b: b };', 'nn', 'entity.name.namespace.diffl');
    expectToken('let l = nn.Dense { w: w, b: b };', 'Dense', 'entity.name.type.diffl');
    expectToken('print(Point { x: 1.5, y: -2.0 });', 'Point', 'entity.name.type.diffl');
    expectToken('let a = p.field;', 'field', 'variable.other.member.diffl');
  });

  test('named-argument labels', () => {
    expectToken('let m = mean(x, axis: 1);', 'axis', 'variable.parameter.diffl');
    expectToken('let m = mean(x, axis: 1);', ':', 'punctuation.separator.colon.diffl');
    expectToken('let b = batches(x, y, 64, shuffle: true);', 'shuffle', 'variable.parameter.diffl');
    expectToken('let d = load_csv("d.csv", header: true);', 'header', 'variable.parameter.diffl');
    expectToken('let r = optim.adam(m, g, s, lr: 1e-3);', 'lr', 'variable.parameter.diffl');
    expectToken('let g = grad(f, wrt: (0, 2));', 'wrt', 'variable.parameter.diffl');
    // a slice bound is not a label
    assert.notEqual(scopeOf('let s = x[a:b];', 'a'), 'variable.parameter.diffl');
    expectToken('let s = x[a:b];', ':', 'keyword.operator.slice.diffl');
    // labels on a continuation line of a multi-line call
    const src = 'let c = conv2d(x, w,\n    stride: 2, padding: 1);';
    const s = scopesAt(1, src, 'stride');
    assert.equal(s[s.length - 1], 'variable.parameter.diffl');
  });

  test('test declarations', () => {
    const src = 'test "grad of \\"x\\"" {';
    expectToken(src, 'test', 'keyword.declaration.diffl');
    assert.deepEqual(scopesAt(0, src, 'grad of').slice(1),
      ['string.quoted.double.diffl', 'entity.name.section.test.diffl']);
    expectToken(src, '\\"', 'constant.character.escape.diffl');
  });

  test('a whole program: the contract\'s first example', () => {
    const src = [
      'import nn;',
      'struct Mlp { l1, l2 }',
      'fn init(n_in, n_hidden, n_out) = Mlp {',
      '    l1: nn.dense_init(n_in, n_hidden),',
      '    l2: nn.dense_init(n_hidden, n_out),',
      '};',
      'let data = load_csv("data/digits.csv", header: true);  // relative',
      'let x = data[:, 0:64] / 16.0;',
      'for epoch in progress(0..20) {',
      '    for (xb, yb) in batches(x, y, 64, shuffle: true) {',
      '        let (l, g) = value_and_grad(loss)(m, xb, yb);',
      '        (m, state) = optim.adam(m, g, state, lr: 1e-3);',
      '    }',
      '}',
      'print("train accuracy:", mean(argmax(forward(m, x), axis: 1) == y));',
    ].join('\n');
    const last = (line, needle, occ = 0) => { const s = scopesAt(line, src, needle, occ); return s[s.length - 1]; };
    assert.equal(last(2, 'init'), 'entity.name.function.diffl');
    assert.equal(last(2, 'Mlp'), 'entity.name.type.diffl');
    assert.equal(last(3, 'l1'), 'variable.other.member.diffl');
    assert.equal(last(3, 'dense_init'), 'entity.name.function.call.diffl');
    assert.equal(last(4, 'nn'), 'entity.name.namespace.diffl');
    assert.equal(last(6, 'header'), 'variable.parameter.diffl');
    assert.equal(last(6, 'relative'), 'comment.line.double-slash.diffl');
    assert.equal(last(7, '16.0'), 'constant.numeric.float.diffl');
    assert.equal(last(8, 'progress'), 'support.function.builtin.diffl');
    assert.equal(last(9, 'shuffle'), 'variable.parameter.diffl');
    assert.equal(last(11, 'adam'), 'entity.name.function.call.diffl');
    assert.equal(last(11, 'lr'), 'variable.parameter.diffl');
    assert.equal(last(14, 'axis'), 'variable.parameter.diffl');
    assert.equal(last(14, 'forward'), 'entity.name.function.call.diffl');
    assert.equal(last(14, '=='), 'keyword.operator.comparison.diffl');
    const { stack } = tokenize(src);
    assert.equal(stack.depth, 1, 'all brackets closed');
  });
});
