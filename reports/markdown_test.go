package reports_test

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/reboundhq/rebound/reports"
)

func markdown(t *testing.T, run *reports.Run) string {
	t.Helper()
	f, err := reports.New("markdown")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := f.Write(&b, run); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestMarkdownFitsAComment: however many scenarios a run has, report.md
// stays under MarkdownLimit (GitHub refuses a comment over 65,536
// characters), keeps the table's head, the ladder and the first breach
// reasons, and says how many rows and reasons it left out.
func TestMarkdownFitsAComment(t *testing.T) {
	t.Parallel()
	for _, n := range []int{4, 150, 1500} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			var scs []reports.Scenario
			for i := range n {
				sc := notRestoredScenario()
				if i%3 == 0 {
					sc = passScenario()
				}
				sc.Name = fmt.Sprintf("%s-%04d", sc.Name, i)
				scs = append(scs, sc)
			}
			run := finalRun(t, scs...)
			run.Ladder = "default"
			md := markdown(t, run)
			if len(md) > reports.MarkdownLimit {
				t.Errorf("%d scenarios: report.md is %d bytes, over the limit of %d", n, len(md), reports.MarkdownLimit)
			}
			rows := strings.Count(md, "\n| etcd-")
			var leftRows, leftReasons int
			if m := regexp.MustCompile(`_(\d+) more scenarios? left out to fit a comment \((.*)\)`).FindStringSubmatch(md); m != nil {
				leftRows, _ = strconv.Atoi(m[1])
			}
			if m := regexp.MustCompile(`_(\d+) more reasons? left out`).FindStringSubmatch(md); m != nil {
				leftReasons, _ = strconv.Atoi(m[1])
			}
			if rows+leftRows != n {
				t.Errorf("%d scenarios: %d rows shown and %d said to be left out", n, rows, leftRows)
			}
			breached := n - (n+2)/3
			reasons := strings.Count(md, "\n- **etcd-zone-freeze-")
			if want := 2 * breached; reasons+leftReasons != want { // two breaches each
				t.Errorf("%d scenarios: %d reasons shown and %d said to be left out, want %d in all", n, reasons, leftReasons, want)
			}
			if rows == 0 || reasons == 0 {
				t.Errorf("%d scenarios: %d rows and %d reasons shown; want some of each", n, rows, reasons)
			}
			for _, want := range []string{"| Scenario | Fault |", "### Breaches", "service not restored within observation"} {
				if !strings.Contains(md, want) {
					t.Errorf("%d scenarios: report.md lacks %q", n, want)
				}
			}
			if n == 1500 && leftRows == 0 {
				t.Errorf("1500 scenarios fit in %d bytes: the test no longer shows rows left out", len(md))
			}
			if n == 4 && (leftRows > 0 || leftReasons > 0) {
				t.Errorf("a small run left something out:\n%s", md)
			}
		})
	}
}
