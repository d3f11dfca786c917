{{- define "tallyhold-namespace.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tallyhold
tallyhold.dev/customer-id: {{ .Values.customerId | quote }}
{{- end -}}

{{- define "tallyhold-namespace.validate" -}}
{{- if ne .Release.Namespace (.Values.customerId | replace "_" "-") -}}
{{- fail (printf "the release namespace %q must be the customer id with - for _ (%s)" .Release.Namespace (.Values.customerId | replace "_" "-")) -}}
{{- end -}}
{{- end -}}
