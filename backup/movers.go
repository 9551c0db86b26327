package backup

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/backup/mover"
	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/faults"
	"github.com/reboundhq/rebound/journal"
	"github.com/reboundhq/rebound/lab/labnet"
	"github.com/reboundhq/rebound/logging"
)

// Labels of the pods and Secrets the engine creates.
const (
	LabelManagedBy  = "app.kubernetes.io/managed-by"
	LabelMoverGroup = mover.LabelGroup
	LabelMoverFor   = "rebound.dev/mover-for"
	managedBy       = "rebound"
	keyVolume       = "rebound-key"
	keyMountPath    = "/var/run/rebound/key"
	keyFile         = keyMountPath + "/key"
)

// moverJob is one data-mover pod to run.
type moverJob struct {
	target string // the PVC or member it works on
	pod    *corev1.Pod
}

// moverPod is the skeleton of a data-mover pod running args.
func (e *Engine) moverPod(ns, tok, target string, args []string) *corev1.Pod {
	c := corev1.Container{
		Name: "mover", Image: e.moverImg, ImagePullPolicy: corev1.PullIfNotPresent, Args: args,
		VolumeMounts:             []corev1.VolumeMount{{Name: keyVolume, MountPath: keyMountPath, ReadOnly: true}},
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}
	if e.moverEnv != "" {
		c.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: e.moverEnv}}}}
	}
	vols := []corev1.Volume{{Name: keyVolume, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
		SecretName: keySecretName(tok), DefaultMode: ptr.To(int32(0o400)),
	}}}}
	// A repository in a local folder reaches the pod as a hostPath at the
	// same path, as it would have to on any cluster: a container sees its
	// own filesystem, not the node's (the lab's pods have a private /tmp).
	if dir, ok := localRepoDir(e.moverURL); ok {
		vols = append(vols, corev1.Volume{Name: "repository", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{
			Path: dir, Type: ptr.To(corev1.HostPathDirectory),
		}}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "repository", MountPath: dir})
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: moverName(tok, target), Namespace: ns,
			Labels: map[string]string{LabelManagedBy: managedBy, LabelMoverGroup: tok, LabelMoverFor: labelSafe(target)},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To(int64(5)),
			Containers:                    []corev1.Container{c},
			Volumes:                       vols,
		},
	}
}

// localRepoDir is the folder of a repository URL that names a local path
// (a plain absolute path or file://), and false for remote ones.
func localRepoDir(u string) (string, bool) {
	p, ok := strings.CutPrefix(u, "file://")
	if !ok && strings.Contains(u, "://") {
		return "", false
	}
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	return filepath.Clean(p), true
}

func moverName(tok, target string) string {
	n := "rebound-mover-" + tok + "-" + labelSafe(target)
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-.")
	}
	return n
}

func labelSafe(s string) string {
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, strings.ToLower(s)), "-.")
}

func keySecretName(tok string) string { return "rebound-key-" + tok }

// runMovers runs the pods of jobs in ns, all at once, and waits until
// every one succeeded. The repository key reaches them in a Secret that
// lives only as long as they do; pods and Secret are removed on a fresh
// context whatever happened.
func (e *Engine) runMovers(ctx context.Context, ns, tok string, jobs []moverJob, progress func(Progress)) (err error) {
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: keySecretName(tok), Namespace: ns, Labels: map[string]string{LabelManagedBy: managedBy, LabelMoverGroup: tok}},
		Data:       map[string][]byte{"key": e.key},
		Type:       corev1.SecretTypeOpaque,
	}
	entry, err := e.journalMovers(ns, tok)
	if err != nil {
		return err
	}
	defer func() {
		cerr := e.cleanupMovers(ns, tok)
		e.journalMoversGone(entry, cerr)
	}()
	if _, err := e.kube.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create the data movers' key secret: %w", err)
	}
	for _, j := range jobs {
		if _, err := e.kube.CoreV1().Pods(ns).Create(ctx, j.pod, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create data mover %s for %s: %w", j.pod.Name, j.target, err)
		}
	}
	deadline := time.Now().Add(e.moverWait)
	defer logging.Heartbeat(ctx, fmt.Sprintf("%d data mover pods in %s to finish", len(jobs), ns), e.moverWait)()
	done := map[string]bool{}
	for {
		for _, j := range jobs {
			if done[j.target] {
				continue
			}
			p, err := e.kube.CoreV1().Pods(ns).Get(ctx, j.pod.Name, metav1.GetOptions{})
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				continue
			}
			switch p.Status.Phase {
			case corev1.PodSucceeded:
				done[j.target] = true
				progress(Progress{Phase: "data movers", Done: len(done) == len(jobs), Message: fmt.Sprintf("data mover for %s done (%d/%d)", j.target, len(done), len(jobs))})
			case corev1.PodFailed:
				return e.moverError(ctx, tok, j.target, p)
			}
		}
		if len(done) == len(jobs) {
			return nil
		}
		if time.Now().After(deadline) {
			var why []string
			for _, j := range jobs {
				if !done[j.target] {
					why = append(why, e.podState(ctx, ns, j.pod.Name))
				}
			}
			return fmt.Errorf("%w: not finished after %s: %s", ErrMover, e.moverWait, strings.Join(why, "; "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// podState says where a pod is stuck, for errors.
func (e *Engine) podState(ctx context.Context, ns, name string) string {
	p, err := e.kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Sprintf("pod %s: %v", name, err)
	}
	s := fmt.Sprintf("pod %s is %s", name, p.Status.Phase)
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			s += fmt.Sprintf(" (%s: %s)", c.Type, c.Message)
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			s += fmt.Sprintf(" (container %s waiting: %s %s)", cs.Name, w.Reason, w.Message)
		}
	}
	return s
}

