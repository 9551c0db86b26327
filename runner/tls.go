package runner

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/reboundhq/rebound/apps"
	"github.com/reboundhq/rebound/scenarios"
)

// tlsFor fills the TLS material of a target's driver config: the client
// certificate (tls.crt and tls.key) of the endpoints.secretRef Secret,
// whose data is secret (nil for none); the CA of endpoints.tls.caSecretRef,
// trusted as well as the secretRef's ca.crt already in cfg.CACert; and the
// server name the app's certificate is verified for: endpoints.tls's, or,
// for https endpoints made from pods (pod-ip, port-forward), the DNS name
// of the app's Service (serviceFor). Read once, kept in memory only, never
// logged or journaled.
func tlsFor(ctx context.Context, kube kubernetes.Interface, s *scenarios.Scenario, sel labels.Selector, secret map[string][]byte, cfg *apps.Config) error {
	ep := s.Target.Endpoints
	if key, ok := secret["tls.key"]; ok {
		cfg.ClientCert, cfg.ClientKey = secret["tls.crt"], key
	} else if crt, ok := secret["tls.crt"]; ok {
		cfg.ClientCert = crt // apps.Config.TLSConfig says what is missing
	}
	if name := ep.TLS.CASecret; name != "" {
		sec, err := kube.CoreV1().Secrets(s.Target.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("%s: target.endpoints.tls.caSecretRef: %w", s.Source, err)
		}
		ca, ok := sec.Data["ca.crt"]
		if !ok {
			return fmt.Errorf("%s: target.endpoints.tls.caSecretRef: Secret %s/%s has no key ca.crt: name the Secret that holds the CA's certificate as ca.crt", s.Source, s.Target.Namespace, name)
		}
		if len(cfg.CACert) > 0 {
			cfg.CACert = append(append(slices.Clone(cfg.CACert), '\n'), ca...)
		} else {
			cfg.CACert = ca
		}
	}
	cfg.ServerName = ep.TLS.ServerName
	if cfg.ServerName != "" || ep.Mode == scenarios.EndpointModeURLs || ep.Scheme != "https" {
		// A URL's own host is the name to verify, as for any client; and
		// plain http verifies nothing.
		return nil
	}
	app, err := apps.Lookup(string(s.Target.Driver))
	if err != nil {
		return err
	}
	name, err := serviceFor(ctx, kube, s.Target.Namespace, sel, app.ClientPort)
	if err != nil {
		return fmt.Errorf("%s: target.endpoints.tls.serverName: %w", s.Source, err)
	}
	cfg.ServerName = name
	return nil
}

// serviceFor is the DNS name, <service>.<namespace>.svc, of the Service
// clients reach the app through, which its certificate is issued to: the
// Service of ns whose selector selects every pod of the app and that
// serves the client port (as its port or its target port), a ClusterIP
// Service before a headless one. No such Service, or more than one of the
// same kind, is an error asking for endpoints.tls.serverName.
func serviceFor(ctx context.Context, kube kubernetes.Interface, ns string, sel labels.Selector, port int) (string, error) {
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return "", fmt.Errorf("list the app's pods to find its Service: %w", err)
	}
	var app []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			app = append(app, p)
		}
	}
	if len(app) == 0 {
		return "", fmt.Errorf("no pod of the app in %s (selector %s) to find its Service by; set it to the DNS name the app's certificate is for", ns, sel)
	}
	svcs, err := kube.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", fmt.Errorf("list the Services of %s to find the app's: %w", ns, err)
	}
	var clusterIP, headless []string
	for _, svc := range svcs.Items {
		if len(svc.Spec.Selector) == 0 || !servesPort(svc, app, port) {
			continue
		}
		ssel := labels.SelectorFromSet(svc.Spec.Selector)
		if !slices.ContainsFunc(app, func(p corev1.Pod) bool { return !ssel.Matches(labels.Set(p.Labels)) }) {
			name := svc.Name + "." + ns + ".svc"
			if svc.Spec.ClusterIP == corev1.ClusterIPNone {
				headless = append(headless, name)
			} else {
				clusterIP = append(clusterIP, name)
			}
		}
	}
	for _, names := range [][]string{clusterIP, headless} {
		switch len(names) {
		case 0:
			continue
		case 1:
			return names[0], nil
		}
		slices.Sort(names)
		return "", fmt.Errorf("several Services of %s select every pod of the app and serve port %d (%s); set it to the one the app's certificate is for", ns, port, strings.Join(names, ", "))
	}
	return "", fmt.Errorf("no Service of %s selects every pod of the app (selector %s) and serves port %d; set it to the DNS name the app's certificate is for", ns, sel, port)
}

// servesPort reports whether svc serves port: as one of its ports, or as a
// target port, by number or by the name of a container port of the app's
// pods.
func servesPort(svc corev1.Service, pods []corev1.Pod, port int) bool {
	for _, sp := range svc.Spec.Ports {
		if int(sp.Port) == port || sp.TargetPort.IntValue() == port {
			return true
		}
		if sp.TargetPort.StrVal == "" {
			continue
		}
		for _, p := range pods {
			for _, c := range p.Spec.Containers {
				for _, cp := range c.Ports {
					if cp.Name == sp.TargetPort.StrVal && int(cp.ContainerPort) == port {
						return true
					}
				}
			}
		}
	}
	return false
}
