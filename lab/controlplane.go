package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/reboundhq/rebound/lab/addons"
	"github.com/reboundhq/rebound/logging"
)

// Control-plane timings of the lab. Kubernetes' defaults are tuned for
// fleets of thousands of nodes; the lab keeps the same mechanisms with
// shorter clocks, so a stopped node is NotReady within about 10 s instead of
// 50 s, and pods on it are evicted after 30 s instead of 300 s:
//
//	kubelet lease renew            2 s   (default 10 s)
//	node-monitor-period            1 s   (default 5 s)
//	node-monitor-grace-period      8 s   (default 50 s)
//	default-*-toleration-seconds  30 s   (default 300 s)
//
// See docs/lab.md.
const (
	nodeMonitorPeriod      = time.Second
	nodeMonitorGracePeriod = 8 * time.Second
	tolerationSeconds      = "30"
	// NotReadyWithin is how long after a node stop the node-lifecycle
	// controller has marked it NotReady at the latest: the grace period
	// after the last lease renewal, plus a monitor period to notice.
	NotReadyWithin = 2*time.Second + nodeMonitorGracePeriod + 2*nodeMonitorPeriod
)

// kwokctlConfig makes kwokctl run the real control plane binaries with the
// lab's settings, and no kwok controller: the lab's node agent is the
// kubelet of every node. The API server allocates ClusterIPs from the
// lab's Service range and advertises the lab's infra address, where the
// agent's forwarder carries connections from inside the lab network
// namespace to it: the default/kubernetes Service routes there, and its
// certificate names the Service's ClusterIP, the infra address and the
// kubernetes.default.svc names, so in-cluster clients verify it.
// For the kubelet API (logs, exec, port-forward) the
// API server reaches nodes on their InternalIP with kwok's admin client
// certificate and verifies their serving certificates against the cluster's
// CA, which the kube-controller-manager signs them with (kwokctl makes
// pki/{ca,admin}.{crt,key}).
func (l *Lab) kwokctlConfig() string {
	plan := l.NetPlan()
	sans := []string{plan.KubernetesServiceIP().String(), plan.Infra().String(),
		"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + addons.ClusterDomain}
	bin := func(n string) string { return filepath.Join(l.BinDir, n) }
	kver := strings.TrimSpace(readFile(bin("kube-apiserver.version")))
	if kver == "" {
		kver = "v1.36.3"
	}
	return fmt.Sprintf(`apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  kubeVersion: %[1]s
  bindAddress: 127.0.0.1
  securePort: true
  kubeAdmission: true
  kubeAuthorization: true
  quietPull: true
  disable: [kwok-controller]
  cacheDir: %[2]s
  etcdBinary: %[3]s
  kubeApiserverBinary: %[4]s
  kubeControllerManagerBinary: %[5]s
  kubeSchedulerBinary: %[6]s
  kubectlBinary: %[7]s
  kubeApiserverCertSANs: [%[11]s]
componentsPatches:
- name: kube-apiserver
  extraArgs:
  - {key: service-cluster-ip-range, value: "%[12]s"}
  - {key: advertise-address, value: "%[13]s"}
  - {key: default-not-ready-toleration-seconds, value: "%[10]s"}
  - {key: default-unreachable-toleration-seconds, value: "%[10]s"}
  - {key: kubelet-preferred-address-types, value: InternalIP}
  - {key: kubelet-client-certificate, value: "%[14]s/admin.crt"}
  - {key: kubelet-client-key, value: "%[14]s/admin.key"}
  - {key: kubelet-certificate-authority, value: "%[14]s/ca.crt"}
- name: kube-controller-manager
  extraArgs:
  - {key: node-monitor-period, value: "%[8]s", override: true}
  - {key: node-monitor-grace-period, value: "%[9]s", override: true}
  - {key: cluster-signing-cert-file, value: "%[14]s/ca.crt"}
  - {key: cluster-signing-key-file, value: "%[14]s/ca.key"}
`, kver, filepath.Join(l.KwokWorkdir(), "cache"), bin("etcd"), bin("kube-apiserver"), bin("kube-controller-manager"),
		bin("kube-scheduler"), bin("kubectl"), nodeMonitorPeriod, nodeMonitorGracePeriod, tolerationSeconds,
		strings.Join(sans, ", "), plan.ServiceCIDR, plan.Infra(), l.PKIDir())
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// kwokctl runs kwokctl on this lab's work folder.
func (l *Lab) kwokctl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(l.BinDir, "kwokctl"), append([]string{"--name", l.ClusterName()}, args...)...)
	// kwokctl adds the cluster's context to $KUBECONFIG and makes it the
	// current one: pointed at this lab's own kubeconfig, so that bringing a
	// second lab up (a DR region) with $KUBECONFIG naming the first lab's
	// file never turns the first lab's kubeconfig to the second's cluster.
	cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+l.KwokWorkdir(), "KUBECONFIG="+l.Kubeconfig())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("kwokctl %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

func (l *Lab) clusterExists() bool {
	_, err := os.Stat(filepath.Join(l.KwokWorkdir(), "clusters", l.ClusterName(), "kwok.yaml"))
	return err == nil
}

// apiHealthy tells whether the lab's API server answers /readyz.
func (l *Lab) apiHealthy(ctx context.Context) bool {
	cs, err := l.KubeClient()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = cs.(*kubernetes.Clientset).Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	return err == nil
}

// ensureControlPlane creates the kwokctl cluster, or starts it when it
// exists but is stopped, then waits for the API server.
func (l *Lab) ensureControlPlane(ctx context.Context) error {
	switch {
	case l.apiHealthy(ctx):
		return nil
	case l.clusterExists():
		l.say("starting the control plane of lab %q", l.Name)
		if _, err := l.kwokctl(ctx, "start", "cluster"); err != nil {
			return err
		}
	default:
		l.say("creating the control plane of lab %q (etcd, kube-apiserver, kube-controller-manager, kube-scheduler)", l.Name)
		cfgPath := filepath.Join(l.Dir(), "kwokctl.yaml")
		if err := os.WriteFile(cfgPath, []byte(l.kwokctlConfig()), 0o644); err != nil {
			return err
		}
		if _, err := l.kwokctl(ctx, "create", "cluster", "--config", cfgPath, "--wait", "0s"); err != nil {
			return fmt.Errorf("create the lab's control plane: %w", err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	defer logging.Heartbeat(ctx, "the lab's API server to be ready", 60*time.Second)()
	for !l.apiHealthy(ctx) {
		if time.Now().After(deadline) {
			return fmt.Errorf("the lab's API server is not ready after 60s; see the logs in %s", filepath.Join(l.KwokWorkdir(), "clusters", l.ClusterName(), "logs"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
