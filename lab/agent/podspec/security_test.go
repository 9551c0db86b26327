package podspec

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func securityPod(pod *corev1.PodSecurityContext, ctr *corev1.SecurityContext) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "db-0", Namespace: "shop", UID: "u-9"},
		Spec: corev1.PodSpec{SecurityContext: pod, Containers: []corev1.Container{{
			Name: "db", Image: "example.com/db:17", SecurityContext: ctr,
		}}},
	}
}

func TestRunAs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		pod       *corev1.PodSecurityContext
		ctr       *corev1.SecurityContext
		imageUser string
		want      User
		wantErr   string
	}{
		{name: "nothing set: root", want: User{}},
		{
			name: "the pod's user, group, supplementary groups and fsGroup",
			pod: &corev1.PodSecurityContext{
				RunAsUser: ptr.To[int64](1001), RunAsGroup: ptr.To[int64](1002),
				SupplementalGroups: []int64{3000, 3001}, FSGroup: ptr.To[int64](2000),
			},
			want: User{UID: 1001, GID: 1002, Groups: []uint32{3000, 3001, 2000}},
		},
		{
			name: "the container's user and group win over the pod's",
			pod:  &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1001), RunAsGroup: ptr.To[int64](1002)},
			ctr:  &corev1.SecurityContext{RunAsUser: ptr.To[int64](7), RunAsGroup: ptr.To[int64](8)},
			want: User{UID: 7, GID: 8},
		},
		{name: "the image's uid:gid", imageUser: "70:71", want: User{UID: 70, GID: 71}},
		{name: "the image's uid alone: gid 0", imageUser: "70", want: User{UID: 70}},
		{
			name: "runAsUser replaces the image's user, gid and all",
			pod:  &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1001)}, imageUser: "70:71",
			want: User{UID: 1001},
		},
		{
			name: "runAsGroup with the image's uid",
			ctr:  &corev1.SecurityContext{RunAsGroup: ptr.To[int64](5)}, imageUser: "70:71",
			want: User{UID: 70, GID: 5},
		},
		{
			name: "runAsNonRoot with a non-root runAsUser",
			pod:  &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](999)},
			want: User{UID: 999},
		},
		{
			name: "runAsNonRoot with the image's non-root user",
			ctr:  &corev1.SecurityContext{RunAsNonRoot: ptr.To(true)}, imageUser: "70",
			want: User{UID: 70},
		},
		{
			name:    "runAsNonRoot and runAsUser 0",
			pod:     &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
			ctr:     &corev1.SecurityContext{RunAsUser: ptr.To[int64](0)},
			wantErr: `container's runAsUser breaks non-root policy (pod: "db-0_shop(u-9)", container: db)`,
		},
		{
			name:    "runAsNonRoot and an image with no user",
			pod:     &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
			wantErr: `container has runAsNonRoot and image will run as root (pod: "db-0_shop(u-9)", container: db)`,
		},
		{
			name: "runAsNonRoot and an image user of 0",
			pod:  &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)}, imageUser: "0:0",
			wantErr: "container has runAsNonRoot and image will run as root",
		},
		{
			name: "the container's runAsNonRoot false wins over the pod's true",
			pod:  &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
			ctr:  &corev1.SecurityContext{RunAsNonRoot: ptr.To(false)},
			want: User{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pod := securityPod(tc.pod, tc.ctr)
			got, err := RunAs(pod, &pod.Spec.Containers[0], ImageMapping{Image: "example.com/db", User: tc.imageUser})
			if tc.wantErr != "" {
				var ce *ConfigError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &ce) {
					t.Fatalf("error %v, want a *ConfigError (CreateContainerConfigError) containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("RunAs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTranslateImageDefaultsAndSecurityContext(t *testing.T) {
	t.Parallel()
	images := ImageMap{Images: []ImageMapping{{
		Image: "example.com/db", Entrypoint: []string{"/entry"}, Binaries: map[string]string{"/entry": "/opt/db/entry"},
		Env:        []string{"PATH=/opt/db/bin:/usr/bin:/bin", "PGDATA=/var/lib/db", "LANG=C.UTF-8"},
		WorkingDir: "/var/lib/db", User: "999:999",
		Dirs: []ImageDir{{Path: "/var/run/db/", User: "999:999", Mode: "3777"}, {Path: "/tmp/db"}},
	}}}
	for _, tc := range []struct {
		name     string
		mutate   func(*corev1.Pod)
		wantEnv  []string
		wantArgv []string
		wantDir  string
		wantUser User
		wantNNP  bool
	}{
		{
			name:    "the image's env, workingDir and user",
			mutate:  func(*corev1.Pod) {},
			wantEnv: []string{"PATH=/opt/db/bin:/usr/bin:/bin", "PGDATA=/var/lib/db", "LANG=C.UTF-8", "HOSTNAME=db-0"},
			wantDir: "/var/lib/db", wantUser: User{UID: 999, GID: 999}, wantArgv: []string{"/entry"},
		},
		{
			name: "the container's env, workingDir and security context win",
			mutate: func(p *corev1.Pod) {
				c := &p.Spec.Containers[0]
				c.Env = []corev1.EnvVar{{Name: "PGDATA", Value: "/data/pg"}, {Name: "HOME", Value: "/data"}}
				c.WorkingDir = "/data"
				c.SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To[int64](1001), RunAsGroup: ptr.To[int64](1001), AllowPrivilegeEscalation: ptr.To(false)}
				p.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr.To[int64](2000)}
			},
			wantEnv:  []string{"PATH=/opt/db/bin:/usr/bin:/bin", "PGDATA=/data/pg", "LANG=C.UTF-8", "HOSTNAME=db-0", "HOME=/data"},
			wantDir:  "/data",
			wantUser: User{UID: 1001, GID: 1001, Groups: []uint32{2000}}, wantNNP: true, wantArgv: []string{"/entry"},
		},
		{
			// The kubelet expands $(VAR) against the container's own env
			// only: it does not know the image's.
			name: "$(VAR) does not see the image's env",
			mutate: func(p *corev1.Pod) {
				c := &p.Spec.Containers[0]
				c.Env = []corev1.EnvVar{{Name: "DIR", Value: "$(PGDATA)/x"}, {Name: "SUB", Value: "$(DIR)/y"}}
				c.Args = []string{"--data=$(PGDATA)", "--dir=$(DIR)"}
			},
			wantEnv:  []string{"PATH=/opt/db/bin:/usr/bin:/bin", "PGDATA=/var/lib/db", "LANG=C.UTF-8", "HOSTNAME=db-0", "DIR=$(PGDATA)/x", "SUB=$(PGDATA)/x/y"},
			wantArgv: []string{"/entry", "--data=$(PGDATA)", "--dir=$(PGDATA)/x"},
			wantDir:  "/var/lib/db", wantUser: User{UID: 999, GID: 999},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pod := securityPod(nil, nil)
			tc.mutate(pod)
			in := input(pod)
			in.Images = images
			p, err := Translate(in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantEnv, p.Env); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantArgv, p.Argv); diff != "" {
				t.Errorf("argv (-want +got):\n%s", diff)
			}
			if p.Dir != tc.wantDir {
				t.Errorf("dir %q, want %q", p.Dir, tc.wantDir)
			}
			if diff := cmp.Diff(tc.wantUser, p.User); diff != "" {
				t.Errorf("user (-want +got):\n%s", diff)
			}
			if p.NoNewPrivs != tc.wantNNP {
				t.Errorf("NoNewPrivs %v, want %v", p.NoNewPrivs, tc.wantNNP)
			}
			// The image's folders, whoever the container runs as.
			wantDirs := []Dir{{Path: "/var/run/db", UID: 999, GID: 999, Mode: 0o3777}, {Path: "/tmp/db", Mode: 0o755}}
			if diff := cmp.Diff(wantDirs, p.Dirs); diff != "" {
				t.Errorf("dirs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTranslateRefusesRootUnderRunAsNonRoot(t *testing.T) {
	t.Parallel()
	pod := etcdPod() // the etcd image mapping has no user: root
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)}
	_, err := Translate(input(pod))
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "image will run as root") {
		t.Fatalf("want a *ConfigError saying the image will run as root, got %v", err)
	}
}

func TestParseImagesChecksImageDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, entry, want string
	}{
		{"env without =", "env: [PATH]", `images[0].env[0]: "PATH" is not NAME=value`},
		{"env without a name", "env: [\"=x\"]", `images[0].env[0]: "=x" is not NAME=value`},
		{"relative workingDir", "workingDir: data", `images[0].workingDir: "data" must be an absolute path`},
		{"user name", "user: postgres", `images[0].user: "postgres": the uid must be a number`},
		{"group name", "user: \"999:postgres\"", `the gid must be a number`},
		{"negative uid", "user: \"-1\"", `the uid must be a number`},
		{"dir on the host's file system", "dirs: [{path: /var/lib/pg}]", `images[0].dirs[0]: path "/var/lib/pg": must be a folder under /tmp, /run or /var/run`},
		{"dir escaping /run", "dirs: [{path: /run/../etc}]", `images[0].dirs[0]: path "/run/../etc"`},
		{"dir that is /run itself", "dirs: [{path: /run}]", `images[0].dirs[0]: path "/run"`},
		{"dir mode not octal", "dirs: [{path: /run/pg, mode: \"rwx\"}]", `images[0].dirs[0]: mode "rwx": must be octal`},
		{"dir mode too big", "dirs: [{path: /run/pg, mode: \"17777\"}]", `mode "17777"`},
		{"dir user name", "dirs: [{path: /run/pg, user: postgres}]", `images[0].dirs[0]: user: "postgres"`},
		{"all fine", "env: [\"A=b=c\"]\n  workingDir: /srv\n  user: \"999:999\"\n  dirs: [{path: /var/run/pg, user: \"999:999\", mode: \"3777\"}]", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseImages("mine.yaml", []byte("images:\n- image: x\n  binaries: {a: b}\n  "+tc.entry+"\n"))
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "mine.yaml") {
				t.Fatalf("error %v, want it to name mine.yaml and contain %q", err, tc.want)
			}
		})
	}
}

