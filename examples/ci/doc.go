// Package ci holds no code: its test keeps the example GitHub Actions
// workflow, .github/workflows/rebound-gameday.yaml, true to rebound as it
// changes. The workflow cannot run here, so the test parses it and checks
// what a user relies on: it runs on pull requests, gates on `rebound run`'s
// exit code with flags the real command accepts, puts report.md in the
// job summary and keeps junit.xml, report.html and report.json as an
// artifact whatever the outcome. It lives here, not under .github, because
// the go command skips folders whose names start with a dot.
package ci
