#!/usr/bin/env node
/*
 * selftest.js: the checks of k8scheck.js catch what they are meant to catch. The two plain
 * bundles of deploy/ (entrypoint and sidecar) must pass untouched; then each mutation below
 * breaks one thing in a copy of them, the way a person editing the manifests could, and the
 * check named next to it must report it. Run by validate.sh:
 *
 *   node selftest.js --repo DIR [--spec SPEC.md] [--graceinit BIN] [--chart-dir DIR]
 *                    --entrypoint FILE,FILE... --sidecar FILE,FILE...
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const k = require('./k8scheck.js');

const opts = {};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
	const key = { '--repo': 'repo', '--spec': 'spec', '--graceinit': 'graceinit',
		'--chart-dir': 'chartDir', '--work': 'work', '--entrypoint': 'entrypoint',
		'--sidecar': 'sidecar' }[argv[i]];
	if (!key || i + 1 >= argv.length) {
		console.error(`selftest: unexpected ${argv[i]}`);
		process.exit(2);
	}
	opts[key] = argv[i + 1];
}
if (!opts.repo || !opts.entrypoint || !opts.sidecar) {
	console.error('usage: selftest.js --repo DIR [--spec SPEC.md] [--graceinit BIN] ' +
		'[--chart-dir DIR] --entrypoint FILES --sidecar FILES');
	process.exit(2);
}
const work = opts.work || fs.mkdtempSync(path.join(os.tmpdir(), 'k8s-selftest-'));

/* ------------------------------------------------------------ helpers for the mutations */
const base = {};
for (const mode of ['entrypoint', 'sidecar']) {
	const { docs, errors } = k.loadDocs(opts[mode].split(','));
	if (errors.length) throw new Error(errors.join('\n'));
	base[mode] = docs;
}
const of = (docs, kind) => docs.find((d) => d.obj.kind === kind).obj;
const podSpec = (docs) => of(docs, 'Deployment').spec.template.spec;
const app = (docs) => podSpec(docs).containers.find((c) => c.name === 'app');
const sidecar = (docs) => podSpec(docs).initContainers.find((c) => c.name === 'graceinit');
const env = (c, name) => c.env.find((e) => e.name === name);
const drop = (docs, kind) => docs.splice(docs.findIndex((d) => d.obj.kind === kind), 1);
const rename = (o, from, to) => {
	o[to] = o[from];
	delete o[from];
};