func TestFSUser(t *testing.T) {
	t.Parallel()
	two := func(a, b *int64) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", SecurityContext: &corev1.SecurityContext{RunAsUser: a}}},
			Containers:     []corev1.Container{{Name: "app", SecurityContext: &corev1.SecurityContext{RunAsUser: b}}},
		}}
	}
	withPodUser := two(nil, ptr.To[int64](5))
	withPodUser.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](5)}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want *int64
	}{
		{"every container the same user", two(ptr.To[int64](5), ptr.To[int64](5)), ptr.To[int64](5)},
		{"the pod's user for one, the container's for the other", withPodUser, ptr.To[int64](5)},
		{"two users", two(ptr.To[int64](5), ptr.To[int64](6)), nil},
		{"one container sets none", two(ptr.To[int64](5), nil), nil},
	} {
		if got := FSUser(tc.pod); !cmp.Equal(got, tc.want) {
			t.Errorf("%s: FSUser = %v, want %v", tc.name, ptr.Deref(got, -1), ptr.Deref(tc.want, -1))
		}
	}
}

func TestShellImagesAreMapped(t *testing.T) {
	t.Parallel()
	for _, image := range []string{"busybox:1.37", "docker.io/library/busybox", "debian:bookworm-slim"} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "n"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: image, Command: []string{"sh", "-c", "id"},
		}}}}
		p, err := Translate(input(pod))
		if err != nil {
			t.Fatalf("%s: %v", image, err)
		}
		if p.Path != "/bin/sh" {
			t.Errorf("%s: sh runs %s, want the host's /bin/sh", image, p.Path)
		}
	}
}
