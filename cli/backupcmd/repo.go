package backupcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"

	"github.com/reboundhq/rebound/backup"
	"github.com/reboundhq/rebound/backup/repo"
	"github.com/reboundhq/rebound/cli/exitcode"
	rlab "github.com/reboundhq/rebound/lab"
	"github.com/reboundhq/rebound/logging"
)

// Environment variables the repository flags default from.
const (
	EnvRepo = "REBOUND_BACKUP_REPO" // repository URL or path
	EnvKey  = "REBOUND_BACKUP_KEY"  // base64 repository key
)

// RepoFlags say which repository to use and how data movers reach it.
// `rebound backup` and `rebound run` share them (run with the prefix
// "backup-").
type RepoFlags struct {
	Repo           string
	KeyFile        string
	MoverImage     string
	MoverRepo      string
	MoverEnvSecret string
}

// AddFlags adds the flags, each name prefixed with prefix ("" or "backup-").
func (f *RepoFlags) AddFlags(fs *pflag.FlagSet, prefix string) {
	fs.StringVar(&f.Repo, prefix+"repo", "", "backup repository: a path, file:///path, s3://bucket?region=…, azblob://container or gs://bucket (default $"+EnvRepo+", else the lab's own under its state folder)")
	fs.StringVar(&f.KeyFile, prefix+"key-file", "", "file holding the repository key (32 bytes, raw or base64); default $"+EnvKey+" (base64), else the lab repository's key file")
	fs.StringVar(&f.MoverImage, prefix+"mover-image", backup.DefaultMoverImage, "image of the data-mover pods (the rebound binary)")
	fs.StringVar(&f.MoverRepo, prefix+"mover-repo", "", "the repository URL as data-mover pods see it, when it differs")
	fs.StringVar(&f.MoverEnvSecret, prefix+"mover-env-secret", "", "Secret in the app's namespace whose keys are the data movers' environment (bucket credentials)")
}

// labRepo is the default repository: in the lab's state folder, with its
// key file beside it.
func labRepo() (dir, keyFile string) {
	base := filepath.Join(rlab.DefaultOptions().StateDir, "backups")
	return filepath.Join(base, "repo"), filepath.Join(base, "repo.key")
}

// resolve works out the repository URL and key. With neither flag nor
// environment it is the lab's own repository, whose key file is made on
// first use (mode 0600) and which is created when missing.
func (f *RepoFlags) resolve() (url string, key []byte, isDefault bool, err error) {
	url = f.Repo
	if url == "" {
		url = os.Getenv(EnvRepo)
	}
	switch {
	case f.KeyFile != "":
		key, err = repo.KeyFromFile(f.KeyFile)
	case os.Getenv(EnvKey) != "":
		key, err = repo.KeyFromEnv(EnvKey)
	case url == "":
		dir, kf := labRepo()
		url, isDefault = dir, true
		key, err = repo.KeyFromFile(kf)
		if errors.Is(err, os.ErrNotExist) {
			key = repo.GenerateKey()
			if err = os.MkdirAll(filepath.Dir(kf), 0o700); err == nil {
				err = os.WriteFile(kf, []byte(repo.EncodeKey(key)+"\n"), 0o600)
			}
		}
	default:
		return "", nil, false, exitcode.With(exitcode.InvalidInput, fmt.Errorf("repository %s: no key: give --key-file or set $%s", url, EnvKey))
	}
	if err != nil {
		return "", nil, false, exitcode.With(exitcode.InvalidInput, err)
	}
	if url == "" {
		return "", nil, false, exitcode.With(exitcode.InvalidInput, fmt.Errorf("a key was given but no repository: give --repo or set $%s", EnvRepo))
	}
	return url, key, isDefault, nil
}

// Engine opens the backup engine on the repository the flags name, acting
// on the cluster kube (nil for commands that only read the repository).
// The lab's default repository is created on first use; any other must
// exist (`rebound backup init`). A wrong key is an invalid-input error
// naming the repository; nothing is read beyond its config.
// Extra options (a journal) are passed on to the engine.
func (f *RepoFlags) Engine(ctx context.Context, kube kubernetes.Interface, log io.Writer, extra ...backup.Option) (*backup.Engine, error) {
	url, key, isDefault, err := f.resolve()
	if err != nil {
		return nil, err
	}
	opts := []backup.Option{backup.WithMoverImage(f.MoverImage), backup.WithLogger(logging.FromContext(ctx))}
	if isDefault {
		opts = append(opts, backup.WithInit())
	}
	if f.MoverRepo != "" {
		opts = append(opts, backup.WithMoverRepoURL(f.MoverRepo))
	}
	if f.MoverEnvSecret != "" {
		opts = append(opts, backup.WithMoverEnvSecret(f.MoverEnvSecret))
	}
	e, err := backup.NewEngine(ctx, url, key, kube, append(opts, extra...)...)
	switch {
	case errors.Is(err, repo.ErrWrongKey):
		return nil, exitcode.With(exitcode.InvalidInput, fmt.Errorf("%w: check --key-file / $%s; nothing was read or written", err, EnvKey))
	case errors.Is(err, repo.ErrNotRepository):
		return nil, exitcode.With(exitcode.InvalidInput, fmt.Errorf("%w: create one with `rebound backup init --repo %s`", err, url))
	case err != nil:
		return nil, err
	}
	return e, nil
}
