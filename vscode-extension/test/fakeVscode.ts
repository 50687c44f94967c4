// A stand-in for the `vscode` module, enough for src/extension.ts: it records registrations and messages.
// Installed with installFakeVscode() before src/extension is loaded.

import Module = require('module');

export interface Recorder {
  settings: Record<string, unknown>;
  workspaceFolders: { uri: { fsPath: string }; name: string; index: number }[];
  launchConfigurations: unknown[];
  errors: string[];
  infos: string[];
  commands: unknown[][];
  inputBoxes: Record<string, unknown>[];
  /** What showInputBox answers (undefined: the user pressed Escape). */
  inputAnswer: string | undefined;
  /** The button showErrorMessage "clicks". */
  errorChoice: string | undefined;
  factories: { type: string; factory: any }[];
  providers: { type: string; provider: any; trigger: number | undefined }[];
  state: Map<string, unknown>;
}

export const TriggerKind = { Initial: 1, Dynamic: 2 };

export function newRecorder(): Recorder {
  return {
    settings: {},
    workspaceFolders: [{ uri: { fsPath: '/ws/kubernetes' }, name: 'kubernetes', index: 0 }],
    launchConfigurations: [],
    errors: [],
    infos: [],
    commands: [],
    inputBoxes: [],
    inputAnswer: undefined,
    errorChoice: undefined,
    factories: [],
    providers: [],
    state: new Map(),
  };
}

export class DebugAdapterExecutable {
  constructor(
    public readonly command: string,
    public readonly args: string[],
  ) {}
}

const disposable = { dispose() {} };
const noCancel = { isCancellationRequested: false, onCancellationRequested: () => disposable };

export function fakeVscode(rec: Recorder) {
  return {
    DebugAdapterExecutable,
    DebugConfigurationProviderTriggerKind: TriggerKind,
    ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
    debug: {
      registerDebugAdapterDescriptorFactory(type: string, factory: unknown) {
        rec.factories.push({ type, factory });
        return disposable;
      },
      registerDebugConfigurationProvider(type: string, provider: unknown, trigger?: number) {
        rec.providers.push({ type, provider, trigger });
        return disposable;
      },
    },
    window: {
      showErrorMessage(message: string, ..._items: string[]) {
        rec.errors.push(message);
        return Promise.resolve(rec.errorChoice);
      },
      showInformationMessage(message: string) {
        rec.infos.push(message);
        return Promise.resolve(undefined);
      },
      showInputBox(options: Record<string, unknown>) {
        rec.inputBoxes.push(options);
        return Promise.resolve(rec.inputAnswer);
      },
      withProgress(_options: unknown, task: (progress: unknown, token: unknown) => Promise<unknown>) {
        return task({ report() {} }, noCancel);
      },
    },
    workspace: {
      get workspaceFolders() {
        return rec.workspaceFolders;
      },
      getConfiguration(section: string) {
        return {
          get<T>(key: string, fallback?: T): T | undefined {
            if (section === 'launch' && key === 'configurations') return rec.launchConfigurations as T;
            const v = rec.settings[`${section}.${key}`];
            return v === undefined ? fallback : (v as T);
          },
        };
      },
    },
    commands: {
      executeCommand(...args: unknown[]) {
        rec.commands.push(args);
        return Promise.resolve(undefined);
      },
    },
  };
}

export function memento(rec: Recorder) {
  return {
    get: (key: string) => rec.state.get(key),
    update: (key: string, value: unknown) => {
      rec.state.set(key, value);
      return Promise.resolve();
    },
  };
}

/** Makes require('vscode') return the fake; returns a function that undoes it. */
export function installFakeVscode(api: unknown): () => void {
  const mod = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const original = mod._load;
  mod._load = function (request: string, ...rest: unknown[]) {
    if (request === 'vscode') return api;
    return original.call(this, request, ...rest);
  };
  return () => {
    mod._load = original;
  };
}
