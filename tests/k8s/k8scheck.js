#!/usr/bin/env node
/*
 * k8scheck.js: offline checks of Kubernetes manifests that use graceinit (deploy/ and the
 * rendered Helm chart), run by validate.sh. Three layers, each catching what the one before
 * cannot:
 *
 *   schema   every object against the Kubernetes API schemas of kubernetes-models (types,
 *            required fields, enums), as the API server would;
 *   fields   unknown fields, which those schemas let through (they have no
 *            additionalProperties: false) but the API server drops or, with strict field
 *            validation, refuses: each object literal is checked against the TypeScript
 *            interfaces that the same package ships, field by field, recursively;
 *   graceinit  what a schema cannot know: that the manifests agree with graceinit itself
 *            (SPEC.md, src/conf.c's option table, src/http.c's routes, and `graceinit plan` on
 *            each graceinit container's configuration), and with each other (Service and
 *            PodDisruptionBudget selectors, the RBAC of the EndpointSlice watch).
 *
 * CLI:  node k8scheck.js --repo DIR [--spec SPEC.md] [--graceinit BIN] [--chart-dir DIR]
 *                        [--work DIR] NAME[+rbac]=FILE[,FILE...] ...
 * Each NAME=FILES is a bundle: the objects deployed together (cross-object checks run within
 * it). "+rbac" requires the ServiceAccount, Role and RoleBinding of the watch in the bundle.
 * Exit 0 when every check passes, 1 otherwise, 2 for a usage error.
 * The npm packages come from K8S_NODE_DIR (validate.sh's npm ci of tests/k8s/package.json).
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { createRequire } = require('module');

const NODE_DIR = process.env.K8S_NODE_DIR;
if (!NODE_DIR) {
	console.error('k8scheck: K8S_NODE_DIR is not set (the directory of the npm ci of tests/k8s)');
	process.exit(2);
}
const nreq = createRequire(path.join(path.resolve(NODE_DIR), 'package.json'));

/* Kinds whose objects carry a pod template, and where it is. */
const POD_TEMPLATE = {
	Deployment: (o) => o.spec && o.spec.template,
	StatefulSet: (o) => o.spec && o.spec.template,
	DaemonSet: (o) => o.spec && o.spec.template,
	ReplicaSet: (o) => o.spec && o.spec.template,
	Job: (o) => o.spec && o.spec.template,
	CronJob: (o) => o.spec && o.spec.jobTemplate && o.spec.jobTemplate.spec &&
		o.spec.jobTemplate.spec.template,
	Pod: (o) => o,
};

/* ---------------------------------------------------------------- facts about graceinit */

