// Package chaos is the lab's Chaos Mesh controller: it runs inside the lab's
// node agent and executes the Chaos Mesh experiments created in the lab, so
// that rebound's `via: chaos-mesh` faults, and anyone's Chaos Mesh objects,
// act for real on lab pods without Chaos Mesh installed. It executes
// NetworkChaos (partition, loss, bandwidth) and PodChaos (pod-kill,
// pod-failure, container-kill), and writes the status Chaos Mesh's own
// controller writes: the desired phase, one record per selected target
// with its phase, counts and events, and the Selected, AllInjected,
// AllRecovered and Paused conditions. It honours selectors, mode and value,
// duration, the pause annotation, and recovers a deleted experiment through
// Chaos Mesh's records finalizer before letting it go.
//
// It watches the chaos-mesh.org CRDs and serves whichever kinds are
// installed (make chaos-crds generates them). A kind or action it does not
// execute (StressChaos, IOChaos, TimeChaos…, a NetworkChaos delay on a
// kernel without netem) is never reported injected: its status says why,
// in the condition reasons or the record's events.
//
// It acts only through the Kubernetes API (deleting and annotating pods),
// the agent's container hook (Pods) and the lab's network faults (Network).
// It must not touch anything outside the lab, nor redefine Chaos Mesh's
// types: it uses those of Chaos Mesh's api module.
package chaos
