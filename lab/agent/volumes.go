package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/reboundhq/rebound/lab/agent/podspec"
)

// errNotReady is a volume that is not ready yet (an unbound claim): the pod
// waits in ContainerCreating, as it would on a kubelet.
type errNotReady struct{ msg string }

func (e errNotReady) Error() string { return e.msg }

// prepareVolumes makes every pod volume available as a host folder and
// returns volume name -> folder. Volumes that support ownership management
// on a kubelet get the pod's fsGroup (setVolumeOwnership).
func (w *podWorker) prepareVolumes(ctx context.Context, pod *corev1.Pod) (map[string]string, error) {
	a := w.a
	podDir := a.cfg.PodDir(string(pod.UID))
	out := map[string]string{}
	var fsGroup *int64
	var policy *corev1.PodFSGroupChangePolicy
	if sc := pod.Spec.SecurityContext; sc != nil {
		fsGroup, policy = sc.FSGroup, sc.FSGroupChangePolicy
	}
	// As the kubelet's plugins: fsGroupChangePolicy is for persistent
	// volumes; emptyDir and the projected kinds are always walked.
	own := func(name, dir string, policy *corev1.PodFSGroupChangePolicy, readOnly bool) {
		if err := setVolumeOwnership(dir, fsGroup, policy, readOnly); err != nil {
			a.log.Warn("volume ownership", "pod", pod.Namespace+"/"+pod.Name, "volume", name, "err", err)
		}
	}
	for _, v := range pod.Spec.Volumes {
		dir := filepath.Join(podDir, "volumes", v.Name)
		switch {
		case v.PersistentVolumeClaim != nil:
			claim := v.PersistentVolumeClaim.ClaimName
			pvc, err := a.pvcs.PersistentVolumeClaims(pod.Namespace).Get(claim)
			if err != nil {
				return nil, errNotReady{fmt.Sprintf("persistentvolumeclaim %q not found", claim)}
			}
			if pvc.Spec.VolumeName == "" || pvc.Status.Phase != corev1.ClaimBound {
				return nil, errNotReady{fmt.Sprintf("persistentvolumeclaim %q is not bound yet", claim)}
			}
			pv, err := a.pvs.Get(pvc.Spec.VolumeName)
			if err != nil {
				return nil, errNotReady{fmt.Sprintf("persistentvolume %q not found", pvc.Spec.VolumeName)}
			}
			var path string
			switch {
			case pv.Spec.Local != nil:
				path = pv.Spec.Local.Path
			case pv.Spec.HostPath != nil:
				path = pv.Spec.HostPath.Path
			default:
				return nil, &podspec.ConfigError{Msg: fmt.Sprintf("volume %q: persistentvolume %s is neither local nor hostPath; the lab cannot attach it", v.Name, pv.Name)}
			}
			if _, err := os.Stat(path); err != nil {
				return nil, errNotReady{fmt.Sprintf("volume %q: the disk of %s is gone (%v)", v.Name, pv.Name, err)}
			}
			// The kubelet's local volumes take the fsGroup, hostPath ones not.
			if pv.Spec.Local != nil && !v.PersistentVolumeClaim.ReadOnly {
				own(v.Name, path, policy, false)
			}
			out[v.Name] = path
		case v.EmptyDir != nil:
			// Open to every user, as the kubelet's: the pod folder above
			// keeps other pods and users out.
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return nil, err
			}
			if err := os.Chmod(dir, 0o777); err != nil {
				return nil, err
			}
			own(v.Name, dir, nil, false)
			out[v.Name] = dir
		case v.HostPath != nil:
			t := ptr.Deref(v.HostPath.Type, corev1.HostPathUnset)
			if t == corev1.HostPathDirectoryOrCreate {
				if err := os.MkdirAll(v.HostPath.Path, 0o755); err != nil {
					return nil, err
				}
			}
			out[v.Name] = v.HostPath.Path
		case v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil:
			files, err := w.projectedFiles(ctx, pod, v)
			if err != nil {
				return nil, err
			}
			if err := writeFiles(dir, files); err != nil {
				return nil, err
			}
			own(v.Name, dir, nil, true)
			out[v.Name] = dir
		default:
			return nil, &podspec.ConfigError{Msg: fmt.Sprintf("volume %q: this volume type is not supported by the lab (use a PVC, emptyDir, hostPath, configMap, secret, downwardAPI or projected volume)", v.Name)}
		}
	}
	return out, nil
}

type file struct {
	data []byte
	mode os.FileMode
	uid  *int64 // owner; nil: root
}

