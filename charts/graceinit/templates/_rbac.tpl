{{/*
_rbac.tpl: what graceinit's EndpointSlice watch needs from the API server, and nothing more.

With `endpoints: auto` (the default) or `on`, graceinit waits, during a drain, until its pod is no
longer a ready endpoint of any EndpointSlice of its namespace, then stops the app: the shortest
wait that loses no request. It lists and watches EndpointSlices with the pod's service-account
token, so the pod needs a service account bound to a Role that allows exactly that. Without it
the API answers 403, graceinit logs it once and falls back to the fixed drainDelay: safe, but
slower or riskier. With `endpoints: off` nothing is rendered here.

Use: {{ include "graceinit.rbac" . }} in a template file of its own (it renders whole documents).
*/}}
{{- define "graceinit.rbac" -}}
{{- $cfg := include "graceinit.config" . | fromYaml -}}
{{- if ne (toString $cfg.endpoints) "off" -}}
{{- if $cfg.serviceAccount.create }}
---
# The pod's identity for the API server; graceinit reads its token (rotated, re-read per request).
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "graceinit.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "graceinit.labels" . | nindent 4 }}
  {{- with $cfg.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
{{- if $cfg.rbac.create }}
---
# Read-only, namespaced, EndpointSlices only: graceinit never writes to the API.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ include "graceinit.rbacName" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "graceinit.labels" . | nindent 4 }}
rules:
  - apiGroups: ["discovery.k8s.io"]
    resources: ["endpointslices"]
    verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ include "graceinit.rbacName" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "graceinit.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ include "graceinit.rbacName" . }}
subjects:
  - kind: ServiceAccount
    name: {{ include "graceinit.serviceAccountName" . }}
    namespace: {{ .Release.Namespace }}
{{- end }}
{{- end }}
{{- end -}}
