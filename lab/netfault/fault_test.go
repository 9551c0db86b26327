package netfault

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	pod := []netip.Prefix{netip.MustParsePrefix("10.20.1.2/32")}
	link := []PodLink{{Name: "ns/p", HostVeth: "rb0123456789"}}
	tests := []struct {
		name  string
		fault Fault
		want  []string // substrings of the error; none: valid
	}{
		{"partition", Fault{Kind: Partition, From: pod}, nil},
		{"partition with an ID and peers", Fault{Kind: Partition, ID: "zone-a", From: pod, To: pod}, nil},
		{"loss", Fault{Kind: Loss, Percent: 30, From: pod, Direction: Egress}, nil},
		{"bandwidth", Fault{Kind: Bandwidth, Rate: 1e6, Links: link}, nil},
		{"delay", Fault{Kind: Delay, Latency: time.Second, Links: link}, nil},
		{"no kind", Fault{}, []string{`kind ""`}},
		{"partition of nothing", Fault{Kind: Partition}, []string{"from: a partition needs"}},
		{"IPv6", Fault{Kind: Partition, From: []netip.Prefix{netip.MustParsePrefix("fd00::/64")}}, []string{"from[0] fd00::/64", "IPv4"}},
		{"bad ID", Fault{Kind: Partition, ID: "Zone_A", From: pod}, []string{`id "Zone_A"`}},
		{"loss of 0%", Fault{Kind: Loss, From: pod}, []string{"percent 0: want 1 to 100"}},
		{"loss of 101%", Fault{Kind: Loss, Percent: 101, From: pod}, []string{"percent 101"}},
		{"partition with a percent", Fault{Kind: Partition, Percent: 30, From: pod}, []string{"use a loss fault"}},
		{"bandwidth without links or rate", Fault{Kind: Bandwidth}, []string{"links: a bandwidth needs", "rate 0"}},
		{"bandwidth on addresses", Fault{Kind: Bandwidth, Rate: 1e6, Links: link, From: pod}, []string{"acts on pod links"}},
		{"loss on links", Fault{Kind: Loss, Percent: 1, From: pod, Links: link}, []string{"acts on addresses"}},
		{"empty link", Fault{Kind: Bandwidth, Rate: 1e6, Links: []PodLink{{Name: "ns/p"}}}, []string{"links[0] (ns/p)"}},
		{"bad direction", Fault{Kind: Partition, From: pod, Direction: "to"}, []string{`direction "to"`}},
		{"delay of nothing", Fault{Kind: Delay, Links: link}, []string{"latency 0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fault.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("valid fault refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("invalid fault accepted, want an error with %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		err  bool
	}{
		{"1mbit", 1e6, false},
		{"500kbit", 5e5, false},
		{"2mbps", 16e6, false}, // bps: bytes per second, as tc
		{"1.5Gbit", 1.5e9, false},
		{"100bit", 100, false},
		{" 8kbps ", 64e3, false},
		{"1m", 0, true},
		{"mbit", 0, true},
		{"-1mbit", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseRate(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
		if err == nil && !strings.Contains(FormatRate(got), "bit") {
			t.Errorf("FormatRate(%d) = %q", got, FormatRate(got))
		}
	}
	if FormatRate(1e6) != "1mbit" || FormatRate(1500) != "1500bit" {
		t.Errorf("FormatRate: %q, %q", FormatRate(1e6), FormatRate(1500))
	}
}

func TestTbfParams(t *testing.T) {
	rate, burst, limit := tbfParams(Fault{Rate: 8e6})
	if rate != 1e6 || burst != 40000 || limit != 240000 {
		t.Errorf("8mbit: rate %d B/s, burst %d, limit %d; want 1e6, 40000, 240000", rate, burst, limit)
	}
	if _, burst, _ := tbfParams(Fault{Rate: 8000}); burst < 4*1514 {
		t.Errorf("8kbit: burst %d is under four frames", burst)
	}
	if _, burst, limit := tbfParams(Fault{Rate: 8e6, Burst: 1000, Limit: 2000}); burst != 1000 || limit != 2000 {
		t.Errorf("given burst and limit not kept: %d, %d", burst, limit)
	}
}
