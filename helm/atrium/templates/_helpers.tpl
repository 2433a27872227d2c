{{/*
Names. A Service name is a DNS label (at most 63 characters): the fullname stops at 57 so that
"<fullname>-admin" still is one. RBAC object names have no such limit.
*/}}
{{- define "atrium.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 57 | trimSuffix "-" -}}
{{- end -}}

{{/*
The release's prefix for every object: fullnameOverride, else the release name when it already
says the chart's name ("atrium", "atrium-edge"), else "<release>-<name>".
*/}}
{{- define "atrium.fullname" -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- $full := printf "%s-%s" .Release.Name $name -}}
{{- if .Values.fullnameOverride -}}
{{- $full = .Values.fullnameOverride -}}
{{- else if contains $name .Release.Name -}}
{{- $full = .Release.Name -}}
{{- end -}}
{{- $full | trunc 57 | trimSuffix "-" -}}
{{- end -}}

{{- define "atrium.chart" -}}
{{- printf "%s-%s" .Chart.Name (.Chart.Version | replace "+" "_") | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that never change for a release: the Deployment's selector, the Services' selector. */}}
{{- define "atrium.selectorLabels" -}}
app.kubernetes.io/name: {{ include "atrium.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of every object the chart makes. */}}
{{- define "atrium.labels" -}}
helm.sh/chart: {{ include "atrium.chart" . }}
{{ include "atrium.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: atrium
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "atrium.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "atrium.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name must name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "atrium.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Lease Atrium takes for leader election (named by the controller after its class). */}}
{{- define "atrium.leaseName" -}}
{{- printf "%s-leader" .Values.ingressClass.name -}}
{{- end -}}

{{/* The Secret the chart makes for redis.url / adminToken.value (when either is given). */}}
{{- define "atrium.secretName" -}}
{{- include "atrium.fullname" . -}}
{{- end -}}

{{- define "atrium.ownSecretNeeded" -}}
{{- if or (and .Values.redis.url (not .Values.redis.existingSecret)) (and .Values.adminToken.value (not .Values.adminToken.existingSecret)) -}}
true
{{- end -}}
{{- end -}}

{{/* Where the Redis URL and the admin token come from: the user's Secret or the chart's. */}}
{{- define "atrium.redisSecretName" -}}
{{- default (include "atrium.secretName" .) .Values.redis.existingSecret -}}
{{- end -}}
{{- define "atrium.redisSecretKey" -}}
{{- if .Values.redis.existingSecret -}}{{ .Values.redis.existingSecretKey }}{{- else -}}redis-url{{- end -}}
{{- end -}}
{{- define "atrium.adminTokenSecretName" -}}
{{- default (include "atrium.secretName" .) .Values.adminToken.existingSecret -}}
{{- end -}}
{{- define "atrium.adminTokenSecretKey" -}}
{{- if .Values.adminToken.existingSecret -}}{{ .Values.adminToken.existingSecretKey }}{{- else -}}admin-token{{- end -}}
{{- end -}}

{{/*
Seconds of a drainTimeout written as whole seconds or minutes ("30s", "2m"); the schema admits
only those two forms, so the arithmetic here stays simple.
*/}}
{{- define "atrium.drainSeconds" -}}
{{- $d := toString .Values.drainTimeout -}}
{{- if hasSuffix "m" $d -}}
{{- mul (trimSuffix "m" $d | atoi) 60 -}}
{{- else -}}
{{- trimSuffix "s" $d | atoi -}}
{{- end -}}
{{- end -}}

{{/*
The pod's grace period: the preStop pause and the drain must both fit in it, with room for the
process to exit, or the kubelet's SIGKILL cuts requests that the drain promised to finish.
*/}}
{{- define "atrium.terminationGracePeriodSeconds" -}}
{{- $needed := add (include "atrium.drainSeconds" . | atoi) .Values.preStopSleepSeconds -}}
{{- if kindIs "invalid" .Values.terminationGracePeriodSeconds -}}
{{- add $needed 10 -}}
{{- else if le (int .Values.terminationGracePeriodSeconds) (int $needed) -}}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed preStopSleepSeconds + drainTimeout (%v s)" .Values.terminationGracePeriodSeconds $needed) -}}
{{- else -}}
{{- .Values.terminationGracePeriodSeconds -}}
{{- end -}}
{{- end -}}

{{/*
--replicas: how many replicas share the Global limits, so that each enforces its 1/N share while
Redis is unreachable. redis.expectedReplicas when set; else the fixed replicaCount, or the
autoscaler's ceiling: with fewer replicas running than N the replicas admit less than the limit
together, never more.
*/}}
{{- define "atrium.expectedReplicas" -}}
{{- if not (kindIs "invalid" .Values.redis.expectedReplicas) -}}
{{- .Values.redis.expectedReplicas -}}
{{- else if .Values.autoscaling.enabled -}}
{{- .Values.autoscaling.maxReplicas -}}
{{- else -}}
{{- .Values.replicaCount -}}
{{- end -}}
{{- end -}}

{{/* More than one replica can run: a PodDisruptionBudget then keeps one serving. */}}
{{- define "atrium.multiReplica" -}}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) -}}
true
{{- end -}}
{{- end -}}
