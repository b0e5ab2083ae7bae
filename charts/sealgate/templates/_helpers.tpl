{{/* Names, labels and shared pod settings. */}}

{{- define "sealgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Helm's usual full name: fullnameOverride, else the release name when it already
contains the chart name (release "sealgate" gives "sealgate"), else
"<release>-<chart>". Every object name starts with it, so two releases never collide.
*/}}
{{- define "sealgate.fullname" -}}
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

{{/* "<fullname>-<suffix>", the full name cut so that the whole stays within 63 characters. */}}
{{- define "sealgate.suffixed" -}}
{{- $root := index . 0 -}}{{- $suffix := index . 1 -}}
{{- printf "%s-%s" (include "sealgate.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix -}}
{{- end -}}

{{- define "sealgate.controller.name" -}}{{ include "sealgate.suffixed" (list . "controller") }}{{- end -}}
{{- define "sealgate.controller.keysName" -}}{{ include "sealgate.suffixed" (list . "controller-keys") }}{{- end -}}
{{- define "sealgate.webhook.name" -}}{{ include "sealgate.suffixed" (list . "webhook") }}{{- end -}}
{{- define "sealgate.webhook.tlsSecret" -}}{{ include "sealgate.suffixed" (list . "webhook-tls") }}{{- end -}}
{{- define "sealgate.webhook.certsName" -}}{{ include "sealgate.suffixed" (list . "webhook-certs") }}{{- end -}}
{{/* The ValidatingWebhookConfiguration (cluster-scoped). */}}
{{- define "sealgate.webhook.configurationName" -}}{{ include "sealgate.fullname" . }}{{- end -}}

{{- define "sealgate.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "sealgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "sealgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sealgate
{{- end -}}

{{- define "sealgate.selector" -}}
app.kubernetes.io/name: {{ include "sealgate.name" $.root }}
app.kubernetes.io/instance: {{ $.root.Release.Name }}
app.kubernetes.io/component: {{ $.component }}
{{- end -}}

{{- define "sealgate.podSettings" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "sealgate.webhook.excluded" -}}
{{- $names := list "kube-system" .Release.Namespace -}}
{{- range .Values.webhook.excludedNamespaces }}{{ $names = append $names . }}{{ end -}}
{{- toJson ($names | uniq) -}}
{{- end -}}
