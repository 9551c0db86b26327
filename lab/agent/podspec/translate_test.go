package podspec

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// fakeObjects stands in for the API server's ConfigMaps and Secrets.
type fakeObjects struct {
	cms     map[string]*corev1.ConfigMap
	secrets map[string]*corev1.Secret
}

func (f fakeObjects) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if cm, ok := f.cms[ns+"/"+name]; ok {
		return cm, nil
	}
	return nil, fmt.Errorf("configmaps %q not found", name)
}

func (f fakeObjects) Secret(ns, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("secrets %q not found", name)
}

func etcdPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "etcd-1", Namespace: "demo", UID: "u-1", Labels: map[string]string{"app": "etcd"}},
		Spec: corev1.PodSpec{
			Hostname: "etcd-1", Subdomain: "etcd", NodeName: "lab-1b-1",
			Volumes: []corev1.Volume{{Name: "data"}, {Name: "conf"}},
			Containers: []corev1.Container{{
				Name: "etcd", Image: "gcr.io/etcd-development/etcd:v3.6.16",
				Command: []string{"/usr/local/bin/etcd"},
				Args:    []string{"--name=$(POD_NAME)", "--listen-client-urls=http://$(POD_IP):2379", "--literal=$$(POD_NAME)", "--unknown=$(NOPE)"},
				Env: []corev1.EnvVar{
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
					{Name: "GREETING", Value: "hi-$(POD_NAME)"},
					{Name: "LEVEL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "level"}}},
					{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "token"}}},
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "conf", MountPath: "/var/lib/etcd/conf", SubPath: "etcd", ReadOnly: true},
					{Name: "data", MountPath: "/var/lib/etcd"},
				},
			}},
		},
	}
}

func input(pod *corev1.Pod) Input {
	return Input{
		Pod: pod, Container: &pod.Spec.Containers[0], Images: DefaultImages(), LabBins: "/cache/bin", Self: "/usr/bin/rebound",
		PodIP: "127.30.1.7", HostIP: "127.30.0.2",
		Volumes: map[string]string{"data": "/state/volumes/pvc-1", "conf": "/state/pods/u-1/volumes/conf"},
		Objects: fakeObjects{
			cms:     map[string]*corev1.ConfigMap{"demo/cfg": {Data: map[string]string{"level": "debug"}}},
			secrets: map[string]*corev1.Secret{"demo/sec": {Data: map[string][]byte{"token": []byte("s3cr3t")}}},
		},
	}
}

func TestTranslateEtcdContainer(t *testing.T) {
	t.Parallel()
	p, err := Translate(input(etcdPod()))
	if err != nil {
		t.Fatal(err)
	}
	want := &Process{
		Path: "/cache/bin/etcd",
		Argv: []string{"/usr/local/bin/etcd", "--name=etcd-1", "--listen-client-urls=http://127.30.1.7:2379", "--literal=$(POD_NAME)", "--unknown=$(NOPE)"},
		Env: []string{
			"PATH=" + defaultPath, "HOSTNAME=etcd-1", "POD_NAME=etcd-1", "POD_IP=127.30.1.7",
			"GREETING=hi-etcd-1", "LEVEL=debug", "TOKEN=s3cr3t",
		},
		Dir: "/", Hostname: "etcd-1",
		// Parents first, whatever the order in the manifest.
		Mounts: []Mount{
			{Source: "/state/volumes/pvc-1", Target: "/var/lib/etcd"},
			{Source: "/state/pods/u-1/volumes/conf/etcd", Target: "/var/lib/etcd/conf", ReadOnly: true},
		},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("Translate (-want +got):\n%s", diff)
	}
}

func TestTranslateEntrypointAndCmdRules(t *testing.T) {
	t.Parallel()
	images := ImageMap{Images: []ImageMapping{{
		Image: "example.com/tool", Entrypoint: []string{"/tool"}, Cmd: []string{"--serve"},
		Binaries: map[string]string{"/tool": "/opt/tool", "helper": "@self"},
	}}}
	for _, tc := range []struct {
		name          string
		command, args []string
		wantPath      string
		wantArgv      []string
	}{
		{"image defaults", nil, nil, "/opt/tool", []string{"/tool", "--serve"}},
		{"args replace cmd", nil, []string{"--once"}, "/opt/tool", []string{"/tool", "--once"}},
		{"command drops cmd", []string{"/tool", "-v"}, nil, "/opt/tool", []string{"/tool", "-v"}},
		{"command and args", []string{"/tool"}, []string{"x"}, "/opt/tool", []string{"/tool", "x"}},
		{"bare name maps to self", []string{"helper"}, []string{"backup"}, "/usr/bin/rebound", []string{"helper", "backup"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "n"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "c", Image: "example.com/tool:1.0", Command: tc.command, Args: tc.args,
			}}}}
			in := input(pod)
			in.Images = images
			p, err := Translate(in)
			if err != nil {
				t.Fatal(err)
			}
			if p.Path != tc.wantPath || !cmp.Equal(p.Argv, tc.wantArgv) {
				t.Errorf("got %s %q, want %s %q", p.Path, p.Argv, tc.wantPath, tc.wantArgv)
			}
		})
	}
}

func TestTranslateErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		mutate   func(*corev1.Pod)
		unmapped bool
		want     string
	}{
		{"unmapped image is simulated", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.29" }, true, "images.yaml"},
		{"executable not in image", func(p *corev1.Pod) { p.Spec.Containers[0].Command = []string{"/bin/bash"} }, false, `"/bin/bash" is not among the mapped binaries`},
		{"missing configmap key", func(p *corev1.Pod) { p.Spec.Containers[0].Env[3].ValueFrom.ConfigMapKeyRef.Key = "nope" }, false, `configMapKeyRef cfg/nope: no key "nope"`},
		{"optional missing secret is skipped", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env[4].ValueFrom.SecretKeyRef.Name = "gone"
			p.Spec.Containers[0].Env[4].ValueFrom.SecretKeyRef.Optional = ptr.To(true)
		}, false, ""},
		{"unknown volume", func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].Name = "nope" }, false, `volumeMounts "nope": no volume of that name`},
		{"subPath escaping the volume", func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].SubPath = "../../etc" }, false, "must be a relative path inside the volume"},
		{"relative mountPath", func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[1].MountPath = "data" }, false, "must be absolute"},
		{"unsupported fieldRef", func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].ValueFrom.FieldRef.FieldPath = "spec.priority" }, false, `fieldRef "spec.priority" is not supported`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pod := etcdPod()
			tc.mutate(pod)
			_, err := Translate(input(pod))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			var ce *ConfigError
			if got := errors.Is(err, ErrUnmapped); got != tc.unmapped {
				t.Errorf("errors.Is(ErrUnmapped) = %v, want %v", got, tc.unmapped)
			}
			if !tc.unmapped && !errors.As(err, &ce) {
				t.Errorf("want a *ConfigError (CreateContainerConfigError), got %T", err)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"A": "1", "B": "two"}
	for in, want := range map[string]string{
		"plain": "plain", "$(A)": "1", "x$(A)y$(B)z": "x1ytwoz", "$$(A)": "$(A)", "$$": "$",
		"$(C)": "$(C)", "$(A": "$(A", "$": "$", "a$b": "a$b", "$(A)$(A)": "11",
	} {
		if got := Expand(in, vars); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestImages(t *testing.T) {
	t.Parallel()
	m := DefaultImages()
	for image, want := range map[string]bool{
		"gcr.io/etcd-development/etcd:v3.6.16":     true,
		"registry.k8s.io/etcd:3.6.5-0":             true,
		"quay.io/coreos/etcd@sha256:0123":          true,
		"ghcr.io/reboundhq/rebound:latest":         true,
		"localhost:5000/etcd":                      false,
		"docker.io/library/nginx:1.29":             false,
		"registry.k8s.io/etcd-something-else:v1.0": false,
	} {
		if _, ok := m.Lookup(image); ok != want {
			t.Errorf("Lookup(%q) = %v, want %v", image, ok, want)
		}
	}
	if got := Repository("localhost:5000/team/app:1.2@sha256:ab"); got != "localhost:5000/team/app" {
		t.Errorf("Repository = %q", got)
	}
	if _, err := ParseImages("bad.yaml", []byte("images:\n- image: x\n  binaries: {a: b}\n  extra: 1\n")); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("unknown field not rejected with the file name: %v", err)
	}
	if _, err := ParseImages("empty.yaml", []byte("images:\n- image: x\n")); err == nil || !strings.Contains(err.Error(), "images[0].binaries") {
		t.Errorf("mapping with no binaries accepted: %v", err)
	}
}

func TestEnvironmentHasTheAPIServerAsTheKubeletSetsIt(t *testing.T) {
	t.Parallel()
	pod := etcdPod()
	c := &pod.Spec.Containers[0]
	objs := fakeObjects{
		cms:     map[string]*corev1.ConfigMap{"demo/cfg": {Data: map[string]string{"level": "debug"}}},
		secrets: map[string]*corev1.Secret{"demo/sec": {Data: map[string][]byte{"token": []byte("t")}}},
	}
	for _, tc := range []struct {
		name       string
		host, port string
		own        string // the container's own KUBERNETES_SERVICE_HOST
		want       map[string]string
	}{
		{name: "set", host: "127.0.0.1", port: "32764", want: map[string]string{
			"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "32764",
			"KUBERNETES_SERVICE_PORT_HTTPS": "32764", "KUBERNETES_PORT": "tcp://127.0.0.1:32764"}},
		{name: "IPv6", host: "::1", port: "6443", want: map[string]string{"KUBERNETES_SERVICE_HOST": "::1", "KUBERNETES_PORT": "tcp://[::1]:6443"}},
		{name: "the container's env wins", host: "127.0.0.1", port: "32764", own: "10.0.0.1", want: map[string]string{"KUBERNETES_SERVICE_HOST": "10.0.0.1"}},
		{name: "unknown: not set", want: map[string]string{"KUBERNETES_SERVICE_HOST": "", "KUBERNETES_SERVICE_PORT": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := c.DeepCopy()
			if tc.own != "" {
				cc.Env = append(cc.Env, corev1.EnvVar{Name: "KUBERNETES_SERVICE_HOST", Value: tc.own})
			}
			env, err := Environment(Input{Pod: pod, Container: cc, Objects: objs, PodIP: "127.9.1.1", APIServerHost: tc.host, APIServerPort: tc.port})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, kv := range env {
				k, v, _ := strings.Cut(kv, "=")
				got[k] = v
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