/* [bundle, what is broken, the check that must say so, the mutation] */
const mutations = [
	['entrypoint', 'a misspelt container field', 'fields',
		(b) => rename(app(b), 'readinessProbe', 'readinesProbe')],
	['entrypoint', 'a misspelt field deep in a hook', 'fields',
		(b) => { app(b).lifecycle.preStop.httpGet.timeoutSeconds = 5; }],
	['entrypoint', 'a misspelt field in the Service', 'fields',
		(b) => { of(b, 'Service').spec.selectors = of(b, 'Service').spec.selector; }],
	['entrypoint', 'a number written as a string', 'schema',
		(b) => { podSpec(b).terminationGracePeriodSeconds = '30'; }],
	['entrypoint', 'a value outside its enum', 'schema',
		(b) => { app(b).imagePullPolicy = 'Sometimes'; }],
	['entrypoint', 'a YAML 1.1 boolean where a string goes (value: on)', 'schema',
		(b) => { env(app(b), 'GRACEINIT_ENDPOINTS').value = true; }],
	['entrypoint', 'a kind the API does not serve', 'schema',
		(b) => { of(b, 'PodDisruptionBudget').apiVersion = 'policy/v1beta2'; }],
	['entrypoint', 'a GRACEINIT_* variable that is no option', 'env',
		(b) => { env(app(b), 'GRACEINIT_DRAIN_DELAY').name = 'GRACEINIT_DRAIN_DELAYS'; }],
	['entrypoint', 'a lower-case GRACEINIT_ variable', 'env',
		(b) => { env(app(b), 'GRACEINIT_LOG_FORMAT').name = 'GRACEINIT_log_format'; }],
	['entrypoint', 'terminationGracePeriodSeconds != GRACEINIT_GRACE_PERIOD', 'grace-period',
		(b) => { podSpec(b).terminationGracePeriodSeconds = 45; }],
	['entrypoint', 'no terminationGracePeriodSeconds', 'grace-period',
		(b) => { delete podSpec(b).terminationGracePeriodSeconds; }],
	['entrypoint', 'no GRACEINIT_GRACE_PERIOD', 'grace-period',
		(b) => { app(b).env = app(b).env.filter((e) => e.name !== 'GRACEINIT_GRACE_PERIOD'); }],
	['entrypoint', 'the readiness probe on /livez', 'readinessProbe',
		(b) => { app(b).readinessProbe.httpGet.path = '/livez'; }],
	['entrypoint', 'the liveness probe on the app\'s port', 'livenessProbe',
		(b) => { app(b).livenessProbe.httpGet.port = 'http'; }],
	['entrypoint', 'a probe on a port name the container lacks', 'readinessProbe',
		(b) => { app(b).readinessProbe.httpGet.port = 'graceinit-http'; }],
	['entrypoint', 'no preStop hook', 'preStop',
		(b) => { delete app(b).lifecycle; }],
	['entrypoint', 'preStop on /drain (POST only)', 'preStop',
		(b) => { app(b).lifecycle.preStop.httpGet.path = '/drain'; }],
	['entrypoint', 'an exec preStop that is not graceinit prestop', 'preStop',
		(b) => { app(b).lifecycle.preStop = { exec: { command: ['sleep', '5'] } }; }],
	['entrypoint', 'graceinit listening on loopback only', 'http',
		(b) => { env(app(b), 'GRACEINIT_HTTP').value = '127.0.0.1:9797'; }],
	['entrypoint', 'graceinit on another port than SPEC.md\'s', 'http',
		(b) => { env(app(b), 'GRACEINIT_HTTP').value = ':9898'; }],
	['entrypoint', 'graceinit\'s port not declared', 'ports',
		(b) => { app(b).ports = app(b).ports.filter((p) => p.containerPort !== 9797); }],
	['entrypoint', 'graceinit without "--" before the app', 'entrypoint',
		(b) => { app(b).command = ['/graceinit']; }],
	['entrypoint', 'no container runs graceinit', 'graceinit',
		(b) => { app(b).command = ['my-server']; }],
	['entrypoint', 'POD_IP from the wrong field', 'downward-api',
		(b) => { env(app(b), 'POD_IP').valueFrom.fieldRef.fieldPath = 'status.hostIP'; }],
	['entrypoint', 'no GRACEINIT_NAMESPACE while the watch is on', 'downward-api',
		(b) => { app(b).env = app(b).env.filter((e) => e.name !== 'GRACEINIT_NAMESPACE'); }],
	['entrypoint', 'readiness on a port no container serves', 'ready-tcp',
		(b) => { env(app(b), 'GRACEINIT_READY_TCP').value = '127.0.0.1:8081'; }],
	['entrypoint', 'a control token with a plain httpGet preStop', 'preStop',
		(b) => { app(b).env.push({ name: 'GRACEINIT_CONTROL_TOKEN', value: 'xyz' }); }],
	['entrypoint', 'the Service exposing graceinit\'s port', 'service',
		(b) => { of(b, 'Service').spec.ports.push({ name: 'gi', port: 9797, targetPort: 'graceinit' }); }],
	['entrypoint', 'a Service that selects nothing', 'service',
		(b) => { of(b, 'Service').spec.selector = { app: 'my-ap' }; }],
	['entrypoint', 'a Service targeting a port name nobody has', 'service',
		(b) => { of(b, 'Service').spec.ports[0].targetPort = 'web'; }],
	['entrypoint', 'a PodDisruptionBudget that selects nothing', 'pdb',
		(b) => { of(b, 'PodDisruptionBudget').spec.selector.matchLabels = { app: 'x' }; }],
	['entrypoint', 'a Deployment selector that misses its pods', 'selector',
		(b) => { of(b, 'Deployment').spec.selector.matchLabels = { app: 'x' }; }],
	['entrypoint', 'no RoleBinding', 'rbac', (b) => drop(b, 'RoleBinding')],
	['entrypoint', 'no ServiceAccount', 'rbac', (b) => drop(b, 'ServiceAccount')],
	['entrypoint', 'a Role without watch', 'rbac',
		(b) => { of(b, 'Role').rules[0].verbs = ['get', 'list']; }],
	['entrypoint', 'a Role on the old Endpoints API', 'rbac',
		(b) => { of(b, 'Role').rules[0] = { apiGroups: [''], resources: ['endpoints'],
			verbs: ['get', 'list', 'watch'] }; }],
	['entrypoint', 'a RoleBinding to another account', 'rbac',
		(b) => { of(b, 'RoleBinding').subjects[0].name = 'other'; }],
	['entrypoint', 'the pod on the default service account', 'rbac',
		(b) => { delete podSpec(b).serviceAccountName; }],
	['entrypoint', 'no token mounted', 'rbac',
		(b) => { podSpec(b).automountServiceAccountToken = false; }],
	['entrypoint', 'a duration graceinit cannot read', 'plan',
		(b) => { env(app(b), 'GRACEINIT_DRAIN_DELAY').value = '5 seconds'; }],
	['entrypoint', 'a budget graceinit plan refuses', 'plan',
		(b) => {
			podSpec(b).terminationGracePeriodSeconds = 10;
			env(app(b), 'GRACEINIT_GRACE_PERIOD').value = '10s';
			env(app(b), 'GRACEINIT_ENDPOINTS').value = 'off';
			app(b).env = app(b).env.filter((e) => e.name !== 'GRACEINIT_NAMESPACE');
		}],
	['sidecar', 'the sidecar without restartPolicy: Always', 'sidecar',
		(b) => { delete sidecar(b).restartPolicy; }],
	['sidecar', 'the sidecar as a regular container', 'sidecar',
		(b) => {
			const s = sidecar(b);
			delete s.restartPolicy;
			delete podSpec(b).initContainers;
			podSpec(b).containers.push(s);
		}],
	['sidecar', 'graceinit in the sidecar without --sidecar', 'sidecar',
		(b) => { sidecar(b).env = sidecar(b).env.filter((e) => e.name !== 'GRACEINIT_SIDECAR'); }],
	['sidecar', 'the app\'s preStop by the sidecar\'s port name', 'preStop',
		(b) => { app(b).lifecycle.preStop.httpGet.port = 'graceinit'; }],
	['sidecar', 'the app without preStop', 'preStop',
		(b) => { delete app(b).lifecycle; }],
	['sidecar', 'the sidecar\'s budget != terminationGracePeriodSeconds', 'grace-period',
		(b) => { env(sidecar(b), 'GRACEINIT_GRACE_PERIOD').value = '1m'; }],
	['sidecar', 'a misspelt sidecar field', 'fields',
		(b) => rename(sidecar(b), 'restartPolicy', 'restartpolicy')],
	['sidecar', 'the sidecar without readiness probe', 'readinessProbe',
		(b) => { delete sidecar(b).readinessProbe; }],
];

