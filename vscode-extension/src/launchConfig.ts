// Checks and completes a `kdap` debug configuration before VS Code starts the adapter. No vscode import.

export const DEBUG_TYPE = 'kdap';
/** The `target` kinds kdap knows (bridge/config/launch_config.cpp); the schema's pattern says the same. */
export const TARGET_PATTERN = /^(static-pod|systemd|daemonset|pid|process)\/.+$|^exec$/;
export const TARGET_KINDS =
  'static-pod/<name>, systemd/<unit>, daemonset/[<namespace>/]<name>, pid/<pid>, process/<name>, exec';

/**
 * Targets kdap attaches to: the process runs on after the session. Their configurations use
 * `"request": "attach"`: on a `launch` session VS Code's Stop sends `terminate`, which ends the process, while an
 * `attach` session gets Disconnect, which detaches.
 */
export function attachesToRunningProcess(target: string): boolean {
  return /^(pid|process)\/./.test(target);
}

/** The part of vscode.DebugConfiguration this module needs. */
export interface LaunchConfiguration {
  type?: string;
  request?: string;
  name?: string;
  [key: string]: unknown;
}

export type ResolveResult =
  | { kind: 'ok'; config: LaunchConfiguration }
  /** No configuration at all (F5 without launch.json): let VS Code open launch.json. */
  | { kind: 'empty'; message: string }
  | { kind: 'error'; message: string };

function label(config: LaunchConfiguration): string {
  return typeof config.name === 'string' && config.name ? `"${config.name}"` : 'of type kdap';
}

function absent(value: unknown): boolean {
  return value === undefined || value === null;
}

/**
 * Fills `localRoot` with the workspace folder when it is absent and `request` when it is absent ("attach" for the
 * targets kdap attaches to, "launch" otherwise; an explicit value stays); reports a configuration with neither `target` nor `component`, or with one that
 * is not a non-empty string, clearly. Everything else is kdap's to judge: it names the attribute and the fix.
 */
export function resolveLaunchConfig(config: LaunchConfiguration, workspaceFolder?: string): ResolveResult {
  if (!config.type && !config.request && !config.name) {
    return {
      kind: 'empty',
      message:
        'kdap: there is no launch configuration yet. Add one of type "kdap" to launch.json ' +
        '("Add Configuration..." offers kube-apiserver, kube-scheduler, kube-controller-manager, kube-proxy, ' +
        'kubelet and Go process templates).',
    };
  }
  const out: LaunchConfiguration = { ...config };
  if (!out.type) out.type = DEBUG_TYPE;
  if (!out.request) {
    // A configuration made without launch.json (a quick pick, a task) must not end a running process on Stop.
    out.request = typeof out.target === 'string' && attachesToRunningProcess(out.target) ? 'attach' : 'launch';
  }
  if (absent(out.target) && absent(out.component)) {
    return {
      kind: 'error',
      message:
        `kdap: the launch configuration ${label(config)} has no "target" and no "component"; say what to debug, ` +
        `e.g. "target": "static-pod/kube-scheduler" (kinds: ${TARGET_KINDS}), or "component": "kube-scheduler" ` +
        'to let kdap find it on the node.',
    };
  }
  for (const [key, example] of [
    ['target', 'static-pod/kube-scheduler'],
    ['component', 'kube-scheduler'],
  ] as const) {
    const value = out[key];
    if (!absent(value) && (typeof value !== 'string' || value.trim() === '')) {
      return {
        kind: 'error',
        message:
          `kdap: "${key}" in the launch configuration ${label(config)} must be a non-empty string such as ` +
          `"${example}"` +
          (key === 'target' ? ` (kinds: ${TARGET_KINDS}).` : '.'),
      };
    }
  }
  if ((out.localRoot === undefined || out.localRoot === null || out.localRoot === '') && workspaceFolder) {
    out.localRoot = workspaceFolder;
  }
  return { kind: 'ok', config: out };
}
