package apps

import (
	"context"
	"errors"
	"net"
	"sort"
	"sync"
)

// ErrIndeterminate wraps a write error whose outcome is unknown (a timeout,
// a dropped connection): the write may or may not have been applied. The
// write probe records it as "info", in Jepsen's terms.
var ErrIndeterminate = errors.New("outcome unknown")

// ErrNotSupported is returned by optional operations a driver lacks.
var ErrNotSupported = errors.New("not supported by this app driver")

// Endpoints say how to reach an app: one URL per member, with the
// Kubernetes pod name of each member when known.
type Endpoints struct {
	URLs []string
	Pods []string // Pods[i] serves URLs[i]; may be empty
}

// Config is what a driver is created with.
type Config struct {
	Endpoints Endpoints
	// Prefix namespaces the records a run writes (an etcd key prefix, an
	// Elasticsearch index name), so runs never see each other's data.
	Prefix string
	// Username, Password and CACert are optional credentials.
	Username, Password string
	CACert             []byte
	// ServerName is the name the server's TLS certificate is verified
	// against, whatever address is dialled; empty means the dialled host.
	ServerName string
	// ClientCert and ClientKey are an optional client certificate and its
	// key (PEM), for apps that ask for one. TLSConfig builds all of this
	// into a *tls.Config.
	ClientCert, ClientKey []byte
	// Dial opens the driver's connections (nil: a plain dialer). On the
	// lab it opens them inside the lab's network namespace, where pod IPs
	// route.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Health is the app's own view of itself.
type Health struct {
	// Full is true when every member is healthy and redundancy is complete
	// (etcd: all members healthy with a leader; Elasticsearch: green).
	Full bool
	// Serving is true when the app can take reads and writes at all.
	Serving bool
	Members int    // members the app knows of
	Healthy int    // members that answered healthy
	Detail  string // a line for reports, e.g. "2/3 members healthy" or "yellow"
}

// Driver is one app, connected. Methods are safe for concurrent use by
// several probe goroutines; every call takes its deadline from ctx.
type Driver interface {
	// Write stores the record id (unique within the run). nil means the app
	// acknowledged it; an error wrapping ErrIndeterminate means the outcome
	// is unknown; any other error means it was certainly not applied.
	Write(ctx context.Context, id string) error
	// Read does one read the app must answer to be available (a
	// linearizable read where the app has one).
	Read(ctx context.Context) error
	// ReadAll returns the ids of every record of this run present now.
	ReadAll(ctx context.Context) ([]string, error)
	// Health reports the app's health and redundancy.
	Health(ctx context.Context) (Health, error)
	// Leader names the pod of the leader or primary, for faults aimed at
	// it; ErrNotSupported where the app has no single leader.
	Leader(ctx context.Context) (string, error)
	// DeleteData is the app-level human error: delete the records under
	// target (an etcd key prefix, an Elasticsearch index), returning how
	// many were deleted.
	DeleteData(ctx context.Context, target string) (int, error)
	// Close releases connections.
	Close() error
}

// EndpointUpdater is a driver whose endpoints can change while it runs: a
// member recreated on a new pod has a new address.
type EndpointUpdater interface {
	SetEndpoints(Endpoints)
}

// Factory creates a driver.
type Factory func(ctx context.Context, cfg Config) (Driver, error)

var (
	mu       sync.Mutex
	registry = map[string]App{}
)

// Register makes an app available by its name; app packages call it from
// init.
func Register(a App) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[a.Name]; dup {
		panic("apps: app registered twice: " + a.Name)
	}
	registry[a.Name] = a
}

// New creates the named driver.
func New(ctx context.Context, name string, cfg Config) (Driver, error) {
	a, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	return a.New(ctx, cfg)
}

// Names lists the registered drivers.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Failover is what a driver says about recovery path failover: promoting
// a standby copy of its app that already runs in another cluster (the DR
// region). A scenario asking for it is refused before any fault, with the
// driver's reason, rather than pretending: no driver can promote a standby
// yet. The runner calls it once, before the fault.
type Failover interface {
	// FailoverSupport returns nil when the app can run a standby in
	// another cluster for rebound to promote, and otherwise an error
	// wrapping ErrNotSupported that says why not.
	FailoverSupport() error
}