// moverError says why a mover failed: its exit code, termination message
// and the error it recorded in the repository.
func (e *Engine) moverError(ctx context.Context, tok, target string, p *corev1.Pod) error {
	msg := ""
	code := int32(-1)
	for _, cs := range p.Status.ContainerStatuses {
		if t := cs.State.Terminated; t != nil {
			code = t.ExitCode
			msg = strings.TrimSpace(t.Message)
		}
	}
	if snaps, err := e.repo.List(ctx); err == nil {
		for _, s := range snaps {
			if s.HasTag(mover.TagError) && s.Metadata[mover.MetaToken] == tok && s.Metadata[mover.MetaTarget] == target {
				msg = s.Metadata[mover.MetaError]
				_ = e.repo.Delete(ctx, s.ID)
			}
		}
	}
	if msg == "" {
		msg = "no error message reached the engine (see the pod's log)"
	}
	return fmt.Errorf("%w: %s (pod %s/%s, exit code %d): %s", ErrMover, target, p.Namespace, p.Name, code, msg)
}

// cleanupMovers deletes the pods and key Secret of operation tok, and
// says what it could not delete.
func (e *Engine) cleanupMovers(ns, tok string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	pods, err := e.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: moverSelector(tok)})
	if err != nil {
		errs = append(errs, fmt.Errorf("list the data movers: %w", err))
	} else {
		for _, p := range pods.Items {
			err := e.kube.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To(int64(0))})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete data mover %s/%s: %w", ns, p.Name, err))
			}
		}
	}
	if err := e.kube.CoreV1().Secrets(ns).Delete(ctx, keySecretName(tok), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("delete the data movers' key secret %s/%s: %w", ns, keySecretName(tok), err))
	}
	if err := errors.Join(errs...); err != nil {
		e.log.Warn("data movers left behind", "namespace", ns, "err", err)
		return err
	}
	return nil
}

func moverSelector(tok string) string { return LabelMoverGroup + "=" + tok }

// journalMovers records, before anything is created, the key Secret and
// pods of operation tok and how to delete them (nil without a journal).
// With a journal, a failed write stops the operation: a key Secret that
// cleanup could not find is what the journal exists to prevent.
func (e *Engine) journalMovers(ns, tok string) (*journal.Entry, error) {
	if e.journal == nil {
		return nil, nil
	}
	c := e.jcluster
	c.Namespace = ns
	entry := &journal.Entry{
		ID: "data-movers-" + tok, Run: e.jrun, Scenario: "backup", Fault: "data-movers",
		Description: fmt.Sprintf("data movers of %s: key Secret %s and pods %s", ns, keySecretName(tok), moverSelector(tok)),
		State:       journal.StatePending,
		Undo: []journal.Undo{
			faults.DeletePodsUndo(ns, moverSelector(tok)),
			faults.DeleteObjectUndo("", "v1", "secrets", ns, keySecretName(tok)),
		},
		Cluster: c,
	}
	if err := e.journal.Write(*entry); err != nil {
		return nil, fmt.Errorf("journal the data movers' key secret before creating it: %w", err)
	}
	return entry, nil
}