/* graceinit's long options, from the option table of src/conf.c, with their list separators. */
function confOptions(repo) {
	const src = fs.readFileSync(path.join(repo, 'src/conf.c'), 'utf8');
	const start = src.indexOf('static const struct opt opts[]');
	const end = src.indexOf('\n};', start);
	if (start < 0 || end < 0)
		throw new Error('src/conf.c: the option table (static const struct opt opts[]) is gone');
	const table = src.slice(start, end);
	const names = [...table.matchAll(/\{\s*"([a-z][a-z-]*)",\s*T_[A-Z_]+/g)].map((m) => m[1]);
	if (names.length < 10)
		throw new Error(`src/conf.c: only ${names.length} options found in the table`);
	/* Lists whose items are separated by newlines ('\n' in the table) rather than commas. */
	const newline = [...table.matchAll(/\{\s*"([a-z][a-z-]*)",[^{}]*?G_[A-Z]+,\s*'\\n'/g)]
		.map((m) => m[1]);
	/* The default listen address in Kubernetes, as derive() sets it. */
	const port = /strdup\(":(\d+)"\)/.exec(src);
	return { names, newline, port: port ? Number(port[1]) : null };
}

/* graceinit's HTTP routes and their methods, from the route table of src/http.c. */
function httpRoutes(repo) {
	const src = fs.readFileSync(path.join(repo, 'src/http.c'), 'utf8');
	const routes = new Map();
	for (const m of src.matchAll(/\{\s*"(\/[a-z]*)",\s*((?:M_[A-Z]+\s*\|?\s*)+),/g))
		routes.set(m[1], new Set(m[2].split('|').map((s) => s.trim().replace(/^M_/, ''))));
	if (!routes.size) throw new Error('src/http.c: no route table found');
	return routes;
}

/* What SPEC.md fixes: the default port in Kubernetes and the endpoints with their methods. */
function specFacts(specPath) {
	const text = fs.readFileSync(specPath, 'utf8');
	const port = /Default `:(\d+)` when\s+running in Kubernetes/.exec(text);
	const endpoints = new Map();
	for (const m of text.matchAll(/`((?:GET|POST|\|)+) (\/[a-z]+)`/g))
		endpoints.set(m[2], new Set(m[1].split('|')));
	for (const m of text.matchAll(/`GET (\/[a-z]+)` \(alias `(\/[a-z]+)`\)/g))
		endpoints.set(m[2], endpoints.get(m[1]));
	if (!port || !endpoints.has('/livez') || !endpoints.has('/readyz') ||
		!endpoints.has('/prestop'))
		throw new Error(`${specPath}: the port or the /livez /readyz /prestop endpoints ` +
			'are no longer where this check reads them (SPEC.md, "HTTP API")');
	return { port: Number(port[1]), endpoints };
}

/*
 * What the library chart knows of graceinit's options: their names ("graceinit.options" in
 * _config.tpl) and which lists it joins one item per line (graceinit.optionValue).
 */
function chartOptions(chartDir) {
	const cfg = fs.readFileSync(path.join(chartDir, 'templates/_config.tpl'), 'utf8');
	const ctr = fs.readFileSync(path.join(chartDir, 'templates/_container.tpl'), 'utf8');
	const m = /define "graceinit\.options" -\}\}([\s\S]*?)\{\{- end/.exec(cfg);
	const nl = /has \.name \(list ((?:"[a-z-]+"\s*)+)\)/.exec(ctr);
	if (!m || !nl) throw new Error(`${chartDir}: "graceinit.options" or "graceinit.optionValue" moved`);
	return {
		names: [...m[1].matchAll(/^- ([a-z-]+)$/gm)].map((x) => x[1]),
		newline: [...nl[1].matchAll(/"([a-z-]+)"/g)].map((x) => x[1]),
	};
}

function loadFacts(opts) {
	const conf = confOptions(opts.repo);
	const facts = {
		options: new Set(conf.names),
		optionList: conf.names,
		routes: httpRoutes(opts.repo),
		port: conf.port,
		spec: null,
		bin: opts.graceinit || null,
		problems: [],
	};
	if (opts.spec) {
		facts.spec = specFacts(opts.spec);
		if (facts.port !== null && facts.port !== facts.spec.port)
			facts.problems.push(`[spec] SPEC.md's default port ${facts.spec.port} is not ` +
				`src/conf.c's ${facts.port}`);
		facts.port = facts.spec.port;
		for (const [p, methods] of facts.spec.endpoints) {
			const have = facts.routes.get(p);
			if (!have) facts.problems.push(`[spec] SPEC.md's ${p} is not a route of src/http.c`);
			else for (const mth of methods)
				if (!have.has(mth))
					facts.problems.push(`[spec] SPEC.md's ${mth} ${p} is not allowed by src/http.c`);
		}
	}
	if (facts.port === null)
		throw new Error('no default port: neither SPEC.md nor src/conf.c names it');
	if (opts.chartDir) {
		const chart = chartOptions(opts.chartDir);
		const missing = conf.names.filter((n) => !chart.names.includes(n));
		const extra = chart.names.filter((n) => !facts.options.has(n));
		if (missing.length || extra.length)
			facts.problems.push(`[chart-options] ${opts.chartDir}: "graceinit.options" ` +
				`differs from src/conf.c: missing ${missing.join(', ') || 'none'}, ` +
				`unknown ${extra.join(', ') || 'none'}`);
		const a = [...chart.newline].sort().join(', ');
		const b = [...conf.newline].sort().join(', ');
		if (a !== b)
			facts.problems.push(`[chart-options] ${opts.chartDir}: "graceinit.optionValue" joins ` +
				`${a || 'no list'} one item per line, src/conf.c separates ${b || 'none'} so`);
	}
	return facts;
}

/* ---------------------------------------------------------------- loading */

/* Every YAML document of the files, parsed as the API server's YAML 1.1 reader would. */
function loadDocs(files) {
	const YAML = nreq('yaml');
	const docs = [];
	const errors = [];
	for (const file of files) {
		const text = fs.readFileSync(file, 'utf8');
		YAML.parseAllDocuments(text, { version: '1.1', uniqueKeys: true, prettyErrors: false })
			.forEach((doc, i) => {
				if (doc.errors.length) {
					errors.push(`${file}#${i}: [yaml] ${doc.errors[0].message}`);
					return;
				}
				const obj = doc.toJS({ maxAliasCount: 0 });
				if (obj === null || obj === undefined) return;
				docs.push(makeDoc(obj, file, i));
			});
	}
	return { docs, errors };
}

function makeDoc(obj, file, index) {
	const name = obj && obj.metadata && obj.metadata.name;
	const kind = obj && obj.kind;
	return { obj, file, index, label: `${path.basename(file)}: ${kind || '?'}/${name || '?'}` };
}

/* kubernetes-models' module and class for an object's apiVersion and kind. */
function model(obj) {
	if (!obj || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') return null;
	/* "v1" -> kubernetes-models/v1, "apps/v1" -> kubernetes-models/apps/v1 */
	const dir = `kubernetes-models/${obj.apiVersion}`;
	return { module: dir, file: `${dir}/${obj.kind}`, kind: obj.kind };
}

/* ---------------------------------------------------------------- layer 1: schema */

function checkSchemas(docs) {
	const errors = [];
	for (const d of docs) {
		const m = model(d.obj);
		if (!m) {
			errors.push(`${d.label}: [schema] no apiVersion and kind`);
			continue;
		}
		if (!d.obj.metadata || !d.obj.metadata.name) {
			errors.push(`${d.label}: [schema] metadata.name is required`);
		}
		let Cls;
		try {
			Cls = nreq(m.module)[m.kind];
		} catch (e) {
			Cls = undefined;
		}
		if (typeof Cls !== 'function') {
			errors.push(`${d.label}: [schema] ${d.obj.apiVersion} ${d.obj.kind} is not a ` +
				'Kubernetes kind that kubernetes-models knows');
			continue;
		}
		try {
			new Cls(d.obj).validate();
		} catch (e) {
			const list = e.errors || e.details || [];
			if (list.length)
				for (const x of list)
					errors.push(`${d.label}: [schema] ${x.instancePath || '/'} ${x.message}` +
						(x.params && x.params.allowedValues ?
							` (${x.params.allowedValues.join(', ')})` : ''));
			else errors.push(`${d.label}: [schema] ${e.message}`);
		}
	}
	return errors;
}

/* ---------------------------------------------------------------- layer 2: unknown fields */

/*
 * One TypeScript file declares each object as a constant of its kind's interface
 * (const o3: IDeployment = {...}); the type checker then gives the type expected at every
 * object literal, and any key that type does not have is an unknown field. TypeScript's own
 * excess-property error stops at the first one, so the walk below reports them all, with
 * their paths. Other type errors of the file are reported too.
 */
function checkFields(docs, workDir) {
	const ts = nreq('typescript');
	const errors = [];
	const imports = new Map();
	const decls = [];
	const labels = [];
	for (const d of docs) {
		const m = model(d.obj);
		if (!m) continue;
		let alias = imports.get(m.file);
		if (!alias) {
			const dts = path.join(NODE_DIR, 'node_modules', `${m.file}.d.ts`);
			if (!fs.existsSync(dts)) continue; /* layer 1 said so already */
			alias = `T${imports.size}`;
			imports.set(m.file, alias);
		}
		labels.push(d.label);
		decls.push(`const o${decls.length}: ${alias} = ${JSON.stringify(d.obj)};`);
	}
	if (!decls.length) return errors;
	const head = [...imports].map(([file, alias]) =>
		`import type { I${path.basename(file)} as ${alias} } from "${file}";`);
	const dir = path.join(workDir, 'fields');
	fs.mkdirSync(dir, { recursive: true });
	const file = path.join(dir, `objects-${process.pid}.ts`);
	fs.writeFileSync(file, `${head.join('\n')}\n${decls.join('\n')}\nexport {};\n`);
	const program = ts.createProgram([file], {
		noEmit: true,
		strict: true,
		skipLibCheck: true,
		target: ts.ScriptTarget.ES2020,
		module: ts.ModuleKind.CommonJS,
		moduleResolution: ts.ModuleResolutionKind.Node10,
		baseUrl: path.join(NODE_DIR, 'node_modules'),
		types: [],
	});
	const checker = program.getTypeChecker();
	const sf = program.getSourceFile(file);

	/* The keys an object literal may have where the checker expects type t; null: any. */
	const keysOf = (t) => {
		const names = new Set();
		let objects = 0;
		for (const u of t.isUnion() ? t.types : [t]) {
			if (u.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return null;
			if (!(u.flags & ts.TypeFlags.Object) && !u.isIntersection()) continue;
			objects++;
			if (checker.getIndexInfosOfType(u).length) return null; /* a map */
			for (const s of checker.getPropertiesOfType(u)) names.add(s.name);
		}
		return objects ? names : null;
	};
	const walk = (node, where, label) => {
		if (ts.isObjectLiteralExpression(node)) {
			const t = checker.getContextualType(node);
			const keys = t ? keysOf(t) : null;
			for (const p of node.properties) {
				if (!ts.isPropertyAssignment(p)) continue;
				const name = p.name.text;
				if (keys && !keys.has(name))
					errors.push(`${label}: [fields] unknown field ${where}.${name}`);
				else walk(p.initializer, `${where}.${name}`, label);
			}
		} else if (ts.isArrayLiteralExpression(node)) {
			node.elements.forEach((e, i) => walk(e, `${where}[${i}]`, label));
		}
	};
	for (const st of sf.statements) {
		if (!ts.isVariableStatement(st)) continue;
		for (const v of st.declarationList.declarations) {
			const i = Number(v.name.text.slice(1));
			walk(v.initializer, '', labels[i]);
		}
	}
	/* Other type errors; excess properties (2353, 2561) were reported by the walk. */
	for (const dg of ts.getPreEmitDiagnostics(program)) {
		if (dg.code === 2353 || dg.code === 2561) continue;
		let label = 'objects.ts';
		if (dg.file === sf && dg.start !== undefined) {
			const line = sf.getLineAndCharacterOfPosition(dg.start).line;
			const i = line - head.length;
			if (i >= 0 && i < labels.length) label = labels[i];
		}
		errors.push(`${label}: [fields] ${ts.flattenDiagnosticMessageText(dg.messageText, ' ')}`);
	}
	fs.rmSync(file, { force: true });
	return errors;
}

/* ---------------------------------------------------------------- layer 3: graceinit */

/* A graceinit duration in ms (250ms, 5s, 2m, 1h30m, 1.5s, or seconds); NaN if it is not one. */
function durationMs(s) {
	s = String(s).trim();
	if (/^[0-9]+(\.[0-9]+)?$/.test(s)) return Math.round(Number(s) * 1000);
	if (!/^([0-9]+(\.[0-9]+)?(ms|h|m|s))+$/.test(s)) return NaN;
	const unit = { ms: 1, s: 1000, m: 60000, h: 3600000 };
	let ms = 0;
	for (const m of s.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)/g)) ms += Number(m[1]) * unit[m[2]];
	return Math.round(ms);
}

const envOf = (c) => new Map((c.env || []).map((e) => [e.name, e]));
const literal = (env, name) => {
	const e = env.get(name);
	return e && e.value !== undefined ? String(e.value) : undefined;
};
const isGraceinit = (c) => Array.isArray(c.command) && c.command[0] === '/graceinit' &&
	c.command[1] !== 'prestop' && c.command[1] !== 'status';

/* A probe's or hook's port as a number, resolving a name in the container's own ports. */
function resolvePort(port, container) {
	if (typeof port === 'number') return port;
	if (typeof port === 'string' && /^[0-9]+$/.test(port)) return Number(port);
	const p = (container.ports || []).find((x) => x.name === port);
	return p ? p.containerPort : null;
}

const matches = (selector, labels) => !!selector && Object.keys(selector).length > 0 &&
	Object.entries(selector).every(([k, v]) => labels && labels[k] === v);

/*
 * The graceinit container of one pod template, checked against SPEC.md, src/conf.c,
 * src/http.c and the kubelet's rules. Returns { errors, gi } (gi: what later checks need).
 */
function checkPod(d, tpl, facts) {
	const errors = [];
	const err = (rule, msg) => errors.push(`${d.label}: [${rule}] ${msg}`);
	const spec = (tpl && tpl.spec) || {};
	const containers = spec.containers || [];
	const inits = spec.initContainers || [];
	const all = [...inits, ...containers];
	const P = facts.port;

	/* Every GRACEINIT_* variable of every container is an option of graceinit. */
	for (const c of all)
		for (const e of c.env || [])
			if (/^GRACEINIT_/.test(e.name)) {
				const opt = e.name.slice(10).toLowerCase().replace(/_/g, '-');
				if (e.name !== e.name.toUpperCase() || !facts.options.has(opt))
					err('env', `container ${c.name}: ${e.name} is not an option of graceinit ` +
						'(src/conf.c; graceinit refuses unknown GRACEINIT_* variables, exit 2)');
			}

	const found = all.filter(isGraceinit);
	if (found.length !== 1) {
		err('graceinit', found.length ? 'more than one container runs /graceinit' :
			'no container runs /graceinit (command: ["/graceinit", ...])');
		return { errors, gi: null };
	}
	const g = found[0];
	const env = envOf(g);
	const sidecarFlag = literal(env, 'GRACEINIT_SIDECAR') === 'true' ||
		(g.args || []).includes('--sidecar') || g.command.includes('--sidecar');
	const inInit = inits.includes(g);
	let mode;
	if (inInit) {
		mode = 'sidecar';
		if (g.restartPolicy !== 'Always')
			err('sidecar', `init container ${g.name} runs graceinit without restartPolicy: ` +
				'Always: the pod would wait for it to exit before starting the app');
		if (!sidecarFlag)
			err('sidecar', `init container ${g.name}: graceinit needs --sidecar ` +
				'(GRACEINIT_SIDECAR=true) to run without a child');
	} else {
		mode = 'entrypoint';
		if (sidecarFlag)
			err('sidecar', `container ${g.name} runs graceinit --sidecar as a regular container: ` +
				'make it a native sidecar (initContainers, restartPolicy: Always) so that it ' +
				'outlives the app during the drain');
		const argv = [...g.command.slice(1), ...(g.args || [])];
		const dd = argv.indexOf('--');
		if (g.command[1] !== '--' || argv.length <= dd + 1)
			err('entrypoint', `container ${g.name}: command must be ["/graceinit", "--"] ` +
				'with the app in args');
	}

	/* The drain budget: terminationGracePeriodSeconds = GRACEINIT_GRACE_PERIOD. */
	const tgps = spec.terminationGracePeriodSeconds;
	const gp = literal(env, 'GRACEINIT_GRACE_PERIOD');
	if (tgps === undefined)
		err('grace-period', 'terminationGracePeriodSeconds is not set: write it next to ' +
			'GRACEINIT_GRACE_PERIOD so that the two are seen to agree');
	if (gp === undefined)
		err('grace-period', `container ${g.name}: GRACEINIT_GRACE_PERIOD is not set ` +
			'(as a literal value)');
	if (tgps !== undefined && gp !== undefined && durationMs(gp) !== tgps * 1000)
		err('grace-period', `GRACEINIT_GRACE_PERIOD ${gp} is not terminationGracePeriodSeconds ` +
			`${tgps}: graceinit would plan its drain and its SIGKILL on the wrong budget`);

	/* The listen address: all interfaces (the kubelet probes the pod IP), SPEC's port. */
	const http = literal(env, 'GRACEINIT_HTTP');
	let port = P;
	if (http !== undefined) {
		const m = /^(|0\.0\.0\.0|\[::\]|\*):([0-9]+)$/.exec(http);
		if (!m) err('http', `GRACEINIT_HTTP ${http}: must listen on every address (":PORT"), ` +
			'the kubelet calls the probes and the preStop hook on the pod IP');
		else port = Number(m[2]);
	}
	if (port !== P)
		err('http', `graceinit listens on ${port}, not on SPEC.md's ${P}`);
	if (!(g.ports || []).some((p) => p.containerPort === port))
		err('ports', `container ${g.name} does not declare containerPort ${port}`);
	else if (!(g.ports || []).some((p) => p.containerPort === port && p.name))
		err('ports', `container ${g.name}: name containerPort ${port} (e.g. "graceinit")`);

	/* Probes and hooks: the paths SPEC.md gives them, on graceinit's port, GET routes. */
	const route = (where, hg, ctr, paths) => {
		if (!hg) {
			err(where, `container ${ctr.name}: ${where} must be an httpGet on graceinit's port`);
			return;
		}
		const pp = resolvePort(hg.port, ctr);
		if (pp === null)
			err(where, `container ${ctr.name}: ${where} port "${hg.port}" is not a port of ` +
				'this container (the kubelet resolves names in the container itself)');
		else if (pp !== port)
			err(where, `container ${ctr.name}: ${where} goes to port ${pp}, graceinit ` +
				`listens on ${port}`);
		if (hg.host) err(where, `container ${ctr.name}: ${where} sets host ${hg.host}`);
		const p = (hg.path || '/').split('?')[0];
		if (!paths.includes(p))
			err(where, `container ${ctr.name}: ${where} path ${hg.path} is not ${paths.join(' or ')}`);
		const methods = facts.routes.get(p);
		if (!methods || !methods.has('GET'))
			err(where, `container ${ctr.name}: ${where} GET ${p} is not a GET route of src/http.c`);
		if (facts.spec && (!facts.spec.endpoints.get(p) || !facts.spec.endpoints.get(p).has('GET')))
			err(where, `container ${ctr.name}: ${where} GET ${p} is not in SPEC.md`);
	};
	const gsp = (p) => p && p.httpGet;
	if (!g.readinessProbe) err('readinessProbe', `container ${g.name} has no readinessProbe`);
	else route('readinessProbe', gsp(g.readinessProbe), g, ['/readyz']);
	if (!g.livenessProbe) err('livenessProbe', `container ${g.name} has no livenessProbe`);
	else route('livenessProbe', gsp(g.livenessProbe), g, ['/livez', '/healthz']);
	if (g.startupProbe)
		route('startupProbe', gsp(g.startupProbe), g, ['/livez', '/healthz', '/readyz']);

	/* preStop: the graceinit container itself (entrypoint) or every app container (sidecar). */
	const token = env.has('GRACEINIT_CONTROL_TOKEN');
	const hooked = mode === 'entrypoint' ? [g] : containers;
	for (const c of hooked) {
		const ps = c.lifecycle && c.lifecycle.preStop;
		if (!ps) {
			err('preStop', `container ${c.name} has no preStop hook: the kubelet would send ` +
				'SIGTERM while the pod is still in the EndpointSlices');
			continue;
		}
		if (ps.exec) {
			const cmd = ps.exec.command || [];
			if (mode !== 'entrypoint' || cmd[0] !== '/graceinit' || cmd[1] !== 'prestop')
				err('preStop', `container ${c.name}: an exec preStop must be ` +
					'["/graceinit", "prestop"] in the container that has /graceinit');
			continue;
		}
		route('preStop', ps.httpGet, c, ['/prestop']);
		if (ps.httpGet && token && !(ps.httpGet.httpHeaders || []).some((h) =>
			/^authorization$/i.test(h.name) && /^Bearer /.test(h.value)))
			err('preStop', `container ${c.name}: GRACEINIT_CONTROL_TOKEN is set, so the ` +
				'kubelet\'s httpGet /prestop needs an Authorization: Bearer header (or use ' +
				'exec ["/graceinit", "prestop"] over the control socket)');
	}

	/* POD_NAME, POD_IP and the namespace from the downward API, for the EndpointSlice watch. */
	const fieldRef = (name, fp) => {
		const e = env.get(name);
		return e && e.valueFrom && e.valueFrom.fieldRef && e.valueFrom.fieldRef.fieldPath === fp;
	};
	const endpoints = literal(env, 'GRACEINIT_ENDPOINTS') || 'auto';
	if (!fieldRef('POD_NAME', 'metadata.name'))
		err('downward-api', `container ${g.name}: POD_NAME must come from fieldRef metadata.name`);
	if (!fieldRef('POD_IP', 'status.podIP'))
		err('downward-api', `container ${g.name}: POD_IP must come from fieldRef status.podIP`);
	if (endpoints !== 'off' && !fieldRef('GRACEINIT_NAMESPACE', 'metadata.namespace'))
		err('downward-api', `container ${g.name}: GRACEINIT_NAMESPACE must come from fieldRef ` +
			'metadata.namespace');

	/* --ready-tcp on the pod's loopback must name a port that a container of the pod serves. */
	const rt = literal(env, 'GRACEINIT_READY_TCP');
	if (rt !== undefined) {
		const m = /^(127\.0\.0\.1|localhost|\[::1\]):([0-9]+)$/.exec(rt);
		if (m && !all.some((c) => (c.ports || []).some((p) => p.containerPort === Number(m[2]))))
			err('ready-tcp', `GRACEINIT_READY_TCP ${rt}: no container of the pod declares port ${m[2]}`);
	}

	/* The EndpointSlice watch needs the service account's token. */
	if (endpoints !== 'off') {
		if (!spec.serviceAccountName || spec.serviceAccountName === 'default')
			err('rbac', `GRACEINIT_ENDPOINTS ${endpoints} but the pod runs as the default ` +
				'service account: give it one bound to the EndpointSlice Role');
		if (spec.automountServiceAccountToken === false)
			err('rbac', 'automountServiceAccountToken is false: the EndpointSlice watch has no token');
	}

	/* graceinit's own verdict on its configuration, when a binary is at hand. */
	if (facts.bin) {
		const args = mode === 'entrypoint' ?
			[...g.command.slice(1), ...(g.args || [])] : [];
		const res = plan(facts.bin, g, args, mode);
		if (res.error) err('plan', res.error);
		else d.planned = res;
	}
	return { errors, gi: { container: g, mode, port, endpoints, spec } };
}

/*
 * `graceinit plan` with the container's environment, as in a pod (KUBERNETES_SERVICE_HOST set).
 * Options this graceinit does not implement yet are refused with "not implemented": they are
 * dropped, one at a time and said so, and the plan is asked again with the others.
 */
function plan(bin, g, args, mode) {
	const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443',
		PATH: '/usr/bin:/bin' };
	/* $(VAR) in a value is expanded from the variables before it, $$ is a $, as the kubelet does. */
	const expand = (v) => v.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name) =>
		(m === '$$' ? '$' : (env[name] !== undefined ? env[name] : m)));
	for (const e of g.env || []) {
		if (e.value !== undefined) env[e.name] = expand(String(e.value));
		else if (e.valueFrom && e.valueFrom.fieldRef)
			env[e.name] = { 'metadata.name': 'my-app-7d4b9c6f5-x2x9k',
				'metadata.namespace': 'default', 'status.podIP': '10.244.1.7' }[
				e.valueFrom.fieldRef.fieldPath] || 'placeholder';
		else if (e.valueFrom) env[e.name] = 'placeholder-from-a-secret';
	}
	if (env.GRACEINIT_CONFIG) delete env.GRACEINIT_CONFIG; /* a file in the image */
	const dropped = [];
	for (let tries = 0; tries < 40; tries++) {
		const argv = ['plan', ...(mode === 'entrypoint' ? args : [])];
		const r = spawnSync(bin, argv, { env, encoding: 'utf8', timeout: 10000 });
		const out = `${r.stdout || ''}${r.stderr || ''}`;
		const ni = /(GRACEINIT_[A-Z_]+): not implemented/.exec(r.stderr || '');
		if (r.status !== 0 && ni && env[ni[1]] !== undefined) {
			dropped.push(ni[1]);
			delete env[ni[1]];
			continue;
		}
		if (r.status !== 0) {
			const why = out.split('\n').filter((l) => /error/i.test(l)).join(' ') ||
				out.trim().split('\n').pop();
			return { error: `graceinit plan exits ${r.status}: ${why}` +
				(dropped.length ? ` (without ${dropped.join(', ')}: not implemented yet)` : '') };
		}
		return { dropped, out };
	}
	return { error: 'graceinit plan: too many options refused' };
}

