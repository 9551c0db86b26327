package reports

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// markdownFormat is report.md: the run in GitHub-flavoured Markdown, short
// enough for a pull-request comment or $GITHUB_STEP_SUMMARY — the table, the
// rungs and each breach's reason. report.html and report.json hold the rest.
type markdownFormat struct{}

func (markdownFormat) Name() string     { return "markdown" }
func (markdownFormat) FileName() string { return "report.md" }

// MarkdownLimit is the most bytes report.md holds. GitHub refuses a
// pull-request comment over 65,536 characters; below that limit, scenario
// rows and breach reasons that do not fit are left out, each with a line
// saying how many.
const MarkdownLimit = 60 << 10

// markdownReserve is the part of MarkdownLimit the scenario table leaves
// for the ladder and the first breach reasons, however many scenarios ran.
const markdownReserve = 12 << 10

func (markdownFormat) Write(w io.Writer, run *Run) error {
	var b bytes.Buffer
	p := &printer{w: &b}
	where := "run `" + run.ID + "`"
	if run.Cluster != "" {
		where += " on " + mdCell(run.Cluster)
	}
	var head bytes.Buffer
	(&printer{w: &head}).heading(run)
	lines := strings.Split(strings.TrimSpace(head.String()), "\n")
	p.line("## rebound: %s", where)
	p.line("")
	if len(lines) > 1 {
		p.line("%s", mdText(lines[1]))
		p.line("")
	}
	if run.Aborted {
		p.line("> **ABORTED:** %s", mdText(run.AbortReason))
		p.line("")
	}
	if len(run.CleanupIncomplete) > 0 {
		p.line("> **CLEANUP INCOMPLETE**, run `rebound cleanup`: %s", mdText(strings.Join(run.CleanupIncomplete, "; ")))
		p.line("")
	}

	if len(run.Scenarios) > 0 {
		p.line("| Scenario | Fault | Recovery | RTO | Full redundancy | Lost writes | RPO | Target | Verdict |")
		p.line("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
		// The rows fit in what the limit leaves after the ladder and a
		// share for the breach reasons; a run too large for that lists its
		// first rows and says how many more there are, by status.
		budget := MarkdownLimit - markdownReserve - b.Len()
		left := map[Status]int{}
		shown := 0
		for i := range run.Scenarios {
			s := &run.Scenarios[i]
			st := s.Status()
			cells := scenarioRow(s, TableOptions{})
			for j := range cells {
				cells[j] = mdCell(cells[j])
			}
			cells[8] = "**" + statusSymbol[st] + " " + string(st) + "**"
			if st != StatusPass {
				cells[8] += " " + mdCell(strings.Join(shortReasons(s), "; "))
			}
			row := "| " + strings.Join(cells, " | ") + " |\n"
			if len(left) > 0 || len(row) > budget {
				left[st]++
				continue
			}
			budget -= len(row)
			b.WriteString(row)
			shown++
		}
		if n := len(run.Scenarios) - shown; n > 0 {
			var counts []string
			for _, st := range []Status{StatusPass, StatusBreach, StatusBug, StatusError} {
				if left[st] > 0 {
					counts = append(counts, fmt.Sprintf("%d %s", left[st], strings.ToLower(string(st))))
				}
			}
			p.line("")
			p.line("_%d more %s left out to fit a comment (%s); report.html and report.json hold every one._",
				n, plural(n, "scenario", "scenarios"), strings.Join(counts, ", "))
		}
		p.line("")
	} else {
		p.line("No scenario ran.")
		p.line("")
	}

	if len(run.Achieved) > 0 {
		p.line("**Ladder %s**: achieved rung per disruption type", mdCell(fmt.Sprintf("%q", run.Ladder)))
		p.line("")
		p.line("| Disruption | Achieved rung | Scenarios |")
		p.line("| --- | --- | --- |")
		for _, a := range run.Achieved {
			p.line("| %s | %s | %d |", mdCell(string(a.Disruption)), mdCell(rungText(a)), a.Scenarios)
		}
		p.line("")
	} else if run.Ladder == "" {
		p.line("No ladder: no rung judged.")
		p.line("")
	}
	if p.err != nil {
		return p.err
	}

	// Breach reasons last: they are what may not fit.
	var reasons []string
	section := "### Breaches\n\n"
	for i := range run.Scenarios {
		s := &run.Scenarios[i]
		if s.Error != "" {
			section = "### Breaches and errors\n\n"
			reasons = append(reasons, fmt.Sprintf("- **%s**: could not run: %s", mdText(s.Name), mdText(s.Error)))
			continue
		}
		for _, r := range s.Result.Verdict.Breaches {
			reasons = append(reasons, fmt.Sprintf("- **%s**: %s", mdText(s.Name), mdText(r)))
		}
	}
	if len(reasons) > 0 {
		const footer = "\n_%d more %s left out to fit a comment; report.html and report.json hold every one._\n"
		budget := MarkdownLimit - b.Len() - len(section) - len(footer) - 20
		var kept strings.Builder
		n := 0
		for _, r := range reasons {
			if kept.Len()+len(r)+1 > budget {
				break
			}
			kept.WriteString(r + "\n")
			n++
		}
		b.WriteString(section)
		b.WriteString(kept.String())
		if left := len(reasons) - n; left > 0 {
			fmt.Fprintf(&b, footer, left, plural(left, "reason", "reasons"))
		}
		b.WriteString("\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// mdText escapes what Markdown would otherwise read as markup in free text
// (ids like w_1 would turn italic, a "<" could open HTML) and keeps it on
// one line.
func mdText(s string) string {
	return strings.NewReplacer(
		"\\", "\\\\", "`", "\\`", "*", "\\*", "_", "\\_", "<", "&lt;", ">", "&gt;", "[", "\\[", "]", "\\]",
		"\r\n", " ", "\n", " ", "\r", " ",
	).Replace(s)
}

// mdCell is mdText for a table cell, where a "|" would end the cell.
func mdCell(s string) string { return strings.ReplaceAll(mdText(s), "|", "\\|") }