// journalMoversGone records that the Secret and pods are deleted, or, when
// cleanupErr says some are not, that `rebound cleanup` must retry.
func (e *Engine) journalMoversGone(entry *journal.Entry, cleanupErr error) {
	if entry == nil {
		return
	}
	done := *entry
	done.Undo = nil // state lines need not repeat the undo
	done.State = journal.StateRecovered
	if cleanupErr != nil {
		done.State, done.Error = journal.StateFailed, cleanupErr.Error()
	}
	if err := e.journal.Write(done); err != nil {
		e.log.Warn("journal the data movers' cleanup", "err", err)
	}
}

// pvcBackupJob is the mover that copies claim c; it runs on the node of a
// pod already using the claim, if any, since a ReadWriteOnce volume
// attaches to one node at a time.
func (e *Engine) pvcBackupJob(ctx context.Context, ns string, c corev1.PersistentVolumeClaim, tok string) moverJob {
	o := mover.PVCOptions{Common: mover.Common{Repo: e.moverURL, KeyFile: keyFile, Token: tok, Target: c.Name}, Namespace: ns, Path: "/data"}
	p := e.moverPod(ns, tok, c.Name, o.BackupArgs())
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name, ReadOnly: true},
	}})
	p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/data", ReadOnly: true})
	if node := nodeUsing(ctx, e, ns, c.Name); node != "" {
		p.Spec.NodeName = node
	}
	return moverJob{target: c.Name, pod: p}
}

// nodeUsing is the node of a running pod that mounts claim.
func nodeUsing(ctx context.Context, e *Engine, ns, claim string) string {
	pods, err := e.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return ""
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName == "" || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
			continue
		}
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim {
				return p.Spec.NodeName
			}
		}
	}
	return ""
}

// findPVCSnapshots lists the volume snapshots movers of tok wrote.
func (e *Engine) findPVCSnapshots(tok string) []repo.ID {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snaps, _ := e.repo.List(ctx)
	var out []repo.ID
	for _, s := range snaps {
		if s.HasTag(mover.TagPVCData) && s.Metadata[mover.MetaToken] == tok {
			out = append(out, s.ID)
		}
	}
	return out
}

// connect connects the named driver to the app's pods by their IPs, with
// the credentials of Secret secret of ns when named.
func (e *Engine) connect(ctx context.Context, driver, ns string, sel labels.Selector, secret string) (apps.Driver, error) {
	app, err := apps.Lookup(driver)
	if err != nil {
		return nil, err
	}
	eps, err := podEndpoints(ctx, e, app, ns, sel)
	if err != nil {
		return nil, err
	}
	cfg := apps.Config{Endpoints: eps, Dial: labnet.Dial}
	if secret != "" {
		// Read once, kept in memory only, never logged.
		sec, err := e.kube.CoreV1().Secrets(ns).Get(ctx, secret, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("the driver's credentials, secret %s/%s: %w", ns, secret, err)
		}
		cfg.Username, cfg.Password, cfg.CACert = string(sec.Data["username"]), string(sec.Data["password"]), sec.Data["ca.crt"]
	}
	return app.New(ctx, cfg)
}

// Connect connects the named app driver to the Running pods of ns that
// sel chooses, by their pod IPs (which works on the lab and from inside a
// cluster), with its records under prefix ("" is the driver's default).
func (e *Engine) Connect(ctx context.Context, driver, ns string, sel labels.Selector, prefix string) (apps.Driver, error) {
	app, err := apps.Lookup(driver)
	if err != nil {
		return nil, err
	}
	eps, err := podEndpoints(ctx, e, app, ns, sel)
	if err != nil {
		return nil, err
	}
	// Pod IPs of a lab route inside the lab's network namespace only.
	return app.New(ctx, apps.Config{Endpoints: eps, Prefix: prefix, Dial: labnet.Dial})
}

func podEndpoints(ctx context.Context, e *Engine, app apps.App, ns string, sel labels.Selector) (apps.Endpoints, error) {
	scheme := app.Scheme
	if scheme == "" {
		scheme = "http"
	}
	pods, err := e.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return apps.Endpoints{}, err
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	var eps apps.Endpoints
	for _, p := range pods.Items {
		if p.Status.PodIP == "" || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || p.Labels[LabelManagedBy] == managedBy {
			continue
		}
		eps.URLs = append(eps.URLs, fmt.Sprintf("%s://%s:%d", scheme, p.Status.PodIP, app.ClientPort))
		eps.Pods = append(eps.Pods, p.Name)
	}
	if len(eps.URLs) == 0 {
		return eps, errors.New("no running pod of the app has an address")
	}
	return eps, nil
}
