package podspec

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ErrUnmapped says a container's image maps to no host executable; the agent
// then simulates the pod instead of running it.
var ErrUnmapped = errors.New("image maps to no executable")

// ConfigError is a container that cannot be started as written (a missing
// ConfigMap key, an unknown volume): the kubelet's CreateContainerConfigError.
type ConfigError struct{ Msg string }

func (e *ConfigError) Error() string { return e.Msg }

// Process is what the agent starts for one container.
type Process struct {
	Path     string   // host executable
	Argv     []string // argv as the container would see it; Argv[0] is the in-image name
	Env      []string
	Dir      string
	Hostname string
	Mounts   []Mount
	// User is who the process runs as (RunAs); NoNewPrivs is
	// allowPrivilegeEscalation: false.
	User       User
	NoNewPrivs bool
	// Dirs are the image's folders in the private /tmp and /run.
	Dirs []Dir
	// Requires are host paths that must exist besides Path, and Install
	// how to get them (the image mapping's requires and install).
	Requires []string
	Install  string
}

// Missing returns the first of the process's executable and required host
// paths that does not exist, with the mapping's install hint, or nil.
func (p *Process) Missing(stat func(string) error) error {
	for _, f := range append([]string{p.Path}, p.Requires...) {
		if err := stat(f); err != nil {
			hint := p.Install
			if hint == "" {
				hint = "install it, or map the image to an executable that exists (see lab/agent/podspec/images.yaml)"
			}
			return fmt.Errorf("%s, which the image runs, does not exist on the host: %s", f, hint)
		}
	}
	return nil
}

// Mount is a bind mount of a host path at the container's mountPath.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// ObjectLookup fetches the ConfigMaps and Secrets that env vars refer to.
type ObjectLookup interface {
	ConfigMap(namespace, name string) (*corev1.ConfigMap, error)
	Secret(namespace, name string) (*corev1.Secret, error)
}

