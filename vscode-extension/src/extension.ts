// VS Code glue: the debug adapter (`kdap dap`), the configuration resolver and the dynamic configurations
// (components listed by `kdap ls --json`). The logic lives in modules that do not import vscode.

import * as vscode from 'vscode';

import { adapterCommand } from './adapterCommand';
import { LsError, componentConfigs, runKdapLs } from './components';
import { PATH_SETTING, resolveKdapPath } from './kdapPath';
import { DEBUG_TYPE, resolveLaunchConfig } from './launchConfig';

const LAST_HOST_KEY = 'kdap.lastListedHost';
const LS_TIMEOUT_MS = 60_000;

function settings(folder?: vscode.WorkspaceFolder) {
  const c = vscode.workspace.getConfiguration('kdap', folder?.uri);
  return {
    path: c.get<string>('path', ''),
    logFile: c.get<string>('logFile', ''),
    logLevel: c.get<string>('logLevel', ''),
  };
}

function kdapPath(folder?: vscode.WorkspaceFolder): { path?: string; message?: string } {
  const r = resolveKdapPath(settings(folder).path);
  return r.ok ? { path: r.path } : { message: r.message };
}

/** Shows the "kdap not found" message with a button that opens the setting. */
function reportMissingKdap(message: string): void {
  void vscode.window.showErrorMessage(message, 'Open Settings').then((choice) => {
    if (choice === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', PATH_SETTING);
  });
}

function folderPath(folder?: vscode.WorkspaceFolder): string | undefined {
  return (folder ?? vscode.workspace.workspaceFolders?.[0])?.uri.fsPath;
}

export class KdapAdapterFactory implements vscode.DebugAdapterDescriptorFactory {
  createDebugAdapterDescriptor(session: vscode.DebugSession): vscode.ProviderResult<vscode.DebugAdapterDescriptor> {
    const folder = session.workspaceFolder;
    const found = kdapPath(folder);
    // resolveDebugConfiguration has checked this already (and shown the message with an "Open Settings"
    // button); VS Code shows an error thrown here as it is.
    if (!found.path) throw new Error(found.message);
    const s = settings(folder);
    const cmd = adapterCommand(found.path, { logFile: s.logFile, logLevel: s.logLevel });
    return new vscode.DebugAdapterExecutable(cmd.command, cmd.args);
  }
}

export class KdapConfigurationProvider implements vscode.DebugConfigurationProvider {
  resolveDebugConfiguration(
    folder: vscode.WorkspaceFolder | undefined,
    config: vscode.DebugConfiguration,
  ): vscode.ProviderResult<vscode.DebugConfiguration> {
    const r = resolveLaunchConfig(config, folderPath(folder));
    if (r.kind === 'empty') {
      void vscode.window.showInformationMessage(r.message);
      return null; // VS Code opens launch.json
    }
    if (r.kind === 'error') {
      void vscode.window.showErrorMessage(r.message);
      return null; // VS Code opens launch.json at this configuration
    }
    const found = kdapPath(folder);
    if (!found.path) {
      reportMissingKdap(found.message!);
      return undefined; // abort quietly: the message is shown
    }
    return r.config as vscode.DebugConfiguration;
  }
}

function hostFromLaunchJson(folder?: vscode.WorkspaceFolder): string | undefined {
  const configs = vscode.workspace.getConfiguration('launch', folder?.uri).get<unknown[]>('configurations') ?? [];
  for (const c of configs) {
    const cfg = c as Record<string, unknown>;
    if (cfg && cfg.type === DEBUG_TYPE && typeof cfg.host === 'string' && cfg.host) return cfg.host;
  }
  return undefined;
}

export class KdapDynamicConfigurationProvider implements vscode.DebugConfigurationProvider {
  constructor(private readonly state: vscode.Memento) {}

  async provideDebugConfigurations(
    folder: vscode.WorkspaceFolder | undefined,
    token?: vscode.CancellationToken,
  ): Promise<vscode.DebugConfiguration[]> {
    const found = kdapPath(folder);
    if (!found.path) {
      reportMissingKdap(found.message!);
      return [];
    }
    const host = await vscode.window.showInputBox({
      title: 'kdap: list the components of a node',
      prompt: 'The node: [user@]host[:port] or an SSH config alias. Leave empty for this machine.',
      placeHolder: 'root@node-1',
      value: this.state.get<string>(LAST_HOST_KEY) ?? hostFromLaunchJson(folder) ?? '',
      ignoreFocusOut: true,
    });
    if (host === undefined || token?.isCancellationRequested) return [];
    await this.state.update(LAST_HOST_KEY, host.trim());
    const where = host.trim() || 'this machine';
    try {
      const components = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `kdap: listing the components of ${where}`, cancellable: true },
        (_progress, progressToken) =>
          runKdapLs(found.path!, host, {
            timeoutMs: LS_TIMEOUT_MS,
            onCancel: (cancel) => {
              progressToken.onCancellationRequested(cancel);
              token?.onCancellationRequested(cancel);
            },
          }),
      );
      if (components.length === 0) {
        void vscode.window.showInformationMessage(`kdap: found no components to debug on ${where}.`);
        return [];
      }
      // VS Code shows these in its quick pick, by name; the chosen one starts.
      return componentConfigs(components, host) as vscode.DebugConfiguration[];
    } catch (err) {
      const message = err instanceof LsError ? err.message : `kdap: listing the components failed: ${String(err)}`;
      void vscode.window.showErrorMessage(message);
      return [];
    }
  }
}

export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, new KdapAdapterFactory()),
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, new KdapConfigurationProvider()),
    vscode.debug.registerDebugConfigurationProvider(
      DEBUG_TYPE,
      new KdapDynamicConfigurationProvider(context.globalState),
      vscode.DebugConfigurationProviderTriggerKind.Dynamic,
    ),
  );
}

export function deactivate(): void {}
