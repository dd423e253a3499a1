{{/*
_container.tpl: the pieces of a pod spec that make graceinit work, as fragments that an
application chart places into its own Deployment (README.md shows a whole one):

  graceinit.podSpec     terminationGracePeriodSeconds (+ the service account)   pod spec keys
  graceinit.command     command: ["/graceinit", "--"]; the app goes in args      container keys
  graceinit.env         GRACEINIT_* settings, POD_NAME / POD_IP / namespace      env list items
  graceinit.ports       the named container port "graceinit"                     ports list items
  graceinit.probes      readinessProbe /readyz, livenessProbe /livez             container keys
  graceinit.lifecycle   preStop -> /prestop                                      container keys
  graceinit.sidecar     the whole graceinit sidecar container                    initContainers item

Entrypoint mode: the app container gets command, env, ports, probes and lifecycle.
Sidecar mode: initContainers gets graceinit.sidecar; the app container gets lifecycle only.
*/}}

{{- define "graceinit.podSpec" -}}
{{- $cfg := include "graceinit.config" . | fromYaml -}}
# The kubelet's budget from the first preStop call to its SIGKILL. graceinit
# gets the same number (GRACEINIT_GRACE_PERIOD, from the same value) and sends
# its own SIGKILL killMargin earlier, so it reaps the app first.
terminationGracePeriodSeconds: {{ include "graceinit.terminationGracePeriodSeconds" . }}
{{- if ne (toString $cfg.endpoints) "off" }}
# Bound to the EndpointSlice Role; graceinit watches with its token.
serviceAccountName: {{ include "graceinit.serviceAccountName" . }}
automountServiceAccountToken: true
{{- end }}
{{- end -}}

{{- define "graceinit.command" -}}
# graceinit is PID 1: it forwards signals, reaps zombies, serves the probes
# and /prestop, and runs the app (args) as its child.
command:
  - /graceinit
  - --
{{- end -}}

{{/*
graceinit.optionValue: one option's value as its GRACEINIT_* variable carries it: a list joined
with commas, or one item per line for the options whose items may contain commas.
*/}}
{{- define "graceinit.optionValue" -}}
{{- if kindIs "slice" .value -}}
{{- join (ternary "\n" "," (has .name (list "deregister" "deregister-header"))) .value -}}
{{- else -}}
{{- toString .value -}}
{{- end -}}
{{- end -}}

{{- define "graceinit.env" -}}
{{- $cfg := include "graceinit.config" . | fromYaml -}}
{{- $grace := include "graceinit.grace" . | fromYaml -}}
# Who and where this pod is (downward API): the EndpointSlice watch looks
# for this pod's name and IP among the endpoints of its namespace. First, so
# that the values below can use $(POD_NAME) and $(POD_IP).
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
{{- if ne (toString $cfg.endpoints) "off" }}
- name: GRACEINIT_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- end }}
# = terminationGracePeriodSeconds: both come from gracePeriodSeconds.
- name: GRACEINIT_GRACE_PERIOD
  value: {{ $grace.duration | quote }}
- name: GRACEINIT_KILL_MARGIN
  value: {{ toString $cfg.killMargin | quote }}
- name: GRACEINIT_DRAIN_DELAY
  value: {{ toString $cfg.drainDelay | quote }}
- name: GRACEINIT_HTTP
  value: {{ printf ":%d" (int $cfg.port) | quote }}
