// End to end: the real `kdap dap`, started with the command line the extension builds, driven by
// @vscode/debugadapter-testsupport's DebugClient through a whole session against a real sshd, the kubelet
// stand-in and real dlv (the node is set up by e2e_node.py with tests/e2e/harness.py).
//
// Environment: KDAP_BIN (default ../build/bin/kdap; the test is skipped when it does not exist),
// KDAP_FIXTURE_DIR (default ../build/fixtures), KDAP_E2E_KEEP=1 keeps the kdap log.

import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { test } from 'node:test';

import { DebugClient } from '@vscode/debugadapter-testsupport';
import { DebugProtocol } from '@vscode/debugprotocol';

import { adapterCommand } from '../src/adapterCommand';
import { resolveLaunchConfig } from '../src/launchConfig';
import { tempDir } from './fakes';
import { EXT_ROOT, kdapBin } from './paths';

const KDAP = kdapBin();
const HELPER = path.join(EXT_ROOT, 'test', 'e2e_node.py');

/** DebugClient over the stdio of an adapter process this test started itself. */
class StdioDebugClient extends DebugClient {
  attach(child: ChildProcess): void {
    this.connect(child.stdout!, child.stdin!);
  }
}

/** p, or a rejection naming `what` after ms. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Marks a promise as handled now (it is awaited later) so that an early rejection is not "unhandled". */
function later<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

function exitOf(child: ChildProcess): Promise<number | string | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? child.signalCode);
    else child.once('exit', (code, signal) => resolve(code ?? signal));
  });
}

/** e2e_node.py: JSON lines on stdout, requests on stdin, everything else collected from stderr. */
class NodeHelper {
  readonly proc: ChildProcess;
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;
  private stderr = '';
  private readonly exited: Promise<number | string | null>;

  constructor() {
    this.proc = spawn('python3', [HELPER], { stdio: ['pipe', 'pipe', 'pipe'], env: process.env });
    this.exited = exitOf(this.proc);
    readline.createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      this.lines.push(line);
      this.waiter?.();
    });
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-20_000);
    });
    this.proc.once('exit', () => this.waiter?.());
  }

  async next(ms: number, what: string): Promise<Record<string, any>> {
    const deadline = Date.now() + ms;
    while (this.lines.length === 0) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        throw new Error(`e2e_node.py exited (${this.proc.exitCode ?? this.proc.signalCode}) before ${what}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms / 1000} s waiting for ${what} from e2e_node.py`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    const obj = JSON.parse(this.lines.shift()!);
    if (obj.error) throw new Error(`e2e_node.py: ${obj.error}`);
    return obj;
  }

  async check(): Promise<Record<string, any>> {
    this.proc.stdin!.write('check\n');
    return this.next(90_000, 'the node status');
  }

  /** Closes stdin (the helper stops everything), SIGKILL if it takes too long. */
  async close(): Promise<void> {
    this.proc.stdin!.end();
    try {
      await within(this.exited, 60_000, 'e2e_node.py to clean up');
    } catch {
      this.proc.kill('SIGKILL');
      await within(this.exited, 10_000, 'e2e_node.py to die').catch(() => {});
    }
  }

  log(): string {
    return this.stderr.split('\n').slice(-30).join('\n');
  }
}

function tail(file: string, lines = 60): string {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(none)';
  }
}

const skip = fs.existsSync(KDAP) ? false : `kdap binary ${KDAP} does not exist: build kdap (cmake --build build) or set KDAP_BIN`;

