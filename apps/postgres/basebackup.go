package postgres

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/reboundhq/rebound/apps"
)

// Objects and kind of a PostgreSQL base backup in rebound's repository.
const (
	// KindBaseBackup names the native data of a base backup.
	KindBaseBackup = "postgres-basebackup"
	// ObjectPrefix is where a base backup's objects live in a backup: one
	// tar per tablespace as the server sends them (base.tar for the data
	// directory, <oid>.tar for others), pg_wal.tar with the WAL segments
	// that make it consistent, and the server's backup_manifest.
	ObjectPrefix   = "postgres/"
	ObjectBase     = ObjectPrefix + "base.tar"
	ObjectWAL      = ObjectPrefix + "pg_wal.tar"
	ObjectManifest = ObjectPrefix + "backup_manifest"
)

// BackupParams are what the restore of a base backup needs besides its
// objects; they are NativeData.Params.
type BackupParams struct {
	// StartLSN is where WAL replay begins (the backup's checkpoint redo),
	// StopLSN where the server ended the backup, and WALEnd how far the
	// included WAL reaches: at least StopLSN and the cut.
	StartLSN string `json:"startLSN"`
	StopLSN  string `json:"stopLSN"`
	WALEnd   string `json:"walEnd"`
	Timeline int32  `json:"timeline"`
	// SystemID is the cluster's system identifier: a restored cluster has
	// it, and members cloned from the restored primary share it.
	SystemID string `json:"systemID"`
	// ServerVersion is server_version_num (150004): a restore needs the
	// same major version.
	ServerVersion  int   `json:"serverVersion"`
	WALSegmentSize int64 `json:"walSegmentSize"`
	// Tablespaces other than pg_default and pg_global, by OID and path.
	Tablespaces []Tablespace `json:"tablespaces,omitempty"`
}

// Tablespace is a tablespace of the backed-up cluster outside its data
// directory.
type Tablespace struct {
	OID      uint32 `json:"oid"`
	Location string `json:"location"`
	Object   string `json:"object"`
}

// ErrBackupSetup marks a server that cannot give a base backup as it is
// configured (wal_level, max_wal_senders, the role's REPLICATION): the
// error says which setting and how to change it.
var ErrBackupSetup = errors.New("postgres cannot give a base backup as configured")

