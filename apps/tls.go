package apps

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
)

// The TLS material of Config comes from the scenario's target: the names
// the errors below give are where a person changes it. A driver builds its
// client's TLS settings with TLSConfig and passes its connection errors
// through ExplainTLS, so every app says the same thing about the same
// mistake.
const (
	fieldServerName = "target.endpoints.tls.serverName"
	fieldSecretRef  = "target.endpoints.secretRef"
	fieldCASecret   = "target.endpoints.tls.caSecretRef"
)

// TLSConfig is the TLS a driver dials an https (or TLS) endpoint with,
// whatever address it dials (a pod IP, 127.0.0.1 of a port-forward, a
// URL): the server's certificate is verified, always, against CACert (or
// the system's roots when there is none) for ServerName (or, when it is
// empty, the host the client dials, as any TLS client does); ClientCert
// and ClientKey, when given, are presented to a server that asks for a
// client certificate. There is no way to turn the verification off.
//
// Each call returns a new *tls.Config the caller may change.
func (c Config) TLSConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if len(c.CACert) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(c.CACert) {
			return nil, fmt.Errorf("ca.crt of %s (or of %s) holds no PEM certificate: put there the PEM of the CA that signed the app's server certificate", fieldSecretRef, fieldCASecret)
		}
		tc.RootCAs = pool
	}
	switch {
	case len(c.ClientCert) > 0 && len(c.ClientKey) > 0:
		cert, err := tls.X509KeyPair(c.ClientCert, c.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("tls.crt and tls.key of %s are not a PEM certificate and its private key: %w", fieldSecretRef, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	case len(c.ClientKey) > 0:
		return nil, fmt.Errorf("%s has tls.key but no tls.crt: add the client certificate as tls.crt, or remove tls.key", fieldSecretRef)
	case len(c.ClientCert) > 0:
		return nil, fmt.Errorf("%s has tls.crt but no tls.key: a client certificate needs its private key as tls.key; a Secret that only carries a CA (such as ECK's <name>-es-http-certs-public) belongs in %s", fieldSecretRef, fieldCASecret)
	}
	return tc, nil
}

// ErrTLS marks a connection error ExplainTLS explained: the server's
// certificate did not verify, or the server refused rebound's client
// certificate. Retrying does not help; the scenario's TLS settings or the
// Secret must change.
var ErrTLS = errors.New("TLS verification failed")

// ExplainTLS returns err wrapped with what went wrong and how to fix it
// when err is a failed TLS verification (a certificate for other names,
// from an unknown CA, expired) or a server that refused rebound's client
// certificate; any other error is returned as it is. It looks through the
// error chain and, for errors that crossed a gRPC connection as text, at
// the message.
func (c Config) ExplainTLS(err error) error {
	if err == nil || errors.Is(err, ErrTLS) {
		return err
	}
	if why := c.tlsFix(err); why != "" {
		return fmt.Errorf("%w: %s: %w", ErrTLS, why, err)
	}
	return err
}

func (c Config) tlsFix(err error) string {
	caWhere := "the system's trusted roots (no ca.crt given)"
	caFix := fmt.Sprintf("put the PEM of the CA that signed it as ca.crt in the Secret %s (or %s) names", fieldSecretRef, fieldCASecret)
	if len(c.CACert) > 0 {
		caWhere = fmt.Sprintf("the CA in ca.crt of %s (or of %s)", fieldSecretRef, fieldCASecret)
		caFix = "put there the PEM of the CA that signed it"
	}
	if host, ok := errors.AsType[x509.HostnameError](err); ok {
		return hostnameFix(host.Certificate, host.Host, c.ServerName)
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return fmt.Sprintf("the server's certificate is not signed by %s: %s", caWhere, caFix)
	}
	if inv, ok := errors.AsType[x509.CertificateInvalidError](err); ok {
		return fmt.Sprintf("the server's certificate is not valid (%s): renew it, or check this machine's clock", inv.Error())
	}
	if op, ok := errors.AsType[*net.OpError](err); ok && op.Op == "remote error" && op.Err != nil {
		if why := c.alertFix(op.Err.Error()); why != "" {
			return why
		}
	}
	// gRPC reports a failed handshake as text.
	msg := err.Error()
	switch {
	case strings.Contains(msg, "x509: certificate is valid for"), strings.Contains(msg, "x509: certificate is not valid for any names"):
		return fmt.Sprintf("the server's certificate is for other names than the one rebound verifies (%s): set %s to a name the certificate is for", c.serverNameOrDialled(), fieldServerName)
	case strings.Contains(msg, "x509: certificate signed by unknown authority"):
		return fmt.Sprintf("the server's certificate is not signed by %s: %s", caWhere, caFix)
	case strings.Contains(msg, "x509: certificate has expired or is not yet valid"):
		return "the server's certificate is not valid now: renew it, or check this machine's clock"
	case strings.Contains(msg, "remote error: tls: "):
		i := strings.Index(msg, "remote error: tls: ")
		return c.alertFix(msg[i+len("remote error: "):])
	}
	return ""
}

func (c Config) serverNameOrDialled() string {
	if c.ServerName != "" {
		return fmt.Sprintf("%q", c.ServerName)
	}
	return "the dialled host"
}

// hostnameFix says which names the server's certificate is for.
func hostnameFix(cert *x509.Certificate, host, serverName string) string {
	var names []string
	if cert != nil {
		names = append(names, cert.DNSNames...)
		for _, ip := range cert.IPAddresses {
			names = append(names, ip.String())
		}
	}
	is := fmt.Sprintf("is for %q", names)
	if len(names) == 0 {
		is = "names no host (no DNS or IP subject alternative name)"
	}
	if serverName == "" {
		return fmt.Sprintf("the server's certificate %s, not the dialled host %q: set %s to a name the certificate is for", is, host, fieldServerName)
	}
	return fmt.Sprintf("the server's certificate %s, not %q: set %s to a name the certificate is for", is, host, fieldServerName)
}

// alertFix explains a TLS alert the server sent, by its text ("tls:
// certificate required").
func (c Config) alertFix(alert string) string {
	refusal := strings.Contains(alert, "bad certificate") || strings.Contains(alert, "unknown certificate authority") ||
		strings.Contains(alert, "certificate unknown") || strings.Contains(alert, "expired certificate") || strings.Contains(alert, "revoked certificate")
	switch {
	case (strings.Contains(alert, "certificate required") || refusal) && len(c.ClientCert) > 0:
		// A client does not send a certificate from a CA the server did
		// not list as acceptable: the server then says it got none.
		return fmt.Sprintf("the server refused rebound's client certificate (%s): put one signed by a CA the server trusts, and its key, as tls.crt and tls.key in the Secret %s names", alert, fieldSecretRef)
	case strings.Contains(alert, "certificate required"), refusal:
		return fmt.Sprintf("the server asks for a client certificate: put it and its key as tls.crt and tls.key in the Secret %s names", fieldSecretRef)
	}
	return ""
}
