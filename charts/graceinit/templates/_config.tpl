{{/*
_config.tpl: graceinit's configuration as the including chart asked for it.

Every template of this library takes the including chart's root context (`.`) and reads the
`graceinit:` key of its values, laid over "graceinit.defaults" below. The values are checked
here, once, at render time: a typo or a budget that cannot hold fails `helm template` /
`helm install` with a message, instead of a pod that exits 2 at start-up (graceinit refuses a
bad configuration, it never falls back to a silent default, and neither does this chart).
*/}}

{{/*
graceinit.defaults: every key the library understands, with its default. README.md documents
them. The Kubernetes-facing defaults are graceinit's own (SPEC.md), so a chart that sets nothing
gets what the binary would do by itself, spelled out in the pod spec.
*/}}
{{- define "graceinit.defaults" -}}
# entrypoint: graceinit is PID 1 of the app container (the image has /graceinit).
# sidecar: graceinit runs in its own native sidecar container, for images you cannot change.
mode: entrypoint
# THE grace budget, in seconds. terminationGracePeriodSeconds and GRACEINIT_GRACE_PERIOD are
# both derived from it by "graceinit.grace", so they cannot disagree.
gracePeriodSeconds: 30
# graceinit sends SIGKILL this long before the kubelet would, so that it reaps and exits first.
killMargin: 2s
# How long to wait after going not-ready when deregistration cannot be confirmed.
drainDelay: 5s
# auto|on|off: wait until this pod has left every EndpointSlice (needs the RBAC below).
endpoints: auto
# Services whose EndpointSlices are watched; empty: every slice of the namespace listing the pod.
services: []
# graceinit's HTTP port (probes, /prestop); the container port is named "graceinit".
port: 9797
logFormat: json
# The app's own readiness, checked by graceinit and folded into /readyz (one of them, or none).
readyTcp: ""
readyHttp: ""
# How the kubelet calls /prestop: http (httpGet on the port) or exec (`graceinit prestop`
# over the control socket; entrypoint mode only, the app image must contain /graceinit).
prestopHook: http
# A Secret holding graceinit's --control-token (needs prestopHook: exec, see README.md).
controlToken:
  secretName: ""
  key: token
# Any other graceinit option, by its long name: `stop-signal: QUIT` -> GRACEINIT_STOP_SIGNAL.
options: {}
# The graceinit image (sidecar mode; in entrypoint mode the binary is inside the app image).
image:
  repository: ghcr.io/graceinit/graceinit
  tag: "0.1.0"
  pullPolicy: IfNotPresent
serviceAccount:
  create: true
  # Default: the including chart's full name.
  name: ""
  annotations: {}
rbac:
  create: true
probes:
  readiness:
    periodSeconds: 2
    timeoutSeconds: 1
    failureThreshold: 1
  liveness:
    periodSeconds: 10
    timeoutSeconds: 1
    failureThreshold: 3
sidecar:
  resources:
    requests:
      cpu: 10m
      memory: 16Mi
    limits:
      memory: 32Mi
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities:
      drop: ["ALL"]
{{- end -}}

{{/*
graceinit.options: every long option of graceinit (src/conf.c), so that a misspelt key
of `options` fails here rather than in the pod. tests/k8s checks this list against src/conf.c.
*/}}
{{- define "graceinit.options" -}}
- rewrite
- stop-signal
- no-setsid
- subreaper
- kill-on-exit
- exit-grace
- exit-remap
- http
- control-socket
- control-token
- drain-delay
- min-drain
- endpoints
- endpoints-timeout
- endpoints-margin
- pod-name
- pod-ip
- namespace
- service
- serviceaccount-dir
- deregister
- deregister-header
- drain-connections
- grace-period
- kill-margin
- sidecar
- ready-http
- ready-tcp
- ready-interval
- ready-timeout
- notify
- watchdog
- log-level
- log-format
- config
{{- end -}}

{{/*
graceinit.managedOptions: options that have their own key above; setting them through `options`
too would make two sources of truth (the grace period above all), so that is an error.
*/}}
{{- define "graceinit.managedOptions" -}}
grace-period: gracePeriodSeconds
kill-margin: killMargin
drain-delay: drainDelay
endpoints: endpoints
service: services
http: port
log-format: logFormat
ready-tcp: readyTcp
ready-http: readyHttp
control-token: controlToken
sidecar: mode
namespace: (the downward API)
pod-name: (the downward API)
pod-ip: (the downward API)
{{- end -}}

