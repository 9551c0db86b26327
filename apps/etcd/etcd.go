package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/reboundhq/rebound/apps"
)

func init() { apps.Register(apps.App{Name: "etcd", ClientPort: 2379, Scheme: "http", New: New}) }

// Driver is a connected etcd cluster.
type Driver struct {
	cli    *clientv3.Client
	eps    []string
	pods   []string
	prefix string
	tls    *tlsFailure // nil without TLS

	mu sync.Mutex // guards eps and pods
}

var _ apps.Driver = (*Driver)(nil)

// New connects to etcd through every endpoint.
func New(ctx context.Context, cfg apps.Config) (apps.Driver, error) {
	if len(cfg.Endpoints.URLs) == 0 {
		return nil, errors.New("etcd driver: no endpoints")
	}
	prefix := strings.TrimSuffix(cfg.Prefix, "/")
	if prefix == "" {
		prefix = "/rebound"
	}
	var dialOpts []grpc.DialOption
	if cfg.Dial != nil {
		dialOpts = append(dialOpts, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return cfg.Dial(ctx, "tcp", addr)
		}))
	}
	var tlsConfig *tls.Config
	var last *tlsFailure
	if slices.ContainsFunc(cfg.Endpoints.URLs, func(u string) bool { return strings.HasPrefix(u, "https://") }) {
		tc, err := cfg.TLSConfig()
		if err != nil {
			return nil, fmt.Errorf("etcd driver: %w", err)
		}
		tlsConfig = tc
		// The client's own dial options come after the credentials it
		// makes of TLS, so these win. TLS stays set all the same: should
		// that order change, the connection still verifies, for the
		// dialled host.
		last = &tlsFailure{}
		dialOpts = append(dialOpts, grpc.WithTransportCredentials(tlsCreds{credentials.NewTLS(tc), cfg, last}))
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: cfg.Endpoints.URLs, DialTimeout: 2 * time.Second, Logger: zap.NewNop(), DialOptions: dialOpts,
		Username: cfg.Username, Password: cfg.Password, TLS: tlsConfig,
		// Keep each call's own deadline the only limit: no hidden retries
		// that would stretch a probe past its timeout.
		DialKeepAliveTime: 2 * time.Second, DialKeepAliveTimeout: time.Second,
	})
	if err != nil {
		d := &Driver{tls: last}
		return nil, fmt.Errorf("etcd driver: %w", d.why(cfg.ExplainTLS(err)))
	}
	return &Driver{cli: cli, eps: cfg.Endpoints.URLs, pods: cfg.Endpoints.Pods, prefix: prefix, tls: last}, nil
}

// tlsCreds is gRPC's TLS credentials as a driver needs them. gRPC verifies
// the host it dials (a pod IP, 127.0.0.1 of a port-forward) whatever the
// tls.Config says; these verify Config.ServerName instead when it is set.
// And gRPC only tells a call that waited for a connection that its
// deadline passed: these keep the last TLS failure, explained, so the
// driver's errors can say why.
type tlsCreds struct {
	credentials.TransportCredentials
	cfg  apps.Config
	last *tlsFailure
}

// tlsFailure is the last TLS failure of a driver's connections; nil once a
// connection worked.
type tlsFailure struct {
	mu  sync.Mutex
	err error
}

func (f *tlsFailure) set(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *tlsFailure) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (c tlsCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	if c.cfg.ServerName != "" {
		authority = c.cfg.ServerName
	}
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	if err != nil {
		err = c.cfg.ExplainTLS(err)
		if errors.Is(err, apps.ErrTLS) {
			c.last.set(err)
		}
		return nil, nil, err
	}
	return tlsConn{conn, c}, info, nil
}

func (c tlsCreds) Clone() credentials.TransportCredentials {
	return tlsCreds{c.TransportCredentials.Clone(), c.cfg, c.last}
}

// tlsConn notes a refusal the server sends after the handshake (TLS 1.3
// servers refuse a missing client certificate on the first read).
type tlsConn struct {
	net.Conn
	c tlsCreds
}

func (t tlsConn) Read(b []byte) (int, error) {
	n, err := t.Conn.Read(b)
	switch {
	case n > 0:
		t.c.last.set(nil)
	case err != nil:
		if err := t.c.cfg.ExplainTLS(err); errors.Is(err, apps.ErrTLS) {
			t.c.last.set(err)
		}
	}
	return n, err
}

// why adds the last TLS failure to a call's error: with it, "context
// deadline exceeded" says that the certificate did not verify, and how to
// fix that.
func (d *Driver) why(err error) error {
	if err == nil || d.tls == nil || errors.Is(err, apps.ErrTLS) {
		return err
	}
	if last := d.tls.get(); last != nil {
		return fmt.Errorf("%w (the last connection failed: %w)", err, last)
	}
	return err
}

func (d *Driver) key(id string) string { return d.prefix + "/" + id }

