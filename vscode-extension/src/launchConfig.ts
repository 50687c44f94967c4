// Checks and completes a `kdap` debug configuration before VS Code starts the adapter. No vscode import.

export const DEBUG_TYPE = 'kdap';
/** The `target` kinds kdap knows (bridge/config/launch_config.cpp); the schema's pattern says the same. */
export const TARGET_PATTERN = /^(static-pod|systemd|daemonset|pid|process)\/.+$|^exec$/;
export const TARGET_KINDS =
  'static-pod/<name>, systemd/<unit>, daemonset/[<namespace>/]<name>, pid/<pid>, process/<name>, exec';

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

/**
 * Fills `localRoot` with the workspace folder when it is absent and `request` with "launch"; reports a missing
 * or malformed `target` clearly. Everything else is kdap's to judge: it names the attribute and the fix.
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
  if (!out.request) out.request = 'launch';
  const target = out.target;
  if (target === undefined || target === null) {
    return {
      kind: 'error',
      message:
        `kdap: the launch configuration ${label(config)} has no "target"; say what to debug, e.g. ` +
        `"target": "static-pod/kube-scheduler" (kinds: ${TARGET_KINDS}).`,
    };
  }
  if (typeof target !== 'string' || target.trim() === '') {
    return {
      kind: 'error',
      message:
        `kdap: "target" in the launch configuration ${label(config)} must be a non-empty string such as ` +
        `"static-pod/kube-scheduler" (kinds: ${TARGET_KINDS}).`,
    };
  }
  if ((out.localRoot === undefined || out.localRoot === null || out.localRoot === '') && workspaceFolder) {
    out.localRoot = workspaceFolder;
  }
  return { kind: 'ok', config: out };
}
