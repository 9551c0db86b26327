package e2e

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/reboundhq/rebound/lab/labnet"
)

// etcdPods returns the demo etcd pods by name.
func etcdPods(t *testing.T, ctx context.Context, cs kubernetes.Interface) map[string]*corev1.Pod {
	t.Helper()
	pods, err := cs.CoreV1().Pods(demoNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=etcd"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*corev1.Pod{}
	for i := range pods.Items {
		out[pods.Items[i].Name] = &pods.Items[i]
	}
	return out
}

// etcdClient connects from the host to every member through the pod IPs.
func etcdClient(t *testing.T, ctx context.Context, cs kubernetes.Interface) (*clientv3.Client, []string) {
	t.Helper()
	var eps []string
	for _, p := range etcdPods(t, ctx, cs) {
		if p.Status.PodIP == "" {
			t.Fatalf("pod %s has no IP", p.Name)
		}
		eps = append(eps, fmt.Sprintf("http://%s:2379", p.Status.PodIP))
	}
	return labEtcd(t, eps), eps
}

// labEtcd is an etcd client of the test's own, independent of rebound's
// driver, that reaches pod IPs inside the lab's network namespace.
func labEtcd(t *testing.T, eps []string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: eps, DialTimeout: 2 * time.Second, Logger: zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return labnet.Dial(ctx, "tcp", addr)
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// healthyMembers counts members that answer a status request with no errors.
func healthyMembers(ctx context.Context, cli *clientv3.Client, eps []string) int {
	n := 0
	for _, ep := range eps {
		c, cancel := context.WithTimeout(ctx, time.Second)
		st, err := cli.Status(c, ep)
		cancel()
		if err == nil && len(st.Errors) == 0 && st.Leader != 0 {
			n++
		}
	}
	return n
}

// writer puts uniquely keyed records and remembers which were acknowledged.
type writer struct {
	mu       sync.Mutex
	acked    []string
	ackedAt  []time.Time
	attempts int
	stop     chan struct{}
	done     chan struct{}
}

func startWriter(cli *clientv3.Client, prefix string) *writer {
	w := &writer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			key := fmt.Sprintf("%s/%06d", prefix, i)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := cli.Put(ctx, key, "v")
			cancel()
			w.mu.Lock()
			w.attempts++
			if err == nil {
				w.acked = append(w.acked, key)
				w.ackedAt = append(w.ackedAt, time.Now())
			}
			w.mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return w
}

// ackedSince counts writes acknowledged after t.
func (w *writer) ackedSince(t time.Time) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, at := range w.ackedAt {
		if at.After(t) {
			n++
		}
	}
	return n
}

func (w *writer) finish() []string {
	close(w.stop)
	<-w.done
	return w.acked
}

// assertAllPresent reads the prefix back and fails for every acknowledged
// key that is missing: the lost writes.
func assertAllPresent(t *testing.T, ctx context.Context, cli *clientv3.Client, prefix string, acked []string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := cli.Get(c, prefix+"/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	present := map[string]bool{}
	for _, kv := range resp.Kvs {
		present[string(kv.Key)] = true
	}
	var lost []string
	for _, k := range acked {
		if !present[k] {
			lost = append(lost, k)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d acknowledged writes lost, first: %v", len(lost), len(acked), lost[:min(5, len(lost))])
	}
	if len(acked) == 0 {
		t.Error("no write was acknowledged at all")
	}
}

// waitFor polls cond until it holds or timeout passes, returning how long it took.
func waitFor(t *testing.T, ctx context.Context, what string, timeout time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	return time.Since(start)
}
