import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * One source of truth for settings: the names the code reads (app/settings.ts and its readers) are the names that
 * local.settings.sample.json, README.md's Settings table and the Bicep app settings list — no more, no fewer,
 * spelled the same. Only files are read here: nothing is deployed or compiled.
 */

const root = join(import.meta.dirname, '..');
const read = (file: string): string => readFileSync(join(root, file), 'utf8');

/** Functions host and platform settings: not read by this code, legitimately present in the sample and in Bicep. */
const HOST_SETTINGS = new Set([
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_EXTENSION_VERSION',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
]);
const isHostSetting = (name: string): boolean => HOST_SETTINGS.has(name) || /^AzureWebJobsStorage(__\w+)?$/.test(name);

/** Settings the code reads that the deployment template deliberately leaves out, and why. */
const NOT_IN_BICEP: Readonly<Record<string, string>> = {
  AUTH_CA_PATH: 'an extra CA for the local development authority only',
  AUTH_CLIENT_CERTIFICATE_PATH:
    'the template signs in with a client secret from Key Vault (only one of the two may be set)',
  CACHE_CREATE_IF_MISSING:
    'the template creates the database, container and table; the identity has data-plane roles only',
  COSMOS_KEY: 'keys are disabled on the account (disableLocalAuth); the managed identity signs in',
  TABLE_CONNECTION_STRING: 'shared keys are disabled on the storage account; TABLE_ACCOUNT_URL + managed identity',
};
/** Every REDIS_* setting: the template has no Redis resource (CACHE_STORE=redis is for a Redis you bring). */
const NOT_IN_BICEP_PREFIX = /^REDIS_/;
const omittedFromBicep = (name: string): boolean => name in NOT_IN_BICEP || NOT_IN_BICEP_PREFIX.test(name);

/** Settings that carry a key or a connection string: never in the template's app settings. */
const NEVER_IN_BICEP = ['COSMOS_KEY', 'TABLE_CONNECTION_STRING', 'AzureWebJobsStorage', 'CACHE_CREATE_IF_MISSING'];
/** Secrets: in Bicep only as Key Vault references. */
const KEY_VAULT_REFERENCED = ['AUTH_CLIENT_SECRET', 'CACHE_KEYS', 'SESSION_KEYS'];

const SETTING_NAME = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;

function filesUnder(dir: string, suffix: string): string[] {
  const absolute = join(root, dir);
  if (!existsSync(absolute)) return [];
  return readdirSync(absolute, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(suffix))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .sort();
}

function isProcessEnv(node: ts.Node): boolean {
  return (
    ts.isPropertyAccessExpression(node) &&
    ts.isIdentifier(node.expression) &&
    node.expression.text === 'process' &&
    node.name.text === 'env'
  );
}

function stringValue(node: ts.Node | undefined): string | undefined {
  return node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : undefined;
}

interface CodeSettings {
  /** Setting name → where it was found (file, and how). */
  readonly names: Map<string, string>;
  /** UPPER_SNAKE string literals of app/settings.ts that no reader pattern accounted for. */
  readonly unexplained: string[];
}

/**
 * The settings the code reads, from the TypeScript syntax tree (comments and prose never count):
 * - any call whose first argument is `env` or `process.env` and whose second is a string literal — the readers of
 *   app/settings.ts (`optional`, `required`, `bool`, `url`, `list`, `positiveNumber`, `oneOf`, and any added later);
 * - `scheduleSetting('X', …)` calls anywhere in lib/, app/ and functions/, and the string-literal union that types its
 *   `name` parameter;
 * - direct `process.env.X` / `process.env['X']` reads in lib/, app/ and functions/.
 * Every whole UPPER_SNAKE string literal (or literal type) in app/settings.ts must be one of them, so a reader the
 * patterns miss shows up as `unexplained` instead of silently shrinking the set.
 */
