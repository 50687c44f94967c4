// package.json: the debugger contribution's launch schema matches bridge/config/launch_config.{h,cpp}, and
// the configurations and snippets it offers are valid against it.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';

import { TARGET_PATTERN, attachesToRunningProcess } from '../src/launchConfig';
import { EXT_ROOT } from './paths';
import {
  attachSchema,
  cppDefaults,
  cppDlvKeys,
  cppEditorKeys,
  cppOwnKeys,
  cppReadKeys,
  cppSource,
  debuggerContribution,
  expandSnippetText,
  launchSchema,
  newAjv,
  pkg,
  renderSnippetBody,
  requiredNames,
  schemaAsVsCodeBuildsIt,
} from './schema';

const props = launchSchema.properties;
const EXTENSION_KEYS = ['localRoot'];

describe('package.json', () => {
  test('is a VS Code extension manifest kdap can be packaged from', () => {
    assert.equal(pkg.name, 'kdap');
    assert.equal(pkg.publisher, 'kdap');
    assert.match(pkg.version, /^\d+\.\d+\.\d+$/);
    assert.equal(pkg.engines.vscode, '^1.85.0');
    assert.equal(pkg.main, 'out/extension.js');
    assert.ok(fs.existsSync(path.join(EXT_ROOT, pkg.main)), `${pkg.main} is missing: run npm run compile first`);
    assert.deepEqual([...pkg.activationEvents].sort(), ['onDebugDynamicConfigurations:kdap', 'onDebugResolve:kdap']);
    assert.ok(pkg.repository?.url, 'repository is set (vsce asks otherwise)');
    assert.ok(pkg.license);
    for (const file of ['README.md', 'CHANGELOG.md', 'LICENSE', '.vscodeignore']) {
      assert.ok(fs.existsSync(path.join(EXT_ROOT, file)), `${file} exists`);
    }
    const typesVersion = pkg.devDependencies['@types/vscode'].replace(/^[\^~]/, '');
    assert.ok(typesVersion.startsWith('1.85.'), '@types/vscode must not be newer than engines.vscode');
  });

  test('contributes the kdap debugger for Go and Go breakpoints', () => {
    assert.equal(pkg.contributes.debuggers.length, 1);
    assert.equal(debuggerContribution.type, 'kdap');
    assert.equal(debuggerContribution.label, 'Kubernetes component (kdap)');
    assert.deepEqual(debuggerContribution.languages, ['go']);
    assert.equal(debuggerContribution.program, undefined, 'the adapter comes from the descriptor factory');
    assert.deepEqual(pkg.contributes.breakpoints, [{ language: 'go' }]);
    assert.deepEqual(Object.keys(debuggerContribution.configurationAttributes).sort(), ['attach', 'launch']);
  });

  test('contributes the kdap.path and kdap.logFile settings', () => {
    const settings = pkg.contributes.configuration.properties;
    for (const key of ['kdap.path', 'kdap.logFile', 'kdap.logLevel']) {
      assert.equal(settings[key]?.type, 'string', key);
      assert.equal(settings[key].default, '', key);
      assert.ok(settings[key].markdownDescription || settings[key].description, key);
    }
    assert.match(settings['kdap.path'].markdownDescription, /PATH/);
  });
});