/* Cross-object checks of a bundle: selectors, ports exposed, RBAC of the watch. */
function checkBundle(name, docs, facts, requireRbac) {
	const errors = [];
	const pods = [];
	const seen = new Set();
	for (const d of docs) {
		const key = `${d.obj.kind}/${d.obj.metadata && d.obj.metadata.name}`;
		if (seen.has(key)) errors.push(`${d.label}: [duplicate] ${key} twice in ${name}`);
		seen.add(key);
		const get = POD_TEMPLATE[d.obj.kind];
		if (!get) continue;
		const tpl = get(d.obj);
		if (!tpl || !tpl.spec) {
			errors.push(`${d.label}: [schema] no pod template`);
			continue;
		}
		const sel = d.obj.spec && d.obj.spec.selector;
		if (d.obj.kind !== 'Pod' && d.obj.kind !== 'Job' && d.obj.kind !== 'CronJob' &&
			!(sel && matches(sel.matchLabels, tpl.metadata && tpl.metadata.labels)))
			errors.push(`${d.label}: [selector] spec.selector.matchLabels does not match the ` +
				'pod template\'s labels');
		const r = checkPod(d, tpl, facts);
		errors.push(...r.errors);
		pods.push({ d, tpl, gi: r.gi });
	}
	if (!pods.length) errors.push(`${name}: [graceinit] no workload in the bundle`);
	const labelsOf = (p) => (p.tpl.metadata && p.tpl.metadata.labels) || {};
	const ofKind = (k) => docs.filter((d) => d.obj.kind === k);

	for (const s of ofKind('Service')) {
		const sel = s.obj.spec && s.obj.spec.selector;
		const hit = pods.filter((p) => matches(sel, labelsOf(p)));
		if (!hit.length) {
			errors.push(`${s.label}: [service] its selector picks no pod of the bundle`);
			continue;
		}
		for (const p of hit) {
			const ctrs = [...(p.tpl.spec.initContainers || []), ...(p.tpl.spec.containers || [])];
			for (const sp of s.obj.spec.ports || []) {
				const tp = sp.targetPort === undefined ? sp.port : sp.targetPort;
				const ports = ctrs.flatMap((c) => c.ports || []);
				const target = typeof tp === 'string' ?
					(ports.find((x) => x.name === tp) || {}).containerPort : tp;
				if (target === undefined)
					errors.push(`${s.label}: [service] targetPort ${tp} is no port of ${p.d.label}`);
				else if (p.gi && target === p.gi.port)
					errors.push(`${s.label}: [service] exposes graceinit's port ${target}: any ` +
						'client could POST /drain; keep it to the kubelet and operators');
			}
		}
	}
	for (const b of ofKind('PodDisruptionBudget')) {
		const sel = b.obj.spec && b.obj.spec.selector && b.obj.spec.selector.matchLabels;
		if (!pods.some((p) => matches(sel, labelsOf(p))))
			errors.push(`${b.label}: [pdb] its selector picks no pod of the bundle`);
	}

	/* The EndpointSlice watch: service account, Role, RoleBinding, all present and consistent. */
	const roles = ofKind('Role');
	const bindings = ofKind('RoleBinding');
	const accounts = ofKind('ServiceAccount');
	for (const p of pods) {
		if (!p.gi || p.gi.endpoints === 'off') continue;
		const sa = p.tpl.spec.serviceAccountName;
		if (!requireRbac && !roles.length && !bindings.length && !accounts.length) continue;
		if (!accounts.some((a) => a.obj.metadata.name === sa))
			errors.push(`${p.d.label}: [rbac] no ServiceAccount ${sa} in ${name}`);
		const ns = (o) => o.metadata.namespace;
		const grants = (role) => (role.obj.rules || []).some((r) =>
			(r.apiGroups || []).includes('discovery.k8s.io') &&
			(r.resources || []).includes('endpointslices') &&
			['get', 'list', 'watch'].every((v) => (r.verbs || []).includes(v)));
		const ok = bindings.some((b) => {
			const ref = b.obj.roleRef || {};
			const role = roles.find((r) => r.obj.metadata.name === ref.name &&
				ns(r.obj) === ns(b.obj));
			return ref.kind === 'Role' && ref.apiGroup === 'rbac.authorization.k8s.io' &&
				role && grants(role) && (b.obj.subjects || []).some((s) =>
				s.kind === 'ServiceAccount' && s.name === sa &&
				(!s.namespace || s.namespace === ns(b.obj)));
		});
		if (!ok)
			errors.push(`${p.d.label}: [rbac] no RoleBinding in ${name} binds ServiceAccount ` +
				`${sa} to a Role allowing get, list, watch on discovery.k8s.io endpointslices`);
	}
	return { errors, pods };
}

