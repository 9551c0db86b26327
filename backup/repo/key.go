package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// GenerateKey returns a new random repository key.
func GenerateKey() []byte {
	k := make([]byte, KeySize)
	rand.Read(k) // never fails (crypto/rand, Go 1.24+)
	return k
}

// EncodeKey is the base64 form KeyFromEnv, KeyFromFile and KeyFromSecret accept.
func EncodeKey(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// KeyFromFile reads a key file: either the 32 raw bytes, or their base64
// (standard alphabet, surrounding whitespace ignored).
func KeyFromFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	k, err := parseKey(b)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// KeyFromEnv reads the base64 key from the environment variable name.
func KeyFromEnv(name string) ([]byte, error) {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return nil, fmt.Errorf("environment variable %s is not set: want a base64 %d-byte key", name, KeySize)
	}
	k, err := decodeKey([]byte(v))
	if err != nil {
		return nil, fmt.Errorf("environment variable %s: %w", name, err)
	}
	return k, nil
}

// KeyFromSecret reads the key from data[key] of the Secret namespace/name,
// as raw bytes or base64 text (so both `kubectl create secret generic
// --from-file=key=keyfile` and `--from-literal=key=$(base64 ...)` work).
func KeyFromSecret(ctx context.Context, client kubernetes.Interface, namespace, name, key string) ([]byte, error) {
	s, err := client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read key from secret %s/%s: %w", namespace, name, err)
	}
	b, ok := s.Data[key]
	if !ok {
		if v, ok2 := s.StringData[key]; ok2 {
			b, ok = []byte(v), true
		}
	}
	if !ok {
		return nil, fmt.Errorf("secret %s/%s has no key %q", namespace, name, key)
	}
	k, err := parseKey(b)
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s key %q: %w", namespace, name, key, err)
	}
	return k, nil
}

func parseKey(b []byte) ([]byte, error) {
	if len(b) == KeySize {
		return bytes.Clone(b), nil
	}
	return decodeKey(b)
}

func decodeKey(b []byte) ([]byte, error) {
	s := bytes.TrimSpace(b)
	k, err := base64.StdEncoding.DecodeString(string(s))
	if err != nil {
		if k2, err2 := base64.RawStdEncoding.DecodeString(string(s)); err2 == nil {
			k, err = k2, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("want %d raw bytes or their base64 (e.g. `head -c %d /dev/urandom | base64`): %w", KeySize, KeySize, err)
	}
	if len(k) != KeySize {
		return nil, fmt.Errorf("key decodes to %d bytes, want %d", len(k), KeySize)
	}
	return k, nil
}