describe('launch schema vs bridge/config/launch_config.cpp', () => {
  test('the C++ lists are where the test looks for them', () => {
    assert.ok(cppOwnKeys().includes('target'));
    assert.ok(cppDlvKeys().includes('substitutePath'));
    assert.ok(cppEditorKeys().includes('type'));
  });

  test("every kdap attribute (the `own` set) is in the schema", () => {
    const missing = cppOwnKeys().filter((k) => !(k in props));
    assert.deepEqual(missing, [], `add these to configurationAttributes.launch: ${missing.join(', ')}`);
  });

  test('every dlv pass-through attribute (kDlvAttachKeys) is in the schema', () => {
    const missing = cppDlvKeys().filter((k) => !(k in props));
    assert.deepEqual(missing, [], `add these to configurationAttributes.launch: ${missing.join(', ')}`);
  });

  test('the schema has no attribute kdap does not know', () => {
    const known = new Set([...cppOwnKeys(), ...cppDlvKeys(), ...EXTENSION_KEYS]);
    const extra = Object.keys(props).filter((k) => !known.has(k));
    assert.deepEqual(extra, [], `kdap would warn about these as unknown: ${extra.join(', ')}`);
  });

  test('kdap ignores localRoot silently (it is in kEditorKeys)', () => {
    for (const k of EXTENSION_KEYS) assert.ok(cppEditorKeys().includes(k), k);
  });

  test('every attribute parse_launch_config reads is in its own set', () => {
    // localRoot is the extension's (kdap would otherwise warn about it) and kdap reads it for automatic substitutePath
    const own = new Set([...cppOwnKeys(), ...cppDlvKeys(), ...EXTENSION_KEYS]);
    const read = cppReadKeys();
    assert.ok(read.length >= 15, `found only ${read.join(', ')}`);
    assert.deepEqual(read.filter((k) => !own.has(k)), []);
  });

  test("defaults match LaunchConfig's member initializers", () => {
    const defaults = cppDefaults();
    assert.ok(Object.keys(defaults).length >= 7, JSON.stringify(defaults));
    for (const [key, value] of Object.entries(defaults)) {
      assert.ok(key in props, `${key} (from launch_config.h) is in the schema`);
      assert.equal(props[key].default, value, `default of ${key}`);
    }
  });

  test('timeouts have the limits parse_launch_config enforces', () => {
    const max = Number(/between 1 and (\d+)/.exec(cppSource)?.[1]);
    assert.ok(max > 0);
    const timeouts = [...cppSource.matchAll(/seconds_at\(args, "(\w+)"/g)].map((m) => m[1]);
    assert.equal(timeouts.length, 5);
    for (const key of timeouts) {
      assert.equal(props[key].type, 'number', key);
      assert.equal(props[key].maximum, max, key);
      if (key === 'guardKeepalive') {
        const min = Number(/guardKeepalive"\) \+ " must be at least (\d+) seconds/.exec(cppSource)?.[1]);
        assert.equal(props[key].minimum, min, key);
      } else {
        assert.equal(props[key].exclusiveMinimum, 0, key);
      }
    }
  });

  test('every attribute has a type, a description and a default that fits', () => {
    const ajv = newAjv();
    for (const [key, schema] of Object.entries(props)) {
      assert.ok(schema.type, `${key} has a type`);
      assert.ok(
        typeof schema.description === 'string' || typeof schema.markdownDescription === 'string',
        `${key} has a description`,
      );
      if ('default' in schema) {
        const validate = ajv.compile(schema);
        assert.ok(validate(schema.default), `${key}'s default: ${ajv.errorsText(validate.errors)}`);
      }
    }
  });

  test('the target pattern is the one in src/launchConfig.ts and covers every kind kdap knows', () => {
    assert.equal(new RegExp(props.target.pattern as string).source, TARGET_PATTERN.source);
    const kinds = [...cppSource.matchAll(/\{"([a-z-]+)", TargetKind::/g)].map((m) => m[1]);
    assert.ok(kinds.length >= 5, kinds.join(','));
    assert.match(cppSource, /text == "exec"/);
    const validate = newAjv().compile(props.target);
    for (const kind of kinds) {
      assert.ok(validate(`${kind}/x`), `${kind}/x`);
      assert.ok(!validate(`${kind}/`), `${kind}/ names nothing`);
    }
    for (const ok of ['exec', 'static-pod/kube-scheduler', 'daemonset/kube-system/kube-proxy', 'pid/42']) {
      assert.ok(validate(ok), ok);
    }
    for (const bad of ['deployment/x', 'exec/x', 'kube-scheduler', '', 'static-pod']) {
      assert.ok(!validate(bad), bad);
    }
  });

  test('dlvFlags refuses what parse_launch_config refuses', () => {
    const validate = newAjv().compile(props.dlvFlags);
    for (const check of ['flag.starts_with("--listen")', 'flag.starts_with("-l=")', 'flag == "-l"', 'flag.starts_with("--headless")']) {
      assert.ok(cppSource.includes(check), `launch_config.cpp no longer checks ${check}; update the dlvFlags schema`);
    }
    for (const bad of ['--listen=0.0.0.0:2345', '--listen', '-l', '-l=:2345', '--headless', '--headless=true']) {
      assert.ok(!validate([bad]), bad);
    }
    for (const good of ['--check-go-version=false', '--log', '--log-output=dap,debugger', '-log']) {
      assert.ok(validate([good]), good);
    }
  });

  test('manifestDir and stateDir must be absolute', () => {
    const ajv = newAjv();
    for (const key of ['manifestDir', 'stateDir']) {
      const validate = ajv.compile(props[key]);
      assert.ok(validate('/x'));
      assert.ok(!validate('x'));
      assert.ok(!validate(''));
    }
  });

  test('substitutePath entries need from and to', () => {
    const validate = newAjv().compile(props.substitutePath);
    assert.ok(validate([{ from: '/a', to: '/b' }]));
    assert.ok(!validate([{ from: '/a' }]));
    assert.ok(!validate({ from: '/a', to: '/b' }));
  });
});

describe('launch and attach requests', () => {
  const validate = newAjv().compile(launchSchema);
  const ok = (config: Record<string, unknown>) => {
    const valid = validate(config);
    return { valid, errors: newAjv().errorsText(validate.errors) };
  };

  test('attach takes exactly the launch attributes (edit launch, then npm run sync-schema)', () => {
    // kdap reads the same arguments from both requests; only what Stop sends differs.
    assert.deepEqual(attachSchema, launchSchema);
  });

  test('either target or component is required, not both, as parse_launch_config says', () => {
    assert.match(cppSource, /if \(target && c\.component\)/);
    assert.match(cppSource, /if \(!target && !c\.component\)/);
    // VS Code turns `required` into its own list (name, type, request and these); one of the two is a oneOf.
    assert.equal(launchSchema.required, undefined);
    for (const config of [{ target: 'static-pod/kube-scheduler' }, { component: 'kube-scheduler' }]) {
      const r = ok(config);
      assert.ok(r.valid, `${JSON.stringify(config)}: ${r.errors}`);
    }
    assert.ok(!ok({}).valid, 'neither');
    assert.ok(!ok({ host: 'root@n1', program: '/opt/debug/kube-scheduler' }).valid, 'neither');
    assert.ok(!ok({ target: 'static-pod/kube-scheduler', component: 'kube-scheduler' }).valid, 'both');
  });

  test('every required name is an attribute of the schema (a misspelt one would make every configuration invalid)', () => {
    const names = requiredNames(launchSchema).filter(({ at }) => !at.startsWith('#/properties/'));
    assert.deepEqual(names.map((n) => n.name).sort(), ['component', 'program', 'target', 'target']);
    for (const { name, at } of names) assert.ok(name in props, `${name} at ${at}`);
    const substitutePath = props.substitutePath.items as { required: string[]; properties: Record<string, unknown> };
    for (const name of substitutePath.required) assert.ok(name in substitutePath.properties, name);
  });

  test('component is a bare name, as parse_launch_config requires', () => {
    assert.ok(cppSource.includes("c.component->find('/')"), 'launch_config.cpp no longer refuses a / in component');
    const validateComponent = newAjv().compile(props.component);
    for (const good of ['kube-scheduler', 'kubelet', 'kubelet.service', 'etcd']) {
      assert.ok(validateComponent(good), good);
    }
    for (const bad of ['static-pod/kube-scheduler', 'kube-system/kube-proxy', '/', '']) {
      assert.ok(!validateComponent(bad), bad);
    }
    assert.ok(!ok({ component: 'systemd/kubelet' }).valid);
  });

  test('target exec needs program, as parse_launch_config requires', () => {
    assert.match(cppSource, /TargetKind::kExec && !c\.program/);
    assert.ok(!ok({ target: 'exec' }).valid);
    assert.ok(ok({ target: 'exec', program: '/opt/debug/my-controller' }).valid);
    assert.ok(ok({ target: 'static-pod/kube-scheduler' }).valid, 'only exec needs program');
  });

  test('as VS Code builds a request schema, the request must match and unknown attributes are flagged', () => {
    const attach = newAjv().compile(schemaAsVsCodeBuildsIt('attach'));
    const config = { name: 'x', type: 'kdap', request: 'attach', host: 'root@n1', target: 'process/my-controller' };
    assert.ok(attach(config), newAjv().errorsText(attach.errors));
    assert.ok(!attach({ ...config, request: 'launch' }));
    assert.ok(!attach({ ...config, tagret: 'pid/1' }));
    assert.ok(!attach({ name: 'x', type: 'kdap', request: 'attach' }), 'neither target nor component');
  });

  test('the new node attributes: kubeconfig, kubectl, nodeName', () => {
    for (const key of ['kubeconfig', 'kubectl', 'nodeName']) {
      assert.equal(props[key]?.type, 'string', key);
      assert.ok(!newAjv().compile(props[key])(''), `${key} must not be empty (parse_launch_config refuses it)`);
    }
    assert.equal(props.nodeName.default, undefined, 'nodeName defaults to the hostname, which is not a constant');
  });
});

describe('configurations offered to the user', () => {
  const validators = {
    launch: newAjv().compile(schemaAsVsCodeBuildsIt('launch')),
    attach: newAjv().compile(schemaAsVsCodeBuildsIt('attach')),
  };
  const expectedTargets = [
    'static-pod/kube-apiserver',
    'static-pod/kube-scheduler',
    'static-pod/kube-controller-manager',
    'daemonset/kube-system/kube-proxy',
    'systemd/kubelet',
  ];

  function checkConfig(config: Record<string, unknown>, what: string) {
    const target = config.target as string;
    // Stop on a launch session sends terminate, which would end a process kdap only attached to.
    const request = attachesToRunningProcess(target) ? 'attach' : 'launch';
    assert.equal(config.request, request, what);
    const validate = validators[request];
    assert.ok(validate(config), `${what}: ${newAjv().errorsText(validate.errors)}`);
    assert.equal(config.type, 'kdap', what);
    assert.ok(typeof config.name === 'string' && config.name, what);
    const sp = config.substitutePath as { from: string; to: string }[];
    assert.equal(sp.length, 1, what);
    assert.equal(sp[0].from, '${workspaceFolder}', what);
    assert.match(sp[0].to, /^\/go\/src\//, what);
    if (target.startsWith('daemonset/')) assert.equal(config.kubeconfig, '/etc/kubernetes/admin.conf', what);
  }

  test('initialConfigurations are valid and cover the components', () => {
    const configs = debuggerContribution.initialConfigurations as Record<string, unknown>[];
    configs.forEach((c, i) => checkConfig(c, `initialConfigurations[${i}]`));
    const targets = configs.map((c) => c.target as string);
    for (const t of expectedTargets) assert.ok(targets.includes(t), t);
    assert.ok(targets.some((t) => t.startsWith('process/')));
    assert.equal(new Set(configs.map((c) => c.name)).size, configs.length, 'names are unique');
  });

  test('configurationSnippets expand to valid configurations', () => {
    const snippets = debuggerContribution.configurationSnippets as { label: string; description: string; body: unknown }[];
    assert.equal(snippets.length, (debuggerContribution.initialConfigurations as unknown[]).length);
    const targets: string[] = [];
    for (const s of snippets) {
      assert.ok(s.label.startsWith('kdap: '), s.label);
      assert.ok(s.description, s.label);
      const config = renderSnippetBody(s.body) as Record<string, unknown>;
      checkConfig(config, s.label);
      targets.push(config.target as string);
    }
    for (const t of expectedTargets) assert.ok(targets.includes(t), t);
    assert.ok(targets.some((t) => t.startsWith('process/')));
  });

  test('the snippet expander follows VS Code snippet syntax', () => {
    assert.equal(expandSnippetText('${1:root}@${2:node-1}'), 'root@node-1');
    assert.equal(expandSnippetText('a$1b${2}c'), 'abc');
    assert.equal(expandSnippetText('"\\${workspaceFolder}"'), '"${workspaceFolder}"');
    assert.equal(expandSnippetText('${1:a${2:b}c}'), 'abc');
    assert.throws(() => expandSnippetText('${workspaceFolder}'), /snippet variable/);
  });
});
