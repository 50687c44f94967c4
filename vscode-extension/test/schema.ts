// Helpers for the schema tests: the C++ source's attribute lists, an Ajv that knows VS Code's schema
// keywords, and a renderer for configuration snippets as VS Code inserts them.

import * as fs from 'fs';
import * as path from 'path';

import Ajv from 'ajv';

import { EXT_ROOT, LAUNCH_CONFIG_CPP, LAUNCH_CONFIG_H } from './paths';

export interface JsonSchema {
  [key: string]: unknown;
}

export const pkg = JSON.parse(fs.readFileSync(path.join(EXT_ROOT, 'package.json'), 'utf8'));
export const debuggerContribution = pkg.contributes.debuggers[0];
export type RequestSchema = JsonSchema & { properties: Record<string, JsonSchema> };
export const launchSchema: RequestSchema = debuggerContribution.configurationAttributes.launch;
export const attachSchema: RequestSchema = debuggerContribution.configurationAttributes.attach;

export const cppSource = fs.readFileSync(LAUNCH_CONFIG_CPP, 'utf8');
export const cppHeader = fs.readFileSync(LAUNCH_CONFIG_H, 'utf8');

/** The string literals of the brace list that follows `declaration` in the C++ source. */
export function cppStringList(source: string, declaration: RegExp): string[] {
  const start = source.search(declaration);
  if (start < 0) throw new Error(`${declaration} not found in ${LAUNCH_CONFIG_CPP}; update the schema test`);
  const open = source.indexOf('{', start);
  let depth = 0;
  let end = open;
  for (; end < source.length; end++) {
    if (source[end] === '{') depth++;
    else if (source[end] === '}' && --depth === 0) break;
  }
  const list = [...source.slice(open, end).matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
  if (list.length === 0) throw new Error(`${declaration} has no strings in ${LAUNCH_CONFIG_CPP}`);
  return list;
}

export const cppDlvKeys = () => cppStringList(cppSource, /constexpr std::array kDlvAttachKeys\s*=/);
export const cppEditorKeys = () => cppStringList(cppSource, /constexpr std::array kEditorKeys\s*=/);
export const cppOwnKeys = () => cppStringList(cppSource, /static const std::set<std::string> own\s*=/);

/** Attribute names parse_launch_config reads through its helpers (optional_string, contains, seconds_at...). */
export function cppReadKeys(): string[] {
  const body = cppSource.slice(cppSource.indexOf('LaunchConfig parse_launch_config('));
  const keys = new Set<string>();
  for (const m of body.matchAll(/(?:optional_string|string_list|seconds_at|contains|at)\(\s*(?:args\s*,\s*)?"([A-Za-z]+)"/g)) {
    keys.add(m[1]);
  }
  return [...keys];
}

export function snakeToCamel(s: string): string {
  return s.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Defaults written in LaunchConfig's member initializers: strings and seconds. */
export function cppDefaults(): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const m of cppHeader.matchAll(/std::string (\w+) = "([^"]*)";/g)) out[snakeToCamel(m[1])] = m[2];
  for (const m of cppHeader.matchAll(/std::chrono::seconds (\w+)\{(\d+)\};/g)) out[snakeToCamel(m[1])] = Number(m[2]);
  return out;
}

/**
 * A request's schema as VS Code puts it into launch.json's (Debugger.getSchemaAttributes): `name`, `type` and
 * `request` added and required, no other attributes allowed.
 */
export function schemaAsVsCodeBuildsIt(request: 'launch' | 'attach'): JsonSchema {
  const attributes = debuggerContribution.configurationAttributes[request] as RequestSchema;
  const required = Array.isArray(attributes.required) ? attributes.required : [];
  return {
    ...attributes,
    type: 'object',
    required: ['name', 'type', 'request', ...required],
    additionalProperties: false,
    properties: {
      ...attributes.properties,
      type: { enum: [debuggerContribution.type] },
      request: { enum: [request] },
      name: { type: 'string' },
    },
  };
}

/** VS Code's additions to JSON schema, declared so that Ajv's strict mode still catches misspelt keywords. */
export const VSCODE_KEYWORDS = [
  'markdownDescription',
  'patternErrorMessage',
  'errorMessage',
  'enumDescriptions',
  'markdownEnumDescriptions',
  'deprecationMessage',
  'markdownDeprecationMessage',
  'defaultSnippets',
  'scope',
  'order',
];

export function newAjv(): Ajv {
  // strictRequired would refuse `oneOf: [{required: ["target"]}, {required: ["component"]}]`, whose branches
  // name properties defined beside them; test/schema.test.ts checks every required name itself.
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
  ajv.addVocabulary(VSCODE_KEYWORDS);
  return ajv;
}

/**
 * Snippet text as VS Code's snippet engine expands it with every placeholder at its default: `${1:x}` is x,
 * `$1` and `${1}` are empty, `\$`, `\}` and `\\` are literal. A variable (`${name}`) is an error here: in a
 * configuration snippet it would be expanded by the snippet engine, not left for the debug session.
 */
export function expandSnippetText(text: string): string {
  let i = 0;
  const parse = (untilBrace: boolean): string => {
    let out = '';
    while (i < text.length) {
      const c = text[i];
      if (c === '\\' && i + 1 < text.length && '$}\\'.includes(text[i + 1])) {
        out += text[i + 1];
        i += 2;
      } else if (c === '}' && untilBrace) {
        i++;
        return out;
      } else if (c === '$' && /[0-9]/.test(text[i + 1] ?? '')) {
        i++;
        while (/[0-9]/.test(text[i] ?? '')) i++;
      } else if (c === '$' && text[i + 1] === '{') {
        const m = /^\$\{([0-9]+)(:|\})/.exec(text.slice(i));
        if (!m) throw new Error(`snippet text ${JSON.stringify(text)} uses a snippet variable at ${i}; escape it as \\\${...}`);
        i += m[0].length;
        if (m[2] === ':') out += parse(true);
      } else {
        out += c;
        i++;
      }
    }
    if (untilBrace) throw new Error(`unclosed placeholder in snippet text ${JSON.stringify(text)}`);
    return out;
  };
  return parse(false);
}

/** A configuration snippet's body as the inserted JSON value: "^..." strings are raw JSON text. */
export function renderSnippetBody(value: unknown): unknown {
  if (typeof value === 'string') {
    if (value.startsWith('^')) return JSON.parse(expandSnippetText(value.slice(1)));
    return expandSnippetText(value);
  }
  if (Array.isArray(value)) return value.map(renderSnippetBody);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderSnippetBody(v)]));
  }
  return value;
}

/** Every name listed in a `required` anywhere in `schema`, with where it is. */
export function requiredNames(schema: unknown, at = '#'): { name: string; at: string }[] {
  if (!schema || typeof schema !== 'object') return [];
  if (Array.isArray(schema)) return schema.flatMap((s, i) => requiredNames(s, `${at}/${i}`));
  const out: { name: string; at: string }[] = [];
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'required' && Array.isArray(value)) out.push(...value.map((name) => ({ name: String(name), at })));
    else out.push(...requiredNames(value, `${at}/${key}`));
  }
  return out;
}
