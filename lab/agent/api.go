package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"syscall"
	"time"
)

// ErrUnknownNode is a node name that is not a lab node.
var ErrUnknownNode = errors.New("no such lab node")

// ErrUnknownPod is a pod that runs on no lab node.
var ErrUnknownPod = errors.New("no such pod on a lab node")

// NodeState is a lab node as the control API reports it.
type NodeState struct {
	Name  string `json:"name"`
	Zone  string `json:"zone"`
	IP    string `json:"ip"`
	Power Power  `json:"power"`
	Pods  int    `json:"pods"`
	// CutOff: the node is cut off from the control plane (no heartbeats).
	CutOff bool `json:"cutOff,omitempty"`
}

// PowerRequest asks for a power action on a node.
type PowerRequest struct {
	Action string `json:"action"` // stop, freeze or start
}

// serveAPI serves the control API on the agent's unix socket:
//
//	GET  /v1/nodes              the nodes and their power
//	POST /v1/nodes/{name}/power {"action":"stop|freeze|start"}
//	POST /v1/nodes/{name}/control-plane {"action":"cut|resume"}  stop or resume heartbeats
//	POST /v1/pods/{ns}/{name}/freeze|thaw   SIGSTOP or SIGCONT one pod's processes
//	POST /v1/volumes/kill-users {"path":…}  SIGKILL the containers of pods using a volume
func (a *Agent) serveAPI(ctx context.Context) {
	sock := a.cfg.SocketPath()
	_ = os.Remove(sock)
	l, err := net.Listen("unix", sock)
	if err != nil {
		a.log.Error("control socket", "err", err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/nodes", func(rw http.ResponseWriter, r *http.Request) {
		writeJSON(rw, http.StatusOK, a.NodeStates())
	})
	mux.HandleFunc("POST /v1/nodes/{name}/power", nodeAction(func(node, action string) (map[string]string, error) {
		p, err := a.SetPower(node, action)
		return map[string]string{"power": string(p)}, err
	}))
	mux.HandleFunc("POST /v1/nodes/{name}/control-plane", nodeAction(func(node, action string) (map[string]string, error) {
		return map[string]string{"node": node, "action": action}, a.SetControlPlaneLink(node, action)
	}))
	mux.HandleFunc("POST /v1/pods/{namespace}/{name}/{action}", func(rw http.ResponseWriter, r *http.Request) {
		err := a.PausePod(r.PathValue("namespace"), r.PathValue("name"), r.PathValue("action"))
		switch {
		case errors.Is(err, ErrUnknownPod):
			writeJSON(rw, http.StatusNotFound, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(rw, http.StatusBadRequest, map[string]string{"error": err.Error()})
		default:
			writeJSON(rw, http.StatusOK, map[string]string{"pod": r.PathValue("name"), "action": r.PathValue("action")})
		}
	})
	mux.HandleFunc("POST /v1/volumes/kill-users", func(rw http.ResponseWriter, r *http.Request) {
		var req struct{ Path string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Path == "" {
			writeJSON(rw, http.StatusBadRequest, map[string]string{"error": "want {\"path\": volume folder}"})
			return
		}
		writeJSON(rw, http.StatusOK, map[string]int{"killed": a.KillVolumeUsers(req.Path)})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Error("control API", "err", err)
	}
	_ = os.Remove(sock)
}

// NodeStates lists the lab nodes.
func (a *Agent) NodeStates() []NodeState {
	var out []NodeState
	for _, n := range a.nodes {
		out = append(out, NodeState{Name: n.Name, Zone: n.Zone, IP: n.IP, Power: n.Power(), Pods: len(a.workersOn(n.Name)), CutOff: n.CutOff()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func writeJSON(rw http.ResponseWriter, code int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(code)
	_ = json.NewEncoder(rw).Encode(v)
}

// PausePod freezes (SIGSTOP) or thaws (SIGCONT) the processes of one pod,
// leaving its node's heartbeats alone: the app hangs, the node does not.
func (a *Agent) PausePod(namespace, name, action string) error {
	sig := map[string]syscall.Signal{"freeze": syscall.SIGSTOP, "thaw": syscall.SIGCONT}[action]
	if sig == 0 {
		return fmt.Errorf("unknown pod action %q (want freeze or thaw)", action)
	}
	a.mu.Lock()
	var found *podWorker
	for _, w := range a.workers {
		if w.namespace == namespace && w.name == name {
			found = w
		}
	}
	a.mu.Unlock()
	if found == nil {
		return fmt.Errorf("%w: %s/%s", ErrUnknownPod, namespace, name)
	}
	found.signalAll(sig)
	a.log.Info("pod "+action, "pod", namespace+"/"+name)
	return nil
}

// KillVolumeUsers SIGKILLs the containers of every pod that mounts the
// volume at path (they restart by their policy), so the volume can be
// remounted read-only: Linux refuses that while files are open for writing,
// and a database whose disk turns read-only dies on its next write anyway.
func (a *Agent) KillVolumeUsers(path string) int {
	a.mu.Lock()
	var users []*podWorker
	for _, w := range a.workers {
		w.mu.Lock()
		for _, dir := range w.volumes {
			if dir == path {
				users = append(users, w)
				break
			}
		}
		w.mu.Unlock()
	}
	a.mu.Unlock()
	for _, w := range users {
		for _, c := range w.ctrs {
			c.kill(false)
		}
	}
	return len(users)
}

// nodeAction serves a POST of {"action": …} on a node: do's answer, 404 for
// an unknown node, 400 for a bad request or action.
func nodeAction(do func(node, action string) (map[string]string, error)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		var req PowerRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(rw, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		out, err := do(r.PathValue("name"), req.Action)
		switch {
		case errors.Is(err, ErrUnknownNode):
			writeJSON(rw, http.StatusNotFound, map[string]string{"error": err.Error()})
		case err != nil:
			writeJSON(rw, http.StatusBadRequest, map[string]string{"error": err.Error()})
		default:
			writeJSON(rw, http.StatusOK, out)
		}
	}
}
