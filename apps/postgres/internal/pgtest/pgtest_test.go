package pgtest

import (
	"context"
	"testing"
)

func TestStartServesQueries(t *testing.T) {
	s := Start(t, Options{})
	c := s.Connect(t)
	var v string
	if err := c.QueryRow(context.Background(), "SHOW server_version_num").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v[:2] != "15" {
		t.Errorf("server_version_num = %s, want PostgreSQL 15", v)
	}
}
