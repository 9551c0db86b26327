package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/reboundhq/rebound/lab/agent"
)

// Power actions on lab nodes.
const (
	PowerStop   = "stop"
	PowerFreeze = "freeze"
	PowerStart  = "start"
)

// ErrUnknownZone is a zone with no lab node.
var ErrUnknownZone = errors.New("no such lab zone")

// agentClient talks to the agent's control socket.
type agentClient struct{ http *http.Client }

func (l *Lab) client() agentClient {
	sock := filepath.Join(l.Dir(), "agent.sock")
	return agentClient{http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}}
}

func (c agentClient) Nodes(ctx context.Context) ([]agent.NodeState, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://agent/v1/nodes", nil)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: the lab node agent does not answer (%v): run `rebound lab up`", errNotUp, err)
	}
	defer resp.Body.Close()
	var out []agent.NodeState
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

func (c agentClient) power(ctx context.Context, node, action string) error {
	body, _ := json.Marshal(agent.PowerRequest{Action: action})
	return c.post(ctx, "/v1/nodes/"+node+"/power", body)
}

func (c agentClient) controlPlane(ctx context.Context, node, action string) error {
	body, _ := json.Marshal(agent.PowerRequest{Action: action})
	return c.post(ctx, "/v1/nodes/"+node+"/control-plane", body)
}

func (c agentClient) killVolumeUsers(ctx context.Context, dir string) (int, error) {
	body, _ := json.Marshal(map[string]string{"path": dir})
	var out struct{ Killed int }
	err := c.postJSON(ctx, "/v1/volumes/kill-users", body, &out)
	return out.Killed, err
}

func (c agentClient) post(ctx context.Context, path string, body []byte) error {
	return c.postJSON(ctx, path, body, nil)
}

// postJSON posts to the agent and decodes its answer into out, if any.
func (c agentClient) postJSON(ctx context.Context, path string, body []byte, out any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://agent"+path, bytes.NewReader(body))
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: the lab node agent does not answer (%v): run `rebound lab up`", errNotUp, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e)
		if resp.StatusCode == http.StatusNotFound && strings.HasPrefix(path, "/v1/nodes/") {
			return fmt.Errorf("%w: %s", agent.ErrUnknownNode, e.Error)
		}
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%w: %s", agent.ErrUnknownPod, e.Error)
		}
		return errors.New(e.Error)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// Nodes lists the lab's nodes with their zone and power state.
func (l *Lab) NodeStates(ctx context.Context) ([]agent.NodeState, error) {
	return l.client().Nodes(ctx)
}

// NodePower stops, freezes or starts one node. It returns once the agent
// has acted: after a stop, the node's processes are dead.
func (l *Lab) NodePower(ctx context.Context, node, action string) error {
	if err := l.client().power(ctx, node, action); err != nil {
		return fmt.Errorf("%s node %q: %w", action, node, err)
	}
	return nil
}

// ZonePower applies a power action to every node of a zone at once.
func (l *Lab) ZonePower(ctx context.Context, zone, action string) ([]string, error) {
	nodes, err := l.NodeStates(ctx)
	if err != nil {
		return nil, err
	}
	var names, zones []string
	seen := map[string]bool{}
	for _, n := range nodes {
		if n.Zone == zone {
			names = append(names, n.Name)
		}
		if !seen[n.Zone] {
			seen[n.Zone] = true
			zones = append(zones, n.Zone)
		}
	}
	if len(names) == 0 {
		sort.Strings(zones)
		return nil, fmt.Errorf("%w: %q (the lab's zones are %v)", ErrUnknownZone, zone, zones)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = l.NodePower(ctx, n, action) }()
	}
	wg.Wait()
	return names, errors.Join(errs...)
}

// Pod actions: freeze SIGSTOPs a pod's processes, thaw SIGCONTs them.
const (
	PodFreeze = "freeze"
	PodThaw   = "thaw"
)

// PodPause freezes or thaws one pod's processes (the lab's exact pause).
func (l *Lab) PodPause(ctx context.Context, namespace, pod, action string) error {
	if err := l.client().post(ctx, "/v1/pods/"+namespace+"/"+pod+"/"+action, nil); err != nil {
		return fmt.Errorf("%s pod %s/%s: %w", action, namespace, pod, err)
	}
	return nil
}
