package backup

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Secrets are sealed on their own, under a key derived from the repository
// key and id, before they reach the repository (which encrypts every object
// again). A Secret's plaintext thus exists only in the cluster it came from
// and the cluster it is restored into: listing, describing or verifying a
// backup never decrypts it, and unseal runs only on the way into the cluster.
//
//	"RBDSEAL1" | nonce (12) | AES-256-GCM(JSON of the Secret, ad = object name) | tag (16)
const sealMagic = "RBDSEAL1"

// errSealed: a sealed Secret failed to authenticate.
var errSealed = errors.New("sealed secret does not authenticate (damaged, or sealed under another key)")

type sealer struct{ aead cipher.AEAD }

func newSealer(master []byte, repoID string) (*sealer, error) {
	salt, err := hex.DecodeString(repoID)
	if err != nil {
		return nil, fmt.Errorf("repository id %q: %w", repoID, err)
	}
	k, err := hkdf.Key(sha256.New, master, salt, "rebound backup secrets v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(name string, plain []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	out := append([]byte(sealMagic), nonce...)
	return s.aead.Seal(out, nonce, plain, []byte(name))
}

func (s *sealer) unseal(name string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < len(sealMagic)+n+s.aead.Overhead() || string(sealed[:len(sealMagic)]) != sealMagic {
		return nil, fmt.Errorf("%s: not a sealed secret", name)
	}
	nonce := sealed[len(sealMagic) : len(sealMagic)+n]
	plain, err := s.aead.Open(nil, nonce, sealed[len(sealMagic)+n:], []byte(name))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, errSealed)
	}
	return plain, nil
}
