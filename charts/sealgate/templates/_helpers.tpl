{{/* Names, labels and shared pod settings. */}}

{{- define "sealgate.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sealgate.controller.name" -}}sealgate-controller{{- end -}}
{{- define "sealgate.webhook.name" -}}sealgate-webhook{{- end -}}

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
