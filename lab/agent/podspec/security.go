package podspec

import (
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// User is who a container's process runs as: its uid, primary gid and
// supplementary groups.
type User struct {
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"`
}

// Dir is a folder made in the container's private /tmp or /run before its
// process starts.
type Dir struct {
	Path string `json:"path"`
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
	Mode uint32 `json:"mode"` // permission bits with setuid, setgid and sticky, as chmod(2) takes them
}

// dir checks d and works out the folder to make.
func (d ImageDir) dir() (Dir, error) {
	clean := path.Clean(d.Path)
	inside := false
	for _, root := range privateRoots {
		inside = inside || strings.HasPrefix(clean, root+"/")
	}
	if !path.IsAbs(d.Path) || !inside {
		return Dir{}, fmt.Errorf("path %q: must be a folder under /tmp, /run or /var/run, the container's own; the rest of the file system is the host's", d.Path)
	}
	out := Dir{Path: clean, Mode: 0o755}
	u, err := parseImageUser(d.User)
	if err != nil {
		return Dir{}, fmt.Errorf("user: %w", err)
	}
	if u.uid != nil {
		out.UID = uint32(*u.uid)
	}
	if u.gid != nil {
		out.GID = uint32(*u.gid)
	}
	if d.Mode != "" {
		m, err := strconv.ParseUint(d.Mode, 8, 32)
		if err != nil || m > 0o7777 {
			return Dir{}, fmt.Errorf("mode %q: must be octal, 0000 to 7777, as chmod takes it (for example \"0755\" or \"3777\")", d.Mode)
		}
		out.Mode = uint32(m)
	}
	return out, nil
}

// imageUser is an image's USER: a uid and, when written as uid:gid, a gid.
type imageUser struct {
	uid, gid *int64
}

// parseImageUser reads an images.yaml user field: "", "uid" or "uid:gid".
func parseImageUser(s string) (imageUser, error) {
	if s == "" {
		return imageUser{}, nil
	}
	u, g, hasGroup := strings.Cut(s, ":")
	id := func(what, v string) (*int64, error) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > math.MaxInt32 {
			return nil, fmt.Errorf("%q: the %s must be a number from 0 to %d (the lab has no image /etc/passwd to look a name up in; write the numeric id the image's user has)", s, what, math.MaxInt32)
		}
		return &n, nil
	}
	uid, err := id("uid", u)
	if err != nil {
		return imageUser{}, err
	}
	out := imageUser{uid: uid}
	if hasGroup {
		if out.gid, err = id("gid", g); err != nil {
			return imageUser{}, err
		}
	}
	return out, nil
}

// effective is the part of the pod's and the container's security contexts
// a container's process runs with: the container's value wins over the
// pod's, as in the kubelet's DetermineEffectiveSecurityContext.
type effective struct {
	runAsUser, runAsGroup *int64
	runAsNonRoot          *bool
}

func effectiveContext(pod *corev1.Pod, c *corev1.Container) effective {
	var e effective
	if psc := pod.Spec.SecurityContext; psc != nil {
		e.runAsUser, e.runAsGroup, e.runAsNonRoot = psc.RunAsUser, psc.RunAsGroup, psc.RunAsNonRoot
	}
	if csc := c.SecurityContext; csc != nil {
		if csc.RunAsUser != nil {
			e.runAsUser = csc.RunAsUser
		}
		if csc.RunAsGroup != nil {
			e.runAsGroup = csc.RunAsGroup
		}
		if csc.RunAsNonRoot != nil {
			e.runAsNonRoot = csc.RunAsNonRoot
		}
	}
	return e
}

// RunAs works out the user container c of pod runs as from the security
// contexts and the image's USER, as the kubelet and a runtime do:
//   - uid: runAsUser (container, then pod), else the image's uid, else 0;
//   - gid: runAsGroup (container, then pod), else the image's gid when the
//     uid is the image's too, else 0 (a runtime looks the uid up in the
//     image's /etc/passwd; the lab's images have none);
//   - supplementary groups: the pod's supplementalGroups, then its fsGroup.
//
// With runAsNonRoot it refuses uid 0 with the kubelet's own messages, as a
// *ConfigError (the container then waits in CreateContainerConfigError).
func RunAs(pod *corev1.Pod, c *corev1.Container, im ImageMapping) (User, error) {
	e := effectiveContext(pod, c)
	img, err := parseImageUser(im.User)
	if err != nil { // ParseImages checks every mapping; this is a mapping built in code
		return User{}, &ConfigError{Msg: fmt.Sprintf("container %q: image %s: user: %v", c.Name, im.Image, err)}
	}
	if err := verifyRunAsNonRoot(pod, c, e, img); err != nil {
		return User{}, err
	}
	var u User
	switch {
	case e.runAsUser != nil:
		u.UID = uint32(*e.runAsUser)
	case img.uid != nil:
		u.UID = uint32(*img.uid)
		if img.gid != nil {
			u.GID = uint32(*img.gid)
		}
	}
	if e.runAsGroup != nil {
		u.GID = uint32(*e.runAsGroup)
	}
	if psc := pod.Spec.SecurityContext; psc != nil {
		for _, g := range psc.SupplementalGroups {
			u.Groups = append(u.Groups, uint32(g))
		}
		if psc.FSGroup != nil {
			u.Groups = append(u.Groups, uint32(*psc.FSGroup))
		}
	}
	return u, nil
}

// verifyRunAsNonRoot is the kubelet's check, with its messages: with
// runAsNonRoot, a runAsUser of 0, or no runAsUser and an image that runs as
// root (no USER counts as root), cannot start.
func verifyRunAsNonRoot(pod *corev1.Pod, c *corev1.Container, e effective, img imageUser) error {
	if e.runAsNonRoot == nil || !*e.runAsNonRoot {
		return nil
	}
	podDesc := fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
	if e.runAsUser != nil {
		if *e.runAsUser == 0 {
			return &ConfigError{Msg: fmt.Sprintf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", podDesc, c.Name)}
		}
		return nil
	}
	if img.uid == nil || *img.uid == 0 {
		return &ConfigError{Msg: fmt.Sprintf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", podDesc, c.Name)}
	}
	return nil
}

// NoNewPrivs is whether the container's process may not gain privileges
// (setuid binaries, file capabilities): allowPrivilegeEscalation: false.
func NoNewPrivs(c *corev1.Container) bool {
	return c.SecurityContext != nil && c.SecurityContext.AllowPrivilegeEscalation != nil && !*c.SecurityContext.AllowPrivilegeEscalation
}

// FSUser is the uid that owns a pod's projected service account tokens, as
// the kubelet's FsUserFrom: the runAsUser every container of the pod shares,
// or nil when one sets none or two differ.
func FSUser(pod *corev1.Pod) *int64 {
	var uid *int64
	all := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	for i := range all {
		e := effectiveContext(pod, &all[i])
		if e.runAsUser == nil || (uid != nil && *uid != *e.runAsUser) {
			return nil
		}
		uid = e.runAsUser
	}
	return uid
}
