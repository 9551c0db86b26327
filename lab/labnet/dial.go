package labnet

import (
	"context"
	"io"
	"net"
	"sync"
)

// DialFunc dials like net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Dialer opens connections inside lab's namespace, where pod, Service and
// infra addresses route; the socket keeps that namespace for its life, so
// the rest of the connection runs on any thread. Dial only IP literals:
// a name would be resolved by the host's resolver.
func Dialer(lab string) DialFunc {
	path := NetnsPath(lab)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := Do(path, func() error {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			conn = c
			return err
		})
		return conn, err
	}
}

// Listen opens a listener inside the namespace at nsPath.
func Listen(nsPath, network, addr string) (net.Listener, error) {
	var l net.Listener
	err := Do(nsPath, func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// ListenPacket opens a packet listener (UDP) inside the namespace at nsPath.
func ListenPacket(nsPath, network, addr string) (net.PacketConn, error) {
	var pc net.PacketConn
	err := Do(nsPath, func() error {
		var err error
		pc, err = net.ListenPacket(network, addr)
		return err
	})
	return pc, err
}

// Splice copies a to b and b to a until both directions are done, passing
// each side's end of stream on as a half close: a TCP forwarder's core.
func Splice(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src) // TCP to TCP: splice(2) on Linux
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		} else {
			_ = dst.Close()
		}
	}
	go pipe(a, b)
	go pipe(b, a)
	wg.Wait()
}
