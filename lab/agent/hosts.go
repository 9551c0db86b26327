package agent

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// ClusterDomain is the lab's DNS domain.
const ClusterDomain = "cluster.local"

func (a *Agent) markHosts() {
	select {
	case a.hostsDirty <- struct{}{}:
	default:
	}
}

// runHosts rewrites every pod's /etc/hosts when pods or services change, at
// most every 100 ms. The lab has no DNS server: names of services and of
// pods behind headless services resolve through these files.
func (a *Agent) runHosts(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.hostsDirty:
		}
		if err := a.writeHostsFiles(); err != nil {
			a.log.Warn("write hosts files", "err", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hostsEntry is one address with its names.
type hostsEntry struct {
	ip        string
	names     []string // fully qualified
	namespace string
	short     []string // names valid only inside namespace
}

// HostsEntries computes the DNS view of the lab from pods and services, as
// CoreDNS would serve it: a service name resolves to its ready pods (all
// pods with publishNotReadyAddresses), and hostname.subdomain names to the
// pods behind a headless service.
func HostsEntries(pods []*corev1.Pod, services []*corev1.Service) []hostsEntry {
	var out []hostsEntry
	for _, svc := range services {
		if len(svc.Spec.Selector) == 0 {
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		base := svc.Name + "." + svc.Namespace
		for _, pod := range pods {
			if pod.Namespace != svc.Namespace || pod.Status.PodIP == "" || pod.DeletionTimestamp != nil || !sel.Matches(labels.Set(pod.Labels)) {
				continue
			}
			if !svc.Spec.PublishNotReadyAddresses && !podReady(pod) {
				continue
			}
			out = append(out, hostsEntry{ip: pod.Status.PodIP, names: []string{base + ".svc." + ClusterDomain, base + ".svc", base}, namespace: svc.Namespace, short: []string{svc.Name}})
			if svc.Spec.ClusterIP == corev1.ClusterIPNone && pod.Spec.Subdomain == svc.Name && pod.Spec.Hostname != "" {
				h := pod.Spec.Hostname + "." + base
				out = append(out, hostsEntry{ip: pod.Status.PodIP, names: []string{h + ".svc." + ClusterDomain, h + ".svc", h}, namespace: svc.Namespace, short: []string{pod.Spec.Hostname + "." + svc.Name}})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].names[0] < out[j].names[0] })
	return out
}

// HostsFile renders the /etc/hosts of one pod.
func HostsFile(pod *corev1.Pod, podIP string, entries []hostsEntry) []byte {
	var b strings.Builder
	b.WriteString("# Written by the rebound lab agent: the lab's DNS.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	host := pod.Spec.Hostname
	if host == "" {
		host = pod.Name
	}
	if pod.Spec.Subdomain != "" {
		fq := host + "." + pod.Spec.Subdomain + "." + pod.Namespace + ".svc." + ClusterDomain
		fmt.Fprintf(&b, "%s\t%s %s\n", podIP, fq, host)
	} else {
		fmt.Fprintf(&b, "%s\t%s\n", podIP, host)
	}
	for _, e := range entries {
		names := e.names
		if e.namespace == pod.Namespace {
			names = append(append([]string{}, names...), e.short...)
		}
		fmt.Fprintf(&b, "%s\t%s\n", e.ip, strings.Join(names, " "))
	}
	return []byte(b.String())
}

func (a *Agent) writeHostsFiles() error {
	pods, err := a.pods.List(labels.Everything())
	if err != nil {
		return err
	}
	services, err := a.services.List(labels.Everything())
	if err != nil {
		return err
	}
	entries := HostsEntries(pods, services)
	a.mu.Lock()
	workers := make([]*podWorker, 0, len(a.workers))
	for _, w := range a.workers {
		workers = append(workers, w)
	}
	a.mu.Unlock()
	for _, w := range workers {
		pod, ip := w.current()
		if pod == nil || ip == "" {
			continue
		}
		if err := writeInPlace(filepath.Join(a.cfg.PodDir(string(pod.UID)), "hosts"), HostsFile(pod, ip, entries)); err != nil {
			return err
		}
	}
	return nil
}

// writeInPlace rewrites a file without replacing its inode: the file is
// bind-mounted at /etc/hosts in the pod, and a rename would leave the mount
// on the old content.
func writeInPlace(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	return os.WriteFile(path, data, 0o644)
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// ResolvConf is a pod's /etc/resolv.conf: the cluster DNS Service's
// address, the cluster search path and ndots:5, as the kubelet writes it.
// Names the cluster does not know never reach a server outside the lab:
// the lab's namespaces have no route off the machine.
func ResolvConf(pod *corev1.Pod, nameserver netip.Addr) []byte {
	return []byte(fmt.Sprintf("# Written by the rebound lab agent.\nnameserver %s\nsearch %s.svc.%s svc.%s %s\noptions ndots:5 attempts:1 timeout:1\n",
		nameserver, pod.Namespace, ClusterDomain, ClusterDomain, ClusterDomain))
}
