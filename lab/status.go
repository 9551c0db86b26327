package lab

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reboundhq/rebound/lab/agent"
)

// Status is what `rebound lab status` shows.
type Status struct {
	Name       string       `json:"name"`
	Up         bool         `json:"up"`
	APIServer  bool         `json:"apiServer"`
	Agent      bool         `json:"agent"`
	Kubeconfig string       `json:"kubeconfig,omitempty"`
	Nodes      []NodeStatus `json:"nodes,omitempty"`
	Pods       int          `json:"pods"`
}

// NodeStatus is a lab node as the API server and the agent see it.
type NodeStatus struct {
	Name  string      `json:"name"`
	Zone  string      `json:"zone"`
	IP    string      `json:"ip"`
	Power agent.Power `json:"power"`
	Ready string      `json:"ready"` // the Ready condition: True, False or Unknown
	Pods  int         `json:"pods"`
	// CutOff: cut off from the control plane by a network fault.
	CutOff bool `json:"cutOff,omitempty"`
}

// Status reports the lab's state without changing anything.
func (l *Lab) Status(ctx context.Context) (*Status, error) {
	s := &Status{Name: l.Name, Up: l.IsUp()}
	if !s.Up {
		return s, nil
	}
	s.Kubeconfig = l.Kubeconfig()
	s.APIServer = l.apiHealthy(ctx)
	states, err := l.NodeStates(ctx)
	s.Agent = err == nil
	byName := map[string]*NodeStatus{}
	for _, n := range states {
		s.Nodes = append(s.Nodes, NodeStatus{Name: n.Name, Zone: n.Zone, IP: n.IP, Power: n.Power, Ready: "Unknown", Pods: n.Pods, CutOff: n.CutOff})
	}
	for i := range s.Nodes {
		byName[s.Nodes[i].Name] = &s.Nodes[i]
	}
	if !s.APIServer {
		return s, nil
	}
	cs, err := l.KubeClient()
	if err != nil {
		return s, err
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: agent.LabelLab + "=" + l.Name})
	if err != nil {
		return s, fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range nodes.Items {
		ns := byName[n.Name]
		if ns == nil {
			s.Nodes = append(s.Nodes, NodeStatus{Name: n.Name, Zone: n.Labels[agent.LabelZone]})
			ns = &s.Nodes[len(s.Nodes)-1]
		}
		ns.Ready = "Unknown"
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				ns.Ready = string(c.Status)
			}
		}
	}
	sort.Slice(s.Nodes, func(i, j int) bool { return s.Nodes[i].Name < s.Nodes[j].Name })
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err == nil {
		s.Pods = len(pods.Items)
	}
	return s, nil
}
