{{/* The release's full name, used for every object. */}}
{{- define "rebound.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "rebound.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "rebound.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rebound.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "rebound.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The drill's scratch namespace; empty when the drill is off. */}}
{{- define "rebound.drillNamespace" -}}
{{- if .Values.drill.enabled -}}
{{- .Values.drill.scratchNamespace -}}
{{- end -}}
{{- end -}}

{{- define "rebound.reportsClaim" -}}
{{- default (printf "%s-reports" (include "rebound.fullname" .)) .Values.reports.persistence.existingClaim -}}
{{- end -}}

{{/*
rebound.checkNamespace fails rendering when a value names kube-system or a
namespace outside allowedNamespaces. Call with (list $ "value.path" "ns").
*/}}
{{- define "rebound.checkNamespace" -}}
{{- $root := index . 0 -}}
{{- $where := index . 1 -}}
{{- $ns := index . 2 -}}
{{- if eq $ns "kube-system" -}}
{{- fail (printf "%s: namespace kube-system is never allowed: rebound never acts there; use an application namespace" $where) -}}
{{- end -}}
{{- if not (has $ns $root.Values.allowedNamespaces) -}}
{{- fail (printf "%s: namespace %q is not in allowedNamespaces %v: add it to allowedNamespaces (which grants rebound a Role there) or name an allowed one" $where $ns $root.Values.allowedNamespaces) -}}
{{- end -}}
{{- end -}}

{{/* rebound.validate checks every value that names a namespace. */}}
{{- define "rebound.validate" -}}
{{- if not .Values.allowedNamespaces -}}
{{- fail "allowedNamespaces: empty: list the namespaces rebound may act in" -}}
{{- end -}}
{{- range $i, $ns := .Values.allowedNamespaces -}}
{{- if eq $ns "kube-system" -}}
{{- fail (printf "allowedNamespaces[%d]: namespace kube-system is never allowed: rebound never acts there; remove it" $i) -}}
{{- end -}}
{{- end -}}
{{- range $file, $text := .Values.scenarios -}}
{{- range $j, $doc := regexSplit "(?m)^---\\s*$" $text -1 -}}
{{- $obj := fromYaml $doc -}}
{{- if hasKey $obj "Error" -}}
{{- fail (printf "scenarios[%s]: document %d is not YAML: %s" $file $j $obj.Error) -}}
{{- end -}}
{{- if eq (toString $obj.kind) "Scenario" -}}
{{- $ns := dig "spec" "target" "namespace" "" $obj -}}
{{- if not $ns -}}
{{- fail (printf "scenarios[%s]: scenario %s has no spec.target.namespace: name one of allowedNamespaces %v" $file (dig "metadata" "name" "?" $obj) $.Values.allowedNamespaces) -}}
{{- end -}}
{{- include "rebound.checkNamespace" (list $ (printf "scenarios[%s]: scenario %s: spec.target.namespace" $file (dig "metadata" "name" "?" $obj)) $ns) -}}
{{- if eq $ns (include "rebound.drillNamespace" $) -}}
{{- fail (printf "scenarios[%s]: scenario %s: spec.target.namespace: %s is the drill's scratch namespace (drill.scratchNamespace), where rebound holds only the restore's Role: target the app's namespace" $file (dig "metadata" "name" "?" $obj) $ns) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if .Values.drill.enabled -}}
{{- $ns := required "drill.scratchNamespace: name the namespace the drill restores into, and list it in allowedNamespaces" .Values.drill.scratchNamespace -}}
{{- include "rebound.checkNamespace" (list $ "drill.scratchNamespace" $ns) -}}
{{- if eq (len .Values.allowedNamespaces) 1 -}}
{{- if .Values.gameDay.enabled -}}
{{- fail (printf "allowedNamespaces: only the drill's scratch namespace %s, which gets the drill's Role only: add the app's namespace for the game day, or turn gameDay.enabled off" $ns) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
rebound.namespacedRules: the rules of the Role in each allowed namespace,
exactly the calls rebound makes there (see the comments for where).
*/}}
{{- define "rebound.namespacedRules" -}}
{{- $p := .Values.permissions -}}
# runner: find the app's pods and StatefulSets, watch them recover
# (runner/target.go, faults/targets.go).
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get, list]
{{- with $p.secretNames }}
# target.endpoints.secretRef, Chaos Mesh's cloud secret, by name only.
- apiGroups: [""]
  resources: [secrets]
  resourceNames: {{ toJson . }}
  verbs: [get]
{{- end }}
{{- if or $p.podFaults $p.humanError $p.diskFaults }}
# pod-kill (faults/member.go); pods of deleted claims and apps
# (faults/disk.go, faults/human.go).
- apiGroups: [""]
  resources: [pods]
  verbs: [delete]
{{- end }}
{{- if $p.humanError }}
# statefulset-delete, app-delete, scale-to-zero and its undo (faults/human.go, faults/undo.go).
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [delete, patch]
{{- end }}
{{- if or $p.humanError $p.diskFaults }}
# pvc-delete, pv-delete, pvc-delete-all (faults/disk.go, faults/human.go).
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list, delete]
{{- end }}
{{- if $p.chaosMesh }}
# via: chaos-mesh (faults/chaosmesh): create, read the status of, delete.
- apiGroups: [chaos-mesh.org]
  resources: [podchaos, networkchaos, iochaos, awschaos, azurechaos, gcpchaos]
  verbs: [create, get, delete]
{{- end }}
{{- if $p.backup }}
# backup engine: capture (list) and restore (get, create, update, delete) the
# app's objects (backup/kinds.go). Restoring a Role or RoleBinding that grants
# more than rebound holds is refused by the API server (no escalate/bind).
- apiGroups: [""]
  resources: [serviceaccounts, configmaps, secrets, services, persistentvolumeclaims]
  verbs: [get, list, create, update, delete]