// SetEndpoints points the driver at the members' current addresses.
func (d *Driver) SetEndpoints(e apps.Endpoints) {
	d.mu.Lock()
	d.eps, d.pods = e.URLs, e.Pods
	d.mu.Unlock()
	d.cli.SetEndpoints(e.URLs...)
}

func (d *Driver) endpoints() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.eps...)
}

// Client exposes the underlying client, for the backup engine.
func (d *Driver) Client() *clientv3.Client { return d.cli }

// Write puts the record's key.
func (d *Driver) Write(ctx context.Context, id string) error {
	_, err := d.cli.Put(ctx, d.key(id), "1")
	return d.why(classify(err))
}

// classify tells certain failures (the request was refused before it was
// proposed to raft) from indeterminate ones (it may have been committed).
func classify(err error) error {
	if err == nil {
		return nil
	}
	for _, certain := range []error{rpctypes.ErrNoLeader, rpctypes.ErrNotCapable, rpctypes.ErrGRPCNoSpace, rpctypes.ErrTooManyRequests, rpctypes.ErrPermissionDenied, rpctypes.ErrAuthFailed, rpctypes.ErrRequestTooLarge} {
		if errors.Is(err, certain) || rpctypes.ErrorDesc(err) == rpctypes.ErrorDesc(certain) {
			return err
		}
	}
	if s, ok := status.FromError(err); ok && (s.Code() == codes.Unavailable && strings.Contains(s.Message(), "connection refused")) {
		return err // never reached a server
	}
	return fmt.Errorf("%w: %w", apps.ErrIndeterminate, err)
}

// Read does a linearizable read, which needs a quorum.
func (d *Driver) Read(ctx context.Context) error {
	_, err := d.cli.Get(ctx, d.key("_probe"))
	return d.why(err)
}

// ReadAll lists the run's keys, a page at a time.
func (d *Driver) ReadAll(ctx context.Context) ([]string, error) {
	var ids []string
	from := d.prefix + "/"
	end := clientv3.GetPrefixRangeEnd(from)
	for {
		resp, err := d.cli.Get(ctx, from, clientv3.WithRange(end), clientv3.WithKeysOnly(), clientv3.WithLimit(10000), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
		if err != nil {
			return nil, fmt.Errorf("read back %s: %w", d.prefix, d.why(err))
		}
		for _, kv := range resp.Kvs {
			ids = append(ids, strings.TrimPrefix(string(kv.Key), d.prefix+"/"))
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return ids, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// Health asks every member for its status.
func (d *Driver) Health(ctx context.Context) (apps.Health, error) {
	eps := d.endpoints()
	h := apps.Health{Members: len(eps)}
	// Every call runs at once, none after another: a member that does not
	// answer holds its call until ctx ends, and a read left with no time
	// would report a lost quorum the cluster never lost.
	var wg sync.WaitGroup
	var readErr error
	wg.Go(func() { readErr = d.Read(ctx) })
	wg.Go(func() {
		if ml, err := d.cli.MemberList(ctx); err == nil {
			h.Members = len(ml.Members)
		}
	})
	healthy := make([]bool, len(eps))
	for i, ep := range eps {
		wg.Go(func() {
			st, err := d.cli.Status(ctx, ep)
			healthy[i] = err == nil && len(st.Errors) == 0 && st.Leader != 0
		})
	}
	wg.Wait()
	for _, ok := range healthy {
		if ok {
			h.Healthy++
		}
	}
	h.Serving = readErr == nil
	h.Full = h.Serving && h.Healthy == len(eps) && h.Members == len(eps)
	h.Detail = fmt.Sprintf("%d/%d members healthy", h.Healthy, h.Members)
	if !h.Serving {
		h.Detail += ", linearizable read failed: " + readErr.Error()
	}
	return h, nil
}

// Leader names the pod of the elected leader: member names are pod names.
func (d *Driver) Leader(ctx context.Context) (string, error) {
	ml, err := d.cli.MemberList(ctx)
	if err != nil {
		return "", fmt.Errorf("etcd member list: %w", d.why(err))
	}
	for _, ep := range d.endpoints() {
		st, err := d.cli.Status(ctx, ep)
		if err != nil || st.Leader == 0 {
			continue
		}
		for _, m := range ml.Members {
			if m.ID == st.Leader {
				return m.Name, nil
			}
		}
	}
	return "", errors.New("etcd has no leader now")
}

// DeleteData deletes every key under prefix, as `etcdctl del --prefix` does.
func (d *Driver) DeleteData(ctx context.Context, prefix string) (int, error) {
	if prefix == "" {
		return 0, errors.New("etcd app-delete: empty prefix")
	}
	resp, err := d.cli.Delete(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("delete prefix %q: %w", prefix, d.why(err))
	}
	return int(resp.Deleted), nil
}

// Snapshot streams a consistent snapshot of the keyspace from one member
// (the app-native backup), and the revision it was taken at.
func (d *Driver) Snapshot(ctx context.Context) (io.ReadCloser, error) {
	return d.cli.Snapshot(ctx)
}

// Close closes the client.
func (d *Driver) Close() error { return d.cli.Close() }
