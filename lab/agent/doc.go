// Package agent is the lab's node agent: the kubelet of every lab node. It
// registers the nodes and keeps their leases and Ready conditions fresh,
// provisions PersistentVolumes (one tmpfs per PV, with the node and zone
// affinity of where it was made), and runs the containers of pods bound to
// lab nodes as real host processes (see podspec and podexec), with probes,
// restart policies and pod status as the kubelet reports them. It also owns
// node power: stopping a node stops its heartbeats and SIGKILLs its
// processes; freezing SIGSTOPs them; starting brings them back.
//
// It also serves the kubelet API of every node (package kubeletapi) on the
// node's address, for kubectl logs, exec and port-forward.
//
// It only ever acts on lab nodes and their pods, and listens only on a unix
// socket in the lab's state folder and on the nodes' loopback addresses
// (port 10250).
package agent