- name: GRACEINIT_ENDPOINTS
  value: {{ toString $cfg.endpoints | quote }}
{{- with $cfg.services }}
- name: GRACEINIT_SERVICE
  value: {{ join "," . | quote }}
{{- end }}
- name: GRACEINIT_LOG_FORMAT
  value: {{ toString $cfg.logFormat | quote }}
{{- with $cfg.readyTcp }}
- name: GRACEINIT_READY_TCP
  value: {{ toString . | quote }}
{{- end }}
{{- with $cfg.readyHttp }}
- name: GRACEINIT_READY_HTTP
  value: {{ toString . | quote }}
{{- end }}
{{- with $cfg.controlToken.secretName }}
- name: GRACEINIT_CONTROL_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $cfg.controlToken.key }}
{{- end }}
{{- range $name, $value := $cfg.options }}
- name: {{ printf "GRACEINIT_%s" ($name | upper | replace "-" "_") }}
  value: {{ include "graceinit.optionValue" (dict "name" $name "value" $value) | quote }}
{{- end }}
{{- end -}}

{{- define "graceinit.ports" -}}
{{- $cfg := include "graceinit.config" . | fromYaml -}}
# graceinit's endpoints, for the probes and preStop. Keep it out of every
# Service: POST /drain is an operator's tool, not a client's.
- name: graceinit
  containerPort: {{ int $cfg.port }}
  protocol: TCP
{{- end -}}

{{- define "graceinit.probes" -}}
{{- $cfg := include "graceinit.config" . | fromYaml -}}
# 503 as soon as a drain starts (by the kubelet or by POST /drain), and,
# with readyTcp / readyHttp, while the app itself is not ready.
readinessProbe:
  httpGet:
    path: /readyz
    port: graceinit
  {{- toYaml (omit $cfg.probes.readiness "httpGet" "exec" "tcpSocket" "grpc") | nindent 2 }}
# 200 while draining (a drain must never get the container restarted);
# 503 once the app has exited or its --watchdog stopped pinging.
livenessProbe:
  httpGet:
    path: /livez
    port: graceinit
  {{- toYaml (omit $cfg.probes.liveness "httpGet" "exec" "tcpSocket" "grpc") | nindent 2 }}
{{- end -}}

{{- define "graceinit.lifecycle" -}}
{{- $cfg := include "graceinit.config" . | fromYaml -}}
# The kubelet waits for preStop before SIGTERM: /prestop turns the pod
# not-ready and answers once it has left the EndpointSlices (or after
# drainDelay), so SIGTERM comes when no new request can arrive.
lifecycle:
  preStop:
{{- if eq $cfg.prestopHook "exec" }}
    exec:
      # `graceinit prestop` asks PID 1 over the abstract socket @graceinit.
      command:
        - /graceinit
        - prestop
{{- else }}
    httpGet:
      path: /prestop
      # A number: in sidecar mode the graceinit container declares the
      # port, and the kubelet looks names up in the hook's own container.
      port: {{ int $cfg.port }}
{{- end }}
{{- end -}}

{{- define "graceinit.sidecar" -}}
{{- $cfg := include "graceinit.config" . | fromYaml -}}
# A native sidecar (an init container that keeps running, Kubernetes
# 1.29+): it starts before the app and is stopped only after the app has
# exited, so /prestop is there for the app's preStop hook.
- name: graceinit
  image: {{ printf "%s:%s" $cfg.image.repository (toString $cfg.image.tag) | quote }}
  imagePullPolicy: {{ $cfg.image.pullPolicy }}
  restartPolicy: Always
  command:
    - /graceinit
  env:
    # No child: serve the probes and /prestop for the pod.
    - name: GRACEINIT_SIDECAR
      value: "true"
    {{- include "graceinit.env" . | nindent 4 }}
  ports:
    {{- include "graceinit.ports" . | nindent 4 }}
  # The app starts once graceinit listens: its preStop always has an answer.
  startupProbe:
    httpGet:
      path: /livez
      port: graceinit
    periodSeconds: 1
    failureThreshold: 30
  # A native sidecar's readiness counts for the pod's.
  {{- include "graceinit.probes" . | nindent 2 }}
  resources:
    {{- toYaml $cfg.sidecar.resources | nindent 4 }}
  securityContext:
    {{- toYaml $cfg.sidecar.securityContext | nindent 4 }}
{{- end -}}
