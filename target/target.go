package target

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/clock"
	"github.com/reboundhq/rebound/scenarios"
)

// Target is an app resolved against a cluster.
type Target struct {
	// Cluster names the cluster for people ("lab rebound", a context).
	Cluster string
	// Kube is the cluster's API; Namespace and Selector choose the app's
	// objects in it.
	Kube      kubernetes.Interface
	Namespace string
	Selector  labels.Selector
	// DriverName is the app driver's registered name (apps.Lookup);
	// Driver the driver, connected, or nil.
	DriverName string
	Driver     apps.Driver
	// Endpoints are the app's members as the driver was first given them.
	Endpoints apps.Endpoints
	// Prefix is where this scenario's probe records live
	// (apps.App.Records).
	Prefix string
	// Backup is the scenario's backup settings.
	Backup scenarios.Backup
	// BackupOptions is what the app's native backup needs besides its
	// connection (apps.NativeBackuper's opts), built with the app's own
	// options type from Backup; nil when the app needs none.
	BackupOptions any
	// AckedBefore, once the probes run, lists the ids of the write probe
	// acknowledged before an instant of this host's monotonic clock (nil
	// when the instant cannot be placed), so a backup records what a
	// restore of it must hold.
	AckedBefore func(clock.Instant) []string
}

// BackupCut is a backup and where its consistent cut is.
type BackupCut struct {
	ID string
	// At is the cut on the host's monotonic clock, read by the process
	// that took it; zero when Unknown. The runner places it on the run's
	// timeline with Timeline.HostOffset, which refuses an instant of
	// another host or boot rather than trust a wall clock.
	At clock.Instant
	// Wall is the cut's wall-clock time, for people.
	Wall time.Time
	// Unknown says why no instant is known that the copy is consistent to
	// (a crash-level volume copy made file by file while the app ran);
	// empty when At holds. The measurement then makes no bug check.
	Unknown string
}

// BackupEngine takes and restores the backups scenarios ask for.
type BackupEngine interface {
	// Backup takes a backup of the target app and says where its cut is.
	Backup(ctx context.Context, t *Target) (BackupCut, error)
	// Restore restores backup id into the target's namespace and returns
	// once the app is Ready and healthy again.
	Restore(ctx context.Context, t *Target, id string) error
	// Latest finds the newest backup of the target's namespace carrying
	// tag (a schedule's) whose cut is before the instant given, on the same
	// boot, for scenarios that restore what a schedule running during the
	// game day took. Its error says why none qualifies, naming backups of
	// the tag whose cut cannot be placed (taken on another host or boot).
	Latest(ctx context.Context, t *Target, tag string, before clock.Instant) (BackupCut, error)
}

// BackupScheduler is a BackupEngine that runs a backup schedule itself,
// for scenarios whose schedule runs during the game day in rebound's own
// process (spec.backup.every).
type BackupScheduler interface {
	// Schedule takes a backup of the target tagged tag at once, and then
	// one every interval, until ctx ends; taken is called after each, with
	// the error of one that failed (the schedule goes on). It returns when
	// ctx ends.
	Schedule(ctx context.Context, t *Target, tag string, every time.Duration, taken func(BackupCut, error))
}
