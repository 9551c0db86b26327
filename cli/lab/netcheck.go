package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/reboundhq/rebound/cli/streams"
)

// netcheckCommand is a small network tool for lab pods (the image
// ghcr.io/reboundhq/rebound runs this binary): the e2e tests use it to check
// the lab's Services, cluster DNS and API server access from inside a pod,
// with the pod's own resolv.conf and service account.
func netcheckCommand(s streams.Streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:    "netcheck",
		Short:  "Check Services, DNS and API server access from inside a lab pod (run by test pods)",
		Hidden: true,
	}
	var serve string
	var retry time.Duration
	get := &cobra.Command{
		Use:   "get URL...",
		Short: "GET each URL and print `URL -> BODY` (exit 1 if one fails)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if serve != "" {
				l, err := net.Listen("tcp", serve)
				if err != nil {
					return err
				}
				defer l.Close()
				go func() { _ = http.Serve(l, whoAmI()) }()
			}
			return netcheckGet(cmd.Context(), s.Out, args, retry)
		},
	}
	get.Flags().StringVar(&serve, "serve", "", "also serve whoami on this address while getting (a pod reaching itself through a Service)")
	get.Flags().DurationVar(&retry, "retry", 0, "retry each URL until it answers or this much time has passed")
	cmd.AddCommand(get,
		&cobra.Command{
			Use:   "serve ADDR",
			Short: "Serve HTTP on ADDR, answering `pod=<hostname> client=<address>` (the client's address as the server sees it)",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				srv := &http.Server{Addr: args[0], Handler: whoAmI(), ReadHeaderTimeout: 10 * time.Second}
				ctx, cancel := signalContext(cmd)
				defer cancel()
				go func() { <-ctx.Done(); _ = srv.Close() }()
				if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			},
		},
		&cobra.Command{
			Use:   "lookup NAME...",
			Short: "Resolve each NAME with /etc/resolv.conf and print `NAME ADDRS|ERROR KIND elapsed=…`",
			Args:  cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				netcheckLookup(cmd.Context(), s.Out, &net.Resolver{PreferGo: true}, args)
				return nil
			},
		},
		&cobra.Command{
			Use:   "list-pods NAMESPACE",
			Short: "List the pods of NAMESPACE with the pod's in-cluster config (service account and $KUBERNETES_SERVICE_HOST)",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return netcheckListPods(cmd.Context(), s.Out, args[0])
			},
		})
	return cmd
}

// whoAmI answers every request with the pod's hostname and the client's
// address as this server sees it.
func whoAmI() http.Handler {
	host, _ := os.Hostname()
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		client, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(rw, "pod=%s client=%s\n", host, client)
	})
}

func netcheckGet(ctx context.Context, out io.Writer, urls []string, retry time.Duration) error {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var failed []string
	for _, u := range urls {
		deadline := time.Now().Add(retry)
		for {
			body, err := getOnce(ctx, hc, u)
			if err == nil {
				fmt.Fprintf(out, "%s -> %s\n", u, strings.TrimSpace(body))
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				fmt.Fprintf(out, "%s -> ERROR %v\n", u, err)
				failed = append(failed, u)
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("no answer from %s", strings.Join(failed, ", "))
	}
	return nil
}

func getOnce(ctx context.Context, hc *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("HTTP %s", resp.Status)
	}
	return string(body), err
}

// netcheckLookup prints one line per name: its addresses, or the kind of
// failure (NXDOMAIN when the server said the name does not exist), and how
// long the lookup took.
func netcheckLookup(ctx context.Context, out io.Writer, r *net.Resolver, names []string) {
	for _, name := range names {
		start := time.Now()
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		addrs, err := r.LookupHost(ctx, name)
		cancel()
		elapsed := time.Since(start).Milliseconds()
		var de *net.DNSError
		switch {
		case err == nil:
			fmt.Fprintf(out, "%s %s elapsed=%dms\n", name, strings.Join(addrs, ","), elapsed)
		case errors.As(err, &de) && de.IsNotFound:
			fmt.Fprintf(out, "%s ERROR NXDOMAIN elapsed=%dms\n", name, elapsed)
		case errors.As(err, &de) && de.IsTimeout:
			fmt.Fprintf(out, "%s ERROR TIMEOUT elapsed=%dms (%v)\n", name, elapsed, err)
		default:
			fmt.Fprintf(out, "%s ERROR OTHER elapsed=%dms (%v)\n", name, elapsed, err)
		}
	}
}

func netcheckListPods(ctx context.Context, out io.Writer, namespace string) error {
	rc, err := rest.InClusterConfig()
	if err != nil {
		return fmt.Errorf("in-cluster config: %w", err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list pods in %s through %s: %w", namespace, rc.Host, err)
	}
	fmt.Fprintf(out, "server %s\n", rc.Host)
	for _, p := range pods.Items {
		fmt.Fprintf(out, "pod %s\n", p.Name)
	}
	return nil
}