- apiGroups: [apps]
  resources: [statefulsets, deployments]
  verbs: [get, list, create, update, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, create, update, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, create, update, delete]
# data movers: their pods and key Secrets (backup/movers.go).
- apiGroups: [""]
  resources: [pods]
  verbs: [create, delete]
{{- end }}
{{- end -}}

{{/*
rebound.drillRules: the rules of the Role in the drill's scratch namespace,
exactly what `rebound drill --reuse-namespace` calls there: no update (the
namespace holds none of the backup's objects, so the restore only creates),
no namespace create or delete (the namespace stays).
*/}}
{{- define "rebound.drillRules" -}}
# the namespace holds no workloads or claims, before; the claims, after
# (drill/reuse.go). The restore waits for its workloads (backup/restore.go).
- apiGroups: [apps]
  resources: [statefulsets, deployments]
  verbs: [get, list, create, delete]
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list, create, delete]
# none of the backup's objects there, before; create them; delete them,
# after (drill/reuse.go, backup/restore.go, backup/objects.go). Restoring a
# Role or RoleBinding that grants more than this Role is refused by the API
# server (no escalate/bind).
- apiGroups: [""]
  resources: [serviceaccounts, configmaps, secrets, services]
  verbs: [get, create, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, create, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, create, delete]
# data movers and their key Secrets (backup/movers.go, covered above for
# Secrets); the copy's pods, for its health and data (backup/movers.go
# Connect).
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, create, delete]
{{- end -}}

{{/*
rebound.clusterRules: cluster-scoped rules; empty when nothing needs one.
*/}}
{{- define "rebound.clusterRules" -}}
{{- $p := .Values.permissions -}}
{{- if or $p.backup $p.humanError .Values.drill.enabled }}
# the allowed namespaces, by name: read (backup/backup.go, restore.go,
# the drill's scratch namespace: drill/reuse.go).
- apiGroups: [""]
  resources: [namespaces]
  resourceNames: {{ toJson .Values.allowedNamespaces }}
  verbs: [get]
{{- end }}
{{- if $p.humanError }}
{{- $deletable := without .Values.allowedNamespaces (include "rebound.drillNamespace" .) }}
{{- with $deletable }}
# namespace-delete (faults/human.go): not the drill's scratch namespace,
# which no scenario targets.
- apiGroups: [""]
  resources: [namespaces]
  resourceNames: {{ toJson . }}
  verbs: [delete]
{{- end }}
{{- end }}
{{- if or $p.backup .Values.drill.enabled }}
# restore: the claims' StorageClass (backup/actions.go).
- apiGroups: [storage.k8s.io]
  resources: [storageclasses]
  verbs: [get]
{{- end }}
{{- if $p.diskFaults }}
# pv-delete (faults/disk.go).
- apiGroups: [""]
  resources: [persistentvolumes]
  verbs: [delete]
{{- end }}
{{- if $p.nodeFaults }}
# node-drain, node-taint and their undo; nodes of a zone (faults/node.go,
# faults/targets.go, faults/undo.go).
- apiGroups: [""]
  resources: [nodes]
  verbs: [get, list, patch, update]
