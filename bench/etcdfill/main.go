// Command etcdfill writes MB mebibytes of incompressible data into an etcd
// cluster under a prefix, in values of 256 KiB, so a benchmark can take
// backups of a chosen size (bench/region-loss.sh). With -mb 0 it deletes
// the prefix.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"github.com/reboundhq/rebound/lab/labnet"
)

func main() {
	endpoints := flag.String("endpoints", "", "comma-separated client URLs")
	mb := flag.Int("mb", 0, "mebibytes to write (0: delete the prefix)")
	prefix := flag.String("prefix", "/bench/", "key prefix")
	flag.Parse()
	if err := run(strings.Split(*endpoints, ","), *mb, *prefix); err != nil {
		fmt.Fprintln(os.Stderr, "etcdfill:", err)
		os.Exit(1)
	}
}

func run(endpoints []string, mb int, prefix string) error {
	// Pod IPs live inside the lab's network namespace: dial through it.
	dial := func(ctx context.Context, addr string) (net.Conn, error) { return labnet.Dial(ctx, "tcp", addr) }
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(dial)}})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := c.Delete(ctx, prefix, clientv3.WithPrefix()); err != nil {
		return fmt.Errorf("delete %s: %w", prefix, err)
	}
	const chunk = 256 << 10
	val := make([]byte, chunk)
	for i := range mb * (1 << 20) / chunk {
		_, _ = rand.Read(val)
		if _, err := c.Put(ctx, fmt.Sprintf("%s%06d", prefix, i), string(val)); err != nil {
			return fmt.Errorf("put %d: %w", i, err)
		}
	}
	return nil
}
