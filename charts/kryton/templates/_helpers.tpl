{{/* Chart name, overridable. */}}
{{- define "kryton.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name used for every resource: release name + chart name, unless the release name
already contains the chart name. */}}
{{- define "kryton.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kryton.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The image tag actually deployed: image.tag when pinned, else the chart's appVersion. */}}
{{- define "kryton.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Standard labels on every object. */}}
{{- define "kryton.labels" -}}
helm.sh/chart: {{ include "kryton.chart" . }}
{{ include "kryton.selectorLabels" . }}
app.kubernetes.io/version: {{ include "kryton.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kryton
{{- end }}

{{/* Selector labels: stable across upgrades (a Deployment's selector is immutable). */}}
{{- define "kryton.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kryton.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: server
{{- end }}

{{- define "kryton.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kryton.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Name of the PVC mounted at /data. */}}
{{- define "kryton.claimName" -}}
{{- .Values.persistence.existingClaim | default (printf "%s-data" (include "kryton.fullname" .)) }}
{{- end }}

{{/* The subchart's service/secret name, following bitnami's own naming rule. */}}
{{- define "kryton.postgresql.fullname" -}}
{{- if .Values.postgresql.fullnameOverride }}
{{- .Values.postgresql.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default "postgresql" .Values.postgresql.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "postgres" when the server will use PostgreSQL, else "sqlite". */}}
{{- define "kryton.database" -}}
{{- if or .Values.postgresql.enabled .Values.externalPostgres.existingSecret }}postgres{{ else }}sqlite{{ end }}
{{- end }}

{{/* Impossible combinations fail the render with the reason, before anything reaches a cluster. */}}
{{- define "kryton.validate" -}}
{{- $pg := eq (include "kryton.database" .) "postgres" }}
{{- $rwx := and .Values.persistence.enabled (has "ReadWriteMany" .Values.persistence.accessModes) }}
{{- if and .Values.postgresql.enabled .Values.externalPostgres.existingSecret }}
{{- fail "choose one database: externalPostgres.existingSecret and postgresql.enabled are both set" }}
{{- end }}
{{- $why := "" }}
{{- if eq .Values.strategy.type "RollingUpdate" }}
{{- $why = "strategy.type=RollingUpdate runs the old and the new pod at the same time" }}
{{- else if gt (int .Values.replicaCount) 1 }}
{{- $why = printf "replicaCount=%d runs several pods at the same time" (int .Values.replicaCount) }}
{{- end }}
{{- if and $why (not $pg) }}
{{- fail (printf "%s, which needs PostgreSQL (externalPostgres.existingSecret or postgresql.enabled): the embedded SQLite database cannot be shared by two pods. Use strategy.type=Recreate and replicaCount=1, or configure PostgreSQL." $why) }}
{{- end }}
{{- if and $why (not $rwx) }}
{{- fail (printf "%s, which needs the /data volume to be ReadWriteMany (persistence.enabled=true, persistence.accessModes including ReadWriteMany): a ReadWriteOnce or per-pod volume cannot hold one shared notes tree. Use strategy.type=Recreate and replicaCount=1, or RWX storage." $why) }}
{{- end }}
{{- end }}