{{/*
graceinit.mergeInto: lays .src over .dst in place, recursively for maps. Unlike sprig's merge
and mergeOverwrite, a value of false, 0 or "" in .src wins, as a user who wrote it expects.
*/}}
{{- define "graceinit.mergeInto" -}}
{{- $dst := .dst -}}
{{- range $k, $v := .src -}}
{{- if and (kindIs "map" $v) (kindIs "map" (get $dst $k)) -}}
{{- include "graceinit.mergeInto" (dict "dst" (get $dst $k) "src" $v) -}}
{{- else -}}
{{- $_ := set $dst $k $v -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
graceinit.durationMs: a graceinit duration (250ms, 5s, 2m, 1h30m, 1.5s, or a bare number of
seconds) in milliseconds; -1 when it is not one.
*/}}
{{- define "graceinit.durationMs" -}}
{{- $s := toString . | trim -}}
{{- if regexMatch "^[0-9]+(\\.[0-9]+)?$" $s -}}
{{- mulf (float64 $s) 1000 | int -}}
{{- else if regexMatch "^([0-9]+(\\.[0-9]+)?(ms|h|m|s))+$" $s -}}
{{- $ms := 0.0 -}}
{{- $units := dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000 -}}
{{- range regexFindAll "[0-9]+(\\.[0-9]+)?(ms|h|m|s)" $s -1 -}}
{{- $unit := regexFind "(ms|h|m|s)$" . -}}
{{- $ms = addf $ms (mulf (float64 (trimSuffix $unit .)) (get $units $unit)) -}}
{{- end -}}
{{- $ms | int -}}
{{- else -}}
-1
{{- end -}}
{{- end -}}

{{/*
graceinit.config: the defaults with the including chart's `graceinit:` values over them,
checked; YAML, to be read back with fromYaml.
*/}}
{{- define "graceinit.config" -}}
{{- $cfg := include "graceinit.defaults" . | fromYaml -}}
{{- $user := .Values.graceinit | default dict -}}
{{- if not (kindIs "map" $user) -}}
{{- fail "graceinit: the `graceinit` value must be a map (see the graceinit library chart's README.md)" -}}
{{- end -}}
{{- range $k, $v := $user -}}
{{- if and (not (hasKey $cfg $k)) (ne $k "global") -}}
{{- fail (printf "graceinit.%s: unknown key; the graceinit library knows %s" $k (keys $cfg | sortAlpha | join ", ")) -}}
{{- end -}}
{{- end -}}
{{- include "graceinit.mergeInto" (dict "dst" $cfg "src" (omit $user "global")) -}}