// BaseBackup takes a physical base backup of the primary cfg reaches,
// with pg_basebackup's semantics (`pg_basebackup -X stream`), into w:
//
//   - a temporary physical replication slot reserves the WAL from before
//     the backup's start, so the server cannot recycle what the backup
//     needs while it runs;
//   - BASE_BACKUP (fast checkpoint, manifest) streams one tar per
//     tablespace, each straight into the repository;
//   - then the cut (see below), and the WAL from the backup's start to
//     past both its stop position and the cut is streamed from the slot
//     into pg_wal.tar, one full-size segment per member, the last padded
//     with zeros as a preallocated segment is.
//
// The backup is taken from the primary, never from a standby: a
// streaming standby (asynchronous, the default) may lack commits the
// primary has acknowledged, so no cut taken on it could promise that
// every acknowledged commit is in the backup; and only the primary knows
// its current WAL insert position, which the cut is made from.
//
// cfg is a connection to one database of the server; the function makes
// its replication connections from it. Nothing is left on the server: the
// slot is temporary and goes with its connection.
func BaseBackup(ctx context.Context, cfg *pgconn.Config, w apps.BackupWriter) (apps.NativeData, error) {
	endpoint := fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
	sqlc, err := pgconn.ConnectConfig(ctx, sqlConfig(cfg))
	if err != nil {
		return apps.NativeData{}, fmt.Errorf("postgres base backup: connect to %s: %w", endpoint, err)
	}
	defer sqlc.Close(context.WithoutCancel(ctx))
	srv, err := checkBackupSetup(ctx, sqlc, endpoint)
	if err != nil {
		return apps.NativeData{}, err
	}

	walc, err := replicationConnect(ctx, cfg, endpoint)
	if err != nil {
		return apps.NativeData{}, err
	}
	defer walc.Close(context.WithoutCancel(ctx))
	sys, err := pglogrepl.IdentifySystem(ctx, walc)
	if err != nil {
		return apps.NativeData{}, fmt.Errorf("postgres base backup: IDENTIFY_SYSTEM on %s: %w", endpoint, err)
	}
	slot := "rebound_backup_" + randomHex(6)
	if _, err := pglogrepl.CreateReplicationSlot(ctx, walc, slot, "", pglogrepl.CreateReplicationSlotOptions{
		Temporary: true, Mode: pglogrepl.PhysicalReplication, SnapshotAction: "RESERVE_WAL",
	}); err != nil {
		return apps.NativeData{}, setupError(fmt.Errorf("postgres base backup: create a temporary replication slot on %s: %w", endpoint, err), endpoint)
	}

	bbc, err := replicationConnect(ctx, cfg, endpoint)
	if err != nil {
		return apps.NativeData{}, err
	}
	defer bbc.Close(context.WithoutCancel(ctx))
	start, err := pglogrepl.StartBaseBackup(ctx, bbc, pglogrepl.BaseBackupOptions{
		Label: "rebound " + time.Now().UTC().Format(time.RFC3339), Fast: true, NoWait: true,
		Manifest: true, ManifestChecksums: "CRC32C",
	})
	if err != nil {
		return apps.NativeData{}, setupError(fmt.Errorf("postgres base backup: BASE_BACKUP on %s: %w", endpoint, err), endpoint)
	}
	params := BackupParams{
		StartLSN: start.LSN.String(), Timeline: start.TimelineID, SystemID: sys.SystemID,
		ServerVersion: srv.version, WALSegmentSize: srv.segSize,
	}
	data := apps.NativeData{Kind: KindBaseBackup, Endpoint: endpoint}
	archives, err := receiveArchives(ctx, bbc, w, &data)
	if err != nil {
		return apps.NativeData{}, fmt.Errorf("postgres base backup from %s: %w", endpoint, err)
	}
	for _, a := range archives {
		if a.location != "" {
			oid, _ := strconv.ParseUint(strings.TrimSuffix(a.name, ".tar"), 10, 32)
			params.Tablespaces = append(params.Tablespaces, Tablespace{OID: uint32(oid), Location: a.location, Object: a.object})
		}
	}
	stop, err := pglogrepl.FinishBaseBackup(ctx, bbc)
	if err != nil {
		return apps.NativeData{}, fmt.Errorf("postgres base backup from %s: finish: %w", endpoint, err)
	}
	if stop.TimelineID != start.TimelineID {
		return apps.NativeData{}, fmt.Errorf("postgres base backup from %s: the timeline changed from %d to %d during the backup (a failover or promotion): take the backup again", endpoint, start.TimelineID, stop.TimelineID)
	}
	params.StopLSN = stop.LSN.String()

	// The cut. BASE_BACKUP gives a client no moment before the server
	// ends the backup (the stop is the server's own step after the last
	// file), so the cut is not tied to the stop position: it is made here,
	// once the stop is known, and the WAL streamed below reaches past it.
	// Cut() is called first, then the primary's WAL insert position is
	// read. A commit acknowledged before Cut() had its commit record
	// inserted before that read, so it lies below the position read (with
	// synchronous_commit off too, where the ack comes before the flush:
	// the insert position, not the flush position, is what counts); the
	// streamed WAL reaches at least that position and the stop position,
	// and recovery replays all of it. So every commit acknowledged before
	// Cut() is in the restored data.
	w.Cut()
	cutLSN, err := insertLSN(ctx, sqlc)
	if err != nil {
		return apps.NativeData{}, fmt.Errorf("postgres base backup from %s: read the WAL position at the cut: %w", endpoint, err)
	}
	walEnd := max(lastRecordEnd(cutLSN, srv.segSize, srv.blockSize), stop.LSN)
	segStart := start.LSN - start.LSN%pglogrepl.LSN(srv.segSize)
	// Past timeline 1 the WAL comes with its timeline's history file, as
	// pg_basebackup writes it: recovery reads the timeline's ancestry from
	// it.
	var history *pglogrepl.TimelineHistoryResult
	if start.TimelineID > 1 {
		h, err := pglogrepl.TimelineHistory(ctx, walc, start.TimelineID)
		if err != nil {
			return apps.NativeData{}, fmt.Errorf("postgres base backup from %s: history of timeline %d: %w", endpoint, start.TimelineID, err)
		}
		history = &h
	}
	n, err := streamWAL(ctx, walc, w, slot, start.TimelineID, segStart, walEnd, srv.segSize, history)
	if err != nil {
		return apps.NativeData{}, fmt.Errorf("postgres base backup from %s: stream WAL %s to %s: %w", endpoint, segStart, walEnd, err)
	}
	data.Objects = append(data.Objects, ObjectWAL)
	data.Size += n
	params.WALEnd = walEnd.String()
	w.Progress("postgres WAL", n, n, true)

	pj, err := json.Marshal(params)
	if err != nil {
		return apps.NativeData{}, err
	}
	data.Params = pj
	data.Position = walEnd.String()
	return data, nil
}

