{{/* Partitions of each consumer's input topic (src/govwatch/adapters/kafka_topics.py): replicas above these would idle. */}}
{{- define "govwatch.partitions" -}}
{"enrich": 6, "index": 6, "alert": 3, "notify": 3}
{{- end -}}

{{- define "govwatch.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "govwatch.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "govwatch.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "govwatch.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "govwatch.fullname" .) -}}
{{- end -}}

{{- define "govwatch.feedsConfigMap" -}}
{{- if .Values.feeds.existingConfigMap -}}
{{- .Values.feeds.existingConfigMap -}}
{{- else if .Values.feeds.registry -}}
{{- printf "%s-feeds" (include "govwatch.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The environment every govwatch container shares (settings: deploy/.env.example); no Elasticsearch or channel
credential: each role adds its own (govwatch.esAuth, govwatch.channelEnv, govwatch.prefectEnv). */}}
{{- define "govwatch.env" -}}
- name: GOVWATCH_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrap | quote }}
- name: GOVWATCH_KAFKA_SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol | quote }}
{{- with .Values.kafka.saslMechanism }}
- name: GOVWATCH_KAFKA_SASL_MECHANISM
  value: {{ . | quote }}
{{- end }}
{{- with .Values.kafka.saslUsername }}
- name: GOVWATCH_KAFKA_SASL_USERNAME
  value: {{ . | quote }}
{{- end }}
- name: GOVWATCH_KAFKA_SASL_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ include "govwatch.secretName" . }}, key: kafka-sasl-password, optional: true}}
{{- if .Values.kafka.caSecret.name }}
- name: GOVWATCH_KAFKA_SSL_CAFILE
  value: /etc/govwatch/kafka-ca/ca.crt
{{- end }}
- name: GOVWATCH_KAFKA_REPLICATION_FACTOR
  value: {{ .Values.kafka.replicationFactor | quote }}
- name: GOVWATCH_ES_URL
  value: {{ .Values.elasticsearch.url | quote }}
{{- if .Values.elasticsearch.caSecret.name }}
- name: GOVWATCH_ES_CA_CERTS
  value: /etc/govwatch/es-ca/ca.crt
{{- end }}
- name: GOVWATCH_ES_REPLICAS
  value: {{ .Values.elasticsearch.replicas | quote }}
- name: GOVWATCH_TOPIC_PREFIX
  value: {{ .Values.topicPrefix | quote }}
- name: GOVWATCH_INDEX_PREFIX
  value: {{ .Values.indexPrefix | quote }}
- name: GOVWATCH_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: GOVWATCH_LOG_FORMAT
  value: json
- name: GOVWATCH_METRICS_PORT
  value: {{ .Values.metrics.port | quote }}
- name: GOVWATCH_METRICS_HOST
  value: 0.0.0.0
{{- if include "govwatch.feedsConfigMap" . }}
- name: GOVWATCH_FEEDS_FILE
  value: /etc/govwatch/feeds/feeds.yaml
{{- end }}
{{- range $name, $value := .Values.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* The Elasticsearch login of one govwatch role ({root, role}): its own API key or user, from the Secret
<elasticsearch.credentialsSecretPrefix>-<role>, limited by the role body files/elasticsearch-roles/<role>.json. */}}
{{- define "govwatch.esAuth" -}}
{{- $es := .root.Values.elasticsearch -}}
{{- $secret := printf "%s-%s" $es.credentialsSecretPrefix .role -}}
{{- if eq $es.auth "apiKey" }}
- name: GOVWATCH_ES_API_KEY
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: api-key}}
{{- else if eq $es.auth "basic" }}
- name: GOVWATCH_ES_USERNAME
  value: {{ printf "%s_%s" .root.Values.indexPrefix .role | quote }}
- name: GOVWATCH_ES_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: password}}
{{- else if ne $es.auth "none" }}
{{- fail (printf "elasticsearch.auth=%s: use apiKey (one API key per role), basic (one user per role) or none (a cluster without security)" $es.auth) }}
{{- end }}
{{- end -}}

{{/* The channels alerts go out on (Slack, Teams, JSON webhooks, e-mail): only for the roles that send (notify,
digests, and web for test messages, resume and the destination checks on save). Credentials from the Secret (each key
optional), the rest plain; a setting left empty in values keeps govwatch's default. */}}
{{- define "govwatch.channelEnv" -}}
{{- $secret := include "govwatch.secretName" . -}}
{{- $ch := .Values.channels -}}
- name: GOVWATCH_SLACK_WEBHOOK_URL
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: slack-webhook-url, optional: true}}
- name: GOVWATCH_SLACK_BOT_TOKEN
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: slack-bot-token, optional: true}}
- name: GOVWATCH_SMTP_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: smtp-password, optional: true}}
{{- with $ch.smtp.host }}
- name: GOVWATCH_SMTP_HOST
  value: {{ . | quote }}
- name: GOVWATCH_SMTP_PORT
  value: {{ $ch.smtp.port | quote }}