// Input is everything Translate needs for one container.
type Input struct {
	Pod       *corev1.Pod
	Container *corev1.Container
	Images    ImageMap
	LabBins   string            // folder of the lab's built binaries
	Self      string            // path of the rebound binary
	PodIP     string            // the pod's loopback address
	HostIP    string            // the node's address
	Volumes   map[string]string // pod volume name -> host folder holding its content
	Objects   ObjectLookup
	// APIServer is the address and port of the kube-apiserver, which every
	// container gets as $KUBERNETES_SERVICE_HOST and _PORT, as the kubelet
	// sets them from the default/kubernetes Service; empty: not set.
	APIServerHost string
	APIServerPort string
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Translate works out the process for in.Container. It returns ErrUnmapped
// when the image is not in the mapping and a *ConfigError when the container
// cannot be configured.
func Translate(in Input) (*Process, error) {
	c := in.Container
	im, ok := in.Images.Lookup(c.Image)
	if !ok {
		return nil, fmt.Errorf("%w: %q (add it to an image mapping file, see lab/agent/podspec/images.yaml)", ErrUnmapped, c.Image)
	}
	user, err := RunAs(in.Pod, c, im)
	if err != nil {
		return nil, err
	}
	env, vars, err := environment(in, im)
	if err != nil {
		return nil, err
	}

	// Docker's rules: command replaces ENTRYPOINT and drops CMD; args replace CMD.
	argv := im.Entrypoint
	args := im.Cmd
	if len(c.Command) > 0 {
		argv, args = c.Command, nil
	}
	if len(c.Args) > 0 {
		args = c.Args
	}
	full := make([]string, 0, len(argv)+len(args))
	for _, a := range append(append([]string{}, argv...), args...) {
		full = append(full, Expand(a, vars))
	}
	if len(full) == 0 {
		return nil, &ConfigError{Msg: fmt.Sprintf("container %q: no command: image %s has no entrypoint or cmd in the mapping and the container sets none", c.Name, c.Image)}
	}
	host, ok := im.resolveBinary(full[0], in.LabBins, in.Self)
	if !ok {
		return nil, &ConfigError{Msg: fmt.Sprintf("container %q: executable %q is not among the mapped binaries of image %s", c.Name, full[0], im.Image)}
	}

	mounts, err := Mounts(in)
	if err != nil {
		return nil, err
	}
	dir := c.WorkingDir
	if dir == "" {
		dir = im.WorkingDir
	}
	if dir == "" {
		dir = "/"
	}
	var dirs []Dir
	for _, d := range im.Dirs {
		made, err := d.dir()
		if err != nil { // ParseImages checks every mapping; this is a mapping built in code
			return nil, &ConfigError{Msg: fmt.Sprintf("container %q: image %s: dirs: %v", c.Name, im.Image, err)}
		}
		dirs = append(dirs, made)
	}
	return &Process{
		Path: host, Argv: full, Env: env, Dir: dir, Hostname: Hostname(in.Pod), Mounts: mounts,
		User: user, NoNewPrivs: NoNewPrivs(c), Dirs: dirs, Requires: im.Requires, Install: im.Install,
	}, nil
}

// Hostname is the pod's hostname as the kubelet sets it.
func Hostname(pod *corev1.Pod) string {
	h := pod.Spec.Hostname
	if h == "" {
		h = pod.Name
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// Mounts lists the container's volume mounts as host bind mounts.
func Mounts(in Input) ([]Mount, error) {
	var out []Mount
	for _, vm := range in.Container.VolumeMounts {
		src, ok := in.Volumes[vm.Name]
		if !ok {
			return nil, &ConfigError{Msg: fmt.Sprintf("container %q: volumeMounts %q: no volume of that name is prepared for the pod", in.Container.Name, vm.Name)}
		}
		if vm.SubPath != "" {
			if filepath.IsAbs(vm.SubPath) || strings.Contains(filepath.Clean(vm.SubPath), "..") {
				return nil, &ConfigError{Msg: fmt.Sprintf("container %q: volumeMounts %q: subPath %q must be a relative path inside the volume", in.Container.Name, vm.Name, vm.SubPath)}
			}
			src = filepath.Join(src, vm.SubPath)
		}
		if !filepath.IsAbs(vm.MountPath) {
			return nil, &ConfigError{Msg: fmt.Sprintf("container %q: volumeMounts %q: mountPath %q must be absolute", in.Container.Name, vm.Name, vm.MountPath)}
		}
		out = append(out, Mount{Source: src, Target: filepath.Clean(vm.MountPath), ReadOnly: vm.ReadOnly})
	}
	// Parents before children, so a nested mount is not hidden by its parent.
	sort.SliceStable(out, func(i, j int) bool { return strings.Count(out[i].Target, "/") < strings.Count(out[j].Target, "/") })
	return out, nil
}

// Environment builds the container's environment as the kubelet and a
// runtime do: first what the runtime sets (the image's ENV, with a default
// PATH when it has none; HOSTNAME), then the
// kubelet's: the kubernetes Service's variables, envFrom, env (a later name
// wins, in its first place). $(VAR) in an env value expands against the
// kubelet's variables defined before it, not the image's, as on a cluster.
func Environment(in Input) ([]string, error) {
	im, _ := in.Images.Lookup(in.Container.Image)
	env, _, err := environment(in, im)
	return env, err
}

// environment is Environment for the image mapping im; it also returns the
// variables $(VAR) in command and args expand against.
func environment(in Input, im ImageMapping) ([]string, map[string]string, error) {
	pod, c := in.Pod, in.Container
	all := map[string]string{}
	var order []string
	put := func(k, v string) {
		if _, ok := all[k]; !ok {
			order = append(order, k)
		}
		all[k] = v
	}
	// The runtime's part.
	put("PATH", defaultPath)
	for _, kv := range im.Env {
		k, v, _ := strings.Cut(kv, "=")
		put(k, v)
	}
	put("HOSTNAME", Hostname(pod))

	// The kubelet's part: what $(VAR) can refer to.
	vars := map[string]string{}
	set := func(k, v string) {
		vars[k] = v
		put(k, v)
	}
	// The kubelet's service env vars of the default/kubernetes Service,
	// always set (enableServiceLinks or not); the container's own env wins.
	if h, p := in.APIServerHost, in.APIServerPort; h != "" && p != "" {
		set("KUBERNETES_SERVICE_HOST", h)
		set("KUBERNETES_SERVICE_PORT", p)
		set("KUBERNETES_SERVICE_PORT_HTTPS", p)
		set("KUBERNETES_PORT", "tcp://"+net.JoinHostPort(h, p))
	}

	for _, from := range c.EnvFrom {
		data, err := envFromData(in, from)
		if err != nil {
			return nil, nil, err
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(from.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, Expand(e.Value, vars))
			continue
		}
		v, skip, err := envValueFrom(in, e)
		if err != nil {
			return nil, nil, err
		}
		if !skip {
			set(e.Name, v)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+all[k])
	}
	return out, vars, nil
}

func envFromData(in Input, from corev1.EnvFromSource) (map[string]string, error) {
	ns := in.Pod.Namespace
	switch {
	case from.ConfigMapRef != nil:
		cm, err := in.Objects.ConfigMap(ns, from.ConfigMapRef.Name)
		if err != nil {
			if isTrue(from.ConfigMapRef.Optional) {
				return nil, nil
			}
			return nil, &ConfigError{Msg: fmt.Sprintf("container %q: envFrom configMap %q: %v", in.Container.Name, from.ConfigMapRef.Name, err)}
		}
		return cm.Data, nil
	case from.SecretRef != nil:
		s, err := in.Objects.Secret(ns, from.SecretRef.Name)
		if err != nil {
			if isTrue(from.SecretRef.Optional) {
				return nil, nil
			}
			return nil, &ConfigError{Msg: fmt.Sprintf("container %q: envFrom secret %q: %v", in.Container.Name, from.SecretRef.Name, err)}
		}
		out := map[string]string{}
		for k, v := range s.Data {
			out[k] = string(v)
		}
		return out, nil
	}
	return nil, nil
}

func envValueFrom(in Input, e corev1.EnvVar) (value string, skip bool, err error) {
	pod, vf := in.Pod, e.ValueFrom
	fail := func(format string, a ...any) (string, bool, error) {
		return "", false, &ConfigError{Msg: fmt.Sprintf("container %q: env %q: ", in.Container.Name, e.Name) + fmt.Sprintf(format, a...)}
	}
	switch {
	case vf.FieldRef != nil:
		v, ok := FieldValue(pod, vf.FieldRef.FieldPath, in.PodIP, in.HostIP)
		if !ok {
			return fail("fieldRef %q is not supported", vf.FieldRef.FieldPath)
		}
		return v, false, nil
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		cm, err := in.Objects.ConfigMap(pod.Namespace, ref.Name)
		if err == nil {
			if v, ok := cm.Data[ref.Key]; ok {
				return v, false, nil
			}
			err = fmt.Errorf("no key %q", ref.Key)
		}
		if isTrue(ref.Optional) {
			return "", true, nil
		}
		return fail("configMapKeyRef %s/%s: %v", ref.Name, ref.Key, err)
	case vf.SecretKeyRef != nil:
		ref := vf.SecretKeyRef
		s, err := in.Objects.Secret(pod.Namespace, ref.Name)
		if err == nil {
			if v, ok := s.Data[ref.Key]; ok {
				return string(v), false, nil
			}
			err = fmt.Errorf("no key %q", ref.Key)
		}
		if isTrue(ref.Optional) {
			return "", true, nil
		}
		return fail("secretKeyRef %s/%s: %v", ref.Name, ref.Key, err)
	case vf.ResourceFieldRef != nil:
		// The lab enforces no resources; report the declared limit or 0.
		q, ok := in.Container.Resources.Limits[corev1.ResourceName(vf.ResourceFieldRef.Resource)]
		if !ok {
			return "0", false, nil
		}
		return q.String(), false, nil
	}
	return fail("valueFrom sets no source")
}

// FieldValue resolves a downward-API field path of the pod.
func FieldValue(pod *corev1.Pod, fieldPath, podIP, hostIP string) (string, bool) {
	switch fieldPath {
	case "metadata.name":
		return pod.Name, true
	case "metadata.namespace":
		return pod.Namespace, true
	case "metadata.uid":
		return string(pod.UID), true
	case "spec.nodeName":
		return pod.Spec.NodeName, true
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, true
	case "status.podIP", "status.podIPs":
		return podIP, true
	case "status.hostIP", "status.hostIPs":
		return hostIP, true
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels": pod.Labels, "metadata.annotations": pod.Annotations} {
		if fieldPath == prefix {
			return formatMap(m), true
		}
		if key, ok := strings.CutPrefix(fieldPath, prefix+"['"); ok && strings.HasSuffix(key, "']") {
			return m[strings.TrimSuffix(key, "']")], true
		}
	}
	return "", false
}

// formatMap renders labels or annotations as the downward API does: k="v" lines.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

func isTrue(b *bool) bool { return b != nil && *b }
