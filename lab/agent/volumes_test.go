package agent

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestProjectedVolumeFilesKeepTheirModesInOpenFolders(t *testing.T) {
	t.Parallel()
	pods := filepath.Join(t.TempDir(), "pods")
	dir := filepath.Join(pods, "uid-1", "volumes", "token")
	// A folder left from an earlier start of the pod, closed to others.
	if err := os.MkdirAll(filepath.Join(dir, "nested"), 0o700); err != nil {
		t.Fatal(err)
	}
	files := map[string]file{
		"token":           {data: []byte("eyJhbGciOi"), mode: 0o600},
		"nested/deep/key": {data: []byte("hunter2"), mode: 0o400},
		"nested/ca.crt":   {data: []byte("-----BEGIN"), mode: 0o644},
	}
	if err := writeFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	// The volume's own folders are open, as the kubelet's: a container
	// running as any user lists them and reads what the files' modes allow.
	for _, d := range []string{dir, filepath.Join(dir, "nested"), filepath.Join(dir, "nested", "deep")} {
		if m := mode(t, d).Perm(); m != 0o755 {
			t.Errorf("folder %s has mode %o, want 0755", d, m)
		}
	}
	// What writeFiles makes above the volume is root's alone: other users
	// of the machine cannot walk into the pod's secrets.
	for _, d := range []string{filepath.Join(pods, "uid-1"), filepath.Join(pods, "uid-1", "volumes")} {
		if m := mode(t, d).Perm(); m != 0o700 {
			t.Errorf("folder %s has mode %o, want 0700: other users could reach the pod's secrets", d, m)
		}
	}
	for name, f := range files {
		if m := mode(t, filepath.Join(dir, name)).Perm(); m != f.mode {
			t.Errorf("file %s has mode %o, want the volume's %o", name, m, f.mode)
		}
	}
	if err := writeFiles(dir, map[string]file{"../escape": {mode: 0o600}}); err == nil {
		t.Error("a path out of the volume was written")
	}
}

func TestTokenFileAsTheKubeletWritesIt(t *testing.T) {
	t.Parallel()
	user := func(uid int64) *corev1.SecurityContext { return &corev1.SecurityContext{RunAsUser: ptr.To(uid)} }
	for _, tc := range []struct {
		name        string
		podSC       *corev1.PodSecurityContext
		ctrs        []*corev1.SecurityContext
		defaultMode *int32
		wantMode    os.FileMode
		wantUID     *int64
	}{
		{name: "no user, no fsGroup: the volume's defaultMode", ctrs: []*corev1.SecurityContext{nil}, wantMode: 0o644},
		{name: "an explicit defaultMode", ctrs: []*corev1.SecurityContext{nil}, defaultMode: ptr.To[int32](0o440), wantMode: 0o440},
		{name: "fsGroup: 0600, root's", podSC: &corev1.PodSecurityContext{FSGroup: ptr.To[int64](2000)}, ctrs: []*corev1.SecurityContext{nil}, wantMode: 0o600},
		{name: "one runAsUser for all: 0600, that user's", ctrs: []*corev1.SecurityContext{user(1001), user(1001)}, wantMode: 0o600, wantUID: ptr.To[int64](1001)},
		{name: "two users, no fsGroup: the defaultMode", ctrs: []*corev1.SecurityContext{user(1001), user(1002)}, wantMode: 0o644},
	} {
		pod := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: tc.podSC}}
		for _, sc := range tc.ctrs {
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{SecurityContext: sc})
		}
		f := tokenFile(pod, []byte("t"), tc.defaultMode)
		if f.mode != tc.wantMode || ptr.Deref(f.uid, -1) != ptr.Deref(tc.wantUID, -1) {
			t.Errorf("%s: mode %o uid %d, want %o uid %d", tc.name, f.mode, ptr.Deref(f.uid, -1), tc.wantMode, ptr.Deref(tc.wantUID, -1))
		}
	}
}

func TestSetVolumeOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving files to another group needs root, as the lab agent has")
	}
	t.Parallel()
	const fsGroup = 2000
	always, onMismatch := ptr.To(corev1.FSGroupChangeAlways), ptr.To(corev1.FSGroupChangeOnRootMismatch)
	// entry: mode, and whether it should end with the fsGroup.
	type entry struct {
		mode  os.FileMode
		group bool
	}
	for _, tc := range []struct {
		name      string
		fsGroup   *int64
		policy    *corev1.PodFSGroupChangePolicy
		readOnly  bool
		rootReady bool // the root already has the group, modes and setgid
		want      map[string]entry
	}{
		{
			name: "no fsGroup: nothing changes", policy: always,
			want: map[string]entry{".": {0o755 | os.ModeDir, false}, "sub": {0o700 | os.ModeDir, false}, "sub/data": {0o600, false}, "conf": {0o644, false}},
		},
		{
			name: "fsGroup: group read-write, folders setgid and searchable", fsGroup: ptr.To[int64](fsGroup),
			want: map[string]entry{
				".":        {0o775 | os.ModeDir | os.ModeSetgid, true},
				"sub":      {0o770 | os.ModeDir | os.ModeSetgid, true},
				"sub/data": {0o660, true},
				"conf":     {0o664, true},
			},
		},
		{
			name: "read-only volume: group read only", fsGroup: ptr.To[int64](fsGroup), readOnly: true,
			want: map[string]entry{
				".":        {0o755 | os.ModeDir | os.ModeSetgid, true},
				"sub":      {0o750 | os.ModeDir | os.ModeSetgid, true},
				"sub/data": {0o640, true},
				"conf":     {0o644, true},
			},
		},
		{
			name: "OnRootMismatch with a root that matches: the files are left alone", fsGroup: ptr.To[int64](fsGroup), policy: onMismatch, rootReady: true,
			want: map[string]entry{".": {0o775 | os.ModeDir | os.ModeSetgid, true}, "sub": {0o700 | os.ModeDir, false}, "sub/data": {0o600, false}, "conf": {0o644, false}},
		},
		{
			name: "OnRootMismatch with a root that does not match: all of it", fsGroup: ptr.To[int64](fsGroup), policy: onMismatch,
			want: map[string]entry{".": {0o775 | os.ModeDir | os.ModeSetgid, true}, "sub": {0o770 | os.ModeDir | os.ModeSetgid, true}, "sub/data": {0o660, true}, "conf": {0o664, true}},
		},
		{
			name: "Always with a root that matches: all of it", fsGroup: ptr.To[int64](fsGroup), policy: always, rootReady: true,
			want: map[string]entry{".": {0o775 | os.ModeDir | os.ModeSetgid, true}, "sub": {0o770 | os.ModeDir | os.ModeSetgid, true}, "sub/data": {0o660, true}, "conf": {0o664, true}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			vol := filepath.Join(base, "vol")
			outside := filepath.Join(base, "outside")
			mustWrite(t, outside, 0o600)
			if err := os.MkdirAll(filepath.Join(vol, "sub"), 0o700); err != nil {
				t.Fatal(err)
			}
			chmod(t, vol, 0o755)
			chmod(t, filepath.Join(vol, "sub"), 0o700)
			mustWrite(t, filepath.Join(vol, "sub", "data"), 0o600)
			mustWrite(t, filepath.Join(vol, "conf"), 0o644)
			if err := os.Symlink(outside, filepath.Join(vol, "link")); err != nil {
				t.Fatal(err)
			}
			if tc.rootReady {
				if err := os.Chown(vol, -1, fsGroup); err != nil {
					t.Fatal(err)
				}
				chmod(t, vol, 0o775|os.ModeSetgid)
			}
			if err := setVolumeOwnership(vol, tc.fsGroup, tc.policy, tc.readOnly); err != nil {
				t.Fatal(err)
			}
			for name, want := range tc.want {
				p := filepath.Join(vol, name)
				st, err := os.Lstat(p)
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode() != want.mode {
					t.Errorf("%s: mode %v, want %v", name, st.Mode(), want.mode)
				}
				if got := st.Sys().(*syscall.Stat_t).Gid == fsGroup; got != want.group {
					t.Errorf("%s: has the fsGroup %v, want %v", name, got, want.group)
				}
			}
			// A symbolic link takes the group, but what it points to,
			// here a file out of the volume, keeps its mode and group.
			st, err := os.Stat(outside)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode() != 0o600 || st.Sys().(*syscall.Stat_t).Gid == fsGroup {
				t.Errorf("the file a link in the volume points to was changed: %v gid %d", st.Mode(), st.Sys().(*syscall.Stat_t).Gid)
			}
		})
	}
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode()
}

func mustWrite(t *testing.T, p string, m os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte("x"), m); err != nil {
		t.Fatal(err)
	}
	chmod(t, p, m)
}

func chmod(t *testing.T, p string, m os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, m); err != nil {
		t.Fatal(err)
	}
}
