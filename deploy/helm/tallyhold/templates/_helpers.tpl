{{/* Names and labels shared by every template. One release per namespace: names need no release prefix. */}}

{{- define "tallyhold.fullname" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tallyhold.namespace" -}}
{{- .Release.Namespace -}}
{{- end -}}

{{- define "tallyhold.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: tallyhold
{{ include "tallyhold.selectorLabels" . }}
{{- end -}}

{{/* Selector labels never carry the chart or app version: selectors are immutable. */}}
{{- define "tallyhold.selectorLabels" -}}
app.kubernetes.io/name: tallyhold
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tallyhold.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "tallyhold.vaultKey" -}}
{{- .Values.vault.key | default (.Values.customerId | replace "_" "-") -}}
{{- end -}}

{{- define "tallyhold.vaultRole" -}}
{{- .Values.vault.role | default .Values.customerId -}}
{{- end -}}

{{/* Where the database URL (and the migration URL) appear as files named after their settings. */}}
{{- define "tallyhold.secretsDir" -}}/var/run/secrets/tallyhold/settings{{- end -}}
{{- define "tallyhold.vaultTokenDir" -}}/var/run/secrets/tallyhold/vault{{- end -}}
{{- define "tallyhold.tlsDir" -}}/var/run/secrets/tallyhold/tls{{- end -}}
{{- define "tallyhold.vaultCaDir" -}}/var/run/secrets/tallyhold/vault-ca{{- end -}}

{{- define "tallyhold.scheme" -}}
{{- if eq .Values.tls.mode "instance" }}HTTPS{{ else }}HTTP{{ end -}}
{{- end -}}

{{/* Checks the schema cannot express: fail closed with a sentence naming the value. */}}
{{- define "tallyhold.validate" -}}
{{- if and (eq .Values.tls.mode "ingress") (not .Values.ingress.enabled) -}}
{{- fail "tls.mode is ingress but ingress.enabled is false: enable the Ingress, or set tls.mode to upstream or instance" -}}
{{- end -}}
{{- if and (eq .Values.tls.mode "instance") (not .Values.tls.existingSecret) -}}
{{- fail "tls.mode is instance: tls.existingSecret must name the instance's certificate Secret" -}}
{{- end -}}
{{- if and .Values.ingress.enabled (not .Values.ingress.host) -}}
{{- fail "ingress.enabled needs ingress.host, the customer's host name" -}}
{{- end -}}
{{- if and .Values.networkPolicy.enabled (not .Values.networkPolicy.postgres.cidrs) -}}
{{- fail "networkPolicy.postgres.cidrs must list Postgres' addresses (or disable networkPolicy)" -}}
{{- end -}}
{{- if and .Values.networkPolicy.enabled (not .Values.networkPolicy.vault.inCluster) (not .Values.networkPolicy.vault.cidrs) -}}
{{- fail "networkPolicy.vault.inCluster is false: networkPolicy.vault.cidrs must list Vault's addresses" -}}
{{- end -}}
{{- if and .Values.networkPolicy.egressGateway.enabled (not .Values.networkPolicy.egressGateway.namespaceLabels) -}}
{{- fail "networkPolicy.egressGateway.enabled needs namespaceLabels" -}}
{{- end -}}
{{- end -}}

{{/* The settings both the instance and the migration Job need; none is secret. */}}
{{- define "tallyhold.identityEnv" -}}
TALLYHOLD_ENV: production
TALLYHOLD_CUSTOMER_ID: {{ .Values.customerId | quote }}
TALLYHOLD_DB_SCHEMA: {{ .Values.customerId | quote }}
TALLYHOLD_SECRETS_DIR: {{ include "tallyhold.secretsDir" . | quote }}
TALLYHOLD_VAULT_ADDR: {{ .Values.vault.addr | quote }}
TALLYHOLD_VAULT_AUTH: kubernetes
TALLYHOLD_VAULT_K8S_ROLE: {{ include "tallyhold.vaultRole" . | quote }}
TALLYHOLD_VAULT_K8S_MOUNT: {{ .Values.vault.authMount | quote }}
TALLYHOLD_VAULT_K8S_JWT_PATH: {{ printf "%s/token" (include "tallyhold.vaultTokenDir" .) | quote }}
TALLYHOLD_VAULT_KEY: {{ include "tallyhold.vaultKey" . | quote }}
TALLYHOLD_VAULT_TRANSIT_MOUNT: {{ .Values.vault.transitMount | quote }}
{{- if .Values.vault.caConfigMap }}
TALLYHOLD_VAULT_CACERT: {{ printf "%s/%s" (include "tallyhold.vaultCaDir" .) .Values.vault.caKey | quote }}
{{- end }}
{{- end -}}

{{- define "tallyhold.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "tallyhold.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The instance's pods only (the migration Job's pods carry component=migration). */}}
{{- define "tallyhold.instanceSelectorLabels" -}}
{{ include "tallyhold.selectorLabels" . }}
app.kubernetes.io/component: instance
{{- end -}}

{{/* Egress rules, shared by the instance's and the migration's NetworkPolicies. */}}
{{- define "tallyhold.egressDns" -}}
- to:
    - namespaceSelector:
        matchLabels:
          {{- toYaml .Values.networkPolicy.dns.namespaceLabels | nindent 10 }}
      podSelector:
        matchLabels:
          {{- toYaml .Values.networkPolicy.dns.podLabels | nindent 10 }}
  ports:
    - {port: 53, protocol: UDP}
    - {port: 53, protocol: TCP}
{{- end -}}

{{- define "tallyhold.egressPostgres" -}}
- to:
    {{- range .Values.networkPolicy.postgres.cidrs }}
    - ipBlock: {cidr: {{ . | quote }}}
    {{- end }}
  ports:
    - {port: {{ .Values.networkPolicy.postgres.port }}, protocol: TCP}
{{- end -}}
