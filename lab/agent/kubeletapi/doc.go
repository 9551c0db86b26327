// Package kubeletapi serves the kubelet API of the lab's nodes: the part of
// it the API server calls for `kubectl logs` (with -f, --previous, --tail,
// --limit-bytes), `kubectl exec` (with and without a terminal) and
// `kubectl port-forward`. One Server per node listens on the node's
// InternalIP, port 10250, with a serving certificate the cluster's CA
// issued through a CertificateSigningRequest (signer
// kubernetes.io/kubelet-serving), as a kubelet's is. The streams (SPDY and
// WebSocket) are the kubelet's own library, k8s.io/cri-streaming.
//
// What it asks of the node agent is behind the small Pods interface: where a
// container's logs are, the command that runs a program in a container (the
// agent's enters the container's namespaces with nsenter, as its user), a
// pod's address. Port-forward dials the pod's address with the dial
// function it is given.
//
// Authentication is deliberately simple: a request must carry a client
// certificate that verifies against the cluster's CA (the API server's
// --kubelet-client-certificate is one); any other gets 401. There is no
// authorization (a kubelet asks the API server with a SubjectAccessReview):
// the API server has authorized the user's pods/log, pods/exec or
// pods/portforward already, and only holders of a certificate of the
// cluster's CA get this far. It must not serve anything beyond these
// endpoints (no /pods, /run, /stats, /metrics; /attach is refused with the
// reason) and must not act on a pod of another node.
package kubeletapi
