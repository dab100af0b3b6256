{{/*
Names are fixed, not derived from the release: the operator looks for its webhook configurations,
Lease and Secrets by these names, and one operator governs a cluster.
*/}}

{{/* The name of the operator's ServiceAccount, Deployment, RBAC, Lease and webhook configurations. */}}
{{- define "aims.name" -}}aims-operator{{- end }}

{{/* The Service the API server calls the webhook through. */}}
{{- define "aims.webhookService" -}}aims-operator-webhook{{- end }}

{{/* Labels on everything the chart creates. */}}
{{- define "aims.labels" -}}
app.kubernetes.io/name: aims-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* Labels that select the operator's pods. */}}
{{- define "aims.selectorLabels" -}}
app.kubernetes.io/name: aims-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
A webhook's clientConfig: the URL when one is given (an operator outside the cluster), otherwise the
Service. `path` is the webhook's path.
*/}}
{{- define "aims.clientConfig" -}}
{{- if .root.Values.webhook.url }}
url: {{ printf "%s%s" (trimSuffix "/" .root.Values.webhook.url) .path | quote }}
{{- else }}
service:
  namespace: {{ .root.Release.Namespace }}
  name: {{ include "aims.webhookService" .root }}
  path: {{ .path }}
  port: 443
{{- end }}
{{- end }}

{{/* What every webhook shares; `failurePolicy` is the given one or the values' one. */}}
{{- define "aims.webhookSettings" -}}
admissionReviewVersions: [v1]
sideEffects: None
matchPolicy: Equivalent
timeoutSeconds: {{ .root.Values.webhook.timeoutSeconds }}
failurePolicy: {{ .failurePolicy | default .root.Values.webhook.failurePolicy }}
{{- end }}

{{/* A namespaceSelector matching every namespace but the given list. */}}
{{- define "aims.notIn" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
      {{- toYaml . | nindent 6 }}
{{- end }}

{{/*
The governed custom-resource kinds, as JSON `{"kinds": [...]}`: the built-in rows (files/kinds.yaml,
the operator's own catalog/kinds.yaml) and the platform team's extraKinds. The webhook rules, the
RBAC and the operator's --kinds-file all come from this one list.
*/}}
{{- define "aims.kinds" -}}
{{- $builtin := (.Files.Get "files/kinds.yaml" | fromYaml).kinds -}}
{{- toJson (dict "kinds" (concat $builtin .Values.extraKinds)) -}}
{{- end }}

{{/* A governed kind's path (`spec.workerGroupSpecs.*.template`) as a CEL expression: the list of
values at it in `__o__` (replaced by object or oldObject), read as `dyn` so that it serves any CRD
schema; a `*` segment is every item of a list or every value of a map, a missing field none. */}}
{{- define "aims.celPath" -}}
{{- $e := "[dyn(__o__)]" -}}
{{- range (splitList "." .) -}}
{{- if eq . "*" -}}
{{- $e = printf "%s.map(v, type(v) == list ? v : v.map(k, v[k])).flatten()" $e -}}
{{- else -}}
{{- $e = printf "%s.filter(v, has(v.%s)).map(v, v.%s)" $e . . -}}
{{- end -}}
{{- end -}}
{{- $e -}}
{{- end -}}
