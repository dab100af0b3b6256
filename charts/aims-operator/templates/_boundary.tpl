{{/*
The webhook's network boundary: where the client CA comes from (mutual TLS) and the sources the
NetworkPolicy admits.
*/}}

{{/* Whether a client CA is configured. */}}
{{- define "aims.clientAuth.enabled" -}}
{{- with .Values.webhook.clientAuth }}{{ if or .caBundle .existingSecret .existingConfigMap }}true{{ end }}{{ end }}
{{- end }}

{{/* Where the client CA is mounted in the pod. */}}
{{- define "aims.clientAuth.dir" -}}/etc/aims/webhook-client-ca{{- end }}

{{/* The ConfigMap the chart makes for an inline client CA bundle. */}}
{{- define "aims.clientAuth.configMap" -}}aims-operator-webhook-client-ca{{- end }}

{{/* The volume holding the client CA: an inline bundle's ConfigMap, a Secret or a ConfigMap. */}}
{{- define "aims.clientAuth.volume" -}}
{{- with .Values.webhook.clientAuth }}
- name: webhook-client-ca
  {{- if .caBundle }}
  configMap:
    name: {{ include "aims.clientAuth.configMap" $ }}
  {{- else if .existingSecret }}
  secret:
    secretName: {{ .existingSecret }}
  {{- else }}
  configMap:
    name: {{ .existingConfigMap }}
  {{- end }}
{{- end }}
{{- end }}

{{/* The webhook port's default sources: every IPv4 and IPv6 address outside the pod network. */}}
{{- define "aims.networkPolicy.webhookDefault" -}}
{{- $v4 := list }}
{{- $v6 := list }}
{{- range .Values.networkPolicy.podCIDRs }}
{{- if contains ":" . }}{{ $v6 = append $v6 . }}{{ else }}{{ $v4 = append $v4 . }}{{ end }}
{{- end }}
- ipBlock:
    cidr: 0.0.0.0/0
    {{- with $v4 }}
    except:
      {{- toYaml . | nindent 6 }}
    {{- end }}
- ipBlock:
    cidr: ::/0
    {{- with $v6 }}
    except:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- end }}
