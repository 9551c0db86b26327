package repo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestKeyFromFile(t *testing.T) {
	t.Parallel()
	key := GenerateKey()
	dir := t.TempDir()
	tests := []struct {
		name    string
		content []byte
		wantErr string
	}{
		{"raw", key, ""},
		{"base64", []byte(EncodeKey(key)), ""},
		{"base64 with newline", []byte(EncodeKey(key) + "\n"), ""},
		{"too short", key[:31], "want 32 raw bytes"},
		{"base64 of 16 bytes", []byte(EncodeKey(key[:16])), "decodes to 16 bytes"},
	}
	for i, tt := range tests {
		p := filepath.Join(dir, string(rune('a'+i)))
		os.WriteFile(p, tt.content, 0o600)
		got, err := KeyFromFile(p)
		switch {
		case tt.wantErr == "" && (err != nil || !bytes.Equal(got, key)):
			t.Errorf("%s: got %x, %v", tt.name, got, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
		}
	}
	if _, err := KeyFromFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestKeyFromEnv(t *testing.T) {
	key := GenerateKey()
	t.Setenv("REBOUND_TEST_KEY", EncodeKey(key))
	if got, err := KeyFromEnv("REBOUND_TEST_KEY"); err != nil || !bytes.Equal(got, key) {
		t.Errorf("KeyFromEnv = %x, %v", got, err)
	}
	t.Setenv("REBOUND_TEST_KEY", "not base64!")
	if _, err := KeyFromEnv("REBOUND_TEST_KEY"); err == nil || !strings.Contains(err.Error(), "REBOUND_TEST_KEY") {
		t.Errorf("bad value: %v", err)
	}
	if _, err := KeyFromEnv("REBOUND_TEST_KEY_UNSET"); err == nil {
		t.Error("unset variable: no error")
	}
}

func TestKeyFromSecret(t *testing.T) {
	t.Parallel()
	key := GenerateKey()
	client := fake.NewClientset(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "backup", Name: "repo-key"},
		Data:       map[string][]byte{"raw": key, "b64": []byte(EncodeKey(key)), "bad": []byte("x")},
	})
	ctx := context.Background()
	for _, k := range []string{"raw", "b64"} {
		if got, err := KeyFromSecret(ctx, client, "backup", "repo-key", k); err != nil || !bytes.Equal(got, key) {
			t.Errorf("%s: %x, %v", k, got, err)
		}
	}
	for _, tt := range []struct{ ns, name, key, want string }{
		{"backup", "repo-key", "bad", `key "bad"`},
		{"backup", "repo-key", "nope", `no key "nope"`},
		{"backup", "other", "raw", "backup/other"},
	} {
		if _, err := KeyFromSecret(ctx, client, tt.ns, tt.name, tt.key); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s/%s %s: %v, want error containing %q", tt.ns, tt.name, tt.key, err, tt.want)
		}
	}
}