// NativeBackup takes a base backup of the cluster's current primary
// (apps.NativeBackuper); see BaseBackup.
func (d *Driver) NativeBackup(ctx context.Context, w apps.BackupWriter, _ any) (apps.NativeData, error) {
	cfg, err := d.PrimaryConfig(ctx)
	if err != nil {
		return apps.NativeData{}, fmt.Errorf("postgres base backup: find the primary: %w", err)
	}
	return BaseBackup(ctx, cfg, w)
}

var _ apps.NativeBackuper = (*Driver)(nil)

// serverInfo is what the checks learn of the server.
type serverInfo struct {
	version   int
	segSize   int64
	blockSize int64
}

// checkBackupSetup refuses, before anything is written, a server that
// cannot give a base backup: naming the setting and the fix.
func checkBackupSetup(ctx context.Context, c *pgconn.PgConn, endpoint string) (serverInfo, error) {
	res := c.ExecParams(ctx, `SELECT current_setting('wal_level'), current_setting('max_wal_senders'),
		current_setting('max_replication_slots'), current_setting('server_version_num'),
		(SELECT setting FROM pg_settings WHERE name = 'wal_segment_size') || ' ' || current_setting('wal_block_size'),
		current_user, (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user),
		pg_is_in_recovery()`, nil, nil, nil, nil).Read()
	if res.Err != nil {
		return serverInfo{}, fmt.Errorf("postgres base backup: read the server's settings on %s: %w", endpoint, res.Err)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 8 {
		return serverInfo{}, fmt.Errorf("postgres base backup: read the server's settings on %s: unexpected answer", endpoint)
	}
	r := res.Rows[0]
	walLevel, user := string(r[0]), string(r[5])
	senders, _ := strconv.Atoi(string(r[1]))
	slots, _ := strconv.Atoi(string(r[2]))
	version, _ := strconv.Atoi(string(r[3]))
	var seg, block int64
	if f := strings.Fields(string(r[4])); len(f) == 2 {
		seg, _ = strconv.ParseInt(f[0], 10, 64)
		block, _ = strconv.ParseInt(f[1], 10, 64)
	}
	switch {
	case string(r[7]) == "t":
		return serverInfo{}, fmt.Errorf("%w: %s is a standby: rebound takes base backups from the primary, where every acknowledged commit is (connect to the primary)", ErrBackupSetup, endpoint)
	case walLevel == "minimal":
		return serverInfo{}, fmt.Errorf("%w: wal_level is minimal on %s, which keeps too little WAL for a base backup: set wal_level = replica (with Patroni: postgresql.parameters.wal_level) and restart PostgreSQL", ErrBackupSetup, endpoint)
	case senders < 2:
		return serverInfo{}, fmt.Errorf("%w: max_wal_senders is %d on %s: a base backup needs two WAL sender connections (the files and the WAL stream) besides the replicas': set max_wal_senders to at least the number of replicas + 2 and restart PostgreSQL", ErrBackupSetup, senders, endpoint)
	case slots < 1:
		return serverInfo{}, fmt.Errorf("%w: max_replication_slots is 0 on %s: a base backup holds the WAL it needs with a temporary slot: set max_replication_slots to at least the number of replicas + 1 and restart PostgreSQL", ErrBackupSetup, endpoint)
	case string(r[6]) != "t":
		return serverInfo{}, fmt.Errorf("%w: role %q has no REPLICATION attribute on %s, which a base backup needs: ALTER ROLE %s REPLICATION (and allow it a `host replication %s ...` line in pg_hba.conf), or give rebound a role that has it", ErrBackupSetup, user, endpoint, quoteIdent(user), user)
	case seg <= 0 || block <= 0 || version < 150000:
		if version < 150000 {
			return serverInfo{}, fmt.Errorf("%w: %s runs PostgreSQL %d, rebound's base backup needs PostgreSQL 15 or newer", ErrBackupSetup, endpoint, version)
		}
		return serverInfo{}, fmt.Errorf("postgres base backup: %s reports wal_segment_size and wal_block_size %q", endpoint, r[4])
	}
	return serverInfo{version: version, segSize: seg, blockSize: block}, nil
}

// setupError turns the server's refusals of a replication connection into
// the setting to change.
func setupError(err error, endpoint string) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch {
	case strings.Contains(pe.Message, "max_wal_senders"):
		return fmt.Errorf("%w: %s has no free WAL sender (%s): raise max_wal_senders by 2 and restart PostgreSQL: %w", ErrBackupSetup, endpoint, pe.Message, err)
	case strings.Contains(pe.Message, "replication slot"):
		return fmt.Errorf("%w: %s has no free replication slot (%s): raise max_replication_slots by 1 and restart PostgreSQL: %w", ErrBackupSetup, endpoint, pe.Message, err)
	case strings.Contains(pe.Message, "pg_hba.conf"):
		return fmt.Errorf("%w: %s refuses replication connections from rebound (%s): add a `host replication <user> <rebound's address>/32 scram-sha-256` line to pg_hba.conf (with Patroni: postgresql.pg_hba) and reload: %w", ErrBackupSetup, endpoint, pe.Message, err)
	case pe.Code == "42501" || strings.Contains(pe.Message, "permission denied") || strings.Contains(pe.Message, "replication role"):
		return fmt.Errorf("%w: the role has no REPLICATION attribute on %s (%s): ALTER ROLE <user> REPLICATION, or give rebound a role that has it: %w", ErrBackupSetup, endpoint, pe.Message, err)
	case strings.Contains(pe.Message, "wal_level"):
		return fmt.Errorf("%w: %s: %s: set wal_level = replica and restart PostgreSQL: %w", ErrBackupSetup, endpoint, pe.Message, err)
	}
	return err
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// sqlConfig is cfg for a plain session.
func sqlConfig(cfg *pgconn.Config) *pgconn.Config {
	c := cfg.Copy()
	delete(c.RuntimeParams, "replication")
	return c
}

// replicationConnect opens a physical replication connection.
func replicationConnect(ctx context.Context, cfg *pgconn.Config, endpoint string) (*pgconn.PgConn, error) {
	c := cfg.Copy()
	if c.RuntimeParams == nil {
		c.RuntimeParams = map[string]string{}
	}
	c.RuntimeParams["replication"] = "true"
	conn, err := pgconn.ConnectConfig(ctx, c)
	if err != nil {
		return nil, setupError(fmt.Errorf("postgres base backup: replication connection to %s: %w", endpoint, err), endpoint)
	}
	return conn, nil
}

// lastRecordEnd is where the last record inserted before the insert
// position lsn ends. The insert position of a record that would start a
// page is after the page's header, where nothing has been written yet:
// the WAL to wait for ends at the page boundary (on an idle server no
// more WAL comes for a while, and the WAL sender sends only whole
// records' flushed bytes).
func lastRecordEnd(lsn pglogrepl.LSN, segSize, blockSize int64) pglogrepl.LSN {
	const shortHeader, longHeader = 24, 40 // MAXALIGNed XLogPageHeaderData, XLogLongPageHeaderData
	switch {
	case int64(lsn)%segSize == longHeader:
		return lsn - longHeader
	case int64(lsn)%blockSize == shortHeader:
		return lsn - shortHeader
	}
	return lsn
}

func insertLSN(ctx context.Context, c *pgconn.PgConn) (pglogrepl.LSN, error) {
	res := c.ExecParams(ctx, "SELECT pg_current_wal_insert_lsn()::text", nil, nil, nil, nil).Read()
	if res.Err != nil {
		return 0, res.Err
	}
	if len(res.Rows) != 1 {
		return 0, errors.New("no answer")
	}
	return pglogrepl.ParseLSN(string(res.Rows[0][0]))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// archive is one tar the server sent.
type archive struct {
	name, location, object string
}

// receiveArchives reads BASE_BACKUP's copy stream (the PostgreSQL 15
// format: 'n' starts an archive, 'd' carries its bytes, 'm' starts the
// manifest, 'p' reports progress) into one object per archive.
func receiveArchives(ctx context.Context, c *pgconn.PgConn, w apps.BackupWriter, data *apps.NativeData) ([]archive, error) {
	var (
		out   []archive
		cur   *objectStream
		total int64
	)
	finish := func() error {
		if cur == nil {
			return nil
		}
		n, err := cur.close()
		cur = nil
		if err != nil {
			return err
		}
		data.Size += n
		return nil
	}
	defer func() {
		if cur != nil {
			cur.abort(errors.New("base backup stream ended early"))
		}
	}()
	for {
		msg, err := c.ReceiveMessage(ctx)
		if err != nil {
			return nil, fmt.Errorf("receive: %w", err)
		}
		switch msg := msg.(type) {
		case *pgproto3.CopyOutResponse, *pgproto3.NoticeResponse:
		case *pgproto3.CopyData:
			if len(msg.Data) == 0 {
				return nil, errors.New("empty copy message")
			}
			switch msg.Data[0] {
			case 'n':
				if err := finish(); err != nil {
					return nil, err
				}
				parts := strings.SplitN(string(msg.Data[1:]), "\x00", 3)
				if len(parts) < 2 || parts[0] == "" || strings.ContainsAny(parts[0], "/\\") {
					return nil, fmt.Errorf("malformed new-archive message %q", msg.Data)
				}
				a := archive{name: parts[0], location: parts[1], object: ObjectPrefix + parts[0]}
				out = append(out, a)
				data.Objects = append(data.Objects, a.object)
				cur = newObjectStream(ctx, w, a.object, func(n int64) { w.Progress("postgres base backup", total+n, 0, false) })
			case 'm':
				if err := finish(); err != nil {
					return nil, err
				}
				data.Objects = append(data.Objects, ObjectManifest)
				cur = newObjectStream(ctx, w, ObjectManifest, nil)
			case 'd':
				if cur == nil {
					return nil, errors.New("archive data before any archive started")
				}
				if err := cur.write(msg.Data[1:]); err != nil {
					return nil, err
				}
				total += int64(len(msg.Data) - 1)
			case 'p':
			default:
				return nil, fmt.Errorf("unknown copy message type %q", msg.Data[0])
			}
		case *pgproto3.CopyDone:
			if err := finish(); err != nil {
				return nil, err
			}
			w.Progress("postgres base backup", total, total, true)
			return out, nil
		case *pgproto3.ErrorResponse:
			return nil, pgconn.ErrorResponseToPgError(msg)
		default:
			return nil, fmt.Errorf("unexpected message %T in the backup stream", msg)
		}
	}
}

// objectStream feeds one object of the backup through a pipe: AddObject
// reads it in its own goroutine while the caller writes what arrives,
// through a buffer of a MiB, so the connection is read while the
// repository chunks and compresses the previous MiB (the server sends
// its archives in small messages).
type objectStream struct {
	pw   *io.PipeWriter
	bw   *bufio.Writer
	done chan error
	n    int64
	rep  func(int64)
	last time.Time
}

func newObjectStream(ctx context.Context, w apps.BackupWriter, name string, report func(int64)) *objectStream {
	pr, pw := io.Pipe()
	s := &objectStream{pw: pw, bw: bufio.NewWriterSize(pw, 1<<20), done: make(chan error, 1), rep: report}
	go func() {
		err := w.AddObject(ctx, name, pr)
		pr.CloseWithError(err) // unblocks a writer when AddObject gave up early
		s.done <- err
	}()
	return s
}

// write hands p to AddObject; it is copied or read before write returns
// (p is the connection's buffer, reused by the next receive).
func (s *objectStream) write(p []byte) error {
	if _, err := s.bw.Write(p); err != nil {
		s.pw.CloseWithError(err)
		return fmt.Errorf("store in the backup: %w", <-s.done)
	}
	s.n += int64(len(p))
	if s.rep != nil && time.Since(s.last) > 200*time.Millisecond {
		s.last = time.Now()
		s.rep(s.n)
	}
	return nil
}

func (s *objectStream) close() (int64, error) {
	if err := s.bw.Flush(); err != nil {
		s.pw.CloseWithError(err)
		return 0, fmt.Errorf("store in the backup: %w", <-s.done)
	}
	s.pw.Close()
	if err := <-s.done; err != nil {
		return 0, fmt.Errorf("store in the backup: %w", err)
	}
	return s.n, nil
}

func (s *objectStream) abort(err error) {
	s.pw.CloseWithError(err)
	<-s.done
}

// streamWAL streams the WAL of timeline tli from from (a segment start)
// until at least to from the slot into the object pg_wal.tar: every
// segment a tar member of segSize bytes named as in pg_wal, the last
// padded with zeros past the streamed end, as a preallocated segment is;
// replay stops at the first record that is not there.
func streamWAL(ctx context.Context, c *pgconn.PgConn, w apps.BackupWriter, slot string, tli int32, from, to pglogrepl.LSN, segSize int64, history *pglogrepl.TimelineHistoryResult) (int64, error) {
	if err := pglogrepl.StartReplication(ctx, c, slot, from, pglogrepl.StartReplicationOptions{Timeline: tli, Mode: pglogrepl.PhysicalReplication}); err != nil {
		return 0, err
	}
	obj := newObjectStream(ctx, w, ObjectWAL, nil)
	tw := tar.NewWriter(writerFunc(obj.write))
	if history != nil {
		if strings.ContainsAny(history.FileName, "/\\") || history.FileName == "" {
			obj.abort(errors.New("bad history file name"))
			return 0, fmt.Errorf("the server named timeline %d's history file %q", tli, history.FileName)
		}
		err := tw.WriteHeader(&tar.Header{Name: history.FileName, Mode: 0o600, Size: int64(len(history.Content)), ModTime: time.Now(), Typeflag: tar.TypeReg, Format: tar.FormatPAX})
		if err == nil {
			_, err = tw.Write(history.Content)
		}
		if err != nil {
			obj.abort(err)
			return 0, err
		}
	}
	pos := from
	inSeg := int64(0) // bytes of the current segment written
	startSeg := func() error {
		return tw.WriteHeader(&tar.Header{
			Name: walFileName(tli, uint64(pos)/uint64(segSize), segSize), Mode: 0o600, Size: segSize,
			ModTime: time.Now(), Typeflag: tar.TypeReg, Format: tar.FormatPAX,
		})
	}
	fail := func(err error) (int64, error) {
		obj.abort(err)
		return 0, err
	}
	if err := startSeg(); err != nil {
		return fail(err)
	}
	lastStatus := time.Now()
	for pos < to {
		msg, err := c.ReceiveMessage(ctx)
		if err != nil {
			return fail(fmt.Errorf("receive: %w", err))
		}
		switch msg := msg.(type) {
		case *pgproto3.CopyData:
			if len(msg.Data) == 0 {
				return fail(errors.New("empty copy message"))
			}
			switch msg.Data[0] {
			case pglogrepl.XLogDataByteID:
				x, err := pglogrepl.ParseXLogData(msg.Data[1:])
				if err != nil {
					return fail(err)
				}
				if x.WALStart != pos {
					return fail(fmt.Errorf("WAL arrived at %s, expected %s", x.WALStart, pos))
				}
				b := x.WALData
				for len(b) > 0 {
					if inSeg == segSize {
						inSeg = 0
						if err := startSeg(); err != nil {
							return fail(err)
						}
					}
					k := min(int64(len(b)), segSize-inSeg)
					if _, err := tw.Write(b[:k]); err != nil {
						return fail(err)
					}
					b, inSeg, pos = b[k:], inSeg+k, pos+pglogrepl.LSN(k)
				}
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				k, err := pglogrepl.ParsePrimaryKeepaliveMessage(msg.Data[1:])
				if err != nil {
					return fail(err)
				}
				if k.ReplyRequested || time.Since(lastStatus) > 5*time.Second {
					// Report what was received so the server does not time
					// the connection out; nothing here is "applied".
					if err := pglogrepl.SendStandbyStatusUpdate(ctx, c, pglogrepl.StandbyStatusUpdate{WALWritePosition: pos}); err != nil {
						return fail(err)
					}
					lastStatus = time.Now()
				}
			default:
				return fail(fmt.Errorf("unknown replication message type %q", msg.Data[0]))
			}
		case *pgproto3.CopyDone:
			return fail(fmt.Errorf("the server ended timeline %d at %s before %s (a failover or promotion during the backup): take the backup again", tli, pos, to))
		case *pgproto3.ErrorResponse:
			return fail(pgconn.ErrorResponseToPgError(msg))
		case *pgproto3.NoticeResponse:
		default:
			return fail(fmt.Errorf("unexpected message %T in the WAL stream", msg))
		}
	}
	// Pad the last segment.
	zeros := make([]byte, 64<<10)
	for inSeg < segSize {
		k := min(int64(len(zeros)), segSize-inSeg)
		if _, err := tw.Write(zeros[:k]); err != nil {
			return fail(err)
		}
		inSeg += k
	}
	if err := tw.Close(); err != nil {
		return fail(err)
	}
	return obj.close()
}

// walFileName is the name of the WAL segment segNo of timeline tli.
func walFileName(tli int32, segNo uint64, segSize int64) string {
	perID := uint64(0x100000000) / uint64(segSize)
	return fmt.Sprintf("%08X%08X%08X", uint32(tli), uint32(segNo/perID), uint32(segNo%perID))
}

type writerFunc func([]byte) error

func (f writerFunc) Write(p []byte) (int, error) {
	if err := f(p); err != nil {
		return 0, err
	}
	return len(p), nil
}
