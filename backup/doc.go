// Package backup is rebound's own backup and restore engine: it captures a
// whole application — its data by app-native means where a driver has
// them, its config and its Kubernetes metadata — into a repository
// (package backup/repo), and restores it into the same namespace (a roll
// back) or another namespace or cluster, then waits until the app is Ready
// and healthy. The harness uses it so that "human error → restore from
// backup" is measured end to end: a scenario backs up before its fault and
// recovers with Restore, whose duration counts into RTO (see ForRunner).
//
// A backup is one repository snapshot tagged TagBackup. It holds a
// Manifest (manifest.json), one object per Kubernetes object of the app,
// chosen by namespace and label selector and stripped of status and every
// cluster-assigned field by the backup item actions, each Secret sealed
// apart under a key derived from the repository key (unsealed only on the
// way into the cluster), and the data:
//
//   - an app whose driver has a native backup (apps.NativeBackuper: an
//     etcd snapshot, an Elasticsearch snapshot): whatever the driver
//     writes through the apps.BackupWriter the engine hands it, cut where
//     the driver says (db level), recorded as apps.NativeData; the
//     driver's options come in Request.AppOptions, built with the app's
//     own type. Its restore is the app's RestorePlanner, asked before the
//     cluster changes: data-mover pods write the data into claims while
//     the workloads are stopped (etcd: every member rebuilt from the
//     snapshot), and AfterReady brings it into the running app
//     (Elasticsearch: the snapshot restored);
//   - any other app: a copy of each bound PVC's files, read by a
//     data-mover pod running the rebound binary (crash level, or app
//     level when the driver can freeze writes).
//
// The engine finds an app by the driver name a backup records
// (apps.Lookup), never by a type switch. Objects the app's RuntimeState
// claims (state the running app keeps for itself) are not captured, and
// a restore deletes them once the workloads are stopped.
//
// Each backup records the consistency it achieved (Level): crash, app, db,
// or system when data, config and metadata were all captured.
//
// It records its consistent cut twice: in wall-clock time, for people, and
// as a clock.Instant read at the cut in the process that took it, so that a
// game day on the same host and boot places it on its own timeline (a cut
// from another host is refused, never guessed). A crash-level volume copy,
// read file by file while the app ran, is consistent to no instant: it
// claims no cut and says why (Manifest.CutUnknown).
//
// The data movers receive the repository key in a Secret that lives only
// as long as they do; with WithJournal the Secret and the pods are
// journaled before they are created, so `rebound cleanup` deletes them
// after a crash or kill -9.
//
// With nothing but the repository URL and key, a backup restores into an
// empty cluster: the namespace, ServiceAccounts, Roles, RoleBindings,
// ConfigMaps, Secrets, Services, PVCs, PDBs, data, then StatefulSets and
// Deployments, in that order. Manifests written before the driver seam
// (format 1) still restore: their data entries decode into NativeData.
//
// Per-resource actions (BackupItemAction, RestoreItemAction) are
// registered by name, the built-in ones the same way extensions would be.
//
// The engine must not inject faults, measure anything or know scenarios;
// it stores through the repository's exported API only and never writes
// the repository's objects itself. It never logs or prints a Secret's
// content or the repository key.
package backup
