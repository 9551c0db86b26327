package apps

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// App is what rebound knows about one app without a connection to it. An
// app's package registers it by name from init (Register); runner, backup
// and the CLI find it by that name and never by a type switch.
type App struct {
	// Name is the driver name scenarios and the CLI use (target.driver).
	Name string
	// ClientPort is the port members serve clients on: endpoints made from
	// pod IPs or port-forwards use it.
	ClientPort int
	// Scheme is the URL scheme of endpoints made from pod IPs when the
	// scenario names none ("http", "postgres").
	Scheme string
	// RecordsName says where a run's probe records live (an etcd key
	// prefix, an Elasticsearch index, a PostgreSQL table), from the run id
	// and the scenario's name; it becomes Config.Prefix. Nil means
	// "/rebound/<run>/<scenario>".
	RecordsName func(runID, scenario string) string
	// New connects a driver.
	New Factory
	// Restore plans the restore of the data the app's NativeBackup wrote;
	// nil for an app without a native backup.
	Restore RestorePlanner
	// RuntimeState reports whether an object of the app's namespace holds
	// state the running app writes for itself (Patroni's leader lock and
	// cluster config): a backup does not capture it, and a restore deletes
	// it once the app's workloads are stopped, so the restored app starts
	// from its data and not from the state of the app it replaces. Nil
	// means none.
	RuntimeState func(u *unstructured.Unstructured) bool
}

// Records is the Prefix a run's probe records get.
func (a App) Records(runID, scenario string) string {
	if a.RecordsName != nil {
		return a.RecordsName(runID, scenario)
	}
	return fmt.Sprintf("/rebound/%s/%s", runID, scenario)
}

// Lookup finds a registered app by name.
func Lookup(name string) (App, error) {
	mu.Lock()
	a, ok := registry[name]
	mu.Unlock()
	if !ok {
		return App{}, fmt.Errorf("no app driver %q (have %v)", name, Names())
	}
	return a, nil
}