/* ------------------------------------------------------------ run */
const facts = k.loadFacts(opts);
const clone = (docs, tag) => docs.map((d) => {
	const c = k.makeDoc(JSON.parse(JSON.stringify(d.obj)), d.file, d.index);
	c.label = `${tag} ${c.label}`;
	return c;
});
const bundles = [
	{ name: '[base-entrypoint]', rbac: true, docs: clone(base.entrypoint, '[base-entrypoint]') },
	{ name: '[base-sidecar]', rbac: true, docs: clone(base.sidecar, '[base-sidecar]') },
];
const usable = mutations.filter((m) => m[2] !== 'plan' || opts.graceinit);
usable.forEach(([mode, , , mutate], i) => {
	const tag = `[m${i}]`;
	const docs = clone(base[mode], tag);
	mutate(docs);
	bundles.push({ name: tag, rbac: true, docs });
});
const { errors } = k.checkAll(bundles, facts, work);

/* YAML-level checks, on files: duplicate keys, and YAML 1.1 booleans as the API reads them. */
const yamlDir = fs.mkdtempSync(path.join(os.tmpdir(), 'k8s-selftest-yaml-'));
const dup = path.join(yamlDir, 'dup.yaml');
fs.writeFileSync(dup, 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: a\n  name: b\n');
const onoff = path.join(yamlDir, 'on.yaml');
fs.writeFileSync(onoff, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: on\n');
const y1 = k.loadDocs([dup]);
const y2 = k.loadDocs([onoff]);
fs.rmSync(yamlDir, { recursive: true, force: true });

let passed = 0;
let failed = 0;
const say = (good, text) => {
	if (good) passed++;
	else failed++;
	console.log(`${good ? 'ok  ' : 'FAIL'} ${text}`);
};
const base0 = errors.filter((e) => e.startsWith('[base-') || !e.startsWith('[m'));
say(base0.length === 0, `deploy/ passes untouched${base0.length ? `:\n  ${base0.join('\n  ')}` : ''}`);
usable.forEach(([mode, what, rule], i) => {
	const tag = `[m${i}]`;
	const mine = errors.filter((e) => e.startsWith(`${tag} `) || e.startsWith(`${tag}:`));
	const hit = mine.some((e) => e.includes(`[${rule}]`));
	say(hit, `${mode}: ${what} -> [${rule}]` +
		(hit ? '' : `; reported instead: ${mine.join(' | ') || 'nothing'}`));
});
say(y1.errors.some((e) => /\[yaml\].*(unique|duplicate)/i.test(e)),
	'yaml: a duplicate key -> [yaml]');
const y2s = k.checkSchemas(y2.docs);
say(y2s.some((e) => e.includes('[schema]') && e.includes('/data/x')),
	'yaml: "x: on" is a YAML 1.1 boolean, not the string a ConfigMap needs -> [schema]');
if (!opts.graceinit) console.log('(no --graceinit: the [plan] mutations were skipped)');
console.log(`selftest: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
