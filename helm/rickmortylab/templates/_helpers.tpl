{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "rickmortylab.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the release name, with the chart name added unless it is already in it. */}}
{{- define "rickmortylab.fullname" -}}
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

{{/* A component's resource name: fullname-component (component "" is the App itself). */}}
{{- define "rickmortylab.componentName" -}}
{{- $full := include "rickmortylab.fullname" .root }}
{{- if .component }}
{{- printf "%s-%s" ($full | trunc (int (sub 62 (len .component)))) .component | trimSuffix "-" }}
{{- else }}
{{- $full }}
{{- end }}
{{- end }}

{{- define "rickmortylab.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object carries. Call with (dict "root" $ "component" "api"). */}}
{{- define "rickmortylab.labels" -}}
helm.sh/chart: {{ include "rickmortylab.chart" .root }}
{{ include "rickmortylab.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: rickmortylab
{{- end }}

{{/* The labels a component's Service and PodDisruptionBudget select on. */}}
{{- define "rickmortylab.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rickmortylab.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "rickmortylab.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "rickmortylab.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The one image every program runs from: repository@digest, or repository:tag (appVersion by default). */}}
{{- define "rickmortylab.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* Service DNS names inside the release's namespace. */}}
{{- define "rickmortylab.chaosHost" -}}
{{- include "rickmortylab.componentName" (dict "root" . "component" "chaos") }}
{{- end }}
{{- define "rickmortylab.fakeUpstreamHost" -}}
{{- include "rickmortylab.componentName" (dict "root" . "component" "fake-upstream") }}
{{- end }}
{{- define "rickmortylab.postgresHost" -}}
{{- include "rickmortylab.componentName" (dict "root" . "component" "postgres") }}
{{- end }}

{{/* Where DATABASE_URL comes from: the Secret's name and key, or nothing for SQLite. */}}
{{- define "rickmortylab.databaseSecretName" -}}
{{- if and (not .Values.lab.enabled) .Values.database.postgresql.existingSecret }}
{{- .Values.database.postgresql.existingSecret }}
{{- else }}
{{- printf "%s-database" (include "rickmortylab.fullname" .) }}
{{- end }}
{{- end }}
{{- define "rickmortylab.databaseSecretKey" -}}
{{- if and (not .Values.lab.enabled) .Values.database.postgresql.existingSecret }}
{{- .Values.database.postgresql.existingSecretKey }}
{{- else }}
{{- "DATABASE_URL" }}
{{- end }}
{{- end }}

{{/* True when the chart itself owns the Secret that holds DATABASE_URL. */}}
{{- define "rickmortylab.ownsDatabaseSecret" -}}
{{- if .Values.lab.enabled }}true
{{- else if and (eq .Values.database.type "postgresql") (not .Values.database.postgresql.existingSecret) }}true
{{- end }}
{{- end }}

{{/*
The lab PostgreSQL's password: kept from the Secret of an earlier revision (so an upgrade does not
change it under a running database), else new.
*/}}
{{- define "rickmortylab.labPostgresPassword" -}}
{{- $name := printf "%s-database" (include "rickmortylab.fullname" .) }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $name }}
{{- if and $existing $existing.data (index $existing.data "POSTGRES_PASSWORD") }}
{{- index $existing.data "POSTGRES_PASSWORD" | b64dec }}
{{- else }}
{{- randAlphaNum 24 }}
{{- end }}
{{- end }}

{{/* The chaos control API's token Secret. */}}
{{- define "rickmortylab.chaosTokenSecretName" -}}
{{- default (printf "%s-chaos-token" (include "rickmortylab.fullname" .)) .Values.lab.chaos.existingSecret }}
{{- end }}

{{/* The replicas the App can run with: the HPA's minimum when it is on, else replicaCount. */}}
{{- define "rickmortylab.minReplicas" -}}
{{- if .Values.autoscaling.enabled }}{{ .Values.autoscaling.minReplicas }}{{ else }}{{ .Values.replicaCount }}{{ end }}
{{- end }}

{{/*
Guards that a schema cannot express, each with one sentence saying what to change.
*/}}
{{- define "rickmortylab.validate" -}}
{{- $pg := .Values.database.postgresql }}
{{- if and $pg.url $pg.existingSecret }}
{{- fail "database.postgresql: set either url (the chart keeps it in a Secret) or existingSecret (yours), not both" }}
{{- end }}
{{- if and (eq .Values.database.type "postgresql") (not .Values.lab.enabled) (not $pg.url) (not $pg.existingSecret) }}
{{- fail "database.type is postgresql: set database.postgresql.url or database.postgresql.existingSecret" }}
{{- end }}
{{- $drain := add (.Values.lifecycle.preStopSleepSeconds | int) (default "1" .Values.config.SHUTDOWN_DRAIN_DELAY | float64 | ceil | int) (default "10" .Values.config.SHUTDOWN_GRACE | float64 | ceil | int) }}
{{- if le (.Values.lifecycle.terminationGracePeriodSeconds | int) $drain }}
{{- fail (printf "lifecycle.terminationGracePeriodSeconds (%d) must be greater than preStopSleepSeconds + SHUTDOWN_DRAIN_DELAY + SHUTDOWN_GRACE (%d), or the kubelet kills requests still draining" (.Values.lifecycle.terminationGracePeriodSeconds | int) $drain) }}
{{- end }}
{{- if and .Values.lab.chaos.token .Values.lab.chaos.existingSecret }}
{{- fail "lab.chaos: set either token or existingSecret, not both" }}
{{- end }}
{{- end }}
