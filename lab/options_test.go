package lab

import (
	"os"
	"strings"
	"testing"
)

func TestRegionNamesTheZones(t *testing.T) {
	t.Parallel()
	o := DefaultOptions()
	o.Region = "lab-2"
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := New(o, nil).agentConfig()
	for _, n := range cfg.Nodes {
		if n.Region != "lab-2" || !strings.HasPrefix(n.Zone, "lab-2") || !strings.HasPrefix(n.Name, "lab-2") {
			t.Errorf("node %s: zone %s region %s, want lab-2 and lab-2 zones", n.Name, n.Zone, n.Region)
		}
	}
	o.Region = "Lab 2"
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--region") {
		t.Errorf("Validate(region %q) = %v, want an error naming --region", o.Region, err)
	}
}

// A command that acts on a lab by name reads the shape and region it was
// brought up with; a lab that is not up reads nothing.
func TestRunningReadsTheLabsShape(t *testing.T) {
	t.Parallel()
	o := DefaultOptions()
	o.StateDir, o.Name = t.TempDir(), "dr"
	if _, up := o.Running(); up {
		t.Fatal("a lab with no state reads as up")
	}
	made := o
	made.Nodes, made.Zones, made.Region = 3, 3, "lab-2"
	if err := os.MkdirAll(made.Dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := New(made, nil).agentConfig().Save(); err != nil {
		t.Fatal(err)
	}
	run, up := o.Running()
	if !up || run.Nodes != 3 || run.Zones != 3 || run.Region != "lab-2" {
		t.Errorf("Running() = %d nodes, %d zones, region %s, up %v; want 3, 3, lab-2, up", run.Nodes, run.Zones, run.Region, up)
	}
}

func TestListenerInTheLabsRange(t *testing.T) {
	t.Parallel()
	o := DefaultOptions()
	o.Name = "h12dr" // 127.22.0.0/16
	// /proc/net/tcp: a listener on 127.22.0.3:10250, one on 127.0.0.1:6443,
	// and a connection (not listening) from 127.22.0.4.
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:192B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0400167F:9C40 0100007F:192B 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 100 0 0 10 0
   2: 0300167F:280A 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 100 0 0 10 0
`
	if got := listenerIn(table, o.Network()); got != "127.22.0.3:10250" {
		t.Errorf("listenerIn = %q, want 127.22.0.3:10250", got)
	}
	o.Name = "h12p" // 127.84.0.0/16: nothing listens there
	if got := listenerIn(table, o.Network()); got != "" {
		t.Errorf("listenerIn for a free range = %q, want none", got)
	}
}
