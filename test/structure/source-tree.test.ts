// The shape of each package's source tree (DESIGN §2, STYLE "one concept per file"), read as text:
//  1. no import cycle among a package's own files, type-only imports included (a cycle of types is
//     still two files that cannot be understood, moved or tested one without the other);
//  2. no two files with one name in one package (index.ts aside): a name says what a file is;
//  3. dependencies point one way: a package imports only the packages DESIGN lets it depend on,
//     directly or through them.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PACKAGES_DIR = fileURLToPath(new URL('../../packages', import.meta.url));

/** DESIGN §2's direct dependencies; a package may also import what those depend on. */
const DESIGN_DEPENDENCIES: Readonly<Record<string, readonly string[]>> = {
  nraft: [],
  'record-format': [],
  storage: ['record-format'],
  protocol: ['record-format'],
  controller: ['nraft', 'protocol'],
  broker: ['storage', 'protocol', 'controller'],
  client: ['protocol'],
  cli: ['client', 'broker', 'controller'],
  testing: ['nraft', 'record-format', 'storage', 'protocol', 'controller', 'broker', 'client', 'cli'],
};

function allowedImports(pkg: string, seen = new Set<string>()): Set<string> {
  for (const dep of DESIGN_DEPENDENCIES[pkg] ?? []) {
    if (seen.has(dep)) continue;
    seen.add(dep);
    allowedImports(dep, seen);
  }
  return seen;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

const IMPORT = /^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gm;

function importsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => m[1]!);
}

/** Each cycle once, as the files along it. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    path.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

const packages = readdirSync(PACKAGES_DIR, { withFileTypes: true })
  .filter((e) => e.isDirectory() && DESIGN_DEPENDENCIES[e.name] !== undefined)
  .map((e) => e.name);

describe('package source trees', () => {
  it('knows every package', () => {
    const unknown = readdirSync(PACKAGES_DIR, { withFileTypes: true })
      .filter((e) => e.isDirectory() && DESIGN_DEPENDENCIES[e.name] === undefined).map((e) => e.name);
    expect(unknown, 'add the package to DESIGN_DEPENDENCIES with its DESIGN dependencies').toEqual([]);
    expect(packages.length).toBeGreaterThan(0);
  });

  for (const pkg of packages) {
    describe(pkg, () => {
      const src = join(PACKAGES_DIR, pkg, 'src');
      const files = sourceFiles(src);

      it('has no import cycle among its files', () => {
        const graph = new Map<string, string[]>();
        for (const file of files) {
          const local = importsOf(file).filter((spec) => spec.startsWith('.'))
            .map((spec) => resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
          graph.set(file, local);
        }
        expect(cycles(graph).map((c) => c.map((f) => relative(src, f)).join(' -> '))).toEqual([]);
      });

      it('has no two files with one name', () => {
        const byName = new Map<string, string[]>();
        for (const file of files) {
          if (basename(file) === 'index.ts') continue;
          byName.set(basename(file), [...(byName.get(basename(file)) ?? []), relative(src, file)]);
        }
        expect([...byName.values()].filter((paths) => paths.length > 1)).toEqual([]);
      });

      it('imports only the packages DESIGN lets it depend on', () => {
        const allowed = allowedImports(pkg);
        const wrong = files.flatMap((file) => importsOf(file)
          .map((spec) => /^@tributary\/([^/]+)/.exec(spec)?.[1])
          .filter((dep): dep is string => dep !== undefined && dep !== pkg && !allowed.has(dep))
          .map((dep) => `${relative(src, file)} imports @tributary/${dep}`));
        expect(wrong).toEqual([]);
      });
    });
  }
});
