// `kdap ls --json [--host HOST]`: running it, reading its output, and turning components into launch
// configurations. No vscode import.
//
// Accepted output (the first JSON value on stdout): a list, or an object with a `components` list, which is
// what kdap prints: {"node": ..., "components": [...], "notes": [...]}. Each entry is either a target string
// ("static-pod/kube-scheduler") or an object with `target` (or `kind` and `name`, plus `namespace` for a
// DaemonSet) and optionally `name`, `description`, `detail`, `program` and `debugInfo` (false: the binary that
// runs has no debug information, so breakpoints cannot bind in it). Entries whose target is not a kdap target
// are skipped.

import { execFile } from 'child_process';

import { DEBUG_TYPE, LaunchConfiguration, TARGET_PATTERN, attachesToRunningProcess } from './launchConfig';

export interface Component {
  target: string;
  /** What runs, e.g. the process name of a pid/<pid> target. */
  name?: string;
  description?: string;
  detail?: string;
  program?: string;
  /** Whether the running binary has debug information; absent when kdap could not tell. */
  debugInfo?: boolean;
}

export class LsError extends Error {}

export function lsArgs(host?: string): string[] {
  const args = ['ls', '--json'];
  const h = (host ?? '').trim();
  if (h) args.push('--host', h);
  return args;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

function entryTarget(entry: Record<string, unknown>): string | undefined {
  const target = str(entry.target);
  if (target) return target;
  const kind = str(entry.kind);
  const name = str(entry.name);
  if (kind === 'exec') return 'exec';
  if (!kind || !name) return undefined;
  const namespace = str(entry.namespace);
  return kind === 'daemonset' && namespace && !name.includes('/') ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

/** The components in `kdap ls --json` output; throws LsError when it is not JSON of the accepted shape. */
export function parseLsOutput(stdout: string): Component[] {
  const text = stdout.trim();
  if (text === '') throw new LsError('kdap ls --json printed nothing');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const first = text.split('\n')[0].slice(0, 200);
    throw new LsError(`kdap ls --json did not print JSON; it printed: ${first}`);
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    value = (value as Record<string, unknown>).components;
  }
  if (!Array.isArray(value)) {
    throw new LsError('kdap ls --json printed JSON that is neither a list of components nor {"components": [...]}');
  }
  const out: Component[] = [];
  const seen = new Set<string>();
  for (const item of value) {
    let c: Component | undefined;
    if (typeof item === 'string') {
      c = { target: item.trim() };
    } else if (item && typeof item === 'object' && !Array.isArray(item)) {
      const entry = item as Record<string, unknown>;
      const target = entryTarget(entry);
      if (target) {
        c = { target };
        const name = str(entry.name);
        const description = str(entry.description);
        const detail = str(entry.detail);
        const program = str(entry.program);
        if (name) c.name = name;
        if (description) c.description = description;
        if (detail) c.detail = detail;
        if (program) c.program = program;
        if (typeof entry.debugInfo === 'boolean') c.debugInfo = entry.debugInfo;
      }
    }
    if (c && TARGET_PATTERN.test(c.target) && !seen.has(c.target)) {
      seen.add(c.target);
      out.push(c);
    }
  }
  return out;
}

/** A launch configuration for one listed component: an attach configuration for a running process. */
export function componentConfig(component: Component, host?: string): LaunchConfiguration {
  const h = (host ?? '').trim();
  const rest = component.target.replace(/^[^/]*\//, '');
  // "pid/4242" alone says nothing in a list; kdap names the process.
  let what = rest;
  if (component.target.startsWith('pid/')) what = component.name ? `${component.name} (pid ${rest})` : `pid ${rest}`;
  // VS Code's pick of dynamic configurations shows only the name, so the warning has to be in it.
  const warning = component.debugInfo === false ? ' (no debug info)' : '';
  const config: LaunchConfiguration = {
    type: DEBUG_TYPE,
    request: attachesToRunningProcess(component.target) ? 'attach' : 'launch',
    name: `kdap: ${what} on ${h || 'this machine'}${warning}`,
    target: component.target,
  };
  if (h) config.host = h;
  return config;
}

/**
 * The configurations to offer, in kdap's order except that components whose binary has no debug information
 * come last: breakpoints cannot bind in them until a debug build runs.
 */
export function componentConfigs(components: Component[], host?: string): LaunchConfiguration[] {
  const debuggable = components.filter((c) => c.debugInfo !== false);
  const stripped = components.filter((c) => c.debugInfo === false);
  return [...debuggable, ...stripped].map((c) => componentConfig(c, host));
}

export interface RunLsOptions {
  timeoutMs?: number;
  /** Called to cancel (e.g. from a CancellationToken); the child is killed. */
  onCancel?: (cancel: () => void) => void;
}

interface ExecFailure extends Error {
  code?: number | string;
  killed?: boolean;
  signal?: string | null;
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

/** Runs `kdap ls --json [--host HOST]` and parses its output. Every failure is an LsError that says what to do. */
export function runKdapLs(kdapPath: string, host?: string, options: RunLsOptions = {}): Promise<Component[]> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const args = lsArgs(host);
  const where = (host ?? '').trim() || 'this machine';
  return new Promise((resolve, reject) => {
    let cancelled = false;
    const child = execFile(
      kdapPath,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, windowsHide: true },
      (error, stdout, stderr) => {
        if (cancelled) return reject(new LsError('kdap: listing the components was cancelled'));
        if (error) {
          const e = error as ExecFailure;
          if (e.code === 'ENOENT' || e.code === 'EACCES') {
            return reject(new LsError(`kdap: could not run ${kdapPath}: ${e.message}`));
          }
          if (e.killed || e.signal) {
            return reject(
              new LsError(`kdap: \`kdap ${args.join(' ')}\` did not finish within ${Number((timeoutMs / 1000).toFixed(1))} s`),
            );
          }
          const all = String(stderr || stdout || '');
          const said = lastLines(all, 4);
          // kdap prints the complaint first and its whole usage after it, so look at all of it.
          if (/unknown (command|argument)/i.test(all)) {
            return reject(
              new LsError(
                `kdap: this kdap (${kdapPath}) cannot list components yet (\`kdap ls --json\` is not supported). ` +
                  'Update kdap, or write the configuration by hand: "Add Configuration..." in launch.json offers templates.',
              ),
            );
          }
          return reject(
            new LsError(
              `kdap: \`kdap ${args.join(' ')}\` failed (exit ${e.code ?? '?'}) on ${where}` + (said ? `: ${said}` : ''),
            ),
          );
        }
        try {
          resolve(parseLsOutput(String(stdout)));
        } catch (err) {
          reject(err instanceof LsError ? err : new LsError(String(err)));
        }
      },
    );
    child.stdin?.end();
    options.onCancel?.(() => {
      cancelled = true;
      child.kill('SIGKILL');
    });
  });
}