// projectedFiles renders configMap, secret, downwardAPI and projected
// volumes into file contents.
func (w *podWorker) projectedFiles(ctx context.Context, pod *corev1.Pod, v corev1.Volume) (map[string]file, error) {
	a := w.a
	files := map[string]file{}
	put := func(data map[string][]byte, items []corev1.KeyToPath, mode *int32, optional *bool, what string, err error) error {
		if err != nil {
			if ptr.Deref(optional, false) {
				return nil
			}
			return &podspec.ConfigError{Msg: fmt.Sprintf("volume %q: %s: %v", v.Name, what, err)}
		}
		m := os.FileMode(ptr.Deref(mode, 0o644))
		if len(items) == 0 {
			for k, d := range data {
				files[k] = file{data: d, mode: m}
			}
			return nil
		}
		for _, it := range items {
			d, ok := data[it.Key]
			if !ok {
				return &podspec.ConfigError{Msg: fmt.Sprintf("volume %q: %s has no key %q", v.Name, what, it.Key)}
			}
			im := m
			if it.Mode != nil {
				im = os.FileMode(*it.Mode)
			}
			files[it.Path] = file{data: d, mode: im}
		}
		return nil
	}
	configMap := func(name string, items []corev1.KeyToPath, mode *int32, optional *bool) error {
		cm, err := a.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
		data := map[string][]byte{}
		if err == nil {
			for k, s := range cm.Data {
				data[k] = []byte(s)
			}
			for k, b := range cm.BinaryData {
				data[k] = b
			}
		}
		return put(data, items, mode, optional, "configmap "+name, err)
	}
	secret := func(name string, items []corev1.KeyToPath, mode *int32, optional *bool) error {
		s, err := a.client.CoreV1().Secrets(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
		var data map[string][]byte
		if err == nil {
			data = s.Data
		}
		return put(data, items, mode, optional, "secret "+name, err)
	}
	downward := func(items []corev1.DownwardAPIVolumeFile, mode *int32) error {
		for _, it := range items {
			if it.FieldRef == nil {
				continue
			}
			val, ok := podspec.FieldValue(pod, it.FieldRef.FieldPath, pod.Status.PodIP, pod.Status.HostIP)
			if !ok {
				return &podspec.ConfigError{Msg: fmt.Sprintf("volume %q: downwardAPI field %q is not supported", v.Name, it.FieldRef.FieldPath)}
			}
			m := ptr.Deref(it.Mode, ptr.Deref(mode, 0o644))
			files[it.Path] = file{data: []byte(val), mode: os.FileMode(m)}
		}
		return nil
	}
	var err error
	switch {
	case v.ConfigMap != nil:
		err = configMap(v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.DefaultMode, v.ConfigMap.Optional)
	case v.Secret != nil:
		err = secret(v.Secret.SecretName, v.Secret.Items, v.Secret.DefaultMode, v.Secret.Optional)
	case v.DownwardAPI != nil:
		err = downward(v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			switch {
			case src.ConfigMap != nil:
				err = configMap(src.ConfigMap.Name, src.ConfigMap.Items, v.Projected.DefaultMode, src.ConfigMap.Optional)
			case src.Secret != nil:
				err = secret(src.Secret.Name, src.Secret.Items, v.Projected.DefaultMode, src.Secret.Optional)
			case src.DownwardAPI != nil:
				err = downward(src.DownwardAPI.Items, v.Projected.DefaultMode)
			case src.ServiceAccountToken != nil:
				var tok []byte
				tok, err = w.serviceAccountToken(ctx, pod, src.ServiceAccountToken)
				if err == nil {
					files[src.ServiceAccountToken.Path] = tokenFile(pod, tok, v.Projected.DefaultMode)
				}
			}
			if err != nil {
				break
			}
		}
	}
	return files, err
}

// tokenFile is a projected service account token as the kubelet writes
// it: with the volume's defaultMode, but 0600 and owned by the pod's single
// runAsUser (podspec.FSUser) when the pod sets a user or an fsGroup, so only
// the pod's user (and, through setVolumeOwnership, its fsGroup) reads it.
func tokenFile(pod *corev1.Pod, tok []byte, defaultMode *int32) file {
	f := file{data: tok, mode: os.FileMode(ptr.Deref(defaultMode, 0o644))}
	fsUser := podspec.FSUser(pod)
	if fsUser != nil || (pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.FSGroup != nil) {
		f.mode, f.uid = 0o600, fsUser
	}
	return f
}

func (w *podWorker) serviceAccountToken(ctx context.Context, pod *corev1.Pod, src *corev1.ServiceAccountTokenProjection) ([]byte, error) {
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: ptr.To(int64(24 * time.Hour / time.Second)),
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	res, err := w.a.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return nil, errNotReady{fmt.Sprintf("service account token for %s: %v", sa, err)}
	}
	return []byte(res.Status.Token), nil
}

// writeFiles writes a configMap, secret, downwardAPI or projected volume.
// As the kubelet's, its folders are open (0755) and each file has its own
// mode and owner, so a container running as any user reads what the
// volume's modes let it; the folders it makes above dir are root's alone
// (0700), and the pod folder there keeps other pods and users away from
// the files, which may hold a Secret or a service account token. Modes are
// set explicitly, since MkdirAll and WriteFile leave existing folders and
// files as they were and honour the umask.
func writeFiles(dir string, files map[string]file) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	if err := openDir(dir); err != nil {
		return err
	}
	for name, f := range files {
		if filepath.IsAbs(name) || strings.Contains(filepath.Clean(name), "..") {
			return fmt.Errorf("volume file path %q must be relative and inside the volume", name)
		}
		p := filepath.Join(dir, name)
		for d := filepath.Dir(p); d != dir && strings.HasPrefix(d, dir); d = filepath.Dir(d) {
			if err := openDir(d); err != nil {
				return err
			}
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(p, f.mode); err != nil {
			return err
		}
		if f.uid != nil {
			if err := os.Lchown(p, int(*f.uid), -1); err != nil {
				return err
			}
		}
	}
	return nil
}

// openDir makes dir (and missing parents) and sets it to 0755.
func openDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.Chmod(dir, 0o755)
}

// privateDir makes dir (and missing parents) and sets it to 0700.
func privateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}
