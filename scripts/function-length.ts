// Lint: no function in src/ longer than the limit, counting nested functions inside their outermost one.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

const LIMIT = Number(process.env.FUNCTION_LINES_LIMIT ?? 80);

export interface LongFunction {
  file: string;
  name: string;
  line: number;
  lines: number;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts)$/.test(entry) && !entry.endsWith('.d.ts') ? [path] : [];
  });
}

function nameOf(node: ts.Node, sf: ts.SourceFile): string {
  const named = node as { name?: ts.Node };
  if (named.name) return named.name.getText(sf);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
    return parent.name.getText(sf);
  return '(anonymous)';
}

/** Every outermost function of one file with its length in lines (first to last line, both included). */
export function outermostFunctions(file: string, text: string): LongFunction[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      found.push({ file, name: nameOf(node, sf), line: start + 1, lines: end - start + 1 });
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

export function longFunctions(root: string, limit = LIMIT): LongFunction[] {
  return sourceFiles(root)
    .flatMap((file) => outermostFunctions(relative(process.cwd(), file), readFileSync(file, 'utf8')))
    .filter((f) => f.lines > limit)
    .sort((a, b) => b.lines - a.lines);
}

if (process.argv[1]?.endsWith('function-length.ts')) {
  const long = longFunctions(process.argv[2] ?? 'src');
  for (const f of long) console.log(`${f.file}:${f.line} ${f.name} is ${f.lines} lines (limit ${LIMIT})`);
  if (long.length > 0) {
    console.log(`${long.length} function(s) over ${LIMIT} lines: split them (docs/architecture.md).`);
    process.exitCode = 1;
  } else console.log(`function length: every function in ${process.argv[2] ?? 'src'} is at most ${LIMIT} lines`);
}