/* All layers for a list of bundles; { errors, summary }. */
function checkAll(bundles, facts, workDir) {
	const errors = [...facts.problems];
	const summary = [];
	const every = [];
	for (const b of bundles) {
		const { docs, errors: yerr } = b.docs ? { docs: b.docs, errors: [] } : loadDocs(b.files);
		b.docs = docs;
		errors.push(...yerr);
		every.push(...docs);
	}
	errors.push(...checkSchemas(every));
	errors.push(...checkFields(every, workDir));
	for (const b of bundles) {
		const r = checkBundle(b.name, b.docs, facts, b.rbac);
		errors.push(...r.errors);
		const kinds = b.docs.map((d) => d.obj.kind).join(', ');
		const modes = r.pods.filter((p) => p.gi).map((p) => p.gi.mode).join(', ');
		const dropped = r.pods.flatMap((p) => (p.d.planned && p.d.planned.dropped) || []);
		summary.push(`${b.name}: ${b.docs.length} objects (${kinds}); graceinit ${modes || '?'}` +
			(facts.bin ? `; graceinit plan ok${dropped.length ?
				` (not implemented yet, left out: ${[...new Set(dropped)].join(', ')})` : ''}` : ''));
	}
	return { errors, summary };
}

module.exports = { loadFacts, loadDocs, makeDoc, checkAll, checkSchemas, checkFields,
	checkBundle, durationMs };

