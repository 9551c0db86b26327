package kubeletapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/certificate/csr"
)

// IssueServingCert gets node's serving certificate from the cluster's CA as
// a kubelet does: a new key, a CertificateSigningRequest for the signer
// kubernetes.io/kubelet-serving (CN system:node:<node>, O system:nodes, the
// node's address as IP SAN), approved by the caller's credentials (the
// lab's agent runs as a cluster admin; on a cluster an approver
// controller or an admin does it), then signed by the kube-controller-manager.
func IssueServingCert(ctx context.Context, client kubernetes.Interface, node string, ip net.IP, timeout time.Duration) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	subject := &pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}}
	req, err := cert.MakeCSR(key, subject, []string{node}, []net.IP{ip})
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("serving certificate request of node %s: %w", node, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	usages := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}
	name, uid, err := csr.RequestCertificateWithContext(ctx, client, req, "", certificatesv1.KubeletServingSignerName, nil, usages, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create the serving CertificateSigningRequest of node %s: %w", node, err)
	}
	if err := approve(ctx, client, name); err != nil {
		return tls.Certificate{}, fmt.Errorf("approve CertificateSigningRequest %s of node %s: %w", name, node, err)
	}
	certPEM, err := csr.WaitForCertificate(ctx, client, name, uid)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("CertificateSigningRequest %s of node %s was not signed within %s (%w): the kube-controller-manager signs %s only when started with --cluster-signing-cert-file and --cluster-signing-key-file, which a lab made by an older rebound lacks: run `rebound lab down` and `rebound lab up`",
			name, node, timeout, err, certificatesv1.KubeletServingSignerName)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

func approve(ctx context.Context, client kubernetes.Interface, name string) error {
	csrs := client.CertificatesV1().CertificateSigningRequests()
	obj, err := csrs.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	obj.Status.Conditions = append(obj.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue,
		Reason: "ReboundLabAgentApproved", Message: "the lab's node agent approves its nodes' serving certificates",
		LastUpdateTime: metav1.Now(),
	})
	_, err = csrs.UpdateApproval(ctx, name, obj, metav1.UpdateOptions{})
	return err
}
