// Package postgres is the PostgreSQL app driver, for clusters managed by
// Patroni (and, with less insight, a lone primary or one with replicas no
// manager promotes). Records are rows of one probe table per run and
// scenario, inserted through the current primary with pgx: the
// acknowledgement is the commit. The primary is whichever member answers
// pg_is_in_recovery() = false; the driver keeps writing to it until it
// fails or turns read-only, and then looks again, so it follows a failover
// as a client with libpq's target_session_attrs=read-write does. Health
// and redundancy come from Patroni's REST API (/cluster on port 8008 of any
// member: members, roles, states) together with the primary's
// pg_stat_replication (which replica streams, how far behind); the leader
// is Patroni's leader, whose member name is its pod's name; the
// data-safety promise follows the replication mode (Patroni's
// synchronous_mode, or synchronous_standby_names).
//
// Its native backup (basebackup.go) is a physical base backup of the
// primary through the replication protocol, pg_basebackup -X stream's
// way: one tar per tablespace and the WAL that makes it consistent,
// streamed into rebound's repository, with a cut every commit
// acknowledged before it is in. Its restore plan (restore.go) writes the
// backup into the first member's data directory with a data mover and
// empties the others', so Patroni starts the cluster from the restored
// data and the other members clone from it.
//
// It only talks to PostgreSQL and Patroni through the endpoints it is
// given, over Config.Dial, with TLS as every driver (apps.Config.TLSConfig:
// verified for Config.ServerName whatever address is dialled, a client
// certificate when the server asks); it never changes Kubernetes objects, never
// changes Patroni's configuration, and never injects faults.
package postgres