if (require.main === module) {
	const opts = {};
	const bundles = [];
	const argv = process.argv.slice(2);
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		const val = () => {
			if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
			return argv[++i];
		};
		if (a === '--repo') opts.repo = val();
		else if (a === '--spec') opts.spec = val();
		else if (a === '--graceinit') opts.graceinit = val();
		else if (a === '--chart-dir') opts.chartDir = val();
		else if (a === '--work') opts.work = val();
		else {
			const m = /^([\w.-]+?)(\+rbac)?=(.+)$/.exec(a);
			if (!m) {
				console.error(`k8scheck: ${a}: expected NAME[+rbac]=FILE[,FILE...]`);
				process.exit(2);
			}
			bundles.push({ name: m[1], rbac: !!m[2], files: m[3].split(',') });
		}
	}
	if (!opts.repo || !bundles.length) {
		console.error('usage: k8scheck.js --repo DIR [--spec SPEC.md] [--graceinit BIN] ' +
			'[--chart-dir DIR] [--work DIR] NAME[+rbac]=FILE[,FILE...] ...');
		process.exit(2);
	}
	const facts = loadFacts(opts);
	const { errors, summary } = checkAll(bundles, facts, opts.work || path.join(NODE_DIR, 'work'));
	for (const s of summary) console.log(`  ${s}`);
	for (const e of errors) console.log(`FAIL ${e}`);
	process.exit(errors.length ? 1 : 0);
}
