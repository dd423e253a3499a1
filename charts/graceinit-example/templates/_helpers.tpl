{{/* Names and labels, as `helm create` makes them. */}}

{{- define "graceinit-example.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The same as the library's graceinit.fullname, which names the service account. */}}
{{- define "graceinit-example.fullname" -}}
{{- include "graceinit.fullname" . -}}
{{- end -}}

{{- define "graceinit-example.selectorLabels" -}}
app.kubernetes.io/name: {{ include "graceinit-example.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "graceinit-example.labels" -}}
{{ include "graceinit-example.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}
