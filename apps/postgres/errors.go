package postgres

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/reboundhq/rebound/apps"
)

// connectionClass reports whether PostgreSQL's error is about the session
// or the server rather than the statement: class 08 (connection
// exception), 57 (operator intervention: shutdown, termination, crash
// recovery), XX (internal), or any FATAL or PANIC.
func connectionClass(pe *pgconn.PgError) bool {
	switch {
	case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57"), strings.HasPrefix(pe.Code, "XX"):
		return true
	}
	return pe.Severity == "FATAL" || pe.Severity == "PANIC"
}

// indeterminate reports whether a failed autocommit statement may still
// have committed. It may not when nothing was sent (pgconn.SafeToRetry) or
// PostgreSQL answered an ERROR about the statement, which rolls the
// transaction back. It may when the answer never came (a lost connection,
// the call's time ran out) or the session ended (FATAL, class 57: a
// backend terminated while its commit waited for a synchronous standby has
// committed locally).
func indeterminate(err error) bool {
	if pgconn.SafeToRetry(err) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return connectionClass(pe)
	}
	return true
}

// isConfigError reports whether err is one a retry will not cure: wrong
// credentials, no pg_hba.conf entry, a missing database, a TLS mismatch.
func isConfigError(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "28") || pe.Code == "3D000"
	}
	var hostErr x509.HostnameError
	var authErr x509.UnknownAuthorityError
	var certErr *tls.CertificateVerificationError
	return errors.As(err, &hostErr) || errors.As(err, &authErr) || errors.As(err, &certErr) ||
		strings.Contains(err.Error(), "server refused TLS connection")
}

// explain wraps errors whose fix is known with that fix.
func (d *Driver) explain(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "28P01":
			return fmt.Errorf("PostgreSQL refused the password of user %q: put the right username and password in the Secret named by target.endpoints.secretRef (keys username and password): %w", d.userOrDefault(), err)
		case pe.Code == "28000" && strings.Contains(pe.Message, "client certificate"):
			return fmt.Errorf("PostgreSQL asks for a valid client certificate for user %q: put it and its key as tls.crt and tls.key in the Secret named by target.endpoints.secretRef (its common name the user's name): %w", d.userOrDefault(), err)
		case pe.Code == "28000" && strings.Contains(pe.Message, "pg_hba.conf"):
			return fmt.Errorf("PostgreSQL's pg_hba.conf lets user %q in from nowhere rebound connects from (or not without TLS): add a host or hostssl line for it (with Patroni: postgresql.pg_hba), or give target.endpoints.secretRef another user: %w", d.userOrDefault(), err)
		case strings.HasPrefix(pe.Code, "28"):
			return fmt.Errorf("PostgreSQL refused user %q: check the username and password in the Secret named by target.endpoints.secretRef: %w", d.userOrDefault(), err)
		case pe.Code == "3D000":
			return fmt.Errorf("the database does not exist: name an existing one in the endpoint URL's path (postgres://host:5432/<database>): %w", err)
		case pe.Code == "42501":
			return fmt.Errorf("user %q may not use the probe table %s: run `GRANT SELECT, INSERT ON %s TO %s;` as its owner, or give target.endpoints.secretRef a user who may: %w", d.userOrDefault(), d.table, d.table, sqlName(d.userOrDefault()), err)
		}
		return err
	}
	if err := d.cfg.ExplainTLS(err); errors.Is(err, apps.ErrTLS) {
		return err
	}
	if strings.Contains(err.Error(), "server refused TLS connection") {
		return fmt.Errorf("the server does not serve TLS (ssl = off) but rebound was given a CA or sslmode: turn ssl on in PostgreSQL, or drop ca.crt from the Secret named by target.endpoints.secretRef: %w", err)
	}
	return err
}

func (d *Driver) userOrDefault() string {
	if d.user != "" {
		return d.user
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.members) > 0 {
		return d.members[0].pool.Config().ConnConfig.User
	}
	return "postgres"
}
