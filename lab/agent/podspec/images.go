package podspec

import (
	_ "embed"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// SelfBinary in an image mapping stands for the rebound binary itself, so
// helper and data-mover pods can run rebound subcommands.
const SelfBinary = "@self"

// LabBinDir in a binary path is replaced by the lab's binary cache folder.
const LabBinDir = "${LAB_BINS}"

// ImageMapping says how the containers of one image run as host processes.
type ImageMapping struct {
	// Image is the image reference without tag or digest, as written in pod
	// specs (for example registry.k8s.io/etcd). A trailing "*" matches any
	// image with that prefix.
	Image string `json:"image"`
	// Entrypoint and Cmd are the image's ENTRYPOINT and CMD, which a
	// container's command and args override as Docker and Kubernetes do.
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	// Binaries maps the executables the image holds (full path or bare name)
	// to host executables: an absolute path, "${LAB_BINS}/name", or "@self".
	Binaries map[string]string `json:"binaries"`
	// Env is the image's ENV, as NAME=value: a container's env wins over it
	// name by name, and PATH replaces the lab's default PATH.
	Env []string `json:"env,omitempty"`
	// WorkingDir is the image's WORKDIR, used when the container sets no
	// workingDir; absolute.
	WorkingDir string `json:"workingDir,omitempty"`
	// User is the image's USER as "uid" or "uid:gid" (numeric: the lab has
	// no image /etc/passwd to look names up in), used when the pod and the
	// container set no runAsUser, as a runtime does.
	User string `json:"user,omitempty"`
	// Dirs are folders the image has in /tmp or /run (as /var/run/postgresql
	// in PostgreSQL's image), made in the container's private /tmp and /run
	// before its volumes are mounted. The rest of the file system is the
	// host's, where the lab makes nothing.
	Dirs []ImageDir `json:"dirs,omitempty"`
	// Requires are host paths the image's processes need besides its mapped
	// binaries (such as the PostgreSQL binaries Patroni starts), and
	// Install says how to get them and the mapped binaries when they are
	// missing ("make deps"): a container of the image does not start
	// without them, and its error names the missing path and Install.
	Requires []string `json:"requires,omitempty"`
	Install  string   `json:"install,omitempty"`
}

// ImageDir is a folder of an image in its /tmp or /run.
type ImageDir struct {
	// Path is under /tmp, /run or /var/run.
	Path string `json:"path"`
	// User owns it: "uid" or "uid:gid", numeric; empty: root.
	User string `json:"user,omitempty"`
	// Mode is its octal mode, such as "0755" or "3777" (setgid and sticky);
	// empty: 0755.
	Mode string `json:"mode,omitempty"`
}

// privateRoots are where an image's dirs may be: the container's private
// /tmp and /run, and /var/run, which links to /run.
var privateRoots = []string{"/tmp", "/run", "/var/run"}

// ImageMap is the whole mapping file: the lab's defaults plus the user's.
type ImageMap struct {
	Images []ImageMapping `json:"images"`
}

//go:embed images.yaml
var defaultImagesYAML []byte

// DefaultImages returns the mapping shipped with rebound.
func DefaultImages() ImageMap {
	m, err := ParseImages("images.yaml (built in)", defaultImagesYAML)
	if err != nil {
		panic(err) // the embedded file is checked by tests
	}
	return m
}

// ParseImages decodes a mapping file strictly; name is used in errors.
func ParseImages(name string, data []byte) (ImageMap, error) {
	var m ImageMap
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		return m, fmt.Errorf("%s: %w (see lab/agent/podspec/images.yaml for the format)", name, err)
	}
	for i, im := range m.Images {
		if im.Image == "" {
			return m, fmt.Errorf("%s: images[%d].image: required", name, i)
		}
		if len(im.Binaries) == 0 {
			return m, fmt.Errorf("%s: images[%d].binaries: at least one executable must be mapped for %q", name, i, im.Image)
		}
		for j, kv := range im.Env {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
				return m, fmt.Errorf("%s: images[%d].env[%d]: %q is not NAME=value (write it as in a Dockerfile's ENV, for example PATH=/usr/local/bin:/usr/bin:/bin)", name, i, j, kv)
			}
		}
		if im.WorkingDir != "" && !path.IsAbs(im.WorkingDir) {
			return m, fmt.Errorf("%s: images[%d].workingDir: %q must be an absolute path", name, i, im.WorkingDir)
		}
		if _, err := parseImageUser(im.User); err != nil {
			return m, fmt.Errorf("%s: images[%d].user: %w", name, i, err)
		}
		for j, r := range im.Requires {
			if !path.IsAbs(r) {
				return m, fmt.Errorf("%s: images[%d].requires[%d]: %q must be an absolute host path", name, i, j, r)
			}
		}
		for j, d := range im.Dirs {
			if _, err := d.dir(); err != nil {
				return m, fmt.Errorf("%s: images[%d].dirs[%d]: %w", name, i, j, err)
			}
		}
	}
	return m, nil
}

// LoadImages reads a user's mapping file and puts it in front of the
// defaults, so a user entry wins over a built-in one for the same image.
func LoadImages(file string) (ImageMap, error) {
	m := DefaultImages()
	if file == "" {
		return m, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return m, fmt.Errorf("read image mapping: %w", err)
	}
	user, err := ParseImages(file, data)
	if err != nil {
		return m, err
	}
	m.Images = append(user.Images, m.Images...)
	return m, nil
}

// Lookup finds the mapping of an image reference such as
// "registry.k8s.io/etcd:3.6.16-0" or "docker.io/library/busybox@sha256:…".
func (m ImageMap) Lookup(image string) (ImageMapping, bool) {
	repo := Repository(image)
	for _, im := range m.Images {
		if strings.HasSuffix(im.Image, "*") {
			if strings.HasPrefix(repo, strings.TrimSuffix(im.Image, "*")) {
				return im, true
			}
		} else if im.Image == repo || normalizeDocker(im.Image) == normalizeDocker(repo) {
			return im, true
		}
	}
	return ImageMapping{}, false
}

// Repository strips the tag and digest from an image reference.
func Repository(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	// A colon after the last slash is a tag; one before it is a registry port.
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	return image
}

// normalizeDocker makes "etcd", "library/etcd" and "docker.io/library/etcd"
// the same repository, as container runtimes do.
func normalizeDocker(repo string) string {
	repo = strings.TrimPrefix(repo, "docker.io/")
	repo = strings.TrimPrefix(repo, "index.docker.io/")
	if !strings.Contains(repo, "/") {
		repo = "library/" + repo
	}
	return repo
}

// resolveBinary maps an executable named in a container (full path or bare
// name) to the host executable, or reports that the image does not hold it.
func (im ImageMapping) resolveBinary(exe, labBins, self string) (string, bool) {
	host, ok := im.Binaries[exe]
	if !ok {
		host, ok = im.Binaries[path.Base(exe)]
	}
	if !ok {
		return "", false
	}
	switch {
	case host == SelfBinary:
		return self, true
	case strings.HasPrefix(host, LabBinDir):
		return filepath.Join(labBins, strings.TrimPrefix(host, LabBinDir)), true
	}
	return host, true
}
