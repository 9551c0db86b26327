package lab

import (
	"bytes"
	"net"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestNetcheckGetReportsTheServerAndTheClientItSaw(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(whoAmI())
	defer srv.Close()
	host, _ := os.Hostname()
	var out bytes.Buffer
	if err := netcheckGet(t.Context(), &out, []string{srv.URL}, 0); err != nil {
		t.Fatal(err)
	}
	if want := srv.URL + " -> pod=" + host + " client=127.0.0.1\n"; out.String() != want {
		t.Errorf("netcheck get printed %q, want %q", out.String(), want)
	}
}

func TestNetcheckGetFailsAfterItsRetries(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/"
	l.Close() // nothing listens: connection refused
	var out bytes.Buffer
	start := time.Now()
	err = netcheckGet(t.Context(), &out, []string{url}, 1200*time.Millisecond)
	if err == nil || !strings.Contains(out.String(), url+" -> ERROR ") {
		t.Errorf("netcheck get of a closed port = %v, printed %q; want an error line", err, out.String())
	}
	if time.Since(start) < time.Second {
		t.Errorf("gave up after %s, before its --retry of 1.2s", time.Since(start))
	}
}
