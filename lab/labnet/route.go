package labnet

import (
	"context"
	"net"
	"net/netip"
)

// Dial is a drop-in dial function for every client of rebound's: it opens
// the connection inside the namespace of the lab whose pod or Service range
// holds the address, and a plain one for any other address. The ranges of
// running labs never overlap the host's routes or each other (lab up
// checks), so the choice is never ambiguous.
func Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if lab := labOf(addr); lab != "" {
		return Dialer(lab)(ctx, network, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// labOf is the lab whose network holds host:port's address, or "".
func labOf(hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	for _, n := range Registered() {
		if n.Contains(a.Unmap()) {
			return n.Lab
		}
	}
	return ""
}
