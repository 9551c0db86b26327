package reports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"gocloud.dev/blob"

	// The bucket drivers Upload accepts: file://, s3://, azblob://, gs://.
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"
)

// Upload copies report files (as WriteAll returned them) into the object
// storage bucket at bucketURL, a gocloud.dev/blob URL (s3://bucket?region=…,
// azblob://container, gs://bucket, file:///path; "prefix=reports/" in the
// query puts everything under that prefix), under "<run ID>/<file name>",
// and returns the keys it wrote. Credentials come from the environment, as
// for the backup repository. Each object appears whole or not at all (the
// bucket's own atomic write); a failure names the file and the bucket, with
// any credentials in bucketURL left out. It is part of the flush step: run
// must be finalized.
func Upload(ctx context.Context, bucketURL string, run *Run, files []string) ([]string, error) {
	if !run.Finalized() {
		return nil, ErrNotFinal
	}
	safe := redactURL(bucketURL)
	b, err := blob.OpenBucket(ctx, bucketURL)
	if err != nil {
		return nil, redacted(fmt.Errorf("open report bucket %s: %w", safe, err), bucketURL, safe)
	}
	defer b.Close()
	var keys []string
	var errs []error
	for _, f := range files {
		key := path.Join(run.ID, filepath.Base(f))
		if err := uploadFile(ctx, b, key, f); err != nil {
			errs = append(errs, redacted(fmt.Errorf("upload %s to %s as %s: %w", f, safe, key, err), bucketURL, safe))
			continue
		}
		keys = append(keys, key)
	}
	return keys, errors.Join(errs...)
}

func uploadFile(ctx context.Context, b *blob.Bucket, key, file string) error {
	in, err := os.Open(file)
	if err != nil {
		return err
	}
	defer in.Close()
	// Canceling the context before Close discards a partial upload.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := b.NewWriter(ctx, key, nil)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		cancel()
		_ = w.Close()
		return err
	}
	return w.Close()
}

// redactedError is an error whose message has the bucket URL's credentials
// replaced; it still unwraps to the original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redacted replaces rawURL (which may hold credentials) by safe in err's
// message; the drivers quote the URL they were given.
func redacted(err error, rawURL, safe string) error {
	if rawURL == safe {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), rawURL, safe), err: err}
}

// redactURL drops user info from a URL for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}
