// Package ladders embeds rebound's built-in resiliency ladders, such as
// default.yaml. It only carries the files: package scenarios loads and
// validates them (scenarios.DefaultLadder). Targets here are what a report
// is judged against, so a change to them is a change of verdicts and belongs
// in the release notes.
package ladders
