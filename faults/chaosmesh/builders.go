package chaosmesh

import (
	"maps"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels on every object this package builds.
const (
	// LabelRun holds the run's id: how cleanup finds every fault of a run.
	LabelRun = "rebound.dev/run"
	// LabelManagedBy is set to ManagedBy.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "rebound"
)

// Meta names a Chaos Mesh object and the run it belongs to.
type Meta struct {
	// Namespace is where the object lives; Chaos Mesh acts on whatever its
	// spec selects, which may be in another namespace.
	Namespace string
	Name      string
	// RunID goes into the LabelRun label.
	RunID string
}

func (m Meta) objectMeta() metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Namespace: m.Namespace,
		Name:      m.Name,
		Labels:    map[string]string{LabelRun: m.RunID, LabelManagedBy: ManagedBy},
	}
}

func typeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: kind}
}

// duration is a Chaos Mesh duration; none for d <= 0, which Validate rejects
// for every kind that is not one-shot.
func duration(d time.Duration) *string {
	if d <= 0 {
		return nil
	}
	s := d.String()
	return &s
}

// secret is a Chaos Mesh secret name; none for "", in which case Chaos Mesh
// uses the credentials of its own service account.
func secret(name string) *string {
	if name == "" {
		return nil
	}
	return &name
}

// appPods selects, in one namespace, every pod with the given labels.
func appPods(namespace string, labels map[string]string) v1alpha1.PodSelectorSpec {
	return v1alpha1.PodSelectorSpec{GenericSelectorSpec: v1alpha1.GenericSelectorSpec{
		Namespaces:     []string{namespace},
		LabelSelectors: maps.Clone(labels),
	}}
}

// onePod selects exactly one pod by name.
func onePod(namespace, name string) v1alpha1.PodSelectorSpec {
	return v1alpha1.PodSelectorSpec{
		GenericSelectorSpec: v1alpha1.GenericSelectorSpec{Namespaces: []string{namespace}},
		Pods:                map[string][]string{namespace: {name}},
	}
}

// ZonePartition cuts the app pods of one zone off from the app pods of every
// other zone, both ways, for d; pods within a zone still reach each other,
// and clients outside the app are not affected.
//
// The zone's pods are found through their node's
// topology.kubernetes.io/zone label, which every cloud sets. Chaos Mesh can
// only select nodes by equality, so the other zones' pods are found through
// the same label on the pods themselves, which the API server copies there
// from the node since Kubernetes 1.35 (PodTopologyLabelsAdmission, on by
// default). On an older cluster no pod carries it: the target selects
// nothing and Chaos Mesh fails the experiment rather than cut the zone off
// from everything.
func ZonePartition(m Meta, zone, appNamespace string, appSelector map[string]string, d time.Duration) *v1alpha1.NetworkChaos {
	source := appPods(appNamespace, appSelector)
	source.NodeSelectors = map[string]string{corev1.LabelTopologyZone: zone}
	target := appPods(appNamespace, appSelector)
	target.ExpressionSelectors = v1alpha1.LabelSelectorRequirements{
		// Exists: NotIn alone would also match pods without the label.
		{Key: corev1.LabelTopologyZone, Operator: metav1.LabelSelectorOpExists},
		{Key: corev1.LabelTopologyZone, Operator: metav1.LabelSelectorOpNotIn, Values: []string{zone}},
	}
	return &v1alpha1.NetworkChaos{
		TypeMeta:   typeMeta(v1alpha1.KindNetworkChaos),
		ObjectMeta: m.objectMeta(),
		Spec: v1alpha1.NetworkChaosSpec{
			PodSelector: v1alpha1.PodSelector{Selector: source, Mode: v1alpha1.AllMode},
			// PartitionBehavior is left to its default, drop: packets vanish
			// and peers time out, as in a real partition. Unset, the object
			// also fits Chaos Mesh releases from before that field.
			Action:    v1alpha1.PartitionAction,
			Direction: v1alpha1.Both,
			Target:    &v1alpha1.PodSelector{Selector: target, Mode: v1alpha1.AllMode},
			Duration:  duration(d),
		},
	}
}

// PodPartition cuts one pod off from everything, both ways, for exactly d,
// after which Chaos Mesh lifts it: to its peers and clients the pod looks
// paused, while its process keeps running and its clock keeps going.
func PodPartition(m Meta, appNamespace, podName string, d time.Duration) *v1alpha1.NetworkChaos {
	return &v1alpha1.NetworkChaos{
		TypeMeta:   typeMeta(v1alpha1.KindNetworkChaos),
		ObjectMeta: m.objectMeta(),
		Spec: v1alpha1.NetworkChaosSpec{
			PodSelector: v1alpha1.PodSelector{Selector: onePod(appNamespace, podName), Mode: v1alpha1.AllMode},
			Action:      v1alpha1.PartitionAction,
			// No target: Chaos Mesh then drops all of the pod's traffic.
			Direction: v1alpha1.Both,
			Duration:  duration(d),
		},
	}
}

