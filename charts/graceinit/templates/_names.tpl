{{/*
_names.tpl: names and labels of the objects this library renders (the RBAC objects). They
follow `helm create`'s conventions, computed from the including chart's context, so they match
that chart's own names: `<release>-<chart>` unless fullnameOverride / nameOverride say otherwise.
*/}}

{{- define "graceinit.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* graceinit.rbacName: the Role and RoleBinding, suffixed so they never clash with the app's. */}}
{{- define "graceinit.rbacName" -}}
{{- printf "%s-graceinit" (include "graceinit.fullname" . | trunc 53 | trimSuffix "-") -}}
{{- end -}}

{{/* graceinit.serviceAccountName: the pod's service account, created here or given. */}}
{{- define "graceinit.serviceAccountName" -}}
{{- $cfg := include "graceinit.config" . | fromYaml -}}
{{- if $cfg.serviceAccount.name -}}
{{- $cfg.serviceAccount.name -}}
{{- else if $cfg.serviceAccount.create -}}
{{- include "graceinit.fullname" . -}}
{{- else -}}
default
{{- end -}}
{{- end -}}

{{- define "graceinit.labels" -}}
app.kubernetes.io/name: {{ default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: graceinit
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}
