package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
)

const (
	annSelectedNode  = "volume.kubernetes.io/selected-node"
	annProvisionedBy = "pv.kubernetes.io/provisioned-by"
)

// ensureStorageClass makes the lab's default StorageClass: volumes are made
// where the first pod using them is scheduled (WaitForFirstConsumer), so a
// PV carries the node and zone of its pod, as zonal cloud disks do.
func (a *Agent) ensureStorageClass(ctx context.Context) error {
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        StorageClassName,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
			Labels:      map[string]string{LabelLab: a.cfg.Name},
		},
		Provisioner:       Provisioner,
		ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimDelete),
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer),
	}
	_, err := a.client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// provisioner makes and deletes the lab's PVs: each is a tmpfs of the
// claim's size in the state folder, so "disk full" is real and bounded.
type provisioner struct {
	a     *Agent
	queue chan struct{}
}

func (p *provisioner) poke() {
	select {
	case p.queue <- struct{}{}:
	default:
	}
}

func (p *provisioner) run(ctx context.Context) {
	tick := time.NewTicker(5 * time.Second) // retries failed work
	defer tick.Stop()
	for {
		p.sync(ctx)
		select {
		case <-ctx.Done():
			return
		case <-p.queue:
		case <-tick.C:
		}
	}
}

func (p *provisioner) sync(ctx context.Context) {
	a := p.a
	claims, _ := a.pvcs.List(labels.Everything())
	for _, pvc := range claims {
		if err := p.provision(ctx, pvc); err != nil {
			a.log.Warn("provision volume", "pvc", pvc.Namespace+"/"+pvc.Name, "err", err)
		}
	}
	vols, _ := a.pvs.List(labels.Everything())
	live := map[string]bool{}
	for _, pv := range vols {
		if pv.Annotations[annProvisionedBy] != Provisioner {
			continue
		}
		live[pv.Name] = true
		if pv.Status.Phase == corev1.VolumeReleased && pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete {
			if err := a.client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				a.log.Warn("delete released volume", "pv", pv.Name, "err", err)
			}
		}
	}
	// A PV object that is gone takes its data with it.
	entries, _ := os.ReadDir(a.cfg.StateDir + "/volumes")
	for _, e := range entries {
		if !live[e.Name()] && e.IsDir() {
			if _, err := a.client.CoreV1().PersistentVolumes().Get(ctx, e.Name(), metav1.GetOptions{}); apierrors.IsNotFound(err) {
				if err := ReleaseVolume(a.cfg.VolumeDir(e.Name())); err != nil {
					a.log.Warn("release volume", "pv", e.Name(), "err", err)
				} else {
					a.log.Info("volume deleted", "pv", e.Name())
				}
			}
		}
	}
}

func (p *provisioner) provision(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	a := p.a
	if pvc.Spec.VolumeName != "" || pvc.Status.Phase != corev1.ClaimPending || pvc.DeletionTimestamp != nil {
		return nil
	}
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != StorageClassName {
		return nil
	}
	n := a.nodes[pvc.Annotations[annSelectedNode]]
	if n == nil {
		return nil // not yet scheduled, or on a node that is not ours
	}
	name := "pvc-" + string(pvc.UID)
	if _, err := a.pvs.Get(name); err == nil {
		return nil
	}
	size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if size.IsZero() {
		size = resource.MustParse("1Gi")
	}
	dir := a.cfg.VolumeDir(name)
	if err := mountVolume(dir, size.Value()); err != nil {
		return err
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{annProvisionedBy: Provisioner},
			Labels:      map[string]string{LabelZone: n.Zone, LabelRegion: n.Region, LabelLab: a.cfg.Name},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              StorageClassName,
			VolumeMode:                    pvc.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: dir}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
					{Key: LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{n.Name}},
					{Key: LabelZone, Operator: corev1.NodeSelectorOpIn, Values: []string{n.Zone}},
				}}},
			}},
		},
	}
	if _, err := a.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	a.log.Info("volume provisioned", "pv", name, "pvc", pvc.Namespace+"/"+pvc.Name, "node", n.Name, "zone", n.Zone, "size", size.String())
	return nil
}

// mountVolume makes dir a tmpfs of size bytes, unless it already is one.
func mountVolume(dir string, size int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if isMountPoint(dir) {
		return nil
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		return fmt.Errorf("mount tmpfs volume at %s: %w (the lab agent runs as root)", dir, err)
	}
	return nil
}

// ReleaseVolume unmounts a volume and removes its folder.
func ReleaseVolume(dir string) error {
	if isMountPoint(dir) {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", dir, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// isMountPoint tells whether dir is on another device than its parent.
func isMountPoint(dir string) bool {
	var st, parent unix.Stat_t
	if unix.Stat(dir, &st) != nil || unix.Stat(dir+"/..", &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}