test('a whole debug session through kdap dap, sshd and dlv; the node is restored', { skip, timeout: 420_000 }, async () => {
  const tmp = tempDir('kdap-vscode-e2e-client-');
  const logFile = path.join(tmp, 'kdap.log');
  const helper = new NodeHelper();
  let kdap: ChildProcess | undefined;
  let kdapStderr = '';
  try {
    const node = await helper.next(300_000, 'the node to be set up');

    // What VS Code would do: resolve the configuration, then run the adapter the factory describes.
    const resolved = resolveLaunchConfig({ type: 'kdap', request: 'launch', name: 'e2e', ...node.launch }, EXT_ROOT);
    assert.equal(resolved.kind, 'ok');
    const launchArgs = resolved.kind === 'ok' ? resolved.config : {};
    assert.equal(launchArgs.localRoot, EXT_ROOT);
    const cmd = adapterCommand(KDAP, { logFile, logLevel: 'debug' });
    assert.deepEqual(cmd.args, ['dap', '--log-file', logFile, '--log-level', 'debug']);
    kdap = spawn(cmd.command, cmd.args, { stdio: ['pipe', 'pipe', 'pipe'] });
    kdap.stderr!.on('data', (d: Buffer) => (kdapStderr += d.toString()));
    kdap.stdin!.on('error', () => {}); // a kdap that died is reported by `step` below
    const kdapExit = exitOf(kdap);
    let sessionOver = false;
    const kdapDied = later(
      kdapExit.then((code) => {
        if (!sessionOver) throw new Error(`kdap exited (${code}) in the middle of the session`);
      }),
    ) as Promise<never>;
    // Every wait of the session: bounded, and cut short when kdap dies.
    const step = <T>(p: Promise<T>, ms: number, what: string) => within(Promise.race([p, kdapDied]), ms, what);
    const dc = new StdioDebugClient('unused', 'unused', 'kdap');
    dc.attach(kdap);

    const init = await step(
      dc.initializeRequest({
        adapterID: 'kdap',
        clientID: 'vscode',
        clientName: 'Visual Studio Code',
        linesStartAt1: true,
        columnsStartAt1: true,
        pathFormat: 'path',
        supportsVariableType: true,
        supportsVariablePaging: true,
        supportsRunInTerminalRequest: false,
        supportsProgressReporting: true,
        supportsInvalidatedEvent: true,
        supportsMemoryReferences: true,
      }),
      30_000,
      'the initialize response',
    );
    assert.ok(init.body?.supportsConfigurationDoneRequest, 'kdap wants configurationDone');

    const initialized = later(dc.waitForEvent('initialized', 120_000));
    const launched = later(step(dc.launchRequest(launchArgs as DebugProtocol.LaunchRequestArguments), 180_000, 'the launch response'));
    await step(initialized, 120_000, 'the initialized event');

    const { path: source, line } = node.breakpoint;
    const bps = await step(
      dc.setBreakpointsRequest({ source: { path: source }, breakpoints: [{ line }] }),
      30_000,
      'the setBreakpoints response',
    );
    assert.equal(bps.body.breakpoints.length, 1);
    assert.ok(bps.body.breakpoints[0].verified, JSON.stringify(bps.body));

    const stopped = later(dc.waitForEvent('stopped', 120_000));
    await step(dc.configurationDoneRequest(), 30_000, 'the configurationDone response');
    await launched;

    const stop = (await step(stopped, 120_000, 'the stopped event')) as DebugProtocol.StoppedEvent;
    assert.equal(stop.body.reason, 'breakpoint');
    const threadId = stop.body.threadId!;
    const trace = await step(dc.stackTraceRequest({ threadId, startFrame: 0, levels: 20 }), 30_000, 'the stack trace');
    const top = trace.body.stackFrames[0];
    assert.equal(top.name, 'main.reconcile');
    assert.equal(top.source?.path, source);
    assert.equal(top.line, line);

    const scopes = await step(dc.scopesRequest({ frameId: top.id }), 30_000, 'the scopes');
    assert.ok(scopes.body.scopes.length > 0);
    const vars = await step(
      dc.variablesRequest({ variablesReference: scopes.body.scopes[0].variablesReference }),
      30_000,
      'the variables',
    );
    const names = vars.body.variables.map((v) => v.name);
    assert.ok(names.includes('cfg'), names.join(', '));
    assert.ok(names.includes('round'), names.join(', '));

    // kdap answers disconnect after the manifest is back and the component runs again
    sessionOver = true;
    await within(dc.disconnectRequest({ restart: false }), 150_000, 'the disconnect response');
    assert.equal(await within(kdapExit, 30_000, 'kdap to exit'), 0);

    const status = await helper.check();
    assert.equal(status.manifestExists, true);
    assert.equal(status.sha256, node.sha256, 'the manifest is byte-identical');
    assert.equal(status.modeOwnerSame, true, 'the manifest keeps its mode and owner');
    assert.deepEqual(status.manifests, ['kube-scheduler.yaml']);
    assert.ok(status.componentPid, 'the component runs again');
    assert.deepEqual(status.componentArgs, node.componentArgs);
    assert.deepEqual(status.dlvLeft, []);
    assert.deepEqual(status.parked, []);
  } catch (err) {
    const e = err as Error;
    e.message +=
      `\n--- kdap log (${logFile}) ---\n${tail(logFile)}` +
      (kdapStderr ? `\n--- kdap stderr ---\n${kdapStderr.slice(-4000)}` : '') +
      `\n--- e2e_node.py stderr ---\n${helper.log()}`;
    throw e;
  } finally {
    if (kdap && kdap.exitCode === null && kdap.signalCode === null) {
      kdap.stdin?.end(); // kdap restores the node when the editor goes away
      await within(exitOf(kdap), 60_000, 'kdap to exit after stdin closed').catch(() => kdap!.kill('SIGKILL'));
    }
    await helper.close();
    if (!process.env.KDAP_E2E_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
  }
});
