package repo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
)

// azuriteKey is the well-known development key of Azurite's
// devstoreaccount1; it is public and only opens the local emulator.
const azuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// TestAzureBlob runs a repository on Azure Blob Storage as emulated by
// Azurite. Run it with:
//
//	hack/azurite.sh run -- go test -count=1 -run TestAzureBlob -v ./backup/repo/
//
// (or `make test-azure`), or point REBOUND_AZURITE_URL at a running
// Azurite blob endpoint, e.g. http://127.0.0.1:10000/devstoreaccount1.
func TestAzureBlob(t *testing.T) {
	endpoint := os.Getenv("REBOUND_AZURITE_URL")
	if endpoint == "" {
		t.Skip("REBOUND_AZURITE_URL is not set; run: hack/azurite.sh run -- go test -count=1 -run TestAzureBlob -v ./backup/repo/")
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		t.Fatalf("REBOUND_AZURITE_URL=%q: want http://HOST:PORT/ACCOUNT", endpoint)
	}
	account := strings.Trim(u.Path, "/")
	key := os.Getenv("REBOUND_AZURITE_KEY")
	if key == "" {
		key = azuriteKey
	}
	t.Setenv("AZURE_STORAGE_ACCOUNT", account)
	t.Setenv("AZURE_STORAGE_KEY", key)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cred, err := azblob.NewSharedKeyCredential(account, key)
	if err != nil {
		t.Fatal(err)
	}
	client, err := azblob.NewClientWithSharedKeyCredential(strings.TrimSuffix(endpoint, "/")+"/", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	container := fmt.Sprintf("rebound-test-%d", time.Now().UnixNano())
	if _, err := client.CreateContainer(ctx, container, nil); err != nil {
		t.Fatalf("create container %s at %s: %v", container, endpoint, err)
	}
	t.Cleanup(func() { client.DeleteContainer(context.Background(), container, nil) })

	repoURL := fmt.Sprintf("azblob://%s?protocol=%s&domain=%s&localemu=true&prefix=repo/", container, u.Scheme, u.Host)
	repoKey := GenerateKey()
	r, err := Init(ctx, repoURL, repoKey, WithWorkers(2))
	if err != nil {
		t.Fatalf("Init %s: %v", repoURL, err)
	}
	defer r.Close()
	if _, err := Init(ctx, repoURL, repoKey); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("second Init: %v, want ErrNotEmpty", err)
	}
	if _, err := Open(ctx, repoURL, GenerateKey()); !errors.Is(err, ErrWrongKey) {
		t.Errorf("Open with a wrong key: %v, want ErrWrongKey", err)
	}

	src := t.TempDir()
	writeTree(t, src, map[string]fileSpec{
		"empty": {}, "one": {size: 1}, "text.log": {size: 3 << 20, text: true},
		"random": {size: 10 << 20}, "dir/min": {size: ChunkMin}, "dir/small": {size: 5000},
	})
	first, err := r.Backup(ctx, src, BackupOptions{Tags: []string{"azure"}})
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	second, err := r.Backup(ctx, src, BackupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if second.Summary.NewChunks != 0 {
		t.Errorf("second backup of the same data stored %d chunks", second.Summary.NewChunks)
	}
	r2, err := Open(ctx, repoURL, repoKey, WithWorkers(2))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer r2.Close()
	snaps, err := r2.List(ctx)
	if err != nil || len(snaps) != 2 {
		t.Fatalf("List: %d snapshots, %v", len(snaps), err)
	}
	dst := filepath.Join(t.TempDir(), "out")
	if err := r2.Restore(ctx, first.ID, dst, RestoreOptions{}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	compareDirs(t, src, dst)

	// Damage one chunk in the bucket: Verify names it.
	tree, err := r2.LoadTree(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	var victim ID
	for _, n := range tree.Nodes {
		if n.Path == "random" {
			victim = n.Chunks[0]
		}
	}
	b, err := r2.bucket.ReadAll(ctx, chunkKey(victim))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := r2.bucket.WriteAll(ctx, chunkKey(victim), b, nil); err != nil {
		t.Fatal(err)
	}
	rep, err := r2.Verify(ctx)
	if !errors.Is(err, ErrCorrupt) || len(rep.Problems) != 1 || rep.Problems[0].ID != victim {
		t.Fatalf("Verify after damage: %v", err)
	}
	t.Logf("verify found: %v", rep.Problems[0])

	if err := r2.Delete(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if err := r2.Delete(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	prep, err := r2.Prune(ctx)
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if rep, err := r2.Verify(ctx); err != nil || rep.Chunks != 0 {
		t.Errorf("after deleting everything and pruning: %d chunks left, %v (prune %+v)", rep.Chunks, err, prep)
	}
}