- name: GOVWATCH_SMTP_STARTTLS
  value: {{ $ch.smtp.starttls | quote }}
{{- end }}
{{- with $ch.smtp.username }}
- name: GOVWATCH_SMTP_USERNAME
  value: {{ . | quote }}
{{- end }}
{{- with $ch.smtp.from }}
- name: GOVWATCH_SMTP_FROM
  value: {{ . | quote }}
{{- end }}
{{- with $ch.emailDomains }}
- name: GOVWATCH_EMAIL_DOMAINS
  value: {{ join "," . | quote }}
{{- end }}
{{- with $ch.teamsWebhookHosts }}
- name: GOVWATCH_TEAMS_WEBHOOK_HOSTS
  value: {{ join "," . | quote }}
{{- end }}
{{- with $ch.jsonWebhookHosts }}
- name: GOVWATCH_JSON_WEBHOOK_HOSTS
  value: {{ join "," . | quote }}
{{- end }}
{{- end -}}

{{/* The Prefect server's API: only for the roles that serve flows (poll, digests, spikes, sources). */}}
{{- define "govwatch.prefectEnv" -}}
- name: GOVWATCH_PREFECT_API_URL
  value: {{ .Values.prefect.apiUrl | quote }}
- name: PREFECT_API_URL
  value: {{ .Values.prefect.apiUrl | quote }}
{{- end -}}

{{/* Values that no longer exist stop the render instead of being ignored. */}}
{{- define "govwatch.checkValues" -}}
{{- if .Values.web.trustedProxyHeader }}
{{- fail "web.trustedProxyHeader was replaced by web.proxyAuth (the chart now makes the ingress set the header and strip client copies)" }}
{{- end }}
{{- if hasKey .Values.extraEnv "GOVWATCH_WEB_TRUSTED_PROXY_HEADER" }}
{{- fail "extraEnv.GOVWATCH_WEB_TRUSTED_PROXY_HEADER: use web.proxyAuth, which also makes the ingress strip client copies of the header" }}
{{- end }}
{{- if or .Values.elasticsearch.username .Values.secrets.esPassword .Values.secrets.esApiKey }}
{{- fail "elasticsearch.username, secrets.esPassword and secrets.esApiKey were replaced by one credential per role: elasticsearch.auth and the Secrets <elasticsearch.credentialsSecretPrefix>-<role> (deploy/README.md)" }}
{{- end }}
{{- end -}}

{{- define "govwatch.volumeMounts" -}}
- {name: tmp, mountPath: /tmp}
- {name: home, mountPath: /home/govwatch}
{{- if .Values.kafka.caSecret.name }}
- {name: kafka-ca, mountPath: /etc/govwatch/kafka-ca, readOnly: true}
{{- end }}
{{- if .Values.elasticsearch.caSecret.name }}
- {name: es-ca, mountPath: /etc/govwatch/es-ca, readOnly: true}
{{- end }}
{{- if include "govwatch.feedsConfigMap" . }}
- {name: feeds, mountPath: /etc/govwatch/feeds, readOnly: true}
{{- end }}
{{- end -}}

{{- define "govwatch.volumes" -}}
- {name: tmp, emptyDir: {}}
- {name: home, emptyDir: {}}
{{- with .Values.kafka.caSecret }}
{{- if .name }}
- name: kafka-ca
  secret: {secretName: {{ .name }}, items: [{key: {{ .key | default "ca.crt" }}, path: ca.crt}]}
{{- end }}
{{- end }}
{{- with .Values.elasticsearch.caSecret }}
{{- if .name }}
- name: es-ca
  secret: {secretName: {{ .name }}, items: [{key: {{ .key | default "ca.crt" }}, path: ca.crt}]}
{{- end }}
{{- end }}
{{- with include "govwatch.feedsConfigMap" . }}
- name: feeds
  configMap: {name: {{ . }}, items: [{key: feeds.yaml, path: feeds.yaml}]}
{{- end }}
{{- end -}}

{{/* Pod-level settings shared by every govwatch pod: non-root, no service account token, scheduling. */}}
{{- define "govwatch.podSpec" -}}
automountServiceAccountToken: false
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  fsGroup: 10001
  seccompProfile: {type: RuntimeDefault}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
{{- toYaml . | nindent 2 }}
{{- end }}
volumes:
{{- include "govwatch.volumes" . | nindent 2 }}
{{- end -}}

{{- define "govwatch.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities: {drop: [ALL]}
{{- end -}}

{{/* NetworkPolicy pieces (networkpolicy.yaml): a peer {namespace, podLabels}, the public internet, TCP ports. */}}
{{- define "govwatch.peer" -}}
- namespaceSelector:
    matchLabels: {kubernetes.io/metadata.name: {{ .namespace | quote }}}
  {{- with .podLabels }}
  podSelector:
    matchLabels:
      {{- toYaml . | nindent 6 }}
  {{- end }}
{{- end -}}
{{- define "govwatch.internet" -}}
- ipBlock:
    cidr: 0.0.0.0/0
    except:
      {{- toYaml .internetExcept | nindent 6 }}
- ipBlock:
    cidr: ::/0
    except:
      {{- toYaml .internetExceptV6 | nindent 6 }}
{{- end -}}
{{- define "govwatch.ports" -}}
{{- range . }}
- {protocol: TCP, port: {{ . }}}
{{- end }}
{{- end -}}
