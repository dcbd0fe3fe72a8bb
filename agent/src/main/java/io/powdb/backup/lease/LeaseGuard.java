package io.powdb.backup.lease;

import io.powdb.backup.repo.Repository;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Holds the repository lease for the length of one command ({@code backup}, {@code ship}, {@code prune} run by
 * hand or by a script), so that it never writes while an agent does: acquired at the start (refused, naming
 * the holder, when an agent holds it), renewed by a daemon thread while the command runs, released at the end.
 */
public final class LeaseGuard implements AutoCloseable {
    private final RepositoryLease lease;
    private final Thread renewer;
    private final AtomicReference<String> lost = new AtomicReference<>();
    private volatile boolean closed;

    private LeaseGuard(RepositoryLease lease) {
        this.lease = lease;
        this.renewer = new Thread(this::renewLoop, "powdb-backup-lease-renewer");
        this.renewer.setDaemon(true);
    }

    /**
     * Takes the lease for a command.
     *
     * @throws RepositoryLockedException when another process holds it
     */
    public static LeaseGuard acquire(Repository repository, String command) throws IOException {
        return acquire(repository, command, RepositoryLease.DEFAULT_TTL);
    }

    /**
     * Takes the lease for a command, with a ttl: how long the lease outlives a command killed without a chance to
     * release it (kill -9, a lost machine), blocking the next writer until then.
     *
     * @throws RepositoryLockedException when another process holds it
     */
    public static LeaseGuard acquire(Repository repository, String command, Duration ttl) throws IOException {
        repository.initialize();
        RepositoryLease lease = new RepositoryLease(repository, RepositoryLease.defaultHolderId() + "/" + command,
                ttl, Clock.systemUTC());
        lease.tryAcquire().orThrow();
        LeaseGuard guard = new LeaseGuard(lease);
        guard.renewer.start();
        return guard;
    }

    /** Why the lease was lost while the command ran, or null while it is held. */
    public String lost() {
        return lost.get();
    }

    private void renewLoop() {
        Duration every = lease.renewInterval();
        while (!closed) {
            try {
                Thread.sleep(every.toMillis());
            } catch (InterruptedException e) {
                return;
            }
            if (closed) {
                return;
            }
            try {
                lease.renew();
            } catch (LeaseLostException e) {
                lost.set(e.getMessage());
                return;
            } catch (IOException | RuntimeException e) {
                // A store hiccup: the next renewal tries again, well before the lease expires.
            }
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        renewer.interrupt();
        if (lost.get() == null) {
            lease.release();
        }
    }
}