# node-drain: every pod on the node, in any namespace (faults/node.go).
- apiGroups: [""]
  resources: [pods]
  verbs: [list]
- apiGroups: [""]
  resources: [pods/eviction]
  verbs: [create]
{{- end }}
{{- end -}}

{{/* rebound.podSpec: the pod of both CronJobs; call with (list $ args). */}}
{{- define "rebound.podSpec" -}}
{{- $ := index . 0 -}}
{{- $args := index . 1 -}}
serviceAccountName: {{ include "rebound.serviceAccountName" $ }}
automountServiceAccountToken: true
restartPolicy: Never
securityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  fsGroup: 65532
  seccompProfile: {type: RuntimeDefault}
containers:
- name: rebound
  image: {{ include "rebound.image" $ }}
  imagePullPolicy: {{ $.Values.image.pullPolicy }}
  args: {{ toJson $args }}
  env:
  - name: POD_NAME
    valueFrom: {fieldRef: {fieldPath: metadata.name}}
  - name: HOME
    value: /tmp
  - name: REBOUND_STATE_DIR
    value: /reports/.state
  {{- with $.Values.backup.repo }}
  - name: REBOUND_BACKUP_REPO
    value: {{ . | quote }}
  {{- end }}
  {{- with $.Values.backup.keySecret.name }}
  - name: REBOUND_BACKUP_KEY
    valueFrom: {secretKeyRef: {name: {{ . }}, key: {{ $.Values.backup.keySecret.key }}}}
  {{- end }}
  {{- with $.Values.envSecret }}
  envFrom:
  - secretRef: {name: {{ . }}}
  {{- end }}
  securityContext:
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities: {drop: [ALL]}
  resources: {{ toJson $.Values.resources }}
  volumeMounts:
  - {name: scenarios, mountPath: /scenarios, readOnly: true}
  - {name: reports, mountPath: /reports}
  - {name: tmp, mountPath: /tmp}
volumes:
- name: scenarios
  configMap: {name: {{ include "rebound.fullname" $ }}-scenarios}
- name: reports
  {{- if $.Values.reports.persistence.enabled }}
  persistentVolumeClaim: {claimName: {{ include "rebound.reportsClaim" $ }}}
  {{- else }}
  emptyDir: {}
  {{- end }}
- name: tmp
  emptyDir: {}
{{- with $.Values.nodeSelector }}
nodeSelector: {{ toJson . }}
{{- end }}
{{- with $.Values.tolerations }}
tolerations: {{ toJson . }}
{{- end }}
{{- with $.Values.affinity }}
affinity: {{ toJson . }}
{{- end }}
{{- end -}}

{{/* rebound.cronJob: a CronJob; call with (list $ "suffix" .Values.x args). */}}
{{- define "rebound.cronJob" -}}
{{- $ := index . 0 -}}
{{- $suffix := index . 1 -}}
{{- $v := index . 2 -}}
{{- $args := index . 3 -}}
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ include "rebound.fullname" $ }}-{{ $suffix }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "rebound.labels" $ | nindent 4 }}
    app.kubernetes.io/component: {{ $suffix }}
spec:
  schedule: {{ $v.schedule | quote }}
  {{- with $v.timeZone }}
  timeZone: {{ . | quote }}
  {{- end }}
  suspend: {{ $v.suspend }}
  concurrencyPolicy: {{ $.Values.concurrencyPolicy }}
  successfulJobsHistoryLimit: {{ $.Values.successfulJobsHistoryLimit }}
  failedJobsHistoryLimit: {{ $.Values.failedJobsHistoryLimit }}
  jobTemplate:
    metadata:
      labels:
        {{- include "rebound.labels" $ | nindent 8 }}
        app.kubernetes.io/component: {{ $suffix }}
    spec:
      backoffLimit: {{ $.Values.backoffLimit }}
      activeDeadlineSeconds: {{ $.Values.activeDeadlineSeconds }}
      template:
        metadata:
          labels:
            {{- include "rebound.labels" $ | nindent 12 }}
            app.kubernetes.io/component: {{ $suffix }}
          {{- with $.Values.podAnnotations }}
          annotations: {{ toJson . }}
          {{- end }}
        spec:
          {{- include "rebound.podSpec" (list $ $args) | nindent 10 }}
{{- end -}}
