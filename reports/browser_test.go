package reports_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chromiumPath is Debian's chromium, which `make deps` installs.
const chromiumPath = "/usr/bin/chromium"

// chromium runs headless Chromium on a local file with no network of its
// own (no QUIC, no background fetches, a fresh profile) and returns stdout.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--window-size=1280,2000"}
	cmd := exec.CommandContext(ctx, chromiumPath, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("%s not installed (%v): run `make deps` (it installs Debian's chromium) to check report.html in a browser", chromiumPath, err)
	}
}

// overflowAfterLoad renders page in Chromium and returns the number the
// page's own script puts on body@data-overflow once laid out: how many
// [data-fit] elements are wider than their box. It also returns the DOM.
func overflowAfterLoad(t *testing.T, page []byte) (int, node) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	dom := parseHTML(t, bytes.NewReader(chromium(t, "--dump-dom", "file://"+file)))
	bodies := dom.all(func(n node) bool { return n.Data == "body" })
	if len(bodies) != 1 {
		t.Fatalf("dumped DOM has %d bodies", len(bodies))
	}
	v, _ := bodies[0].attr("data-overflow")
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("body data-overflow=%q after load: the page's check did not run", v)
	}
	return n, dom
}

// TestHTMLInChromium renders the fixture's report.html in headless Chromium:
// after layout nothing overflows, every scenario that ran has its timeline,
// and a screenshot is taken. (docs/report.png is the default game day's,
// taken by hack/report-screenshot.sh.)
func TestHTMLInChromium(t *testing.T) {
	needChromium(t)
	run := fixtureRun(t)
	page := renderHTML(t, run)

	n, dom := overflowAfterLoad(t, page)
	if n != 0 {
		t.Errorf("%d elements overflow their box in Chromium at 1280px", n)
	}
	checkTimelines(t, dom, run)

	// The check must be able to fail: the same page with one element too
	// wide for its box reports it.
	wide := bytes.Replace(page, []byte("<footer>"), []byte(`<div data-fit style="width:300px"><div style="width:4000px">too wide</div></div><footer>`), 1)
	if n, _ := overflowAfterLoad(t, wide); n == 0 {
		t.Error("a page with an element wider than its box reports no overflow: the check is blind")
	}

	// A 50-scenario run, flapping probes and hundreds of lost writes
	// included, lays out as well.
	if n, _ := overflowAfterLoad(t, renderHTML(t, bigRun(t))); n != 0 {
		t.Errorf("%d elements overflow their box in the 50-scenario report", n)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	chromium(t, "--screenshot="+shot, "file://"+file)
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if w := img.Bounds().Dx(); w != 1280 {
		t.Errorf("screenshot is %dpx wide, want 1280", w)
	}
	// A blank page would be one colour: count a few distinct ones.
	colours := map[[3]uint32]bool{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 7 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, b >> 8}] = true
		}
	}
	if len(colours) < 8 {
		t.Errorf("screenshot has %d colours: the page looks blank", len(colours))
	}
}
