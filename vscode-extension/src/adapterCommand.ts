// The command line VS Code runs as the debug adapter: `kdap dap [--log-file F] [--log-level L]`. No vscode import.

import { expandHome } from './kdapPath';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'off'] as const;

export interface AdapterSettings {
  /** `kdap.logFile`: empty or absent means kdap logs to its stderr. */
  logFile?: string;
  /** `kdap.logLevel`: empty or absent means kdap's default. */
  logLevel?: string;
}

export interface AdapterCommand {
  command: string;
  args: string[];
}

export function adapterArgs(settings: AdapterSettings = {}, home?: string): string[] {
  const args = ['dap'];
  const logFile = (settings.logFile ?? '').trim();
  if (logFile) args.push('--log-file', expandHome(logFile, home));
  const level = (settings.logLevel ?? '').trim();
  if (level) {
    if (!(LOG_LEVELS as readonly string[]).includes(level)) {
      throw new Error(`kdap: the setting "kdap.logLevel" is "${level}"; use one of ${LOG_LEVELS.join(', ')}, or leave it empty`);
    }
    args.push('--log-level', level);
  }
  return args;
}

export function adapterCommand(kdapPath: string, settings: AdapterSettings = {}, home?: string): AdapterCommand {
  return { command: kdapPath, args: adapterArgs(settings, home) };
}
