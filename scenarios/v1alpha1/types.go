package v1alpha1

import (
	chaosv1alpha1 "github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of every rebound object.
const GroupName = "rebound.dev"

// SchemeGroupVersion is the group and version of this package's objects.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// Kinds of this API version.
const (
	// ScenarioKind is the kind of a Scenario object.
	ScenarioKind = "Scenario"
	// LadderKind is the kind of a Ladder object.
	LadderKind = "Ladder"
	// DrillKind is the kind of a Drill object.
	DrillKind = "Drill"
)

// Scenario is one resilience experiment: a fault injected into a stateful
// app, the recovery expected of it, and how rebound measures it.
type Scenario struct {
	// APIVersion is rebound.dev/v1alpha1 and Kind is Scenario.
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata. Only name, labels and annotations are used;
	// a Scenario is not namespaced (the app's namespace is
	// spec.target.namespace). The label rebound.dev/gameday groups
	// scenarios into a game day.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec describes the experiment.
	Spec ScenarioSpec `json:"spec"`
}

// ScenarioSpec describes one experiment.
type ScenarioSpec struct {
	// Description tells a person in a sentence or two what the scenario
	// simulates and what to expect; reports and listings show it.
	// +optional
	Description string `json:"description,omitempty"`

	// Disruption is the disruption type this scenario stands for; its
	// measured RTO and RPO are judged against the ladder's targets for it.
	Disruption Disruption `json:"disruption"`

	// Target is the stateful app the fault is injected into.
	Target Target `json:"target"`

	// DR is the disaster-recovery region: another cluster, and the
	// namespace there, that a restore or failover recovery brings the app
	// back in. The probes follow the app there: writes continue against
	// the DR copy, and the final read is taken there. The same safety
	// rules apply to it as to the target (the namespace allowlist,
	// kube-system refused, --yes for a cluster that is not a lab). It must
	// be another cluster than the target's.
	// +optional
	DR *DR `json:"dr,omitempty"`

	// Fault is what is done to the app.
	Fault Fault `json:"fault"`

	// Probes tunes how availability and data loss are measured.
	// +optional
	Probes Probes `json:"probes,omitzero"`

	// Backup asks rebound to take a backup before the fault, or names the
	// schedule whose backups a restore will use.
	// +optional
	Backup *Backup `json:"backup,omitempty"`

	// Recovery is how the app is expected to come back.
	// +optional
	Recovery Recovery `json:"recovery,omitzero"`

	// Expect states what the scenario accepts beyond the ladder's targets,
	// such as a number of lost acknowledged writes.
	// +optional
	Expect Expect `json:"expect,omitzero"`

	// Abort lists conditions that stop the run early and roll the fault
	// back, so that a game day cannot turn into a real outage.
	// +optional
	Abort Abort `json:"abort,omitzero"`

	// PhaseTimeouts bounds each phase of the run; a phase that overruns
	// fails the run and rolls everything back.
	// +optional
	PhaseTimeouts PhaseTimeouts `json:"phaseTimeouts,omitzero"`
}

// Disruption is a type of disruption a ladder sets targets for.
type Disruption string

// Disruption types, from the smallest blast radius to the largest.
const (
	// DisruptionNode is the loss of one node, or of one member of the app
	// on it (a killed or paused pod).
	DisruptionNode Disruption = "node"
	// DisruptionZone is the loss of every node of one availability zone,
	// or of the network to it.
	DisruptionZone Disruption = "zone"
	// DisruptionDisk is the loss or corruption of one member's volume.
	DisruptionDisk Disruption = "disk"
	// DisruptionHumanError is a mistake by a person or a program with
	// rights: deleted data, a deleted namespace, a scaled-down app.
	DisruptionHumanError Disruption = "human-error"
	// DisruptionRegion is the loss of a whole region or cluster.
	DisruptionRegion Disruption = "region"
)

// Target selects the app a scenario acts on.
type Target struct {
	// Kubeconfig is the path of the kubeconfig file to use. Empty means the
	// usual rules: $KUBECONFIG, then ~/.kube/config, then in-cluster.
	// +optional
	Kubeconfig string `json:"kubeconfig,omitempty"`

	// Context is the kubeconfig context to use. Empty means the current
	// context. Contexts other than the lab's ask for --yes.
	// +optional
	Context string `json:"context,omitempty"`

	// Namespace is the namespace the app runs in. kube-system and the other
	// namespaces of Kubernetes itself are refused.
	Namespace string `json:"namespace"`

	// LabelSelector selects the app's pods in Namespace. It must select
	// something: an empty selector would match every pod of the namespace.
	LabelSelector metav1.LabelSelector `json:"labelSelector"`

	// Driver is what rebound knows the app to be; it decides how probes
	// write and read records, how health is judged and how backups are
	// taken.
	Driver Driver `json:"driver"`

	// Endpoints says how rebound reaches the app's members.
	// +optional
	Endpoints Endpoints `json:"endpoints,omitzero"`
}

// DR names the disaster-recovery cluster and the namespace the app is
// recovered into there. Give lab (a rebound lab on this machine) or
// kubeconfig and context, not both.
type DR struct {
	// Lab is the name of a rebound lab on this machine that stands for the
	// DR region (`rebound lab up --name dr --region lab-2`); `rebound run`
	// brings it up when it brings the target lab up.
	// +optional
	Lab string `json:"lab,omitempty"`

	// Kubeconfig is the path of the DR cluster's kubeconfig file. Empty
	// with a context set means the usual rules ($KUBECONFIG, then
	// ~/.kube/config).
	// +optional
	Kubeconfig string `json:"kubeconfig,omitempty"`

	// Context is the DR cluster's kubeconfig context.
	// +optional
	Context string `json:"context,omitempty"`

	// Namespace is the namespace the app is recovered into in the DR
	// cluster. Defaults to spec.target.namespace. A restore refuses one
	// that already runs pods of the app, and deletes the copy it made
	// when the scenario is over.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// Driver names an app driver.
type Driver string

// Drivers.
const (
	// DriverEtcd is etcd v3, reached through its gRPC client API.
	DriverEtcd Driver = "etcd"
	// DriverElasticsearch is Elasticsearch, reached through its HTTP API.
	DriverElasticsearch Driver = "elasticsearch"
)

// Endpoints says how rebound reaches the app.
type Endpoints struct {
	// Mode is how rebound connects to the app's members: pod-ip dials the
	// pods' IPs (rebound runs in the cluster, or in the lab), port-forward
	// tunnels through the API server like kubectl port-forward (works from
	// anywhere), urls dials the addresses listed in URLs (an ingress or a
	// load balancer), and auto, the default, picks pod-ip on the lab or
	// inside a cluster and port-forward otherwise.
	// +optional
	Mode EndpointMode `json:"mode,omitempty"`

	// URLs are the app's client URLs, e.g. https://etcd.example.com:2379.
	// Used with, and required by, mode urls.
	// +optional
	URLs []string `json:"urls,omitempty"`

	// Scheme is http or https, for the URLs rebound makes from pod IPs and
	// port-forwards. Defaults to http.
	// +optional
	Scheme string `json:"scheme,omitempty"`

	// SecretRef names a Secret in the target's namespace holding how to
	// log in to the app, every key optional: username and password;
	// ca.crt, the PEM of the CA to verify the app's server certificate
	// against for https (without it, and without tls.caSecretRef, this
	// machine's trusted roots); tls.crt and tls.key, a client certificate
	// and its key for an app that asks for one (a kubernetes.io/tls
	// Secret has these keys). rebound reads it when the run starts and
	// keeps it in memory only. An ECK cluster's <name>-es-elastic-user
	// Secret holds only a password: copy it into one with both keys.
	// +optional
	SecretRef *corev1.LocalObjectReference `json:"secretRef,omitempty"`

	// TLS says how rebound verifies the app's server certificate when it
	// dials https. It verifies it always, whatever address it dials (a
	// pod IP, 127.0.0.1 of a port-forward, a URL), for the name the
	// certificate is issued to: the name of the app's Service, as its
	// clients reach it.
	// +optional
	TLS *TLS `json:"tls,omitempty"`
}

// TLS says how rebound verifies an app's server certificate. There is no
// way to turn the verification off.
type TLS struct {
	// ServerName is the name the server's certificate must be valid
	// for, e.g. search-es-http.search.svc. Defaults, for pod-ip and
	// port-forward endpoints, to the DNS name of the app's Service,
	// <service>.<namespace>.svc: the Service of the target's namespace
	// whose selector selects every pod of the target and that serves the
	// driver's client port (2379 for etcd, 9200 for Elasticsearch), a
	// ClusterIP Service before a headless one. When no Service or more
	// than one fits, the run stops and asks for this field. For urls
	// endpoints it defaults to each URL's host.
	// +optional
	ServerName string `json:"serverName,omitempty"`

	// CASecretRef names a Secret in the target's namespace whose key
	// ca.crt holds CA certificates to trust as well as secretRef's
	// ca.crt: for a CA an operator keeps in a Secret of its own, such as
	// ECK's <name>-es-http-certs-public or cert-manager's CA Secret. Only
	// its ca.crt is read.
	// +optional
	CASecretRef *corev1.LocalObjectReference `json:"caSecretRef,omitempty"`
}

// EndpointMode is how rebound connects to an app.
type EndpointMode string

// Endpoint modes.
const (
	// EndpointModeAuto dials pod IPs where rebound can reach them (the
	// lab, or rebound running inside the cluster) and port-forwards
	// through the API server otherwise.
	EndpointModeAuto EndpointMode = "auto"
	// EndpointModePodIP dials pod IPs directly.
	EndpointModePodIP EndpointMode = "pod-ip"
	// EndpointModePortForward tunnels through the API server.
	EndpointModePortForward EndpointMode = "port-forward"
	// EndpointModeURLs dials the URLs of Endpoints.URLs.
	EndpointModeURLs EndpointMode = "urls"
)

// Fault is what a scenario does to the app. Which of the selection fields
// (node, nodeSelector, zone, pod, pvc, leader) a kind needs, and whether it
// takes a duration, depends on the kind; validation says which.
type Fault struct {
	// Kind is the fault to inject.
	Kind FaultKind `json:"kind"`

	// Via is how the fault is injected: lab uses the power and disk
	// controls of rebound's local lab, chaos-mesh creates Chaos Mesh
	// objects (cloud node power, IOChaos, NetworkChaos), native uses the
	// Kubernetes API (and exec into the app's pods) alone. Each kind
	// defaults to the one mechanism it works best with.
	// +optional
	Via Via `json:"via,omitempty"`

	// Node is the name of the node to act on.
	// +optional
	Node string `json:"node,omitempty"`

	// NodeSelector selects the node to act on by its labels; it must match
	// exactly one node when the fault is injected.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Zone is the zone to act on: the value of the nodes' label
	// topology.kubernetes.io/zone.
	// +optional
	Zone string `json:"zone,omitempty"`

	// Pod is the name of the app's pod to act on.
	// +optional
	Pod string `json:"pod,omitempty"`

	// PVC is the name of the PersistentVolumeClaim to act on, in the
	// target namespace.
	// +optional
	PVC string `json:"pvc,omitempty"`

	// Leader picks, when the fault is injected, what holds the app's
	// leader (etcd) or elected master (Elasticsearch): its pod, that pod's
	// volume, its node or its node's zone, as the kind needs.
	// +optional
	Leader bool `json:"leader,omitempty"`

	// Duration is how long the fault stays before rebound undoes it: a
	// paused or frozen member is resumed, a stopped node started again, a
	// partition healed. Required for pause, node-freeze, zone-freeze,
	// zone-partition, disk-readonly and io-chaos; optional for faults that
	// can be undone; refused for one-shot faults (deletions), which
	// recovery alone undoes.
	// +optional
	Duration metav1.Duration `json:"duration,omitzero"`

	// StartAfter makes the fault act this long after it is ordered: a
	// slow-onset fault, to rehearse one that takes effect late (a cloud VM
	// stop, a disk filling, a restore that deletes objects only after
	// checking them). T0, the instant every time is measured from, is then
	// when the fault was ordered, not when it began to act, so the delay
	// counts into the time to impact and the RTO. The fault's duration
	// starts when it acts. Defaults to 0 (act at once); refused for kind
	// manual, which a person does when they do it.
	// +optional
	StartAfter metav1.Duration `json:"startAfter,omitzero"`

	// Taint is the taint a node-taint fault puts on the node. Defaults to
	// rebound.dev/chaos=true:NoExecute, which evicts the app's pods.
	// +optional
	Taint *corev1.Taint `json:"taint,omitempty"`

	// AppDelete says what an app-delete fault deletes through the app's own
	// API.
	// +optional
	AppDelete *AppDelete `json:"appDelete,omitempty"`

	// IOChaos describes an io-chaos fault, in Chaos Mesh's terms.
	// +optional
	IOChaos *IOChaos `json:"ioChaos,omitempty"`

	// PodChaos tunes a pod-kill fault, in Chaos Mesh's terms.
	// +optional
	PodChaos *PodChaos `json:"podChaos,omitempty"`

	// Instructions tell the person what to do for a manual fault; rebound
	// shows them and waits for the person to mark the fault applied.
	// Required for, and only used by, kind manual.
	// +optional
	Instructions string `json:"instructions,omitempty"`
}

// FaultKind names a fault.
type FaultKind string

// Fault kinds. The comment of each says what it does and what it acts on.
const (
	// FaultNodeDrain cordons a node and evicts its pods. Acts on a node.
	FaultNodeDrain FaultKind = "node-drain"
	// FaultNodeStop powers a node off. Acts on a node.
	FaultNodeStop FaultKind = "node-stop"
	// FaultNodeFreeze freezes every process of a node, which stays up but
	// stops answering. Acts on a node; needs a duration.
	FaultNodeFreeze FaultKind = "node-freeze"
	// FaultNodeTaint puts a taint on a node. Acts on a node.
	FaultNodeTaint FaultKind = "node-taint"
	// FaultZoneStop powers off every node of a zone. Acts on a zone.
	FaultZoneStop FaultKind = "zone-stop"
	// FaultZoneFreeze freezes every node of a zone. Acts on a zone; needs
	// a duration.
	FaultZoneFreeze FaultKind = "zone-freeze"
	// FaultZonePartition cuts the network between a zone and the others.
	// Acts on a zone; needs a duration.
	FaultZonePartition FaultKind = "zone-partition"
	// FaultPVCDelete deletes one member's PersistentVolumeClaim and its
	// pod. Acts on a member's volume.
	FaultPVCDelete FaultKind = "pvc-delete"
	// FaultPVDelete deletes the PersistentVolume under one member's claim.
	// Acts on a member's volume.
	FaultPVDelete FaultKind = "pv-delete"
	// FaultDiskWipe erases the content of one member's volume. Acts on a
	// member's volume.
	FaultDiskWipe FaultKind = "disk-wipe"
	// FaultDiskCorrupt flips bytes in the files of one member's volume.
	// Acts on a member's volume.
	FaultDiskCorrupt FaultKind = "disk-corrupt"
	// FaultDiskReadonly makes one member's volume read-only. Acts on a
	// member's volume; needs a duration.
	FaultDiskReadonly FaultKind = "disk-readonly"
	// FaultDiskFill fills one member's volume up. Acts on a member's
	// volume.
	FaultDiskFill FaultKind = "disk-fill"
	// FaultIOChaos injects I/O latency or errors with Chaos Mesh's IOChaos.
	// Acts on a member; needs a duration and spec.fault.ioChaos.
	FaultIOChaos FaultKind = "io-chaos"
	// FaultNamespaceDelete deletes the target namespace.
	FaultNamespaceDelete FaultKind = "namespace-delete"
	// FaultStatefulSetDelete deletes the app's StatefulSet and its pods;
	// the claims stay.
	FaultStatefulSetDelete FaultKind = "statefulset-delete"
	// FaultPVCDeleteAll deletes every PersistentVolumeClaim of the app.
	FaultPVCDeleteAll FaultKind = "pvc-delete-all"
	// FaultScaleToZero scales the app's StatefulSet to zero replicas.
	FaultScaleToZero FaultKind = "scale-to-zero"
	// FaultAppDelete deletes data through the app's own API, as described
	// by spec.fault.appDelete.
	FaultAppDelete FaultKind = "app-delete"
	// FaultPodKill kills one member's pod. Acts on a member.
	FaultPodKill FaultKind = "pod-kill"
	// FaultPause stops one member's processes (SIGSTOP in the lab, a
	// Chaos Mesh partition elsewhere) and resumes them after the duration.
	// Acts on a member (pod or leader), or, with neither, on every member
	// of the app: an outage of exactly the duration. Needs a duration.
	FaultPause FaultKind = "pause"
	// FaultRegionLoss powers off every node of the target's cluster at
	// once, as when a whole region is lost: the app's clients lose every
	// member together. In the lab every node stops; on a cloud every
	// node's VM stops through Chaos Mesh. Acts on the whole cluster; with
	// no duration the region stays down until the recovery (into
	// spec.dr) is over.
	FaultRegionLoss FaultKind = "region-loss"
	// FaultManual is done by a person following spec.fault.instructions;
	// rebound measures.
	FaultManual FaultKind = "manual"
)

// Via is a mechanism that injects faults.
type Via string

// Mechanisms.
const (
	// ViaLab uses the node power, freeze and disk controls of rebound's lab.
	ViaLab Via = "lab"
	// ViaChaosMesh creates Chaos Mesh objects; Chaos Mesh must be
	// installed. In rebound's lab its own controller executes NetworkChaos
	// and PodChaos once their CRDs are applied (docs/lab.md).
	ViaChaosMesh Via = "chaos-mesh"
	// ViaNative uses the Kubernetes API and exec into the app's pods.
	ViaNative Via = "native"
)

// AppDelete says what an app-delete fault deletes. Exactly one field is set,
// the one of the target's driver.
type AppDelete struct {
	// Prefix deletes every etcd key that starts with it (etcdctl del
	// --prefix). Driver etcd only.
	// +optional
	Prefix string `json:"prefix,omitempty"`

	// Index deletes this Elasticsearch index. Driver elasticsearch only.
	// +optional
	Index string `json:"index,omitempty"`
}

// IOChaos describes an io-chaos fault with Chaos Mesh's types and meanings
// (IOChaosSpec); the target member and the duration come from the fault.
type IOChaos struct {
	// Action is latency, fault, attrOverride or mistake.
	Action chaosv1alpha1.IOChaosType `json:"action"`

	// Delay is the latency added to each matching operation. Required by
	// action latency.
	// +optional
	Delay metav1.Duration `json:"delay,omitzero"`

	// Errno is the error number returned by matching operations, e.g. 5
	// (EIO). Required by action fault.
	// +optional
	Errno uint32 `json:"errno,omitempty"`

	// Attr overrides file attributes. Required by action attrOverride.
	// +optional
	Attr *chaosv1alpha1.AttrOverrideSpec `json:"attr,omitempty"`

	// Mistake says how read or written data is garbled. Required by action
	// mistake.
	// +optional
	Mistake *chaosv1alpha1.MistakeSpec `json:"mistake,omitempty"`

	// Path is a glob of the files affected, under VolumePath. Empty means
	// every file.
	// +optional
	Path string `json:"path,omitempty"`

	// Methods are the I/O methods affected (read, write, fsync, ...). Empty
	// means all.
	// +optional
	Methods []chaosv1alpha1.IoMethod `json:"methods,omitempty"`

	// Percent is the chance, 1 to 100, that a matching operation is hit.
	// Defaults to 100.
	// +optional
	Percent int `json:"percent,omitempty"`

	// VolumePath is the mount path, in the app's container, of the volume
	// to act on. Empty means the mount of the app's data volume.
	// +optional
	VolumePath string `json:"volumePath,omitempty"`
}

// PodChaos tunes a pod-kill fault with Chaos Mesh's PodChaos actions.
type PodChaos struct {
	// Action is pod-kill (delete the pod, the default), container-kill
	// (kill the containers named in ContainerNames) or pod-failure (make
	// the pod unavailable for the fault's duration).
	// +optional
	Action chaosv1alpha1.PodChaosAction `json:"action,omitempty"`

	// ContainerNames are the containers container-kill kills.
	// +optional
	ContainerNames []string `json:"containerNames,omitempty"`

	// GracePeriod is the pod's termination grace period, in seconds, for
	// pod-kill; 0 kills at once, like a crash.
	// +optional
	GracePeriod int64 `json:"gracePeriod,omitempty"`
}

// Probes tunes the probes that measure availability and data loss.
type Probes struct {
	// Availability tunes the probe that measures RTO.
	// +optional
	Availability AvailabilityProbe `json:"availability,omitzero"`

	// Writes tunes the probe that measures lost writes and RPO.
	// +optional
	Writes WriteProbe `json:"writes,omitzero"`
}

// AvailabilityProbe is a read and a write against the app every Interval.
type AvailabilityProbe struct {
	// Interval is the time between probes, and so the resolution of the
	// measured RTO. Defaults to 100ms; at least 50ms.
	// +optional
	Interval metav1.Duration `json:"interval,omitzero"`

	// Timeout is how long a probe may take before it counts as failed.
	// Defaults to 1s.
	// +optional
	Timeout metav1.Duration `json:"timeout,omitzero"`

	// StabilityWindow is how long probes must keep succeeding before the
	// service counts as restored, at the start of that run. Defaults to 10s.
	// +optional
	StabilityWindow metav1.Duration `json:"stabilityWindow,omitzero"`
}

// WriteProbe writes uniquely identified records and reads them all back
// after recovery.
type WriteProbe struct {
	// Writers is the number of concurrent writers. Defaults to 2; at most 64.
	// +optional
	Writers int `json:"writers,omitempty"`

	// Rate is the writes per second of each writer. Defaults to 50; at most
	// 1000.
	// +optional
	Rate int `json:"rate,omitempty"`

	// ReadBackInterval is how often, while spec.abort.maxLostWrites is
	// set, the probe reads the acknowledged writes back during the run, so
	// that a loss aborts the run as soon as it is seen rather than at the
	// final read. Defaults to 5s; at least 1s.
	// +optional
	ReadBackInterval metav1.Duration `json:"readBackInterval,omitzero"`
}

// Backup says where the data of a restore comes from.
type Backup struct {
	// Before takes a backup with rebound's engine after the steady state is
	// reached and before the fault; a restore uses it.
	// +optional
	Before bool `json:"before,omitempty"`

	// Every makes rebound itself run the schedule named in Schedule
	// during the scenario: a backup at once when the probes start, then
	// one every interval, tagged Schedule, until the scenario ends. The
	// fault waits for the first of them. Unset means the schedule runs
	// elsewhere (`rebound backup schedule`, the Helm chart's CronJob).
	// At least 5s.
	// +optional
	Every metav1.Duration `json:"every,omitzero"`

	// Schedule names a rebound backup schedule that keeps running during
	// the game day (its tag: `rebound backup schedule --tag-policy`,
	// schedule-<namespace> by default); a restore uses the newest backup
	// it took before the fault, and writes acknowledged after that backup's
	// cut are the expected loss. Used when Before is false.
	// +optional
	Schedule string `json:"schedule,omitempty"`

	// Elasticsearch says where an Elasticsearch app's backup puts its data:
	// a snapshot repository (fs, s3 or azure), registered by rebound when
	// its type is given, else already registered in the cluster.
	// Required for backup.before with driver elasticsearch.
	// +optional
	Elasticsearch *ElasticsearchBackup `json:"elasticsearch,omitempty"`
}

// ElasticsearchBackup is where an Elasticsearch snapshot goes.
type ElasticsearchBackup struct {
	// Repository is the snapshot repository's name in the cluster.
	Repository string `json:"repository"`
	// Type (fs, s3 or azure) and Settings, when given, make rebound
	// register the repository before the snapshot (and verify it on every
	// node), e.g. type azure with settings container and base_path.
	// Credentials belong in Elasticsearch's keystore, not here. The backup
	// records both, so a restore into a cluster without the repository
	// registers it there read-only.
	// +optional
	Type string `json:"type,omitempty"`
	// +optional
	Settings map[string]string `json:"settings,omitempty"`
	// Indices to snapshot besides the probe's own index, e.g. the index an
	// app-delete fault deletes.
	// +optional
	Indices []string `json:"indices,omitempty"`
}

// Recovery says how the app is expected to come back.
type Recovery struct {
	// Path is self-heal (wait for Kubernetes and the app, the default),
	// restore (restore the latest backup with rebound, which counts into
	// the RTO; with spec.dr, into the DR cluster), failover (promote a
	// standby that already runs in spec.dr's cluster, for drivers that can;
	// none can yet, and the run says so before any fault) or manual (a
	// person recovers; rebound measures).
	// +optional
	Path RecoveryPath `json:"path,omitempty"`

	// Timeout is how long rebound waits for the service and its full
	// redundancy to come back before it calls the recovery failed. Defaults
	// to 5m.
	// +optional
	Timeout metav1.Duration `json:"timeout,omitzero"`
}

// RecoveryPath is how an app recovers.
type RecoveryPath string

// Recovery paths.
const (
	// RecoverySelfHeal waits for the platform and the app.
	RecoverySelfHeal RecoveryPath = "self-heal"
	// RecoveryRestore restores from a backup.
	RecoveryRestore RecoveryPath = "restore"
	// RecoveryFailover promotes a standby in the DR cluster.
	RecoveryFailover RecoveryPath = "failover"
	// RecoveryManual waits for a person.
	RecoveryManual RecoveryPath = "manual"
)

// Expect states what a scenario accepts beyond the ladder's targets.
type Expect struct {
	// LostWrites is how many acknowledged writes the scenario accepts
	// losing. Any lost beyond it, and any write read back that was never
	// written, is a breach even when the rung has no RPO target, and the
	// report names those writes. Unset means the data-safety promise the
	// target's driver declares (etcd: none is ever lost). Set it when the
	// scenario loses writes by design, e.g. a restore from a backup: the
	// writes acknowledged after the backup's cut are the expected loss.
	// +optional
	LostWrites *int `json:"lostWrites,omitempty"`
}

// Abort lists the conditions that stop a run early and roll it back.
type Abort struct {
	// MaxLostWrites aborts the run and rolls the fault back as soon as
	// more acknowledged writes than this are found missing; the write probe
	// reads them back every spec.probes.writes.readBackInterval during the
	// run. Unset means never.
	// +optional
	MaxLostWrites *int `json:"maxLostWrites,omitempty"`

	// NotBackAfter aborts the run when the service is not back this long
	// after the fault. Unset means never; it must be shorter than
	// spec.recovery.timeout to ever fire.
	// +optional
	NotBackAfter metav1.Duration `json:"notBackAfter,omitzero"`
}

// PhaseTimeouts bounds the phases of a run.
type PhaseTimeouts struct {
	// SteadyState bounds the wait for the app to be healthy and fully
	// redundant before anything is done. Defaults to 2m.
	// +optional
	SteadyState metav1.Duration `json:"steadyState,omitzero"`

	// Inject bounds the injection of the fault, until it is confirmed
	// applied. Defaults to 1m.
	// +optional
	Inject metav1.Duration `json:"inject,omitzero"`

	// Observe bounds the observe phase: the time under the fault, from its
	// order (T0) until it is over, which lasts the fault's startAfter plus
	// its duration. Defaults to the longer of 30s and startAfter +
	// duration; a shorter value is refused, since the phase would time out
	// before the fault it observes is over. Overrunning it aborts the run
	// and rolls the fault back.
	// +optional
	Observe metav1.Duration `json:"observe,omitzero"`

	// Recover bounds the recovery phase. Defaults to spec.recovery.timeout
	// (itself 5m by default), and may not be shorter. The two mean
	// different things: passing spec.recovery.timeout is a measured result,
	// "not restored", a breach; passing this bound aborts the run (a phase
	// timeout, exit code 3) and rolls it back.
	// +optional
	Recover metav1.Duration `json:"recover,omitzero"`

	// Verify bounds the final read of every written record and the checks
	// after it. Defaults to 2m.
	// +optional
	Verify metav1.Duration `json:"verify,omitzero"`
}

// Ladder is an ordered list of rungs, from the loosest targets to the
// strictest. The rung an app achieves for a disruption type is the highest
// one whose targets every scenario of that type met.
type Ladder struct {
	// APIVersion is rebound.dev/v1alpha1 and Kind is Ladder.
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata; only name, labels and annotations are used.
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec holds the rungs.
	Spec LadderSpec `json:"spec"`
}

// LadderSpec holds a ladder's rungs.
type LadderSpec struct {
	// Rungs are ordered from the loosest targets to the strictest; no
	// target of a rung may be looser than the same target of a rung below.
	Rungs []Rung `json:"rungs"`
}

// Rung is one level of resilience and the targets that reach it.
type Rung struct {
	// Name identifies the rung in reports; unique in the ladder.
	Name string `json:"name"`

	// Description says what an app at this rung has in place.
	// +optional
	Description string `json:"description,omitempty"`

	// Targets are the RTO and RPO targets per disruption type. A disruption
	// type that is left out is not covered by this rung.
	// +optional
	Targets []Objective `json:"targets,omitempty"`
}

// Objective holds the RTO and RPO targets of one disruption type.
type Objective struct {
	// Disruption is the disruption type these targets are for; at most once
	// per rung.
	Disruption Disruption `json:"disruption"`

	// RTO is the longest acceptable time from the fault to the service
	// being restored. 0 means no failed probe at all.
	RTO *metav1.Duration `json:"rto"`

	// RPO is the largest acceptable data loss.
	RPO *RPO `json:"rpo"`
}

// RPO bounds data loss by count, by time, or both; at least one is set, and a
// run meets it when it meets every bound that is set.
type RPO struct {
	// Writes is the most acknowledged writes that may be lost. Unset means
	// no bound on the count.
	// +optional
	Writes *int `json:"writes,omitempty"`

	// Time is the longest acceptable span of lost writes: the fault time
	// minus the recovery point. Unset means no bound in time.
	// +optional
	Time *metav1.Duration `json:"time,omitempty"`
}