function settingsReadByCode(): CodeSettings {
  const names = new Map<string, string>();
  const configLiterals = new Set<string>();
  const add = (name: string | undefined, where: string): void => {
    if (name !== undefined && SETTING_NAME.test(name) && !names.has(name)) names.set(name, where);
  };

  for (const file of [...filesUnder('lib', '.ts'), ...filesUnder('app', '.ts'), ...filesUnder('functions', '.ts')]) {
    const isConfig = file === join('app', 'settings.ts');
    const source = ts.createSourceFile(file, read(file), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node)) {
        const [first, second] = node.arguments;
        if (first && ((ts.isIdentifier(first) && first.text === 'env') || isProcessEnv(first))) {
          add(stringValue(second), `${file}: ${node.expression.getText(source)}(env, …)`);
        }
        if (ts.isIdentifier(node.expression) && node.expression.text === 'scheduleSetting') {
          add(stringValue(first), `${file}: scheduleSetting(…)`);
        }
      }
      if (ts.isPropertyAccessExpression(node) && isProcessEnv(node.expression)) {
        add(node.name.text, `${file}: process.env.${node.name.text}`);
      }
      if (ts.isElementAccessExpression(node) && isProcessEnv(node.expression)) {
        add(stringValue(node.argumentExpression), `${file}: process.env[…]`);
      }
      if (isConfig && ts.isFunctionDeclaration(node) && node.name?.text === 'scheduleSetting') {
        const type = node.parameters[0]?.type;
        const members = type && ts.isUnionTypeNode(type) ? type.types : type ? [type] : [];
        for (const member of members) {
          if (ts.isLiteralTypeNode(member)) add(stringValue(member.literal), `${file}: scheduleSetting's name type`);
        }
      }
      if (isConfig) {
        const literal = ts.isLiteralTypeNode(node) ? stringValue(node.literal) : stringValue(node);
        if (literal !== undefined && SETTING_NAME.test(literal)) configLiterals.add(literal);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return { names, unexplained: [...configLiterals].filter((literal) => !names.has(literal)).sort() };
}

/** The keys of local.settings.sample.json's Values. */
function sampleSettings(): Set<string> {
  const sample = JSON.parse(read('local.settings.sample.json')) as { Values?: Record<string, unknown> };
  return new Set(Object.keys(sample.Values ?? {}));
}

/** Backticked UPPER_SNAKE names in the first cell of every table row under README.md's "## Settings". */
function readmeSettings(): Set<string> {
  const lines = read('README.md').split('\n');
  const start = lines.findIndex((line) => /^##\s+Settings\s*$/.test(line));
  if (start < 0) return new Set();
  const end = lines.findIndex((line, index) => index > start && /^##\s/.test(line));
  const names = new Set<string>();
  for (const line of lines.slice(start + 1, end < 0 ? undefined : end)) {
    if (!line.trimStart().startsWith('|')) continue;
    const firstCell = line.trim().slice(1).split('|')[0] ?? '';
    for (const match of firstCell.matchAll(/`([A-Za-z][A-Za-z0-9_]*)`/g)) {
      if (SETTING_NAME.test(match[1]!)) names.add(match[1]!);
    }
  }
  return names;
}

interface BicepSetting {
  readonly file: string;
  /** The value expression, as written (first line). */
  readonly value: string;
}

/** Removes Bicep comments, leaving strings (single-quoted, `\` escapes, and '''multi-line''') intact. */
function stripBicepComments(text: string): string {
  let out = '';
  for (let i = 0; i < text.length;) {
    if (text.startsWith("'''", i)) {
      const close = text.indexOf("'''", i + 3);
      const stop = close < 0 ? text.length : close + 3;
      out += text.slice(i, stop);
      i = stop;
    } else if (text[i] === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== "'") j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (text.startsWith('//', i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (text.startsWith('/*', i)) {
      const close = text.indexOf('*/', i + 2);
      i = close < 0 ? text.length : close + 2;
    } else {
      out += text[i];
      i++;
    }
  }
  return out;
}

/** The text between an opening `{`/`[` at `open` and its matching closer, strings skipped. */
function balancedBlock(text: string, open: number): string {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const char = text[i];
    if (char === "'") {
      i++;
      while (i < text.length && text[i] !== "'") i += text[i] === '\\' ? 2 : 1;
    } else if (char === '{' || char === '[' || char === '(') depth++;
    else if (char === '}' || char === ']' || char === ')') {
      depth--;
      if (depth === 0) return text.slice(open + 1, i);
    }
  }
  return text.slice(open + 1);
}

/** Lines of a block with the bracket depth each starts at (1 = the block's own level). */
function linesWithDepth(block: string): { depth: number; text: string }[] {
  const result: { depth: number; text: string }[] = [];
  let depth = 1;
  for (const text of block.split('\n')) {
    result.push({ depth, text });
    for (let i = 0; i < text.length; i++) {
      const char = text[i];
      if (char === "'") {
        i++;
        while (i < text.length && text[i] !== "'") i += text[i] === '\\' ? 2 : 1;
      } else if (char === '{' || char === '[' || char === '(') depth++;
      else if (char === '}' || char === ']' || char === ')') depth--;
    }
  }
  return result;
}

/**
 * App setting names in infra/**\/*.bicep: the keys of every object assigned to a variable, parameter or property
 * whose name contains `appSettings` (`var appSettings = { NAME: value }`, `baseAppSettings`, …), and the `name`
 * of every `{ name: 'NAME', value: … }` entry of such an array (`siteConfig.appSettings: [ … ]`).
 */
function bicepSettings(): Map<string, BicepSetting> {
  const settings = new Map<string, BicepSetting>();
  for (const file of filesUnder('infra', '.bicep')) {
    const text = stripBicepComments(read(file));
    for (const match of text.matchAll(/\b\w*appSettings\w*\s*(?::|=)\s*([{[])/gi)) {
      const open = match.index + match[0].length - 1;
      const lines = linesWithDepth(balancedBlock(text, open));
      if (match[1] === '{') {
        for (const { depth, text: line } of lines) {
          const key = depth === 1 ? /^\s*(?:'([^']+)'|([A-Za-z_][\w.]*))\s*:\s*(.*)$/.exec(line) : null;
          if (key) settings.set(key[1] ?? key[2]!, { file, value: key[3]!.trim() });
        }
      } else {
        lines.forEach(({ depth, text: line }, index) => {
          const name = depth === 2 ? /^\s*name\s*:\s*'([^']+)'/.exec(line) : null;
          if (!name) return;
          const value = lines.slice(index + 1).find((next) => /^\s*value\s*:/.test(next.text));
          settings.set(name[1]!, { file, value: value ? value.text.replace(/^\s*value\s*:\s*/, '') : '' });
        });
      }
    }
  }
  return settings;
}

function bicepParams(file: string): Map<string, { hasDefault: boolean }> {
  const params = new Map<string, { hasDefault: boolean }>();
  for (const match of stripBicepComments(read(file)).matchAll(/^\s*param\s+(\w+)\s+[^\n=]+?(=\s*\S.*)?$/gm)) {
    params.set(match[1]!, { hasDefault: match[2] !== undefined });
  }
  return params;
}

const sorted = (names: Iterable<string>): string[] => [...names].sort();

describe('one source of truth for settings', () => {
  const code = settingsReadByCode();
  const codeNames = new Set(code.names.keys());

  it('finds every setting the code reads', () => {
    expect(code.unexplained, 'UPPER_SNAKE literals in app/settings.ts not read through a known reader').toEqual([]);
    expect(codeNames.size, sorted(codeNames).join(', ')).toBeGreaterThan(25);
    for (const anchor of [
      'AUTH_TENANT_ID',
      'AUTH_CLIENT_SECRET',
      'CACHE_KEYS',
      'SESSION_KEYS',
      'APP_DAEMON_SCHEDULE',
    ]) {
      expect(codeNames, anchor).toContain(anchor);
    }
  });

  /** Both directions at once, so a misspelling shows as one name missing and one name unknown. */
  const compare = (listed: Iterable<string>, exempt: (name: string) => boolean) => {
    const names = new Set(listed);
    return {
      missing: sorted([...codeNames].filter((name) => !names.has(name) && !exempt(name))),
      unknown: sorted([...names].filter((name) => !codeNames.has(name) && !isHostSetting(name))),
    };
  };
  const none = { missing: [], unknown: [] };

  it('local.settings.sample.json lists exactly the settings the code reads (plus host settings)', () => {
    expect(
      compare(sampleSettings(), () => false),
      'missing: read by the code, not in the sample; unknown: in the sample, not read by the code',
    ).toEqual(none);
  });

  it("README.md's Settings table lists exactly the settings the code reads", () => {
    const readme = readmeSettings();
    expect(readme.size, 'no settings table under "## Settings"').toBeGreaterThan(0);
    expect(
      compare(readme, () => false),
      'missing: read by the code, not in the README table; unknown: in the README table, not read by the code',
    ).toEqual(none);
  });

  it('the Bicep app settings name every setting a deployment needs, and nothing the code does not read', () => {
    const bicep = bicepSettings();
    expect(bicep.size, 'no appSettings found in infra/**/*.bicep').toBeGreaterThan(20);
    expect(
      compare(bicep.keys(), omittedFromBicep),
      'missing: read by the code, not in the Bicep app settings (add it, or allow-list it in NOT_IN_BICEP with a ' +
        'reason); unknown: in the Bicep app settings, not read by the code',
    ).toEqual(none);
  });

  it('the Bicep allow-list names only settings the code reads, and no key reaches an app setting', () => {
    expect(
      sorted(Object.keys(NOT_IN_BICEP).filter((name) => !codeNames.has(name))),
      'stale allow-list entries',
    ).toEqual([]);
    const bicep = bicepSettings();
    expect(NEVER_IN_BICEP.filter((name) => bicep.has(name))).toEqual([]);
    for (const name of KEY_VAULT_REFERENCED) {
      expect(bicep.get(name)?.value, `${name} must be a Key Vault reference`).toMatch(
        /^'@Microsoft\.KeyVault\(SecretUri=\$\{[^}]+\}\)'$/,
      );
    }
  });
});

describe('the deployment template hangs together', () => {
  it('main.parameters.json maps only parameters of main.bicep, and every parameter without a default', () => {
    const params = bicepParams('infra/main.bicep');
    const file = JSON.parse(read('infra/main.parameters.json')) as { parameters: Record<string, { value: unknown }> };
    const mapped = Object.keys(file.parameters);
    expect(mapped.filter((name) => !params.has(name))).toEqual([]);
    const required = [...params].filter(([, param]) => !param.hasDefault).map(([name]) => name);
    expect(required.filter((name) => !mapped.includes(name))).toEqual([]);
  });

  it('every module main.bicep uses exists, and says it was not compiled here', () => {
    const main = read('infra/main.bicep');
    const modules = [...main.matchAll(/^module\s+\w+\s+'([^']+)'/gm)].map((match) => match[1]!);
    expect(modules.length).toBeGreaterThan(5);
    for (const path of modules) expect(existsSync(join(root, 'infra', path)), path).toBe(true);
    expect(main.slice(0, 300)).toMatch(/not compiled here/i);
  });
});