{{- if not (has $cfg.mode (list "entrypoint" "sidecar")) -}}
{{- fail (printf "graceinit.mode: %q is neither entrypoint nor sidecar" (toString $cfg.mode)) -}}
{{- end -}}
{{- if and (eq $cfg.mode "sidecar") (semverCompare "<1.29.0-0" .Capabilities.KubeVersion.Version) -}}
{{- fail (printf "graceinit.mode: sidecar needs native sidecar containers (Kubernetes 1.29+), this is %s; use mode: entrypoint" .Capabilities.KubeVersion.Version) -}}
{{- end -}}
{{- if not (has (toString $cfg.endpoints) (list "auto" "on" "off")) -}}
{{- fail (printf "graceinit.endpoints: %q is not auto, on or off" (toString $cfg.endpoints)) -}}
{{- end -}}
{{- $grace := toString $cfg.gracePeriodSeconds -}}
{{- if or (not (regexMatch "^[0-9]+$" $grace)) (lt (int $grace) 1) -}}
{{- fail (printf "graceinit.gracePeriodSeconds: %q is not a whole number of seconds >= 1" $grace) -}}
{{- end -}}
{{- $graceMs := mul (int $grace) 1000 -}}
{{- $killMs := include "graceinit.durationMs" $cfg.killMargin | int -}}
{{- $delayMs := include "graceinit.durationMs" $cfg.drainDelay | int -}}
{{- if lt $killMs 0 -}}
{{- fail (printf "graceinit.killMargin: %q is not a duration (250ms, 2s, 1m, or seconds)" (toString $cfg.killMargin)) -}}
{{- end -}}
{{- if lt $delayMs 0 -}}
{{- fail (printf "graceinit.drainDelay: %q is not a duration (250ms, 5s, 1m, or seconds)" (toString $cfg.drainDelay)) -}}
{{- end -}}
{{- if ge $killMs $graceMs -}}
{{- fail (printf "graceinit.killMargin %s must be shorter than graceinit.gracePeriodSeconds %ss" (toString $cfg.killMargin) $grace) -}}
{{- end -}}
{{- if and (ne (toString $cfg.endpoints) "off") (not $cfg.serviceAccount.create) (not $cfg.serviceAccount.name) -}}
{{- fail "graceinit.serviceAccount: the EndpointSlice watch needs a service account of its own: set serviceAccount.name (bound to a Role that allows get, list, watch on endpointslices) or serviceAccount.create: true, or endpoints: \"off\"" -}}
{{- end -}}
{{- $known := include "graceinit.options" . | fromYamlArray -}}
{{- $managed := include "graceinit.managedOptions" . | fromYaml -}}
{{- range $name, $v := $cfg.options -}}
{{- if not (has $name $known) -}}
{{- fail (printf "graceinit.options.%s: graceinit has no option --%s (graceinit --help lists them)" $name $name) -}}
{{- end -}}
{{- if hasKey $managed $name -}}
{{- fail (printf "graceinit.options.%s: set it with graceinit.%s instead, so it has one source" $name (get $managed $name)) -}}
{{- end -}}
{{- end -}}
{{- /*
The drain's longest wait must end early enough to leave the app time to stop before graceinit's
SIGKILL: the same rule as graceinit's drain_latest_stop_ms (src/drain.c) and `graceinit plan`,
which exits 2 on it. The wait is the EndpointSlice watch's timeout when the watch is on, else
drainDelay; min-drain when longer. The app keeps half of the time before SIGKILL, 5s at most.
*/ -}}
{{- $watch := ne (toString $cfg.endpoints) "off" -}}
{{- $timeoutMs := include "graceinit.durationMs" (dig "endpoints-timeout" "20s" $cfg.options) | int -}}
{{- $minDrainMs := include "graceinit.durationMs" (dig "min-drain" "0" $cfg.options) | int -}}
{{- $waitMs := max (ternary $timeoutMs $delayMs $watch) $minDrainMs -}}
{{- $killAtMs := sub $graceMs $killMs -}}
{{- $latestMs := sub $killAtMs (min (div $killAtMs 2) 5000) -}}
{{- if gt $waitMs $latestMs -}}
{{- fail (printf "graceinit: the drain may wait %dms (%s) before the stop signal, but must send it by %dms to leave the app time before graceinit's SIGKILL at %dms (gracePeriodSeconds %ss - killMargin %s); `graceinit plan` fails the same way. Raise gracePeriodSeconds or lower the wait" $waitMs (ternary "the EndpointSlice watch's endpoints-timeout" "drainDelay" $watch) $latestMs $killAtMs $grace (toString $cfg.killMargin)) -}}
{{- end -}}
{{- if not (kindIs "slice" $cfg.services) -}}
{{- fail "graceinit.services: must be a list of Service names" -}}
{{- end -}}
{{- $port := toString $cfg.port -}}
{{- if or (not (regexMatch "^[0-9]+$" $port)) (lt (int $port) 1) (gt (int $port) 65535) -}}
{{- fail (printf "graceinit.port: %q is not a TCP port" $port) -}}
{{- end -}}
{{- if not (has (toString $cfg.logFormat) (list "text" "json")) -}}
{{- fail (printf "graceinit.logFormat: %q is not text or json" (toString $cfg.logFormat)) -}}
{{- end -}}
{{- if and $cfg.readyTcp $cfg.readyHttp -}}
{{- fail "graceinit.readyTcp and graceinit.readyHttp: set one of them, not both" -}}
{{- end -}}
{{- if not (has (toString $cfg.prestopHook) (list "http" "exec")) -}}
{{- fail (printf "graceinit.prestopHook: %q is not http or exec" (toString $cfg.prestopHook)) -}}
{{- end -}}
{{- if and (eq $cfg.prestopHook "exec") (eq $cfg.mode "sidecar") -}}
{{- fail "graceinit.prestopHook: exec runs /graceinit inside the app container, which sidecar mode does not have; use http" -}}
{{- end -}}
{{- if and $cfg.controlToken.secretName (ne $cfg.prestopHook "exec") -}}
{{- fail "graceinit.controlToken: the kubelet's preStop httpGet comes from the node and would need the token in plain text in the pod spec; use prestopHook: exec (entrypoint mode), which talks over the control socket" -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/*
graceinit.grace: THE one place the grace period is derived. `seconds` goes to the pod's
terminationGracePeriodSeconds, `duration` to GRACEINIT_GRACE_PERIOD: graceinit must know the
budget the kubelet gives it, or it would SIGKILL too late (the kubelet's SIGKILL comes first and
nothing is reaped) or stop the app earlier than it needs to.
*/}}
{{- define "graceinit.grace" -}}
{{- $cfg := include "graceinit.config" . | fromYaml -}}
{{- $s := int (toString $cfg.gracePeriodSeconds) -}}
seconds: {{ $s }}
duration: {{ printf "%ds" $s | quote }}
{{- end -}}

{{/* graceinit.terminationGracePeriodSeconds: the number alone, for charts that place it themselves. */}}
{{- define "graceinit.terminationGracePeriodSeconds" -}}
{{- (include "graceinit.grace" . | fromYaml).seconds -}}
{{- end -}}