// PodKill deletes one pod at once, with no grace period, as a crash would.
// It is one-shot: nothing to end, so no duration.
func PodKill(m Meta, appNamespace, podName string) *v1alpha1.PodChaos {
	return &v1alpha1.PodChaos{
		TypeMeta:   typeMeta(v1alpha1.KindPodChaos),
		ObjectMeta: m.objectMeta(),
		Spec: v1alpha1.PodChaosSpec{
			ContainerSelector: v1alpha1.ContainerSelector{
				PodSelector: v1alpha1.PodSelector{Selector: onePod(appNamespace, podName), Mode: v1alpha1.AllMode},
			},
			Action: v1alpha1.PodKillAction,
		},
	}
}

func ioChaos(m Meta, appNamespace string, podSelector map[string]string, volumePath string, percent int, d time.Duration) *v1alpha1.IOChaos {
	return &v1alpha1.IOChaos{
		TypeMeta:   typeMeta(v1alpha1.KindIOChaos),
		ObjectMeta: m.objectMeta(),
		Spec: v1alpha1.IOChaosSpec{
			ContainerSelector: v1alpha1.ContainerSelector{
				PodSelector: v1alpha1.PodSelector{Selector: appPods(appNamespace, podSelector), Mode: v1alpha1.AllMode},
			},
			VolumePath: volumePath,
			Percent:    percent,
			Duration:   duration(d),
		},
	}
}

// IOErrors makes percent (1 to 100) of the file operations under volumePath,
// in the first container of every selected pod, fail with errno (a Linux
// errno number: 5 is EIO, 28 ENOSPC) for d.
func IOErrors(m Meta, appNamespace string, podSelector map[string]string, volumePath string, percent int, errno uint32, d time.Duration) *v1alpha1.IOChaos {
	c := ioChaos(m, appNamespace, podSelector, volumePath, percent, d)
	c.Spec.Action = v1alpha1.IoFaults
	c.Spec.Errno = errno
	return c
}

// IOLatency delays percent (1 to 100) of the file operations under
// volumePath, in the first container of every selected pod, by delay for d.
func IOLatency(m Meta, appNamespace string, podSelector map[string]string, volumePath string, percent int, delay, d time.Duration) *v1alpha1.IOChaos {
	c := ioChaos(m, appNamespace, podSelector, volumePath, percent, d)
	c.Spec.Action = v1alpha1.IoLatency
	c.Spec.Delay = delay.String()
	return c
}

// AzureVMStop stops an Azure virtual machine for d, then Chaos Mesh starts
// it again. secretName names the Secret with Azure credentials (client_id,
// client_secret, tenant_id), in the object's namespace; unlike AWS and GCP
// it is required, since Chaos Mesh reads it unconditionally.
func AzureVMStop(m Meta, subscriptionID, resourceGroupName, vmName, secretName string, d time.Duration) *v1alpha1.AzureChaos {
	return &v1alpha1.AzureChaos{
		TypeMeta:   typeMeta(v1alpha1.KindAzureChaos),
		ObjectMeta: m.objectMeta(),
		Spec: v1alpha1.AzureChaosSpec{
			Action:   v1alpha1.AzureVmStop,
			Duration: duration(d),
			AzureSelector: v1alpha1.AzureSelector{
				SubscriptionID:    subscriptionID,
				ResourceGroupName: resourceGroupName,
				VMName:            vmName,
				SecretName:        secret(secretName),
			},
		},
	}
}

// AWSEC2Stop stops an EC2 instance for d, then Chaos Mesh starts it again.
// secretName names the Secret with AWS credentials, in the object's
// namespace; "" uses Chaos Mesh's own identity.
func AWSEC2Stop(m Meta, awsRegion, ec2Instance, secretName string, d time.Duration) *v1alpha1.AWSChaos {
	return &v1alpha1.AWSChaos{
		TypeMeta:   typeMeta(v1alpha1.KindAWSChaos),
		ObjectMeta: m.objectMeta(),
		Spec: v1alpha1.AWSChaosSpec{
			Action:      v1alpha1.Ec2Stop,
			Duration:    duration(d),
			SecretName:  secret(secretName),
			AWSSelector: v1alpha1.AWSSelector{AWSRegion: awsRegion, Ec2Instance: ec2Instance},
		},
	}
}

// GCPNodeStop stops a Compute Engine instance for d, then Chaos Mesh starts
// it again. secretName names the Secret with GCP credentials, in the
// object's namespace; "" uses Chaos Mesh's own identity.
func GCPNodeStop(m Meta, project, zone, instance, secretName string, d time.Duration) *v1alpha1.GCPChaos {
	return &v1alpha1.GCPChaos{
		TypeMeta:   typeMeta(v1alpha1.KindGCPChaos),
		ObjectMeta: m.objectMeta(),
		Spec: v1alpha1.GCPChaosSpec{
			Action:      v1alpha1.NodeStop,
			Duration:    duration(d),
			SecretName:  secret(secretName),
			GCPSelector: v1alpha1.GCPSelector{Project: project, Zone: zone, Instance: instance},
		},
	}
}
